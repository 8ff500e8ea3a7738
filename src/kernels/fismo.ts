/**
 * Elementwise part of FISMO's Kronecker factors (src/optim/fismo.ts): the damped moving average
 * of one factor, its trace normalization and symmetrization, in one pass over the n×n matrix.
 */

/**
 * One factor step of FISMO, for a factor F (n×n, row-major) and its fresh curvature estimate C
 * (the Gram term `(1/n')·G·X·Gᵀ`, already formed):
 *
 *     L = C + damping·(tr F / n)·I
 *     F̃ = decay·F + (1 − decay)·L
 *     out = sym((n / tr F̃)·F̃),   sym(A) = (A + Aᵀ)/2
 *
 * `out` may be `factor` itself: every entry of the result is computed from F and C, which are
 * read in full (the traces) before anything is written. Arithmetic is float64.
 */
export function fisherFactorStep(
  factor: Float64Array,
  curvature: Float64Array,
  n: number,
  decay: number,
  damping: number,
  out: Float64Array,
): void {
  let factorTrace = 0;
  let curvatureTrace = 0;
  for (let i = 0; i < n; i++) {
    factorTrace += factor[i * n + i];
    curvatureTrace += curvature[i * n + i];
  }
  const shift = damping * (factorTrace / n);
  const keep = 1 - decay;
  // tr F̃ = decay·tr F + (1 − decay)·(tr C + n·shift), without a second pass over the diagonal.
  const averagedTrace = decay * factorTrace + keep * (curvatureTrace + n * shift);
  const normalize = n / averagedTrace;
  for (let i = 0; i < n; i++) {
    const row = i * n;
    // The diagonal is its own transpose; the shift of L lands only there.
    out[row + i] = normalize * (decay * factor[row + i] + keep * (curvature[row + i] + shift));
    for (let j = 0; j < i; j++) {
      const upper = j * n + i;
      const lower = row + j;
      const averaged =
        0.5 *
        (decay * factor[lower] +
          keep * curvature[lower] +
          (decay * factor[upper] + keep * curvature[upper]));
      const value = normalize * averaged;
      out[lower] = value;
      out[upper] = value;
    }
  }
}
