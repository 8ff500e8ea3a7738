/** The Lion sign-momentum kernel over flat buffers. */
import type { Floats } from "./apply.js";

/**
 * One Lion step in place on `u` (the gradient on entry):
 * `u ← sign(β1·m + (1−β1)·g)` with sign(0) = 0, then `m ← β2·m + (1−β2)·g`.
 * The sign uses the interpolation with β1 while the stored momentum decays with β2, so the
 * update direction reacts faster to the current gradient than the momentum does.
 */
export function lionDirection(u: Floats, m: Floats, beta1: number, beta2: number): void {
  const n = u.length;
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = m[i];
    const c = beta1 * mi + c1 * g;
    u[i] = c > 0 ? 1 : c < 0 ? -1 : 0;
    m[i] = beta2 * mi + c2 * g;
  }
}
