/**
 * Random directions of the zeroth-order estimators: where each Gaussian direction z comes from,
 * so that a step can be regenerated from a handful of integers anywhere, in any order, in
 * chunks, on any JavaScript engine.
 *
 * ## The direction of (distribution, seed, stream) (both definitions fixed forever)
 *
 * A run chooses one of two Gaussian sequences of the Philox4x32-10 stream (seed, stream), its
 * direction distribution ({@link ZoDirectionDistribution}); fl below rounds to the parameter
 * layout's dtype (identity for float64, round to nearest even for float32, exactly what
 * storing into a Float32Array does).
 *
 * - `"normal"` (the default): z_i = fl(N_i) where
 *   N_i is element i of the float64 standard normal sequence (random/distributions.ts,
 *   `fillNormal`: two samples per Philox block).
 * - `"normalFloat32"`: z_i = M_i, element i of the float32-native standard normal sequence
 *   (random/normalFloat32.ts, `fillNormalFloat32`: four samples per Philox block, Box–Muller in
 *   float32 arithmetic, |z| ≤ 5.768). M_i is a float32 value, so fl changes nothing: a float64
 *   layout holds the same values widened exactly. It is not the float32 rounding of `"normal"`
 *   but a sequence of its own, cheaper to generate (four samples per block, four float32 lanes
 *   per WebAssembly SIMD vector).
 *
 * Element i depends on (distribution, seed, stream, i) only, so {@link fillDirection} can
 * produce any slice on its own, with or without the WebAssembly fills of a `FastRandom` handle,
 * which give the same bits. Records, seed logs and checkpoints carry the distribution
 * (absent or 0 means `"normal"`), and every replay refuses a log written with the other one.
 *
 * ## Which stream a step uses (fixed forever)
 *
 * All directions of a run share the run's seed s; the stream tells them apart.
 *
 * | source | direction j of step t (both 0-based) | stream |
 * | --- | --- | --- |
 * | fresh (default) | a new direction every time | t·2^20 + j ({@link freshStream}) |
 * | pool of K seeds | pool member k = ⌊u·K⌋, u = `uniform(s, 2^52 + 2^32, t·2^20 + j)` | 2^52 + k ({@link poolStream}) |
 *
 * The three ranges never meet: fresh streams stay below 2^52 (t < 2^32, j < 2^20), pool
 * members occupy [2^52, 2^52 + 2^32) and the pool's choice stream is 2^52 + 2^32. A pool lets a
 * log fold many steps into one accumulator per member (replay cost O(K·d)); u has 53 random bits,
 * so the choice departs from uniform by at most K·2^-53.
 */
import { InvalidArgumentError } from "../errors.js";
import type { FloatArray } from "../params/layout.js";
import type { FastRandom } from "../random/index.js";
import { fillNormal, fillNormalFloat32, uniform } from "../random/index.js";

/**
 * Which Gaussian sequence directions are drawn from (file header): `"normal"`, the float64
 * definition rounded to the layout, or `"normalFloat32"`, the float32-native one.
 */
export type ZoDirectionDistribution = "normal" | "normalFloat32";

/** The direction distributions, in the order of their codes in a seed log (0, 1). */
export const DIRECTION_DISTRIBUTIONS: readonly ZoDirectionDistribution[] = Object.freeze([
  "normal",
  "normalFloat32",
]);

/**
 * Validates a direction distribution (`owner` and `parameter` name it in the error).
 * @returns `value`
 */
export function checkDirectionDistribution(
  owner: string,
  value: unknown,
  parameter = "directionDistribution",
): ZoDirectionDistribution {
  if (value !== "normal" && value !== "normalFloat32") {
    throw new InvalidArgumentError(owner, parameter, value, '"normal" or "normalFloat32"');
  }
  return value;
}

/**
 * Validates a fast generator handle (from `useFastRandom`; `owner` names the caller).
 * @returns `value`
 */
export function checkFastRandom(owner: string, value: unknown, parameter = "random"): FastRandom {
  const r = value as Partial<FastRandom> | null;
  if (
    typeof r !== "object" ||
    r === null ||
    typeof r.fillNormal !== "function" ||
    typeof r.fillNormalFloat32 !== "function"
  ) {
    throw new InvalidArgumentError(owner, parameter, value, "a FastRandom from useFastRandom()");
  }
  return value as FastRandom;
}

/** Directions one step may use: j ranges over [0, 2^20). */
export const DIRECTIONS_PER_STEP_LIMIT = 1048576;

/** Steps a run may take with fresh directions: t ranges over [0, 2^32). */
export const FRESH_STEP_LIMIT = 4294967296;

/** Largest seed pool: members k range over [0, 2^32). */
export const POOL_SIZE_LIMIT = 4294967296;

/** First stream of the pool members (2^52). */
export const POOL_STREAM_BASE = 4503599627370496;

/** The stream whose uniforms choose pool members (2^52 + 2^32). */
export const POOL_CHOICE_STREAM = POOL_STREAM_BASE + POOL_SIZE_LIMIT;

/** Fresh directions: a new stream for every (step, direction). */
export interface FreshDirections {
  /** The source's kind. */
  readonly kind: "fresh";
}

/** Directions drawn from a pool of K streams, so a log can fold steps into K accumulators. */
export interface PooledDirections {
  /** The source's kind. */
  readonly kind: "pool";
  /** K, the number of pool members, an integer in [1, 2^32]. */
  readonly size: number;
}

/** Where directions come from: a fresh stream per (step, direction), or a pool of K streams. */
export type DirectionSource = FreshDirections | PooledDirections;

/** The Philox address of one direction, and its pool member when it came from a pool. */
export interface DirectionAddress {
  /** Philox key (the run's seed). */
  readonly seed: number;
  /** Philox stream of the direction. */
  readonly stream: number;
  /** The run's direction distribution; absent for `"normal"`. */
  readonly directionDistribution?: ZoDirectionDistribution;
  /** Pool member k when the source is a pool; absent for fresh directions. */
  readonly seedIndex?: number;
}

function checkStepAndDirection(owner: string, step: number, direction: number): void {
  if (!Number.isInteger(step) || step < 0 || step >= FRESH_STEP_LIMIT) {
    throw new InvalidArgumentError(owner, "step", step, "an integer in [0, 2^32)");
  }
  if (!Number.isInteger(direction) || direction < 0 || direction >= DIRECTIONS_PER_STEP_LIMIT) {
    throw new InvalidArgumentError(owner, "direction", direction, "an integer in [0, 2^20)");
  }
}

/** Stream of fresh direction `direction` of step `step`: step·2^20 + direction. */
export function freshStream(step: number, direction: number): number {
  checkStepAndDirection("freshStream", step, direction);
  return step * DIRECTIONS_PER_STEP_LIMIT + direction;
}

/** Stream of pool member `seedIndex`: 2^52 + seedIndex. */
export function poolStream(seedIndex: number): number {
  if (!Number.isInteger(seedIndex) || seedIndex < 0 || seedIndex >= POOL_SIZE_LIMIT) {
    throw new InvalidArgumentError("poolStream", "seedIndex", seedIndex, "an integer in [0, 2^32)");
  }
  return POOL_STREAM_BASE + seedIndex;
}

/** The pool member that direction `direction` of step `step` uses, in a pool of `poolSize`. */
export function poolMember(
  seed: number,
  step: number,
  direction: number,
  poolSize: number,
): number {
  checkStepAndDirection("poolMember", step, direction);
  checkPoolSize("poolMember", poolSize);
  const u = uniform(seed, POOL_CHOICE_STREAM, step * DIRECTIONS_PER_STEP_LIMIT + direction);
  return Math.floor(u * poolSize);
}

function checkPoolSize(owner: string, size: unknown): number {
  if (typeof size !== "number" || !Number.isInteger(size) || size < 1 || size > POOL_SIZE_LIMIT) {
    throw new InvalidArgumentError(owner, "pool size", size, "an integer in [1, 2^32]");
  }
  return size;
}

/** Validates a {@link DirectionSource} (`owner` names the caller in the error). */
export function checkDirectionSource(owner: string, source: unknown): DirectionSource {
  const s = source as { kind?: unknown; size?: unknown } | null;
  if (typeof s !== "object" || s === null || (s.kind !== "fresh" && s.kind !== "pool")) {
    throw new InvalidArgumentError(
      owner,
      "directionSource",
      source,
      '{ kind: "fresh" } or { kind: "pool", size }',
    );
  }
  for (const key of Object.keys(s)) {
    if (key !== "kind" && !(s.kind === "pool" && key === "size")) {
      throw new InvalidArgumentError(
        owner,
        `directionSource.${key}`,
        (s as Record<string, unknown>)[key],
        "absent",
      );
    }
  }
  if (s.kind === "pool") return { kind: "pool", size: checkPoolSize(owner, s.size) };
  return { kind: "fresh" };
}

/**
 * The address of direction `direction` of step `step` for a run with seed `seed` (the
 * distribution is carried along, left out for `"normal"`).
 */
export function directionAddress(
  seed: number,
  step: number,
  direction: number,
  source: DirectionSource = { kind: "fresh" },
  distribution: ZoDirectionDistribution = "normal",
): DirectionAddress {
  const carried = distribution === "normal" ? {} : { directionDistribution: distribution };
  if (source.kind === "fresh") return { seed, stream: freshStream(step, direction), ...carried };
  const seedIndex = poolMember(seed, step, direction, source.size);
  return { seed, stream: poolStream(seedIndex), seedIndex, ...carried };
}

/**
 * Writes elements `start, start + 1, …` of the direction (distribution, seed, stream) into
 * `out`, rounded to `out`'s element type (file header). With `random`, a handle from
 * `useFastRandom`, the WebAssembly fills write the same bits faster.
 * @param distribution - `"normal"` (default) or `"normalFloat32"`
 * @returns `out`
 */
export function fillDirection<T extends FloatArray>(
  out: T,
  seed: number,
  stream: number,
  start = 0,
  distribution: ZoDirectionDistribution = "normal",
  random?: FastRandom | null,
): T {
  if (distribution === "normal") {
    return random == null
      ? fillNormal(out, seed, stream, start)
      : random.fillNormal(out, seed, stream, start);
  }
  if (distribution === "normalFloat32") {
    return random == null
      ? fillNormalFloat32(out, seed, stream, start)
      : random.fillNormalFloat32(out, seed, stream, start);
  }
  throw new InvalidArgumentError(
    "fillDirection",
    "distribution",
    distribution,
    '"normal" or "normalFloat32"',
  );
}
