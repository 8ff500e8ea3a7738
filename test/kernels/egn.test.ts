// EGN's loops against their definitions: F·Fᵀ reproduces every positive semidefinite block
// (singular ones included) and indefinite or non-finite blocks are reported; Fᵀ·J·diag(s) and
// the blocked Gram matrix agree with plain triple loops for every size around the block edges.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  factorSemidefiniteBlocks,
  factorTimesJacobian,
  rowGram,
  rowsTimes,
  rowsTransposeTimes,
  transposeRows,
} from "../../src/kernels/egn.js";
import { seededUniform } from "../helpers/inputs.js";

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Blocks: softmax cross-entropy diag(p) − ppᵀ (rank c − 1), a rank-1 block, an SPD block. */
function blocks(c: number, next: () => number): Float64Array {
  const out = new Float64Array(3 * c * c);
  const e = Array.from({ length: c }, () => Math.exp(4 * next()));
  const total = e.reduce((s, v) => s + v, 0);
  const p = e.map((v) => v / total);
  const v = Array.from({ length: c }, () => next());
  const A = Array.from({ length: c * c }, () => next());
  for (let k = 0; k < c; k++) {
    for (let l = 0; l < c; l++) {
      out[k * c + l] = (k === l ? p[k] : 0) - p[k] * p[l];
      out[c * c + k * c + l] = v[k] * v[l];
      let s = k === l ? 0.1 : 0;
      for (let m = 0; m < c; m++) s += A[k * c + m] * A[l * c + m];
      out[2 * c * c + k * c + l] = s;
    }
  }
  return out;
}

describe("factorSemidefiniteBlocks", () => {
  it("factors positive semidefinite blocks, singular or not, as F·Fᵀ", () => {
    const next = seededUniform(3);
    for (const c of [1, 2, 3, 5]) {
      const Q = blocks(c, next);
      const F = new Float64Array(Q.length);
      assert.equal(factorSemidefiniteBlocks(Q, 3, c, 1e-12, F, new Float64Array(c * c + c)), -1);
      for (let b = 0; b < 3; b++) {
        let scale = 0;
        for (let k = 0; k < c * c; k++) scale = Math.max(scale, Math.abs(Q[b * c * c + k]));
        for (let k = 0; k < c; k++) {
          for (let l = 0; l < c; l++) {
            let s = 0;
            for (let m = 0; m < c; m++) s += F[b * c * c + k * c + m] * F[b * c * c + l * c + m];
            const error = Math.abs(s - Q[b * c * c + k * c + l]);
            assert.ok(error <= 1e-14 * scale, `c ${c}, block ${b}, (${k}, ${l}): ${error}`);
          }
        }
      }
    }
  });

  it("reports the first block that is indefinite or not finite", () => {
    const scratch = new Float64Array(6);
    const out = new Float64Array(12);
    const ok = [2, 1, 1, 2];
    const indefinite = [1, 2, 2, 1];
    assert.equal(
      factorSemidefiniteBlocks(
        Float64Array.from([...ok, ...indefinite, ...ok]),
        3,
        2,
        1e-12,
        out,
        scratch,
      ),
      1,
    );
    assert.equal(
      factorSemidefiniteBlocks(
        Float64Array.from([...ok, ...ok, 1, 0, NaN, 1]),
        3,
        2,
        1e-12,
        out,
        scratch,
      ),
      2,
    );
    assert.equal(factorSemidefiniteBlocks(Float64Array.of(-1e-3), 1, 1, 1e-12, out, scratch), 0);
  });
});

describe("EGN row products", () => {
  it("forms Fᵀ·J·diag(s) block by block", () => {
    const next = seededUniform(9);
    const [b, c, d] = [3, 3, 7];
    const F = Float64Array.from({ length: b * c * c }, () => next());
    const J = Float64Array.from({ length: b * c * d }, () => next());
    const scale = Float64Array.from({ length: d }, () => 1 + next());
    const out = new Float64Array(b * c * d);
    factorTimesJacobian(F, J, b, c, d, scale, out);
    const expected = new Float64Array(b * c * d);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < c; k++) {
        for (let p = 0; p < d; p++) {
          let s = 0;
          for (let l = 0; l < c; l++) s += F[i * c * c + l * c + k] * J[(i * c + l) * d + p];
          expected[(i * c + k) * d + p] = s * scale[p];
        }
      }
    }
    assert.ok(maxAbsDiff(out, expected) < 1e-15, `${maxAbsDiff(out, expected)}`);
    factorTimesJacobian(F, J, b, c, d, null, out);
    for (let r = 0; r < b * c; r++) for (let p = 0; p < d; p++) expected[r * d + p] /= scale[p];
    assert.ok(maxAbsDiff(out, expected) < 1e-14, `${maxAbsDiff(out, expected)}`);
  });

  it("computes the lower triangle of rows·rowsᵀ + shift·I for every size around the blocks", () => {
    const next = seededUniform(11);
    for (let n = 1; n <= 9; n++) {
      for (const d of [1, 6]) {
        const rows = Float64Array.from({ length: n * d }, () => next());
        const out = new Float64Array(n * n).fill(NaN);
        rowGram(rows, n, d, 0.5, out);
        for (let i = 0; i < n; i++) {
          for (let j = 0; j <= i; j++) {
            let s = i === j ? 0.5 : 0;
            for (let p = 0; p < d; p++) s += rows[i * d + p] * rows[j * d + p];
            assert.ok(Math.abs(out[i * n + j] - s) < 1e-14, `n ${n}, d ${d}, (${i}, ${j})`);
          }
        }
      }
    }
  });

  it("multiplies by the rows and their transpose, and transposes", () => {
    const next = seededUniform(12);
    const [n, d] = [4, 5];
    const rows = Float64Array.from({ length: n * d }, () => next());
    const v = Float64Array.from({ length: d }, () => next());
    const w = Float64Array.from({ length: n }, () => next());
    const t = new Float64Array(n * d);
    transposeRows(rows, n, d, t);
    const Rv = new Float64Array(n);
    const Rtw = new Float64Array(d);
    rowsTimes(rows, n, d, v, Rv);
    rowsTransposeTimes(rows, n, d, w, Rtw);
    const viaTranspose = new Float64Array(d);
    rowsTimes(t, d, n, w, viaTranspose);
    assert.ok(maxAbsDiff(Rtw, viaTranspose) < 1e-15, "Rᵀw two ways");
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let p = 0; p < d; p++) s += rows[i * d + p] * v[p];
      assert.ok(Math.abs(Rv[i] - s) < 1e-15, `row ${i}`);
      for (let p = 0; p < d; p++) assert.equal(t[p * n + i], rows[i * d + p]);
    }
  });
});
