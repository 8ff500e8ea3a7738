/**
 * Symmetric eigendecomposition `A = V·diag(λ)·Vᵀ` of a small dense matrix: eigenvalues in
 * ascending order and orthonormal eigenvectors, in float64 whatever the storage precision.
 *
 * Method: Householder reduction to tridiagonal form, then the implicit QL iteration with
 * Wilkinson's shift (Golub & Van Loan, "Matrix Computations", 4th ed., 2013, §8.3; Bowdler,
 * Martin, Reinsch & Wilkinson, "The QR and QL algorithms for symmetric matrices", Numerische
 * Mathematik 11, 1968, the algorithm of EISPACK's tql2).
 *
 * 1. For k = 0 … n−3, a reflector H_k = I − τ_k·v_k·v_kᵀ (acting on indices k+1 … n−1) zeroes
 *    row and column k beyond the sub-diagonal: T = Qᵀ·A·Q with Q = H_0·H_1·…·H_{n−3}. With the
 *    trailing block B, p = τ·B·v and w = p − (τ/2)(pᵀv)·v, the update is B ← B − v·wᵀ − w·vᵀ.
 * 2. QL sweeps on the tridiagonal (d, e): each chases a bulge with plane rotations G, shifted by
 *    the eigenvalue of the leading 2×2 block nearer to its corner, until every off-diagonal entry
 *    falls below 2⁻⁵²·(|d_i| + |d_{i+1}|). Then T = Z·diag(λ)·Zᵀ with Z the product of the
 *    rotations, and V = Q·Z.
 *
 * Layout: the code keeps Vᵀ (eigenvectors as rows) so that reflectors and rotations touch
 * contiguous rows of a row-major array: Vᵀ starts as Qᵀ = H_{n−3}·…·H_0 and each rotation
 * replaces two of its rows. The result is transposed once into `vectors` (eigenvectors as
 * columns, numpy's convention). The matrix is scaled by its largest entry first, so the squares
 * inside the reflectors neither overflow nor underflow.
 *
 * Chosen over cyclic Jacobi (simpler, and more accurate for eigenvalues tiny relative to ‖A‖)
 * after measuring both on random symmetric matrices, n = 32 … 256: Jacobi took 5–8× longer
 * and left residuals ‖A·V − V·Λ‖ 2–10× larger (bench/linalg.ts reports this method's times).
 *
 * Accuracy (float64): ‖A·V − V·Λ‖ and ‖VᵀV − I‖ are a small multiple of n·2⁻⁵³·‖A‖ and n·2⁻⁵³;
 * eigenvalues are exact to ~2⁻⁵³·‖A‖ in absolute terms (not relative to small eigenvalues).
 * Eigenvector signs, and the basis chosen inside an eigenspace of a repeated eigenvalue, are
 * arbitrary but deterministic.
 */
import { NonFiniteError, ShapeMismatchError } from "../errors.js";
import { checkNumber } from "../optim/validate.js";
import type { MatrixData } from "./matmul.js";

/** QL sweeps allowed per eigenvalue before giving up; a handful is typical. */
const MAX_SWEEPS_PER_EIGENVALUE = 60;
const EPSILON = 2 ** -52;

// Float64 scratch reused across calls (one call at a time per realm, none re-entrant).
let workspace: Float64Array = new Float64Array(0);
let diagonal: Float64Array = new Float64Array(0);
let offDiagonal: Float64Array = new Float64Array(0);
let scales: Float64Array = new Float64Array(0);

/** The QL iteration did not converge (not observed for finite input; reported, never hidden). */
export class EighConvergenceError extends Error {
  constructor(n: number, index: number) {
    super(
      `eigh: the QL iteration did not converge for eigenvalue ${index} of a ${n}×${n} matrix ` +
        `within ${MAX_SWEEPS_PER_EIGENVALUE} sweeps`,
    );
    this.name = "EighConvergenceError";
  }
}

/**
 * Eigendecomposition of the symmetric n×n matrix `a` (row-major; only the lower triangle,
 * j ≤ i, is read): `values` receives the eigenvalues in ascending order and `vectors` (when not
 * null) the orthonormal eigenvectors as columns, so that A·V = V·diag(values). Arithmetic is
 * float64 throughout; float32 outputs are rounded once at the end.
 *
 * @param a - the symmetric matrix, n·n entries
 * @param n - its order
 * @param values - receives the n eigenvalues, ascending
 * @param vectors - receives V (n·n, column j the eigenvector of values[j]); may be `a` itself;
 *   `null` computes eigenvalues only (a fifth to a third of the time)
 * @throws `ShapeMismatchError` when an array's length does not match n
 * @throws `NonFiniteError` when the lower triangle of `a` holds NaN or ±Infinity
 * @throws {@link EighConvergenceError} if the iteration fails to converge
 */
export function eigh(
  a: MatrixData,
  n: number,
  values: MatrixData,
  vectors: MatrixData | null,
): void {
  checkNumber("eigh", "n", n, { min: 0, integer: true });
  if (a.length !== n * n) {
    throw new ShapeMismatchError(`eigh: a must hold n·n = ${n * n} entries, got ${a.length}`);
  }
  if (values.length !== n) {
    throw new ShapeMismatchError(`eigh: values must hold n = ${n} entries, got ${values.length}`);
  }
  if (vectors !== null && vectors.length !== n * n) {
    throw new ShapeMismatchError(
      `eigh: vectors must hold n·n = ${n * n} entries, got ${vectors.length}`,
    );
  }
  let largest = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const entry = a[i * n + j];
      if (!Number.isFinite(entry)) throw new NonFiniteError("eigh input", "a", i * n + j, entry);
      largest = Math.max(largest, Math.abs(entry));
    }
  }
  if (n === 0) return;
  if (workspace.length < n * n) workspace = new Float64Array(n * n);
  if (diagonal.length < n) {
    diagonal = new Float64Array(n);
    offDiagonal = new Float64Array(n);
    scales = new Float64Array(n);
  }
  const w = workspace;
  const d = diagonal;
  const e = offDiagonal;
  const tau = scales;
  // Scaling by the largest entry is exact up to one rounding per entry and keeps every
  // intermediate square far from overflow; it is undone on the eigenvalues at the end.
  const scale = largest === 0 ? 1 : largest;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) w[i * n + j] = a[i * n + j] / scale;
  }
  tridiagonalize(w, n, d, e, tau);
  const withVectors = vectors !== null;
  if (withVectors) accumulateReflectors(w, n, tau);
  qlIterate(d, e, n, withVectors ? w : null);
  sortAscending(d, n, withVectors ? w : null);
  for (let i = 0; i < n; i++) values[i] = d[i] * scale;
  if (vectors !== null) {
    // w holds Vᵀ; vectors[i, j] = V[i, j] = w[j, i].
    for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) vectors[i * n + j] = w[j * n + i];
  }
}

/**
 * Householder reduction of the symmetric `w` to tridiagonal (d, e), e[i] coupling d[i] and
 * d[i+1]. Only the lower triangle is read and updated, which halves the memory traffic of the
 * two O(n²) passes per step; row k's upper part receives v_k (entries k+1 … n−1) and tau[k]
 * its τ_k.
 */
function tridiagonalize(
  w: Float64Array,
  n: number,
  d: Float64Array,
  e: Float64Array,
  tau: Float64Array,
): void {
  const product = vectorScratch(n);
  for (let k = 0; k + 2 < n; k++) {
    const rowK = k * n;
    d[k] = w[rowK + k];
    // x = column k below the diagonal; it becomes v in row k's (otherwise unused) upper part.
    let normSquared = 0;
    for (let i = k + 1; i < n; i++) {
      const x = w[i * n + k];
      w[rowK + i] = x;
      normSquared += x * x;
    }
    const head = w[rowK + k + 1];
    if (normSquared === 0) {
      e[k] = 0;
      tau[k] = 0;
      continue;
    }
    // Reflect x onto −sign(x₀)·‖x‖·e₁, the choice that avoids cancellation in v₀ = x₀ − α.
    const alpha = head >= 0 ? -Math.sqrt(normSquared) : Math.sqrt(normSquared);
    e[k] = alpha;
    w[rowK + k + 1] = head - alpha;
    // vᵀv = ‖x‖² − x₀² + (x₀ − α)² = 2α² − 2x₀α.
    const t = 2 / (2 * alpha * alpha - 2 * head * alpha);
    tau[k] = t;
    // p = τ·B·v over the trailing block B = w[k+1:, k+1:] from its lower triangle: each stored
    // B[i, j] (j < i) serves row i's sum and, as B[j, i], row j's.
    for (let i = k + 1; i < n; i++) product[i] = 0;
    for (let i = k + 1; i < n; i++) {
      const rowI = i * n;
      const vi = w[rowK + i];
      let sum = 0;
      for (let j = k + 1; j < i; j++) {
        const entry = w[rowI + j];
        sum += entry * w[rowK + j];
        product[j] += entry * vi;
      }
      product[i] += sum + w[rowI + i] * vi;
    }
    let pv = 0;
    for (let i = k + 1; i < n; i++) {
      product[i] *= t;
      pv += product[i] * w[rowK + i];
    }
    // w = p − (τ/2)(pᵀv)·v, then B ← B − v·wᵀ − w·vᵀ on the lower triangle.
    const half = 0.5 * t * pv;
    for (let i = k + 1; i < n; i++) product[i] -= half * w[rowK + i];
    for (let i = k + 1; i < n; i++) {
      const rowI = i * n;
      const vi = w[rowK + i];
      const wi = product[i];
      for (let j = k + 1; j <= i; j++) w[rowI + j] -= vi * product[j] + wi * w[rowK + j];
    }
  }
  if (n >= 2) {
    d[n - 2] = w[(n - 2) * n + n - 2];
    e[n - 2] = w[(n - 1) * n + n - 2];
    tau[n - 2] = 0;
  }
  d[n - 1] = w[n * n - 1];
  e[n - 1] = 0;
  tau[n - 1] = 0;
}

/**
 * Overwrites `w` (reflectors in its rows) with Qᵀ = H_{n−3}·…·H_0, built as I·H_{n−3}·…·H_0 by
 * right products: before H_k is applied only rows and columns beyond k differ from I.
 */
function accumulateReflectors(w: Float64Array, n: number, tau: Float64Array): void {
  // Copy the reflectors out of the way of the rows they will produce: v_k goes to column k of
  // the strict lower triangle (rows k+1 … n−1), which is not otherwise needed.
  for (let k = 0; k + 2 < n; k++) {
    for (let i = k + 1; i < n; i++) w[i * n + k] = w[k * n + i];
  }
  // Below, w[i, 0 … k] still hold v_0 … v_k for rows i > k while the trailing block holds
  // the partial product; reflectors are read from column k before that column is reset.
  const v = vectorScratch(n);
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) w[i * n + j] = i === j ? 1 : 0;
  }
  // The one strict-lower entry outside every reflector's column starts as I's zero.
  if (n >= 2) w[(n - 1) * n + n - 2] = 0;
  for (let k = n - 3; k >= 0; k--) {
    const t = tau[k];
    for (let i = k + 1; i < n; i++) v[i] = w[i * n + k];
    if (t !== 0) {
      for (let i = k + 1; i < n; i++) {
        const rowI = i * n;
        let sum = 0;
        for (let j = k + 1; j < n; j++) sum += w[rowI + j] * v[j];
        const s = t * sum;
        for (let j = k + 1; j < n; j++) w[rowI + j] -= s * v[j];
      }
    }
    // Row k and column k of the product are e_k.
    for (let i = k + 1; i < n; i++) w[i * n + k] = 0;
  }
}

let vector: Float64Array = new Float64Array(0);
function vectorScratch(n: number): Float64Array {
  if (vector.length < n) vector = new Float64Array(n);
  return vector;
}

/**
 * Implicit QL with Wilkinson shifts on (d, e), leaving the eigenvalues in d. With `rows`, each
 * rotation G of columns (i, i+1) of Z is applied to rows i and i+1 of `rows` (= Zᵀ·Qᵀ).
 */
function qlIterate(d: Float64Array, e: Float64Array, n: number, rows: Float64Array | null): void {
  // A coupling is negligible next to the matrix, not next to its two neighbours on the diagonal:
  // measured against the running maximum of |d_l| + |e_l| (as EISPACK's tql2), a cluster of
  // eigenvalues far below the largest (a rank-deficient Gram matrix) still deflates, and the
  // error stays within ε times the norm, which is what the backward-stable bound promises anyway.
  let matrixScale = 0;
  for (let l = 0; l < n; l++) {
    matrixScale = Math.max(matrixScale, Math.abs(d[l]) + Math.abs(e[l]));
    let sweeps = 0;
    for (;;) {
      let m = l;
      for (; m < n - 1; m++) {
        if (Math.abs(e[m]) <= EPSILON * matrixScale) break;
      }
      if (m === l) break;
      if (++sweeps > MAX_SWEEPS_PER_EIGENVALUE) throw new EighConvergenceError(n, l);
      // Wilkinson's shift: the eigenvalue of [[d_l, e_l], [e_l, d_{l+1}]] nearer d_l.
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      let deflated = false;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          // The bulge vanished (an exact zero): the block has split; restart from it.
          d[i + 1] -= p;
          e[m] = 0;
          deflated = true;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        if (rows !== null) {
          const upper = i * n;
          const lower = upper + n;
          for (let q = 0; q < n; q++) {
            const x = rows[upper + q];
            const y = rows[lower + q];
            rows[lower + q] = s * x + c * y;
            rows[upper + q] = c * x - s * y;
          }
        }
      }
      if (deflated) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
}

/** Selection sort of d ascending, swapping the matching rows of `rows` (at most n swaps). */
function sortAscending(d: Float64Array, n: number, rows: Float64Array | null): void {
  for (let i = 0; i < n - 1; i++) {
    let smallest = i;
    for (let j = i + 1; j < n; j++) if (d[j] < d[smallest]) smallest = j;
    if (smallest === i) continue;
    const value = d[i];
    d[i] = d[smallest];
    d[smallest] = value;
    if (rows !== null) {
      const a = i * n;
      const b = smallest * n;
      for (let q = 0; q < n; q++) {
        const x = rows[a + q];
        rows[a + q] = rows[b + q];
        rows[b + q] = x;
      }
    }
  }
}
