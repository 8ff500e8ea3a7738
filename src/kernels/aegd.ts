/** The energy-adaptive kernel of AEGD over flat buffers. */
import type { Floats } from "./apply.js";

/**
 * For i in [start, end), with `g = u[i]` on entry:
 * `v = gradientScale·g + weightDecay·p[i]` (the gradient of √(f + c), plus an L2 term),
 * `r[i] ← r[i] / (1 + twoEta·v²)`, `u[i] ← 2·r[i]·v`.
 * `params` may be null when `weightDecay` is 0.
 */
export function aegdDirection(
  u: Floats,
  energy: Floats,
  params: Floats | null,
  gradientScale: number,
  twoEta: number,
  weightDecay: number,
  start = 0,
  end = u.length,
): void {
  if (params === null || weightDecay === 0) {
    for (let i = start; i < end; i++) {
      const v = gradientScale * u[i];
      const r = energy[i] / (1 + twoEta * (v * v));
      energy[i] = r;
      u[i] = 2 * r * v;
    }
    return;
  }
  for (let i = start; i < end; i++) {
    const v = gradientScale * u[i] + weightDecay * params[i];
    const r = energy[i] / (1 + twoEta * (v * v));
    energy[i] = r;
    u[i] = 2 * r * v;
  }
}
