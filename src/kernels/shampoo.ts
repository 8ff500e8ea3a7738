/**
 * Elementwise parts of Shampoo: the filtered (exponentially averaged, bias-corrected) gradient,
 * the grafted AdaGrad direction, the momentum mix of the pytorch-optimizer port, and the block
 * copies, norms and finiteness checks around the dense products.
 */
import type { Floats } from "./apply.js";

/**
 * `m ← β·m + (1−β)·g` with `g = u`, and `filtered ← m·inverseCorrection` (m divided by its bias
 * correction 1 − βᵗ), for the whole buffer.
 */
export function filteredGradient(
  u: Floats,
  m: Floats,
  beta: number,
  inverseCorrection: number,
  filtered: Float64Array,
): void {
  const c = 1 - beta;
  for (let i = 0; i < u.length; i++) {
    const mi = beta * m[i] + c * u[i];
    m[i] = mi;
    filtered[i] = mi * inverseCorrection;
  }
}

/** `filtered ← m·inverseCorrection` without advancing m (Adam's kernel advanced it). */
export function correctedMoment(
  m: Floats,
  inverseCorrection: number,
  filtered: Float64Array,
): void {
  for (let i = 0; i < m.length; i++) filtered[i] = m[i] * inverseCorrection;
}

/**
 * The AdaGrad graft with a filtered gradient: `s ← s + g²` with `g = u`, then
 * `u ← filtered / (√s + eps)`.
 */
export function adagradGraft(
  u: Floats,
  sumOfSquares: Floats,
  filtered: Float64Array,
  eps: number,
): void {
  for (let i = 0; i < u.length; i++) {
    const g = u[i];
    const s = sumOfSquares[i] + g * g;
    sumOfSquares[i] = s;
    u[i] = filtered[i] / (Math.sqrt(s) + eps);
  }
}

/**
 * The pytorch-optimizer port's momentum on `[start, end)`: `out ← g·(1−μ) + μ·buffer`, with `g`
 * read from `gradient` (torch's `grad.mul_(1 − μ).add_(buf, alpha=μ)`).
 */
export function portMomentum(
  gradient: Floats,
  buffer: Floats,
  momentum: number,
  out: Float64Array,
  start: number,
  end: number,
): void {
  const keep = 1 - momentum;
  for (let i = start; i < end; i++) out[i - start] = gradient[i] * keep + momentum * buffer[i];
}

/** `out[i − start] ← out[i − start] + wd·p[i]` for i in [start, end) (an L2 penalty). */
export function addScaledRange(
  out: Float64Array,
  p: Floats,
  weightDecay: number,
  start: number,
  end: number,
): void {
  for (let i = start; i < end; i++) out[i - start] += weightDecay * p[i];
}

/**
 * Copies the `rows × cols` block at (row0, col0) of the row-major matrix `source` (which has
 * `stride` columns and starts at `offset`) into `block`, row-major.
 */
export function gatherBlock(
  source: Floats,
  offset: number,
  stride: number,
  row0: number,
  col0: number,
  rows: number,
  cols: number,
  block: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    const from = offset + (row0 + i) * stride + col0;
    const to = i * cols;
    for (let j = 0; j < cols; j++) block[to + j] = source[from + j];
  }
}

/** The inverse of {@link gatherBlock}: writes `block · factor` back into `target`. */
export function scatterBlock(
  block: Float64Array,
  factor: number,
  target: Floats,
  offset: number,
  stride: number,
  row0: number,
  col0: number,
  rows: number,
  cols: number,
): void {
  for (let i = 0; i < rows; i++) {
    const to = offset + (row0 + i) * stride + col0;
    const from = i * cols;
    for (let j = 0; j < cols; j++) target[to + j] = factor * block[from + j];
  }
}

/** `Σ x²` over the block at (row0, col0) of a row-major matrix, in double precision. */
export function blockSumOfSquares(
  source: Floats,
  offset: number,
  stride: number,
  row0: number,
  col0: number,
  rows: number,
  cols: number,
): number {
  let s = 0;
  for (let i = 0; i < rows; i++) {
    const from = offset + (row0 + i) * stride + col0;
    for (let j = 0; j < cols; j++) s += source[from + j] * source[from + j];
  }
  return s;
}

/** Index of the first NaN or ±Infinity in `x`, or −1. */
export function firstNonFiniteIndex(x: Floats): number {
  for (let i = 0; i < x.length; i++) if (!Number.isFinite(x[i])) return i;
  return -1;
}

/** `out[i] ← x[i]·factor` for every i. */
export function scaledCopy(x: Floats, factor: number, out: Float64Array): void {
  for (let i = 0; i < x.length; i++) out[i] = x[i] * factor;
}
