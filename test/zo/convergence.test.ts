import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Dataset } from "../../src/data/dataset.js";
import { softmaxRegression } from "../../src/oracles/problems/softmax.js";
import type { FloatArray } from "../../src/params/layout.js";
import { normal, uniform } from "../../src/random/index.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import { zoSgd } from "../../src/zo/zoSgd.js";

describe("ZO-SGD convergence", () => {
  it("reaches f − f* < 1e-14 on a 20-dimensional quadratic (condition number 10) in 2000 steps", async () => {
    // f(θ) = ½ Σ a_i (θ_i − c_i)², a_i from 1 to 10, minimum f* = 0 at θ = c
    const d = 20;
    const a = Array.from({ length: d }, (_, i) => 1 + (9 * i) / (d - 1));
    const c = Array.from({ length: d }, (_, i) => Math.cos(i));
    const f = (p: FloatArray) => {
      let s = 0;
      for (let i = 0; i < d; i++) s += 0.5 * a[i] * (p[i] - c[i]) ** 2;
      return s;
    };
    const theta = new Float64Array(d);
    // lr·L·(d + 2)/n ≈ 0.55: inside ZO-SGD's stability range (the estimate's second moment is
    // (d + 2)/n times the gradient's)
    const opt = new ZoOptimizer(
      theta,
      zoSgd({ learningRate: 0.01, directions: 4, epsilon: 1e-4, seed: 1 }),
    );
    const start = f(theta);
    for (let t = 0; t < 2000; t++) await opt.step(f);
    assert.ok(f(theta) < 1e-14, `f = ${f(theta)} from ${start}`);
  });

  it("reaches the softmax-regression optimum to 1e-9 (f* from 3000 steps of exact-gradient descent)", async () => {
    // three Gaussian clusters in the plane, 90 rows
    const rows = 90;
    const features = new Float64Array(rows * 2);
    const labels = new Int32Array(rows);
    const centers = [
      [1, 0],
      [-0.5, 0.9],
      [-0.5, -0.9],
    ];
    for (let i = 0; i < rows; i++) {
      const k = Math.floor(uniform(3, 0, i) * 3);
      labels[i] = k;
      features[2 * i] = centers[k][0] + 0.7 * normal(3, 1, 2 * i);
      features[2 * i + 1] = centers[k][1] + 0.7 * normal(3, 1, 2 * i + 1);
    }
    const ds: Dataset = { features, labels, rows, cols: 2, classes: 3 };
    const problem = softmaxRegression(ds, { l2: 0.05 });

    // reference optimum: gradient descent with the closed-form gradient (strongly convex)
    const ref = problem.initialParams();
    const grad = new Float64Array(ref.length);
    for (let t = 0; t < 3000; t++) {
      problem.valueAndGrad(ref, grad);
      for (let i = 0; i < ref.length; i++) ref[i] -= 0.5 * grad[i];
    }
    const fStar = problem.value(ref);
    problem.valueAndGrad(ref, grad);
    assert.ok(Math.hypot(...grad) < 1e-10, "the reference is at the optimum");

    const theta = problem.initialParams();
    const opt = new ZoOptimizer(theta, zoSgd({ learningRate: 0.1, directions: 4, seed: 7 }));
    for (let t = 0; t < 3000; t++) await opt.step(problem);
    const gap = problem.value(theta) - fStar;
    assert.ok(gap >= -1e-12 && gap < 1e-9, `f − f* = ${gap} (f* = ${fStar})`);
  });
});
