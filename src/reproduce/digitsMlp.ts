/**
 * The digits perceptron as the curvature reproductions train it: per seed, the seed's split of
 * the UCI digits, a mini-batch model of the training rows (initial weights and batch order from
 * the seed), and full-batch scores of any parameters on the training, validation and test rows.
 * One model per seed serves every run of that seed (each run starts from a fresh copy of the
 * initial weights and replays the same batches), so the jax-js functions compile once per seed.
 *
 * A grid of settings per optimizer ("side") runs on every seed; each run records its final scores
 * and its training-loss curve, from which the reproductions select settings and read steps to a
 * target.
 */
import type { Dataset } from "../data/dataset.js";
import { loadDigits } from "../data/digits.js";
import type { GradientTransform } from "../optim/transform.js";
import type { MlpObjective } from "../oracles/problems/mlp.js";
import { mlpClassifier } from "../oracles/problems/mlp.js";
import type {
  CurvePoint,
  FinalScores,
  SplitScorer,
  Splits,
  Summary,
  TrainingModel,
} from "./common.js";
import {
  atEdge,
  digitsSplits,
  firstReach,
  miniBatchTraining,
  summarize,
  trainAndMonitor,
  warmUp,
} from "./common.js";

/** The perceptron and its training budget. */
export interface DigitsMlpPlan {
  /** Width of the hidden layer. */
  readonly hidden: number;
  /** Rows per mini-batch. */
  readonly batchSize: number;
  /** Optimizer steps of every run. */
  readonly steps: number;
  /** Measure the training loss (all training rows) after every this many steps. */
  readonly evalEvery: number;
}

/** One seed's data, model and scores. */
export interface DigitsSeed extends SplitScorer {
  /** The seed: split, initial weights and batch order. */
  readonly seed: number;
  /** The seed's split. */
  readonly splits: Splits;
  /** The mini-batch model of the training rows. */
  readonly model: MlpObjective;
  /** The same, as a training run steps on it. */
  readonly training: TrainingModel;
  /** Frees the jax-js arrays of the three models. */
  dispose(): void;
}

/** Builds the model and scores of `seed` on its split of `all` (default: the UCI digits). */
export async function openDigitsSeed(
  seed: number,
  plan: DigitsMlpPlan,
  all: Dataset = loadDigits(),
): Promise<DigitsSeed> {
  const splits = digitsSplits(seed, all);
  const model = await mlpClassifier(splits.train, {
    seed,
    hidden: plan.hidden,
    batchSize: plan.batchSize,
  });
  const onTrain = await mlpClassifier(splits.train, { hidden: plan.hidden });
  const onValidation = await mlpClassifier(splits.validation, { hidden: plan.hidden });
  const training = miniBatchTraining(model);
  await warmUp(training);
  return {
    seed,
    splits,
    model,
    training,
    trainLoss: async (p) => onTrain.value(p.data),
    validationLoss: async (p) => onValidation.value(p.data),
    validationAccuracy: async (p) => onTrain.accuracy(p.data, splits.validation),
    testAccuracy: async (p) => onTrain.accuracy(p.data, splits.test),
    dispose() {
      model.dispose();
      onTrain.dispose();
      onValidation.dispose();
    },
  };
}

/**
 * The report line that names the perceptron of `plan` and the rows of a seed's `splits` (every
 * seed's split has the same sizes).
 */
export function digitsSplitsLine(plan: DigitsMlpPlan, splits: Splits): string {
  return (
    `mlp-digits: perceptron 64 → ${plan.hidden} (tanh) → 10 on the UCI digits, float32; ` +
    `${splits.train.rows} training, ${splits.validation.rows} validation, ${splits.test.rows} test rows per seed`
  );
}

/** Hyperparameters of one setting, by name (e.g. `{ learningRate: 0.1, damp: 0.01 }`). */
export type Setting = Readonly<Record<string, number>>;

/** One optimizer and the settings it tries. */
export interface Side {
  /** Its name in reports, e.g. `"adam"`. */
  readonly name: string;
  /** Every setting of its grid, in report order. */
  readonly settings: readonly Setting[];
  /** Its transform at `setting` for a run on `seed` (the seed feeds its own randomness). */
  transform(setting: Setting, seed: number): GradientTransform;
}

/** One training run on the digits; its scores are all NaN when it diverged. */
export interface DigitsRun extends FinalScores {
  /** Index of the setting in its side's grid. */
  readonly settingIndex: number;
  /** The seed. */
  readonly seed: number;
  /** Whether the run stopped on non-finite numbers. */
  readonly diverged: boolean;
  /** Training loss every `evalEvery` steps. */
  readonly curve: readonly CurvePoint[];
  /** Milliseconds spent stepping. */
  readonly trainingMs: number;
}

/** Runs every setting of `side` on every seed, setting by setting. */
export async function runSide(
  side: Side,
  seeds: readonly DigitsSeed[],
  plan: DigitsMlpPlan,
  progress: (line: string) => void,
  label: string,
): Promise<DigitsRun[]> {
  const runs: DigitsRun[] = [];
  for (const [settingIndex, setting] of side.settings.entries()) {
    for (const s of seeds) {
      const run = await trainAndMonitor(s.training, side.transform(setting, s.seed), {
        steps: plan.steps,
        evalEvery: plan.evalEvery,
        monitor: (p) => s.trainLoss(p),
      });
      const scored = !run.diverged;
      runs.push({
        settingIndex,
        seed: s.seed,
        trainLoss: scored ? await s.trainLoss(run.params) : NaN,
        validationLoss: scored ? await s.validationLoss(run.params) : NaN,
        validationAccuracy: scored ? await s.validationAccuracy(run.params) : NaN,
        testAccuracy: scored ? await s.testAccuracy(run.params) : NaN,
        diverged: run.diverged,
        curve: run.curve,
        trainingMs: run.trainingMs,
      });
    }
    const here = runs.filter((r) => r.settingIndex === settingIndex);
    const words = here.some((r) => r.diverged)
      ? "diverged"
      : `validation accuracy ${(100 * summarize(here.map((r) => r.validationAccuracy)).mean).toFixed(2)}%, ` +
        `training loss ${summarize(here.map((r) => r.trainLoss)).mean.toPrecision(3)}`;
    progress(
      `${label} ${side.name} (${settingIndex + 1}/${side.settings.length}) ${formatSetting(setting)}: ${words}`,
    );
  }
  return runs;
}

/** `learningRate 0.1, damp 0.01` → `"lr 0.1 damp 0.01"`. */
export function formatSetting(setting: Setting): string {
  return Object.entries(setting)
    .map(([k, v]) => `${k === "learningRate" ? "lr" : k} ${v}`)
    .join(" ");
}

/** The runs of setting `index`, in seed order. */
export function runsOf(runs: readonly DigitsRun[], index: number): DigitsRun[] {
  return runs.filter((r) => r.settingIndex === index);
}

/** Scores of one setting over the seeds (−/+Infinity when a run diverged). */
export interface SettingScores {
  /** Index of the setting. */
  readonly settingIndex: number;
  /** Mean validation accuracy (−Infinity when some run diverged). */
  readonly meanValidationAccuracy: number;
  /** Mean validation loss (Infinity when some run diverged). */
  readonly meanValidationLoss: number;
  /** Mean training loss after the last step (Infinity when some run diverged). */
  readonly meanTrainLoss: number;
}

/** The scores of every setting of a side, in grid order. */
export function scoreSettings(runs: readonly DigitsRun[], settings: number): SettingScores[] {
  return Array.from({ length: settings }, (_, settingIndex) => {
    const here = runsOf(runs, settingIndex);
    const diverged = here.length === 0 || here.some((r) => r.diverged);
    const mean = (pick: (r: DigitsRun) => number): number => summarize(here.map(pick)).mean;
    return {
      settingIndex,
      meanValidationAccuracy: diverged ? -Infinity : mean((r) => r.validationAccuracy),
      meanValidationLoss: diverged ? Infinity : mean((r) => r.validationLoss),
      meanTrainLoss: diverged ? Infinity : mean((r) => r.trainLoss),
    };
  });
}

/** The setting with the highest mean validation accuracy (ties: lowest validation loss). */
export function bestByValidationAccuracy(scores: readonly SettingScores[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    const a = scores[i];
    const b = scores[best];
    if (
      a.meanValidationAccuracy > b.meanValidationAccuracy ||
      (a.meanValidationAccuracy === b.meanValidationAccuracy &&
        a.meanValidationLoss < b.meanValidationLoss)
    ) {
      best = i;
    }
  }
  return scores[best].settingIndex;
}

/** The setting with the lowest mean final training loss. */
export function bestByTrainLoss(scores: readonly SettingScores[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    if (scores[i].meanTrainLoss < scores[best].meanTrainLoss) best = i;
  }
  return scores[best].settingIndex;
}

/** Steps to a target loss over the seeds of one setting. */
export interface ReachSummary {
  /** Per seed: the first measured step at or below the target, or null when never reached. */
  readonly steps: readonly (number | null)[];
  /** Per seed: milliseconds of training up to that step, or null. */
  readonly trainingMs: readonly (number | null)[];
  /** Seeds that reached the target. */
  readonly reached: number;
  /**
   * Mean steps over the seeds, counting a seed that never reached the target as the whole
   * budget (then a lower bound of the true mean).
   */
  readonly meanSteps: number;
  /** Mean milliseconds to the target, counting a seed that never reached it as its whole run. */
  readonly meanTrainingMs: number;
  /** Mean of the last measured loss. */
  readonly meanFinalLoss: number;
}

/**
 * Steps to target over `seeds` seeds for a report: "mean ± sd" when every seed reached it,
 * "≥ mean" when some did not (the mean then counts their whole budget), "not reached" when none.
 */
export function formatSteps(reach: ReachSummary, seeds: number): string {
  const reached = reach.steps.filter((s): s is number => s !== null);
  if (reached.length === 0) return "not reached";
  const mean = reach.meanSteps.toFixed(0);
  if (reach.reached < seeds) return `≥ ${mean}`;
  if (seeds < 2) return mean;
  const variance = reached.reduce((a, s) => a + (s - reach.meanSteps) ** 2, 0) / (seeds - 1);
  return `${mean} ± ${Math.sqrt(variance).toFixed(0)}`;
}

/** One side of a learning-rate sweep as a report shows it. */
export interface SweepSide {
  /** The optimizer's name. */
  readonly optimizer: string;
  /** Every rate tried, with its steps to target. */
  readonly rates: readonly { readonly learningRate: number; readonly reach: ReachSummary }[];
}

/** The report lines of a steps-to-target sweep over `seeds` seeds, one line per side. */
export function sweepLines(sides: readonly SweepSide[], seeds: number): string[] {
  return [
    "  sweep (mean steps to target, seeds reaching it, final loss):",
    ...sides.map(
      (side) =>
        `    ${side.optimizer}: ` +
        side.rates
          .map(
            (x) =>
              `lr ${x.learningRate}: ${formatSteps(x.reach, seeds)} (${x.reach.reached}/${seeds}, ${x.reach.meanFinalLoss.toPrecision(3)})`,
          )
          .join("; "),
    ),
  ];
}

/** When the curves of one setting's runs first reach `target`, with `budget` steps per run. */
export function reachOf(
  curves: readonly { curve: readonly CurvePoint[]; trainingMs: number; diverged: boolean }[],
  target: number,
  budget: number,
): ReachSummary {
  const steps: (number | null)[] = [];
  const trainingMs: (number | null)[] = [];
  let stepSum = 0;
  let msSum = 0;
  let finalSum = 0;
  for (const run of curves) {
    const hit = firstReach(run.curve, target);
    steps.push(hit?.step ?? null);
    trainingMs.push(hit?.trainingMs ?? null);
    stepSum += hit?.step ?? budget;
    msSum += hit?.trainingMs ?? run.trainingMs;
    const last = run.curve[run.curve.length - 1];
    finalSum += run.diverged || last === undefined ? Infinity : last.loss;
  }
  const n = curves.length;
  return {
    steps,
    trainingMs,
    reached: steps.filter((s) => s !== null).length,
    meanSteps: stepSum / n,
    meanTrainingMs: msSum / n,
    meanFinalLoss: finalSum / n,
  };
}

/**
 * Whether reach summary `a` ranks before `b` for "fewest steps to the target": more seeds that
 * reached it, then fewer mean steps, then a lower final loss.
 */
export function reachesSooner(a: ReachSummary, b: ReachSummary): boolean {
  if (a.reached !== b.reached) return a.reached > b.reached;
  if (a.meanSteps !== b.meanSteps) return a.meanSteps < b.meanSteps;
  // A diverged setting's NaN loss ranks last, also when it is the first one compared.
  return lossRank(a.meanFinalLoss) < lossRank(b.meanFinalLoss);
}

function lossRank(loss: number): number {
  return Number.isNaN(loss) ? Infinity : loss;
}

/** The index of the summary that reaches the target soonest (see {@link reachesSooner}). */
export function bestByReach(summaries: readonly ReachSummary[]): number {
  let best = 0;
  for (let i = 1; i < summaries.length; i++) {
    if (reachesSooner(summaries[i], summaries[best])) best = i;
  }
  return best;
}

/** A metric of the runs of one setting, over the seeds. */
export function summaryOf(runs: readonly DigitsRun[], pick: (r: DigitsRun) => number): Summary {
  return summarize(runs.map(pick));
}

/** What a side reached at one selected setting. */
export interface SelectedSetting {
  /** Index of the setting in the side's grid. */
  readonly settingIndex: number;
  /** The setting. */
  readonly setting: Setting;
  /**
   * Whether a wider grid could move past it: one of its hyperparameters is the smallest or the
   * largest value tried.
   */
  readonly atGridEdge: boolean;
  /** Training loss after the last step, over seeds. */
  readonly trainLoss: Summary;
  /** Validation accuracy, over seeds. */
  readonly validationAccuracy: Summary;
  /** Test accuracy, over seeds. */
  readonly testAccuracy: Summary;
  /** Mean milliseconds per step. */
  readonly msPerStep: number;
}

/** The scores of `side`'s setting `index` over the seeds. */
export function selectSetting(
  side: Side,
  runs: readonly DigitsRun[],
  index: number,
  steps: number,
): SelectedSetting {
  const here = runsOf(runs, index);
  const setting = side.settings[index];
  const edge = Object.entries(setting).some(([key, value]) =>
    atEdge([...new Set(side.settings.map((s) => s[key]))], value),
  );
  return {
    settingIndex: index,
    setting,
    atGridEdge: edge,
    trainLoss: summaryOf(here, (r) => r.trainLoss),
    validationAccuracy: summaryOf(here, (r) => r.validationAccuracy),
    testAccuracy: summaryOf(here, (r) => r.testAccuracy),
    msPerStep: here.reduce((sum, r) => sum + r.trainingMs, 0) / (here.length * steps),
  };
}
