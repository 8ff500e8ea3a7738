// Ground truth for M-FAC: the empirical Fisher of the gradient window written out as a dense d×d
// matrix and solved by Gaussian elimination with partial pivoting, then the official code's
// momentum and learning-rate steps. Works on per-tensor arrays, concatenated in layout order.
import type { FloatArray } from "../../src/params/layout.js";

/** Solves the dense system `a·x = b` (a is n×n, copied) by Gaussian elimination with pivoting. */
export function denseSolve(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const rows = a.map((row, i) => [...row, b[i]]);
  for (let col = 0; col < n; col++) {
    let best = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(rows[r][col]) > Math.abs(rows[best][col])) best = r;
    }
    [rows[col], rows[best]] = [rows[best], rows[col]];
    for (let r = col + 1; r < n; r++) {
      const factor = rows[r][col] / rows[col][col];
      for (let k = col; k <= n; k++) rows[r][k] -= factor * rows[col][k];
    }
  }
  const x = new Array<number>(n).fill(0);
  for (let i = n - 1; i >= 0; i--) {
    let sum = rows[i][n];
    for (let k = i + 1; k < n; k++) sum -= rows[i][k] * x[k];
    x[i] = sum / rows[i][i];
  }
  return x;
}

/** `(damp·I + (1/m)·Σ g gᵀ)⁻¹·v` with the d×d matrix built explicitly (m = gradients.length). */
export function denseInverseFisherProduct(
  gradients: readonly (readonly number[])[],
  damp: number,
  v: readonly number[],
): number[] {
  const d = v.length;
  const m = gradients.length;
  const fisher: number[][] = [];
  for (let i = 0; i < d; i++) {
    const row = new Array<number>(d).fill(0);
    row[i] = damp;
    for (const g of gradients) for (let j = 0; j < d; j++) row[j] += (g[i] * g[j]) / m;
    fisher.push(row);
  }
  return denseSolve(fisher, v);
}

/** Hyperparameters of {@link MfacReference}, in the official code's terms. */
export interface MfacReferenceOptions {
  lr: number;
  momentum: number;
  weightDecay: number;
  ngrads: number;
  damp: number;
}

/** Dense-solve M-FAC over per-tensor parameters; `params` are updated in place. */
export class MfacReference {
  /** The window, oldest replaced first; starts as `ngrads` zero gradients. */
  readonly window: number[][];
  /** The momentum buffer (concatenated). */
  velocity: number[];
  private last = 0;

  constructor(
    readonly params: FloatArray[],
    readonly options: MfacReferenceOptions,
  ) {
    const d = params.reduce((n, p) => n + p.length, 0);
    this.window = Array.from({ length: options.ngrads }, () => new Array<number>(d).fill(0));
    this.velocity = new Array<number>(d).fill(0);
  }

  step(grads: FloatArray[]): void {
    const { lr, momentum, weightDecay, ngrads, damp } = this.options;
    const g: number[] = [];
    this.params.forEach((p, k) => {
      for (let i = 0; i < p.length; i++) g.push(grads[k][i] + weightDecay * p[i]);
    });
    this.window[this.last] = g;
    this.last = (this.last + 1) % ngrads;
    let update = denseInverseFisherProduct(this.window, damp, g);
    if (momentum > 0) {
      this.velocity = this.velocity.map((v, i) => momentum * v + (1 - momentum) * update[i]);
      update = this.velocity;
    }
    let offset = 0;
    for (const p of this.params) {
      for (let i = 0; i < p.length; i++) p[i] -= lr * update[offset + i];
      offset += p.length;
    }
  }
}
