/**
 * Reproduction of Lion's headline claim against AdamW (Chen et al., "Symbolic Discovery of
 * Optimization Algorithms", NeurIPS 2023): Lion keeps one state buffer per parameter where AdamW
 * keeps two, so it needs half the optimizer memory, and it reaches comparable or better quality.
 *
 * Memory is counted from the optimizers themselves: the typed arrays found by walking the state
 * of an `Optimizer` built on the model, checked against the state tensors of its checkpoint.
 *
 * Quality is measured on two problems on the UCI digits: the jax-js perceptron 64 → 32 → 10 and
 * softmax regression, both trained on mini-batches. Each seed draws its own split (a held-out
 * test set, and a validation set carved from the training rows), initial weights and batch
 * order, so the spread over seeds includes the noise of a small test set. Each side gets the same
 * budget: a grid of learning rates × weight decays of the same size and spacing, the same seeds,
 * steps, batches and schedule (linear warmup then cosine decay), and its best setting is the one
 * with the highest mean validation accuracy (ties: the lowest mean validation loss). Lion's grid
 * is AdamW's with the rates divided by 10 and the weight decays multiplied by 10, the paper's
 * advice (a learning rate 3–10× smaller and a weight decay as many times larger, so that lr·wd
 * stays the same). Both keep their reference defaults otherwise: AdamW β = (0.9, 0.999),
 * ε = 1e-8 (torch.optim); Lion β = (0.9, 0.99) (the paper and lucidrains/lion-pytorch).
 *
 * Verdict: per problem, Lion's quality is comparable when its mean test accuracy is at least
 * AdamW's minus the seeds' spread (the larger of the two standard deviations), worse when it is
 * below by more than twice the spread, and unclear in between. The claim held when Lion's state
 * memory is at most AdamW's and its quality is comparable on every problem; it did not hold when
 * the memory is larger or the quality worse on some problem; otherwise it is inconclusive.
 */
import { permutation, subset } from "../data/dataset.js";
import { loadDigits } from "../data/digits.js";
import { NonFiniteError } from "../errors.js";
import { adamw } from "../optim/adam.js";
import { serializeOptimizer } from "../optim/checkpoint.js";
import type { Hyper } from "../optim/hyper.js";
import { lion } from "../optim/lion.js";
import { Optimizer } from "../optim/optimizer.js";
import { warmupCosine } from "../optim/schedules.js";
import type { GradientTransform, State } from "../optim/transform.js";
import { mlpClassifier } from "../oracles/problems/mlp.js";
import type { LinearClassifier } from "../oracles/problems/softmax.js";
import { softmaxRegression } from "../oracles/problems/softmax.js";
import type { DType } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import type { ReproduceOptions, Reproduction, Verdict } from "./claims.js";
import type { FinalScores, SplitScorer, Splits, Summary } from "./common.js";
import {
  HELD_OUT_FRACTION,
  digitsSplits,
  formatMeanSd,
  formatPoints,
  formatSigned,
  formatSpreadPoints,
  halfDecades,
  reportText,
  round3,
  seedsFrom,
  splitRows,
  summarize,
  table,
  toJson,
  tuningBudget,
} from "./common.js";

export type { Splits, Summary } from "./common.js";
export { digitsSplits, summarize } from "./common.js";

/** The two optimizers compared. */
export type Side = "adamw" | "lion";

/** Every side, baseline first. */
const SIDES: readonly Side[] = ["adamw", "lion"];

/** One typed array of an optimizer's state. */
export interface StateBuffer {
  /** Where it sits in the state tree, e.g. `"0:scaleByAdam/mu"`. */
  readonly path: string;
  /** Its element type. */
  readonly dtype: DType;
  /** Number of elements. */
  readonly elements: number;
  /** Bytes of memory it holds. */
  readonly bytes: number;
}

/**
 * Every typed array in an optimizer state tree, depth first, with its size. Numbers (step
 * counters) are not buffers and are left out.
 */
export function stateBuffers(state: State, prefix = ""): StateBuffer[] {
  const found: StateBuffer[] = [];
  for (const [key, value] of Object.entries(state)) {
    const path = prefix === "" ? key : `${prefix}/${key}`;
    if (value instanceof Float32Array || value instanceof Float64Array) {
      found.push({
        path,
        dtype: value instanceof Float64Array ? "float64" : "float32",
        elements: value.length,
        bytes: value.byteLength,
      });
    } else if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) {
      found.push(...stateBuffers(value as State, path));
    }
  }
  return found;
}

/**
 * Bytes of optimizer state in `opt`'s checkpoint (the tensors under `state/`, parameters left
 * out), read from the safetensors header that {@link serializeOptimizer} writes: an independent
 * count of the same memory, through the code that saves it.
 */
export function checkpointStateBytes(opt: Optimizer): number {
  const bytes = serializeOptimizer(opt);
  const headerLength = Number(
    new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true),
  );
  const header = JSON.parse(
    new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)),
  ) as Record<string, { data_offsets?: [number, number] }>;
  let total = 0;
  for (const [name, info] of Object.entries(header)) {
    if (!name.startsWith("state/") || info.data_offsets === undefined) continue;
    total += info.data_offsets[1] - info.data_offsets[0];
  }
  return total;
}

/** The optimizer-state memory of one optimizer on one model. */
export interface OptimizerMemory {
  /** The optimizer's name. */
  readonly optimizer: string;
  /** Its state buffers. */
  readonly buffers: readonly StateBuffer[];
  /** Sum of the buffers' bytes. */
  readonly stateBytes: number;
  /** The same memory counted in its checkpoint. */
  readonly checkpointStateBytes: number;
  /** State bytes divided by the parameters' bytes. */
  readonly timesParameterBytes: number;
}

/** Builds an optimizer for `params` with `transform` and measures its state memory. */
export function measureOptimizerMemory(
  optimizer: string,
  params: ParamSet,
  transform: GradientTransform,
): OptimizerMemory {
  const opt = new Optimizer(params, transform);
  const buffers = stateBuffers(opt.state);
  const stateBytes = buffers.reduce((sum, b) => sum + b.bytes, 0);
  return {
    optimizer,
    buffers,
    stateBytes,
    checkpointStateBytes: checkpointStateBytes(opt),
    timesParameterBytes: stateBytes / params.data.byteLength,
  };
}

/** The settings one side tries: every learning rate with every weight decay. */
export interface SideGrid {
  /** Peak learning rates. */
  readonly learningRates: readonly number[];
  /** Decoupled weight decays. */
  readonly weightDecays: readonly number[];
}

/** The budget and settings of one reproduction run. */
export interface LionVsAdamwPlan {
  /** Optimizer steps of every training run. */
  readonly steps: number;
  /** Seeds of the training runs: each draws its own split, initial weights and batch order. */
  readonly seeds: readonly number[];
  /** Rows per mini-batch. */
  readonly batchSize: number;
  /** Width of the perceptron's hidden layer. */
  readonly hidden: number;
  /** Steps of linear warmup before the cosine decay to 0. */
  readonly warmupSteps: number;
  /** lr_AdamW / lr_Lion (and wd_Lion / wd_AdamW) at every pair of grid points. */
  readonly lrRatio: number;
  /** What each side tries; Lion's is AdamW's with rates ÷ lrRatio and decays × lrRatio. */
  readonly grids: Readonly<Record<Side, SideGrid>>;
}

/** The paper's ratio of AdamW's learning rate to Lion's (the top of its 3–10 range). */
const LR_RATIO = 10;

/**
 * The plan for base seed `seed`. The default run gives each side 6 learning rates × 5 weight
 * decays and 5 seeds of 500 steps of 64 rows: AdamW's rates run from 0.01 to 3.16 (around 0.1,
 * the rate the benchmark tuned for AdamW on the perceptron) and its weight decays are 0 and
 * 0.01 (torch.optim's default) to 0.316, half a decade apart. The quick run gives each side
 * 3 rates × 2 decays and 2 seeds of 40 steps.
 */
export function lionVsAdamwPlan(quick: boolean, seed: number): LionVsAdamwPlan {
  const steps = quick ? 40 : 500;
  const seedCount = quick ? 2 : 5;
  const adamw: SideGrid = quick
    ? { learningRates: halfDecades(-3, 3), weightDecays: [0.01, 0.1] }
    : { learningRates: halfDecades(-4, 6), weightDecays: [0, ...halfDecades(-4, 4)] };
  const lion: SideGrid = {
    learningRates: adamw.learningRates.map((lr) => round3(lr / LR_RATIO)),
    weightDecays: adamw.weightDecays.map((wd) => round3(wd * LR_RATIO)),
  };
  return {
    steps,
    seeds: seedsFrom(seed, seedCount),
    batchSize: 64,
    hidden: 32,
    warmupSteps: Math.round(steps / 20),
    lrRatio: LR_RATIO,
    grids: { adamw, lion },
  };
}

/** One point of a side's grid. */
export interface Setting {
  /** Peak learning rate. */
  readonly learningRate: number;
  /** Decoupled weight decay. */
  readonly weightDecay: number;
}

/** Every setting of `grid`, weight decay by weight decay. */
export function settingsOf(grid: SideGrid): Setting[] {
  return grid.weightDecays.flatMap((weightDecay) =>
    grid.learningRates.map((learningRate) => ({ learningRate, weightDecay })),
  );
}

/** The transform of `side` at `setting` under the plan's schedule. */
function transformFor(side: Side, setting: Setting, plan: LionVsAdamwPlan): GradientTransform {
  const learningRate: Hyper = warmupCosine({
    peak: setting.learningRate,
    warmupSteps: plan.warmupSteps,
    totalSteps: plan.steps,
  });
  const { weightDecay } = setting;
  return side === "adamw"
    ? adamw({ learningRate, weightDecay })
    : lion({ learningRate, weightDecay });
}

/** One training run's model: its parameters and how to take step k on batch k. */
interface Trainee {
  readonly params: ParamSet;
  step(opt: Optimizer, k: number): Promise<void>;
  dispose(): void;
}

/** Scores of trained parameters. */
interface Evaluator extends SplitScorer {
  dispose(): void;
}

/** A problem the two sides are trained on. */
interface QualityProblem {
  readonly name: string;
  readonly description: string;
  open(splits: Splits, seed: number, plan: LionVsAdamwPlan): Promise<Trainee>;
  evaluator(splits: Splits, plan: LionVsAdamwPlan): Promise<Evaluator>;
}

/** Philox stream of the mini-batch permutation of epoch e is BATCH_STREAM + e (as the MLP's). */
const BATCH_STREAM = 1024;

const mlpProblem: QualityProblem = {
  name: "mlp-digits",
  description: "jax-js perceptron 64 → 32 (tanh) → 10, float32",
  async open(splits, seed, plan) {
    const model = await mlpClassifier(splits.train, {
      seed,
      hidden: plan.hidden,
      batchSize: plan.batchSize,
    });
    return {
      params: model.paramSet(),
      async step(opt, k) {
        model.setBatch(k);
        await opt.step(model);
      },
      dispose: () => model.dispose(),
    };
  },
  async evaluator(splits, plan) {
    // Full-batch copies of the model score any parameters in its layout.
    const onTrain = await mlpClassifier(splits.train, { hidden: plan.hidden });
    const onValidation = await mlpClassifier(splits.validation, { hidden: plan.hidden });
    return {
      trainLoss: (p) => onTrain.value(p.data),
      validationLoss: (p) => onValidation.value(p.data),
      validationAccuracy: async (p) => onTrain.accuracy(p.data, splits.validation),
      testAccuracy: async (p) => onTrain.accuracy(p.data, splits.test),
      dispose() {
        onTrain.dispose();
        onValidation.dispose();
      },
    };
  },
};

const softmaxProblem: QualityProblem = {
  name: "softmax-digits",
  description: "softmax regression 64 → 10 from zero weights, float32",
  async open(splits, seed, plan) {
    const { train } = splits;
    const perEpoch = Math.floor(train.rows / plan.batchSize);
    let current: { epoch: number; order: Int32Array } | undefined;
    const batch = (k: number): LinearClassifier => {
      const epoch = Math.floor(k / perEpoch);
      if (current?.epoch !== epoch) {
        current = { epoch, order: permutation(train.rows, seed, BATCH_STREAM + epoch) };
      }
      const start = (k % perEpoch) * plan.batchSize;
      const rows = current.order.subarray(start, start + plan.batchSize);
      return softmaxRegression(subset(train, rows), { dtype: "float32" });
    };
    return {
      params: new ParamSet(batch(0).layout),
      async step(opt, k) {
        await opt.step(batch(k));
      },
      dispose() {},
    };
  },
  async evaluator(splits) {
    const onTrain = softmaxRegression(splits.train, { dtype: "float32" });
    const onValidation = softmaxRegression(splits.validation, { dtype: "float32" });
    return {
      trainLoss: async (p) => onTrain.value(p.data),
      validationLoss: async (p) => onValidation.value(p.data),
      validationAccuracy: async (p) => onTrain.accuracy(p.data, splits.validation),
      testAccuracy: async (p) => onTrain.accuracy(p.data, splits.test),
      dispose() {},
    };
  },
};

/** The problems, in report order. */
const PROBLEMS: readonly QualityProblem[] = [mlpProblem, softmaxProblem];

/** One training run, with the scores of its final parameters. */
export interface RunRecord extends Setting, FinalScores {
  /** Seed of the initial weights and batch order. */
  readonly seed: number;
  /** Whether a gradient or the final loss was not finite. */
  readonly diverged: boolean;
}

/** The selection criterion at one setting. */
export interface SettingScore extends Setting {
  /** Mean validation accuracy over the seeds (−Infinity when a run diverged). */
  readonly meanValidationAccuracy: number;
  /** Mean validation loss over the seeds, for ties (Infinity when a run diverged). */
  readonly meanValidationLoss: number;
}

/** Whether setting score `a` beats `b`: higher validation accuracy, then lower validation loss. */
function beats(a: SettingScore, b: SettingScore): boolean {
  if (a.meanValidationAccuracy !== b.meanValidationAccuracy) {
    return a.meanValidationAccuracy > b.meanValidationAccuracy;
  }
  return a.meanValidationLoss < b.meanValidationLoss;
}

/** One side's tuning on one problem. */
export interface SideResult {
  /** The optimizer. */
  readonly optimizer: Side;
  /** What it tried. */
  readonly grid: SideGrid;
  /** Number of settings tried (learning rates × weight decays). */
  readonly gridSize: number;
  /** Seeds of every setting. */
  readonly seeds: readonly number[];
  /** Steps of every run. */
  readonly steps: number;
  /** The selection criterion at every setting, in {@link settingsOf} order. */
  readonly scores: readonly SettingScore[];
  /** Every run, setting by setting. */
  readonly runs: readonly RunRecord[];
  /** The selected setting: the best {@link SettingScore}. */
  readonly best: Setting;
  /**
   * Whether the selected learning rate is the smallest or the largest tried, or its weight decay
   * the largest (a wider grid might then find better).
   */
  readonly bestAtGridEdge: boolean;
  /** Training loss at the selected setting, over seeds. */
  readonly trainLoss: Summary;
  /** Validation loss at the selected setting, over seeds. */
  readonly validationLoss: Summary;
  /** Validation accuracy at the selected setting, over seeds. */
  readonly validationAccuracy: Summary;
  /** Test accuracy at the selected setting, over seeds. */
  readonly testAccuracy: Summary;
  /** Time spent training, all runs of this side (ms). */
  readonly trainingMs: number;
}

/** The comparison on one problem. */
export interface ProblemResult {
  /** The problem's name. */
  readonly problem: string;
  /** What it is. */
  readonly description: string;
  /** AdamW, then Lion. */
  readonly sides: readonly SideResult[];
  /** Lion's mean test accuracy minus AdamW's. */
  readonly accuracyDifference: number;
  /** The larger of the two sides' test-accuracy standard deviations over seeds. */
  readonly accuracySpread: number;
  /** Lion's mean training loss minus AdamW's. */
  readonly trainLossDifference: number;
  /** The larger of the two sides' training-loss standard deviations over seeds. */
  readonly trainLossSpread: number;
  /**
   * `"comparable"`: Lion's mean test accuracy is at least AdamW's minus the spread;
   * `"worse"`: it is below AdamW's by more than twice the spread; `"unclear"`: in between, or
   * no spread could be measured.
   */
  readonly outcome: QualityOutcome;
}

/** How Lion's test accuracy compares with AdamW's on one problem. */
export type QualityOutcome = "comparable" | "worse" | "unclear";

/** Lion's outcome given the difference of mean accuracies and the seeds' spread. */
export function qualityOutcome(difference: number, spread: number): QualityOutcome {
  if (!Number.isFinite(difference) || !Number.isFinite(spread)) return "unclear";
  if (difference >= -spread) return "comparable";
  return difference < -2 * spread ? "worse" : "unclear";
}

/** What the runs of one seed share: the seed's split and the scores on it. */
interface SeedContext {
  readonly splits: Splits;
  readonly evaluator: Evaluator;
}

async function trainOnce(
  problem: QualityProblem,
  { splits, evaluator }: SeedContext,
  side: Side,
  setting: Setting,
  seed: number,
  plan: LionVsAdamwPlan,
): Promise<RunRecord> {
  const trainee = await problem.open(splits, seed, plan);
  try {
    const opt = new Optimizer(trainee.params, transformFor(side, setting, plan));
    try {
      for (let k = 0; k < plan.steps; k++) await trainee.step(opt, k);
    } catch (error) {
      if (!(error instanceof NonFiniteError)) throw error;
      return {
        ...setting,
        seed,
        trainLoss: NaN,
        validationLoss: NaN,
        validationAccuracy: NaN,
        testAccuracy: NaN,
        diverged: true,
      };
    }
    const trainLoss = await evaluator.trainLoss(trainee.params);
    const validationLoss = await evaluator.validationLoss(trainee.params);
    const validationAccuracy = await evaluator.validationAccuracy(trainee.params);
    const testAccuracy = await evaluator.testAccuracy(trainee.params);
    const diverged = !Number.isFinite(trainLoss) || !Number.isFinite(validationLoss);
    return {
      ...setting,
      seed,
      trainLoss,
      validationLoss,
      validationAccuracy,
      testAccuracy,
      diverged,
    };
  } finally {
    trainee.dispose();
  }
}

/** Whether `best` lies on an edge of `grid` that a wider grid could move past. */
function atGridEdge(grid: SideGrid, best: Setting): boolean {
  const rates = grid.learningRates;
  const decays = grid.weightDecays;
  const rateEdge =
    rates.length > 1 &&
    (best.learningRate === rates[0] || best.learningRate === rates[rates.length - 1]);
  // No decay is a natural lower end; only the largest decay is an edge.
  const decayEdge = decays.length > 1 && best.weightDecay === decays[decays.length - 1];
  return rateEdge || decayEdge;
}

async function tuneSide(
  problem: QualityProblem,
  contexts: ReadonlyMap<number, SeedContext>,
  side: Side,
  plan: LionVsAdamwPlan,
  progress: (line: string) => void,
): Promise<SideResult> {
  const grid = plan.grids[side];
  const settings = settingsOf(grid);
  const runs: RunRecord[] = [];
  const scores: SettingScore[] = [];
  const started = performance.now();
  for (const [i, setting] of settings.entries()) {
    const here: RunRecord[] = [];
    for (const seed of plan.seeds) {
      here.push(await trainOnce(problem, contexts.get(seed)!, side, setting, seed, plan));
    }
    runs.push(...here);
    const diverged = here.some((r) => r.diverged);
    const score: SettingScore = {
      ...setting,
      meanValidationAccuracy: diverged
        ? -Infinity
        : summarize(here.map((r) => r.validationAccuracy)).mean,
      meanValidationLoss: diverged ? Infinity : summarize(here.map((r) => r.validationLoss)).mean,
    };
    scores.push(score);
    progress(
      `${problem.name} ${side} (${i + 1}/${settings.length}) lr ${setting.learningRate} ` +
        `wd ${setting.weightDecay}: ` +
        (diverged
          ? "diverged"
          : `mean validation accuracy ${(100 * score.meanValidationAccuracy).toFixed(2)}%, ` +
            `loss ${score.meanValidationLoss.toPrecision(4)}`),
    );
  }
  const trainingMs = performance.now() - started;
  let best = 0;
  for (let i = 1; i < scores.length; i++) {
    if (beats(scores[i], scores[best])) best = i;
  }
  const chosen = settings[best];
  const chosenRuns = runs.filter(
    (r) => r.learningRate === chosen.learningRate && r.weightDecay === chosen.weightDecay,
  );
  return {
    optimizer: side,
    grid,
    gridSize: settings.length,
    seeds: plan.seeds,
    steps: plan.steps,
    scores,
    runs,
    best: chosen,
    bestAtGridEdge: atGridEdge(grid, chosen),
    trainLoss: summarize(chosenRuns.map((r) => r.trainLoss)),
    validationLoss: summarize(chosenRuns.map((r) => r.validationLoss)),
    validationAccuracy: summarize(chosenRuns.map((r) => r.validationAccuracy)),
    testAccuracy: summarize(chosenRuns.map((r) => r.testAccuracy)),
    trainingMs,
  };
}

/** The spread behind "within the seeds' spread": the larger standard deviation of the two. */
function spreadOf(a: Summary, b: Summary): number {
  return Math.max(a.sd, b.sd);
}

async function compareOn(
  problem: QualityProblem,
  splitsBySeed: ReadonlyMap<number, Splits>,
  plan: LionVsAdamwPlan,
  progress: (line: string) => void,
): Promise<ProblemResult> {
  const contexts = new Map<number, SeedContext>();
  try {
    for (const [seed, splits] of splitsBySeed) {
      contexts.set(seed, { splits, evaluator: await problem.evaluator(splits, plan) });
    }
    const sides: SideResult[] = [];
    for (const side of SIDES) {
      sides.push(await tuneSide(problem, contexts, side, plan, progress));
    }
    return compareSides(problem.name, problem.description, sides);
  } finally {
    for (const { evaluator } of contexts.values()) evaluator.dispose();
  }
}

/** The comparison of two tuned sides (AdamW first) on one problem. */
export function compareSides(
  problem: string,
  description: string,
  sides: readonly SideResult[],
): ProblemResult {
  const [base, challenger] = sides;
  const accuracyDifference = challenger.testAccuracy.mean - base.testAccuracy.mean;
  const accuracySpread = spreadOf(challenger.testAccuracy, base.testAccuracy);
  return {
    problem,
    description,
    sides,
    accuracyDifference,
    accuracySpread,
    trainLossDifference: challenger.trainLoss.mean - base.trainLoss.mean,
    trainLossSpread: spreadOf(challenger.trainLoss, base.trainLoss),
    outcome: qualityOutcome(accuracyDifference, accuracySpread),
  };
}

/** The memory comparison on one model. */
export interface MemoryResult {
  /** The model. */
  readonly model: string;
  /** Its number of parameters. */
  readonly parameters: number;
  /** Its parameters' element type. */
  readonly dtype: DType;
  /** Bytes of its parameters. */
  readonly parameterBytes: number;
  /** AdamW, then Lion. */
  readonly optimizers: readonly OptimizerMemory[];
  /** Lion's state bytes divided by AdamW's. */
  readonly lionToAdamw: number;
}

/** Measures the state memory of both sides, as the plan builds them, on `params`. */
export function compareMemory(
  model: string,
  params: ParamSet,
  plan: LionVsAdamwPlan,
): MemoryResult {
  const optimizers = SIDES.map((side) =>
    measureOptimizerMemory(side, params, transformFor(side, settingsOf(plan.grids[side])[0], plan)),
  );
  return {
    model,
    parameters: params.layout.size,
    dtype: params.layout.dtype,
    parameterBytes: params.data.byteLength,
    optimizers,
    lionToAdamw: optimizers[1].stateBytes / optimizers[0].stateBytes,
  };
}

/** The claim's verdict from the measurements, and why. */
export function judge(
  memory: readonly MemoryResult[],
  quality: readonly ProblemResult[],
): { verdict: Verdict; reason: string } {
  const bytes = memory
    .map(
      (m) =>
        `${m.optimizers[1].stateBytes} against ${m.optimizers[0].stateBytes} bytes on the ${m.model}`,
    )
    .join(", ");
  if (memory.some((m) => m.lionToAdamw > 1)) {
    return {
      verdict: "did not hold",
      reason: `Lion's optimizer state is larger than AdamW's (${bytes}).`,
    };
  }
  const memoryText = `Lion's optimizer state is ${memory
    .map((m) => m.lionToAdamw.toFixed(2))
    .filter((r, i, all) => all.indexOf(r) === i)
    .join(" / ")} of AdamW's (${bytes})`;
  const words = (q: ProblemResult): string =>
    `${q.problem}: ${formatPoints(q.accuracyDifference)} points, spread ${formatSpreadPoints(q.accuracySpread)}`;
  const worse = quality.filter((q) => q.outcome === "worse");
  if (worse.length > 0) {
    return {
      verdict: "did not hold",
      reason:
        `${memoryText}, but its test accuracy falls below AdamW's by more than twice the seeds' ` +
        `spread (Lion − AdamW ${worse.map(words).join("; ")}).`,
    };
  }
  const unclear = quality.filter((q) => q.outcome === "unclear");
  if (unclear.length > 0) {
    const unmeasured = unclear.filter((q) => !Number.isFinite(q.accuracySpread));
    return {
      verdict: "inconclusive",
      reason:
        unmeasured.length > 0
          ? `${memoryText}, but quality cannot be compared on ${unmeasured.map((q) => q.problem).join(", ")}: ` +
            "a spread needs two seeds, and each side a setting whose runs did not diverge."
          : `${memoryText}, but its test accuracy is neither within the seeds' spread of AdamW's nor ` +
            `below it by more than twice the spread (Lion − AdamW ${unclear.map(words).join("; ")}).`,
    };
  }
  return {
    verdict: "held",
    reason:
      `${memoryText}, and its test accuracy is within the seeds' spread of AdamW's or better ` +
      `(Lion − AdamW ${quality.map(words).join("; ")}).`,
  };
}

function formatGrid(grid: SideGrid): string {
  const rates = grid.learningRates;
  return `lr ${rates[0]} … ${rates[rates.length - 1]} × wd ${grid.weightDecays.join("/")}`;
}

function formatReport(
  plan: LionVsAdamwPlan,
  splits: Splits,
  memory: readonly MemoryResult[],
  quality: readonly ProblemResult[],
  quick: boolean,
): string {
  const out: string[] = [
    "Optimizer-state memory: the typed arrays of each Optimizer's state, and its checkpoint's state tensors",
  ];
  for (const m of memory) {
    out.push(`${m.model}: ${m.parameters} ${m.dtype} parameters = ${m.parameterBytes} bytes`);
    out.push(
      table(
        ["optimizer", "state buffers", "bytes", "in checkpoint", "× parameter bytes"],
        m.optimizers.map((o) => [
          o.optimizer,
          o.buffers.map((b) => b.path.split("/").pop()).join(", "),
          String(o.stateBytes),
          String(o.checkpointStateBytes),
          o.timesParameterBytes.toFixed(2),
        ]),
        2,
      ),
    );
    out.push(`  Lion / AdamW = ${m.lionToAdamw.toFixed(2)} (one buffer against two: 0.50)`);
  }
  const { adamw: a, lion: l } = plan.grids;
  out.push(
    "",
    `Quality: the UCI digits split into ${splits.train.rows} training, ${splits.validation.rows} validation and ${splits.test.rows} test rows`,
    "  (each seed draws its own split, initial weights and mini-batch order);",
    `  ${plan.steps} steps of ${plan.batchSize} rows, ${plan.warmupSteps} warmup steps then cosine decay to 0;`,
    `  each side: ${a.learningRates.length} learning rates × ${a.weightDecays.length} weight decays × ` +
      `${plan.seeds.length} seeds (${plan.seeds.join(", ")});`,
    "  best setting = highest mean validation accuracy (ties: lowest mean validation loss);",
    `  Lion's rates are AdamW's ÷ ${plan.lrRatio} and its weight decays AdamW's × ${plan.lrRatio} ` +
      `(AdamW ${formatGrid(a)}; Lion ${formatGrid(l)})`,
  );
  for (const q of quality) {
    out.push("", `${q.problem}: ${q.description}`);
    out.push(
      table(
        [
          "optimizer",
          "best lr",
          "best wd",
          "train loss",
          "validation loss",
          "validation acc. (%)",
          "test accuracy (%)",
        ],
        q.sides.map((s) => [
          s.optimizer,
          String(s.best.learningRate),
          String(s.best.weightDecay),
          formatMeanSd(s.trainLoss, 1, 4),
          formatMeanSd(s.validationLoss, 1, 4),
          formatMeanSd(s.validationAccuracy, 100, 2),
          formatMeanSd(s.testAccuracy, 100, 2),
        ]),
      ),
    );
    out.push(
      `  Lion − AdamW: test accuracy ${formatPoints(q.accuracyDifference)} points ` +
        `(spread ${formatSpreadPoints(q.accuracySpread)}), train loss ${formatSigned(q.trainLossDifference)}` +
        (Number.isFinite(q.trainLossSpread) ? ` (spread ${q.trainLossSpread.toPrecision(3)})` : ""),
    );
    const edges = q.sides.filter((s) => s.bestAtGridEdge).map((s) => s.optimizer);
    if (edges.length > 0) {
      out.push(
        `  note: the best setting of ${edges.join(" and ")} is at the edge of the grid; a wider grid might do better`,
      );
    }
  }
  return reportText(out, quick);
}

/** Runs the reproduction. */
export async function reproduceLionVsAdamw(options: ReproduceOptions): Promise<Reproduction> {
  const plan = lionVsAdamwPlan(options.quick, options.seed);
  const progress = options.progress ?? (() => {});
  const digits = loadDigits();
  const splitsBySeed = new Map(plan.seeds.map((seed) => [seed, digitsSplits(seed, digits)]));
  const splits = splitsBySeed.get(plan.seeds[0])!;

  const memory: MemoryResult[] = [];
  for (const [problem, model] of [
    [mlpProblem, `perceptron 64 → ${plan.hidden} → 10`],
    [softmaxProblem, "softmax regression 64 → 10"],
  ] as const) {
    const trainee = await problem.open(splits, plan.seeds[0], plan);
    memory.push(compareMemory(model, trainee.params, plan));
    trainee.dispose();
  }

  const quality: ProblemResult[] = [];
  for (const problem of PROBLEMS) {
    quality.push(await compareOn(problem, splitsBySeed, plan, progress));
  }

  const { verdict, reason } = judge(memory, quality);
  const measurements = {
    plan: { ...plan, heldOutFraction: HELD_OUT_FRACTION, schedule: "warmup-cosine" },
    splits: splitRows(splits),
    budget: tuningBudget(
      SIDES.map((side) => [side, settingsOf(plan.grids[side]).length]),
      plan.seeds.length,
      plan.steps,
    ),
    memory,
    quality,
  };
  return {
    claim: "lion-vs-adamw",
    verdict,
    reason,
    quick: options.quick,
    seed: options.seed,
    measurements: toJson(measurements),
    report: formatReport(plan, splits, memory, quality, options.quick),
  };
}
