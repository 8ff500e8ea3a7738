import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nn, numpy as np } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import { gnbDiagonal } from "../../src/curvature/gnb.js";
import type { Dataset } from "../../src/data/dataset.js";
import { subset } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { loadTinyShakespeare } from "../../src/data/text.js";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import { jaxArray, jaxObjective } from "../../src/oracles/jax.js";
import { oraclesOf } from "../../src/oracles/objective.js";
import { charTransformer } from "../../src/oracles/problems/charTransformer.js";
import { classificationArrays, mlpClassifier } from "../../src/oracles/problems/mlp.js";
import type { MlpBatch } from "../../src/oracles/problems/mlp.js";
import { softmaxRegression } from "../../src/oracles/problems/softmax.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { sophiaG } from "../../src/optim/sophia.js";
import type { DType } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillUniform as philoxUniforms } from "../../src/random/distributions.js";
import { fillUniform } from "../helpers/inputs.js";
import { liveBufferCounter } from "./liveBuffers.js";

const digits = loadDigits();

/** Every `step`-th row of `ds`. */
function everyNth(ds: Dataset, step: number): Dataset {
  return subset(
    ds,
    Array.from({ length: Math.floor(ds.rows / step) }, (_, i) => i * step),
  );
}

function softmax(z: ArrayLike<number>): Float64Array {
  let max = -Infinity;
  for (let k = 0; k < z.length; k++) max = Math.max(max, z[k]);
  const p = new Float64Array(z.length);
  let sum = 0;
  for (let k = 0; k < z.length; k++) sum += p[k] = Math.exp(z[k] - max);
  for (let k = 0; k < z.length; k++) p[k] /= sum;
  return p;
}

/** The first class whose cumulative probability exceeds u (the last one if none does). */
function inverseCdf(p: ArrayLike<number>, u: number): number {
  let cumulative = 0;
  for (let k = 0; k < p.length - 1; k++) {
    cumulative += p[k];
    if (u < cumulative) return k;
  }
  return p.length - 1;
}

function typed(values: Float64Array, dtype: DType): Float32Array | Float64Array {
  return dtype === "float64" ? values : Float32Array.from(values);
}

/**
 * Logits = the bias, the same for all n rows: the sampled labels are n independent draws from
 * softmax(bias), and the bias gradient is p − counts/n, so it reveals the label counts.
 */
async function sharedBiasModel(bias: readonly number[], rows: number, dtype: DType) {
  const K = bias.length;
  type P = { bias: JaxArray };
  type D = { base: JaxArray; y: JaxArray };
  const labels = new Float64Array(rows * K);
  for (let i = 0; i < rows; i++) labels[i * K] = 1;
  const logitsOf = (p: P, d: D): JaxArray => np.add(d.base, p.bias);
  return jaxObjective<P, D>({
    params: { bias: jaxArray(typed(Float64Array.from(bias), dtype)) },
    data: {
      base: jaxArray(typed(new Float64Array(rows * K), dtype), [rows, K]),
      y: jaxArray(typed(labels, dtype), [rows, K]),
    },
    loss: (p, d) => {
      const logits = logitsOf(p, d);
      return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits, -1), d.y), -1)));
    },
    logits: logitsOf,
  });
}

describe("sampledLabelGrad of jax-js classifiers", () => {
  it("draws labels with the model's probabilities (χ² test) and returns their mean loss", async () => {
    const bias = [1, 0, -1, 0.5, -2];
    const rows = 20000;
    const p = softmax(bias);
    for (const dtype of ["float64", "float32"] as const) {
      const model = await sharedBiasModel(bias, rows, dtype);
      try {
        const grad = model.layout.zeros();
        const loss = await model.sampledLabelGrad!(model.initialParams(), grad, 12, 3);
        const counts = p.map((pk, k) => rows * (pk - grad[k]));
        // Every row carries exactly one label: the counts are integers summing to n, up to the
        // error of p·n (jax-js evaluates exp and log to about float32 accuracy even in float64,
        // 1e-7 relative, i.e. 0.002 of a count here) and of float32 sums of 20000 terms.
        const slack = dtype === "float64" ? 0.01 : 0.05;
        for (const c of counts) assert.ok(Math.abs(c - Math.round(c)) < slack, `count ${c}`);
        const whole = counts.map(Math.round);
        assert.equal(
          whole.reduce((s, c) => s + c, 0),
          rows,
        );
        // χ² with 4 degrees of freedom; 18.47 is its 0.999 quantile.
        const chiSquare = whole.reduce((s, c, k) => s + (c - rows * p[k]) ** 2 / (rows * p[k]), 0);
        assert.ok(chiSquare < 18.47, `χ² = ${chiSquare}, counts ${whole}, p ${p}`);
        const expectedLoss = whole.reduce((s, c, k) => s - c * Math.log(p[k]), 0) / rows;
        // float32: the mean of 20000 float32 terms is good to about 1e-4 relative.
        const tol = dtype === "float64" ? 1e-5 : 1e-3;
        assert.ok(Math.abs(loss - expectedLoss) < tol, `loss ${loss} vs ${expectedLoss}`);
      } finally {
        model.dispose();
      }
    }
  });

  it("picks the labels of softmaxRegression's closed form: row i inverts at uniform i of (seed, count)", async () => {
    const data = everyNth(digits, 10);
    const closedForm = softmaxRegression(data);
    const theta = fillUniform(closedForm.layout.zeros(), 5, 0.05);
    const expected = closedForm.layout.zeros();
    for (const dtype of ["float64", "float32"] as const) {
      type P = { weight: JaxArray; bias: JaxArray };
      const logitsOf = (p: P, d: MlpBatch): JaxArray => np.add(np.matmul(d.x, p.weight), p.bias);
      const model = await jaxObjective<P, MlpBatch>({
        params: new ParamSet(
          new Layout(
            closedForm.layout.tensors.map((t) => ({ name: t.name, shape: t.shape })),
            dtype,
          ),
        ),
        data: classificationArrays(data, { dtype }),
        loss: (p, d) =>
          np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logitsOf(p, d), -1), d.y), -1))),
        logits: logitsOf,
      });
      try {
        const grad = model.layout.zeros();
        const point = typed(theta as Float64Array, dtype);
        for (const [seed, count] of [
          [0, 0],
          [7, 1],
          [2 ** 40 + 3, 123456],
        ]) {
          const loss = closedForm.sampledLabelGrad(theta, expected, seed, count);
          const sampled = await model.sampledLabelGrad!(point, grad, seed, count);
          // The same labels leave only rounding: jax-js's float32-accurate log in the loss,
          // and in float32 the gradient's own rounding. One label drawn differently would move
          // some gradient entries by about 1/179.
          assert.ok(Math.abs(sampled - loss) < 1e-5, `${dtype} loss ${sampled} vs ${loss}`);
          const tol = dtype === "float64" ? 1e-8 : 1e-5;
          for (let i = 0; i < grad.length; i++) {
            assert.ok(
              Math.abs(grad[i] - expected[i]) < tol,
              `${dtype} (${seed}, ${count}) gradient[${i}]: ${grad[i]} vs ${expected[i]}`,
            );
          }
        }
      } finally {
        model.dispose();
      }
    }
  });

  it("gnbDiagonal averages to the Gauss-Newton diagonal of a tiny perceptron", async () => {
    // 12 rows, 3 features, 3 classes, 4 hidden units: 31 parameters.
    const rows = 12;
    const cols = 3;
    const classes = 3;
    const hidden = 4;
    const features = Float64Array.from(fillUniform(new Float64Array(rows * cols), 21, 1.5));
    const labels = Int32Array.from({ length: rows }, (_, i) => i % classes);
    const ds: Dataset = { features, labels, rows, cols, classes };
    // Compiled float32 keeps the 400 calls fast; the reference works from the same float32
    // parameters in float64.
    const model = await mlpClassifier(ds, { hidden, seed: 2 });
    try {
      assert.equal(model.batchScale, rows);
      const theta = model.initialParams();
      const noise = fillUniform(model.layout.zeros(), 22, 0.5);
      for (let i = 0; i < theta.length; i++) theta[i] += noise[i];

      // The reference: logits written out in plain TypeScript, their Jacobian by central
      // differences, then diag(Σ_i J_iᵀ (diag p_i − p_i p_iᵀ) J_i) / n.
      const [w1, b1, w2, b2] = model.layout.tensors;
      const logitsAt = (params: Float64Array, i: number): Float64Array => {
        const z = new Float64Array(classes);
        for (let k = 0; k < classes; k++) z[k] = params[b2.offset + k];
        for (let j = 0; j < hidden; j++) {
          let s = params[b1.offset + j];
          for (let a = 0; a < cols; a++)
            s += features[i * cols + a] * params[w1.offset + a * hidden + j];
          const h = Math.tanh(s);
          for (let k = 0; k < classes; k++) z[k] += h * params[w2.offset + j * classes + k];
        }
        return z;
      };
      const size = theta.length;
      const gaussNewton = new Float64Array(size);
      const center = Float64Array.from(theta);
      const shifted = Float64Array.from(theta);
      const step = 1e-6;
      for (let i = 0; i < rows; i++) {
        const p = softmax(logitsAt(center, i));
        for (let q = 0; q < size; q++) {
          shifted[q] = center[q] + step;
          const up = logitsAt(shifted, i);
          shifted[q] = center[q] - step;
          const down = logitsAt(shifted, i);
          shifted[q] = center[q];
          const column = up.map((u, k) => (u - down[k]) / (2 * step));
          let mean = 0;
          for (let k = 0; k < classes; k++) mean += p[k] * column[k];
          let quadratic = 0;
          for (let k = 0; k < classes; k++) quadratic += p[k] * column[k] * column[k];
          gaussNewton[q] += (quadratic - mean * mean) / rows;
        }
      }

      const samples = 400;
      const sum = new Float64Array(size);
      const sumSquares = new Float64Array(size);
      const estimate = model.layout.zeros();
      for (let s = 0; s < samples; s++) {
        await gnbDiagonal(model, theta, estimate, {
          batchScale: model.batchScale,
          seed: 9,
          count: s,
        });
        for (let q = 0; q < size; q++) {
          sum[q] += estimate[q];
          sumSquares[q] += estimate[q] * estimate[q];
        }
      }
      // Each coordinate's mean is within 5 standard errors (measured from the samples).
      let error = 0;
      let norm = 0;
      for (let q = 0; q < size; q++) {
        const mean = sum[q] / samples;
        const variance = (sumSquares[q] - samples * mean * mean) / (samples - 1);
        const standardError = Math.sqrt(Math.max(variance, 0) / samples);
        assert.ok(
          Math.abs(mean - gaussNewton[q]) <= 5 * standardError + 1e-9,
          `coordinate ${q}: mean ${mean} vs Gauss-Newton ${gaussNewton[q]} (se ${standardError})`,
        );
        error += Math.abs(mean - gaussNewton[q]);
        norm += Math.abs(gaussNewton[q]);
      }
      assert.ok(error / norm < 0.1, `relative L1 error ${error / norm}`);
    } finally {
      model.dispose();
    }
  });

  it("holds the labels fixed: the gradient is the derivative of the sampled loss", async () => {
    const model = await mlpClassifier(everyNth(digits, 20), { hidden: 6, dtype: "float64" });
    try {
      const theta = model.initialParams();
      const direction = fillUniform(model.layout.zeros(), 31);
      const grad = model.layout.zeros();
      await model.sampledLabelGrad(theta, grad, 4, 2);
      let slope = 0;
      for (let i = 0; i < grad.length; i++) slope += grad[i] * direction[i];
      // jax-js evaluates tanh and log to about float32 accuracy even in float64, so the step is
      // large enough for that noise (1e-7 relative) to stay below 1e-4 of the slope.
      const h = 1e-3;
      const at = (t: number) =>
        model.sampledLabelGrad(
          theta.map((x, i) => x + t * direction[i]),
          model.layout.zeros(),
          4,
          2,
        );
      const difference = ((await at(h)) - (await at(-h))) / (2 * h);
      assert.ok(
        Math.abs(difference - slope) <= 1e-3 * Math.max(1, Math.abs(slope)),
        `${difference} vs ${slope}`,
      );
    } finally {
      model.dispose();
    }
  });

  it("same (seed, count), same bits; another count or seed, another sample", async () => {
    const model = await mlpClassifier(everyNth(digits, 5), { hidden: 8 });
    try {
      const theta = model.initialParams();
      const first = model.layout.zeros();
      const again = model.layout.zeros();
      const lossA = await model.sampledLabelGrad(theta, first, 3, 1);
      const lossB = await model.sampledLabelGrad(theta, again, 3, 1);
      assert.equal(lossA, lossB);
      assert.deepEqual(again, first);
      for (const [seed, count] of [
        [3, 2],
        [4, 1],
      ]) {
        const other = model.layout.zeros();
        const loss = await model.sampledLabelGrad(theta, other, seed, count);
        assert.notEqual(loss, lossA);
        assert.ok(other.some((g, i) => g !== first[i]));
      }
      // The sampled loss is not the data loss: the labels are the model's, not the data set's.
      assert.notEqual(lossA, await model.value(theta));
    } finally {
      model.dispose();
    }
  });

  it("next-character labels of the transformer follow position order b·context + t", async () => {
    const text = loadTinyShakespeare().slice(0, 6000);
    const config = { layers: 1, dModel: 8, heads: 2, context: 6, batchSize: 3 };
    const model = await charTransformer(text, { ...config, dtype: "float64" });
    try {
      assert.equal(model.batchScale, config.batchSize * config.context);
      assert.ok(oraclesOf(model).includes("sampledLabelGrad"));
      const theta = model.initialParams();
      const noise = fillUniform(model.layout.zeros(), 8, 0.5);
      for (let i = 0; i < theta.length; i++) theta[i] += noise[i];
      model.setBatch(5);
      const ids = model.vocabulary.encode(text);
      const starts = model.batchStarts(5);
      const u = philoxUniforms(new Float64Array(model.batchScale), 17, 4);
      let expected = 0;
      for (let b = 0; b < config.batchSize; b++) {
        const window = ids.subarray(starts[b], starts[b] + config.context);
        const logits = await model.logits(theta, window);
        const vocab = logits.length / config.context;
        for (let t = 0; t < config.context; t++) {
          const p = softmax(logits.subarray(t * vocab, (t + 1) * vocab));
          expected -= Math.log(p[inverseCdf(p, u[b * config.context + t])]);
        }
      }
      expected /= model.batchScale;
      const sampled = await model.sampledLabelGrad(theta, model.layout.zeros(), 17, 4);
      // A single label drawn differently would move the mean of 18 terms by about 0.1; the
      // tolerance covers jax-js's float32-accurate transcendental functions.
      assert.ok(Math.abs(sampled - expected) < 1e-5, `${sampled} vs ${expected}`);
    } finally {
      model.dispose();
    }
  });

  it("leaks no jax-js buffers over 50 calls (compiled, eager, mini-batches)", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const data = everyNth(digits, 9);
    for (const dtype of ["float32", "float64"] as const) {
      const model = await mlpClassifier(data, { hidden: 5, dtype, batchSize: 50 });
      const theta = model.initialParams();
      const grad = model.layout.zeros();
      let steady = -1;
      for (let call = 0; call < 50; call++) {
        model.setBatch(call % 4);
        await model.sampledLabelGrad(theta, grad, 1, call);
        if (call === 4) steady = liveBuffers();
      }
      assert.equal(liveBuffers(), steady, `${dtype}: no growth from call to call`);
      model.dispose();
      assert.equal(liveBuffers(), before, `${dtype}: dispose frees everything`);
    }
  });

  it("SophiaG trains the digits perceptron with it", async () => {
    const model = await mlpClassifier(everyNth(digits, 3), { hidden: 16, seed: 1 });
    try {
      const optimizer = new Optimizer(
        model.paramSet(),
        sophiaG({ learningRate: 0.01, batchSize: model.batchScale, hessianInterval: 2 }),
      );
      const first = (await optimizer.step(model)).loss!;
      let last = first;
      for (let step = 1; step < 40; step++) last = (await optimizer.step(model)).loss!;
      assert.ok(last < 0.5 * first, `loss ${first} → ${last}`);
    } finally {
      model.dispose();
    }
  });

  it("validates its arguments and exists only with logits", async () => {
    const model = await sharedBiasModel([0, 1], 4, "float64");
    const theta = model.initialParams();
    const grad = model.layout.zeros();
    try {
      for (const [seed, count] of [
        [-1, 0],
        [1.5, 0],
        [2 ** 53, 0],
        [0, -2],
        [0, NaN],
      ]) {
        await assert.rejects(
          model.sampledLabelGrad!(theta, grad, seed, count),
          InvalidArgumentError,
        );
      }
      await assert.rejects(
        model.sampledLabelGrad!(theta, new Float64Array(3), 0, 0),
        ShapeMismatchError,
      );
    } finally {
      model.dispose();
    }
    await assert.rejects(
      jaxObjective({ params: np.zeros([2]), loss: (p) => np.sum(p), logits: 3 as never }),
      InvalidArgumentError,
    );
    const plain = await jaxObjective({ params: np.zeros([2]), loss: (p) => np.sum(p) });
    assert.ok(!oraclesOf(plain).includes("sampledLabelGrad"));
    plain.dispose();
    const scalar = await jaxObjective({
      params: np.zeros([2]),
      loss: (p) => np.sum(p),
      logits: (p) => np.sum(p),
    });
    await assert.rejects(
      scalar.sampledLabelGrad!(scalar.initialParams(), scalar.layout.zeros(), 0, 0),
      /class axis/,
    );
    scalar.dispose();
  });
});
