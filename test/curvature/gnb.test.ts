// The Gauss-Newton-Bartlett estimator on softmax regression: its mean over many label samples
// against the closed-form Gauss-Newton diagonal (1/n) Σ_i x_ij² p_ic (1 − p_ic).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { gnbDiagonal } from "../../src/curvature/gnb.js";
import type { Dataset } from "../../src/data/dataset.js";
import { InvalidArgumentError, MissingOracleError, ShapeMismatchError } from "../../src/errors.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { softmaxRegression } from "../../src/oracles/problems/softmax.js";

const n = 6;
const d = 3;
const K = 3;
const ds: Dataset = {
  features: Float64Array.from({ length: n * d }, (_, k) => Math.sin(1.7 * k + 0.3) * 1.5),
  labels: Int32Array.from({ length: n }, (_, i) => i % K),
  rows: n,
  cols: d,
  classes: K,
};
const model = softmaxRegression(ds);
const params = model.layout.zeros();
for (let k = 0; k < params.length; k++) params[k] = Math.cos(2.3 * k) * 0.8;

/** The Gauss-Newton diagonal of the mean cross-entropy, computed directly from its definition. */
function gaussNewtonDiagonal(): Float64Array {
  const out = new Float64Array(d * K + K);
  for (let i = 0; i < n; i++) {
    const z = Array.from({ length: K }, (_, c) => {
      let s = params[d * K + c];
      for (let j = 0; j < d; j++) s += ds.features[i * d + j] * params[j * K + c];
      return s;
    });
    const e = z.map((v) => Math.exp(v));
    const total = e.reduce((a, b) => a + b, 0);
    for (let c = 0; c < K; c++) {
      const p = e[c] / total;
      for (let j = 0; j < d; j++) out[j * K + c] += (ds.features[i * d + j] ** 2 * p * (1 - p)) / n;
      out[d * K + c] += (p * (1 - p)) / n;
    }
  }
  return out;
}

describe("gnbDiagonal", () => {
  const expected = gaussNewtonDiagonal();

  it("the closed form is the Hessian diagonal of softmax regression (linear model: GN = H)", () => {
    const e = model.layout.zeros();
    const h = model.layout.zeros();
    for (let k = 0; k < e.length; k++) {
      e.fill(0);
      e[k] = 1;
      model.hvp(params, e, h);
      assert.ok(Math.abs(h[k] - expected[k]) <= 1e-14, `coordinate ${k}`);
    }
  });

  it("has expectation equal to the Gauss-Newton diagonal (within 5 standard errors)", async () => {
    // Each estimate is n·ĝ⊙ĝ for an independent label sample; the mean of N of them lies within
    // 5 empirical standard errors of the closed form, coordinate by coordinate.
    const N = 4000;
    const size = model.layout.size;
    const sum = new Float64Array(size);
    const sumSquares = new Float64Array(size);
    const out = model.layout.zeros();
    for (let count = 0; count < N; count++) {
      const { sampledLoss } = await gnbDiagonal(model, params, out, {
        batchScale: n,
        seed: 17,
        count,
      });
      assert.ok(Number.isFinite(sampledLoss) && sampledLoss > 0);
      for (let k = 0; k < size; k++) {
        sum[k] += out[k];
        sumSquares[k] += out[k] * out[k];
      }
    }
    for (let k = 0; k < size; k++) {
      const mean = sum[k] / N;
      const sd = Math.sqrt((sumSquares[k] / N - mean * mean) / (N - 1));
      assert.ok(
        Math.abs(mean - expected[k]) <= 5 * sd,
        `coordinate ${k}: ${mean} vs ${expected[k]} (sd ${sd})`,
      );
    }
  });

  it("is reproducible for a given (seed, count) and differs across counts", async () => {
    const a = model.layout.zeros();
    const b = model.layout.zeros();
    const c = model.layout.zeros();
    await gnbDiagonal(model, params, a, { batchScale: n, seed: 1, count: 5 });
    await gnbDiagonal(model, params, b, { batchScale: n, seed: 1, count: 5 });
    assert.deepEqual(a, b);
    let differs = false;
    for (let count = 6; count < 12 && !differs; count++) {
      await gnbDiagonal(model, params, c, { batchScale: n, seed: 1, count });
      differs = c.some((v, k) => v !== a[k]);
    }
    assert.ok(differs);
  });

  it("samples the predicted label when the model is certain", () => {
    // Huge bias on class 2: every sampled label is 2, so the sampled gradient equals the true
    // gradient with all labels set to 2.
    const certain = model.layout.zeros();
    certain[d * K + 2] = 50;
    const g = model.layout.zeros();
    const reference = model.layout.zeros();
    const loss = model.sampledLabelGrad(certain, g, 3, 0);
    const relabeled = softmaxRegression({ ...ds, labels: new Int32Array(n).fill(2) });
    const refLoss = relabeled.valueAndGrad(certain, reference);
    assert.ok(Math.abs(loss - refLoss) <= 1e-15);
    for (let k = 0; k < g.length; k++) assert.ok(Math.abs(g[k] - reference[k]) <= 1e-15);
  });

  it("rejects bad inputs with clear errors", async () => {
    const out = model.layout.zeros();
    await assert.rejects(
      gnbDiagonal(illConditionedQuadratic({ dimension: 3 }), new Float64Array(3), out, {
        batchScale: 1,
      }),
      (e: unknown) => e instanceof MissingOracleError && /sampledLabelGrad/.test(e.message),
    );
    await assert.rejects(
      gnbDiagonal(model, params, new Float64Array(2), { batchScale: n }),
      ShapeMismatchError,
    );
    await assert.rejects(
      gnbDiagonal(model, params, out, {} as { batchScale: number }),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "batchScale",
    );
    await assert.rejects(
      gnbDiagonal(model, params, out, { batchScale: n, seed: -1 }),
      InvalidArgumentError,
    );
  });
});
