/**
 * Loops of the Kronecker-factored optimizers (K-FAC, MKOR) over one dense layer.
 *
 * A layer computes s = a·W + b with W stored [inputs, outputs] row-major. Its augmented weight
 * W̄ = [W; b] ((inputs + 1) × outputs, the bias as the last row) pairs with the augmented input
 * ā = [a, 1], so that the layer's gradient is (1/B)·Āᵀ·G for the B × (inputs + 1) matrix Ā of
 * augmented inputs and the B × outputs matrix G of pre-activation gradients. Without a bias,
 * W̄ = W and ā = a.
 *
 * In the eigenbasis of the factors A = Q_A·diag(α)·Q_Aᵀ and G = Q_G·diag(γ)·Q_Gᵀ the damped
 * Kronecker inverse acts entrywise: (A ⊗ G + λI)⁻¹ maps Q_Aᵀ·W̄·Q_G entry (i, j) to itself
 * divided by (α_i + σ_A)(γ_j + σ_G) + λ (σ the per-factor shifts of factored damping).
 *
 * Matrices are row-major; factor-space arithmetic is float64.
 */

type Floats = Float32Array | Float64Array;

/** `out` (rows × (width + 1)) ← [a, 1]: each row of `a` (rows × width) followed by a 1. */
export function appendOnes(a: Floats, rows: number, width: number, out: Float64Array): void {
  const stride = width + 1;
  for (let i = 0; i < rows; i++) {
    const from = i * width;
    const to = i * stride;
    for (let j = 0; j < width; j++) out[to + j] = a[from + j];
    out[to + width] = 1;
  }
}

/**
 * `out` ← W̄ read from the flat buffer `u`: the weight (inputs × outputs at `weightOffset`),
 * then the bias (outputs at `biasOffset`) as the last row when `biasOffset ≥ 0`.
 */
export function gatherLayer(
  u: Floats,
  weightOffset: number,
  biasOffset: number,
  inputs: number,
  outputs: number,
  out: Float64Array,
): void {
  const size = inputs * outputs;
  for (let k = 0; k < size; k++) out[k] = u[weightOffset + k];
  if (biasOffset >= 0) for (let j = 0; j < outputs; j++) out[size + j] = u[biasOffset + j];
}

/** Writes `scale·source` (W̄, laid out as in {@link gatherLayer}) back into the flat buffer `u`. */
export function scatterLayer(
  source: Float64Array,
  scale: number,
  u: Floats,
  weightOffset: number,
  biasOffset: number,
  inputs: number,
  outputs: number,
): void {
  const size = inputs * outputs;
  for (let k = 0; k < size; k++) u[weightOffset + k] = scale * source[k];
  if (biasOffset >= 0) {
    for (let j = 0; j < outputs; j++) u[biasOffset + j] = scale * source[size + j];
  }
}

/**
 * `m[i, j] ← m[i, j] / ((valuesA[i] + shiftA)·(valuesG[j] + shiftG) + damping)` for the
 * rows × cols matrix `m` in the factors' eigenbasis.
 */
export function divideByEigenvalueProducts(
  m: Float64Array,
  rows: number,
  cols: number,
  valuesA: Float64Array,
  valuesG: Float64Array,
  shiftA: number,
  shiftG: number,
  damping: number,
): void {
  for (let i = 0; i < rows; i++) {
    const alpha = valuesA[i] + shiftA;
    const row = i * cols;
    for (let j = 0; j < cols; j++) m[row + j] /= alpha * (valuesG[j] + shiftG) + damping;
  }
}

/** Sets every eigenvalue ≤ `floor` to 0 (rounding can leave a PSD factor's smallest ones negative). */
export function floorEigenvalues(values: Float64Array, floor: number): void {
  for (let i = 0; i < values.length; i++) if (!(values[i] > floor)) values[i] = 0;
}

/** Σ_k a[k]·b[k] over the first n entries, in float64. */
export function dot(a: Float64Array, b: Float64Array, n: number): number {
  let sum = 0;
  for (let k = 0; k < n; k++) sum += a[k] * b[k];
  return sum;
}

/** Trace of the n × n matrix `m`. */
export function trace(m: Float64Array, n: number): number {
  let sum = 0;
  for (let i = 0; i < n; i++) sum += m[i * n + i];
  return sum;
}

/** Index of the first entry of `values` that is NaN or ±Infinity, or −1. */
export function firstNonFiniteEntry(values: Floats): number {
  for (let k = 0; k < values.length; k++) if (!Number.isFinite(values[k])) return k;
  return -1;
}
