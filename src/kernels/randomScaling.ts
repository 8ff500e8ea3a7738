/** The momentum kernel of SGD with random exponential scaling, over flat buffers. */
import type { Floats } from "./apply.js";

/**
 * `Δ ← decay·(Δ − η·g)`, then `u ← s·Δ`, with `g = u` on entry: one pass that updates the
 * online learner's point Δ and writes the randomly scaled step into `u`.
 */
export function randomScalingStep(
  u: Floats,
  delta: Floats,
  decay: number,
  eta: number,
  s: number,
): void {
  const n = u.length;
  for (let i = 0; i < n; i++) {
    const d = decay * (delta[i] - eta * u[i]);
    delta[i] = d;
    u[i] = s * d;
  }
}
