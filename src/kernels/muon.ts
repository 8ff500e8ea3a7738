/**
 * Elementwise parts of the orthogonalizing optimizers (Muon, AdaGO, LMO descent): the momentum
 * that feeds the orthogonalization and the scaling of its result.
 */
import type { Floats } from "./apply.js";

/**
 * Muon's momentum on `[start, end)`, with `g = u` on entry (KellerJordan/Muon's `lerp` form):
 * `m ← β·m + (1−β)·g`, then `u ← (1−β)·g + β·m` (Nesterov) or `u ← m`.
 */
export function muonMomentum(
  u: Floats,
  m: Floats,
  beta: number,
  nesterov: boolean,
  start = 0,
  end = u.length,
): void {
  const c = 1 - beta;
  if (nesterov) {
    for (let i = start; i < end; i++) {
      const g = u[i];
      const mi = beta * m[i] + c * g;
      m[i] = mi;
      u[i] = c * g + beta * mi;
    }
  } else {
    for (let i = start; i < end; i++) {
      const mi = beta * m[i] + c * u[i];
      m[i] = mi;
      u[i] = mi;
    }
  }
}

/** `u[i] ← factor·u[i]` for i in [start, end). */
export function scaleRange(u: Floats, factor: number, start = 0, end = u.length): void {
  if (factor === 1) return;
  for (let i = start; i < end; i++) u[i] *= factor;
}

/** `Σ a[i]·b[i]` over i in [start, end), accumulated in double precision. */
export function dotRange(a: Floats, b: Floats, start = 0, end = a.length): number {
  let s = 0;
  for (let i = start; i < end; i++) s += a[i] * b[i];
  return s;
}

/** `u[i] ← sign(u[i])` (sign(0) = 0) for i in [start, end): the LMO of the ℓ∞ ball. */
export function signRange(u: Floats, start = 0, end = u.length): void {
  for (let i = start; i < end; i++) {
    const x = u[i];
    u[i] = x > 0 ? 1 : x < 0 ? -1 : 0;
  }
}

/**
 * The LMO of the ℓ1 ball on [start, end): keeps `sign(u[k])` at the first index k of largest
 * `|u[k]|` and zeroes the rest (all zero when the range is).
 */
export function largestCoordinateRange(u: Floats, start = 0, end = u.length): void {
  let best = -1;
  let largest = 0;
  for (let i = start; i < end; i++) {
    const a = Math.abs(u[i]);
    if (a > largest) {
      largest = a;
      best = i;
    }
  }
  const sign = best < 0 ? 0 : u[best] > 0 ? 1 : -1;
  for (let i = start; i < end; i++) u[i] = 0;
  if (best >= 0) u[best] = sign;
}
