/**
 * Adam-family moment kernels over flat buffers: one pass reads the gradient from `u`, updates the
 * moments and writes the direction back into `u`.
 */
import type { Floats } from "./apply.js";

/**
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `u ← (m / bc1) / (√(v / bc2 + epsRoot) + eps)` where `g = u` on entry.
 * With `vMax` (AMSGrad) the running maximum of `v` replaces `v` in the denominator.
 * `bc1 = 1 − β1^t`, `bc2 = 1 − β2^t` (pass 1 to disable bias correction).
 */
export function adamDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  vMax: Floats | null,
  beta1: number,
  beta2: number,
  eps: number,
  epsRoot: number,
  bc1: number,
  bc2: number,
): void {
  const n = u.length;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const inv1 = 1 / bc1;
  const invSqrt2 = 1 / Math.sqrt(bc2);
  if (vMax === null && epsRoot === 0) {
    for (let i = 0; i < n; i++) {
      const g = u[i];
      const mi = beta1 * m[i] + c1 * g;
      const vi = beta2 * v[i] + c2 * g * g;
      m[i] = mi;
      v[i] = vi;
      u[i] = (mi * inv1) / (Math.sqrt(vi) * invSqrt2 + eps);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    let vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    if (vMax !== null) {
      if (vMax[i] > vi) vi = vMax[i];
      vMax[i] = vi;
    }
    u[i] = (mi * inv1) / (Math.sqrt(vi / bc2 + epsRoot) + eps);
  }
}
