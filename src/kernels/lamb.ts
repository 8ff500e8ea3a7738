/**
 * LAMB kernels: the Adam step with weight decay over one tensor's range, accumulating the two
 * norms the layer-wise trust ratio needs in the same pass.
 */
import type { Floats } from "./apply.js";

/**
 * Over [start, end), with `g = u` on entry:
 *
 *     m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
 *     u ← (m / bc1) / (√(v / bc2) + ε) + wd·p
 *
 * and writes `sums[0] = Σ p²`, `sums[1] = Σ u²` over the range (accumulated in float64).
 * Pass `bc1 = bc2 = 1` for the form without bias correction.
 */
export function lambDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  p: Floats,
  start: number,
  end: number,
  beta1: number,
  beta2: number,
  eps: number,
  weightDecay: number,
  bc1: number,
  bc2: number,
  sums: Float64Array,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const inv1 = 1 / bc1;
  const invSqrt2 = 1 / Math.sqrt(bc2);
  let weightSquares = 0;
  let stepSquares = 0;
  for (let i = start; i < end; i++) {
    const g = u[i];
    const w = p[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const step = (mi * inv1) / (Math.sqrt(vi) * invSqrt2 + eps) + weightDecay * w;
    u[i] = step;
    weightSquares += w * w;
    stepSquares += step * step;
  }
  sums[0] = weightSquares;
  sums[1] = stepSquares;
}

/** `u[i] *= factor` for i in [start, end). */
export function scaleRange(u: Floats, start: number, end: number, factor: number): void {
  if (factor === 1) return;
  for (let i = start; i < end; i++) u[i] *= factor;
}
