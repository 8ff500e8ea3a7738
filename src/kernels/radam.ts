/** RAdam's fused moment kernel over flat buffers. */
import type { Floats } from "./apply.js";

/**
 * One RAdam step in place, with `g = u` on entry:
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, then either the rectified adaptive direction
 * `u ← rectification·(m / bc1)·√bc2 / (√v + eps)` or, when `rectification` is null (the variance
 * of the adaptive rate is not yet tractable), the plain bias-corrected momentum `u ← m / bc1`.
 * `bc1 = 1 − β1^t`, `bc2 = 1 − β2^t`.
 */
export function radamDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  beta1: number,
  beta2: number,
  eps: number,
  bc1: number,
  bc2: number,
  rectification: number | null,
): void {
  const n = u.length;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const inv1 = 1 / bc1;
  if (rectification === null) {
    for (let i = 0; i < n; i++) {
      const g = u[i];
      const mi = beta1 * m[i] + c1 * g;
      m[i] = mi;
      v[i] = beta2 * v[i] + c2 * g * g;
      u[i] = mi * inv1;
    }
    return;
  }
  const factor = rectification * inv1 * Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    u[i] = (factor * mi) / (Math.sqrt(vi) + eps);
  }
}
