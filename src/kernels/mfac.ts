/**
 * Loops of M-FAC over its window of m gradients (rows of a row-major m×d float64 buffer): the
 * inner products of a new gradient with every row, and the Woodbury combination
 * `u ← (1/λ)·(g − Σ_j c_j·G_j)`.
 */

type Floats = Float32Array | Float64Array;

/**
 * `out[j] = ⟨window row j, g⟩` for every row j of the m×d `window`, except that row `replaced`
 * (pass −1 for none) is taken to hold `g` itself: `out[replaced] = ⟨g, g⟩`.
 */
export function windowDots(
  window: Float64Array,
  d: number,
  m: number,
  g: Floats,
  out: Float64Array,
  replaced: number,
): void {
  for (let j = 0; j < m; j++) {
    let sum = 0;
    if (j === replaced) {
      for (let i = 0; i < d; i++) sum += g[i] * g[i];
    } else {
      const start = j * d;
      for (let i = 0; i < d; i++) sum += window[start + i] * g[i];
    }
    out[j] = sum;
  }
}

/**
 * `u ← invDamp·(u − Σ_j coefficients[j]·window row j)`, accumulating the sum in the float64
 * `accumulator` (length d) so float32 updates are rounded once.
 */
export function woodburyCombine(
  u: Floats,
  window: Float64Array,
  d: number,
  m: number,
  coefficients: Float64Array,
  invDamp: number,
  accumulator: Float64Array,
): void {
  for (let i = 0; i < d; i++) accumulator[i] = u[i];
  for (let j = 0; j < m; j++) {
    const c = coefficients[j];
    if (c === 0) continue;
    const start = j * d;
    for (let i = 0; i < d; i++) accumulator[i] -= c * window[start + i];
  }
  for (let i = 0; i < d; i++) u[i] = invDamp * accumulator[i];
}

/** `v ← momentum·v + (1 − momentum)·u`, then `u ← v` (the official code's momentum). */
export function momentumAverage(u: Floats, v: Floats, momentum: number): void {
  const rest = 1 - momentum;
  for (let i = 0; i < u.length; i++) {
    const vi = momentum * v[i] + rest * u[i];
    v[i] = vi;
    u[i] = vi;
  }
}
