/**
 * The machine-readable benchmark record (`results.json`): options, environment, the problems and
 * optimizers involved, every run with its loss curve, cost trace, times and status, and the
 * summary per (optimizer, problem) derived from the runs (the sweep and the chosen setting).
 *
 * JSON has no NaN or infinities, yet a diverged run's curve ends in one; such numbers are stored
 * as the strings `"NaN"`, `"Infinity"` and `"-Infinity"` and turned back into numbers by
 * {@link parseResults}, so a record survives the round trip exactly.
 *
 * Version 2 added the learning-rate sweep, several seeds, oracle-call counts and traces, and the
 * summary. Files of version 1 (one run per optimizer and problem) are still read: they come back
 * as version-2 records with a one-point grid and no counts.
 */
import type { OptimizerEntry } from "../optim/catalog.js";
import { catalog as defaultCatalog } from "../optim/catalog.js";
import type { BenchProblem, ProblemKind } from "../bench/problems.js";
import { problems as defaultProblems } from "../bench/problems.js";
import type { BenchPlan, ResolvedBenchOptions, RunResult } from "../bench/run.js";
import type { PairSummary } from "../bench/summary.js";
import { CRITERION, summarizeRuns } from "../bench/summary.js";

/** Identifies the file format. */
export const RESULTS_FORMAT = "descend-bench-results";

/** Version of the file format; bumped on incompatible changes. */
export const RESULTS_VERSION = 2;

/** Where the benchmark ran. */
export interface BenchEnvironment {
  /** Node.js version, e.g. `"v20.11.0"`. */
  readonly node: string;
  /** `process.platform`, e.g. `"linux"`. */
  readonly platform: string;
  /** `process.arch`, e.g. `"x64"`. */
  readonly arch: string;
  /** Number of logical processors. */
  readonly cpus: number;
  /** Processor model, as the operating system names it. */
  readonly cpuModel: string;
  /** Version of descend. */
  readonly descend: string;
}

/** A problem as described in the record. */
export interface ProblemSummary {
  /** Identifier. */
  readonly name: string;
  /** One-line description. */
  readonly description: string;
  /** Kind of task. */
  readonly kind: ProblemKind;
  /** Loss that counts as reaching the target, or null when the problem has none. */
  readonly targetLoss: number | null;
  /** The minimum (or infimum) of the loss, or null when unknown. */
  readonly optimalValue: number | null;
  /** Steps of a standard run. */
  readonly defaultSteps: number;
}

/** An optimizer as described in the record. */
export interface OptimizerSummary {
  /** Identifier. */
  readonly name: string;
  /** Display name. */
  readonly title: string;
  /** Kind of method. */
  readonly family: string;
  /** The oracle it needs. */
  readonly oracle: string;
  /** The paper it comes from. */
  readonly paper: string;
}

/** Everything a benchmark produced. */
export interface BenchResults {
  /** Always {@link RESULTS_FORMAT}. */
  readonly format: typeof RESULTS_FORMAT;
  /** Always {@link RESULTS_VERSION} (older files are upgraded when read). */
  readonly version: number;
  /** When the benchmark started (ISO 8601). */
  readonly startedAt: string;
  /** Whether every planned run finished (false while running or after an interruption). */
  readonly complete: boolean;
  /** Number of planned runs. */
  readonly plannedRuns: number;
  /** Wall time of the whole benchmark so far, in milliseconds. */
  readonly wallMs: number;
  /** The options after defaults were filled in. */
  readonly options: ResolvedBenchOptions;
  /** How the best setting of each sweep is chosen. */
  readonly criterion: string;
  /** Where it ran. */
  readonly environment: BenchEnvironment;
  /** The problems, in run order. */
  readonly problems: readonly ProblemSummary[];
  /** The optimizers, in run order. */
  readonly optimizers: readonly OptimizerSummary[];
  /** The runs that started, in order. */
  readonly runs: readonly RunResult[];
  /** Per (optimizer, problem): the sweep and the chosen setting, derived from `runs`. */
  readonly summary: readonly PairSummary[];
}

/** Summary of a problem for the record. */
export function summarizeProblem(problem: BenchProblem): ProblemSummary {
  return {
    name: problem.name,
    description: problem.description,
    kind: problem.kind,
    targetLoss: problem.targetLoss ?? null,
    optimalValue: problem.optimalValue ?? null,
    defaultSteps: problem.defaultSteps,
  };
}

/** Summary of an optimizer for the record. */
export function summarizeOptimizer(entry: OptimizerEntry): OptimizerSummary {
  return {
    name: entry.name,
    title: entry.title,
    family: entry.family,
    oracle: entry.oracle,
    paper: entry.paper,
  };
}

/** What {@link buildResults} assembles a record from. */
export interface ResultsInput {
  /** The plan that was run. */
  readonly plan: BenchPlan;
  /** The runs that started, in order. */
  readonly runs: readonly RunResult[];
  /** When the benchmark started. */
  readonly startedAt: Date;
  /** Wall time so far, in milliseconds. */
  readonly wallMs: number;
  /** Whether every planned run finished. */
  readonly complete: boolean;
  /** Where it ran. */
  readonly environment: BenchEnvironment;
  /** Optimizers the plan's names refer to (default: the catalog). */
  readonly catalog?: readonly OptimizerEntry[];
  /** Problems the plan's names refer to (default: the built-in problems). */
  readonly problems?: readonly BenchProblem[];
}

/** The record of a benchmark (complete or so far). */
export function buildResults(input: ResultsInput): BenchResults {
  const catalog = input.catalog ?? defaultCatalog;
  const registry = input.problems ?? defaultProblems;
  const { options } = input.plan;
  return {
    format: RESULTS_FORMAT,
    version: RESULTS_VERSION,
    startedAt: input.startedAt.toISOString(),
    complete: input.complete,
    plannedRuns: input.plan.runs.length,
    wallMs: input.wallMs,
    options,
    criterion: CRITERION,
    environment: input.environment,
    problems: options.problems.flatMap((name) => {
      const problem = registry.find((p) => p.name === name);
      return problem ? [summarizeProblem(problem)] : [];
    }),
    optimizers: options.optimizers.flatMap((name) => {
      const entry = catalog.find((e) => e.name === name);
      return entry ? [summarizeOptimizer(entry)] : [];
    }),
    runs: input.runs,
    summary: summarizeRuns(input.runs),
  };
}

function encodeNumber(value: number): string {
  return Number.isFinite(value) ? JSON.stringify(value) : JSON.stringify(String(value));
}

/**
 * JSON with objects indented and arrays of plain values (the loss curves) kept on one line, so
 * the file stays readable without one line per step.
 */
function encode(value: unknown, indent: string): string {
  if (typeof value === "number") return encodeNumber(value);
  if (value === null || typeof value !== "object") return JSON.stringify(value) ?? "null";
  const inner = `${indent}  `;
  if (Array.isArray(value)) {
    if (value.length === 0) return "[]";
    if (value.every((x) => x === null || typeof x !== "object")) {
      return `[${value.map((x) => encode(x, inner)).join(",")}]`;
    }
    return `[\n${value.map((x) => inner + encode(x, inner)).join(",\n")}\n${indent}]`;
  }
  const fields = Object.entries(value).filter(([, v]) => v !== undefined);
  if (fields.length === 0) return "{}";
  const lines = fields.map(([k, v]) => `${inner}${JSON.stringify(k)}: ${encode(v, inner)}`);
  return `{\n${lines.join(",\n")}\n${indent}}`;
}

function decodeNonFinite(_key: string, value: unknown): unknown {
  if (value === "NaN") return Number.NaN;
  if (value === "Infinity") return Number.POSITIVE_INFINITY;
  if (value === "-Infinity") return Number.NEGATIVE_INFINITY;
  return value;
}

/** The record as JSON text (non-finite numbers as strings). */
export function stringifyResults(results: BenchResults): string {
  return `${encode(results, "")}\n`;
}

type Loose = Record<string, unknown>;

function isObject(value: unknown): value is Loose {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** A version-1 record as a version-2 one: one grid point, one seed, no oracle counts. */
function upgradeFromVersion1(old: Loose): BenchResults {
  const options = isObject(old.options) ? old.options : {};
  const seed = typeof options.seed === "number" ? options.seed : 0;
  const runs = (Array.isArray(old.runs) ? old.runs : []).filter(isObject).map(
    (run) =>
      ({
        ...run,
        learningRateFactor: 1,
        validationLoss: null,
        optimizerSeeded: false,
        calls: null,
        trace: null,
      }) as unknown as RunResult,
  );
  const resolved: ResolvedBenchOptions = {
    suite: "quick",
    optimizers: Array.isArray(options.optimizers) ? (options.optimizers as string[]) : [],
    problems: Array.isArray(options.problems) ? (options.problems as string[]) : [],
    steps: typeof options.steps === "number" ? options.steps : null,
    seeds: [seed],
    grid: [1],
    learningRates: isObject(options.learningRates)
      ? (options.learningRates as Record<string, number>)
      : {},
  };
  return {
    ...(old as unknown as BenchResults),
    version: RESULTS_VERSION,
    options: resolved,
    criterion: CRITERION,
    runs,
    summary: summarizeRuns(runs),
  };
}

/**
 * Reads a record written by {@link stringifyResults}; checks its format and version, and
 * upgrades a version-1 record to the current version.
 */
export function parseResults(text: string): BenchResults {
  const parsed: unknown = JSON.parse(text, decodeNonFinite);
  if (!isObject(parsed) || parsed.format !== RESULTS_FORMAT) {
    throw new TypeError(`not a benchmark results file (expected format "${RESULTS_FORMAT}")`);
  }
  const version = parsed.version;
  if (version === 1) return upgradeFromVersion1(parsed);
  if (version !== RESULTS_VERSION) {
    throw new TypeError(
      `unsupported benchmark results version ${String(version)} (this is version ${RESULTS_VERSION}; version 1 is read too)`,
    );
  }
  return parsed as unknown as BenchResults;
}
