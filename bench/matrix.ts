/**
 * Matrix-aware optimizer cost benchmark: what one full training step of each matrix-aware
 * optimizer costs relative to one AdamW step on the same model, measured side by side in one run.
 *
 * A step is what a training loop pays: selecting the mini-batch (transformer), the gradient, and
 * the update, which includes any extra oracle call the optimizer makes (K-FAC's and MKOR's layer
 * statistics, a forward and backward pass every 10 steps). Every optimizer keeps its own
 * parameters and step counter on a shared model; each repeat times a block of 10 consecutive
 * steps of every optimizer, in an order rotated from repeat to repeat. The table reports the
 * median block time ÷ 10, and as the ratio to AdamW the median over repeats of the block time ÷
 * AdamW's block time in the same repeat (blocks close in time share the machine's load, which
 * drifts on a shared machine). Within each step the gradient and the update are timed apart, so
 * the table also gives the update alone (median over the same blocks): the optimizer's own cost.
 * A block of 10 steps starting at a multiple of 10 holds exactly one Shampoo root refresh
 * (preconditionFrequency 10), one SOAP eigenbasis refresh and one K-FAC / MKOR statistics update,
 * so those ratios are amortized costs; SPlus runs with its bases recomputed every 10 steps (its
 * official default is 100) to hold one refresh per block as well. K-FAC's eigendecompositions run
 * every 100 steps (its reference default), so at most one timed block holds one and the median
 * leaves it out. Two untimed blocks per optimizer first compile every traced function.
 *
 * Models (float32, compiled with jax-js `jit`):
 * - the digits perceptron 64 → 32 (tanh) → 10 on all 1797 rows (full batch);
 * - the same network built by `denseNetwork`, which adds the layer statistics K-FAC and MKOR
 *   need (same initial weights); they are measured there against AdamW on that same model;
 * - the character transformer on tiny Shakespeare in the benchmark's configuration
 *   (TRANSFORMER_CONFIG: 2 blocks, width 32, 2 heads, context 32, 16 windows per step). It has
 *   no layer statistics, so K-FAC and MKOR do not run on it.
 *
 * Muon, AdaGO, FISMO, AdaMuon, AdaMuon with the factored second moment and Shampoo take every
 * tensor with two or more dimensions and hand the rest (biases, norm gains) to AdamW, as their
 * catalog entries do; PSGD Kron, SOAP and SPlus precondition every tensor themselves, and the
 * noise-adaptive LMO descent takes every tensor (spectral for matrices, sign descent otherwise).
 * Hyperparameters are the implementations' defaults except the learning rates (small, so that no
 * run leaves the finite numbers) and Shampoo's and SPlus's preconditionFrequency.
 *
 * Targets: Muon at most 1.5 AdamW steps, Shampoo with root updates
 * every 10 steps at most 2; the others are reported without one.
 *
 *     npx tsx bench/matrix.ts [-- --repeats 9 --only mlp,transformer]
 */
import { TRANSFORMER_CONFIG } from "../src/bench/problems.js";
import { loadDigits } from "../src/data/digits.js";
import { adamw } from "../src/optim/adam.js";
import { adaMuon } from "../src/optim/adaMuon.js";
import { adago } from "../src/optim/adago.js";
import { factoredAdaMuon } from "../src/optim/factoredAdaMuon.js";
import { fismo } from "../src/optim/fismo.js";
import { kfac } from "../src/optim/kfac.js";
import { mkor } from "../src/optim/mkor.js";
import { muonWithAdamw, routeMatrices } from "../src/optim/muon.js";
import { Optimizer } from "../src/optim/optimizer.js";
import { psgdKron } from "../src/optim/psgdKron.js";
import { shampoo } from "../src/optim/shampoo.js";
import { noiseAdaptiveLmo } from "../src/optim/noiseAdaptiveLmo.js";
import { soap } from "../src/optim/soap.js";
import { splus } from "../src/optim/splus.js";
import type { GradientTransform } from "../src/optim/transform.js";
import { denseNetwork } from "../src/oracles/denseLayers.js";
import type { JaxObjective } from "../src/oracles/jax.js";
import type { Objective } from "../src/oracles/objective.js";
import { mlpClassifier } from "../src/oracles/problems/mlp.js";
import { shakespeareTransformer } from "../src/oracles/problems/shakespeareTransformer.js";
import { median } from "./common.js";

interface Options {
  repeats: number;
  only: string[];
}

const MODELS = ["mlp", "transformer"];

function parseArgs(given: string[]): Options {
  // `npx tsx bench/matrix.ts -- …` passes the separator through; npm run strips it.
  const argv = given.filter((a) => a !== "--");
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

/**
 * Steps per timed block: one Shampoo root, SOAP and SPlus basis and K-FAC/MKOR statistics
 * refresh each.
 */
const BLOCK = 10;
/** Shampoo's preconditionFrequency, as its cost target states it. */
const ROOT_INTERVAL = 10;
/** Learning rate of AdamW and of the AdamW groups. */
const ADAMW_RATE = 1e-3;

/** Which model a contender steps on. */
type ModelKind = "plain" | "layerStatistics";

/** One optimizer in the race. */
interface Contender {
  readonly name: string;
  /** The model it runs on: the plain jax-js model, or the one with layer statistics. */
  readonly model: ModelKind;
  /** The contender whose step is its baseline (AdamW on the same model). */
  readonly baseline: string;
  /** Cost target as a multiple of AdamW's step, if any. */
  readonly target?: number;
  transform(): GradientTransform;
}

const restAdamw = (): GradientTransform => adamw({ learningRate: ADAMW_RATE });

const CONTENDERS: readonly Contender[] = [
  {
    name: "adamw",
    model: "plain",
    baseline: "adamw",
    transform: restAdamw,
  },
  {
    name: "muon (+ adamw)",
    model: "plain",
    baseline: "adamw",
    target: 1.5,
    transform: () =>
      muonWithAdamw({ muon: { learningRate: 0.02 }, adamw: { learningRate: ADAMW_RATE } }),
  },
  {
    name: "adago (+ adamw)",
    model: "plain",
    baseline: "adamw",
    transform: () => routeMatrices({ matrices: adago({ learningRate: 0.1 }), rest: restAdamw() }),
  },
  {
    name: "fismo (+ adamw)",
    model: "plain",
    baseline: "adamw",
    transform: () => routeMatrices({ matrices: fismo({ learningRate: 0.02 }), rest: restAdamw() }),
  },
  {
    name: "psgd-kron",
    model: "plain",
    baseline: "adamw",
    transform: () => psgdKron({ learningRate: ADAMW_RATE, seed: 1 }),
  },
  {
    name: `shampoo, roots every ${ROOT_INTERVAL} (+ adamw)`,
    model: "plain",
    baseline: "adamw",
    target: 2,
    transform: () =>
      routeMatrices({
        matrices: shampoo({ learningRate: ADAMW_RATE, preconditionFrequency: ROOT_INTERVAL }),
        rest: restAdamw(),
      }),
  },
  {
    name: "soap",
    model: "plain",
    baseline: "adamw",
    transform: () => soap({ learningRate: ADAMW_RATE }),
  },
  {
    name: `splus, bases every ${BLOCK}`,
    model: "plain",
    baseline: "adamw",
    transform: () => splus({ learningRate: 0.1, preconditionFrequency: BLOCK }),
  },
  {
    name: "noise-adaptive-lmo",
    model: "plain",
    baseline: "adamw",
    transform: () => noiseAdaptiveLmo({ learningRate: 0.1 }),
  },
  {
    name: "ada-muon (+ adamw)",
    model: "plain",
    baseline: "adamw",
    transform: () =>
      routeMatrices({ matrices: adaMuon({ learningRate: ADAMW_RATE }), rest: restAdamw() }),
  },
  {
    name: "factored-ada-muon (+ adamw)",
    model: "plain",
    baseline: "adamw",
    transform: () =>
      routeMatrices({ matrices: factoredAdaMuon({ learningRate: ADAMW_RATE }), rest: restAdamw() }),
  },
  {
    name: "adamw (dense-layer model)",
    model: "layerStatistics",
    baseline: "adamw (dense-layer model)",
    transform: restAdamw,
  },
  {
    name: "kfac",
    model: "layerStatistics",
    baseline: "adamw (dense-layer model)",
    transform: () => kfac({ learningRate: ADAMW_RATE, seed: 1 }),
  },
  {
    name: "mkor",
    model: "layerStatistics",
    baseline: "adamw (dense-layer model)",
    transform: () => mkor({ learningRate: 1e-2 }),
  },
];

/** What the benchmark asks of a model's objective. */
type BenchObjective = Objective &
  Pick<JaxObjective, "valueAndGrad" | "paramSet" | "setBatch" | "dispose">;

/** A model as the benchmark drives it. */
interface Model {
  readonly objective: BenchObjective;
  /** Whether every step selects its own mini-batch. */
  readonly minibatches: boolean;
}

/** The models of one column of the table: the plain one, and the one with layer statistics. */
interface ModelPair {
  readonly label: string;
  readonly plain: Model;
  readonly layerStatistics?: Model;
}

async function buildModels(name: string): Promise<ModelPair> {
  if (name === "mlp") {
    const digits = loadDigits();
    const plain = await mlpClassifier(digits, { hidden: 32 });
    const withStatistics = await denseNetwork({
      sizes: [digits.cols, 32, digits.classes],
      data: digits,
    });
    return {
      label: `digits MLP 64 → 32 → 10, ${digits.rows} rows (full batch), ${plain.layout.size} float32 parameters`,
      plain: { objective: plain, minibatches: false },
      layerStatistics: { objective: withStatistics, minibatches: false },
    };
  }
  const transformer = await shakespeareTransformer({ ...TRANSFORMER_CONFIG, seed: 0 });
  const c = TRANSFORMER_CONFIG;
  return {
    label:
      `character transformer (${c.layers} blocks, width ${c.dModel}, ${c.heads} heads, context ${c.context}, ` +
      `${c.batchSize} windows per step), ${transformer.layout.size} float32 parameters`,
    plain: { objective: transformer, minibatches: true },
  };
}

/** Median milliseconds per step of one contender on one model. */
interface StepCost {
  readonly step: number;
  readonly update: number;
  readonly gradient: number;
  /** Median over repeats of the block time ÷ the baseline's block time in the same repeat. */
  readonly ratio: number;
}

interface Measured {
  readonly label: string;
  /** Per contender name; absent where the model cannot run it. */
  readonly costs: ReadonlyMap<string, StepCost>;
  /** Per contender name: why it stopped, for one that threw (it is then left out of the rounds). */
  readonly failures: ReadonlyMap<string, string>;
}

async function measure(name: string, repeats: number): Promise<Measured> {
  const models = await buildModels(name);
  const runners = CONTENDERS.flatMap((c) => {
    const model = c.model === "plain" ? models.plain : models.layerStatistics;
    if (model === undefined) return [];
    const { objective } = model;
    const opt = new Optimizer(objective.paramSet(), c.transform());
    let step = 0;
    return [
      {
        name: c.name,
        baseline: c.baseline,
        /** Runs BLOCK steps; returns [gradient ms, update ms] summed over them. */
        async block(): Promise<[number, number]> {
          let gradient = 0;
          let update = 0;
          for (let i = 0; i < BLOCK; i++) {
            const started = performance.now();
            if (model.minibatches) objective.setBatch(step);
            const loss = await objective.valueAndGrad(opt.params.data, opt.updates);
            const between = performance.now();
            await opt.apply({
              params: opt.params.data,
              layout: opt.params.layout,
              objective,
              loss,
            });
            const done = performance.now();
            gradient += between - started;
            update += done - between;
            step++;
          }
          return [gradient, update];
        },
      },
    ];
  });
  const samples = runners.map(() => ({
    gradient: [] as number[],
    update: [] as number[],
    step: [] as number[],
  }));
  // A contender that throws is reported with its error; the others go on.
  const failures = new Map<string, string>();
  for (let round = 0; round < repeats + 2; round++) {
    for (let j = 0; j < runners.length; j++) {
      const k = (j + round) % runners.length;
      if (failures.has(runners[k].name)) continue;
      let gradient: number;
      let update: number;
      try {
        [gradient, update] = await runners[k].block();
      } catch (error) {
        failures.set(runners[k].name, error instanceof Error ? error.message : String(error));
        continue;
      }
      if (round >= 2) {
        samples[k].gradient.push(gradient / BLOCK);
        samples[k].update.push(update / BLOCK);
        samples[k].step.push((gradient + update) / BLOCK);
      }
    }
  }
  models.plain.objective.dispose();
  models.layerStatistics?.objective.dispose();
  return {
    label: models.label,
    failures,
    costs: new Map(
      runners.flatMap((r, k): [string, StepCost][] => {
        const base = runners.findIndex((b) => b.name === r.baseline);
        if (failures.has(r.name) || failures.has(r.baseline)) return [];
        const ratios = samples[k].step.map((t, round) => t / samples[base].step[round]);
        return [
          [
            r.name,
            {
              step: median(samples[k].step),
              update: median(samples[k].update),
              gradient: median(samples[k].gradient),
              ratio: median(ratios),
            },
          ],
        ];
      }),
    ),
  };
}

function met(ratio: number, target: number | undefined): string {
  if (target === undefined) return "-";
  return ratio <= target ? "yes" : "no";
}

async function main(): Promise<void> {
  const { repeats, only } = parseArgs(process.argv.slice(2));
  const results = new Map<string, Measured>();
  for (const name of only) results.set(name, await measure(name, repeats));

  console.log(
    `Per-step cost relative to AdamW on the same model (median of ${repeats} blocks of ${BLOCK} steps);`,
  );
  console.log("update = the step without the gradient (the optimizer's own cost)\n");
  for (const [name, m] of results) {
    const gradient = m.costs.get("adamw")!.gradient;
    console.log(`${name}: ${m.label}; gradient ${gradient.toFixed(2)} ms`);
  }
  const header = ["optimizer", "target"];
  for (const name of results.keys()) {
    header.push(`${name} ms/step`, `${name} × AdamW`, `${name} update ms`, `${name} met`);
  }
  console.log(`\n| ${header.join(" | ")} |`);
  console.log(`| ${header.map((_, i) => (i < 2 ? "---" : "--:")).join(" | ")} |`);
  for (const c of CONTENDERS) {
    const cells = [c.name, c.target === undefined ? "-" : `≤ ${c.target}×`];
    for (const m of results.values()) {
      const cost = m.costs.get(c.name);
      if (m.failures.has(c.name)) {
        cells.push("failed", "-", "-", "-");
        continue;
      }
      if (cost === undefined) {
        cells.push("-", "-", "-", "-");
        continue;
      }
      cells.push(
        cost.step.toFixed(2),
        cost.ratio.toFixed(2),
        cost.update.toFixed(2),
        met(cost.ratio, c.target),
      );
    }
    console.log(`| ${cells.join(" | ")} |`);
  }
  console.log(
    "\nK-FAC and MKOR run on the dense-layer model (layer statistics) against AdamW on that model;",
  );
  console.log("the transformer has no layer statistics, so they are not run there.");
  for (const [name, m] of results) {
    for (const [contender, reason] of m.failures)
      console.log(`${name}: ${contender} failed: ${reason}`);
  }
}

await main();
