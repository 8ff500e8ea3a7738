/**
 * OASIS's kernels over flat buffers: the exponential average of Hutchinson samples, the two
 * weighted norms of its adaptive step size, and the preconditioned step. `alpha` is the
 * truncation floor: every kernel reads the preconditioner as `max(|D_i|, alpha)`.
 */
import type { Floats } from "./apply.js";

/** `diag ← beta·diag + (1 − beta)·probe ⊙ hv`, one Hutchinson sample folded into the average. */
export function oasisAverageSample(diag: Floats, probe: Floats, hv: Floats, beta: number): void {
  const c = 1 - beta;
  for (let i = 0; i < diag.length; i++) diag[i] = beta * diag[i] + c * probe[i] * hv[i];
}

/** `diag ← diag + weight·probe ⊙ hv`, one term of the warm-start mean. */
export function oasisAddSample(diag: Floats, probe: Floats, hv: Floats, weight: number): void {
  for (let i = 0; i < diag.length; i++) diag[i] += weight * probe[i] * hv[i];
}

/** `Σ max(|D_i|, alpha)·(x_i − y_i)²`, the squared D-norm of x − y. */
export function oasisPrimalSquaredNorm(x: Floats, y: Floats, diag: Floats, alpha: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - y[i];
    s += Math.max(Math.abs(diag[i]), alpha) * d * d;
  }
  return s;
}

/** `Σ (x_i − y_i)² / max(|D_i|, alpha)`, the squared dual D-norm of x − y. */
export function oasisDualSquaredNorm(x: Floats, y: Floats, diag: Floats, alpha: number): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - y[i];
    s += (d * d) / Math.max(Math.abs(diag[i]), alpha);
  }
  return s;
}

/** `u_i ← −eta·u_i / max(|D_i|, alpha)`: the signed OASIS step from the gradient in `u`. */
export function oasisStep(u: Floats, diag: Floats, alpha: number, eta: number): void {
  for (let i = 0; i < u.length; i++) u[i] = (-eta * u[i]) / Math.max(Math.abs(diag[i]), alpha);
}
