/**
 * Curvature cost benchmark: what one full training step of a curvature-aware optimizer costs,
 * relative to one AdamW step on the same model, measured side by side in one run.
 *
 * A step is what a training loop pays: selecting the mini-batch (transformer), the gradient, the
 * optimizer's extra oracle calls (SophiaG's sampled-label gradient and SophiaH's Hutchinson
 * product every k = 10 steps, AdaHessian's Hessian-vector product every step) and the update.
 * Every optimizer keeps its own parameters and step counter on the model; each repeat times a
 * block of 10 consecutive steps of every optimizer, in an order rotated from repeat to repeat,
 * and the table reports the median block time ÷ 10 and its ratio to AdamW's. A block of 10 steps
 * starting at a multiple of 10 holds exactly one Sophia refresh, so Sophia's ratio is its
 * amortized cost. Two untimed blocks per optimizer first compile every traced function.
 *
 * Models: the digits perceptron 64 → 32 (tanh) → 10 on all 1797 rows (full batch), and the
 * character transformer on tiny Shakespeare in the benchmark's configuration (mini-batches of
 * 16 windows of 32 characters), both float32 and compiled with jax-js `jit`. Each model is built
 * twice: with the default exact Hessian-vector product and with `hvpMode: "finite-difference"`
 * (two gradients per product).
 *
 * Targets: SophiaG and SophiaH at k = 10 cost at most 1.25 AdamW steps,
 * AdaHessian at most 3; M-FAC (m = 32) is reported without one. After the step table, the
 * oracles' own cost in gradients (same run, interleaved) explains the ratios.
 *
 *     npx tsx bench/curvature.ts [--repeats 9] [--only mlp,transformer]
 */
import { TRANSFORMER_CONFIG } from "../src/bench/problems.js";
import { loadDigits } from "../src/data/digits.js";
import { adamw } from "../src/optim/adam.js";
import { adahessian } from "../src/optim/adahessian.js";
import { mfac } from "../src/optim/mfac.js";
import { Optimizer } from "../src/optim/optimizer.js";
import { sophiaG, sophiaH } from "../src/optim/sophia.js";
import type { GradientTransform } from "../src/optim/transform.js";
import type { CharTransformerObjective } from "../src/oracles/problems/charTransformer.js";
import type { MlpObjective } from "../src/oracles/problems/mlp.js";
import { mlpClassifier } from "../src/oracles/problems/mlp.js";
import { shakespeareTransformer } from "../src/oracles/problems/shakespeareTransformer.js";
import type { FloatArray } from "../src/params/layout.js";
import { median } from "./common.js";

interface Options {
  repeats: number;
  only: string[];
}

const MODELS = ["mlp", "transformer"];

function parseArgs(argv: string[]): Options {
  const options: Options = { repeats: 9, only: MODELS };
  for (let i = 0; i < argv.length; i += 2) {
    const value = argv[i + 1];
    if (argv[i] === "--repeats") {
      options.repeats = Number(value);
      if (!Number.isInteger(options.repeats) || options.repeats < 1) {
        throw new RangeError(`--repeats needs a positive integer, got ${value}`);
      }
    } else if (argv[i] === "--only") {
      options.only = (value ?? "").split(",");
      const unknown = options.only.filter((m) => !MODELS.includes(m));
      if (unknown.length > 0 || options.only.length === 0) {
        throw new RangeError(`--only takes ${MODELS.join(",")}, got ${value}`);
      }
    } else {
      throw new RangeError(`unknown argument ${argv[i]} (use --repeats N --only mlp,transformer)`);
    }
  }
  return options;
}

/** Steps per timed block: one Sophia refresh per block. */
const BLOCK = 10;
/** Sophia's Hessian interval k. */
const INTERVAL = 10;
/** M-FAC's window m. */
const WINDOW = 32;

/** A model as the benchmark drives it. */
interface Model {
  readonly objective: MlpObjective | CharTransformerObjective;
  readonly minibatches: boolean;
}

/** One optimizer in the race. */
interface Contender {
  readonly name: string;
  readonly hvp: string;
  /** Cost target as a multiple of AdamW's step, if any. */
  readonly target?: number;
  /** Builds its transform for `model`. */
  transform(model: Model): GradientTransform;
  /** Whether it runs on the finite-difference model. */
  readonly finiteDifference: boolean;
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "adamw",
    hvp: "-",
    finiteDifference: false,
    transform: () => adamw({ learningRate: 1e-3 }),
  },
  {
    name: "sophia-g (k = 10)",
    hvp: "- (sampled-label gradient)",
    target: 1.25,
    finiteDifference: false,
    transform: (m) =>
      sophiaG({
        learningRate: 1e-4,
        hessianInterval: INTERVAL,
        batchSize: m.objective.batchScale,
      }),
  },
  {
    name: "sophia-h (k = 10)",
    hvp: "exact",
    target: 1.25,
    finiteDifference: false,
    transform: () => sophiaH({ learningRate: 1e-4, hessianInterval: INTERVAL }),
  },
  {
    name: "sophia-h (k = 10)",
    hvp: "finite difference",
    target: 1.25,
    finiteDifference: true,
    transform: () => sophiaH({ learningRate: 1e-4, hessianInterval: INTERVAL }),
  },
  {
    name: "adahessian",
    hvp: "exact",
    target: 3,
    finiteDifference: false,
    transform: () => adahessian({ learningRate: 1e-3 }),
  },
  {
    name: "adahessian",
    hvp: "finite difference",
    target: 3,
    finiteDifference: true,
    transform: () => adahessian({ learningRate: 1e-3 }),
  },
  {
    name: `mfac (m = ${WINDOW})`,
    hvp: "-",
    finiteDifference: false,
    transform: () => mfac({ learningRate: 1e-4, numGradients: WINDOW, damp: 1e-2 }),
  },
];

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

async function buildModels(name: string): Promise<{ exact: Model; fd: Model; label: string }> {
  if (name === "mlp") {
    const digits = loadDigits();
    const build = async (fd: boolean): Promise<Model> => ({
      objective: await mlpClassifier(digits, {
        hidden: 32,
        ...(fd ? { hvpMode: "finite-difference" as const } : {}),
      }),
      minibatches: false,
    });
    const exact = await build(false);
    return {
      exact,
      fd: await build(true),
      label: `digits MLP 64 → 32 → 10, ${digits.rows} rows (full batch), ${exact.objective.layout.size} float32 parameters`,
    };
  }
  const build = async (fd: boolean): Promise<Model> => ({
    objective: await shakespeareTransformer({
      ...TRANSFORMER_CONFIG,
      seed: 0,
      ...(fd ? { hvpMode: "finite-difference" as const } : {}),
    }),
    minibatches: true,
  });
  const exact = await build(false);
  const c = TRANSFORMER_CONFIG;
  return {
    exact,
    fd: await build(true),
    label:
      `character transformer (${c.layers} blocks, width ${c.dModel}, ${c.heads} heads, context ${c.context}, ` +
      `${c.batchSize} windows per step), ${exact.objective.layout.size} float32 parameters`,
  };
}

interface Measured {
  readonly label: string;
  readonly exactMode: string;
  /** Median ms per step of each contender, in CONTENDERS order. */
  readonly msPerStep: readonly number[];
  /** Median ms of each oracle. */
  readonly oracles: Readonly<Record<string, number>>;
}

async function measure(name: string, repeats: number): Promise<Measured> {
  const { exact, fd, label } = await buildModels(name);
  const runners = CONTENDERS.map((c) => {
    const model = c.finiteDifference ? fd : exact;
    const opt = new Optimizer(model.objective.paramSet(), c.transform(model));
    let step = 0;
    return {
      async block(): Promise<void> {
        for (let i = 0; i < BLOCK; i++) {
          if (model.minibatches) model.objective.setBatch(step);
          await opt.step(model.objective);
          step++;
        }
      },
    };
  });
  const samples = CONTENDERS.map((): number[] => []);
  const theta = exact.objective.paramSet().data;
  const vector: FloatArray = exact.objective.layout.zeros().fill(1);
  const out = exact.objective.layout.zeros();
  const oracleSamples: Record<string, number[]> = {
    gradient: [],
    "exact HVP": [],
    "finite-difference HVP": [],
    "sampled-label gradient": [],
  };
  for (let round = 0; round < repeats + 2; round++) {
    for (let j = 0; j < runners.length; j++) {
      const k = (j + round) % runners.length;
      const t = await timed(() => runners[k].block());
      if (round >= 2) samples[k].push(t / BLOCK);
    }
    const times = {
      gradient: await timed(() => exact.objective.valueAndGrad(theta, out)),
      "exact HVP": await timed(() => exact.objective.hvp(theta, vector, out)),
      "finite-difference HVP": await timed(() => fd.objective.hvp(theta, vector, out)),
      "sampled-label gradient": await timed(() =>
        exact.objective.sampledLabelGrad(theta, out, 1, round),
      ),
    };
    if (round >= 2) {
      for (const [key, t] of Object.entries(times)) oracleSamples[key].push(t);
    }
  }
  const exactMode = exact.objective.hvpMode;
  exact.objective.dispose();
  fd.objective.dispose();
  return {
    label,
    exactMode,
    msPerStep: samples.map(median),
    oracles: Object.fromEntries(Object.entries(oracleSamples).map(([k, v]) => [k, median(v)])),
  };
}

function verdict(ratio: number, target: number | undefined): string {
  if (target === undefined) return "-";
  return ratio <= target ? "yes" : "no";
}

async function main(): Promise<void> {
  const { repeats, only } = parseArgs(process.argv.slice(2));
  const results = new Map<string, Measured>();
  for (const name of only) results.set(name, await measure(name, repeats));

  console.log(`Per-step cost relative to AdamW (median of ${repeats} blocks of ${BLOCK} steps)\n`);
  for (const [name, m] of results) console.log(`${name}: ${m.label}; exact HVP: ${m.exactMode}`);
  const header = ["optimizer", "HVP", "target"];
  for (const name of results.keys())
    header.push(`${name} ms/step`, `${name} × AdamW`, `${name} met`);
  console.log(`\n| ${header.join(" | ")} |`);
  console.log(`| ${header.map((_, i) => (i < 3 ? "---" : "--:")).join(" | ")} |`);
  CONTENDERS.forEach((c, k) => {
    const cells = [c.name, c.hvp, c.target === undefined ? "-" : `≤ ${c.target}×`];
    for (const m of results.values()) {
      const ratio = m.msPerStep[k] / m.msPerStep[0];
      cells.push(m.msPerStep[k].toFixed(2), ratio.toFixed(2), verdict(ratio, c.target));
    }
    console.log(`| ${cells.join(" | ")} |`);
  });

  console.log("\nOracle cost in gradients (same run, median)\n");
  const oracleHeader = [
    "oracle",
    ...[...results.keys()].flatMap((n) => [`${n} ms`, `${n} × gradient`]),
  ];
  console.log(`| ${oracleHeader.join(" | ")} |`);
  console.log(`| ${oracleHeader.map((_, i) => (i === 0 ? "---" : "--:")).join(" | ")} |`);
  for (const oracle of Object.keys(results.values().next().value!.oracles)) {
    const cells = [oracle];
    for (const m of results.values()) {
      cells.push(m.oracles[oracle].toFixed(2), (m.oracles[oracle] / m.oracles.gradient).toFixed(2));
    }
    console.log(`| ${cells.join(" | ")} |`);
  }
}

await main();
