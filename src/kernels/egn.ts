/**
 * Loops of Exact Gauss-Newton (EGN) over the stacked output Jacobian: factoring the loss's
 * per-example output Hessians Q_i = F_i·F_iᵀ, forming Ĵ = Fᵀ·J (so that JᵀQJ = ĴᵀĴ), Gram
 * matrices of rows (Ĵ·Ĵᵀ on the push-through side; ĴᵀĴ as the Gram matrix of the transposed
 * rows), and products with Ĵ and Ĵᵀ. Matrices are row-major float64; Gram matrices are written
 * in their lower triangle only, which is all a Cholesky factorization reads.
 */

/**
 * Factors each of the `count` symmetric positive semidefinite `size`×`size` blocks of `blocks`
 * (row-major, consecutive; only their lower triangles are read) as Q = F·Fᵀ into `out`, by
 * Cholesky with diagonal pivoting: column k of F is the k-th pivot's column, in the rows of the
 * original indices. Pivoting on the largest remaining diagonal entry makes singular blocks safe
 * (softmax cross-entropy's, whose null space is the all-ones vector): once that entry is within
 * `tolerance`·(largest diagonal entry of the block) of zero, every remaining entry of the Schur
 * complement is too (|s_ij| ≤ √(s_ii·s_jj)), and the remaining columns are left zero.
 *
 * @param scratch - at least size² + size entries (the Schur complement and the pivot marks)
 * @returns −1, or the index of the first block that is not positive semidefinite (a remaining
 *   diagonal entry below −tolerance·scale) or holds a non-finite entry; `out` is then partly
 *   written.
 */
export function factorSemidefiniteBlocks(
  blocks: Float64Array,
  count: number,
  size: number,
  tolerance: number,
  out: Float64Array,
  scratch: Float64Array,
): number {
  const area = size * size;
  const schur = scratch;
  const chosen = area;
  for (let block = 0; block < count; block++) {
    const base = block * area;
    let scale = 0;
    for (let i = 0; i < size; i++) {
      for (let j = 0; j <= i; j++) {
        const v = blocks[base + i * size + j];
        if (!Number.isFinite(v)) return block;
        schur[i * size + j] = v;
        schur[j * size + i] = v;
      }
      scale = Math.max(scale, Math.abs(schur[i * size + i]));
      scratch[chosen + i] = 0;
    }
    out.fill(0, base, base + area);
    const floor = tolerance * scale;
    for (let k = 0; k < size; k++) {
      let pivotIndex = -1;
      let pivot = -Infinity;
      for (let i = 0; i < size; i++) {
        if (scratch[chosen + i] !== 0) continue;
        const diagonal = schur[i * size + i];
        if (diagonal < -floor) return block;
        if (diagonal > pivot) {
          pivot = diagonal;
          pivotIndex = i;
        }
      }
      if (pivot <= floor) break;
      const root = Math.sqrt(pivot);
      for (let i = 0; i < size; i++) {
        if (scratch[chosen + i] === 0)
          out[base + i * size + k] = schur[i * size + pivotIndex] / root;
      }
      scratch[chosen + pivotIndex] = 1;
      for (let i = 0; i < size; i++) {
        if (scratch[chosen + i] !== 0) continue;
        const fi = out[base + i * size + k];
        for (let j = 0; j < size; j++) {
          if (scratch[chosen + j] === 0) schur[i * size + j] -= fi * out[base + j * size + k];
        }
      }
    }
  }
  return -1;
}

/**
 * `out = Fᵀ·J·diag(columnScale)` block by block: for example i, rows i·c … i·c + c − 1 of `out`
 * are F_iᵀ times the same rows of `jacobian` (d columns), F_i from
 * {@link factorSemidefiniteBlocks}, each column p then multiplied by `columnScale[p]` (none when
 * `columnScale` is null). With c = 1 this scales each row by √q_i.
 */
export function factorTimesJacobian(
  factor: Float64Array,
  jacobian: Float64Array,
  examples: number,
  outputs: number,
  d: number,
  columnScale: Float64Array | null,
  out: Float64Array,
): void {
  const c = outputs;
  const area = c * c;
  for (let i = 0; i < examples; i++) {
    for (let k = 0; k < c; k++) {
      const target = (i * c + k) * d;
      out.fill(0, target, target + d);
      // Row k of F_iᵀ is column k of F_i.
      for (let l = 0; l < c; l++) {
        const weight = factor[i * area + l * c + k];
        if (weight === 0) continue;
        const source = (i * c + l) * d;
        for (let p = 0; p < d; p++) out[target + p] += weight * jacobian[source + p];
      }
      if (columnScale) for (let p = 0; p < d; p++) out[target + p] *= columnScale[p];
    }
  }
}

/**
 * Lower triangle of `rows·rowsᵀ + shift·I` (n×n) for the n×d row-major `rows`. Two rows are
 * paired with four others per pass over d, so each loaded entry serves several products: the
 * loop is bound by memory traffic, which this blocking cuts about fourfold.
 */
export function rowGram(
  rows: Float64Array,
  n: number,
  d: number,
  shift: number,
  out: Float64Array,
): void {
  for (let i = 0; i < n; i += 2) {
    const pair = i + 1 < n;
    const a0 = i * d;
    const a1 = pair ? a0 + d : a0;
    const last = pair ? i + 1 : i;
    let j = 0;
    for (; j + 3 <= last; j += 4) {
      const b0 = j * d;
      const b1 = b0 + d;
      const b2 = b1 + d;
      const b3 = b2 + d;
      let s00 = 0;
      let s01 = 0;
      let s02 = 0;
      let s03 = 0;
      let s10 = 0;
      let s11 = 0;
      let s12 = 0;
      let s13 = 0;
      for (let p = 0; p < d; p++) {
        const x0 = rows[a0 + p];
        const x1 = rows[a1 + p];
        const y0 = rows[b0 + p];
        const y1 = rows[b1 + p];
        const y2 = rows[b2 + p];
        const y3 = rows[b3 + p];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
      }
      // j + 3 ≤ last ≤ i + 1, so only the fourth entry of row i can fall above the diagonal.
      const r0 = i * n + j;
      out[r0] = s00;
      out[r0 + 1] = s01;
      out[r0 + 2] = s02;
      if (j + 3 <= i) out[r0 + 3] = s03;
      if (pair) {
        const r1 = r0 + n;
        out[r1] = s10;
        out[r1 + 1] = s11;
        out[r1 + 2] = s12;
        out[r1 + 3] = s13;
      }
    }
    for (; j <= last; j++) {
      const b = j * d;
      let s0 = 0;
      let s1 = 0;
      for (let p = 0; p < d; p++) {
        const y = rows[b + p];
        s0 += rows[a0 + p] * y;
        s1 += rows[a1 + p] * y;
      }
      if (j <= i) out[i * n + j] = s0;
      if (pair) out[(i + 1) * n + j] = s1;
    }
  }
  if (shift !== 0) for (let i = 0; i < n; i++) out[i * n + i] += shift;
}

/** `out = rowsᵀ` (d×n row-major) for the n×d row-major `rows`. */
export function transposeRows(rows: Float64Array, n: number, d: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    const base = i * d;
    for (let p = 0; p < d; p++) out[p * n + i] = rows[base + p];
  }
}

/** `out = rows·v` (length n) for the n×d row-major `rows`. */
export function rowsTimes(
  rows: Float64Array,
  n: number,
  d: number,
  v: Float64Array,
  out: Float64Array,
): void {
  for (let i = 0; i < n; i++) {
    const base = i * d;
    let sum = 0;
    for (let p = 0; p < d; p++) sum += rows[base + p] * v[p];
    out[i] = sum;
  }
}

/** `out = rowsᵀ·coefficients` (length d) for the n×d row-major `rows`. */
export function rowsTransposeTimes(
  rows: Float64Array,
  n: number,
  d: number,
  coefficients: Float64Array,
  out: Float64Array,
): void {
  out.fill(0, 0, d);
  for (let i = 0; i < n; i++) {
    const c = coefficients[i];
    if (c === 0) continue;
    const base = i * d;
    for (let p = 0; p < d; p++) out[p] += c * rows[base + p];
  }
}
