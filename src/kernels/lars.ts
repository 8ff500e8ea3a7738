/** LARS kernels: per-tensor norms and the trust-scaled, weight-decayed gradient. */
import type { Floats } from "./apply.js";

/** `Σ x[i]²` over [start, end), accumulated in float64. */
export function sumOfSquares(x: Floats, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += x[i] * x[i];
  return s;
}

/** `Σ (g[i] + wd·p[i])²` over [start, end): the squared norm of the weight-decayed gradient. */
export function sumOfSquaresDecayed(
  g: Floats,
  p: Floats,
  weightDecay: number,
  start: number,
  end: number,
): number {
  let s = 0;
  for (let i = start; i < end; i++) {
    const d = g[i] + weightDecay * p[i];
    s += d * d;
  }
  return s;
}

/** `u[i] ← factor·(u[i] + wd·p[i])` over [start, end). */
export function decayAndScale(
  u: Floats,
  p: Floats,
  start: number,
  end: number,
  weightDecay: number,
  factor: number,
): void {
  if (weightDecay === 0) {
    if (factor !== 1) for (let i = start; i < end; i++) u[i] *= factor;
    return;
  }
  for (let i = start; i < end; i++) u[i] = factor * (u[i] + weightDecay * p[i]);
}
