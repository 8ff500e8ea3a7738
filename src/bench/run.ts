/**
 * The benchmark runner: plans runs from options (every optimizer × problem, a learning-rate sweep
 * around each tuned rate, several seeds per setting) and executes them one after another,
 * recording the loss at every step, the wall time and the oracle calls. It prints nothing;
 * progress goes to the caller's callbacks, so the command line, tests and other front ends share
 * it.
 *
 * A run that diverges (non-finite loss or gradient) or throws is recorded with its status and
 * message, and the remaining runs go on. An optimizer that needs an oracle the problem lacks is
 * refused up front with a message naming both. Everything except the times is a pure function of
 * the plan: the same seed gives the same losses and oracle counts, bit for bit.
 *
 * What is counted: the oracle calls the optimizer makes (through a counting wrapper around the
 * objective). The evaluations the runner adds for its own records (the loss at the final point,
 * validation loss, accuracy, and the loss of methods that do not report it) go to the bare
 * objective, are not counted and are not part of the timed steps.
 */
import { MissingOracleError, NonFiniteError } from "../errors.js";
import type { OptimizerEntry } from "../optim/catalog.js";
import { catalog as defaultCatalog } from "../optim/catalog.js";
import { Optimizer } from "../optim/optimizer.js";
import type { GradientTransform } from "../optim/transform.js";
import type { OracleCounts } from "../oracles/counting.js";
import { COUNTED_ORACLES, countingObjective } from "../oracles/counting.js";
import type { Objective, OracleName } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import { ParamSet } from "../params/paramset.js";
import type { BenchProblem, LearningRateSource, ProblemInstance, SuiteName } from "./problems.js";
import { learningRateFor, problems as defaultProblems, stepsFor } from "./problems.js";
import { DEFAULT_SUITE, QUICK_OPTIMIZERS, findSuite } from "./suites.js";

/** Optimizers run when neither the options nor the suite name any: those of the quick suite. */
export const DEFAULT_OPTIMIZERS: readonly string[] = QUICK_OPTIMIZERS;

/** Default first seed of a benchmark. */
export const DEFAULT_SEED = 0;

/** Samples of the time and oracle-call trace per run (the loss is kept for every step). */
export const TRACE_POINTS = 200;

/** A name on the command line that is not in its registry. */
export class UnknownNameError extends RangeError {
  /** What kind of thing was named: `"optimizer"` or `"problem"`. */
  readonly kind: string;
  /** The unknown name. */
  readonly unknown: string;
  /** Every valid name. */
  readonly known: readonly string[];

  constructor(kind: string, unknown: string, known: readonly string[]) {
    super(`unknown ${kind} ${JSON.stringify(unknown)}; known ${kind}s: ${known.join(", ")}`);
    this.name = "UnknownNameError";
    this.kind = kind;
    this.unknown = unknown;
    this.known = known;
  }
}

/** Where optimizers and problems are looked up (the built-in registries by default). */
export interface BenchSources {
  /** Optimizers by name (default: the catalog). */
  readonly catalog?: readonly OptimizerEntry[];
  /** Problems by name (default: the built-in problems). */
  readonly problems?: readonly BenchProblem[];
}

/** What to benchmark. Every field is optional; the suite fills in what is not given. */
export interface BenchOptions {
  /** The suite whose optimizers, problems, grid and seeds are the defaults (default quick). */
  readonly suite?: SuiteName;
  /** Optimizer names (default: the suite's that exist in the catalog). */
  readonly optimizers?: readonly string[];
  /** Problem names (default: the suite's that exist in the registry). */
  readonly problems?: readonly string[];
  /** Steps of every run (default: each problem's own for the suite). */
  readonly steps?: number;
  /** First seed (default {@link DEFAULT_SEED}); the seeds are seed, seed + 1, … */
  readonly seed?: number;
  /** Number of seeds per setting (default: the suite's). */
  readonly seeds?: number;
  /** Multipliers of the centre learning rate to sweep (default: the suite's). */
  readonly grid?: readonly number[];
  /** Centre learning rates by optimizer name, replacing the tuned and default ones. */
  readonly learningRates?: Readonly<Record<string, number>>;
}

/** The options after defaults were filled in and names checked. */
export interface ResolvedBenchOptions {
  /** The suite the defaults came from. */
  readonly suite: SuiteName;
  /** Optimizer names, in run order. */
  readonly optimizers: readonly string[];
  /** Problem names, in run order. */
  readonly problems: readonly string[];
  /** Steps of every run, or null for each problem's own. */
  readonly steps: number | null;
  /** The seeds every setting runs with (fewer where nothing is random, see the runs). */
  readonly seeds: readonly number[];
  /** Multipliers of the centre learning rate, ascending. */
  readonly grid: readonly number[];
  /** Explicit centre learning rates by optimizer name. */
  readonly learningRates: Readonly<Record<string, number>>;
}

/** One planned run. */
export interface RunSpec {
  /** Catalog name of the optimizer. */
  readonly optimizer: string;
  /** Name of the problem. */
  readonly problem: string;
  /** Learning rate the optimizer is built with: the centre times the grid factor. */
  readonly learningRate: number;
  /** Where the centre learning rate came from. */
  readonly learningRateSource: LearningRateSource;
  /** The grid factor: `learningRate` divided by the centre. */
  readonly learningRateFactor: number;
  /** Seed given to the problem and, where it takes one, to the optimizer. */
  readonly seed: number;
  /** Number of optimizer steps. */
  readonly steps: number;
  /** The problem's target loss, or null when it has none. */
  readonly targetLoss: number | null;
  /** Set when the run cannot work (a missing oracle): the reason, and nothing is run. */
  readonly unsupported?: string;
}

/** A benchmark plan: the resolved options and the runs they expand to. */
export interface BenchPlan {
  /** The options, defaults filled in. */
  readonly options: ResolvedBenchOptions;
  /** The runs, grouped by problem, then optimizer, then learning rate, then seed. */
  readonly runs: readonly RunSpec[];
}

/**
 * How a run ended: `"ok"` (every step done), `"diverged"` (a loss or gradient became NaN or
 * infinite), `"error"` (something threw), `"interrupted"` (stopped through the abort signal),
 * `"unsupported"` (the optimizer needs an oracle the problem lacks; nothing ran).
 */
export type RunStatus = "ok" | "diverged" | "error" | "interrupted" | "unsupported";

/** Durations of a run, in milliseconds. */
export interface RunTimes {
  /** Building the problem and the optimizer. */
  readonly setupMs: number;
  /** The optimizer steps (oracle calls included; the runner's own evaluations excluded). */
  readonly runMs: number;
  /** `runMs` per step done (0 when none was done). */
  readonly msPerStep: number;
}

/**
 * Cost of reaching the points of a run, sampled: at `step[i]` steps the timed steps had taken
 * `ms[i]` milliseconds and the optimizer had made `calls[oracle][i]` calls of each oracle it
 * used. Sampled at about {@link TRACE_POINTS} evenly spaced steps, the first and last included.
 */
export interface RunTrace {
  /** Step counts of the samples, ascending from 0. */
  readonly step: readonly number[];
  /** Cumulative time of the steps. */
  readonly ms: readonly number[];
  /** Cumulative calls of each oracle the run used (oracles never called are left out). */
  readonly calls: Readonly<Partial<Record<OracleName, readonly number[]>>>;
}

/** Outcome of one run. */
export interface RunResult extends RunSpec {
  /** How the run ended. */
  readonly status: RunStatus;
  /** Why it did not end `"ok"`. */
  readonly message?: string;
  /**
   * `losses[k]` is f(θ_k), the loss after k steps (`losses[0]` at the starting point), on the
   * minibatch of step k for stochastic problems. A run that completes has `steps + 1` entries; a
   * diverged one ends with the first non-finite loss.
   */
  readonly losses: readonly number[];
  /** Optimizer steps applied. */
  readonly stepsDone: number;
  /** The last recorded loss (NaN when none was recorded). */
  readonly finalLoss: number;
  /** The smallest finite recorded loss (NaN when there is none). */
  readonly bestLoss: number;
  /** The first k with `losses[k] <= targetLoss`, or null when never reached (or no target). */
  readonly stepsToTarget: number | null;
  /** Classification accuracy at the final parameters, or null when not measured. */
  readonly accuracy: number | null;
  /** Loss on held-out data at the final parameters, or null when the problem has none. */
  readonly validationLoss: number | null;
  /** Whether the optimizer was given the seed (it takes one). */
  readonly optimizerSeeded: boolean;
  /** Oracle calls the optimizer made over the whole run, or null when it never started. */
  readonly calls: OracleCounts | null;
  /** Time and oracle calls against steps, or null when the run never started. */
  readonly trace: RunTrace | null;
  /** Durations. */
  readonly times: RunTimes;
}

/** Callbacks the runner reports progress through. */
export interface BenchObserver {
  /** A run is about to start (`index` counts from 0 over `total` runs). */
  onRunStart?(spec: RunSpec, index: number, total: number): void;
  /** `step` steps of the run are done; `loss` is the loss before the last of them. */
  onStep?(spec: RunSpec, index: number, step: number, loss: number): void;
  /** A run ended; awaited before the next run starts (e.g. to save results so far). */
  onRunEnd?(result: RunResult, index: number, total: number): void | Promise<void>;
}

/** Options of {@link runBench}. */
export interface RunBenchOptions extends BenchObserver, BenchSources {
  /** Stops the benchmark: the current run ends `"interrupted"` and no further run starts. */
  readonly signal?: AbortSignal;
  /** Clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
}

function knownNames(list: readonly { name: string }[]): string[] {
  return list.map((x) => x.name);
}

function lookup<T extends { name: string }>(kind: string, list: readonly T[], name: string): T {
  const found = list.find((x) => x.name === name);
  if (!found) throw new UnknownNameError(kind, name, knownNames(list));
  return found;
}

function checkPositiveInteger(what: string, value: number): void {
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new RangeError(`${what} must be a positive integer, got ${String(value)}`);
  }
}

/** Whether `entry` takes a seed (its catalog entry is marked `seeded`). */
export function takesSeed(entry: OptimizerEntry): boolean {
  return entry.seeded === true;
}

/** Builds `entry`'s transform at `learningRate`, passing the seed when it takes one. */
export function createTransform(
  entry: OptimizerEntry,
  learningRate: number,
  seed: number | null,
): GradientTransform {
  return seed === null ? entry.create({ learningRate }) : entry.create({ learningRate, seed });
}

/** The oracles a run of `entry` needs: its declared one and those its transform asks for. */
export function oraclesNeeded(entry: OptimizerEntry, learningRate: number): OracleName[] {
  const needs = new Set<OracleName>([entry.oracle]);
  try {
    for (const oracle of entry.create({ learningRate }).needs ?? []) needs.add(oracle);
  } catch {
    // A constructor that rejects the rate fails its runs, with its own message.
  }
  return [...needs];
}

/**
 * Expands options into runs: for each problem and optimizer, every grid factor times the centre
 * learning rate, each with every seed, except that a problem which ignores the seed run with an
 * optimizer that takes none gets one seed (its runs would be identical). A pair whose optimizer
 * needs an oracle the problem lacks gets one run marked `unsupported`. Throws an
 * {@link UnknownNameError} (listing the known names) for an unknown optimizer or problem, and a
 * RangeError for a bad step count, seed, grid or learning rate.
 */
export function planBench(options: BenchOptions = {}, sources: BenchSources = {}): BenchPlan {
  const catalog = sources.catalog ?? defaultCatalog;
  const registry = sources.problems ?? defaultProblems;
  const suite = findSuite(options.suite ?? DEFAULT_SUITE);
  let optimizerNames: string[];
  if (options.optimizers) optimizerNames = [...new Set(options.optimizers)];
  else if (suite.optimizers === "all") optimizerNames = knownNames(catalog);
  else optimizerNames = suite.optimizers.filter((name) => catalog.some((e) => e.name === name));
  if (!options.optimizers && optimizerNames.length === 0) {
    // A catalog without any of the usual suspects still gets a benchmark.
    optimizerNames = knownNames(catalog).slice(0, 4);
  }
  let problemNames: string[];
  if (options.problems) problemNames = [...new Set(options.problems)];
  else if (suite.problems === "all") problemNames = knownNames(registry);
  else {
    problemNames = suite.problems.filter((name) => registry.some((p) => p.name === name));
    if (problemNames.length === 0) problemNames = knownNames(registry);
  }
  const entries = optimizerNames.map((name) => lookup("optimizer", catalog, name));
  const chosen = problemNames.map((name) => lookup("problem", registry, name));
  if (entries.length === 0) throw new RangeError("no optimizer selected");
  if (chosen.length === 0) throw new RangeError("no problem selected");
  if (options.steps !== undefined) checkPositiveInteger("steps", options.steps);
  const seed = options.seed ?? DEFAULT_SEED;
  const seedCount = options.seeds ?? suite.seeds;
  checkPositiveInteger("seeds", seedCount);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed + seedCount - 1 > 0xffffffff) {
    throw new RangeError(
      `seeds must be integers in [0, 4294967295], got ${String(seed)} … ${String(seed + seedCount - 1)}`,
    );
  }
  const seeds = Array.from({ length: seedCount }, (_, i) => seed + i);
  const grid = [...new Set(options.grid ?? suite.grid)].sort((a, b) => a - b);
  if (grid.length === 0) throw new RangeError("the learning-rate grid is empty");
  for (const factor of grid) {
    if (!Number.isFinite(factor) || factor <= 0) {
      throw new RangeError(`grid factors must be positive numbers, got ${factor}`);
    }
  }
  const learningRates = { ...options.learningRates };
  for (const [name, lr] of Object.entries(learningRates)) {
    lookup("optimizer", catalog, name);
    if (!Number.isFinite(lr) || lr <= 0) {
      throw new RangeError(`learning rate of ${name} must be a positive number, got ${lr}`);
    }
  }
  const seededOptimizers = new Map(entries.map((e) => [e.name, takesSeed(e)]));
  const runs: RunSpec[] = [];
  for (const problem of chosen) {
    const steps = options.steps ?? stepsFor(problem, suite.name);
    for (const entry of entries) {
      const override = Object.hasOwn(learningRates, entry.name)
        ? learningRates[entry.name]
        : undefined;
      const centre = learningRateFor(problem, entry, override);
      const base = {
        optimizer: entry.name,
        problem: problem.name,
        learningRateSource: centre.source,
        steps,
        targetLoss: problem.targetLoss ?? null,
      };
      const missing = oraclesNeeded(entry, centre.learningRate).filter(
        (oracle) => !problem.oracles.includes(oracle),
      );
      if (missing.length > 0) {
        const error = new MissingOracleError(problem.name, missing[0], `optimizer ${entry.name}`);
        runs.push({
          ...base,
          learningRate: centre.learningRate,
          learningRateFactor: 1,
          seed: seeds[0],
          unsupported: error.message,
        });
        continue;
      }
      const runSeeds =
        problem.seeded || seededOptimizers.get(entry.name) === true ? seeds : seeds.slice(0, 1);
      for (const factor of grid) {
        for (const s of runSeeds) {
          runs.push({
            ...base,
            learningRate: centre.learningRate * factor,
            learningRateFactor: factor,
            seed: s,
          });
        }
      }
    }
  }
  return {
    options: {
      suite: suite.name,
      optimizers: optimizerNames,
      problems: problemNames,
      steps: options.steps ?? null,
      seeds,
      grid,
      learningRates,
    },
    runs,
  };
}

function messageOf(error: unknown): string {
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

/** Lets timers, signals and terminal output through during long synchronous stretches. */
const yieldToEventLoop = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

const YIELD_EVERY_MS = 50;

/** Collects the sampled trace of a run. */
class TraceRecorder {
  readonly step: number[] = [];
  readonly ms: number[] = [];
  private readonly columns = new Map<OracleName, number[]>();
  private readonly stride: number;

  constructor(steps: number) {
    this.stride = Math.max(1, Math.ceil(steps / TRACE_POINTS));
  }

  /** Records the cost of reaching θ_k when k is a sample point (or `force`). */
  sample(k: number, ms: number, counts: OracleCounts, force = false): void {
    if (!force && k % this.stride !== 0) return;
    if (this.step.at(-1) === k) return;
    this.step.push(k);
    this.ms.push(ms);
    for (const oracle of COUNTED_ORACLES) {
      let column = this.columns.get(oracle);
      if (!column) {
        if (counts[oracle] === 0) continue;
        // An oracle first called now had been called 0 times at every earlier sample.
        column = new Array<number>(this.step.length - 1).fill(0);
        this.columns.set(oracle, column);
      }
      column.push(counts[oracle]);
    }
  }

  result(): RunTrace {
    const calls: Partial<Record<OracleName, number[]>> = {};
    for (const oracle of COUNTED_ORACLES) {
      const column = this.columns.get(oracle);
      if (column) calls[oracle] = column;
    }
    return { step: this.step, ms: this.ms, calls };
  }
}

/** A result for a run that never started (unsupported, or its names are unknown). */
function notStarted(spec: RunSpec, status: RunStatus, message: string): RunResult {
  return {
    ...spec,
    status,
    message,
    losses: [],
    stepsDone: 0,
    finalLoss: Number.NaN,
    bestLoss: Number.NaN,
    stepsToTarget: null,
    accuracy: null,
    validationLoss: null,
    optimizerSeeded: false,
    calls: null,
    trace: null,
    times: { setupMs: 0, runMs: 0, msPerStep: 0 },
  };
}

/**
 * Runs one planned run. Never throws: failures are part of the result.
 * @param spec - the run
 * @param entry - its optimizer
 * @param problem - its problem
 */
export async function runOne(
  spec: RunSpec,
  entry: OptimizerEntry,
  problem: BenchProblem,
  options: RunBenchOptions & { index?: number } = {},
): Promise<RunResult> {
  if (spec.unsupported !== undefined) return notStarted(spec, "unsupported", spec.unsupported);
  const now = options.now ?? (() => performance.now());
  const index = options.index ?? 0;
  const losses: number[] = [];
  let status: RunStatus = "ok";
  let message: string | undefined;
  let accuracy: number | null = null;
  let validationLoss: number | null = null;
  let stepsDone = 0;
  let stepMs = 0;
  const optimizerSeeded = takesSeed(entry);

  const setupStart = now();
  let instance: ProblemInstance | undefined;
  let optimizer: Optimizer | undefined;
  let counter: ReturnType<typeof countingObjective> | undefined;
  try {
    instance = await problem.create({ seed: spec.seed });
    const transform = createTransform(entry, spec.learningRate, optimizerSeeded ? spec.seed : null);
    for (const oracle of new Set([entry.oracle, ...(transform.needs ?? [])])) {
      requireOracle(instance.objective, oracle, `optimizer ${entry.name}`);
    }
    counter = countingObjective(instance.objective);
    const params = new ParamSet(instance.objective.layout, instance.initial);
    optimizer = new Optimizer(params, transform);
  } catch (error) {
    if (error instanceof MissingOracleError) {
      status = "unsupported";
      message = error.message;
    } else {
      status = "error";
      message = `setup failed: ${messageOf(error)}`;
    }
  }
  const setupMs = now() - setupStart;
  const trace = new TraceRecorder(spec.steps);

  if (instance && optimizer && counter) {
    const objective: Objective = instance.objective;
    const counted = counter.objective;
    const params = optimizer.params.data;
    const layout = optimizer.params.layout;
    // Gradient-free methods build their own direction from values: the update buffer starts at
    // zero and the transform asks the objective; their loss curve is evaluated on the side.
    const gradientFree = entry.oracle === "value";
    let lastYield = now();
    trace.sample(0, 0, counter.counts(), true);
    try {
      for (let k = 0; k < spec.steps; k++) {
        if (options.signal?.aborted) {
          status = "interrupted";
          message = `interrupted after ${k} of ${spec.steps} steps`;
          break;
        }
        let loss: number | undefined;
        const stepStart = now();
        instance.setBatch?.(k);
        if (gradientFree) {
          stepMs += now() - stepStart;
          loss = await objective.value(params);
          const applyStart = now();
          optimizer.updates.fill(0);
          await optimizer.apply({ params, layout, objective: counted });
          stepMs += now() - applyStart;
        } else {
          loss = (await optimizer.step(counted)).loss;
          stepMs += now() - stepStart;
        }
        const value = loss ?? Number.NaN;
        losses.push(value);
        if (!Number.isFinite(value)) {
          status = "diverged";
          message = `loss became ${value} at step ${k}`;
          break;
        }
        stepsDone = k + 1;
        trace.sample(stepsDone, stepMs, counter.counts());
        options.onStep?.(spec, index, stepsDone, value);
        if (now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = now();
        }
      }
      if (status === "ok" || status === "interrupted") {
        instance.setBatch?.(stepsDone);
        const final = await objective.value(params);
        losses.push(final);
        if (!Number.isFinite(final)) {
          status = "diverged";
          message = `loss became ${final} at step ${stepsDone}`;
        }
      }
      if (status === "ok" && instance.validationLoss) {
        validationLoss = await instance.validationLoss(params);
      }
      if (status === "ok" && instance.accuracy) {
        accuracy = await instance.accuracy(params);
      }
    } catch (error) {
      if (error instanceof NonFiniteError) {
        status = "diverged";
        message = `at step ${stepsDone}: ${error.message}`;
        // The step threw before changing anything, so the loss at that point can be recovered.
        try {
          losses.push(await objective.value(params));
        } catch {
          // The divergence message already says what went wrong.
        }
      } else {
        status = "error";
        message = `at step ${stepsDone}: ${messageOf(error)}`;
      }
    }
    trace.sample(stepsDone, stepMs, counter.counts(), true);
  }
  try {
    instance?.dispose?.();
  } catch {
    // A failing cleanup must not hide the run's outcome.
  }

  let bestLoss = Number.NaN;
  let stepsToTarget: number | null = null;
  for (let k = 0; k < losses.length; k++) {
    const loss = losses[k];
    if (Number.isFinite(loss) && !(loss >= bestLoss)) bestLoss = loss;
    if (stepsToTarget === null && spec.targetLoss !== null && loss <= spec.targetLoss) {
      stepsToTarget = k;
    }
  }
  const started = counter !== undefined;
  return {
    ...spec,
    status,
    ...(message === undefined ? {} : { message }),
    losses,
    stepsDone,
    finalLoss: losses.length > 0 ? losses[losses.length - 1] : Number.NaN,
    bestLoss,
    stepsToTarget,
    accuracy,
    validationLoss,
    optimizerSeeded,
    calls: started ? counter!.counts() : null,
    trace: started ? trace.result() : null,
    times: { setupMs, runMs: stepMs, msPerStep: stepsDone > 0 ? stepMs / stepsDone : 0 },
  };
}

/**
 * Runs every run of `plan` in order and returns the results of those that started (all of them,
 * unless `signal` aborted the benchmark). A run whose optimizer or problem is not in the sources
 * is recorded as an error; nothing a run does stops the others.
 */
export async function runBench(
  plan: BenchPlan,
  options: RunBenchOptions = {},
): Promise<RunResult[]> {
  const catalog = options.catalog ?? defaultCatalog;
  const registry = options.problems ?? defaultProblems;
  const results: RunResult[] = [];
  const total = plan.runs.length;
  for (let index = 0; index < total; index++) {
    if (options.signal?.aborted) break;
    const spec = plan.runs[index];
    options.onRunStart?.(spec, index, total);
    let result: RunResult;
    try {
      const entry = lookup("optimizer", catalog, spec.optimizer);
      const problem = lookup("problem", registry, spec.problem);
      result = await runOne(spec, entry, problem, { ...options, index });
    } catch (error) {
      result = notStarted(spec, "error", messageOf(error));
    }
    results.push(result);
    await options.onRunEnd?.(result, index, total);
  }
  return results;
}
