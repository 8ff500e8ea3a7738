/**
 * Reproduction of Muon's headline claim against AdamW (Jordan, Jin, Boza, You, Cesista, Newhouse
 * & Bernstein, "Muon: An optimizer for hidden layers in neural networks", 2024, blog post; Liu,
 * Su, Lu et al., "Muon is Scalable for LLM Training", arXiv:2502.16982, 2025): Muon, which
 * orthogonalizes the momentum of every hidden weight matrix by Newton–Schulz iterations, reaches
 * a target loss in fewer steps than AdamW (the NanoGPT speedrun records; Liu et al. report about
 * twice AdamW's compute efficiency at scale).
 *
 * Problems. (1) The character-level transformer on tiny Shakespeare in the benchmark's
 * configuration (2 pre-norm blocks, width 32, 2 heads, context 32, 16 windows per step), scored
 * by the loss on held-out text: the mean cross-entropy on the fixed validation windows of the last
 * 10% of the text. (2) The digits perceptron 64 → 32 (tanh) → 10 on mini-batches of 64 rows,
 * scored by the loss on all of its training rows (an optimization-speed measurement that a small
 * validation set's over-fitting would not blur).
 *
 * Which tensors Muon takes. The reference's rule (KellerJordan/Muon @ 857d1ad, README.md): Muon for
 * the hidden weight matrices; embeddings, classifier heads, gains and biases to AdamW. On the
 * transformer Muon takes the four matrices of each block (attention qkv and output, MLP hidden
 * and output); the token embedding (which is also the tied output head), the position embedding,
 * the layer-norm gains and every bias go to AdamW. On the perceptron the head (layer2.weight)
 * and the biases go to AdamW and Muon takes the input layer, a dense layer over 64 pixel
 * intensities (the reference also gives the first layer of a ConvNet to AdamW, which would leave
 * a one-hidden-layer perceptron nothing for Muon).
 *
 * Steps to target. Every run measures its score every `evalEvery` steps; its steps to target are
 * the first measured step at or below the problem's target loss. The targets were fixed before
 * the reproduction from AdamW's own curves (pilot runs with seeds 1000–1002, which the
 * reproduction does not use, at the rate the pilot sweep found best: 3.16e-3 on the transformer,
 * 0.0316 on the perceptron): the loss AdamW reaches at about 40% of the budget, rounded, so that
 * a 2× faster optimizer and a 2× slower one both land inside the budget.
 *
 * Budget and tuning. The reference README shows Muon replacing a tuned AdamW, with the tensors
 * Muon does not take kept on that AdamW's settings, and says only the learning rate and weight
 * decay need tuning (an earlier README, @ 03ec742: "the only thing you should need to tune is
 * Muon's learning rate"). So AdamW is tuned first: a grid of learning rates half a decade apart.
 * Muon then gets a grid of the same size and spacing for its own rate, with the tensors it does
 * not take trained by the same AdamW at AdamW's selected rate. Weight decay is fixed at the README
 * example's 0.01 on both sides. Both sides run the same seeds, steps and schedule (linear warmup
 * over 2% of the steps, then cosine decay to 1/20 of the peak; on the Muon side the same schedule
 * scales both groups). A side's best rate is the one whose runs reach the target on the most
 * seeds, then in the fewest mean steps, then with the lowest final loss; a seed that never
 * reaches the target counts as the whole budget (the mean is then a lower bound). Fixed
 * settings: AdamW β = (0.9, 0.95), ε = 1e-10 (the README example's AdamW, and the ε of the
 * reference's auxiliary Adam); Muon momentum 0.95 with Nesterov, 5 quintic Newton–Schulz steps
 * and the shape scale √max(1, rows/cols) (the reference's `SingleDeviceMuonWithAuxAdam`
 * defaults).
 *
 * Verdict, fixed in advance. Per problem, with r = Muon's mean steps to target ÷ AdamW's (each at
 * its selected rate): held when Muon reached the target on every seed and r ≤ 0.7; did not hold
 * when r ≥ 1; inconclusive in between, or when AdamW did not reach the target on every seed. The
 * claim held when it held on both problems, did not hold when it did not hold on either, and is
 * inconclusive otherwise.
 *
 * Wall time is reported beside the steps, since a Muon step costs more than an AdamW step (the
 * Newton–Schulz iterations). The sweeps run one after the other, so their own times would carry
 * any change in the machine's load; the cost per step is instead timed at the end, interleaved:
 * blocks of 10 steps of both selected settings on the first seed's model, alternating which goes
 * first, the median over the rounds. Time to target = mean steps to target × that cost.
 */
import { adamw } from "../optim/adam.js";
import { muon, routeMatrices } from "../optim/muon.js";
import { Optimizer } from "../optim/optimizer.js";
import type { GradientTransform } from "../optim/transform.js";
import type { TensorSpec } from "../params/layout.js";
import type { ReproduceOptions, Reproduction, Verdict } from "./claims.js";
import {
  formatRatio,
  halfDecades,
  isDivergence,
  median,
  reportText,
  seedsFrom,
  toJson,
  warmupCosineToTwentieth,
  withEachSeed,
} from "./common.js";
import type { ReachSummary } from "./digitsMlp.js";
import { sweepLines } from "./digitsMlp.js";
import type { RaceModel, RacePlan, RaceProblem, RaceRate, RaceRun, RaceSide } from "./race.js";
import {
  FINAL_LOSS_COLUMN,
  NO_EXTRAS,
  RACE_SELECTION_LINES,
  digitsProblem,
  raceTable,
  raceTargetLine,
  selectedRate,
  stepRatioOutcome,
  sweepLearningRates,
  transformerProblem,
} from "./race.js";

/** The two sides: the baseline first. */
export type MuonSide = "adamw" | "muon";

/** Both sides, baseline first (AdamW is tuned first: Muon's other tensors use its best rate). */
export const MUON_SIDES: readonly MuonSide[] = ["adamw", "muon"];

/** The budget and target on one problem; Muon's learning rates are its matrices'. */
export interface MuonStepsPlan extends RacePlan<MuonSide> {
  /** Timed rounds of the interleaved cost measurement of the two selected settings. */
  readonly timingRounds: number;
}

/** The whole reproduction's plan. */
export interface MuonVsAdamwPlan {
  /** The character transformer on tiny Shakespeare. */
  readonly transformer: MuonStepsPlan;
  /** The digits perceptron. */
  readonly mlp: MuonStepsPlan & {
    /** Hidden width. */
    readonly hidden: number;
    /** Rows per mini-batch. */
    readonly batchSize: number;
  };
}

/** Fixed hyperparameters of AdamW, on the AdamW side and for Muon's other tensors. */
export const ADAMW_SETTINGS = { beta1: 0.9, beta2: 0.95, eps: 1e-10, weightDecay: 0.01 } as const;
/** Fixed hyperparameters of Muon (the reference's defaults, weight decay of its README example). */
export const MUON_SETTINGS = {
  momentum: 0.95,
  nesterov: true,
  nsSteps: 5,
  weightDecay: 0.01,
} as const;
/** Muon's steps ÷ AdamW's at or below which the claim held on a problem. */
export const HELD_RATIO = 0.7;

/**
 * The plan for base seed `seed`. Full: the transformer trains 400 steps, validation loss every
 * 10 steps, 3 seeds, target 2.7 nats per character; the perceptron 500 steps of 64 rows,
 * training loss every 5 steps, 5 seeds, target 0.02. Every side tries 4 rates half a decade
 * apart: AdamW 1e-3 … 3.16e-2 on the transformer and 0.01 … 0.316 on the perceptron (around the
 * pilot's best, 3.16e-3 and 0.0316); Muon 0.01 … 0.316 on both (from half the reference's
 * default 0.02 up; in the pilot its best rate was 0.0316 on the transformer and 0.1 on the
 * perceptron). Quick: 12 steps on the transformer and 40 on the perceptron, 2 rates and 2 seeds,
 * loose targets.
 */
export function muonVsAdamwPlan(quick: boolean, seed: number): MuonVsAdamwPlan {
  const seeds = (n: number): number[] => seedsFrom(seed, n);
  if (quick) {
    return {
      transformer: {
        steps: 12,
        evalEvery: 4,
        seeds: seeds(2),
        target: 3.6,
        learningRates: { adamw: halfDecades(-5, 2), muon: halfDecades(-3, 2) },
        timingRounds: 2,
      },
      mlp: {
        steps: 40,
        evalEvery: 5,
        seeds: seeds(2),
        target: 0.5,
        learningRates: { adamw: halfDecades(-3, 2), muon: halfDecades(-3, 2) },
        timingRounds: 2,
        hidden: 32,
        batchSize: 64,
      },
    };
  }
  return {
    transformer: {
      steps: 400,
      evalEvery: 10,
      seeds: seeds(3),
      target: 2.7,
      learningRates: { adamw: halfDecades(-6, 4), muon: halfDecades(-4, 4) },
      timingRounds: 7,
    },
    mlp: {
      steps: 500,
      evalEvery: 5,
      seeds: seeds(5),
      target: 0.02,
      learningRates: { adamw: halfDecades(-4, 4), muon: halfDecades(-4, 4) },
      timingRounds: 7,
      hidden: 32,
      batchSize: 64,
    },
  };
}

/**
 * The transform of `side` at peak rate `learningRate` for a run of `steps` steps. On the Muon
 * side `learningRate` is Muon's, the tensors `takesMuon` leaves out go to AdamW at `adamwRate`.
 */
export function muonSideTransform(
  side: MuonSide,
  learningRate: number,
  steps: number,
  adamwRate: number,
  takesMuon: (tensor: TensorSpec) => boolean,
): GradientTransform {
  if (side === "adamw") {
    return adamw({ learningRate: warmupCosineToTwentieth(learningRate, steps), ...ADAMW_SETTINGS });
  }
  return routeMatrices({
    matrices: muon({
      learningRate: warmupCosineToTwentieth(learningRate, steps),
      ...MUON_SETTINGS,
    }),
    rest: adamw({ learningRate: warmupCosineToTwentieth(adamwRate, steps), ...ADAMW_SETTINGS }),
    select: takesMuon,
  });
}

/** Muon's tensors on the transformer: the weight matrices of the blocks. */
export function transformerTakesMuon(tensor: TensorSpec): boolean {
  return tensor.shape.length >= 2 && tensor.name.startsWith("blocks.");
}

/** Muon's tensors on the perceptron: the weight matrices except the head (layer2.weight). */
export function perceptronTakesMuon(tensor: TensorSpec): boolean {
  return tensor.shape.length >= 2 && tensor.name !== "layer2.weight";
}

/** A problem the sides race on, and which of its tensors Muon takes. */
interface MuonProblem extends RaceProblem {
  takesMuon(tensor: TensorSpec): boolean;
}

/** The tensors Muon takes on a problem, and their share of the parameters. */
interface MuonShare {
  /** Names of the tensors Muon takes, in layout order. */
  readonly muonTensors: readonly string[];
  /** Parameters in those tensors. */
  readonly muonParameters: number;
  /** Parameters of the model. */
  readonly parameters: number;
}

/** The tensors of `tensors` that Muon takes, and their share of the parameters. */
function muonShare(
  tensors: readonly TensorSpec[],
  takesMuon: (tensor: TensorSpec) => boolean,
): MuonShare {
  const taken = tensors.filter(takesMuon);
  return {
    muonTensors: taken.map((t) => t.name),
    muonParameters: taken.reduce((n, t) => n + t.size, 0),
    parameters: tensors.reduce((n, t) => n + t.size, 0),
  };
}

/** One run's trace, as the record keeps it. */
export type MuonStepsRun = RaceRun;

/** One learning rate of one side (Muon's own on the Muon side). */
export type MuonRateResult = RaceRate;

/** One side's sweep on one problem. */
export interface MuonSideResult extends RaceSide<MuonSide> {
  /** The AdamW rate of the tensors Muon does not take (Muon side), or null (AdamW side). */
  readonly adamwRate: number | null;
}

/** The cost per step of the two selected settings, timed interleaved on one model. */
export interface InterleavedTiming {
  /** Timed rounds; each times one block of steps of both sides, the order alternating. */
  readonly rounds: number;
  /** Steps per block. */
  readonly block: number;
  /** Median milliseconds per step (gradient and update), AdamW then Muon. */
  readonly msPerStep: readonly number[];
}

/** How Muon's steps to target compare with AdamW's on one problem. */
export interface MuonComparison {
  /** Muon's mean steps to target ÷ AdamW's (each at its selected rate). */
  readonly stepRatio: number;
  /**
   * Muon's time to target ÷ AdamW's: the step ratio times the cost-per-step ratio (the runs
   * themselves are not interleaved, so their own times would carry the machine's changing load).
   */
  readonly timeRatio: number;
  /** Muon's milliseconds per step ÷ AdamW's, timed interleaved. */
  readonly costPerStep: number;
  /** The outcome under the claim's rule on this problem. */
  readonly outcome: Verdict;
}

/** The race on one problem. */
export interface MuonProblemResult {
  /** The problem's name. */
  readonly problem: string;
  /** What it is. */
  readonly description: string;
  /** What the target is measured on. */
  readonly monitor: string;
  /** The tensors Muon takes (the rest go to AdamW). */
  readonly muonTensors: readonly string[];
  /** Parameters in the tensors Muon takes. */
  readonly muonParameters: number;
  /** Parameters of the model. */
  readonly parameters: number;
  /** The budget and target. */
  readonly plan: MuonStepsPlan;
  /** AdamW, then Muon. */
  readonly sides: readonly MuonSideResult[];
  /** The cost per step of both selected settings. */
  readonly timing: InterleavedTiming;
  /** Muon against AdamW. */
  readonly comparison: MuonComparison;
}

/**
 * The outcome on one problem of Muon against AdamW, each at its selected rate (see the file
 * header): held at a step ratio ≤ {@link HELD_RATIO} with every seed at the target, did not hold
 * at a ratio ≥ 1, inconclusive otherwise or when AdamW missed the target on some seed.
 */
export function muonStepsOutcome(
  baseline: ReachSummary,
  challenger: ReachSummary,
  seeds: number,
): { ratio: number; outcome: Verdict } {
  return stepRatioOutcome(baseline, challenger, seeds, HELD_RATIO);
}

/**
 * Muon's selected rate against AdamW's, in steps, time and cost per step, given the
 * interleaved milliseconds per step of both (AdamW first).
 */
export function compareMuon(
  sides: readonly MuonSideResult[],
  seeds: number,
  msPerStep: readonly number[],
): MuonComparison {
  const [base, challenger] = sides;
  const { ratio, outcome } = muonStepsOutcome(
    selectedRate(base).reach,
    selectedRate(challenger).reach,
    seeds,
  );
  const costPerStep = msPerStep[1] / msPerStep[0];
  return { stepRatio: ratio, timeRatio: ratio * costPerStep, costPerStep, outcome };
}

/** Steps per timed block of the interleaved cost measurement. */
export const TIMING_BLOCK = 10;

/**
 * Times blocks of {@link TIMING_BLOCK} steps of each transform on `model`, alternating which
 * goes first from round to round, after one untimed round that compiles and warms up; returns
 * the median milliseconds per step of each (NaN for one that left the finite numbers).
 */
async function timeInterleaved(
  model: RaceModel,
  transforms: readonly GradientTransform[],
  rounds: number,
): Promise<number[]> {
  const { training } = model;
  const runners = transforms.map((t) => ({
    opt: new Optimizer(training.initialParams(), t),
    step: 0,
    failed: false,
  }));
  const samples = transforms.map((): number[] => []);
  for (let round = 0; round <= rounds; round++) {
    for (let j = 0; j < runners.length; j++) {
      const k = (j + round) % runners.length;
      const runner = runners[k];
      if (runner.failed) continue;
      const started = performance.now();
      try {
        for (let i = 0; i < TIMING_BLOCK; i++) {
          training.setBatch?.(runner.step);
          await runner.opt.step(training.objective);
          runner.step++;
        }
      } catch (error) {
        if (!isDivergence(error)) throw error;
        runner.failed = true;
        continue;
      }
      if (round > 0) samples[k].push((performance.now() - started) / TIMING_BLOCK);
    }
  }
  return runners.map((r, k) => (r.failed ? NaN : median(samples[k])));
}

/**
 * Sweeps `side`'s learning rates on `models`; on the Muon side the tensors Muon does not take
 * train with AdamW at `adamwRate`.
 */
async function sweep(
  problem: MuonProblem,
  plan: MuonStepsPlan,
  models: readonly RaceModel[],
  side: MuonSide,
  adamwRate: number,
  progress: (line: string) => void,
): Promise<MuonSideResult> {
  const swept = await sweepLearningRates(
    {
      problem: problem.name,
      side,
      plan,
      models,
      transform: (learningRate) =>
        muonSideTransform(side, learningRate, plan.steps, adamwRate, problem.takesMuon),
      ...(side === "muon" ? { settingNote: ` (AdamW ${adamwRate})` } : {}),
      progress,
    },
    NO_EXTRAS,
  );
  // The record names the AdamW rate right after the optimizer, before the sweep's rates.
  const { optimizer, ...selection } = swept;
  return { optimizer, adamwRate: side === "muon" ? adamwRate : null, ...selection };
}

async function race(
  problem: MuonProblem,
  plan: MuonStepsPlan,
  progress: (line: string) => void,
): Promise<MuonProblemResult> {
  return withEachSeed(
    plan.seeds,
    (seed) => problem.open(seed),
    async (models) => {
      const base = await sweep(problem, plan, models, "adamw", NaN, progress);
      const challenger = await sweep(
        problem,
        plan,
        models,
        "muon",
        base.bestLearningRate,
        progress,
      );
      const sides = [base, challenger];
      const first = models[0];
      const msPerStep = await timeInterleaved(
        first,
        [
          muonSideTransform("adamw", base.bestLearningRate, plan.steps, NaN, problem.takesMuon),
          muonSideTransform(
            "muon",
            challenger.bestLearningRate,
            plan.steps,
            base.bestLearningRate,
            problem.takesMuon,
          ),
        ],
        plan.timingRounds,
      );
      return {
        problem: problem.name,
        description: problem.description,
        monitor: problem.monitorName,
        ...muonShare(first.objective.layout.tensors, problem.takesMuon),
        plan,
        sides,
        timing: { rounds: plan.timingRounds, block: TIMING_BLOCK, msPerStep },
        comparison: compareMuon(sides, plan.seeds.length, msPerStep),
      };
    },
  );
}

/**
 * The claim's verdict from the per-problem outcomes (see the file header): held when it held on
 * every problem, did not hold when it did not hold on some problem, inconclusive otherwise.
 */
export function combineOutcomes(outcomes: readonly Verdict[]): Verdict {
  if (outcomes.some((o) => o === "did not hold")) return "did not hold";
  if (outcomes.length > 0 && outcomes.every((o) => o === "held")) return "held";
  return "inconclusive";
}

/** The claim's verdict from the races, and why. */
export function judgeMuon(results: readonly MuonProblemResult[]): {
  verdict: Verdict;
  reason: string;
} {
  const verdict = combineOutcomes(results.map((r) => r.comparison.outcome));
  const describe = (r: MuonProblemResult): string => {
    const c = r.comparison;
    const base = selectedRate(r.sides[0]).reach;
    const muonReach = selectedRate(r.sides[1]).reach;
    const seeds = r.plan.seeds.length;
    const why =
      base.reached < seeds
        ? `; AdamW reached the target on only ${base.reached} of ${seeds} seeds`
        : muonReach.reached < seeds
          ? `; Muon reached it on ${muonReach.reached} of ${seeds} seeds`
          : "";
    return (
      `${r.problem}: ${formatRatio(c.stepRatio)} AdamW's steps to ${r.plan.target} ` +
      `(${c.outcome}${why}; time to target ${formatRatio(c.timeRatio)}, at ${formatRatio(c.costPerStep)} AdamW's time per step)`
    );
  };
  const rule =
    verdict === "held"
      ? `at most ${HELD_RATIO}× on both problems, every seed at the target`
      : verdict === "did not hold"
        ? "not fewer than AdamW's on at least one problem"
        : `not at most ${HELD_RATIO}× on both problems, nor 1× or more on either`;
  return {
    verdict,
    reason:
      `Muon at its best rate needs, relative to AdamW at its best rate, ${results.map(describe).join("; ")}. ` +
      `The rule: held at ${HELD_RATIO}× or fewer of AdamW's steps on both problems, did not hold at 1× or more on ` +
      `either; here ${rule}.`,
  };
}

function formatReport(results: readonly MuonProblemResult[], quick: boolean): string {
  const out: string[] = [
    ...RACE_SELECTION_LINES,
    `AdamW β (${ADAMW_SETTINGS.beta1}, ${ADAMW_SETTINGS.beta2}), ε ${ADAMW_SETTINGS.eps}, weight decay ${ADAMW_SETTINGS.weightDecay}; ` +
      `Muon momentum ${MUON_SETTINGS.momentum} (Nesterov), ${MUON_SETTINGS.nsSteps} Newton–Schulz steps, ` +
      `weight decay ${MUON_SETTINGS.weightDecay}; the tensors Muon does not take train with AdamW at AdamW's best rate;`,
    "warmup 2% then cosine decay to 1/20.",
  ];
  for (const r of results) {
    const { plan } = r;
    const n = plan.seeds.length;
    out.push(
      "",
      `${r.problem}: ${r.description}`,
      `  Muon takes ${r.muonTensors.length} ${r.muonTensors.length === 1 ? "matrix" : "matrices"} (${r.muonParameters} of ${r.parameters} parameters): ` +
        `${r.muonTensors.join(", ")}; AdamW the rest`,
      raceTargetLine(r.monitor, plan),
    );
    // The cost per step is the interleaved timing's, not the sweep runs' own.
    out.push(
      raceTable(r.sides, n, "AdamW", () => r.comparison.stepRatio, [
        { header: "ms/step", cell: (_, k) => r.timing.msPerStep[k].toFixed(2) },
        {
          header: "time to target (s)",
          cell: (s, k) =>
            ((selectedRate(s).reach.meanSteps * r.timing.msPerStep[k]) / 1000).toPrecision(3),
        },
        FINAL_LOSS_COLUMN,
      ]),
    );
    out.push(
      `  ms/step: median of ${r.timing.rounds} blocks of ${r.timing.block} steps of both selected settings, ` +
        "interleaved; time to target = mean steps to target × ms/step",
      `  Muon / AdamW: steps ${formatRatio(r.comparison.stepRatio)}, time to target ` +
        `${formatRatio(r.comparison.timeRatio)}, time per step ${formatRatio(r.comparison.costPerStep)}: ${r.comparison.outcome}`,
    );
    out.push(...sweepLines(r.sides, n));
  }
  return reportText(out, quick);
}

/** Runs the reproduction (with `plan` in place of the default one, for tests). */
export async function reproduceMuonVsAdamw(
  options: ReproduceOptions,
  plan: MuonVsAdamwPlan = muonVsAdamwPlan(options.quick, options.seed),
): Promise<Reproduction> {
  const progress = options.progress ?? (() => {});
  const results = [
    await race(
      { ...transformerProblem(), takesMuon: transformerTakesMuon },
      plan.transformer,
      progress,
    ),
    await race({ ...digitsProblem(plan.mlp), takesMuon: perceptronTakesMuon }, plan.mlp, progress),
  ];
  const { verdict, reason } = judgeMuon(results);
  return {
    claim: "muon-vs-adamw",
    verdict,
    reason,
    quick: options.quick,
    seed: options.seed,
    measurements: toJson({
      rule: { heldAtMost: HELD_RATIO, didNotHoldAtLeast: 1, problems: "both" },
      settings: { adamw: ADAMW_SETTINGS, muon: MUON_SETTINGS, muonUpdateScale: "aspectRatio" },
      schedule: "linear warmup over 2% of the steps, cosine decay to 1/20 of the peak",
      problems: results,
    }),
    report: formatReport(results, options.quick),
  };
}
