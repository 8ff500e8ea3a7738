// Dense reference computations for tests of orthogonalizing code, written from the definitions
// and independent of src/linalg: products, cyclic Jacobi eigendecomposition, singular values, the
// exact polar factor, and random matrices with prescribed singular values.
import { seededUniform } from "../helpers/inputs.js";

/** C = A·B for row-major A (m×k) and B (k×n), in float64. */
export function product(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      c[i * n + j] = s;
    }
  }
  return c;
}

/** Aᵀ for row-major A (rows×cols). */
export function transpose(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const t = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

/**
 * Eigendecomposition of the symmetric n×n matrix `a` by cyclic Jacobi rotations: returns the
 * eigenvalues and the eigenvectors as the columns of `vectors` (row-major), so that
 * A = V·diag(λ)·Vᵀ. Sweeps until the off-diagonal part is below 1e-30 of the Frobenius norm.
 */
export function jacobiEigen(
  a: ArrayLike<number>,
  n: number,
): { values: Float64Array; vectors: Float64Array } {
  const s = Float64Array.from(a);
  const v = new Float64Array(n * n);
  for (let i = 0; i < n; i++) v[i * n + i] = 1;
  let total = 0;
  for (let i = 0; i < n * n; i++) total += s[i] * s[i];
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < n; p++) for (let q = p + 1; q < n; q++) off += s[p * n + q] ** 2;
    if (off <= 1e-30 * total) break;
    for (let p = 0; p < n; p++) {
      for (let q = p + 1; q < n; q++) {
        const apq = s[p * n + q];
        if (apq === 0) continue;
        const theta = (s[q * n + q] - s[p * n + p]) / (2 * apq);
        const t = Math.sign(theta || 1) / (Math.abs(theta) + Math.sqrt(theta * theta + 1));
        const c = 1 / Math.sqrt(t * t + 1);
        const sn = t * c;
        for (let k = 0; k < n; k++) {
          const skp = s[k * n + p];
          const skq = s[k * n + q];
          s[k * n + p] = c * skp - sn * skq;
          s[k * n + q] = sn * skp + c * skq;
        }
        for (let k = 0; k < n; k++) {
          const spk = s[p * n + k];
          const sqk = s[q * n + k];
          s[p * n + k] = c * spk - sn * sqk;
          s[q * n + k] = sn * spk + c * sqk;
        }
        for (let k = 0; k < n; k++) {
          const vkp = v[k * n + p];
          const vkq = v[k * n + q];
          v[k * n + p] = c * vkp - sn * vkq;
          v[k * n + q] = sn * vkp + c * vkq;
        }
      }
    }
  }
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) values[i] = s[i * n + i];
  return { values, vectors: v };
}

/** Singular values of A (rows×cols), descending, from the eigenvalues of the smaller Gram matrix. */
export function singularValues(a: ArrayLike<number>, rows: number, cols: number): number[] {
  const short = Math.min(rows, cols);
  const at = transpose(a, rows, cols);
  const g = rows <= cols ? product(a, at, rows, cols, rows) : product(at, a, cols, rows, cols);
  const { values } = jacobiEigen(g, short);
  return Array.from(values, (l) => Math.sqrt(Math.max(l, 0))).sort((x, y) => y - x);
}

/**
 * The exact polar factor U·Vᵀ of a full-rank A = U·Σ·Vᵀ (rows×cols): A·(AᵀA)^(−1/2) when
 * rows ≥ cols, (A·Aᵀ)^(−1/2)·A otherwise, with the inverse square root from {@link jacobiEigen}.
 */
export function polarFactor(a: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const tall = rows >= cols;
  const n = tall ? cols : rows;
  const at = transpose(a, rows, cols);
  const g = tall ? product(at, a, cols, rows, cols) : product(a, at, rows, cols, rows);
  const { values, vectors } = jacobiEigen(g, n);
  const root = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++)
        s += (vectors[i * n + k] * vectors[j * n + k]) / Math.sqrt(values[k]);
      root[i * n + j] = s;
    }
  }
  return tall ? product(a, root, rows, cols, cols) : product(root, a, rows, rows, cols);
}

/** An n×k matrix (k ≤ n) with orthonormal columns, from seeded uniforms by Gram–Schmidt (twice). */
export function orthonormalColumns(n: number, k: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  const q = new Float64Array(n * k);
  for (let i = 0; i < n * k; i++) q[i] = next();
  for (let j = 0; j < k; j++) {
    for (let pass = 0; pass < 2; pass++) {
      for (let p = 0; p < j; p++) {
        let dot = 0;
        for (let i = 0; i < n; i++) dot += q[i * k + p] * q[i * k + j];
        for (let i = 0; i < n; i++) q[i * k + j] -= dot * q[i * k + p];
      }
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * k + j] ** 2;
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * k + j] /= norm;
  }
  return q;
}

/**
 * A = U·diag(σ)·Vᵀ (rows×cols) with random orthonormal U (rows×r), V (cols×r), r = σ.length ≤
 * min(rows, cols); also returns U and V.
 */
export function withSingularValues(
  rows: number,
  cols: number,
  sigma: readonly number[],
  seed: number,
): { a: Float64Array; u: Float64Array; v: Float64Array } {
  const r = sigma.length;
  const u = orthonormalColumns(rows, r, seed);
  const v = orthonormalColumns(cols, r, seed + 1);
  const a = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      let s = 0;
      for (let k = 0; k < r; k++) s += u[i * r + k] * sigma[k] * v[j * r + k];
      a[i * cols + j] = s;
    }
  }
  return { a, u, v };
}

/** A seeded rows×cols matrix with entries uniform in [−1, 1). */
export function randomMatrix(rows: number, cols: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  return Float64Array.from({ length: rows * cols }, () => next());
}
