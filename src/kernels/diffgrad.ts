/** The diffGrad kernel: Adam moments with a friction coefficient from the gradient change. */
import type { Floats } from "./apply.js";

/**
 * One diffGrad direction in place on `u` (the gradient `g` on entry):
 *
 *     m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
 *     ξ = 1 / (1 + exp(−|g_prev − g|))        g_prev ← g
 *     u ← ξ·m · scale / (√(v / bc2) + ε)
 *
 * The official form puts ε on the uncorrected √v and folds the bias corrections into the step:
 * pass `bc2 = 1` and `scale = √(1−β2^t) / (1−β1^t)`. The paper's form (ε on the corrected
 * √v̂) is `bc2 = 1−β2^t`, `scale = 1 / (1−β1^t)`.
 */
export function diffGradDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  previous: Floats,
  beta1: number,
  beta2: number,
  eps: number,
  bc2: number,
  scale: number,
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
    const friction = 1 / (1 + Math.exp(-Math.abs(previous[i] - g)));
    previous[i] = g;
    u[i] = (scale * friction * mi) / (Math.sqrt(vi) * invSqrt2 + eps);
  }
}
