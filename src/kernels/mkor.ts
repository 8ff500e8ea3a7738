/**
 * Loops of MKOR over one dense layer: the batch mean of clamped statistics, the rank-1
 * Sherman–Morrison update of a factor's inverse, and the norms of its rescaling.
 *
 * Sherman–Morrison (Sherman & Morrison, Annals of Mathematical Statistics 21(1), 1950): for an
 * invertible F and a vector v with 1 + c·vᵀF⁻¹v ≠ 0,
 *
 *     (F + c·v·vᵀ)⁻¹ = F⁻¹ − c·(F⁻¹v)(F⁻¹v)ᵀ / (1 + c·vᵀF⁻¹v)          (F symmetric)
 *
 * {@link shermanMorrisonUpdate} applies it to F⁻¹ = α·P + β·I for the stored inverse P, which
 * covers both the decay of the factor and a blend of the inverse with the identity in one
 * O(n²) pass. Matrices are n × n row-major float64.
 */

type Floats = Float32Array | Float64Array;

/**
 * `out[j] = (1/rows)·Σ_i clamp(a[i, j], −clip, clip)` for the rows × width matrix `a`; with
 * `appendOne`, `out[width]` is the clamped homogeneous coordinate min(1, clip).
 */
export function clampedColumnMean(
  a: Floats,
  rows: number,
  width: number,
  clip: number,
  appendOne: boolean,
  out: Float64Array,
): void {
  for (let j = 0; j < width; j++) out[j] = 0;
  for (let i = 0; i < rows; i++) {
    const row = i * width;
    for (let j = 0; j < width; j++) {
      const value = a[row + j];
      out[j] += value > clip ? clip : value < -clip ? -clip : value;
    }
  }
  for (let j = 0; j < width; j++) out[j] /= rows;
  if (appendOne) out[width] = Math.min(1, clip);
}

/**
 * With P' = α·P + β·I (P = `inverse`, n × n, symmetric), writes
 * `out = P' − c·(P'v)(P'v)ᵀ / (1 + c·vᵀP'v)`, the inverse of P'⁻¹ + c·v·vᵀ, and returns the
 * denominator 1 + c·vᵀP'v. When that is not a finite positive number (the update would not stay
 * positive definite) nothing is written. `out` may be `inverse`; `work` holds P'v (length n).
 */
export function shermanMorrisonUpdate(
  inverse: Float64Array,
  n: number,
  v: Float64Array,
  alpha: number,
  beta: number,
  c: number,
  work: Float64Array,
  out: Float64Array,
): number {
  let quadratic = 0;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let sum = beta * v[i];
    for (let j = 0; j < n; j++) sum += alpha * inverse[row + j] * v[j];
    work[i] = sum;
    quadratic += v[i] * sum;
  }
  const denominator = 1 + c * quadratic;
  if (!(denominator > 0 && denominator < Infinity)) return denominator;
  const factor = c / denominator;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    const wi = factor * work[i];
    for (let j = 0; j < n; j++) out[row + j] = alpha * inverse[row + j] - wi * work[j];
    out[row + i] += beta;
  }
  return denominator;
}

/** `m ← (1 − s)·m + s·I` for the n × n matrix `m`. */
export function blendWithIdentity(m: Float64Array, n: number, s: number): void {
  for (let k = 0; k < n * n; k++) m[k] *= 1 - s;
  for (let i = 0; i < n; i++) m[i * n + i] += s;
}

/** Largest |m[k]| (NaN if an entry is NaN). */
export function maxAbs(m: Float64Array): number {
  let largest = 0;
  for (let k = 0; k < m.length; k++) {
    const a = Math.abs(m[k]);
    if (a !== a) return NaN;
    if (a > largest) largest = a;
  }
  return largest;
}

/** √(Σ m[k]²) over `m[start … end)`. */
export function euclideanNorm(m: Float64Array, start: number, end: number): number {
  let sum = 0;
  for (let k = start; k < end; k++) sum += m[k] * m[k];
  return Math.sqrt(sum);
}
