import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import type { Dataset } from "../../src/data/dataset.js";
import { standardize, subset, trainTestSplit } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Objective } from "../../src/oracles/objective.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import { digitsMlp } from "../../src/oracles/problems/digitsMlp.js";
import { classificationArrays, mlpClassifier } from "../../src/oracles/problems/mlp.js";
import { accuracy, softmaxRegression } from "../../src/oracles/problems/softmax.js";
import { adam } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillUniform } from "../helpers/inputs.js";
import { liveBufferCounter } from "./liveBuffers.js";

const digits = loadDigits();
const cancer = standardize(loadBreastCancer());

/** Every `step`-th row: a small, class-mixed sample for finite-difference checks. */
function sample(ds: Dataset, step: number): Dataset {
  return subset(
    ds,
    Array.from({ length: Math.floor(ds.rows / step) }, (_, i) => i * step),
  );
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function assertNear(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected} (tolerance ${tol})`,
  );
}

/**
 * Central differences along random directions: (f(θ+hv) − f(θ−hv))/2h against ∇f·v, and
 * (∇f(θ+hv) − ∇f(θ−hv))/2h against H·v, coordinate by coordinate.
 */
async function checkDerivatives(
  objective: Objective,
  theta: FloatArray,
  options: { h: number; tol: number; directions: number; seed: number },
): Promise<void> {
  const { layout } = objective;
  const grad = layout.zeros();
  await objective.valueAndGrad!(theta, grad);
  const plus = layout.zeros();
  const minus = layout.zeros();
  const gPlus = layout.zeros();
  const gMinus = layout.zeros();
  const hv = layout.zeros();
  for (let k = 0; k < options.directions; k++) {
    const v = fillUniform(layout.zeros(), options.seed + k);
    for (let i = 0; i < theta.length; i++) {
      plus[i] = theta[i] + options.h * v[i];
      minus[i] = theta[i] - options.h * v[i];
    }
    const fd = ((await objective.value(plus)) - (await objective.value(minus))) / (2 * options.h);
    assertNear(dot(grad, v), fd, options.tol, `directional derivative ${k}`);
    await objective.valueAndGrad!(plus, gPlus);
    await objective.valueAndGrad!(minus, gMinus);
    await objective.hvp!(theta, v, hv);
    const scale = Math.max(...hv.map(Math.abs));
    for (let i = 0; i < theta.length; i++) {
      const fdHv = (gPlus[i] - gMinus[i]) / (2 * options.h);
      assert.ok(
        Math.abs(hv[i] - fdHv) <= options.tol * Math.max(1, scale),
        `hvp ${k}[${i}]: ${hv[i]} vs ${fdHv}`,
      );
    }
  }
}

async function train(objective: Objective, params: ParamSet, steps: number, lr: number) {
  const optimizer = new Optimizer(params, adam({ learningRate: lr }));
  let last = NaN;
  for (let i = 0; i < steps; i++) last = (await optimizer.step(objective)).loss!;
  return last;
}

describe("logistic regression", () => {
  it("starts at zero with loss ln 2 and gradient of the class balance", async () => {
    const objective = logisticRegression(cancer);
    const zero = objective.initialParams();
    assert.ok(zero.every((v) => v === 0));
    const grad = objective.layout.zeros();
    // The mean of 569 equal terms carries a few ulps of summation error.
    assertNear(await objective.valueAndGrad(zero, grad), Math.LN2, 1e-13, "f(0)");
    // At zero σ = ½, so ∂f/∂b = ½ − mean(y) = ½ − 357/569.
    assertNear(grad[30], 0.5 - 357 / 569, 1e-14, "∂f/∂b");
  });

  it("gradient and HVP match finite differences; the penalty adds λ/2‖w‖²", async () => {
    const small = sample(cancer, 7);
    for (const l2 of [0, 0.3]) {
      const objective = logisticRegression(small, { l2 });
      const theta = fillUniform(objective.layout.zeros(), 3, 0.5);
      await checkDerivatives(objective, theta, { h: 1e-5, tol: 1e-7, directions: 3, seed: 10 });
    }
    const theta = fillUniform(new Float64Array(31), 4);
    const plain = await logisticRegression(small).value(theta);
    const penalized = await logisticRegression(small, { l2: 0.3 }).value(theta);
    assertNear(
      penalized - plain,
      0.15 * dot(theta.subarray(0, 30), theta.subarray(0, 30)),
      1e-12,
      "penalty",
    );
  });

  it("is stable for huge margins and learns the diagnosis (held-out accuracy > 0.93)", async () => {
    const { train: trainSet, test } = trainTestSplit(loadBreastCancer(), 0.25, 1);
    const scaledTest = standardize(test, trainSet);
    const objective = logisticRegression(standardize(trainSet), { l2: 1e-3 });
    const huge = objective.layout.zeros().fill(1e4);
    assert.ok(Number.isFinite(await objective.value(huge)));
    const params = new ParamSet(objective.layout, objective.initialParams());
    await train(objective, params, 300, 0.05);
    assert.ok(objective.accuracy(params.data) > 0.95, "training accuracy");
    const heldOut = await accuracy(objective, params.data, scaledTest);
    assert.ok(heldOut > 0.93, `held-out accuracy ${heldOut}`);
  });

  it("rejects more than two classes and bad options", () => {
    assert.throws(() => logisticRegression(digits), /classes must be 2/);
    assert.throws(() => logisticRegression(cancer, { l2: -1 }), InvalidArgumentError);
    assert.throws(
      () => logisticRegression(cancer, { dtype: "float16" as never }),
      InvalidArgumentError,
    );
  });
});

describe("softmax regression", () => {
  it("starts at zero with loss ln 10; ∂f/∂b = 1/K − class frequency", async () => {
    const objective = softmaxRegression(digits);
    const grad = objective.layout.zeros();
    assertNear(
      await objective.valueAndGrad(objective.initialParams(), grad),
      Math.LN10,
      1e-13, // the mean of 1797 equal terms carries a few ulps of summation error
      "f(0)",
    );
    const counts = new Array<number>(10).fill(0);
    for (const y of digits.labels) counts[y]++;
    for (let k = 0; k < 10; k++) {
      assertNear(grad[64 * 10 + k], 0.1 - counts[k] / digits.rows, 1e-14, `∂f/∂b${k}`);
    }
  });

  it("gradient and HVP match finite differences; the Hessian is symmetric and PSD", async () => {
    const small = sample(digits, 25);
    for (const l2 of [0, 0.1]) {
      const objective = softmaxRegression(small, { l2 });
      const theta = fillUniform(objective.layout.zeros(), 5, 0.3);
      await checkDerivatives(objective, theta, { h: 1e-5, tol: 1e-7, directions: 2, seed: 20 });
      const u = fillUniform(objective.layout.zeros(), 30);
      const v = fillUniform(objective.layout.zeros(), 31);
      const hu = objective.layout.zeros();
      const hvOut = objective.layout.zeros();
      await objective.hvp(theta, u, hu);
      await objective.hvp(theta, v, hvOut);
      assertNear(dot(v, hu), dot(u, hvOut), 1e-12, "vᵀHu = uᵀHv");
      assert.ok(dot(u, hu) >= 0, "uᵀHu ≥ 0");
    }
  });

  it("stays finite for huge logits and classifies digits (accuracy > 0.95 after 200 steps)", async () => {
    const objective = softmaxRegression(digits);
    const huge = fillUniform(objective.layout.zeros(), 6, 1e4);
    const grad = objective.layout.zeros();
    assert.ok(Number.isFinite(await objective.valueAndGrad(huge, grad)));
    assert.ok(grad.every(Number.isFinite));
    const params = new ParamSet(objective.layout, objective.initialParams());
    const loss = await train(objective, params, 200, 0.01);
    assert.ok(loss < 0.3, `loss ${loss}`);
    assert.ok(objective.accuracy(params.data) > 0.95);
  });

  it("float32 parameters give the float64 results rounded once", async () => {
    const small = sample(digits, 30);
    const f64 = softmaxRegression(small);
    const f32 = softmaxRegression(small, { dtype: "float32" });
    assert.equal(f32.layout.dtype, "float32");
    const theta32 = Float32Array.from(fillUniform(f64.layout.zeros(), 7, 0.2));
    const theta64 = Float64Array.from(theta32);
    assertNear(await f32.value(theta32), await f64.value(theta64), 1e-12, "same arithmetic");
    const g32 = f32.layout.zeros();
    const g64 = f64.layout.zeros();
    await f32.valueAndGrad(theta32, g32);
    await f64.valueAndGrad!(theta64, g64);
    for (let i = 0; i < g64.length; i++) assert.equal(g32[i], Math.fround(g64[i]));
  });
});

describe("jax-js MLP on the digits", () => {
  it("classificationArrays gives features and one-hot labels of the chosen rows", async () => {
    const { x, y } = classificationArrays(digits, { rows: [5, 0], dtype: "float64" });
    assert.deepEqual(x.shape, [2, 64]);
    assert.equal(x.dtype, "float64");
    const pixels = await x.data();
    assert.deepEqual([...pixels.subarray(0, 64)], [...digits.features.subarray(5 * 64, 6 * 64)]);
    const oneHot = await y.data();
    assert.deepEqual(
      [...oneHot],
      [
        ...Array.from({ length: 10 }, (_, k) => (k === digits.labels[5] ? 1 : 0)),
        1,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
      ],
    );
    assert.throws(() => classificationArrays(digits, { rows: [1797] }), /rows\[0\]/);
  });

  it("Glorot-uniform initialisation: seeded, within ±√(6/(fan_in+fan_out)), zero biases", async () => {
    const a = await digitsMlp({ seed: 3 });
    const b = await digitsMlp({ seed: 3 });
    const c = await digitsMlp({ seed: 4 });
    try {
      assert.deepEqual(
        a.layout.tensors.map((t) => [t.name, t.shape]),
        [
          ["layer1.weight", [64, 32]],
          ["layer1.bias", [32]],
          ["layer2.weight", [32, 10]],
          ["layer2.bias", [10]],
        ],
      );
      assert.equal(a.layout.dtype, "float32");
      assert.deepEqual(a.initialParams(), b.initialParams());
      assert.notDeepEqual(a.initialParams(), c.initialParams());
      const params = new ParamSet(a.layout, a.initialParams());
      for (const [name, fanIn, fanOut] of [
        ["layer1.weight", 64, 32],
        ["layer2.weight", 32, 10],
      ] as const) {
        const w = params.view(name);
        const limit = Math.sqrt(6 / (fanIn + fanOut));
        assert.ok(w.every((x) => Math.abs(x) <= limit));
        // U(−a, a) has variance a²/3; over ≥ 320 draws the sample variance is within 20%.
        const variance = dot(w, w) / w.length;
        assertNear(variance, (limit * limit) / 3, 0.2 * ((limit * limit) / 3), `${name} variance`);
      }
      assert.ok(params.view("layer1.bias").every((x) => x === 0));
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  it("loss ln 10 at zero weights; derivatives match finite differences (float64)", async () => {
    const objective = await mlpClassifier(sample(digits, 40), { hidden: 6, dtype: "float64" });
    try {
      assertNear(await objective.value(objective.layout.zeros()), Math.LN10, 1e-7, "f(0)");
      // jax-js computes tanh, exp and log to about float32 accuracy even in float64, hence the
      // step and tolerance.
      const theta = fillUniform(objective.layout.zeros(), 8, 0.5);
      await checkDerivatives(objective, theta, { h: 1e-3, tol: 1e-4, directions: 2, seed: 40 });
    } finally {
      objective.dispose();
    }
  });

  it("compiled float32 and eager float64 agree", async () => {
    const small = sample(digits, 30);
    const f32 = await mlpClassifier(small, { hidden: 8, seed: 2 });
    const f64 = await mlpClassifier(small, { hidden: 8, seed: 2, dtype: "float64" });
    try {
      const theta = f64.initialParams();
      const g32 = f32.layout.zeros();
      const g64 = f64.layout.zeros();
      const v32 = await f32.valueAndGrad(Float32Array.from(theta), g32);
      const v64 = await f64.valueAndGrad(theta, g64);
      assertNear(v32, v64, 1e-5, "loss");
      for (let i = 0; i < g64.length; i++) assert.ok(Math.abs(g32[i] - g64[i]) < 1e-5);
    } finally {
      f32.dispose();
      f64.dispose();
    }
  });

  it("mini-batches of one epoch partition the rows; each epoch reshuffles", async () => {
    const small = sample(digits, 18); // 99 rows
    const full = await mlpClassifier(small, { hidden: 8 });
    const batched = await mlpClassifier(small, { hidden: 8, batchSize: 33 });
    try {
      const theta = full.initialParams();
      const whole = await full.value(theta);
      let sum = 0;
      const firstEpoch: number[] = [];
      for (let k = 0; k < 3; k++) {
        batched.setBatch(k);
        firstEpoch.push(await batched.value(theta));
        sum += firstEpoch[k];
      }
      assertNear(sum / 3, whole, 1e-5, "mean of the batch losses = full loss");
      batched.setBatch(3);
      const secondEpoch = await batched.value(theta);
      assert.ok(!firstEpoch.includes(secondEpoch), "epoch 2 draws a new order");
      await assert.rejects(mlpClassifier(small, { batchSize: 100 }), InvalidArgumentError);
    } finally {
      full.dispose();
      batched.dispose();
    }
  });

  it("learns the digits (accuracy > 0.9 after 100 Adam steps) and frees every buffer", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const objective = await digitsMlp({ seed: 0 });
    const params = objective.paramSet();
    const loss = await train(objective, params, 100, 0.01);
    assert.ok(loss < 0.5, `loss ${loss}`);
    const trained = await objective.accuracy(params.data);
    assert.ok(trained > 0.9, `accuracy ${trained}`);
    const predicted = await objective.predict(params.data, subset(digits, [0, 1, 2]));
    assert.equal(predicted.length, 3);
    const relu = await mlpClassifier(sample(digits, 10), { activation: "relu", hidden: 8 });
    const grad = relu.layout.zeros();
    assert.ok(Number.isFinite(await relu.valueAndGrad(relu.initialParams(), grad)));
    relu.dispose();
    objective.dispose();
    assert.equal(liveBuffers(), before);
  });
});
