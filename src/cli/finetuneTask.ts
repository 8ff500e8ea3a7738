/**
 * The fine-tuning task behind `descend finetune`, the zeroth-order memory benchmark and the
 * mezo-memory reproduction: a small character-level transformer pre-trained on one part of tiny
 * Shakespeare and fine-tuned on text it has not seen.
 *
 * The text (1,115,394 characters, 65 distinct) is cut into three parts, in order:
 *
 *     [0, 80%)     pre-training: AdamW from the model's seeded initialization (scripts/pretrain.ts)
 *     [80%, 90%)   fine-tuning: the mini-batches of `descend finetune`
 *     [90%, 100%)  held out: the loss every report shows, on fixed windows spread evenly over it
 *
 * The last plays of the corpus differ from the first ones (other characters, other speakers), so
 * fine-tuning has something to learn that pre-training did not see. The model is the benchmark's
 * transformer (`TRANSFORMER_CONFIG`: 2 blocks, width 32, 2 heads, context 32, 28,576 float32
 * parameters) built over the whole text, so its vocabulary holds all 65 characters although
 * the later parts lack a few of them.
 *
 * Mini-batches are `batchSize` windows of `context + 1` characters drawn uniformly from a part:
 * window b of step t starts at ⌊u·(L − context − 1)⌋ characters into a part of L characters,
 * u the Philox uniform (seed, stream, t·batchSize + b), with stream 1 for pre-training and 2 for
 * fine-tuning, so the seed fixes the whole sequence of batches on every platform.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { TRANSFORMER_CONFIG } from "../bench/problems.js";
import { loadTinyShakespeare } from "../data/text.js";
import { InvalidArgumentError, NonFiniteError } from "../errors.js";
import { adamw } from "../optim/adam.js";
import { Optimizer } from "../optim/optimizer.js";
import { warmupCosine } from "../optim/schedules.js";
import { sgd } from "../optim/sgd.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { jaxArray } from "../oracles/jax.js";
import type { Objective } from "../oracles/objective.js";
import type { CharTransformerObjective } from "../oracles/problems/charTransformer.js";
import { charTransformer } from "../oracles/problems/charTransformer.js";
import type { FloatArray, Layout } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import { readParams } from "../params/safetensors.js";
import { fillUniform } from "../random/distributions.js";
import type { FastRandom } from "../random/fast.js";
import { useFastRandom } from "../random/fast.js";
import type { ZoDirectionDistribution } from "../zo/directions.js";
import type { ZoMethod } from "../zo/method.js";
import { ZoOptimizer } from "../zo/optimizer.js";
import type { Perturbation, ZoStepRecord } from "../zo/record.js";
import { zoAdam } from "../zo/zoAdam.js";
import { zoCons } from "../zo/zoCons.js";
import { zoMomentum } from "../zo/zoMomentum.js";
import { zoSgd } from "../zo/zoSgd.js";
import { zoSign } from "../zo/zoSign.js";

/** End of the pre-training part, as a fraction of the text. */
export const PRETRAIN_END = 0.8;

/** End of the fine-tuning part (the rest is held out). */
export const FINETUNE_END = 0.9;

/** Windows of the held-out loss (4,096 predicted characters with the default context). */
export const HELD_OUT_WINDOWS = 128;

/** Philox stream of the pre-training batches. */
const PRETRAIN_STREAM = 1;

/** Philox stream of the fine-tuning batches. */
const FINETUNE_STREAM = 2;

/** Where the bundled pre-trained model lives, relative to this module (sources and build alike). */
const PRETRAINED_URL = new URL("../../data/shakespeare-transformer.safetensors", import.meta.url);

/** Path of the bundled pre-trained model (data/shakespeare-transformer.safetensors). */
export function pretrainedModelPath(): string {
  return fileURLToPath(PRETRAINED_URL);
}

/** The transformer's shape (the benchmark's, unless a test asks for a smaller one). */
export interface TaskModelConfig {
  /** Transformer blocks. */
  readonly layers: number;
  /** Width of the residual stream. */
  readonly dModel: number;
  /** Attention heads. */
  readonly heads: number;
  /** Window length in characters. */
  readonly context: number;
  /** Windows per mini-batch. */
  readonly batchSize: number;
}

/** The model the bundled weights were trained for. */
export const TASK_MODEL_CONFIG: TaskModelConfig = Object.freeze({ ...TRANSFORMER_CONFIG });

/** A part of the text, in characters. */
export interface TextPart {
  /** First character. */
  readonly start: number;
  /** One past the last character. */
  readonly end: number;
}

/** The parts of the text a batch or an evaluation can come from. */
export type PartName = "pretrain" | "finetune" | "heldOut";

/** Options of {@link finetuneTask}. */
export interface FinetuneTaskOptions {
  /** Seed of the mini-batch order (default 0). The model's own initialization uses seed 0. */
  seed?: number;
  /** The model's shape (default {@link TASK_MODEL_CONFIG}). */
  config?: TaskModelConfig;
  /** The text (default tiny Shakespeare). */
  text?: string;
}

/** Where {@link FinetuneTask.loss} evaluates: evenly spaced windows over a slice of a part. */
export interface EvaluationWindows {
  /** The part (default `"heldOut"`). */
  readonly part?: PartName;
  /** Number of windows (default {@link HELD_OUT_WINDOWS}). */
  readonly count?: number;
  /** Start of the slice, as a fraction of the part (default 0). */
  readonly from?: number;
  /** End of the slice, as a fraction of the part (default 1). */
  readonly to?: number;
}

/** The model, the three parts of the text, and the batches and losses a run needs. */
export interface FinetuneTask {
  /** The transformer; its data is the batch last selected or the last evaluation's windows. */
  readonly model: CharTransformerObjective;
  /** The model's parameter layout. */
  readonly layout: Layout;
  /** The parts of the text, in characters. */
  readonly parts: Readonly<Record<PartName, TextPart>>;
  /** The seed of the mini-batch order. */
  readonly seed: number;
  /**
   * Makes the mini-batch of step `step` of `part` the model's data, in the batch order of
   * `seed` (default: the task's).
   */
  selectBatch(part: "pretrain" | "finetune", step: number, seed?: number): void;
  /**
   * Mean cross-entropy (nats per character) of `params` on fixed windows spread evenly over a
   * part of the text (default: {@link HELD_OUT_WINDOWS} windows over the whole held-out part).
   * Replaces the model's data: select a batch again before the next step.
   */
  loss(params: FloatArray, windows?: EvaluationWindows): Promise<number>;
  /** The parameters in a bundled-format file (a safetensors parameter file or a checkpoint). */
  readModel(path: string): Promise<ParamSet>;
  /** Frees the model. */
  dispose(): void;
}

/**
 * Builds the fine-tuning task: the transformer over the whole text (its vocabulary), and batch
 * and evaluation windows drawn from the parts described in this module's header.
 */
export async function finetuneTask(options: FinetuneTaskOptions = {}): Promise<FinetuneTask> {
  const owner = "finetuneTask";
  checkKnownOptions(owner, options, ["seed", "config", "text"]);
  const seed = checkNumber(owner, "seed", options.seed ?? 0, {
    integer: true,
    min: 0,
    below: 2 ** 32,
  });
  const config = options.config ?? TASK_MODEL_CONFIG;
  const text = options.text ?? loadTinyShakespeare();
  if (typeof text !== "string") throw new InvalidArgumentError(owner, "text", text, "a string");
  // The model's own training split is never used (batches are set here), but its held-out
  // split must be long enough: FINETUNE_END keeps the two aligned with the parts.
  const model = await charTransformer(text, {
    ...config,
    seed: 0,
    trainFraction: FINETUNE_END,
    validationWindows: 1,
    name: "shakespeare-transformer",
  });
  const ids = model.vocabulary.encode(text);
  const vocab = model.vocabulary.chars.length;
  const { context, batchSize } = config;
  const pretrainEnd = Math.floor(ids.length * PRETRAIN_END);
  const finetuneEnd = Math.floor(ids.length * FINETUNE_END);
  const parts: Record<PartName, TextPart> = {
    pretrain: Object.freeze({ start: 0, end: pretrainEnd }),
    finetune: Object.freeze({ start: pretrainEnd, end: finetuneEnd }),
    heldOut: Object.freeze({ start: finetuneEnd, end: ids.length }),
  };
  for (const [name, part] of Object.entries(parts)) {
    if (part.end - part.start < context + 1) {
      model.dispose();
      throw new InvalidArgumentError(
        owner,
        "text",
        `${ids.length} characters`,
        `long enough for windows of ${context} + 1 characters in the ${name} part`,
      );
    }
  }

  /** One-hot inputs and next characters of the windows starting at `starts`. */
  const setWindows = (starts: ArrayLike<number>): void => {
    const windows = starts.length;
    const inputs = new Float32Array(windows * context * vocab);
    const targets = new Float32Array(inputs.length);
    for (let b = 0; b < windows; b++) {
      for (let t = 0; t < context; t++) {
        const row = (b * context + t) * vocab;
        inputs[row + ids[starts[b] + t]] = 1;
        targets[row + ids[starts[b] + t + 1]] = 1;
      }
    }
    const shape = [windows, context, vocab];
    model.setData({ inputs: jaxArray(inputs, shape), targets: jaxArray(targets, shape) });
  };

  const draws = new Float64Array(batchSize);
  const starts = new Int32Array(batchSize);
  const selectBatch = (part: "pretrain" | "finetune", step: number, order = seed): void => {
    checkChoice(`${owner}.selectBatch`, "part", part, ["pretrain", "finetune"]);
    checkNumber(`${owner}.selectBatch`, "step", step, { integer: true, min: 0 });
    checkNumber(`${owner}.selectBatch`, "seed", order, { integer: true, min: 0, below: 2 ** 32 });
    const { start, end } = parts[part];
    const stream = part === "pretrain" ? PRETRAIN_STREAM : FINETUNE_STREAM;
    fillUniform(draws, order, stream, step * batchSize);
    const positions = end - start - context - 1;
    for (let b = 0; b < batchSize; b++) starts[b] = start + Math.floor(draws[b] * positions);
    setWindows(starts);
  };

  const loss = async (params: FloatArray, where: EvaluationWindows = {}): Promise<number> => {
    const what = `${owner}.loss`;
    checkKnownOptions(what, where, ["part", "count", "from", "to"]);
    const part = checkChoice(what, "part", where.part ?? "heldOut", [
      "pretrain",
      "finetune",
      "heldOut",
    ]);
    const count = checkNumber(what, "count", where.count ?? HELD_OUT_WINDOWS, {
      integer: true,
      min: 1,
    });
    const from = checkNumber(what, "from", where.from ?? 0, { min: 0, below: 1 });
    const to = checkNumber(what, "to", where.to ?? 1, { above: from, max: 1 });
    const { start, end } = parts[part];
    // The first window starts at the slice's start, the last one ends inside the slice.
    const first = start + Math.floor(from * (end - start));
    const last = start + Math.floor(to * (end - start)) - context - 1;
    if (last < first) {
      throw new InvalidArgumentError(what, "to", to, "a slice long enough for one window");
    }
    const windowStarts = Array.from({ length: count }, (_, j) =>
      count === 1 ? first : first + Math.round((j * (last - first)) / (count - 1)),
    );
    setWindows(windowStarts);
    return model.value(params);
  };

  const readModel = async (path: string): Promise<ParamSet> => {
    const bytes = await readFile(path);
    const data = readParams(
      new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
      model.layout,
    );
    return new ParamSet(model.layout, data);
  };

  return {
    model,
    layout: model.layout,
    parts: Object.freeze(parts),
    seed,
    selectBatch,
    loss,
    readModel,
    dispose: () => model.dispose(),
  };
}

/** Settings of {@link pretrain} (defaults: those the bundled model was trained with). */
export interface PretrainSettings {
  /** AdamW steps (default 3000). */
  readonly steps: number;
  /** Peak learning rate of the warmup-cosine schedule (default 1e-2). */
  readonly peakLearningRate: number;
  /** Linear warmup steps (default 100). */
  readonly warmupSteps: number;
  /** Learning rate at the last step (default 1e-3). */
  readonly finalLearningRate: number;
  /** Decoupled weight decay (default 0.01, torch.optim.AdamW's). */
  readonly weightDecay: number;
}

/**
 * How the bundled model was pre-trained: 3000 AdamW steps of 16 windows (1.5M predicted
 * characters, about 1.7 passes over the pre-training part), warmup-cosine from 1e-2 to 1e-3,
 * chosen as the benchmark's transformer trains well at AdamW rates of 3e-3 to 1e-2.
 */
export const PRETRAIN_SETTINGS: PretrainSettings = Object.freeze({
  steps: 3000,
  peakLearningRate: 1e-2,
  warmupSteps: 100,
  finalLearningRate: 1e-3,
  weightDecay: 0.01,
});

/**
 * Pre-trains the task's model with AdamW on batches of the pre-training part, from the model's
 * seeded initialization (same seed and settings, same bits).
 * @param onStep - called after each step with the step count and the batch loss
 */
export async function pretrain(
  task: FinetuneTask,
  settings: PretrainSettings = PRETRAIN_SETTINGS,
  onStep?: (done: number, loss: number) => void | Promise<void>,
): Promise<ParamSet> {
  const owner = "pretrain";
  checkKnownOptions(owner, settings, Object.keys(PRETRAIN_SETTINGS));
  const steps = checkNumber(owner, "steps", settings.steps, { integer: true, min: 1 });
  const learningRate = warmupCosine({
    peak: checkNumber(owner, "peakLearningRate", settings.peakLearningRate, { above: 0 }),
    warmupSteps: checkNumber(owner, "warmupSteps", settings.warmupSteps, {
      integer: true,
      min: 0,
    }),
    totalSteps: steps,
    end: checkNumber(owner, "finalLearningRate", settings.finalLearningRate, { min: 0 }),
  });
  const weightDecay = checkNumber(owner, "weightDecay", settings.weightDecay, { min: 0 });
  const optimizer = new Optimizer(task.model.paramSet(), adamw({ learningRate, weightDecay }));
  for (let step = 0; step < steps; step++) {
    task.selectBatch("pretrain", step);
    const { loss } = await optimizer.step(task.model);
    await onStep?.(step + 1, loss ?? Number.NaN);
  }
  return optimizer.params;
}

/** Zeroth-order optimizers of `descend finetune`. */
export const ZO_OPTIMIZERS = ["zo-sgd", "zo-momentum", "zo-adam", "zo-sign", "zo-cons"] as const;

/** First-order optimizers of `descend finetune`, for comparison. */
export const FIRST_ORDER_OPTIMIZERS = ["adamw", "sgd"] as const;

/** An optimizer `descend finetune` runs. */
export type FinetuneOptimizer =
  (typeof ZO_OPTIMIZERS)[number] | (typeof FIRST_ORDER_OPTIMIZERS)[number];

/** Every optimizer of `descend finetune`. */
export const FINETUNE_OPTIMIZERS: readonly FinetuneOptimizer[] = [
  ...ZO_OPTIMIZERS,
  ...FIRST_ORDER_OPTIMIZERS,
];

/** Whether `name` is a zeroth-order optimizer. */
export function isZeroOrder(name: FinetuneOptimizer): name is (typeof ZO_OPTIMIZERS)[number] {
  return (ZO_OPTIMIZERS as readonly string[]).includes(name);
}

/**
 * Default learning rates on this task: the best of a grid of 3 (4 for zo-adam) from the bundled
 * model (batch seed 0, held-out loss 2.0633 on the default windows), 400 steps for the
 * zeroth-order rules and 100 for the first-order ones:
 *
 * | optimizer | held-out loss at each rate |
 * | --- | --- |
 * | zo-sgd | 1e-4: 2.0605, **2e-4: 2.0592**, 4e-4: 2.0602 |
 * | zo-momentum | 1e-5: 2.0607, **2e-5: 2.0597**, 4e-5: 2.0613 |
 * | zo-adam | 3e-5: 2.0623, 1e-4: 2.0607, **3e-4: 2.0598**, 1e-3: 2.0834 |
 * | zo-sign | 3e-5: 2.0626, **1e-4: 2.0615**, 3e-4: 2.0619 |
 * | zo-cons | 1e-4: 2.0605, **2e-4: 2.0593**, 4e-4: 2.0602 |
 * | adamw | 3e-4: 2.0008, **1e-3: 1.9846**, 3e-3: 1.9942 |
 * | sgd | 0.03: 2.0177, **0.1: 2.0094**, 0.3: 2.1399 |
 */
export const DEFAULT_LEARNING_RATES: Readonly<Record<FinetuneOptimizer, number>> = Object.freeze({
  "zo-sgd": 2e-4,
  "zo-momentum": 2e-5,
  "zo-adam": 3e-4,
  "zo-sign": 1e-4,
  "zo-cons": 2e-4,
  adamw: 1e-3,
  sgd: 0.1,
});

/** Default steps: a zeroth-order step is two forward passes, a first-order one a gradient. */
export const DEFAULT_STEPS: Readonly<Record<"zeroOrder" | "firstOrder", number>> = Object.freeze({
  zeroOrder: 1000,
  firstOrder: 100,
});

/** ε of the zeroth-order rules (MeZO's `zo_eps`). */
export const DEFAULT_EPSILON = 1e-3;

/** What a fine-tuning run uses. */
export interface FinetuneSettings {
  /** The optimizer. */
  readonly optimizer: FinetuneOptimizer;
  /** Its (constant) learning rate. */
  readonly learningRate: number;
  /** Zeroth-order: ε (default {@link DEFAULT_EPSILON}). */
  readonly epsilon?: number;
  /** Zeroth-order: directions per step (default 1). */
  readonly directions?: number;
  /** Zeroth-order: how θ ± εz is evaluated (default `"virtual"`). */
  readonly perturbation?: Perturbation;
  /** Zeroth-order: the Gaussian sequence of the directions (default `"normal"`). */
  readonly directionDistribution?: ZoDirectionDistribution;
  /** Seed of the zeroth-order directions (the task's seed orders the batches). */
  readonly seed: number;
}

/** The zeroth-order method of `settings` (which must name one). */
export function zoMethodFor(settings: FinetuneSettings): ZoMethod {
  const common = {
    learningRate: settings.learningRate,
    epsilon: settings.epsilon ?? DEFAULT_EPSILON,
    directions: settings.directions ?? 1,
    perturbation: settings.perturbation ?? "virtual",
    directionDistribution: settings.directionDistribution ?? "normal",
    seed: settings.seed,
  };
  switch (settings.optimizer) {
    case "zo-sgd":
      return zoSgd(common);
    case "zo-momentum":
      return zoMomentum(common);
    case "zo-adam":
      return zoAdam(common);
    case "zo-sign":
      return zoSign(common);
    case "zo-cons":
      return zoCons(common);
    default:
      throw new InvalidArgumentError(
        "zoMethodFor",
        "optimizer",
        settings.optimizer,
        `one of ${ZO_OPTIMIZERS.join(", ")}`,
      );
  }
}

/** One measurement of a fine-tuning run. */
export interface FinetunePoint {
  /** Steps taken. */
  readonly step: number;
  /** Forward passes the steps evaluated (a gradient counts as one forward and one backward). */
  readonly forwardPasses: number;
  /** Gradients the steps evaluated. */
  readonly gradients: number;
  /** Milliseconds spent in the steps (batches, oracle calls, updates; evaluations excluded). */
  readonly trainingMs: number;
  /** Held-out loss after those steps. */
  readonly heldOutLoss: number;
}

/** How a fine-tuning run ended. */
export type FinetuneEnd = "finished" | "interrupted" | "time limit" | "diverged";

/** A fine-tuning run. */
export interface FinetuneRun {
  /** The parameters afterwards (the run's own buffer). */
  readonly params: ParamSet;
  /** The held-out loss at step 0, every `evalEvery` steps and after the last step. */
  readonly curve: readonly FinetunePoint[];
  /** Steps taken. */
  readonly steps: number;
  /** Why it stopped. */
  readonly end: FinetuneEnd;
  /** The zeroth-order optimizer (to save its records), or null for first order. */
  readonly zo: ZoOptimizer | null;
  /** What stopped a diverged run (the refused value), or null. */
  readonly failure: string | null;
}

/** Options of {@link runFinetune}. */
export interface FinetuneRunOptions {
  /** Most steps. */
  readonly steps: number;
  /** Measure the held-out loss every this many steps (and after the last). */
  readonly evalEvery: number;
  /** Stop once the steps took this long (checked after each step; default: no limit). */
  readonly timeLimitMs?: number;
  /** Stops the run after the current step. */
  readonly signal?: AbortSignal;
  /** Seed of the batch order (default: the task's). */
  readonly batchSeed?: number;
  /** The held-out loss of parameters (default: the task's {@link FinetuneTask.loss}). */
  readonly evaluate?: (params: FloatArray) => Promise<number>;
  /** Called after every step with the step count and the batch loss. */
  readonly onStep?: (done: number, loss: number, point: FinetunePoint | null) => void;
  /** Called with each step's zeroth-order records. */
  readonly onRecords?: (records: readonly ZoStepRecord[], params: FloatArray) => void;
  /**
   * Zeroth-order: a handle from `useFastRandom` that generates the directions (the same bits as
   * without it; the caller closes it).
   */
  readonly random?: FastRandom;
}

/**
 * Fine-tunes a copy of `base` on the task's fine-tuning batches (step t uses batch t of the
 * batch seed) with the optimizer of `settings`. Each step's forward passes and gradients are
 * counted at the objective; the held-out evaluations are neither counted nor timed. A
 * non-finite loss or gradient ends the run as diverged, with the parameters of the last good
 * step.
 */
export async function runFinetune(
  task: FinetuneTask,
  base: ParamSet,
  settings: FinetuneSettings,
  options: FinetuneRunOptions,
): Promise<FinetuneRun> {
  const owner = "runFinetune";
  task.layout.assertSame(base.layout, `${owner}: base`);
  const steps = checkNumber(owner, "steps", options.steps, { integer: true, min: 0 });
  const evalEvery = checkNumber(owner, "evalEvery", options.evalEvery, { integer: true, min: 1 });
  const timeLimitMs =
    options.timeLimitMs === undefined
      ? Infinity
      : checkNumber(owner, "timeLimitMs", options.timeLimitMs, { above: 0 });
  const evaluate = options.evaluate ?? ((p: FloatArray) => task.loss(p));
  const model = task.model;
  let forwardPasses = 0;
  let gradients = 0;
  const counted: Objective = {
    name: model.name,
    layout: model.layout,
    value: (p: FloatArray) => {
      forwardPasses++;
      return model.value(p);
    },
    valueAndGrad: (p: FloatArray, out: FloatArray) => {
      forwardPasses++;
      gradients++;
      return model.valueAndGrad(p, out);
    },
  };

  const params = new ParamSet(base.layout, base.data.slice());
  let zo: ZoOptimizer | null = null;
  let firstOrder: Optimizer | null = null;
  if (isZeroOrder(settings.optimizer)) {
    zo = new ZoOptimizer(
      params,
      zoMethodFor(settings),
      options.random === undefined ? {} : { random: options.random },
    );
  } else {
    const transform =
      settings.optimizer === "adamw"
        ? adamw({ learningRate: settings.learningRate })
        : sgd({ learningRate: settings.learningRate });
    firstOrder = new Optimizer(params, transform);
  }

  const curve: FinetunePoint[] = [];
  let trainingMs = 0;
  const measure = async (step: number): Promise<FinetunePoint> => {
    const point = {
      step,
      forwardPasses,
      gradients,
      trainingMs,
      heldOutLoss: await evaluate(params.data),
    };
    curve.push(point);
    return point;
  };
  await measure(0);
  let done = 0;
  let end: FinetuneEnd = "finished";
  let failure: string | null = null;
  for (; done < steps; done++) {
    if (options.signal?.aborted) {
      end = "interrupted";
      break;
    }
    if (trainingMs >= timeLimitMs) {
      end = "time limit";
      break;
    }
    const started = performance.now();
    let loss: number;
    try {
      task.selectBatch("finetune", done, options.batchSeed ?? task.seed);
      if (zo !== null) {
        const result = await zo.step(counted.value);
        loss = result.loss;
        options.onRecords?.(result.records, params.data);
      } else {
        loss = (await firstOrder!.step(counted)).loss ?? Number.NaN;
      }
    } catch (error) {
      if (!(error instanceof NonFiniteError || error instanceof InvalidArgumentError)) throw error;
      // A zeroth-order step refuses a non-finite loss (or a scalar beyond float32) after
      // restoring θ, a first-order one a non-finite gradient before changing anything.
      failure = error.message;
      trainingMs += performance.now() - started;
      end = "diverged";
      break;
    }
    trainingMs += performance.now() - started;
    const last = done + 1 === steps;
    const point =
      (done + 1) % evalEvery === 0 || last || trainingMs >= timeLimitMs
        ? await measure(done + 1)
        : null;
    options.onStep?.(done + 1, loss, point);
    if (!Number.isFinite(loss) || (point !== null && !Number.isFinite(point.heldOutLoss))) {
      done++;
      end = "diverged";
      break;
    }
  }
  if (curve[curve.length - 1].step !== done) await measure(done);
  return { params, curve, steps: done, end, zo, failure };
}

/**
 * The fast generator of zeroth-order directions for fine-tuning runs: WebAssembly SIMD fills
 * (the same bits as the JavaScript definitions) on the calling thread, since a direction chunk
 * (at most 8192 values) is far below the size at which fills go to worker threads, with pieces
 * of 4096 samples so that its WebAssembly memory is one 64 KiB page. The caller closes it.
 */
export function directionRandom(): Promise<FastRandom> {
  return useFastRandom({ threads: 1, pieceSamples: 4096 });
}
