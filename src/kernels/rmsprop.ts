/** RMSprop's fused kernel over flat buffers (plain, centered, with or without momentum). */
import type { Floats } from "./apply.js";

/**
 * One RMSprop step in place, with `g = u` on entry:
 * `s ← α·s + (1−α)·g²`; centered (`gradAvg` given): `ḡ ← α·ḡ + (1−α)·g` and
 * `d = √(s − ḡ²) + eps`, otherwise `d = √s + eps`; then with a momentum buffer
 * `b ← μ·b + g/d` and `u ← b`, else `u ← g/d`.
 */
export function rmspropDirection(
  u: Floats,
  squareAvg: Floats,
  gradAvg: Floats | null,
  buffer: Floats | null,
  alpha: number,
  eps: number,
  momentum: number,
): void {
  const n = u.length;
  const c = 1 - alpha;
  if (gradAvg === null && buffer === null) {
    for (let i = 0; i < n; i++) {
      const g = u[i];
      const s = alpha * squareAvg[i] + c * g * g;
      squareAvg[i] = s;
      u[i] = g / (Math.sqrt(s) + eps);
    }
    return;
  }
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const s = alpha * squareAvg[i] + c * g * g;
    squareAvg[i] = s;
    let variance = s;
    if (gradAvg !== null) {
      const a = alpha * gradAvg[i] + c * g;
      gradAvg[i] = a;
      // s ≥ ā² holds exactly; rounding may leave a tiny negative that would become NaN.
      variance = Math.max(s - a * a, 0);
    }
    const step = g / (Math.sqrt(variance) + eps);
    if (buffer !== null) {
      const b = momentum * buffer[i] + step;
      buffer[i] = b;
      u[i] = b;
    } else {
      u[i] = step;
    }
  }
}
