/**
 * O(n²) updates of a Cholesky factor for a sliding window: the factored matrix loses its first
 * row and column and gains a new last one, as when the oldest entry of a window is replaced by a
 * new one and the matrix is kept in age order.
 *
 * The factor here is the upper triangular `R` with `A = Rᵀ·R`, stored row-major in `n·n`
 * entries: the transpose of the lower `L` that `choleskyFactor` (cholesky.ts) writes, the same
 * bytes as `L` stored column-major. Every loop below then walks rows of `R`, which are
 * contiguous.
 *
 * Removing the first row and column. With `A = [a₀₀ a₀ᵀ; a₀ A₁₁]` and `R = [r₀₀ r₀ᵀ; 0 R₁₁]`,
 *
 *     A₁₁ = R₁₁ᵀ·R₁₁ + r₀·r₀ᵀ,
 *
 * a rank-1 *update* of `R₁₁` (never a downdate), done by Givens rotations of `[R₁₁; r₀ᵀ]` that
 * annihilate `r₀` (Golub & Van Loan, "Matrix Computations", 4th ed., §6.5.4): orthogonal, hence
 * backward stable, and every new pivot `√(r_kk² + x_k²)` is at least the old one, so it cannot
 * fail on a positive definite input.
 *
 * Appending a last row and column `[A b; bᵀ γ]`: the new column `r = R⁻ᵀ·b` (forward
 * substitution) and pivot `ρ = √(γ − rᵀr)`, exactly the last step of a Cholesky factorization; it
 * fails (returns false) when `γ − rᵀr` is not positive, i.e. the bordered matrix is not
 * numerically positive definite.
 *
 * Both are O(n²) and allocation-free, against n³/3 for refactoring.
 */
/**
 * Writes into the leading (n−1)×(n−1) block of `out` (row stride n) the upper Cholesky factor of
 * `A` without its first row and column, given the upper factor `r` of `A` (n×n, row-major). The
 * last row and column of `out` are set to 0. `out` may be `r`.
 *
 * @param r - upper factor of A, `A = rᵀ·r`
 * @param n - order of A (≥ 1)
 * @param out - receives the factor of A₁₁ (leading block, stride n)
 * @param scratch - work vector of length ≥ n
 */
export function choleskyRemoveFirst(
  r: Float64Array,
  n: number,
  out: Float64Array,
  scratch: Float64Array,
): void {
  // x = r₀ᵀ, the row that the rotations fold into R₁₁.
  for (let j = 1; j < n; j++) scratch[j] = r[j];
  for (let k = 1; k < n; k++) {
    const source = k * n;
    // Row k of R becomes row k − 1 of the result. In place this overwrites row k − 1, which
    // was read (as row k − 1 of R) in the previous iteration.
    const target = (k - 1) * n - 1;
    const pivot = r[source + k];
    const xk = scratch[k];
    const radius = Math.hypot(pivot, xk);
    const cos = pivot / radius;
    const sin = xk / radius;
    out[target + k] = radius;
    for (let j = k + 1; j < n; j++) {
      const rj = r[source + j];
      const xj = scratch[j];
      out[target + j] = cos * rj + sin * xj;
      scratch[j] = cos * xj - sin * rj;
    }
    // Below the diagonal of row k − 1, and its last column (outside the block).
    out.fill(0, (k - 1) * n, target + k);
    out[k * n - 1] = 0;
  }
  out.fill(0, (n - 1) * n, n * n);
}

/**
 * Completes the upper factor of the bordered matrix `[A b; bᵀ γ]` (n×n) in place, given the
 * factor of `A` in the leading (n−1)×(n−1) block of `r` (row stride n): writes the last column
 * `R⁻ᵀ·b` and pivot `√(γ − |R⁻ᵀ·b|²)`, and zeros the rest of the last row.
 *
 * @param r - n×n buffer whose leading block holds the factor of A; completed in place
 * @param n - order of the bordered matrix (≥ 1)
 * @param column - b, length ≥ n − 1 (not modified)
 * @param diagonal - γ
 * @param scratch - work vector of length ≥ n
 * @returns `false` when `γ − |R⁻ᵀ·b|²` is not positive or not finite (the bordered matrix is
 *   not numerically positive definite); `r`'s last row and column are then partly written.
 */
export function choleskyAppendLast(
  r: Float64Array,
  n: number,
  column: ArrayLike<number>,
  diagonal: number,
  scratch: Float64Array,
): boolean {
  const last = n - 1;
  for (let j = 0; j < last; j++) scratch[j] = column[j];
  // Forward substitution Rᵀ·s = b by columns of Rᵀ (rows of R): once s_k is known, its share
  // leaves every later equation.
  let pivot = diagonal;
  for (let k = 0; k < last; k++) {
    const row = k * n;
    const sk = scratch[k] / r[row + k];
    scratch[k] = sk;
    r[row + last] = sk;
    pivot -= sk * sk;
    for (let j = k + 1; j < last; j++) scratch[j] -= r[row + j] * sk;
  }
  // `!(pivot > 0)` also rejects NaN.
  if (!(pivot > 0) || pivot === Infinity) return false;
  r.fill(0, last * n, last * n + last);
  r[last * n + last] = Math.sqrt(pivot);
  return true;
}

/**
 * Solves `Rᵀ·R·x = b` given the upper factor `r` (n×n, row-major). `out` may be `b`.
 */
export function choleskyUpperSolve(
  r: Float64Array,
  n: number,
  b: ArrayLike<number>,
  out: Float64Array,
): void {
  if (out !== b) for (let i = 0; i < n; i++) out[i] = b[i];
  // Rᵀ·y = b, by rows of R as in choleskyAppendLast.
  for (let k = 0; k < n; k++) {
    const row = k * n;
    const yk = out[k] / r[row + k];
    out[k] = yk;
    for (let j = k + 1; j < n; j++) out[j] -= r[row + j] * yk;
  }
  // R·x = y.
  for (let i = n - 1; i >= 0; i--) {
    const row = i * n;
    let sum = out[i];
    for (let j = i + 1; j < n; j++) sum -= r[row + j] * out[j];
    out[i] = sum / r[row + i];
  }
}

/**
 * Turns the lower factor `L` of `choleskyFactor` (n×n row-major, zero upper triangle) into the
 * upper factor `R = Lᵀ` that these updates keep, by transposing in place.
 */
export function choleskyLowerToUpper(a: Float64Array, n: number): void {
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const upper = a[i * n + j];
      a[i * n + j] = a[j * n + i];
      a[j * n + i] = upper;
    }
  }
}
