/**
 * Loops of M-FAC over its window of m gradients (rows of a row-major m×d float64 buffer): the
 * inner products of a new gradient with every row, and the Woodbury combination
 * `u ← (1/λ)·(g − Σ_j c_j·G_j)`; and over the m×m damped Gram matrix `shift·I + G·Gᵀ`: its
 * copy in age order (ring slot `(oldest + i) mod m` first) and the backward error of a solve.
 *
 * The Gram matrix is the m×m row-major `gram` with row and column `replaced` taken from `dots`
 * (−1 for none): the state's matrix with the newest gradient's inner products already in it,
 * before the state itself is changed.
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

/** `out[i] = slotValues[(oldest + i) mod m]`: ring-slot order to age order. */
export function toAgeOrder(
  slotValues: Float64Array,
  m: number,
  oldest: number,
  out: Float64Array,
): void {
  for (let i = 0; i < m; i++) out[i] = slotValues[(oldest + i) % m];
}

/** `out[(oldest + i) mod m] = ageValues[i]`: age order back to ring-slot order. */
export function toSlotOrder(
  ageValues: Float64Array,
  m: number,
  oldest: number,
  out: Float64Array,
): void {
  for (let i = 0; i < m; i++) out[(oldest + i) % m] = ageValues[i];
}

/**
 * Writes the lower triangle of the damped Gram matrix in age order,
 * `out[i][j] = gram[sᵢ][sⱼ] + shift·[i = j]` with `sᵢ = (oldest + i) mod m`, row and column
 * `replaced` of `gram` taken from `dots`.
 */
export function dampedGramInAgeOrder(
  gram: Float64Array,
  dots: Float64Array,
  replaced: number,
  m: number,
  shift: number,
  oldest: number,
  out: Float64Array,
): void {
  for (let i = 0; i < m; i++) {
    const si = (oldest + i) % m;
    for (let j = 0; j <= i; j++) {
      const sj = (oldest + j) % m;
      const value = si === replaced ? dots[sj] : sj === replaced ? dots[si] : gram[si * m + sj];
      out[i * m + j] = i === j ? value + shift : value;
    }
  }
}

/**
 * Normwise backward error `‖A·x − b‖∞ / (‖A‖∞·‖x‖∞ + ‖b‖∞)` of a solution `x` of `A·x = b`,
 * A the damped Gram matrix (ring-slot order). A backward-stable solve gives a few multiples of
 * m·2⁻⁵³; much more means the factor behind `x` has drifted. NaN when anything is not finite.
 */
export function dampedGramBackwardError(
  gram: Float64Array,
  dots: Float64Array,
  replaced: number,
  m: number,
  shift: number,
  x: Float64Array,
  b: Float64Array,
): number {
  let residualNorm = 0;
  let matrixNorm = 0;
  let solutionNorm = 0;
  let rhsNorm = 0;
  for (let s = 0; s < m; s++) {
    let product = 0;
    let rowSum = 0;
    if (s === replaced) {
      for (let t = 0; t < m; t++) {
        product += dots[t] * x[t];
        rowSum += Math.abs(dots[t]);
      }
    } else {
      const row = s * m;
      for (let t = 0; t < m; t++) {
        const a = gram[row + t];
        product += a * x[t];
        rowSum += Math.abs(a);
      }
      if (replaced >= 0) {
        const stale = gram[row + replaced];
        product += (dots[s] - stale) * x[replaced];
        rowSum += Math.abs(dots[s]) - Math.abs(stale);
      }
    }
    product += shift * x[s];
    rowSum += shift;
    residualNorm = Math.max(residualNorm, Math.abs(product - b[s]));
    matrixNorm = Math.max(matrixNorm, rowSum);
    solutionNorm = Math.max(solutionNorm, Math.abs(x[s]));
    rhsNorm = Math.max(rhsNorm, Math.abs(b[s]));
  }
  const scale = matrixNorm * solutionNorm + rhsNorm;
  // x = b = 0 (a zero gradient) is solved exactly.
  if (scale === 0) return residualNorm === 0 ? 0 : Number.NaN;
  const error = residualNorm / scale;
  return Number.isFinite(error) ? error : Number.NaN;
}
