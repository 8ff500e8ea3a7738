/**
 * Sophia's elementwise loops over flat buffers: the exponential moving average of the diagonal
 * Hessian estimate ({@link sophiaHessianEma}) and the clipped, curvature-scaled momentum
 * direction ({@link sophiaDirection}).
 */
import type { Floats } from "./apply.js";

/** `h ← β2·h + (1−β2)·ĥ` elementwise. */
export function sophiaHessianEma(hessian: Floats, estimate: Floats, beta2: number): void {
  const c2 = 1 - beta2;
  const n = hessian.length;
  for (let i = 0; i < n; i++) hessian[i] = beta2 * hessian[i] + c2 * estimate[i];
}

/**
 * `m ← β1·m + (1−β1)·g` with `g = u` on entry, then the direction into `u`:
 *
 * - official form (`paperForm` false): `u ← sign(m)·min(|m| / (c·h + ε), 1)`;
 * - paper form (`paperForm` true): `u ← clamp(m / max(c·h, ε), −1, 1)`;
 *
 * where `c` is `curvatureScale` (ρ times the batch-size factor).
 */
export function sophiaDirection(
  u: Floats,
  m: Floats,
  hessian: Floats,
  beta1: number,
  curvatureScale: number,
  eps: number,
  paperForm: boolean,
): void {
  const c1 = 1 - beta1;
  const n = u.length;
  if (paperForm) {
    for (let i = 0; i < n; i++) {
      const mi = beta1 * m[i] + c1 * u[i];
      m[i] = mi;
      const ratio = mi / Math.max(curvatureScale * hessian[i], eps);
      u[i] = ratio > 1 ? 1 : ratio < -1 ? -1 : ratio;
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const mi = beta1 * m[i] + c1 * u[i];
    m[i] = mi;
    const ratio = Math.abs(mi) / (curvatureScale * hessian[i] + eps);
    u[i] = Math.sign(mi) * (ratio > 1 ? 1 : ratio);
  }
}
