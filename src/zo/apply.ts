/**
 * Writing directions into parameters, one chunk at a time: θ ← θ + c·z, perturbed copies
 * θ + c·z, the estimate ĝ = Σ_j s_j·z_j chunk by chunk, and {@link applyRecord}, the one
 * operation a replay of ZO-SGD needs.
 *
 * z is regenerated from its Philox address for every chunk (directions.ts), so no function here
 * allocates more than one chunk of z (and as many float64 elements of ĝ), whatever the parameter
 * count. The chunk follows the parameter count ({@link directionChunkLength}): 1/64 of it, at
 * least {@link MIN_DIRECTION_CHUNK} and at most {@link DIRECTION_CHUNK} elements, so that the
 * working memory of a small model stays a small share of its parameters while a large model
 * still works in chunks long enough to keep the per-chunk overhead negligible. Because every
 * operation is elementwise, applying a chunk of each direction in turn gives the same bits as
 * applying each direction over the whole buffer, whatever the chunk length.
 *
 * A {@link DirectionScratch} may hold a `FastRandom` handle (random/fast.ts); every loop here then
 * generates its chunks with the WebAssembly fills, which write the same bits as the JavaScript
 * definitions. The handle rides on the scratch because the scratch is what every chunk loop already
 * receives: the fast path needs no new parameter anywhere and no global state. Measured per call,
 * the WebAssembly fill wins at every chunk length the rule below gives (from 256 elements on, about
 * 6 times faster than JavaScript for `"normal"` and 14 times for `"normalFloat32"`, reaching 7 and
 * 18 times at 8192), so the chunk rule is the same with and without it.
 */
import { InvalidArgumentError } from "../errors.js";
import { zoAccumulate, zoAddScaled, zoShiftedCopy } from "../kernels/zo.js";
import type { DType, FloatArray } from "../params/layout.js";
import type { FastRandom } from "../random/index.js";
import type { ZoDirectionDistribution } from "./directions.js";
import { checkFastRandom, fillDirection } from "./directions.js";
import type { ZoStepRecord } from "./record.js";

/** Most elements of z generated at a time: the chunk of every layout of 2^19 elements or more. */
export const DIRECTION_CHUNK = 8192;

/** Fewest elements of z generated at a time, unless the layout itself has fewer. */
export const MIN_DIRECTION_CHUNK = 256;

/** The chunk is the parameter count divided by this, before rounding and clamping. */
export const DIRECTION_CHUNK_DIVISOR = 64;

/**
 * Elements of z generated at a time for a layout of `length` parameters: ⌈length / 64⌉ rounded
 * up to a multiple of 64, clamped to [{@link MIN_DIRECTION_CHUNK}, {@link DIRECTION_CHUNK}], and
 * never more than `length` (at least 1, so that a scratch always advances).
 *
 * The chunk is at most 5% of the parameter count from 5,120 parameters on (the floor of 256
 * elements decides up to 16,384) and at most 1/64 of it + 63 above that, up to 524,288
 * parameters, from where it is the full {@link DIRECTION_CHUNK}. A multiple of 64 keeps every
 * chunk start even, so no chunk begins in the middle of the pair of normals one Philox block
 * yields.
 * @param length - the number of parameters, an integer >= 0
 */
export function directionChunkLength(length: number): number {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new InvalidArgumentError("directionChunkLength", "length", length, "an integer >= 0");
  }
  const share = 64 * Math.ceil(length / DIRECTION_CHUNK_DIVISOR / 64);
  const clamped = Math.min(DIRECTION_CHUNK, Math.max(MIN_DIRECTION_CHUNK, share));
  return Math.max(1, Math.min(length, clamped));
}

/** The chunk buffers the functions of this file work in; reuse one across calls to avoid allocation. */
export class DirectionScratch {
  /**
   * A chunk of z, in the parameters' dtype (so z is rounded exactly as the layout rounds). Its
   * length is the stride of every loop that uses this scratch.
   */
  readonly z: FloatArray;
  /** The WebAssembly generator chunks are filled with, or null for the JavaScript definitions. */
  readonly random: FastRandom | null;
  private estimateChunk: Float64Array | undefined;

  /**
   * A chunk of the estimate ĝ, always float64 and as long as {@link DirectionScratch.z};
   * allocated on first use, since ZO-SGD and the other methods that apply directions one by one
   * never need it.
   */
  get estimate(): Float64Array {
    this.estimateChunk ??= new Float64Array(this.z.length);
    return this.estimateChunk;
  }

  /** Bytes of the chunk buffers allocated so far (z, and ĝ once used). */
  get bytes(): number {
    return this.z.byteLength + (this.estimateChunk?.byteLength ?? 0);
  }

  /**
   * @param dtype - the parameters' element type
   * @param chunkLength - elements per chunk, an integer >= 1 (default {@link DIRECTION_CHUNK});
   *   {@link DirectionScratch.for} picks it from the parameter count
   * @param random - a handle from `useFastRandom` to generate z with (same bits, faster), or
   *   null / absent for the JavaScript definitions
   */
  constructor(
    readonly dtype: DType,
    chunkLength = DIRECTION_CHUNK,
    random: FastRandom | null = null,
  ) {
    if (dtype !== "float32" && dtype !== "float64") {
      throw new InvalidArgumentError("DirectionScratch", "dtype", dtype, '"float32" or "float64"');
    }
    if (!Number.isSafeInteger(chunkLength) || chunkLength < 1) {
      throw new InvalidArgumentError(
        "DirectionScratch",
        "chunkLength",
        chunkLength,
        "an integer >= 1",
      );
    }
    this.random = random === null ? null : checkFastRandom("DirectionScratch", random);
    this.z = dtype === "float32" ? new Float32Array(chunkLength) : new Float64Array(chunkLength);
  }

  /**
   * Scratch matching the element type of `buffer`, with the chunk length its size calls for.
   * @param random - as in the constructor
   */
  static for(buffer: FloatArray, random: FastRandom | null = null): DirectionScratch {
    return new DirectionScratch(
      buffer instanceof Float32Array ? "float32" : "float64",
      directionChunkLength(buffer.length),
      random,
    );
  }

  /**
   * Writes elements `start, start + 1, …` of `direction` into `out` (a chunk of
   * {@link DirectionScratch.z} or any buffer of the parameters' type), with this scratch's
   * generator.
   * @returns `out`
   */
  fill<T extends FloatArray>(out: T, direction: DirectionRef, start: number): T {
    return fillDirection(
      out,
      direction.seed,
      direction.stream,
      start,
      direction.directionDistribution ?? "normal",
      this.random,
    );
  }
}

function scratchFor(buffer: FloatArray, scratch: DirectionScratch | undefined): DirectionScratch {
  const wanted: DType = buffer instanceof Float32Array ? "float32" : "float64";
  if (scratch !== undefined && scratch.dtype === wanted) return scratch;
  return DirectionScratch.for(buffer, scratch?.random ?? null);
}

/** The first `n` elements of the chunk buffer `z`: `z` itself when it is that long already. */
function chunkOf(z: FloatArray, n: number): FloatArray {
  return n === z.length ? z : z.subarray(0, n);
}

/** The Philox address of a direction, and the sequence it is drawn from. */
export interface DirectionRef {
  /** Philox key. */
  readonly seed: number;
  /** Philox stream. */
  readonly stream: number;
  /** The Gaussian sequence (directions.ts); absent means `"normal"`. */
  readonly directionDistribution?: ZoDirectionDistribution;
}

/** `target ← fl(target + coefficient·z)` for the direction (seed, stream); nothing when the coefficient is 0. */
export function addDirection(
  target: FloatArray,
  direction: DirectionRef,
  coefficient: number,
  scratch?: DirectionScratch,
): void {
  if (coefficient === 0) return;
  const s = scratchFor(target, scratch);
  const chunk = s.z.length;
  for (let start = 0; start < target.length; start += chunk) {
    const end = Math.min(start + chunk, target.length);
    const z = chunkOf(s.z, end - start);
    s.fill(z, direction, start);
    zoAddScaled(target.subarray(start, end), z, coefficient);
  }
}

/**
 * Applies several directions with their coefficients, in order, element by element:
 * `target ← fl(… fl(target + c_0·z_0) … + c_{n−1}·z_{n−1})`. Zero coefficients are skipped.
 */
export function addDirections(
  target: FloatArray,
  directions: readonly DirectionRef[],
  coefficients: ArrayLike<number>,
  scratch?: DirectionScratch,
): void {
  const s = scratchFor(target, scratch);
  const chunk = s.z.length;
  for (let start = 0; start < target.length; start += chunk) {
    const end = Math.min(start + chunk, target.length);
    const z = chunkOf(s.z, end - start);
    const part = target.subarray(start, end);
    for (let j = 0; j < directions.length; j++) {
      const c = coefficients[j];
      if (c === 0) continue;
      s.fill(z, directions[j], start);
      zoAddScaled(part, z, c);
    }
  }
}

/** `out ← fl(base + coefficient·z)` without touching `base` (the virtual perturbation). */
export function writeShifted(
  out: FloatArray,
  base: FloatArray,
  direction: DirectionRef,
  coefficient: number,
  scratch?: DirectionScratch,
): void {
  const s = scratchFor(base, scratch);
  const chunk = s.z.length;
  for (let start = 0; start < base.length; start += chunk) {
    const end = Math.min(start + chunk, base.length);
    const z = chunkOf(s.z, end - start);
    s.fill(z, direction, start);
    zoShiftedCopy(out.subarray(start, end), base.subarray(start, end), z, coefficient);
  }
}

/**
 * Visits the estimate ĝ = Σ_j s_j·z_j chunk by chunk: `visit(start, end, estimate)` receives
 * elements [start, end) of ĝ in `estimate[0 … end − start)`, summed in float64 in direction
 * order starting from 0.
 */
export function forEachEstimateChunk(
  length: number,
  dtype: DType,
  directions: readonly DirectionRef[],
  scalars: ArrayLike<number>,
  visit: (start: number, end: number, estimate: Float64Array) => void,
  scratch?: DirectionScratch,
): void {
  const s =
    scratch !== undefined && scratch.dtype === dtype
      ? scratch
      : new DirectionScratch(dtype, directionChunkLength(length), scratch?.random ?? null);
  const chunk = s.z.length;
  for (let start = 0; start < length; start += chunk) {
    const end = Math.min(start + chunk, length);
    const n = end - start;
    const estimate = s.estimate;
    estimate.fill(0, 0, n);
    const z = chunkOf(s.z, n);
    for (let j = 0; j < directions.length; j++) {
      if (scalars[j] === 0) continue;
      s.fill(z, directions[j], start);
      zoAccumulate(estimate, z, scalars[j], n);
    }
    visit(start, end, estimate);
  }
}

/**
 * Applies one record the ZO-SGD way, `θ ← fl(θ − scalar·z)`: the whole replay of zoSgd,
 * zoSign (projected) and zoCons steps taken with virtual perturbations (record.ts). A record
 * whose scalar is 0 changes nothing.
 */
export function applyRecord(
  params: FloatArray,
  record: Pick<ZoStepRecord, "seed" | "stream" | "scalar" | "directionDistribution">,
  scratch?: DirectionScratch,
): void {
  addDirection(params, record, -record.scalar, scratch);
}
