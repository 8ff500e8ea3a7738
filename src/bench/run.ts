/**
 * The benchmark runner: plans (optimizer, problem) runs from options and executes them one after
 * another, recording the loss at every step. It prints nothing; progress goes to the caller's
 * callbacks, so the command line, tests and other front ends share it.
 *
 * A run that diverges (non-finite loss or gradient) or throws is recorded with its status and
 * message, and the remaining runs go on. Everything except the times is a pure function of the
 * plan: the same seed gives the same losses, bit for bit.
 */
import { NonFiniteError } from "../errors.js";
import type { OptimizerEntry } from "../optim/catalog.js";
import { catalog as defaultCatalog } from "../optim/catalog.js";
import { Optimizer } from "../optim/optimizer.js";
import { requireOracle } from "../oracles/objective.js";
import { ParamSet } from "../params/paramset.js";
import type { BenchProblem, LearningRateSource, ProblemInstance } from "./problems.js";
import { learningRateFor, problems as defaultProblems } from "./problems.js";

/**
 * Optimizers run when none are named: plain and heavy-ball SGD, Adam and AdamW, a sign-based
 * method (Lion) and a recent momentum mixture (AdEMAMix). Names missing from the catalog are
 * left out.
 */
export const DEFAULT_OPTIMIZERS: readonly string[] = [
  "sgd",
  "momentum",
  "adam",
  "adamw",
  "lion",
  "ademamix",
];

/** Default seed of a benchmark. */
export const DEFAULT_SEED = 0;

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

/** What to benchmark. Every field is optional. */
export interface BenchOptions {
  /** Optimizer names (default: {@link DEFAULT_OPTIMIZERS} that exist in the catalog). */
  readonly optimizers?: readonly string[];
  /** Problem names (default: every problem). */
  readonly problems?: readonly string[];
  /** Steps of every run (default: each problem's own `defaultSteps`). */
  readonly steps?: number;
  /** Seed of every random choice (default {@link DEFAULT_SEED}). */
  readonly seed?: number;
  /** Learning rates by optimizer name, replacing the tuned and default ones. */
  readonly learningRates?: Readonly<Record<string, number>>;
}

/** The options after defaults were filled in and names checked. */
export interface ResolvedBenchOptions {
  /** Optimizer names, in run order. */
  readonly optimizers: readonly string[];
  /** Problem names, in run order. */
  readonly problems: readonly string[];
  /** Steps of every run, or null for each problem's default. */
  readonly steps: number | null;
  /** Seed of every run. */
  readonly seed: number;
  /** Explicit learning rates by optimizer name. */
  readonly learningRates: Readonly<Record<string, number>>;
}

/** One planned run. */
export interface RunSpec {
  /** Catalog name of the optimizer. */
  readonly optimizer: string;
  /** Name of the problem. */
  readonly problem: string;
  /** Learning rate the optimizer is built with. */
  readonly learningRate: number;
  /** Where the learning rate came from. */
  readonly learningRateSource: LearningRateSource;
  /** Seed given to the problem. */
  readonly seed: number;
  /** Number of optimizer steps. */
  readonly steps: number;
  /** The problem's target loss. */
  readonly targetLoss: number;
}

/** A benchmark plan: the resolved options and the runs they expand to. */
export interface BenchPlan {
  /** The options, defaults filled in. */
  readonly options: ResolvedBenchOptions;
  /** The runs, grouped by problem, optimizers in the given order within each. */
  readonly runs: readonly RunSpec[];
}

/**
 * How a run ended: `"ok"` (every step done), `"diverged"` (a loss or gradient became NaN or
 * infinite), `"error"` (something threw), `"interrupted"` (stopped through the abort signal).
 */
export type RunStatus = "ok" | "diverged" | "error" | "interrupted";

/** Durations of a run, in milliseconds. */
export interface RunTimes {
  /** Building the problem and the optimizer. */
  readonly setupMs: number;
  /** The optimization steps and the final evaluation. */
  readonly runMs: number;
  /** `runMs` per completed step (0 when no step completed). */
  readonly msPerStep: number;
}

/** The outcome of one run. */
export interface RunResult extends RunSpec {
  /** How the run ended. */
  readonly status: RunStatus;
  /** Why it did not end `"ok"`. */
  readonly message?: string;
  /**
   * `losses[k]` is f(θ_k), the loss after k steps (`losses[0]` at the starting point). A run
   * that completes has `steps + 1` entries; a diverged one ends with the first non-finite loss.
   */
  readonly losses: readonly number[];
  /** Optimizer steps applied. */
  readonly stepsDone: number;
  /** The last recorded loss (NaN when none was recorded). */
  readonly finalLoss: number;
  /** The smallest finite recorded loss (NaN when there is none). */
  readonly bestLoss: number;
  /** The first k with `losses[k] <= targetLoss`, or null when never reached. */
  readonly stepsToTarget: number | null;
  /** Classification accuracy at the final parameters, or null when not measured. */
  readonly accuracy: number | null;
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

/**
 * Expands options into runs. Throws an {@link UnknownNameError} (listing the known names) for an
 * unknown optimizer or problem, and a RangeError for a bad step count, seed or learning rate.
 */
export function planBench(options: BenchOptions = {}, sources: BenchSources = {}): BenchPlan {
  const catalog = sources.catalog ?? defaultCatalog;
  const registry = sources.problems ?? defaultProblems;
  const optimizerNames = options.optimizers
    ? [...new Set(options.optimizers)]
    : DEFAULT_OPTIMIZERS.filter((name) => catalog.some((e) => e.name === name));
  if (optimizerNames.length === 0) {
    // A catalog without any of the usual suspects still gets a benchmark.
    optimizerNames.push(...knownNames(catalog).slice(0, 4));
  }
  const problemNames = options.problems ? [...new Set(options.problems)] : knownNames(registry);
  const entries = optimizerNames.map((name) => lookup("optimizer", catalog, name));
  const chosen = problemNames.map((name) => lookup("problem", registry, name));
  if (entries.length === 0) throw new RangeError("no optimizer selected");
  if (chosen.length === 0) throw new RangeError("no problem selected");
  if (options.steps !== undefined) checkPositiveInteger("steps", options.steps);
  const seed = options.seed ?? DEFAULT_SEED;
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new RangeError(`seed must be an integer in [0, 4294967295], got ${String(seed)}`);
  }
  const learningRates = { ...options.learningRates };
  for (const [name, lr] of Object.entries(learningRates)) {
    lookup("optimizer", catalog, name);
    if (!Number.isFinite(lr) || lr <= 0) {
      throw new RangeError(`learning rate of ${name} must be a positive number, got ${lr}`);
    }
  }
  const runs: RunSpec[] = [];
  for (const problem of chosen) {
    for (const entry of entries) {
      const override = Object.hasOwn(learningRates, entry.name)
        ? learningRates[entry.name]
        : undefined;
      const lr = learningRateFor(problem, entry, override);
      runs.push({
        optimizer: entry.name,
        problem: problem.name,
        learningRate: lr.learningRate,
        learningRateSource: lr.source,
        seed,
        steps: options.steps ?? problem.defaultSteps,
        targetLoss: problem.targetLoss,
      });
    }
  }
  return {
    options: {
      optimizers: optimizerNames,
      problems: problemNames,
      steps: options.steps ?? null,
      seed,
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
  const now = options.now ?? (() => performance.now());
  const index = options.index ?? 0;
  const losses: number[] = [];
  let status: RunStatus = "ok";
  let message: string | undefined;
  let accuracy: number | null = null;
  let stepsDone = 0;

  const setupStart = now();
  let instance: ProblemInstance | undefined;
  let optimizer: Optimizer | undefined;
  try {
    instance = await problem.create({ seed: spec.seed });
    requireOracle(instance.objective, entry.oracle, `optimizer ${entry.name}`);
    const params = new ParamSet(instance.objective.layout, instance.initial);
    optimizer = new Optimizer(params, entry.create({ learningRate: spec.learningRate }));
  } catch (error) {
    status = "error";
    message = `setup failed: ${messageOf(error)}`;
  }
  const runStart = now();

  if (instance && optimizer) {
    const { objective } = instance;
    const params = optimizer.params.data;
    let lastYield = runStart;
    try {
      for (let k = 0; k < spec.steps; k++) {
        if (options.signal?.aborted) {
          status = "interrupted";
          message = `interrupted after ${k} of ${spec.steps} steps`;
          break;
        }
        const { loss } = await optimizer.step(objective);
        const value = loss ?? Number.NaN;
        losses.push(value);
        if (!Number.isFinite(value)) {
          status = "diverged";
          message = `loss became ${value} at step ${k}`;
          break;
        }
        stepsDone = k + 1;
        options.onStep?.(spec, index, stepsDone, value);
        if (now() - lastYield > YIELD_EVERY_MS) {
          await yieldToEventLoop();
          lastYield = now();
        }
      }
      if (status === "ok" || status === "interrupted") {
        const final = await objective.value(params);
        losses.push(final);
        if (!Number.isFinite(final)) {
          status = "diverged";
          message = `loss became ${final} at step ${stepsDone}`;
        }
      }
      if (status === "ok" && instance.accuracy) {
        accuracy = await instance.accuracy(params);
      }
    } catch (error) {
      if (error instanceof NonFiniteError) {
        status = "diverged";
        message = `at step ${stepsDone}: ${error.message}`;
        // The step threw before changing anything, so the loss it computed can be recovered.
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
  }
  const runMs = now() - runStart;
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
    if (stepsToTarget === null && loss <= spec.targetLoss) stepsToTarget = k;
  }
  const result: RunResult = {
    ...spec,
    status,
    ...(message === undefined ? {} : { message }),
    losses,
    stepsDone,
    finalLoss: losses.length > 0 ? losses[losses.length - 1] : Number.NaN,
    bestLoss,
    stepsToTarget,
    accuracy,
    times: {
      setupMs: runStart - setupStart,
      runMs,
      msPerStep: stepsDone > 0 ? runMs / stepsDone : 0,
    },
  };
  return result;
}

/**
 * Runs every run of `plan` in order and returns the results of those that started (all of them,
 * unless `signal` aborted the benchmark).
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
    const entry = lookup("optimizer", catalog, spec.optimizer);
    const problem = lookup("problem", registry, spec.problem);
    options.onRunStart?.(spec, index, total);
    const result = await runOne(spec, entry, problem, { ...options, index });
    results.push(result);
    await options.onRunEnd?.(result, index, total);
  }
  return results;
}
