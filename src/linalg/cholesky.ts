/**
 * Cholesky factorization `A = L·Lᵀ` of a small dense symmetric positive definite matrix, and the
 * solves that use it. Matrices are row-major `Float64Array`s of `n·n` entries; only the lower
 * triangle of `A` is read, and only the lower triangle of `L` is written (the strict upper
 * triangle of the output is set to 0 so `L` is a plain lower-triangular matrix).
 *
 * Everything is float64 and allocation-free, so optimizers can factor an m×m system every step
 * (M-FAC's Gram matrix) without garbage.
 */

/**
 * Factors the symmetric positive definite `a` (n×n, row-major) into `out = L` with `A = L·Lᵀ`.
 * `out` may be `a` itself (in-place factorization).
 *
 * @returns `true` on success; `false` when a pivot is not positive (or not finite), i.e. `a` is
 *   not numerically positive definite. `out` is then partly written and must not be used.
 */
export function choleskyFactor(a: Float64Array, n: number, out: Float64Array): boolean {
  for (let j = 0; j < n; j++) {
    const rowJ = j * n;
    let pivot = a[rowJ + j];
    for (let k = 0; k < j; k++) pivot -= out[rowJ + k] * out[rowJ + k];
    // `!(pivot > 0)` also rejects NaN.
    if (!(pivot > 0) || pivot === Infinity) return false;
    const diagonal = Math.sqrt(pivot);
    out[rowJ + j] = diagonal;
    for (let i = j + 1; i < n; i++) {
      const rowI = i * n;
      let sum = a[rowI + j];
      for (let k = 0; k < j; k++) sum -= out[rowI + k] * out[rowJ + k];
      out[rowI + j] = sum / diagonal;
    }
    for (let k = j + 1; k < n; k++) out[rowJ + k] = 0;
  }
  return true;
}

/**
 * Solves `L·Lᵀ·x = b` given the factor `l` from {@link choleskyFactor}. `out` may be `b`.
 */
export function choleskySolve(
  l: Float64Array,
  n: number,
  b: ArrayLike<number>,
  out: Float64Array,
): void {
  // Forward substitution L·y = b.
  for (let i = 0; i < n; i++) {
    const row = i * n;
    let sum = b[i];
    for (let k = 0; k < i; k++) sum -= l[row + k] * out[k];
    out[i] = sum / l[row + i];
  }
  // Back substitution Lᵀ·x = y (column i of L is row i of Lᵀ).
  for (let i = n - 1; i >= 0; i--) {
    let sum = out[i];
    for (let k = i + 1; k < n; k++) sum -= l[k * n + i] * out[k];
    out[i] = sum / l[i * n + i];
  }
}
