/**
 * Seed-pool folding: a ZO-SGD log whose directions come from a finite pool of K seeds,
 * collapsed into one number per pool member, so that rebuilding the model costs O(K·d)
 * whatever the number of steps (the replay side of FedKSeed: Qin, Chen, Qian, Ding, Li & Deng,
 * "Federated Full-Parameter Tuning of Billion-Sized Language Models with Communication Cost
 * under 18 Kilobytes", ICML 2024; official code in alibaba/FederatedScope, pull request 740).
 *
 * With directions from a pool (directions.ts: member k is the Philox stream 2^52 + k of the
 * run's seed, whatever the step and direction index), every record of a replayable run
 * (replay.ts: zoSgd or zoCons, virtual perturbations) means θ ← θ − s·z_k, with the learning
 * rate of its step already folded into s (so schedules fold too). The updates commute, so
 *
 *     a_k = Σ_{records r with member k} s_r          (float64, in log order)
 *     θ   = fl(θ₀ − Σ_k a_k·z_k)                      (float64, members in increasing k, one
 *                                                      rounding to the layout's dtype at the end)
 *
 * ## Restrictions (each enforced, naming what breaks it)
 *
 * - Directions from a seed pool: fresh directions would need one accumulator per record.
 * - Updates linear in z with nothing but the scalar varying: zoSgd and zoCons. Momentum, Adam
 *   and sign-of-estimate updates are not sums of s·z_k; weight decay or clipping would read θ.
 * - Virtual perturbations: in-place runs carry restore drift that no scalar holds.
 * - One seed and one direction distribution for every record (a log guarantees it). The fold
 *   keeps the distribution, {@link replayFolded} regenerates z_k from it, and a caller that
 *   names the distribution it expects has a fold of the other refused, naming both.
 *
 * ## How close the folded model is to the live one
 *
 * Both compute θ₀ − Σ_r s_r·z_r, in different orders: the live run rounds to the layout's dtype
 * after every record, the fold sums in float64 and rounds once. So they agree up to rounding,
 * not bit for bit. With N records, K members, u the unit roundoff of the dtype (2^−24 float32,
 * 2^−53 float64) and b_k = Σ_{r with member k} |s_r|, for every coordinate i
 *
 *     |θ_live,i − θ_fold,i| ≤ γ / (1 − γ) · S_i,   γ = (N + K + 3)·(u + 3·2^−53),
 *     S_i = |θ₀,i| + Σ_k b_k·|z_k,i|
 *
 * (the recursive-summation bound of Higham, "Accuracy and Stability of Numerical Algorithms",
 * 2nd ed., SIAM 2002, §4.2, applied to both orders: the live run is a sum of N + 1 terms each
 * followed by at most two roundings (float64, then the dtype) and for float64 a rounded
 * product; the fold is N float64 additions into the accumulators, K + 1 float64 products and
 * additions, and one final rounding). {@link replayFolded} fills this bound per coordinate on
 * request. It holds while γ < 1; in practice the difference is far below it (rounding errors
 * partly cancel), and a missing or misapplied record shows up far above it.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { zoAccumulate } from "../kernels/zo.js";
import type { FloatArray } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import type { FastRandom } from "../random/index.js";
import { DIRECTION_CHUNK } from "./apply.js";
import type { ZoDirectionDistribution } from "./directions.js";
import {
  checkDirectionDistribution,
  checkFastRandom,
  fillDirection,
  poolStream,
} from "./directions.js";
import type { ZoStepRecord } from "./record.js";
import { REPLAYABLE_METHODS } from "./replay.js";
import { SeedLog } from "./seedLog.js";

/** One pool member's share of a folded log. */
export interface FoldedMember {
  /** Pool member k. */
  readonly seedIndex: number;
  /** Its Philox stream, 2^52 + k. */
  readonly stream: number;
  /** a_k = Σ s over its records (float64, log order). */
  readonly sum: number;
  /** b_k = Σ |s| over its records (for the error bound). */
  readonly absoluteSum: number;
  /** Number of its records. */
  readonly records: number;
}

/** A log folded into one accumulator per pool member that its records use. */
export interface SeedFold {
  /** The run's Philox seed. */
  readonly seed: number;
  /** The Gaussian sequence of the run's directions (directions.ts); absent means `"normal"`. */
  readonly directionDistribution?: ZoDirectionDistribution;
  /** Members in increasing k, the order {@link replayFolded} adds them in. */
  readonly members: readonly FoldedMember[];
  /** Number of records folded (N). */
  readonly records: number;
}

/**
 * Folds a replayable seed-pool log (file header: restrictions) into one accumulator per pool
 * member.
 * @param log - a SeedLog, or records in run order (checked as a log would check them)
 * @throws InvalidArgumentError naming the field that breaks a restriction
 */
export function foldLog(log: SeedLog | readonly ZoStepRecord[]): SeedFold {
  const owner = "foldLog";
  let theLog: SeedLog;
  if (log instanceof SeedLog) theLog = log;
  else if (Array.isArray(log)) {
    theLog = new SeedLog();
    theLog.appendAll(log as ZoStepRecord[]);
  } else {
    throw new InvalidArgumentError(owner, "log", log, "a SeedLog or an array of step records");
  }
  const run = theLog.run;
  if (run === undefined) {
    return Object.freeze({ seed: 0, directionDistribution: "normal", members: [], records: 0 });
  }
  if (!REPLAYABLE_METHODS.includes(run.method)) {
    throw new InvalidArgumentError(
      owner,
      "record.method",
      run.method,
      `one of ${REPLAYABLE_METHODS.map((m) => JSON.stringify(m)).join(", ")} (only updates θ ← θ − s·z fold into sums)`,
    );
  }
  if (run.perturbation !== "virtual") {
    throw new InvalidArgumentError(
      owner,
      "record.perturbation",
      run.perturbation,
      '"virtual" (in-place perturbations leave restore drift that no scalar carries)',
    );
  }
  if (run.source !== "pool") {
    throw new InvalidArgumentError(
      owner,
      "record.seedIndex",
      undefined,
      'an integer: folding needs directions from a seed pool (directionSource { kind: "pool", size })',
    );
  }
  const sums = new Map<number, { sum: number; absoluteSum: number; records: number }>();
  for (const r of theLog) {
    const k = r.seedIndex!;
    const entry = sums.get(k);
    if (entry === undefined)
      sums.set(k, { sum: r.scalar, absoluteSum: Math.abs(r.scalar), records: 1 });
    else {
      entry.sum += r.scalar;
      entry.absoluteSum += Math.abs(r.scalar);
      entry.records++;
    }
  }
  const members = [...sums.keys()]
    .sort((a, b) => a - b)
    .map((k) => Object.freeze({ seedIndex: k, stream: poolStream(k), ...sums.get(k)! }));
  return Object.freeze({
    seed: run.seed,
    directionDistribution: run.directionDistribution,
    members: Object.freeze(members),
    records: theLog.length,
  });
}

/** Options of {@link replayFolded}. */
export interface FoldedReplayOptions {
  /** Where to write θ (a buffer like the base; default a new one; may be the base itself). */
  out?: FloatArray;
  /** When given (a Float64Array of the parameter count), receives the per-coordinate bound of the file header. */
  bound?: Float64Array;
  /** The direction distribution the fold must come from (default: the fold's own). */
  directionDistribution?: ZoDirectionDistribution;
  /** A handle from `useFastRandom` to generate the directions with (same bits, faster). */
  random?: FastRandom;
}

/** Unit roundoff of float64. */
const U64 = 2 ** -53;

function checkFold(owner: string, fold: unknown): SeedFold {
  const f = fold as Partial<SeedFold> | null;
  const ok =
    typeof f === "object" &&
    f !== null &&
    Number.isInteger(f.seed) &&
    Number.isInteger(f.records) &&
    (f.directionDistribution === undefined ||
      f.directionDistribution === "normal" ||
      f.directionDistribution === "normalFloat32") &&
    Array.isArray(f.members) &&
    f.members.every(
      (m: Partial<FoldedMember>, i: number, all: readonly Partial<FoldedMember>[]) =>
        typeof m === "object" &&
        m !== null &&
        Number.isInteger(m.seedIndex) &&
        (i === 0 || (m.seedIndex as number) > (all[i - 1].seedIndex as number)) &&
        m.stream === poolStream(m.seedIndex as number) &&
        Number.isFinite(m.sum) &&
        Number.isFinite(m.absoluteSum),
    );
  if (!ok) throw new InvalidArgumentError(owner, "fold", fold, "a SeedFold from foldLog");
  return f as SeedFold;
}

/**
 * θ = fl(θ₀ − Σ_k a_k·z_k) from a folded log, O(K·d) work and O(chunk) memory, equal to the live
 * run up to the rounding bound of the file header (which `options.bound` receives).
 * @param base - the weights the run started from (not modified unless it is `options.out`)
 */
export function replayFolded(
  base: ParamSet | FloatArray,
  fold: SeedFold,
  options: FoldedReplayOptions = {},
): FloatArray {
  const owner = "replayFolded";
  const theta0 =
    base instanceof ParamSet
      ? base.data
      : base instanceof Float32Array || base instanceof Float64Array
        ? base
        : undefined;
  if (theta0 === undefined) {
    throw new InvalidArgumentError(owner, "base", base, "a ParamSet, Float32Array or Float64Array");
  }
  const f = checkFold(owner, fold);
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(owner, "options", options, "an object");
  }
  const d = theta0.length;
  const single = theta0 instanceof Float32Array;
  const out = options.out ?? (single ? new Float32Array(d) : new Float64Array(d));
  if (out.constructor !== theta0.constructor || out.length !== d) {
    throw new ShapeMismatchError(`${owner}: out must be a ${theta0.constructor.name} of ${d}`);
  }
  const bound = options.bound;
  if (bound !== undefined && (!(bound instanceof Float64Array) || bound.length !== d)) {
    throw new ShapeMismatchError(`${owner}: bound must be a Float64Array of ${d}`);
  }
  const distribution = f.directionDistribution ?? "normal";
  if (options.directionDistribution !== undefined) {
    const expected = checkDirectionDistribution(owner, options.directionDistribution);
    if (expected !== distribution) {
      throw new InvalidArgumentError(
        owner,
        "fold.directionDistribution",
        distribution,
        `${expected}, the expected direction distribution (the fold's log was written with ${distribution})`,
      );
    }
  }
  const random = options.random === undefined ? null : checkFastRandom(owner, options.random);
  const u = single ? 2 ** -24 : U64;
  const gamma = (f.records + f.members.length + 3) * (u + 3 * U64);
  const factor = gamma < 1 ? gamma / (1 - gamma) : Infinity;

  const z = single ? new Float32Array(DIRECTION_CHUNK) : new Float64Array(DIRECTION_CHUNK);
  const sum = new Float64Array(DIRECTION_CHUNK);
  const scale = new Float64Array(DIRECTION_CHUNK);
  for (let start = 0; start < d; start += DIRECTION_CHUNK) {
    const n = Math.min(DIRECTION_CHUNK, d - start);
    const chunk = z.subarray(0, n);
    sum.fill(0, 0, n);
    if (bound !== undefined) for (let i = 0; i < n; i++) scale[i] = Math.abs(theta0[start + i]);
    for (const m of f.members) {
      fillDirection(chunk, f.seed, m.stream, start, distribution, random);
      zoAccumulate(sum, chunk, m.sum, n);
      if (bound !== undefined) {
        for (let i = 0; i < n; i++) scale[i] += m.absoluteSum * Math.abs(chunk[i]);
      }
    }
    for (let i = 0; i < n; i++) out[start + i] = theta0[start + i] - sum[i];
    if (bound !== undefined) for (let i = 0; i < n; i++) bound[start + i] = factor * scale[i];
  }
  return out;
}
