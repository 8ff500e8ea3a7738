/**
 * Writing directions into parameters, one chunk at a time: θ ← θ + c·z, perturbed copies
 * θ + c·z, the estimate ĝ = Σ_j s_j·z_j chunk by chunk, and {@link applyRecord}, the one
 * operation a replay of ZO-SGD needs.
 *
 * z is regenerated from its Philox address for every chunk (directions.ts), so no function here
 * allocates more than {@link DIRECTION_CHUNK} elements of z (and as many float64 elements of ĝ),
 * whatever the parameter count. Because every operation is elementwise, applying a chunk of
 * each direction in turn gives the same bits as applying each direction over the whole buffer.
 */
import { zoAccumulate, zoAddScaled, zoShiftedCopy } from "../kernels/zo.js";
import type { DType, FloatArray } from "../params/layout.js";
import { fillDirection } from "./directions.js";
import type { ZoStepRecord } from "./record.js";

/** Elements of z generated at a time. */
export const DIRECTION_CHUNK = 8192;

/** The chunk buffers the functions of this file work in; reuse one across calls to avoid allocation. */
export class DirectionScratch {
  /** A chunk of z, in the parameters' dtype (so z is rounded exactly as the layout rounds). */
  readonly z: FloatArray;
  private estimateChunk: Float64Array | undefined;

  /**
   * A chunk of the estimate ĝ, always float64; allocated on first use, since ZO-SGD and the other
   * methods that apply directions one by one never need it.
   */
  get estimate(): Float64Array {
    this.estimateChunk ??= new Float64Array(DIRECTION_CHUNK);
    return this.estimateChunk;
  }

  /** @param dtype - the parameters' element type */
  constructor(readonly dtype: DType) {
    this.z =
      dtype === "float32" ? new Float32Array(DIRECTION_CHUNK) : new Float64Array(DIRECTION_CHUNK);
  }

  /** Scratch matching the element type of `buffer`. */
  static for(buffer: FloatArray): DirectionScratch {
    return new DirectionScratch(buffer instanceof Float32Array ? "float32" : "float64");
  }
}

function scratchFor(buffer: FloatArray, scratch: DirectionScratch | undefined): DirectionScratch {
  const wanted: DType = buffer instanceof Float32Array ? "float32" : "float64";
  return scratch !== undefined && scratch.dtype === wanted ? scratch : new DirectionScratch(wanted);
}

/** The Philox address of a direction. */
export interface DirectionRef {
  /** Philox key. */
  readonly seed: number;
  /** Philox stream. */
  readonly stream: number;
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
  for (let start = 0; start < target.length; start += DIRECTION_CHUNK) {
    const end = Math.min(start + DIRECTION_CHUNK, target.length);
    const z = s.z.subarray(0, end - start);
    fillDirection(z, direction.seed, direction.stream, start);
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
  for (let start = 0; start < target.length; start += DIRECTION_CHUNK) {
    const end = Math.min(start + DIRECTION_CHUNK, target.length);
    const z = s.z.subarray(0, end - start);
    const part = target.subarray(start, end);
    for (let j = 0; j < directions.length; j++) {
      const c = coefficients[j];
      if (c === 0) continue;
      fillDirection(z, directions[j].seed, directions[j].stream, start);
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
  for (let start = 0; start < base.length; start += DIRECTION_CHUNK) {
    const end = Math.min(start + DIRECTION_CHUNK, base.length);
    const z = s.z.subarray(0, end - start);
    fillDirection(z, direction.seed, direction.stream, start);
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
    scratch !== undefined && scratch.dtype === dtype ? scratch : new DirectionScratch(dtype);
  for (let start = 0; start < length; start += DIRECTION_CHUNK) {
    const end = Math.min(start + DIRECTION_CHUNK, length);
    const n = end - start;
    const estimate = s.estimate;
    estimate.fill(0, 0, n);
    const z = s.z.subarray(0, n);
    for (let j = 0; j < directions.length; j++) {
      if (scalars[j] === 0) continue;
      fillDirection(z, directions[j].seed, directions[j].stream, start);
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
  record: Pick<ZoStepRecord, "seed" | "stream" | "scalar">,
  scratch?: DirectionScratch,
): void {
  addDirection(params, record, -record.scalar, scratch);
}
