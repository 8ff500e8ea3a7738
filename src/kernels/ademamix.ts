/** The AdEMAMix moment kernel: a fast and a slow EMA of the gradient over one denominator. */
import type { Floats } from "./apply.js";

/**
 * One AdEMAMix direction in place on `u` (the gradient `g` on entry):
 *
 *     m1 ← β1·m1 + (1−β1)·g        (m1 = g when `fast` is null: the β1 = 0 case, no buffer)
 *     m2 ← β3·m2 + (1−β3)·g
 *     v  ← β2·v + (1−β2)·g²
 *     u  ← (m1 / bc1 + α·m2) / (√v / √bc2 + ε)
 *
 * `bc1 = 1 − β1^t`, `bc2 = 1 − β2^t`; the slow EMA m2 is deliberately not bias-corrected.
 */
export function ademamixDirection(
  u: Floats,
  fast: Floats | null,
  slow: Floats,
  nu: Floats,
  beta1: number,
  beta2: number,
  beta3: number,
  alpha: number,
  eps: number,
  bc1: number,
  bc2: number,
): void {
  const n = u.length;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const c3 = 1 - beta3;
  const inv1 = 1 / bc1;
  const invSqrt2 = 1 / Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = u[i];
    let m1 = g;
    if (fast !== null) {
      m1 = beta1 * fast[i] + c1 * g;
      fast[i] = m1;
    }
    const m2 = beta3 * slow[i] + c3 * g;
    const v = beta2 * nu[i] + c2 * g * g;
    slow[i] = m2;
    nu[i] = v;
    u[i] = (m1 * inv1 + alpha * m2) / (Math.sqrt(v) * invSqrt2 + eps);
  }
}
