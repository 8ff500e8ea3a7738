/**
 * From runs to decisions: for every (optimizer, problem) the learning-rate sweep is scored, the
 * best setting chosen by a stated criterion, and that setting's seeds summarized (mean and
 * spread of the final loss, steps to target, time, oracle calls).
 *
 * The criterion: a run scores the mean of its losses over the last tenth of its steps (at least
 * the final loss), which rewards where a run ends up without being fooled by one lucky step; a
 * setting scores the mean of its runs' scores over the seeds; a setting in which any run diverged
 * scores +∞ (worst); a setting with a run that failed or did not finish is not ranked. The lowest
 * score wins; ties go to the factor closest to the centre, then to the smaller rate.
 */
import type { OracleCounts } from "../oracles/counting.js";
import { COUNTED_ORACLES, zeroCounts } from "../oracles/counting.js";
import type { LearningRateSource } from "./problems.js";
import type { RunResult } from "./run.js";

/** Fraction of the steps, at the end of a run, whose losses are averaged into its score. */
export const TAIL_FRACTION = 0.1;

/** Statement of the selection criterion, for reports. */
export const CRITERION =
  "lowest mean over seeds of the average loss over the last 10% of steps; a setting with a diverged run ranks last";

/** Number of final steps whose losses make up the score of a run of `steps` steps (at least 1). */
export function tailLength(steps: number): number {
  return Math.max(1, Math.round(TAIL_FRACTION * steps));
}

/**
 * Score of one run: for a finished run the mean of `losses[steps − w + 1 … steps]` with
 * w = {@link tailLength}(steps); +∞ for a diverged run; NaN for any other (not ranked).
 */
export function runScore(run: RunResult): number {
  if (run.status === "diverged") return Number.POSITIVE_INFINITY;
  if (run.status !== "ok" || run.losses.length === 0) return Number.NaN;
  const w = Math.min(tailLength(run.steps), run.losses.length);
  let sum = 0;
  for (let k = run.losses.length - w; k < run.losses.length; k++) sum += run.losses[k];
  return sum / w;
}

/** Mean and spread of a sample. */
export interface Stats {
  /** Sample size. */
  readonly n: number;
  /** Arithmetic mean. */
  readonly mean: number;
  /** Sample standard deviation (divisor n − 1; 0 for a single value). */
  readonly std: number;
  /** Smallest value. */
  readonly min: number;
  /** Largest value. */
  readonly max: number;
}

/** Mean, sample standard deviation, minimum and maximum of `values` (NaN fields when empty). */
export function stats(values: readonly number[]): Stats {
  const n = values.length;
  if (n === 0) {
    return { n, mean: Number.NaN, std: Number.NaN, min: Number.NaN, max: Number.NaN };
  }
  let sum = 0;
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (const v of values) {
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const mean = sum / n;
  let squares = 0;
  for (const v of values) squares += (v - mean) * (v - mean);
  return { n, mean, std: n > 1 ? Math.sqrt(squares / (n - 1)) : 0, min, max };
}

/** One learning rate of a sweep. */
export interface SweepPoint {
  /** The learning rate. */
  readonly learningRate: number;
  /** Its factor of the centre rate. */
  readonly factor: number;
  /** Runs at this rate (one per seed). */
  readonly runs: number;
  /** How many of them diverged. */
  readonly diverged: number;
  /** How many failed, were interrupted or could not run. */
  readonly failed: number;
  /** The setting's score (see {@link CRITERION}): +∞ when a run diverged, NaN when not ranked. */
  readonly score: number;
  /** Mean final loss of its finished runs (NaN when none finished). */
  readonly finalLoss: number;
}

/** Steps to the target over the seeds of a setting. */
export interface TargetSummary {
  /** Runs that reached the target. */
  readonly reached: number;
  /** Runs in all. */
  readonly runs: number;
  /** Mean steps to the target of the runs that reached it (null when none did). */
  readonly mean: number | null;
}

/** How an (optimizer, problem) pair came out. */
export type PairStatus = "ok" | "diverged" | "error" | "unsupported";

/** The sweep and the chosen setting of one optimizer on one problem. */
export interface PairSummary {
  /** Problem name. */
  readonly problem: string;
  /** Optimizer name. */
  readonly optimizer: string;
  /** `"ok"` when a setting was chosen; otherwise why none was. */
  readonly status: PairStatus;
  /** What went wrong, when something did (the first message of a failing run). */
  readonly message?: string;
  /** Where the centre of the sweep came from. */
  readonly learningRateSource: LearningRateSource;
  /** The learning rates tried, ascending. */
  readonly sweep: readonly SweepPoint[];
  /** Index of the chosen setting in `sweep`, or null. */
  readonly chosen: number | null;
  /** The chosen learning rate, or null. */
  readonly learningRate: number | null;
  /** Whether the chosen rate is the smallest or largest tried (the grid may be too narrow). */
  readonly atEdge: boolean;
  /** The chosen setting's score. */
  readonly score: number | null;
  /** Final loss over the chosen setting's seeds. */
  readonly finalLoss: Stats | null;
  /** Steps to the target over those seeds (null when the problem has no target). */
  readonly stepsToTarget: TargetSummary | null;
  /** Time of the steps per run, in milliseconds, over those seeds. */
  readonly timeMs: Stats | null;
  /** Mean oracle calls per run over those seeds. */
  readonly calls: OracleCounts | null;
  /** Final accuracy over those seeds (classification problems). */
  readonly accuracy: Stats | null;
  /** Final validation loss over those seeds (problems with held-out data). */
  readonly validationLoss: Stats | null;
  /** The seeds of the chosen setting. */
  readonly seeds: readonly number[];
}

function scoreOf(runs: readonly RunResult[]): number {
  if (runs.some((r) => r.status !== "ok" && r.status !== "diverged")) return Number.NaN;
  if (runs.some((r) => r.status === "diverged")) return Number.POSITIVE_INFINITY;
  let sum = 0;
  for (const run of runs) sum += runScore(run);
  return sum / runs.length;
}

/** Whether sweep point a ranks before b. */
function better(a: SweepPoint, b: SweepPoint): boolean {
  if (a.score !== b.score) return a.score < b.score;
  const da = Math.abs(Math.log(a.factor));
  const db = Math.abs(Math.log(b.factor));
  if (da !== db) return da < db;
  return a.learningRate < b.learningRate;
}

function meanCounts(runs: readonly RunResult[]): OracleCounts | null {
  const withCalls = runs.filter((r) => r.calls !== null);
  if (withCalls.length === 0) return null;
  const out = zeroCounts();
  for (const oracle of COUNTED_ORACLES) {
    let sum = 0;
    for (const run of withCalls) sum += run.calls![oracle] ?? 0;
    out[oracle] = sum / withCalls.length;
  }
  return out;
}

function numbers(values: readonly (number | null)[]): number[] {
  return values.filter((v): v is number => v !== null && !Number.isNaN(v));
}

/** Summarizes the runs of one (optimizer, problem) pair. */
export function summarizePair(runs: readonly RunResult[]): PairSummary {
  const { problem, optimizer, learningRateSource } = runs[0];
  const byRate = new Map<number, RunResult[]>();
  for (const run of runs) {
    const list = byRate.get(run.learningRate);
    if (list) list.push(run);
    else byRate.set(run.learningRate, [run]);
  }
  const rates = [...byRate.keys()].sort((a, b) => a - b);
  const sweep: SweepPoint[] = rates.map((learningRate) => {
    const list = byRate.get(learningRate)!;
    const finished = list.filter((r) => r.status === "ok");
    return {
      learningRate,
      factor: list[0].learningRateFactor,
      runs: list.length,
      diverged: list.filter((r) => r.status === "diverged").length,
      failed: list.filter((r) => r.status !== "ok" && r.status !== "diverged").length,
      score: scoreOf(list),
      finalLoss: finished.length
        ? finished.reduce((s, r) => s + r.finalLoss, 0) / finished.length
        : Number.NaN,
    };
  });
  let chosen: number | null = null;
  for (let i = 0; i < sweep.length; i++) {
    const point = sweep[i];
    if (Number.isNaN(point.score) || point.score === Number.POSITIVE_INFINITY) continue;
    if (chosen === null || better(point, sweep[chosen])) chosen = i;
  }
  const failing = runs.find((r) => r.status !== "ok" && r.message !== undefined);
  let status: PairStatus = "ok";
  if (chosen === null) {
    if (runs.some((r) => r.status === "unsupported")) status = "unsupported";
    else if (sweep.every((p) => p.score === Number.POSITIVE_INFINITY)) status = "diverged";
    else status = "error";
  }
  const base = {
    problem,
    optimizer,
    status,
    ...(status !== "ok" && failing?.message !== undefined ? { message: failing.message } : {}),
    learningRateSource,
    sweep,
  };
  if (chosen === null) {
    return {
      ...base,
      chosen: null,
      learningRate: null,
      atEdge: false,
      score: null,
      finalLoss: null,
      stepsToTarget: null,
      timeMs: null,
      calls: null,
      accuracy: null,
      validationLoss: null,
      seeds: [],
    };
  }
  const point: SweepPoint = sweep[chosen];
  const picked = byRate.get(point.learningRate)!;
  const reached = numbers(picked.map((r) => r.stepsToTarget));
  const hasTarget = picked[0].targetLoss !== null;
  const accuracies = numbers(picked.map((r) => r.accuracy));
  const validation = numbers(picked.map((r) => r.validationLoss));
  return {
    ...base,
    chosen,
    learningRate: point.learningRate,
    atEdge: sweep.length > 1 && (chosen === 0 || chosen === sweep.length - 1),
    score: point.score,
    finalLoss: stats(picked.map((r) => r.finalLoss)),
    stepsToTarget: hasTarget
      ? {
          reached: reached.length,
          runs: picked.length,
          mean: reached.length ? reached.reduce((s, v) => s + v, 0) / reached.length : null,
        }
      : null,
    timeMs: stats(picked.map((r) => r.times.runMs)),
    calls: meanCounts(picked),
    accuracy: accuracies.length ? stats(accuracies) : null,
    validationLoss: validation.length ? stats(validation) : null,
    seeds: picked.map((r) => r.seed),
  };
}

/**
 * One summary per (optimizer, problem) pair among `runs`, grouped by problem in the order the
 * problems first appear, optimizers in the order they first appear.
 */
export function summarizeRuns(runs: readonly RunResult[]): PairSummary[] {
  const groups = new Map<string, Map<string, RunResult[]>>();
  for (const run of runs) {
    let byOptimizer = groups.get(run.problem);
    if (!byOptimizer) groups.set(run.problem, (byOptimizer = new Map()));
    const list = byOptimizer.get(run.optimizer);
    if (list) list.push(run);
    else byOptimizer.set(run.optimizer, [run]);
  }
  const out: PairSummary[] = [];
  for (const byOptimizer of groups.values()) {
    for (const list of byOptimizer.values()) out.push(summarizePair(list));
  }
  return out;
}
