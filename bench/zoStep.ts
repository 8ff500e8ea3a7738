/**
 * The cost of one ZO-SGD (MeZO) step by how its directions are generated: the float64-definition
 * normals (`directionDistribution: "normal"`) or the float32-native ones (`"normalFloat32"`),
 * each by the JavaScript definition or by the WebAssembly SIMD fill of a `useFastRandom`
 * handle (one thread: a direction chunk holds at most 8192 values, far below the size at which
 * a fill is shared with worker threads).
 *
 * Problems: a black-box quadratic f(θ) = ½ Σ a_i (θ_i − c_i)² over d = 2^16 and 2^20 float32
 * parameters (one pass over θ per evaluation), and the bundled pre-trained transformer (28,576
 * float32 parameters, one fine-tuning batch of 16 windows, the forward pass of
 * src/cli/finetuneTask.ts). Each step is timed with the perturbation written in place (MeZO's:
 * four direction passes per step) and virtual (the library's default: three).
 *
 * Each round times, one after the other, a sample of steps of every variant and one Gaussian
 * fill of d values (a whole d-element Float32Array) by each of the four generators, so the
 * ratios compare times taken side by side on a shared machine. The table reports the median
 * milliseconds per step, that time ÷ the step with JavaScript normals (what a step cost before
 * the choice), the step ÷ one fill of d values by the variant's own generator, and the share of
 * the step spent in the two evaluations of f. Before timing, every fast variant is checked to
 * give the same parameters as its JavaScript twin.
 *
 * Replay: after the steps, for the largest d, a run of 16 virtual ZO-SGD steps is recorded with
 * each distribution and `replay(base, records)` (src/zo/replay.ts) is timed with the JavaScript
 * fills and with the fast handle, interleaved; the table gives milliseconds per record, and every
 * replay is checked to rebuild the live run's parameters bit for bit.
 *
 *     npx tsx bench/zoStep.ts [-- --repeats 7 --sizes 64K,1M --no-transformer]
 */
import { finetuneTask, pretrainedModelPath } from "../src/cli/finetuneTask.js";
import type { FloatArray } from "../src/params/layout.js";
import { fillNormal } from "../src/random/distributions.js";
import type { FastRandom } from "../src/random/fast.js";
import { useFastRandom } from "../src/random/fast.js";
import { fillNormalFloat32 } from "../src/random/normalFloat32.js";
import type { ZoDirectionDistribution } from "../src/zo/directions.js";
import { ZoOptimizer } from "../src/zo/optimizer.js";
import type { ZoStepRecord } from "../src/zo/record.js";
import { replay } from "../src/zo/replay.js";
import type { Perturbation } from "../src/zo/record.js";
import { zoSgd } from "../src/zo/zoSgd.js";
import { median, parseSize } from "./common.js";

interface Options {
  repeats: number;
  sizes: number[];
  transformer: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { repeats: 7, sizes: [2 ** 16, 2 ** 20], transformer: true };
  for (let i = 0; i < argv.length; i++) {
    switch (argv[i]) {
      case "--repeats":
        options.repeats = Number(argv[++i]);
        break;
      case "--sizes":
        options.sizes = argv[++i].split(",").map((text) => parseSize("--sizes", text));
        break;
      case "--no-transformer":
        options.transformer = false;
        break;
      default:
        throw new RangeError(
          `unknown argument ${argv[i]} (known: --repeats, --sizes, --no-transformer)`,
        );
    }
  }
  if (!Number.isInteger(options.repeats) || options.repeats < 1) {
    throw new RangeError(`--repeats must be a positive integer, got ${options.repeats}`);
  }
  return options;
}

function label(n: number): string {
  return n % 2 ** 20 === 0 ? `2^${Math.log2(n)}` : n % 1024 === 0 ? `${n / 1024}K` : String(n);
}

/** How a variant generates its directions. */
interface Variant {
  readonly name: string;
  readonly distribution: ZoDirectionDistribution;
  readonly random: FastRandom | null;
  /** One Gaussian fill of `out` by this variant's generator. */
  readonly fill: (out: Float32Array, seed: number, stream: number) => void;
}

function variants(fast: FastRandom): Variant[] {
  return [
    {
      name: "JavaScript normal",
      distribution: "normal",
      random: null,
      fill: (out, seed, stream) => fillNormal(out, seed, stream),
    },
    {
      name: "fast normal",
      distribution: "normal",
      random: fast,
      fill: (out, seed, stream) => fast.fillNormal(out, seed, stream),
    },
    {
      name: "JavaScript normalFloat32",
      distribution: "normalFloat32",
      random: null,
      fill: (out, seed, stream) => fillNormalFloat32(out, seed, stream),
    },
    {
      name: "fast normalFloat32",
      distribution: "normalFloat32",
      random: fast,
      fill: (out, seed, stream) => fast.fillNormalFloat32(out, seed, stream),
    },
  ];
}

/** A problem: its parameters and its black-box objective. */
interface Problem {
  readonly name: string;
  readonly params: Float32Array;
  readonly value: (p: FloatArray) => number | Promise<number>;
}

function quadratic(d: number): Problem {
  const a = Float32Array.from({ length: d }, (_, i) => 0.5 + ((i * 37) % 11) / 5);
  const c = Float32Array.from({ length: d }, (_, i) => Math.cos(i));
  const params = new Float32Array(d);
  fillNormal(params, 3, 1);
  return {
    name: `quadratic, d = ${label(d)}`,
    params,
    value: (p) => {
      let f = 0;
      for (let i = 0; i < p.length; i++) {
        const r = p[i] - c[i];
        f += a[i] * r * r;
      }
      return 0.5 * f;
    },
  };
}

function optimizer(problem: Problem, variant: Variant, perturbation: Perturbation): ZoOptimizer {
  return new ZoOptimizer(
    problem.params.slice(),
    zoSgd({
      learningRate: 1e-7,
      epsilon: 1e-3,
      seed: 1,
      perturbation,
      directionDistribution: variant.distribution,
    }),
    variant.random === null ? {} : { random: variant.random },
  );
}

/** Throws unless each fast variant steps to the same bits as its JavaScript twin. */
async function checkSameBits(problem: Problem, all: readonly Variant[]): Promise<void> {
  for (const perturbation of ["inPlace", "virtual"] as const) {
    for (const distribution of ["normal", "normalFloat32"] as const) {
      const [plain, quick] = all
        .filter((v) => v.distribution === distribution)
        .map((v) => optimizer(problem, v, perturbation));
      await plain.step(problem.value);
      await quick.step(problem.value);
      for (let i = 0; i < plain.params.length; i++) {
        if (!Object.is(plain.params[i], quick.params[i])) {
          throw new Error(
            `${problem.name}, ${distribution}, ${perturbation}: parameter ${i} differs with the fast fill`,
          );
        }
      }
    }
  }
}

async function measure(problem: Problem, all: readonly Variant[], repeats: number) {
  await checkSameBits(problem, all);
  const d = problem.params.length;
  const out = new Float32Array(d);
  const perturbations: Perturbation[] = ["inPlace", "virtual"];
  const runs = perturbations.flatMap((perturbation) =>
    all.map((variant) => ({
      variant,
      perturbation,
      opt: optimizer(problem, variant, perturbation),
    })),
  );
  // Steps per sample: enough for some 30 ms of the slowest variant, one at least.
  const started = performance.now();
  await runs[0].opt.step(problem.value);
  const perSample = Math.max(1, Math.round(30 / (performance.now() - started)));
  for (const run of runs) await run.opt.step(problem.value);
  for (const v of all) v.fill(out, 9, 0);

  const stepTimes = runs.map((): number[] => []);
  const fillTimes = all.map((): number[] => []);
  const evaluationTimes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    for (let k = 0; k < runs.length; k++) {
      const start = performance.now();
      for (let s = 0; s < perSample; s++) await runs[k].opt.step(problem.value);
      stepTimes[k].push((performance.now() - start) / perSample);
    }
    for (let k = 0; k < all.length; k++) {
      const start = performance.now();
      all[k].fill(out, 9, r);
      fillTimes[k].push(performance.now() - start);
    }
    const start = performance.now();
    for (let s = 0; s < perSample; s++) await problem.value(problem.params);
    evaluationTimes.push((performance.now() - start) / perSample);
  }
  const evaluation = median(evaluationTimes);
  console.log(
    `${problem.name}: ${perSample} step(s) per sample, median of ${repeats}; one evaluation of f ${evaluation.toFixed(2)} ms`,
  );
  console.log(
    `  ${"perturbation".padEnd(14)}${"directions".padEnd(26)}${"ms/step".padStart(9)}${"× today".padStart(9)}` +
      `${"÷ fill".padStart(8)}${"fill ms".padStart(9)}${"2 f evals".padStart(11)}`,
  );
  for (let p = 0; p < perturbations.length; p++) {
    const today = median(stepTimes[p * all.length]);
    for (let k = 0; k < all.length; k++) {
      const step = median(stepTimes[p * all.length + k]);
      const fill = median(fillTimes[k]);
      console.log(
        `  ${(perturbations[p] === "inPlace" ? "in place" : "virtual").padEnd(14)}${all[k].name.padEnd(26)}` +
          `${step.toFixed(2).padStart(9)}${(step / today).toFixed(2).padStart(9)}` +
          `${(step / fill).toFixed(1).padStart(8)}${fill.toFixed(2).padStart(9)}` +
          `${`${Math.round((200 * evaluation) / step)}%`.padStart(11)}`,
      );
    }
  }
  console.log("");
}

/** Records of the replay benchmark's runs. */
const REPLAY_RECORDS = 16;

/** Times `replay` per record on `problem` with each variant, after checking it rebuilds the run. */
async function measureReplay(problem: Problem, all: readonly Variant[], repeats: number) {
  const runs: { variant: Variant; records: ZoStepRecord[] }[] = [];
  for (const variant of all) {
    const opt = optimizer(problem, variant, "virtual");
    const records: ZoStepRecord[] = [];
    for (let t = 0; t < REPLAY_RECORDS; t++)
      records.push(...(await opt.step(problem.value)).records);
    const rebuilt = replay(
      problem.params,
      records,
      variant.random ? { random: variant.random } : {},
    );
    for (let i = 0; i < rebuilt.length; i++) {
      if (!Object.is(rebuilt[i], opt.params[i])) {
        throw new Error(`${variant.name}: the replay differs from the run at parameter ${i}`);
      }
    }
    runs.push({ variant, records });
  }
  const out = new Float32Array(problem.params.length);
  const times = runs.map((): number[] => []);
  for (let r = 0; r < repeats; r++) {
    for (let k = 0; k < runs.length; k++) {
      const { variant, records } = runs[k];
      const start = performance.now();
      replay(problem.params, records, variant.random ? { random: variant.random, out } : { out });
      times[k].push((performance.now() - start) / records.length);
    }
  }
  console.log(
    `${problem.name}: replay of ${REPLAY_RECORDS} virtual ZO-SGD records, median of ${repeats}`,
  );
  console.log(`  ${"directions".padEnd(26)}${"ms/record".padStart(10)}${"× today".padStart(9)}`);
  const today = median(times[0]);
  for (let k = 0; k < runs.length; k++) {
    const perRecord = median(times[k]);
    console.log(
      `  ${runs[k].variant.name.padEnd(26)}${perRecord.toFixed(2).padStart(10)}` +
        `${(perRecord / today).toFixed(2).padStart(9)}`,
    );
  }
  console.log("");
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const fast = await useFastRandom({ threads: 1 });
  if (!fast.enabled) {
    console.log("WebAssembly SIMD is unavailable: the fast fills run their JavaScript definitions");
  }
  const all = variants(fast);
  console.log(
    "One ZO-SGD step by direction generator (× today: ÷ the step with JavaScript normals; " +
      "÷ fill: ÷ one fill of d values by the same generator; 2 f evals: share of the step)\n",
  );
  for (const d of options.sizes) await measure(quadratic(d), all, options.repeats);
  await measureReplay(quadratic(Math.max(...options.sizes)), all, options.repeats);
  if (options.transformer) {
    const task = await finetuneTask({ seed: 0 });
    try {
      const base = await task.readModel(pretrainedModelPath());
      task.selectBatch("finetune", 0);
      await measure(
        {
          name: `bundled transformer, d = ${base.data.length}`,
          params: base.data as Float32Array,
          value: (p) => task.model.value(p),
        },
        all,
        options.repeats,
      );
    } finally {
      task.dispose();
    }
  }
  await fast.close();
}

await main();
