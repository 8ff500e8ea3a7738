// The output-Jacobian oracle: the tanh teacher-student regression and logistic regression give
// the Jacobian of their outputs (checked against central differences of the outputs), output
// derivatives consistent with their gradient ((1/b)·Jᵀ∇_zℓ + π⊙θ = ∇f), and a Gauss-Newton
// matrix that matches the true curvature where it must (zero residual; linear outputs).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import { standardize, subset } from "../../src/data/dataset.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { countingObjective, totalCalls, zeroCounts } from "../../src/oracles/counting.js";
import type { Objective, OutputJacobian } from "../../src/oracles/objective.js";
import { oraclesOf, requireOracle } from "../../src/oracles/objective.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import { nonlinearRegression } from "../../src/oracles/problems/nonlinearRegression.js";
import type { FloatArray } from "../../src/params/layout.js";
import { fillUniform } from "../helpers/inputs.js";

function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** (1/b)·Jᵀ·∇_zℓ + π⊙θ: the gradient the oracle's pieces imply. */
function impliedGradient(o: OutputJacobian, params: FloatArray): Float64Array {
  const d = params.length;
  const n = o.examples * o.outputs;
  const g = new Float64Array(d);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) g[j] += (o.jacobian[r * d + j] * o.outputGradient[r]) / o.examples;
  }
  if (o.penalty) for (let j = 0; j < d; j++) g[j] += o.penalty[j] * params[j];
  return g;
}

/** (1/b)·JᵀQJ·v + π⊙v, straight from the definition (Q block diagonal). */
function gaussNewtonTimes(o: OutputJacobian, v: ArrayLike<number>): Float64Array {
  const { examples: b, outputs: c, jacobian: J, outputHessian: Q } = o;
  const d = v.length;
  const Jv = new Float64Array(b * c);
  for (let r = 0; r < b * c; r++) for (let j = 0; j < d; j++) Jv[r] += J[r * d + j] * v[j];
  const QJv = new Float64Array(b * c);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < c; k++) {
      for (let l = 0; l < c; l++) QJv[i * c + k] += Q[i * c * c + k * c + l] * Jv[i * c + l];
    }
  }
  const out = new Float64Array(d);
  for (let r = 0; r < b * c; r++) for (let j = 0; j < d; j++) out[j] += (J[r * d + j] * QJv[r]) / b;
  if (o.penalty) for (let j = 0; j < d; j++) out[j] += o.penalty[j] * v[j];
  return out;
}

describe("nonlinearRegression", () => {
  it("has the Jacobian of its outputs (central differences), float64", () => {
    for (const outputs of [1, 3]) {
      const f = nonlinearRegression({ examples: 7, outputs, hidden: 4, seed: 5 });
      const theta = f.initialParams();
      const d = f.layout.size;
      const { jacobian, examples, outputs: c } = f.outputJacobian(theta);
      assert.equal(examples, 7);
      assert.equal(c, outputs);
      const J = jacobian.slice();
      const h = 1e-6;
      const plus = new Float64Array(7 * c);
      const minus = new Float64Array(7 * c);
      let worst = 0;
      for (let j = 0; j < d; j++) {
        const t = Float64Array.from(theta);
        t[j] += h;
        f.predict(t, plus);
        t[j] -= 2 * h;
        f.predict(t, minus);
        for (let r = 0; r < 7 * c; r++) {
          worst = Math.max(worst, Math.abs((plus[r] - minus[r]) / (2 * h) - J[r * d + j]));
        }
      }
      assert.ok(worst < 1e-8 * Math.max(1, maxAbs(J)), `outputs ${outputs}: ${worst}`);
    }
  });

  it("gives residuals as output gradients, identity output Hessians, and ∇f = (1/b)·Jᵀ(z − y)", () => {
    const f = nonlinearRegression({ examples: 9, outputs: 2, seed: 2 });
    const theta = f.initialParams();
    const o = f.outputJacobian(theta);
    const z = f.predict(theta);
    const residuals = z.map((v, i) => v - f.targets[i]);
    assert.ok(
      maxAbsDiff(o.outputGradient, residuals) === 0,
      `maxAbsDiff(o.outputGradient, residuals) === 0`,
    );
    for (let i = 0; i < 9; i++) {
      assert.deepEqual([...o.outputHessian.subarray(i * 4, i * 4 + 4)], [1, 0, 0, 1]);
    }
    assert.equal(o.penalty, undefined);
    let sum = 0;
    for (const r of residuals) sum += 0.5 * r * r;
    const g = f.layout.zeros();
    const value = f.valueAndGrad(theta, g);
    assert.ok(
      Math.abs(value - sum / 9) <= 1e-15 * value,
      `Math.abs(value - sum / 9) <= 1e-15 * value`,
    );
    assert.ok(Math.abs(f.value(theta) - value) === 0, `Math.abs(f.value(theta) - value) === 0`);
    const implied = impliedGradient(f.outputJacobian(theta), theta);
    assert.ok(maxAbsDiff(implied, g) <= 1e-14 * maxAbs(g), `${maxAbsDiff(implied, g)}`);
    // The gradient also matches central differences of the value.
    const h = 1e-6;
    for (let j = 0; j < theta.length; j += 3) {
      const t = Float64Array.from(theta);
      t[j] += h;
      const up = f.value(t);
      t[j] -= 2 * h;
      const down = f.value(t);
      assert.ok(Math.abs((up - down) / (2 * h) - g[j]) < 1e-8, `coordinate ${j}`);
    }
  });

  it("has zero loss at the teacher, where the Gauss-Newton matrix is the Hessian", () => {
    const f = nonlinearRegression({ seed: 4 });
    assert.equal(f.optimalValue, 0);
    const star = f.teacherParams()!;
    assert.ok(f.value(star) <= 1e-28, `f.value(star) <= 1e-28`);
    const o = f.outputJacobian(star);
    // f(θ* ± εv) = ½ε²·vᵀGv + O(ε⁴) when the residuals vanish.
    const v = fillUniform(new Float64Array(f.layout.size), 8);
    const Gv = gaussNewtonTimes(o, v);
    let vGv = 0;
    for (let j = 0; j < v.length; j++) vGv += v[j] * Gv[j];
    const eps = 1e-4;
    const moved = (s: number) => f.value(star.map((t, j) => t + s * eps * v[j]));
    const curvature = (moved(1) + moved(-1)) / (eps * eps);
    assert.ok(Math.abs(curvature - vGv) <= 1e-6 * vGv, `${curvature} vs ${vGv}`);
  });

  it("is deterministic in its seed and works in float32", () => {
    const a = nonlinearRegression({ seed: 3 });
    const b = nonlinearRegression({ seed: 3 });
    const c = nonlinearRegression({ seed: 4 });
    assert.deepEqual(a.targets, b.targets);
    assert.deepEqual(a.initialParams(), b.initialParams());
    assert.notDeepEqual(a.targets, c.targets);
    const single = nonlinearRegression({ seed: 3, dtype: "float32" });
    const theta = single.initialParams();
    assert.ok(theta instanceof Float32Array, `theta instanceof Float32Array`);
    const g = single.layout.zeros();
    const value = single.valueAndGrad(theta, g);
    const reference = a.layout.zeros();
    a.valueAndGrad(Float64Array.from(theta), reference);
    assert.ok(
      Math.abs(value - a.value(Float64Array.from(theta))) <= 1e-12 * value,
      `Math.abs(value - a.value(Float64Array.from(theta))) <= 1e-12 * value`,
    );
    assert.ok(
      maxAbsDiff(g, reference) <= 1e-6 * maxAbs(reference),
      `maxAbsDiff(g, reference) <= 1e-6 * maxAbs(reference)`,
    );
    const noisy = nonlinearRegression({ seed: 3, noise: 0.1 });
    assert.equal(noisy.optimalValue, undefined);
    assert.ok(maxAbsDiff(noisy.targets, a.targets) > 0, `maxAbsDiff(noisy.targets, a.targets) > 0`);
  });

  it("rejects bad options, naming them", () => {
    for (const [options, parameter] of [
      [{ examples: 0 }, "examples"],
      [{ outputs: 1.5 }, "outputs"],
      [{ noise: -1 }, "noise"],
      [{ dtype: "float16" }, "dtype"],
      [{ width: 3 }, "width"],
    ] as const) {
      assert.throws(
        () => nonlinearRegression(options as never),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
      );
    }
  });
});

describe("logisticRegression.outputJacobian", () => {
  const data = subset(
    standardize(loadBreastCancer()),
    Array.from({ length: 60 }, (_, i) => i * 9),
  );

  it("has rows (x_i, 1), σ − y and σ(1 − σ), and the L2 term as the penalty", () => {
    const f = logisticRegression(data, { l2: 0.1 });
    const theta = fillUniform(f.layout.zeros(), 4, 0.3);
    const o = f.outputJacobian(theta);
    const d = f.layout.size;
    const cols = data.cols;
    assert.equal(o.examples, 60);
    assert.equal(o.outputs, 1);
    for (let i = 0; i < 60; i++) {
      let z = theta[cols];
      for (let j = 0; j < cols; j++) {
        assert.equal(o.jacobian[i * d + j], data.features[i * cols + j]);
        z += data.features[i * cols + j] * theta[j];
      }
      assert.equal(o.jacobian[i * d + cols], 1);
      const p = 1 / (1 + Math.exp(-z));
      assert.ok(
        Math.abs(o.outputGradient[i] - (p - data.labels[i])) < 1e-15,
        `Math.abs(o.outputGradient[i] - (p - data.labels[i])) < 1e-15`,
      );
      assert.ok(
        Math.abs(o.outputHessian[i] - p * (1 - p)) < 1e-15,
        `Math.abs(o.outputHessian[i] - p * (1 - p)) < 1e-15`,
      );
    }
    assert.deepEqual([...o.penalty!], [...new Array<number>(cols).fill(0.1), 0]);
    assert.equal(logisticRegression(data).outputJacobian(theta).penalty, undefined);
  });

  it("implies its gradient, and its Gauss-Newton matrix is its Hessian (outputs linear in θ)", () => {
    const f = logisticRegression(data, { l2: 0.1 });
    const theta = fillUniform(f.layout.zeros(), 6, 0.3);
    const g = f.layout.zeros();
    f.valueAndGrad(theta, g);
    const o = f.outputJacobian(theta);
    assert.ok(
      maxAbsDiff(impliedGradient(o, theta), g) <= 1e-15 * 10,
      `maxAbsDiff(impliedGradient(o, theta), g) <= 1e-15 * 10`,
    );
    const v = fillUniform(f.layout.zeros(), 7);
    const hv = f.layout.zeros();
    f.hvp(theta, v, hv);
    const Gv = gaussNewtonTimes(o, v);
    assert.ok(maxAbsDiff(Gv, hv) <= 1e-14 * maxAbs(hv), `${maxAbsDiff(Gv, hv)}`);
  });

  it("leaves the other oracles as they were", () => {
    const f = logisticRegression(data, { l2: 0.1 });
    const theta = fillUniform(f.layout.zeros(), 9, 0.3);
    const before = f.layout.zeros();
    const valueBefore = f.valueAndGrad(theta, before);
    f.outputJacobian(theta);
    const after = f.layout.zeros();
    assert.equal(f.valueAndGrad(theta, after), valueBefore);
    assert.deepEqual(after, before);
  });
});

describe("the outputJacobian oracle name", () => {
  it("is listed, required by name and counted", () => {
    const f = nonlinearRegression({ examples: 4 });
    assert.ok(oraclesOf(f).includes("outputJacobian"));
    const counter = countingObjective(f);
    const call = requireOracle(counter.objective, "outputJacobian", "a test");
    call(f.initialParams());
    call(f.initialParams());
    assert.equal(counter.counts().outputJacobian, 2);
    assert.equal(totalCalls(counter.counts()), 2);
    counter.reset();
    assert.deepEqual(counter.counts(), zeroCounts());
    const plain: Objective = {
      name: f.name,
      layout: f.layout,
      value: f.value,
      valueAndGrad: f.valueAndGrad,
    };
    assert.deepEqual(oraclesOf(plain), ["value", "valueAndGrad"]);
  });
});
