/**
 * Reproduction of MeZO's memory claim (Malladi, Gao, Nichani, Damian, Lee, Chen & Arora,
 * "Fine-Tuning Language Models with Just Forward Passes", NeurIPS 2023): zeroth-order SGD that
 * perturbs the weights in place and regenerates its perturbation from a seed fine-tunes a model
 * within the memory of inference (the paper measures up to 12 times less memory than
 * fine-tuning with backpropagation), at a quality comparable to that fine-tuning on many tasks.
 *
 * Model and task (src/cli/finetuneTask.ts): the bundled character-level transformer (28,576
 * float32 parameters), pre-trained with AdamW on the first 80% of tiny Shakespeare, fine-tuned
 * on batches of 16 windows from the next 10%. The last 10% is held out: learning rates are
 * selected on windows spread over its first half, and the reported loss is measured on windows
 * spread over its second half.
 *
 * Memory: the peak bytes (JavaScript heap and ArrayBuffers, and jax-js's wasm buffers; see
 * memoryProbe.ts) of four operations, each above the state with the model and its batch loaded:
 * a forward pass (inference), one MeZO step with the perturbation written in place (MeZO's
 * `zo_perturb_parameters`: θ+εz, θ−εz and back, z regenerated from its seed) and with the
 * virtual one (θ never written, the perturbed point in a separate buffer), and one AdamW step
 * (gradient, moments, update buffer). The optimizer is created inside the operation, so its
 * state counts. The memory of a configuration is the parameters' bytes plus that peak.
 *
 * Quality: both sides get a grid of 3 constant learning rates half a decade apart and the same
 * seeds (batch order; MeZO's directions); MeZO gets 32 times AdamW's steps, the ratio of the
 * paper's OPT runs (princeton-nlp/MeZO @ a0966b5, large_models/mezo.sh: 20,000 steps;
 * large_models/finetune.sh: 5 epochs of 1,000 examples at batch size 8, 625 steps). MeZO's
 * hyperparameters otherwise follow mezo.sh: ε = 1e-3, one direction, constant learning rate,
 * no weight decay; AdamW is torch.optim.AdamW's defaults at the chosen rate.
 *
 * Verdict, fixed in advance:
 * - memory holds when MeZO's in-place step needs at most 5% more than inference
 *   (M_MeZO ≤ 1.05·M_inference); the ratio M_AdamW / M_MeZO is reported beside the paper's 12;
 * - quality is comparable when MeZO recovers at least half of AdamW's improvement of the
 *   held-out loss over the pre-trained model (means over seeds), worse when it recovers less,
 *   unclear when AdamW does not improve it;
 * - the claim held when both hold, did not hold when either fails, and is inconclusive
 *   otherwise.
 */
import type { FinetuneTask } from "../cli/finetuneTask.js";
import type { FastRandom } from "../random/fast.js";
import {
  directionRandom,
  finetuneTask,
  pretrainedModelPath,
  runFinetune,
} from "../cli/finetuneTask.js";
import { adamw } from "../optim/adam.js";
import { Optimizer } from "../optim/optimizer.js";
import type { ParamSet } from "../params/paramset.js";
import { ZoOptimizer } from "../zo/optimizer.js";
import type { Perturbation } from "../zo/record.js";
import { zoSgd } from "../zo/zoSgd.js";
import type { ReproduceOptions, Reproduction, Verdict } from "./claims.js";
import { formatSigned, halfDecades, summarize, table, toJson } from "./common.js";
import type { MemoryMeasurement, MemoryWatch } from "./memoryProbe.js";
import { MemoryProbe } from "./memoryProbe.js";

/** MeZO's steps per AdamW step (the paper's OPT runs: 20,000 against 625). */
export const STEP_RATIO = 32;

/** Largest memory of a MeZO step, as a multiple of inference's, for "within inference". */
export const MEMORY_TOLERANCE = 1.05;

/** Smallest share of AdamW's held-out improvement MeZO must reach to be "comparable". */
export const QUALITY_SHARE = 0.5;

/** The budget of the reproduction. */
export interface MezoMemoryPlan {
  /** Seeds of the batch order and MeZO's directions. */
  readonly seeds: readonly number[];
  /** AdamW's steps. */
  readonly adamwSteps: number;
  /** MeZO's steps ({@link STEP_RATIO} × AdamW's). */
  readonly mezoSteps: number;
  /** AdamW's learning rates. */
  readonly adamwRates: readonly number[];
  /** MeZO's learning rates. */
  readonly mezoRates: readonly number[];
  /** Windows of each half of the held-out text (selection and report). */
  readonly windows: number;
}

/**
 * The plan for base seed `seed`. Full: 2 seeds, 64 AdamW steps against 2048 MeZO steps, rates
 * 3.16e-4 … 3.16e-3 for AdamW and 3.16e-5 … 3.16e-4 for MeZO (around the rates pilot runs found
 * best, 1e-3 and 2e-4), 64 windows per half of the held-out text. Quick: one seed, 1 against 32
 * steps, the middle rate of each grid, 16 windows.
 */
export function mezoMemoryPlan(quick: boolean, seed: number): MezoMemoryPlan {
  const adamwRates = halfDecades(-7, 3);
  const mezoRates = halfDecades(-9, 3);
  const adamwSteps = quick ? 1 : 64;
  return {
    seeds: quick ? [seed] : [seed, seed + 1],
    adamwSteps,
    mezoSteps: STEP_RATIO * adamwSteps,
    adamwRates: quick ? [adamwRates[1]] : adamwRates,
    mezoRates: quick ? [mezoRates[1]] : mezoRates,
    windows: quick ? 16 : 64,
  };
}

/** The operations whose memory is compared. */
export type MemoryConfiguration = "inference" | "mezo-in-place" | "mezo-virtual" | "adamw";

/** The memory of one configuration. */
export interface ConfigurationMemory {
  /** Which operation. */
  readonly configuration: MemoryConfiguration;
  /** Its measurement (bytes above the loaded model). */
  readonly measurement: MemoryMeasurement;
  /** Parameter bytes + the peak: the memory the configuration needs. */
  readonly totalBytes: number;
}

/** The memory of every configuration on one model. */
export interface FinetuneMemory {
  /** Number of parameters. */
  readonly parameters: number;
  /** Their bytes. */
  readonly parameterBytes: number;
  /** Whether jax-js buffers were tracked (otherwise every total is NaN). */
  readonly jaxTracked: boolean;
  /** Inference, MeZO in place, MeZO virtual, AdamW. */
  readonly configurations: readonly ConfigurationMemory[];
}

/** The memory of `configuration` in `memory`. */
export function memoryOf(memory: FinetuneMemory, configuration: MemoryConfiguration): number {
  return memory.configurations.find((c) => c.configuration === configuration)!.totalBytes;
}

/** One operation, on a model and a parameter buffer it may change. */
type MemoryOperation = (watch: MemoryWatch | null) => Promise<unknown>;

/**
 * Measures the four configurations on the task's current model and batch: each operation is
 * run once unmeasured (jax-js compiles its functions on first use), then measured. The
 * operations work on a copy of `params` (made before any measurement).
 */
export async function measureFinetuneMemory(
  task: FinetuneTask,
  params: ParamSet,
  probe: MemoryProbe,
): Promise<FinetuneMemory> {
  const model = task.model;
  const working = params.clone();
  const objective = (watch: MemoryWatch | null) =>
    watch === null
      ? model
      : watch.wrap({
          name: model.name,
          layout: model.layout,
          value: (p) => model.value(p),
          valueAndGrad: (p, g) => model.valueAndGrad(p, g),
        });
  const zoStep =
    (perturbation: Perturbation): MemoryOperation =>
    async (watch) => {
      const optimizer = new ZoOptimizer(
        working,
        zoSgd({ learningRate: 1e-4, epsilon: 1e-3, perturbation, seed: 0 }),
      );
      await optimizer.step(objective(watch));
      return optimizer;
    };
  const operations: Record<MemoryConfiguration, MemoryOperation> = {
    inference: async (watch) => objective(watch).value(working.data),
    "mezo-in-place": zoStep("inPlace"),
    "mezo-virtual": zoStep("virtual"),
    adamw: async (watch) => {
      const optimizer = new Optimizer(working, adamw({ learningRate: 1e-3 }));
      await optimizer.step(objective(watch));
      return optimizer;
    },
  };
  const parameterBytes = working.data.byteLength;
  const configurations: ConfigurationMemory[] = [];
  for (const [configuration, operation] of Object.entries(operations)) {
    await operation(null);
    const measurement = await probe.measure((watch) => operation(watch));
    configurations.push({
      configuration: configuration as MemoryConfiguration,
      measurement,
      totalBytes: parameterBytes + measurement.peakBytes,
    });
  }
  return {
    parameters: working.data.length,
    parameterBytes,
    jaxTracked: probe.tracksJax,
    configurations,
  };
}

/** Fine-tuning quality of one side at its selected rate. */
export interface QualitySide {
  /** `"adamw"` or `"mezo"`. */
  readonly optimizer: "adamw" | "mezo";
  /** Steps per run. */
  readonly steps: number;
  /** The rates tried. */
  readonly learningRates: readonly number[];
  /** Mean selection loss of each rate (same order). */
  readonly selectionLosses: readonly number[];
  /** The selected rate (lowest mean selection loss). */
  readonly learningRate: number;
  /** Held-out (report half) loss per seed at the selected rate. */
  readonly testLosses: readonly number[];
  /** Mean of the test losses. */
  readonly meanTestLoss: number;
  /** Pre-trained test loss − mean test loss. */
  readonly gain: number;
  /** Mean training milliseconds of a run at the selected rate. */
  readonly trainingMs: number;
}

/** How MeZO's quality compares. */
export type QualityOutcome = "comparable" | "worse" | "unclear";

/** The rule of the file header for quality, on mean held-out gains. */
export function qualityOutcome(mezoGain: number, adamwGain: number): QualityOutcome {
  if (!Number.isFinite(mezoGain) || !Number.isFinite(adamwGain) || adamwGain <= 0) return "unclear";
  return mezoGain >= QUALITY_SHARE * adamwGain ? "comparable" : "worse";
}

/** The rule of the file header for memory: null when it could not be measured. */
export function memoryHeld(mezoBytes: number, inferenceBytes: number): boolean | null {
  if (!Number.isFinite(mezoBytes) || !Number.isFinite(inferenceBytes) || inferenceBytes <= 0) {
    return null;
  }
  return mezoBytes <= MEMORY_TOLERANCE * inferenceBytes;
}

/** The verdict from the two parts. */
export function judgeMezo(memory: boolean | null, quality: QualityOutcome): Verdict {
  if (memory === false || quality === "worse") return "did not hold";
  if (memory === true && quality === "comparable") return "held";
  return "inconclusive";
}

function mib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 2 ** 20).toFixed(3)} MiB` : "-";
}

function kib(bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / 1024).toFixed(1)} KiB` : "-";
}

const CONFIGURATION_LABELS: Record<MemoryConfiguration, string> = {
  inference: "inference (forward pass)",
  "mezo-in-place": "MeZO step, in place",
  "mezo-virtual": "MeZO step, virtual",
  adamw: "AdamW step",
};

/** The memory table of `memory` (rows: configurations). */
export function memoryTable(memory: FinetuneMemory): string {
  const inference = memoryOf(memory, "inference");
  const rows = memory.configurations.map((c) => {
    const m = c.measurement;
    return [
      CONFIGURATION_LABELS[c.configuration],
      kib(m.bufferRetainedBytes),
      kib(m.jsRetainedBytes - m.bufferRetainedBytes),
      kib(m.jsPeakBytes),
      kib(m.jaxPeakBytes),
      mib(c.totalBytes),
      (c.totalBytes / inference).toFixed(3),
      ((m.peakBytes - (inference - memory.parameterBytes)) / memory.parameterBytes).toFixed(2),
    ];
  });
  return table(
    [
      "operation",
      "buffers kept",
      "heap kept",
      "JS peak",
      "jax-js peak",
      "memory",
      "× inference",
      "extra ÷ params",
    ],
    rows,
  );
}

/** Runs the reproduction. */
export async function reproduceMezoMemory(options: ReproduceOptions): Promise<Reproduction> {
  const { quick, seed } = options;
  const progress = options.progress ?? (() => undefined);
  const plan = mezoMemoryPlan(quick, seed);
  const task = await finetuneTask({ seed });
  const probe = await MemoryProbe.open();
  let random: FastRandom | null = null;
  try {
    const base = await task.readModel(pretrainedModelPath());
    progress("memory: inference, MeZO (in place, virtual) and AdamW steps");
    task.selectBatch("finetune", 0);
    const memory = await measureFinetuneMemory(task, base, probe);
    const inference = memoryOf(memory, "inference");
    const mezo = memoryOf(memory, "mezo-in-place");
    const adamwBytes = memoryOf(memory, "adamw");
    const memoryVerdict = memoryHeld(mezo, inference);

    const selection = (p: Float32Array | Float64Array) =>
      task.loss(p, { count: plan.windows, from: 0, to: 0.5 });
    const test = (p: Float32Array | Float64Array) =>
      task.loss(p, { count: plan.windows, from: 0.5, to: 1 });
    const baseTest = await test(base.data);
    // The quality runs are timed: directions come from the fast generator, as in the CLI.
    random = await directionRandom();
    const runSide = async (optimizer: "adamw" | "mezo"): Promise<QualitySide> => {
      const rates = optimizer === "adamw" ? plan.adamwRates : plan.mezoRates;
      const steps = optimizer === "adamw" ? plan.adamwSteps : plan.mezoSteps;
      const perRate: { selection: number[]; test: number[]; ms: number[] }[] = [];
      for (const learningRate of rates) {
        const outcome = { selection: [] as number[], test: [] as number[], ms: [] as number[] };
        for (const s of plan.seeds) {
          progress(`${optimizer} at learning rate ${learningRate}, seed ${s}: ${steps} steps`);
          const run = await runFinetune(
            task,
            base,
            {
              optimizer: optimizer === "adamw" ? "adamw" : "zo-sgd",
              learningRate,
              seed: s,
              perturbation: "inPlace",
            },
            {
              steps,
              evalEvery: steps,
              evaluate: selection,
              batchSeed: s,
              ...(random === null ? {} : { random }),
            },
          );
          const last = run.curve[run.curve.length - 1];
          outcome.selection.push(
            run.end === "diverged" ? Number.POSITIVE_INFINITY : last.heldOutLoss,
          );
          outcome.test.push(run.end === "diverged" ? Number.NaN : await test(run.params.data));
          outcome.ms.push(last.trainingMs);
        }
        perRate.push(outcome);
      }
      const selectionLosses = perRate.map((r) => summarize(r.selection).mean);
      let best = 0;
      selectionLosses.forEach((loss, i) => {
        if (loss < selectionLosses[best]) best = i;
      });
      const testLosses = perRate[best].test;
      const meanTestLoss = summarize(testLosses).mean;
      return {
        optimizer,
        steps,
        learningRates: rates,
        selectionLosses,
        learningRate: rates[best],
        testLosses,
        meanTestLoss,
        gain: baseTest - meanTestLoss,
        trainingMs: summarize(perRate[best].ms).mean,
      };
    };
    const adamwSide = await runSide("adamw");
    const mezoSide = await runSide("mezo");
    const quality = qualityOutcome(mezoSide.gain, adamwSide.gain);
    const verdict = judgeMezo(memoryVerdict, quality);

    const ratio = adamwBytes / mezo;
    const memoryReason =
      memoryVerdict === null
        ? "The jax-js buffers could not be tracked, so memory was not measured"
        : `A MeZO step (in place) needs ${(mezo / inference).toFixed(3)}× the memory of a forward pass ` +
          `(${memoryVerdict ? "within" : "beyond"} the ${MEMORY_TOLERANCE}× allowed) and AdamW ` +
          `${ratio.toFixed(2)}× MeZO's (the paper: up to 12×)`;
    const share = mezoSide.gain / adamwSide.gain;
    const qualityReason =
      quality === "unclear"
        ? `AdamW did not improve the held-out loss (${formatSigned(-adamwSide.gain)} nats), so quality is unclear`
        : `MeZO in ${mezoSide.steps} steps improved the held-out loss by ${mezoSide.gain.toFixed(4)} nats, ` +
          `${(100 * share).toFixed(0)}% of AdamW's ${adamwSide.gain.toFixed(4)} in ${adamwSide.steps} steps ` +
          `(${quality}: ${(100 * QUALITY_SHARE).toFixed(0)}% needed)`;
    const reason = `${memoryReason}; ${qualityReason}.`;

    const qualityRows = [adamwSide, mezoSide].map((side) => [
      side.optimizer === "adamw" ? "AdamW" : "MeZO (in place)",
      String(side.steps),
      String(side.learningRate),
      side.meanTestLoss.toFixed(4),
      formatSigned(-side.gain),
      (side.trainingMs / 1000).toFixed(1),
    ]);
    const report =
      `Memory on the ${memory.parameters}-parameter transformer (${kib(memory.parameterBytes)} of ` +
      `parameters; bytes above the loaded model, plus the parameters):\n` +
      `${memoryTable(memory)}\n\n` +
      `Fine-tuning quality (held-out loss, second half of the last 10%; pre-trained ${baseTest.toFixed(4)}; ` +
      `means over ${plan.seeds.length} seed${plan.seeds.length === 1 ? "" : "s"}):\n` +
      `${table(["optimizer", "steps", "learning rate", "held-out loss", "change", "seconds"], qualityRows)}\n`;

    return {
      claim: "mezo-memory",
      verdict,
      reason,
      quick,
      seed,
      measurements: toJson({
        plan,
        memory: {
          ...memory,
          inferenceBytes: inference,
          mezoBytes: mezo,
          adamwBytes,
          mezoOverInference: mezo / inference,
          adamwOverMezo: ratio,
          held: memoryVerdict,
        },
        quality: {
          pretrainedTestLoss: baseTest,
          adamw: adamwSide,
          mezo: mezoSide,
          outcome: quality,
        },
      }),
      report,
    };
  } finally {
    await random?.close();
    probe.close();
    task.dispose();
  }
}
