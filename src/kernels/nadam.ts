/** NAdam's fused moment kernel over flat buffers. */
import type { Floats } from "./apply.js";

/**
 * One NAdam step in place, with `g = u` on entry:
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`, then
 * `u ← (gradCoef·g + momentumCoef·m) / (√(v / bc2) + eps)`.
 * The caller folds the momentum schedule into the two coefficients
 * (`gradCoef = (1−μ_t)/(1−Π_t)`, `momentumCoef = μ_{t+1}/(1−Π_{t+1})`) and passes
 * `bc2 = 1 − β2^t`.
 */
export function nadamDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  beta1: number,
  beta2: number,
  eps: number,
  gradCoef: number,
  momentumCoef: number,
  bc2: number,
): void {
  const n = u.length;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const invSqrt2 = 1 / Math.sqrt(bc2);
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    u[i] = (gradCoef * g + momentumCoef * mi) / (Math.sqrt(vi) * invSqrt2 + eps);
  }
}
