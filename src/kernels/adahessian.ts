/**
 * AdaHessian's kernels over flat buffers: the Hutchinson diagonal estimate from a
 * Hessian-vector product (with optional block averaging), and the moment update that turns the
 * gradient in `u` into the preconditioned direction.
 */
import type { Floats } from "./apply.js";

/**
 * Writes the diagonal estimate `|Hv|` of elements `[offset, offset + size)` into `out`, each
 * consecutive block of `block` elements replaced by the mean of its absolute values.
 * `block = 1` is the plain elementwise `|Hv|`; `size` must be a multiple of `block`.
 *
 * `|Hv|` equals `|v ⊙ Hv|` for a ±1 probe v; averaging the absolute values (rather than the
 * signed products) is what the reference implementation does.
 */
export function hutchinsonDiagonal(
  out: Floats,
  hv: Floats,
  offset: number,
  size: number,
  block: number,
): void {
  const end = offset + size;
  if (block <= 1) {
    for (let i = offset; i < end; i++) out[i] = Math.abs(hv[i]);
    return;
  }
  for (let start = offset; start < end; start += block) {
    let sum = 0;
    for (let i = start; i < start + block; i++) sum += Math.abs(hv[i]);
    const mean = sum / block;
    for (let i = start; i < start + block; i++) out[i] = mean;
  }
}

/**
 * One AdaHessian moment update in place, with `g = u` and `D = diag` on entry:
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·D²`,
 * `u ← (m / bc1) / ((√v)^k / (√bc2)^k + eps)`, where `bc1 = 1 − β1^t`, `bc2 = 1 − β2^t` and
 * `k` is the Hessian power.
 */
export function adahessianDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  diag: Floats,
  beta1: number,
  beta2: number,
  eps: number,
  hessianPower: number,
  bc1: number,
  bc2: number,
): void {
  const n = u.length;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const sqrtBc2 = Math.sqrt(bc2);
  if (hessianPower === 1) {
    for (let i = 0; i < n; i++) {
      const mi = beta1 * m[i] + c1 * u[i];
      const d = diag[i];
      const vi = beta2 * v[i] + c2 * d * d;
      m[i] = mi;
      v[i] = vi;
      u[i] = mi / bc1 / (Math.sqrt(vi) / sqrtBc2 + eps);
    }
    return;
  }
  const correction = Math.pow(sqrtBc2, hessianPower);
  for (let i = 0; i < n; i++) {
    const mi = beta1 * m[i] + c1 * u[i];
    const d = diag[i];
    const vi = beta2 * v[i] + c2 * d * d;
    m[i] = mi;
    v[i] = vi;
    u[i] = mi / bc1 / (Math.pow(Math.sqrt(vi), hessianPower) / correction + eps);
  }
}
