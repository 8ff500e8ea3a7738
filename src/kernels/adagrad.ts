/** AdaGrad kernels over flat buffers: per-coordinate accumulators and norm-based step sizes. */
import type { Floats } from "./apply.js";

/**
 * Diagonal AdaGrad in place, with `g = u` on entry: `s ← s + g²`, `u ← g / (√s + eps)`.
 */
export function adagradDirection(u: Floats, sumOfSquares: Floats, eps: number): void {
  const n = u.length;
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const s = sumOfSquares[i] + g * g;
    sumOfSquares[i] = s;
    u[i] = g / (Math.sqrt(s) + eps);
  }
}

/** `Σ x[i]²` over i in [start, end), accumulated in double precision. */
export function sumOfSquares(x: Floats, start = 0, end = x.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += x[i] * x[i];
  return s;
}

/** `u[i] ← u[i] / divisor` for i in [start, end). */
export function divideRange(u: Floats, divisor: number, start = 0, end = u.length): void {
  for (let i = start; i < end; i++) u[i] /= divisor;
}
