/**
 * SANIA's kernels over flat buffers: the diagonal preconditioner averages and the
 * SANIA step −γ·B⁻¹g. A preconditioner entry is read as `max(|b_i| / bc, floor)`, with
 * `bc` the bias correction; an entry that reads 0 (possible only with `floor = 0`) marks a
 * coordinate whose gradient has always been 0, and contributes nothing.
 */
import type { Floats } from "./apply.js";

/** `b ← decay·b + weight·x ⊙ y` (squared gradients: x = y = g; Hutchinson: x = z, y = Hz). */
export function saniaAccumulate(
  b: Floats,
  x: Floats,
  y: Floats,
  decay: number,
  weight: number,
): void {
  for (let i = 0; i < b.length; i++) b[i] = decay * b[i] + weight * x[i] * y[i];
}

/** `Σ g_i² / max(|b_i| / bc, floor)`, the squared B⁻¹-norm of the gradient. */
export function saniaDualSquaredNorm(g: Floats, b: Floats, bc: number, floor: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) {
    const d = Math.max(Math.abs(b[i]) / bc, floor);
    if (d > 0) s += (g[i] * g[i]) / d;
  }
  return s;
}

/** `u_i ← −gamma·u_i / max(|b_i| / bc, floor)` (0 where the entry reads 0). */
export function saniaStep(u: Floats, b: Floats, bc: number, floor: number, gamma: number): void {
  for (let i = 0; i < u.length; i++) {
    const d = Math.max(Math.abs(b[i]) / bc, floor);
    u[i] = d > 0 ? (-gamma * u[i]) / d : 0;
  }
}
