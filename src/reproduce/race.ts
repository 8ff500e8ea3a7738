/**
 * The steps-to-target race that the step-count reproductions share (Muon and Sophia against
 * AdamW, AdaHessian against Adam on the transformer): on one problem, every side sweeps its grid
 * of learning rates, training every seed's model at each rate and measuring the monitored loss
 * every `evalEvery` steps; a rate's steps to target are read from those curves, and each side's
 * best rate is the one that reaches the target on the most seeds, then in the fewest mean steps,
 * then with the lowest final loss ({@link bestByReach}).
 *
 * The problems they race on, a character transformer on tiny Shakespeare scored by its
 * validation loss and the digits perceptron scored by its training loss, are here too, with the
 * pieces of the reports that show a race.
 */
import { TRANSFORMER_CONFIG } from "../bench/problems.js";
import type { Dataset } from "../data/dataset.js";
import { loadDigits } from "../data/digits.js";
import type { Optimizer } from "../optim/optimizer.js";
import type { GradientTransform } from "../optim/transform.js";
import type { CharTransformerObjective } from "../oracles/problems/charTransformer.js";
import type { MlpObjective } from "../oracles/problems/mlp.js";
import { shakespeareTransformer } from "../oracles/problems/shakespeareTransformer.js";
import type { Objective } from "../oracles/objective.js";
import type { ParamSet } from "../params/paramset.js";
import type { Verdict } from "./claims.js";
import type { CurvePoint, TrainingModel, TrainingRun } from "./common.js";
import {
  atEdge,
  formatRatio,
  miniBatchTraining,
  table,
  trainAndMonitor,
  warmUp,
} from "./common.js";
import type { DigitsMlpPlan, ReachSummary } from "./digitsMlp.js";
import { bestByReach, formatSteps, openDigitsSeed, reachOf } from "./digitsMlp.js";

/** The budget and target of a race on one problem. */
export interface RacePlan<Side extends string> {
  /** Optimizer steps of every run (the schedule's length). */
  readonly steps: number;
  /** Measure the monitored loss after every this many steps. */
  readonly evalEvery: number;
  /** Seeds of the runs: each fixes the initial weights and the batches (and the split). */
  readonly seeds: readonly number[];
  /** The loss to reach. */
  readonly target: number;
  /** The learning rates each side tries (same count and spacing). */
  readonly learningRates: Readonly<Record<Side, readonly number[]>>;
}

/** A problem's model opened for one seed of a race. */
export interface RaceModel<Model extends Objective = Objective> {
  /** The seed: initial weights and batches (and the split). */
  readonly seed: number;
  /** The model itself (its layout, its batch scale). */
  readonly objective: Model;
  /** The same, as a training run steps on it. */
  readonly training: TrainingModel;
  /** The loss the target is set on. */
  monitor(params: ParamSet): Promise<number>;
  /** Frees its jax-js arrays. */
  dispose(): void;
}

/** A problem the sides race on. */
export interface RaceProblem<Model extends Objective = Objective> {
  /** Its name in reports, e.g. `"mlp-digits"`. */
  readonly name: string;
  /** What it is. */
  readonly description: string;
  /** What the target is measured on. */
  readonly monitorName: string;
  /** Its model for `seed`, compiled before any run. */
  open(seed: number): Promise<RaceModel<Model>>;
}

/** The name of the transformer problem in reports. */
export const TRANSFORMER_PROBLEM = "transformer-shakespeare";

/** What the target on the transformer is measured on. */
export const TRANSFORMER_MONITOR = "validation loss (nats per character on the held-out windows)";

/**
 * The character-level transformer on tiny Shakespeare in the benchmark's configuration, scored
 * by the mean cross-entropy on the fixed validation windows of the held-out end of the text.
 */
export function transformerProblem(): RaceProblem<CharTransformerObjective> {
  const c = TRANSFORMER_CONFIG;
  return {
    name: TRANSFORMER_PROBLEM,
    description:
      `character-level transformer on tiny Shakespeare (${c.layers} blocks, width ${c.dModel}, ` +
      `${c.heads} heads, context ${c.context}, ${c.batchSize} windows per step), float32`,
    monitorName: TRANSFORMER_MONITOR,
    async open(seed) {
      const model = await shakespeareTransformer({ ...TRANSFORMER_CONFIG, seed });
      const training = miniBatchTraining(model);
      try {
        // Compiles the validation loss too, so that no run's first measurement pays for it.
        await warmUp(training);
        await model.validationLoss(model.initialParams());
      } catch (error) {
        model.dispose();
        throw error;
      }
      return {
        seed,
        objective: model,
        training,
        monitor: (p) => model.validationLoss(p.data),
        dispose: () => model.dispose(),
      };
    },
  };
}

/**
 * The digits perceptron of `plan` on mini-batches of the seed's training rows, scored by the
 * mean cross-entropy on all of them: an optimization-speed measurement that a small validation
 * set's over-fitting would not blur.
 */
export function digitsProblem(
  plan: DigitsMlpPlan,
  all: Dataset = loadDigits(),
): RaceProblem<MlpObjective> {
  return {
    name: "mlp-digits",
    description: `perceptron 64 → ${plan.hidden} (tanh) → 10 on the UCI digits, mini-batches of ${plan.batchSize} rows, float32`,
    monitorName: "training loss (mean cross-entropy on all training rows)",
    async open(seed) {
      const s = await openDigitsSeed(seed, plan, all);
      return {
        seed,
        objective: s.model,
        training: s.training,
        monitor: (p) => s.trainLoss(p),
        dispose: () => s.dispose(),
      };
    },
  };
}

/** One run's trace, as the record keeps it. */
export interface RaceRun {
  /** The seed. */
  readonly seed: number;
  /** The monitored loss every `evalEvery` steps with the training time so far. */
  readonly curve: readonly CurvePoint[];
  /** Milliseconds spent stepping in all. */
  readonly trainingMs: number;
  /** Whether the run stopped on non-finite numbers. */
  readonly diverged: boolean;
}

/** One learning rate of one side. */
export interface RaceRate<Run extends RaceRun = RaceRun> {
  /** The peak learning rate. */
  readonly learningRate: number;
  /** Steps to target over the seeds. */
  readonly reach: ReachSummary;
  /** Mean milliseconds per step (oracle calls and update) over the seeds. */
  readonly msPerStep: number;
  /** Every seed's run, in seed order. */
  readonly runs: readonly Run[];
}

/** One side's sweep on one problem. */
export interface RaceSide<Side extends string = string, Rate extends RaceRate = RaceRate> {
  /** The optimizer. */
  readonly optimizer: Side;
  /** Every rate tried, in grid order. */
  readonly rates: readonly Rate[];
  /** Index of the selected rate. */
  readonly bestIndex: number;
  /** The selected rate. */
  readonly bestLearningRate: number;
  /** Whether it is the smallest or largest rate tried. */
  readonly bestAtGridEdge: boolean;
}

/** One side's sweep of its learning rates on the models of one problem. */
export interface LearningRateSweep<Side extends string, Model extends Objective> {
  /** The problem's name, for the progress lines. */
  readonly problem: string;
  /** The side. */
  readonly side: Side;
  /** The budget, target and the side's grid. */
  readonly plan: RacePlan<Side>;
  /** Every seed's model, in seed order. */
  readonly models: readonly RaceModel<Model>[];
  /** The side's transform at peak rate `learningRate` for a run on `model`. */
  transform(learningRate: number, model: RaceModel<Model>): GradientTransform;
  /** A statistic of the optimizer's state after a run (see {@link TrainingRun.inspected}). */
  readonly inspect?: (opt: Optimizer, model: RaceModel<Model>) => number;
  /** Words after the learning rate in the progress lines, e.g. the rate of the other tensors. */
  readonly settingNote?: string;
  /** Receives a line of progress after each rate. */
  readonly progress: (line: string) => void;
}

/**
 * What a sweep records beyond the race's own measurements: fields of each run's record and of
 * each rate's record (written before its runs), and their words in the progress lines.
 */
export interface SweepExtras<RunExtra extends object, RateExtra extends object> {
  /** The run's own fields, from what its training returned. */
  run(trained: TrainingRun): RunExtra;
  /** The rate's own fields, from its runs. */
  rate(runs: readonly (RaceRun & RunExtra)[]): RateExtra;
  /** Words to end the rate's progress line with (`""` for none). */
  describe(extra: RateExtra): string;
}

/** A record with no fields of its own. */
export type NoExtra = Readonly<Record<never, never>>;

/** The extras of a sweep that records only the race's own measurements. */
export const NO_EXTRAS: SweepExtras<NoExtra, NoExtra> = {
  run: () => ({}),
  rate: () => ({}),
  describe: () => "",
};

/**
 * Trains the side at every learning rate of its grid on every seed's model, reads the steps to
 * the plan's target from the curves, and selects the rate that reaches it soonest
 * ({@link bestByReach}); reports each rate's outcome through `sweep.progress`.
 */
export async function sweepLearningRates<
  Side extends string,
  Model extends Objective,
  RunExtra extends object,
  RateExtra extends object,
>(
  sweep: LearningRateSweep<Side, Model>,
  extras: SweepExtras<RunExtra, RateExtra>,
): Promise<RaceSide<Side, RaceRate<RaceRun & RunExtra> & RateExtra>> {
  const { plan, side, inspect } = sweep;
  const grid = plan.learningRates[side];
  const rates: (RaceRate<RaceRun & RunExtra> & RateExtra)[] = [];
  for (const [i, learningRate] of grid.entries()) {
    const runs: (RaceRun & RunExtra)[] = [];
    for (const model of sweep.models) {
      const trained = await trainAndMonitor(model.training, sweep.transform(learningRate, model), {
        steps: plan.steps,
        evalEvery: plan.evalEvery,
        monitor: (p) => model.monitor(p),
        ...(inspect === undefined ? {} : { inspect: (o: Optimizer) => inspect(o, model) }),
      });
      runs.push({
        seed: model.seed,
        curve: trained.curve,
        trainingMs: trained.trainingMs,
        diverged: trained.diverged,
        ...extras.run(trained),
      });
    }
    const reach = reachOf(runs, plan.target, plan.steps);
    // A diverged run stops early: charge its time to the steps it took.
    const msPerStep =
      runs.reduce((sum, r) => sum + r.trainingMs / (r.curve[r.curve.length - 1]?.step ?? 1), 0) /
      runs.length;
    const extra = extras.rate(runs);
    rates.push({ learningRate, reach, msPerStep, ...extra, runs });
    sweep.progress(
      `${sweep.problem} ${side} (${i + 1}/${grid.length}) lr ${learningRate}${sweep.settingNote ?? ""}: ` +
        `target reached on ${reach.reached}/${runs.length} seeds, mean steps ${reach.meanSteps.toFixed(0)}, ` +
        `final loss ${reach.meanFinalLoss.toPrecision(4)}, ${msPerStep.toFixed(1)} ms/step` +
        extras.describe(extra),
    );
  }
  const bestIndex = bestByReach(rates.map((r) => r.reach));
  return {
    optimizer: side,
    rates,
    bestIndex,
    bestLearningRate: grid[bestIndex],
    bestAtGridEdge: atEdge(grid, grid[bestIndex]),
  };
}

/** The rate a side selected. */
export function selectedRate<Rate extends RaceRate>(side: RaceSide<string, Rate>): Rate {
  return side.rates[side.bestIndex];
}

/**
 * The outcome of a challenger against the baseline, each at its selected rate, under the rule
 * the step-count claims fix in advance, with r = the challenger's mean steps to target ÷ the
 * baseline's: held at r ≤ `heldRatio` with the challenger at the target on every one of `seeds`
 * seeds; did not hold at r ≥ 1 (a challenger that missed the target counts its whole budget, so
 * its r is then a lower bound); inconclusive in between, or when the baseline missed the target
 * on some seed.
 */
export function stepRatioOutcome(
  baseline: ReachSummary,
  challenger: ReachSummary,
  seeds: number,
  heldRatio: number,
): { ratio: number; outcome: Verdict } {
  const ratio = challenger.meanSteps / baseline.meanSteps;
  if (baseline.reached < seeds || !Number.isFinite(ratio)) {
    return { ratio, outcome: "inconclusive" };
  }
  if (ratio >= 1) return { ratio, outcome: "did not hold" };
  if (challenger.reached === seeds && ratio <= heldRatio) return { ratio, outcome: "held" };
  return { ratio, outcome: "inconclusive" };
}

/** The opening lines of a race report: how each side's rate was selected. */
export const RACE_SELECTION_LINES: readonly string[] = [
  "Steps to a fixed loss; each side at the learning rate (of a grid of the same size and",
  "half-decade spacing) whose runs reach the target on the most seeds, in the fewest mean steps.",
];

/** The report line that states a race's target and budget. */
export function raceTargetLine(monitorName: string, plan: RacePlan<string>): string {
  return (
    `  target: ${monitorName} ≤ ${plan.target}, measured every ${plan.evalEvery} steps; ` +
    `${plan.steps} steps, seeds ${plan.seeds.join(", ")}`
  );
}

/** A column of a race table after the columns every race table has. */
export interface RaceColumn<Side extends RaceSide> {
  /** Its header. */
  readonly header: string;
  /** Its cell for `side`, the `index`-th side (the baseline is 0). */
  cell(side: Side, index: number): string;
}

/**
 * The race on one problem as a table, a side per row: the optimizer, the rates tried, the
 * selected rate (marked at the grid's edge), the seeds that reached the target, the mean steps
 * to it and their ratio to the baseline's (`stepRatio` of every side but the baseline), then
 * `columns`.
 */
export function raceTable<Side extends RaceSide>(
  sides: readonly Side[],
  seeds: number,
  baseline: string,
  stepRatio: (side: Side, index: number) => number,
  columns: readonly RaceColumn<Side>[],
): string {
  return table(
    [
      "optimizer",
      "rates tried",
      "best lr",
      "reached",
      "steps to target",
      `× ${baseline}`,
      ...columns.map((c) => c.header),
    ],
    sides.map((s, k) => {
      const { reach } = selectedRate(s);
      const lrs = s.rates.map((x) => x.learningRate);
      return [
        s.optimizer,
        `${lrs[0]} … ${lrs[lrs.length - 1]}`,
        String(s.bestLearningRate) + (s.bestAtGridEdge ? " (edge)" : ""),
        `${reach.reached}/${seeds}`,
        formatSteps(reach, seeds),
        k === 0 ? "1.00×" : formatRatio(stepRatio(s, k)),
        ...columns.map((c) => c.cell(s, k)),
      ];
    }),
    2,
  );
}

/** The race-table column of the selected rate's mean final loss. */
export const FINAL_LOSS_COLUMN: RaceColumn<RaceSide> = {
  header: "final loss",
  cell: (s) => selectedRate(s).reach.meanFinalLoss.toPrecision(4),
};

/**
 * The columns of a race table that time the selected rates by their own runs (the mean training
 * time to the target, the milliseconds per step), then the mean final loss.
 */
export const TIMED_RACE_COLUMNS: readonly RaceColumn<RaceSide>[] = [
  {
    header: "time to target (s)",
    cell: (s) => (selectedRate(s).reach.meanTrainingMs / 1000).toFixed(1),
  },
  { header: "ms/step", cell: (s) => selectedRate(s).msPerStep.toFixed(1) },
  FINAL_LOSS_COLUMN,
];
