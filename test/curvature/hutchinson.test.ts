// Hutchinson's diagonal estimator and AdaHessian's spatial averaging, against exact
// enumeration, closed-form variances and hand-computed averages.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  drawProbe,
  hutchinsonDiagonal,
  probeDiagonal,
  spatialAverage,
} from "../../src/curvature/hutchinson.js";
import type { HvpOracle } from "../../src/curvature/hutchinson.js";
import { InvalidArgumentError, NonFiniteError, ShapeMismatchError } from "../../src/errors.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";

// A symmetric 3×3 matrix whose entries and partial sums are exact in binary floating point.
const H = [
  [2, 1, -0.5],
  [1, 3, 0.25],
  [-0.5, 0.25, 1],
];
const layout = new Layout([{ name: "x", shape: [3] }], "float64");
const params = layout.zeros();
const hvp: HvpOracle = (_p, v, out) => {
  for (let i = 0; i < 3; i++) out[i] = H[i][0] * v[0] + H[i][1] * v[1] + H[i][2] * v[2];
};
const offDiagonalSquares = H.map((row, i) => row.reduce((s, h, j) => s + (j === i ? 0 : h * h), 0));

describe("Hutchinson diagonal", () => {
  it("is exactly unbiased over all 8 Rademacher sign vectors", () => {
    const sum = [0, 0, 0];
    const hv = new Float64Array(3);
    const est = new Float64Array(3);
    for (let mask = 0; mask < 8; mask++) {
      const v = Float64Array.from([0, 1, 2], (k) => ((mask >> k) & 1 ? -1 : 1));
      void hvp(params, v, hv);
      probeDiagonal(v, hv, est);
      for (let i = 0; i < 3; i++) sum[i] += est[i];
    }
    assert.deepEqual(
      sum.map((s) => s / 8),
      H.map((row, i) => row[i]),
    );
  });

  it("draws reproducible ±1 probes with both signs", async () => {
    const seen = new Set<number>();
    const v = new Float64Array(3);
    for (let s = 0; s < 32; s++) {
      drawProbe(v, "rademacher", 5, 0, s);
      for (const x of v) seen.add(x);
    }
    assert.deepEqual([...seen].sort(), [-1, 1]);
    const a = await hutchinsonDiagonal(hvp, layout, params, layout.zeros(), { seed: 3, stream: 9 });
    const b = await hutchinsonDiagonal(hvp, layout, params, layout.zeros(), { seed: 3, stream: 9 });
    assert.deepEqual(a, b);
    // One probe is v ⊙ Hv for the first probe of (seed, stream).
    const v0 = drawProbe(new Float64Array(3), "rademacher", 3, 9, 0);
    const hv0 = new Float64Array(3);
    void hvp(params, v0, hv0);
    assert.deepEqual(a, probeDiagonal(v0, hv0, new Float64Array(3)));
  });

  it("has the closed-form single-probe variance Σ_{j≠i} H_ij² for Rademacher probes", async () => {
    // (v⊙Hv)_i − H_ii = a·s1 + b·s2 with independent signs, so its square has mean a² + b² and
    // variance 4a²b²: the mean of N squares lies within 5·2|ab|/√N of a² + b² (5 standard errors).
    const N = 20000;
    const squares = [0, 0, 0];
    const out = layout.zeros();
    for (let s = 0; s < N; s++) {
      await hutchinsonDiagonal(hvp, layout, params, out, { seed: 11, stream: s });
      for (let i = 0; i < 3; i++) squares[i] += (out[i] - H[i][i]) ** 2;
    }
    for (let i = 0; i < 3; i++) {
      const [a, b] = H[i].filter((_, j) => j !== i);
      const bound = (5 * 2 * Math.abs(a * b)) / Math.sqrt(N);
      assert.ok(
        Math.abs(squares[i] / N - offDiagonalSquares[i]) <= bound,
        `coordinate ${i}: variance ${squares[i] / N} vs ${offDiagonalSquares[i]} (bound ${bound})`,
      );
    }
  });

  it("is unbiased with Gaussian probes (within 5 standard errors)", async () => {
    // Var[(v⊙Hv)_i] = 2 H_ii² + Σ_{j≠i} H_ij² for standard normal probes.
    const N = 20000;
    const est = await hutchinsonDiagonal(hvp, layout, params, layout.zeros(), {
      probes: N,
      distribution: "gaussian",
      seed: 2,
    });
    for (let i = 0; i < 3; i++) {
      const sd = Math.sqrt((2 * H[i][i] ** 2 + offDiagonalSquares[i]) / N);
      assert.ok(Math.abs(est[i] - H[i][i]) <= 5 * sd, `coordinate ${i}: ${est[i]} vs ${H[i][i]}`);
    }
  });

  it("is exact on a diagonal Hessian with one Rademacher probe (float32 layout)", async () => {
    const l32 = new Layout([{ name: "w", shape: [5] }], "float32");
    const d = [0.5, -2, 3, 0.25, 8];
    const out = await hutchinsonDiagonal(
      (_p, v, o) => {
        for (let i = 0; i < 5; i++) o[i] = d[i] * v[i];
      },
      l32,
      l32.zeros(),
      l32.zeros(),
    );
    assert.deepEqual([...out], d);
  });

  it("rejects bad inputs with clear errors", async () => {
    await assert.rejects(
      hutchinsonDiagonal(hvp, layout, params, new Float64Array(2)),
      ShapeMismatchError,
    );
    await assert.rejects(
      hutchinsonDiagonal(hvp, layout, new Float32Array(3), layout.zeros()),
      ShapeMismatchError,
    );
    await assert.rejects(
      hutchinsonDiagonal(
        (_p, _v, o: FloatArray) => {
          o.fill(1);
          o[2] = NaN;
        },
        layout,
        params,
        layout.zeros(),
      ),
      (e: unknown) => e instanceof NonFiniteError && /x\[2\] = NaN/.test(e.message),
    );
    await assert.rejects(
      hutchinsonDiagonal(hvp, layout, params, layout.zeros(), { probes: 0 }),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "probes",
    );
    await assert.rejects(
      hutchinsonDiagonal(hvp, layout, params, layout.zeros(), {
        distribution: "uniform" as "gaussian",
      }),
      InvalidArgumentError,
    );
    assert.throws(
      () => probeDiagonal(new Float64Array(3), new Float64Array(2), new Float64Array(3)),
      ShapeMismatchError,
    );
  });
});

describe("spatialAverage", () => {
  const conv = new Layout(
    [
      { name: "conv", shape: [2, 1, 2, 2] },
      { name: "fc", shape: [2, 3] },
      { name: "bias", shape: [2] },
    ],
    "float64",
  );
  const diag = Float64Array.from([1, -2, 3, -4, 0.5, -0.5, 1, -1, 1, -2, 3, -4, 5, -6, -7, 8]);

  it("averages |diag| over each kernel window and takes |·| elsewhere", () => {
    const out = spatialAverage(diag, conv, { out: conv.zeros() });
    // Kernel 0: (1 + 2 + 3 + 4)/4 = 2.5; kernel 1: (0.5 + 0.5 + 1 + 1)/4 = 0.75.
    assert.deepEqual(
      [...out],
      [2.5, 2.5, 2.5, 2.5, 0.75, 0.75, 0.75, 0.75, 1, 2, 3, 4, 5, 6, 7, 8],
    );
    assert.equal(diag[1], -2, "diag untouched when out is given");
  });

  it("optionally averages matrix rows over the last dimension, in place", () => {
    const copy = Float64Array.from(diag);
    const out = spatialAverage(copy, conv, { matrixRows: true });
    assert.equal(out, copy);
    // Rows of fc: (1 + 2 + 3)/3 = 2, (4 + 5 + 6)/3 = 5.
    assert.deepEqual([...out.subarray(8)], [2, 2, 2, 5, 5, 5, 7, 8]);
  });

  it("rejects a buffer of the wrong length and unknown options", () => {
    assert.throws(() => spatialAverage(new Float64Array(3), conv), ShapeMismatchError);
    assert.throws(() => spatialAverage(diag, conv, { rows: true } as never), InvalidArgumentError);
  });
});
