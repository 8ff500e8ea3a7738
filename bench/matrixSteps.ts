/**
 * Steps to target of every matrix-aware optimizer against AdamW, on the two problems of the Muon
 * reproduction (src/reproduce/muonVsAdamw.ts): the character transformer on tiny Shakespeare
 * (validation loss ≤ 2.7 nats per character within 400 steps, measured every 10 steps) and the
 * digits perceptron 64 → 32 (tanh) → 10 on mini-batches of 64 rows (training loss on all training
 * rows ≤ 0.02 within 500 steps, measured every 5 steps). Targets, budgets, measurement intervals,
 * schedule (warmup over 2% of the steps, cosine decay to 1/20 of the peak), AdamW's fixed settings
 * and the selection rule (most seeds at the target, then fewest mean steps, then lowest final
 * loss) are that reproduction's, imported from it.
 *
 * Optimizers and which tensors they take:
 * - AdamW on every tensor; its grid is the reproduction's (1e-3 … 3.16e-2 on the transformer,
 *   0.01 … 0.316 on the perceptron), and it is tuned first.
 * - Muon, AdaGO, the noise-adaptive LMO descent (src/optim/noiseAdaptiveLmo.ts), AdaMuon (also with
 *   the factored second moment) and Shampoo (Gupta, Koren & Singer, ICML 2018; root inverses every
 *   10 steps) take the reproduction's Muon tensors (the hidden weight matrices: the four matrices
 *   of each transformer block; the perceptron's input layer) and hand the rest to AdamW at AdamW's
 *   selected rate, on the same schedule. Muon is the reproduction's own transform and grid (0.01 …
 *   0.316).
 * - SOAP (Vyas et al., ICLR 2025), SPlus (Frans, Levine & Abbeel, 2025) and PSGD Kron (Li,
 *   2018/2024) precondition every tensor themselves, as their reference implementations and
 *   catalog entries do.
 * - K-FAC (Martens & Grosse, ICML 2015) and MKOR (Mozaffari et al., NeurIPS 2023) need layer
 *   statistics, which only the perceptron offers: the perceptron is rebuilt by `denseNetwork`
 *   with the seed and batch size of the reproduction's model, so it starts at the same weights
 *   (checked bit for bit) and visits the same batches (checked on a batch's loss), and
 *   `withLayerStatistics` lends its statistics to the reproduction's model. They run as their
 *   catalog entries build them (K-FAC with the KL clip 1e-2 of its reference's main.py).
 *
 * Learning-rate grids: 4 rates half a decade apart around a centre c (rounded to 3 digits). Where c
 * is a tuned rate, the grid is c/10, c/√10, c, √10·c, lower rather than higher because mini-batches
 * of 64 take smaller rates than the full batch c was tuned on: the tuned full-batch perceptron
 * rates of src/bench/learningRates.ts (Shampoo 0.1, SOAP 0.1 on the perceptron). Elsewhere c is the
 * catalog's defaultLearningRate (Shampoo 0.03, SOAP 0.01, PSGD Kron 1e-3, AdaGO 0.3, noise-adaptive
 * LMO 0.3, AdaMuon and its factored form 0.01, SPlus 0.1 on the transformer; the same and K-FAC
 * 0.3, MKOR 0.1 on the perceptron); on the perceptron those grids run c/√10, c, √10·c, 10·c, since
 * a first pass with the lower grids left all four of them at the grid's top rate. Every other
 * hyperparameter is the implementation's default, except that AdaGO's rate is floored at 1e-6 of
 * its peak during the warm-up from 0 (the table in the README was measured so).
 *
 * Grid extension: a best rate at the grid's first (last) rate only bounds the result, so after a
 * grid is swept, while the selected rate is the smallest (largest) rate tried, one more rate half
 * a decade below (above) is swept and the selection rule applied again over all rates tried
 * (src/bench/gridExtension.ts decides). At most 4 rates are added on each side; a rate where
 * every run diverges stops extension past it. Where no rate reaches the target the selection
 * falls back to the lowest final loss, and the grid is widened toward it all the same. A result is
 * marked "(grid edge)" only when its best rate is still at an edge after 4 extensions there.
 * AdamW's grid is extended too, before the others run, since they use its rate on the tensors
 * they leave to it and the ratios divide by its steps. `--quick` does not extend.
 *
 * Seeds: 2 (base seed 1), fewer than the reproduction's 3 and 5 so that the whole sweep fits in
 * about a quarter of an hour on two cores (each rate added by extension costs two more runs). A
 * seed that never reaches the target counts as the whole budget in the mean, which is then a
 * lower bound ("≥"). Steps are optimizer steps, not time: a step of a matrix-aware optimizer
 * costs more than AdamW's (bench/matrix.ts measures how much).
 *
 *     npx tsx bench/matrixSteps.ts [--quick] [--problem transformer|mlp] [--only soap,splus]
 */
import { nextGridRate } from "../src/bench/gridExtension.js";
import type { RateTrial } from "../src/bench/gridExtension.js";
import { MLP_DIGITS_LEARNING_RATES } from "../src/bench/learningRates.js";
import { loadDigits } from "../src/data/digits.js";
import { adaMuon } from "../src/optim/adaMuon.js";
import { adago } from "../src/optim/adago.js";
import { adamw } from "../src/optim/adam.js";
import { findOptimizer } from "../src/optim/catalog.js";
import { factoredAdaMuon } from "../src/optim/factoredAdaMuon.js";
import type { Schedule } from "../src/optim/hyper.js";
import { routeMatrices } from "../src/optim/muon.js";
import { noiseAdaptiveLmo } from "../src/optim/noiseAdaptiveLmo.js";
import { warmupCosine } from "../src/optim/schedules.js";
import { shampoo } from "../src/optim/shampoo.js";
import type { GradientTransform } from "../src/optim/transform.js";
import { denseNetwork, withLayerStatistics } from "../src/oracles/denseLayers.js";
import type { TensorSpec } from "../src/params/layout.js";
import type { ParamSet } from "../src/params/paramset.js";
import type { TrainingModel } from "../src/reproduce/common.js";
import { round3, trainAndMonitor } from "../src/reproduce/common.js";
import type { ReachSummary } from "../src/reproduce/digitsMlp.js";
import { bestByReach, openDigitsSeed, reachOf } from "../src/reproduce/digitsMlp.js";
import { transformerProblem } from "../src/reproduce/race.js";
import type { MuonStepsPlan } from "../src/reproduce/muonVsAdamw.js";
import {
  ADAMW_SETTINGS,
  muonSideTransform,
  muonVsAdamwPlan,
  perceptronTakesMuon,
  transformerTakesMuon,
} from "../src/reproduce/muonVsAdamw.js";

/** Base seed of the runs (the reproduction's pilots used 1000–1002). */
const BASE_SEED = 1;
/** Seeds per setting. */
const SEEDS = 2;
/** Shampoo's root-inverse interval. */
const ROOT_INTERVAL = 10;
/** Rates a grid may gain below its first rate, and above its last (see the file header). */
const MAX_EXTENSIONS_PER_SIDE = 4;

type ProblemName = "transformer" | "mlp";

interface Options {
  readonly quick: boolean;
  readonly problems: readonly ProblemName[];
  /** Contenders to race besides AdamW (all when undefined). */
  readonly only?: ReadonlySet<string>;
}

function parseArgs(given: readonly string[]): Options {
  // `npx tsx bench/matrixSteps.ts -- …` passes the separator through; npm run strips it.
  const argv = given.filter((a) => a !== "--");
  let quick = false;
  let problems: ProblemName[] = ["transformer", "mlp"];
  let only: Set<string> | undefined;
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] === "--quick") {
      quick = true;
    } else if (argv[i] === "--problem") {
      const value = argv[++i];
      if (value !== "transformer" && value !== "mlp") {
        throw new RangeError(`--problem takes transformer or mlp, got ${value}`);
      }
      problems = [value];
    } else if (argv[i] === "--only") {
      const names = (argv[++i] ?? "").split(",").filter((name) => name.length > 0);
      const known = new Set(CONTENDERS.map((c) => c.name));
      const unknown = names.filter((name) => !known.has(name));
      if (names.length === 0 || unknown.length > 0) {
        throw new RangeError(
          `--only takes a comma-separated list of ${[...known].join(", ")}; got ${unknown.join(", ") || "nothing"}`,
        );
      }
      only = new Set(names);
    } else {
      throw new RangeError(
        `unknown argument ${argv[i]} (use --quick, --problem transformer|mlp, --only a,b)`,
      );
    }
  }
  return { quick, problems, only };
}

/** The reproduction's schedule: warmup over 2% of the steps, cosine decay to 1/20 of the peak. */
function scheduleOf(peak: number, steps: number): Schedule {
  return warmupCosine({
    peak,
    warmupSteps: Math.max(1, Math.round(steps / 50)),
    totalSteps: steps,
    end: peak / 20,
  });
}

/**
 * 4 rates half a decade apart around `centre`: c/10 … √10·c (third of four) for a tuned centre,
 * and on the perceptron c/√10 … 10·c (second of four) for a catalog default (see the file header).
 */
function gridAround(centre: number, upward: boolean): number[] {
  const first = upward ? -1 : -2;
  return [0, 1, 2, 3].map((k) => round3(centre * 10 ** ((first + k) / 2)));
}
/** What a contender's transform is built from. */
interface BuildContext {
  readonly steps: number;
  /** AdamW's selected rate, for the tensors a matrix optimizer leaves to it. */
  readonly adamwRate: number;
  readonly takesMatrix: (tensor: TensorSpec) => boolean;
  readonly seed: number;
}

/** One optimizer of the sweep. */
interface Contender {
  readonly name: string;
  /** Where its grid comes from, for the report. */
  readonly gridSource: string;
  /** Whether it needs the model with layer statistics (perceptron only). */
  readonly needsLayerStatistics: boolean;
  grid(problem: ProblemName, plan: MuonStepsPlan): readonly number[];
  transform(learningRate: number, context: BuildContext): GradientTransform;
}

/** A matrix optimizer on the Muon tensors, AdamW at its selected rate on the rest. */
function withAdamwRest(matrices: GradientTransform, context: BuildContext): GradientTransform {
  return routeMatrices({
    matrices,
    rest: adamw({ learningRate: scheduleOf(context.adamwRate, context.steps), ...ADAMW_SETTINGS }),
    select: context.takesMatrix,
  });
}

/** A catalog entry's optimizer on every tensor. */
function fromCatalog(name: string, learningRate: number, context: BuildContext): GradientTransform {
  return findOptimizer(name).create({
    learningRate: scheduleOf(learningRate, context.steps),
    seed: context.seed,
  });
}

const catalogRate = (name: string): number => findOptimizer(name).defaultLearningRate;

/**
 * The grid of `name` on `problem`: around the tuned perceptron rate of src/bench/learningRates.ts
 * where there is one, else around the catalog default, shifted upward on the perceptron.
 */
function gridOf(name: string, problem: ProblemName): number[] {
  const tuned = problem === "mlp" ? MLP_DIGITS_LEARNING_RATES[name] : undefined;
  return tuned === undefined
    ? gridAround(catalogRate(name), problem === "mlp")
    : gridAround(tuned, false);
}

const CONTENDERS: readonly Contender[] = [
  {
    name: "adamw",
    gridSource: "the Muon reproduction's",
    needsLayerStatistics: false,
    grid: (_, plan) => plan.learningRates.adamw,
    transform: (lr, c) => muonSideTransform("adamw", lr, c.steps, NaN, c.takesMatrix),
  },
  {
    name: "muon",
    gridSource: "the Muon reproduction's",
    needsLayerStatistics: false,
    grid: (_, plan) => plan.learningRates.muon,
    transform: (lr, c) => muonSideTransform("muon", lr, c.steps, c.adamwRate, c.takesMatrix),
  },
  {
    name: "shampoo",
    gridSource: "learningRates.ts (perceptron), catalog (transformer)",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("shampoo", problem),
    transform: (lr, c) =>
      withAdamwRest(
        shampoo({
          learningRate: scheduleOf(lr, c.steps),
          preconditionFrequency: ROOT_INTERVAL,
        }),
        c,
      ),
  },
  {
    name: "soap",
    gridSource: "learningRates.ts (perceptron), catalog (transformer)",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("soap", problem),
    transform: (lr, c) => fromCatalog("soap", lr, c),
  },
  {
    name: "psgd-kron",
    gridSource: "catalog",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("psgd-kron", problem),
    transform: (lr, c) => fromCatalog("psgd-kron", lr, c),
  },
  {
    name: "adago",
    gridSource: "catalog",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("adago", problem),
    transform: (lr, c) => {
      // The warm-up's first rate is 1e-6 of the peak rather than 0, as measured for the README.
      const schedule = scheduleOf(lr, c.steps);
      const floored = (count: number): number => Math.max(schedule(count), lr * 1e-6);
      return withAdamwRest(adago({ learningRate: floored }), c);
    },
  },
  {
    name: "noise-adaptive-lmo",
    gridSource: "catalog",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("noise-adaptive-lmo", problem),
    transform: (lr, c) =>
      withAdamwRest(noiseAdaptiveLmo({ learningRate: scheduleOf(lr, c.steps) }), c),
  },
  {
    name: "ada-muon",
    gridSource: "catalog",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("ada-muon", problem),
    transform: (lr, c) => withAdamwRest(adaMuon({ learningRate: scheduleOf(lr, c.steps) }), c),
  },
  {
    name: "factored-ada-muon",
    gridSource: "catalog",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("factored-ada-muon", problem),
    transform: (lr, c) =>
      withAdamwRest(factoredAdaMuon({ learningRate: scheduleOf(lr, c.steps) }), c),
  },
  {
    name: "splus",
    gridSource: "catalog",
    needsLayerStatistics: false,
    grid: (problem) => gridOf("splus", problem),
    transform: (lr, c) => fromCatalog("splus", lr, c),
  },
  {
    name: "kfac",
    gridSource: "catalog",
    needsLayerStatistics: true,
    grid: (problem) => gridOf("kfac", problem),
    transform: (lr, c) => fromCatalog("kfac", lr, c),
  },
  {
    name: "mkor",
    gridSource: "catalog",
    needsLayerStatistics: true,
    grid: (problem) => gridOf("mkor", problem),
    transform: (lr, c) => fromCatalog("mkor", lr, c),
  },
];

/** One seed's model: the plain one, and (perceptron) the one with layer statistics. */
interface SeedModel {
  readonly seed: number;
  readonly plain: TrainingModel;
  readonly withStatistics?: TrainingModel;
  monitor(params: ParamSet): Promise<number>;
  dispose(): void;
}

async function openTransformer(seed: number): Promise<SeedModel> {
  const model = await transformerProblem().open(seed);
  return {
    seed,
    plain: model.training,
    monitor: (p) => model.monitor(p),
    dispose: () => model.dispose(),
  };
}

async function openPerceptron(seed: number, plan: MlpPlan): Promise<SeedModel> {
  const s = await openDigitsSeed(seed, plan, loadDigits());
  const network = await denseNetwork({
    sizes: [s.splits.train.cols, plan.hidden, s.splits.train.classes],
    data: s.splits.train,
    seed,
    batchSize: plan.batchSize,
  });
  const combined = withLayerStatistics(s.model, network);
  // The two builds must agree, or K-FAC and MKOR would race on a different problem.
  const mine = s.model.paramSet().data;
  const theirs = network.paramSet().data;
  if (mine.length !== theirs.length || mine.some((x, i) => !Object.is(x, theirs[i]))) {
    throw new Error(`denseNetwork and the perceptron start at different weights (seed ${seed})`);
  }
  s.model.setBatch(3);
  network.setBatch(3);
  const [a, b] = [await s.model.value(mine), await network.value(mine)];
  if (Math.abs(a - b) > 1e-5 * Math.max(1, Math.abs(a))) {
    throw new Error(`denseNetwork and the perceptron see different batches (seed ${seed})`);
  }
  const withStatistics: TrainingModel = {
    objective: combined,
    setBatch: (k) => combined.setBatch(k),
    initialParams: () => s.model.paramSet(),
  };
  return {
    seed,
    plain: s.training,
    withStatistics,
    monitor: (p) => s.trainLoss(p),
    dispose: () => combined.dispose(),
  };
}

type MlpPlan = ReturnType<typeof muonVsAdamwPlan>["mlp"];

/** One optimizer's sweep on one problem. */
interface SweepResult {
  readonly name: string;
  /** The rates before any extension. */
  readonly initialGrid: readonly number[];
  /** Every rate tried, ascending. */
  readonly grid: readonly number[];
  /** The outcome at each rate of `grid`. */
  readonly reaches: readonly ReachSummary[];
  readonly bestIndex: number;
  /** Whether the best rate is still at an edge that may not be widened any further. */
  readonly edgeLimited: boolean;
  readonly gridSource: string;
}

/** The runs at one rate, summarized. */
interface RateOutcome {
  readonly learningRate: number;
  readonly reach: ReachSummary;
  readonly trial: RateTrial;
}

async function sweep(
  contender: Contender,
  problem: ProblemName,
  plan: MuonStepsPlan,
  models: readonly SeedModel[],
  adamwRate: number,
  takesMatrix: (tensor: TensorSpec) => boolean,
  quick: boolean,
): Promise<SweepResult> {
  const full = contender.grid(problem, plan);
  // The quick check keeps the two middle rates of a 4-rate grid.
  const initialGrid = quick && full.length > 2 ? full.slice(1, 3) : full;
  const runRate = async (learningRate: number): Promise<RateOutcome> => {
    const runs = [];
    for (const model of models) {
      const training = contender.needsLayerStatistics ? model.withStatistics : model.plain;
      if (training === undefined) throw new Error(`${contender.name} needs layer statistics`);
      const transform = contender.transform(learningRate, {
        steps: plan.steps,
        adamwRate,
        takesMatrix,
        seed: model.seed,
      });
      runs.push(
        await trainAndMonitor(training, transform, {
          steps: plan.steps,
          evalEvery: plan.evalEvery,
          monitor: (p) => model.monitor(p),
        }),
      );
    }
    const reach = reachOf(runs, plan.target, plan.steps);
    console.error(
      `${problem} ${contender.name} lr ${learningRate}: reached ${reach.reached}/${runs.length}, ` +
        `steps ${reach.steps.map((s) => s ?? "-").join(", ")}, final loss ${reach.meanFinalLoss.toPrecision(4)}`,
    );
    const diverged = runs.filter((r) => r.diverged).length;
    return {
      learningRate,
      reach,
      trial: { learningRate, runs: runs.length, reached: reach.reached, diverged },
    };
  };
  const outcomes: RateOutcome[] = [];
  for (const learningRate of initialGrid) outcomes.push(await runRate(learningRate));
  // Sorted by rate, so that ties are selected as on a grid that wide from the start.
  const selectBest = (): number => {
    outcomes.sort((a, b) => a.learningRate - b.learningRate);
    return bestByReach(outcomes.map((o) => o.reach));
  };
  let bestIndex = selectBest();
  let edgeLimited = false;
  while (!quick) {
    const step = nextGridRate({
      trials: outcomes.map((o) => o.trial),
      bestRate: outcomes[bestIndex].learningRate,
      initialGrid,
      maxExtensionsPerSide: MAX_EXTENSIONS_PER_SIDE,
    });
    if (step.action === "stop") {
      edgeLimited = step.reason === "limit";
      break;
    }
    console.error(
      `${problem} ${contender.name}: best rate at the grid's edge, trying ${step.direction}`,
    );
    outcomes.push(await runRate(step.learningRate));
    bestIndex = selectBest();
  }
  return {
    name: contender.name,
    initialGrid,
    grid: outcomes.map((o) => o.learningRate),
    reaches: outcomes.map((o) => o.reach),
    bestIndex,
    edgeLimited,
    gridSource: contender.gridSource,
  };
}

interface ProblemResult {
  readonly problem: ProblemName;
  readonly plan: MuonStepsPlan;
  readonly sweeps: readonly SweepResult[];
  readonly seconds: number;
}

async function race(
  problem: ProblemName,
  quick: boolean,
  only: ReadonlySet<string> | undefined,
): Promise<ProblemResult> {
  const started = performance.now();
  const whole = muonVsAdamwPlan(quick, BASE_SEED);
  const seeds = Array.from({ length: SEEDS }, (_, i) => BASE_SEED + i);
  const plan: MuonStepsPlan = { ...(problem === "mlp" ? whole.mlp : whole.transformer), seeds };
  const takesMatrix = problem === "mlp" ? perceptronTakesMuon : transformerTakesMuon;
  const models: SeedModel[] = [];
  try {
    for (const seed of seeds) {
      models.push(
        problem === "mlp" ? await openPerceptron(seed, whole.mlp) : await openTransformer(seed),
      );
    }
    const sweeps: SweepResult[] = [];
    let adamwRate = NaN;
    for (const contender of CONTENDERS) {
      if (contender.needsLayerStatistics && problem !== "mlp") continue;
      // AdamW always runs: the others use its rate and the ratios divide by its steps.
      if (only !== undefined && contender.name !== "adamw" && !only.has(contender.name)) continue;
      const result = await sweep(contender, problem, plan, models, adamwRate, takesMatrix, quick);
      if (contender.name === "adamw") adamwRate = result.grid[result.bestIndex];
      sweeps.push(result);
    }
    return { problem, plan, sweeps, seconds: (performance.now() - started) / 1000 };
  } finally {
    for (const model of models) model.dispose();
  }
}

function formatSteps(reach: ReachSummary): string {
  if (reach.reached === 0) return "not reached";
  const mean = reach.meanSteps.toFixed(0);
  return reach.reached < reach.steps.length ? `≥ ${mean}` : mean;
}

function formatTable(results: readonly ProblemResult[]): string {
  const lines = [
    "| optimizer | problem | rates tried | best lr | seeds reached | steps to target | × AdamW |",
    "| --- | --- | --- | --: | --: | --: | --: |",
  ];
  for (const r of results) {
    const adamwReach = r.sweeps[0].reaches[r.sweeps[0].bestIndex];
    for (const s of r.sweeps) {
      const best = s.reaches[s.bestIndex];
      const lr = s.grid[s.bestIndex];
      const ratio =
        best.reached === 0 || adamwReach.reached === 0
          ? "-"
          : `${(best.meanSteps / adamwReach.meanSteps).toFixed(2)}×`;
      const added = s.grid.length - s.initialGrid.length;
      lines.push(
        `| ${s.name} | ${r.problem} | ${s.grid[0]} … ${s.grid[s.grid.length - 1]} (${s.grid.length}` +
          `${added > 0 ? `, ${added} added` : ""}) | ${lr}${s.edgeLimited ? " (grid edge)" : ""} | ` +
          `${best.reached}/${best.steps.length} | ${formatSteps(best)} | ${ratio} |`,
      );
    }
  }
  return lines.join("\n");
}

async function main(): Promise<void> {
  const { quick, problems, only } = parseArgs(process.argv.slice(2));
  const results: ProblemResult[] = [];
  for (const problem of problems) results.push(await race(problem, quick, only));
  for (const r of results) {
    console.log(
      `${r.problem}: target ${r.plan.target} within ${r.plan.steps} steps (measured every ` +
        `${r.plan.evalEvery}), seeds ${r.plan.seeds.join(", ")}; ${r.seconds.toFixed(0)} s`,
    );
  }
  console.log(
    "\nSteps to target at each optimizer's best rate (most seeds reaching it, then fewest mean steps);",
  );
  console.log(
    "'≥': some seed missed the target and counts as the whole budget. × AdamW: mean steps ÷ AdamW's.\n",
  );
  console.log(formatTable(results));
  console.log(
    "\nEvery rate tried: seeds reached, steps to target, mean final loss ('*': selected).",
  );
  for (const r of results) {
    for (const s of r.sweeps) {
      const rates = s.grid.map((lr, i) => {
        const reach = s.reaches[i];
        const mark = i === s.bestIndex ? "*" : "";
        return `${lr}${mark} ${reach.reached}/${reach.steps.length} ${formatSteps(reach)} ${reach.meanFinalLoss.toPrecision(3)}`;
      });
      console.log(`  ${r.problem} ${s.name}: ${rates.join("; ")}`);
    }
  }
  console.log("\nGrid centres (four rates half a decade apart):");
  for (const r of results) {
    for (const s of r.sweeps) console.log(`  ${r.problem} ${s.name}: ${s.gridSource}`);
  }
  if (quick) {
    console.log("\nQuick check only: loose targets, short budgets, two rates, no grid extension.");
  }
}

await main();
