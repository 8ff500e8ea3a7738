/**
 * Elementwise parts of SOAP: Adam's moments in the rotated coordinates, the reordering of the
 * second moment when the eigenbasis is refreshed, and the scaled write of the direction.
 */
import type { Floats } from "./apply.js";

/**
 * Adam's moments on the rotated gradient `rotated` (the tensor starting at `offset` of `m` and
 * `v`): `m ← β₁·m + (1−β₁)·g`, `v ← β₂·v + (1−β₂)·g²`, and `out ← m / (√v + eps)`.
 */
export function rotatedAdam(
  rotated: Float64Array,
  m: Floats,
  v: Floats,
  offset: number,
  beta1: number,
  beta2: number,
  eps: number,
  out: Float64Array,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < rotated.length; i++) {
    const g = rotated[i];
    const mi = beta1 * m[offset + i] + c1 * g;
    const vi = beta2 * v[offset + i] + c2 * g * g;
    m[offset + i] = mi;
    v[offset + i] = vi;
    out[i] = mi / (Math.sqrt(vi) + eps);
  }
}

/**
 * Reorders the rows (`byRows`) or columns of the `rows × cols` matrix at `offset` of `x`:
 * new row i is old row order[i] (columns likewise). `scratch` holds rows·cols entries.
 */
export function permuteMatrix(
  x: Floats,
  offset: number,
  rows: number,
  cols: number,
  order: Int32Array,
  byRows: boolean,
  scratch: Float64Array,
): void {
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      const from = byRows ? order[i] * cols + j : i * cols + order[j];
      scratch[i * cols + j] = x[offset + from];
    }
  }
  for (let q = 0; q < rows * cols; q++) x[offset + q] = scratch[q];
}

/** Root mean square of `x`. */
export function rootMeanSquare(x: Float64Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return x.length === 0 ? 0 : Math.sqrt(s / x.length);
}

/** `u[offset + i] ← factor·x[i]` for every i of `x`. */
export function writeScaled(x: Float64Array, factor: number, u: Floats, offset: number): void {
  for (let i = 0; i < x.length; i++) u[offset + i] = factor * x[i];
}
