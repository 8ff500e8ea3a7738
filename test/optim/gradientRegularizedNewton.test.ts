import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import { standardize } from "../../src/data/dataset.js";
import { MissingOracleError } from "../../src/errors.js";
import { dampedNewton } from "../../src/optim/dampedNewton.js";
import type { GradientRegularizedNewtonState } from "../../src/optim/gradientRegularizedNewton.js";
import { gradientRegularizedNewton } from "../../src/optim/gradientRegularizedNewton.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import {
  illConditionedQuadratic,
  quadraticEigenvalues,
} from "../../src/oracles/problems/quadratic.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertInvalidArgument, partStateWith } from "../helpers/assertions.js";

async function gradientOf(objective: Objective, params: Float64Array | Float32Array) {
  const g = objective.layout.zeros();
  await objective.valueAndGrad!(params, g);
  return g;
}

function norm(v: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i] * v[i];
  return Math.sqrt(s);
}

async function minimize(objective: Objective, transform: GradientTransform, steps: number) {
  const params = new ParamSet(objective.layout, objective.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let k = 0; k < steps; k++) await opt.step(objective);
  return { opt, params: params.data };
}

const logistic = () => logisticRegression(standardize(loadBreastCancer()), { l2: 1e-3 });

describe("gradientRegularizedNewton", () => {
  it("solves a strongly convex quadratic to machine precision in a few steps (dense and CG)", async () => {
    for (const denseThreshold of [100, 0]) {
      const objective = illConditionedQuadratic({ dimension: 50, conditionNumber: 1000 });
      // A quadratic's Hessian is constant (Lipschitz constant 0): start from a small L.
      const transform = gradientRegularizedNewton({ denseThreshold, initialSmoothness: 1e-6 });
      const { params } = await minimize(objective, transform, 6);
      const g = norm(await gradientOf(objective, params));
      assert.ok(g <= 1e-12, `denseThreshold ${denseThreshold}: gradient norm ${g}`);
    }
  });

  it("takes the step (H + √(L‖g‖)I)⁻¹g with L halved first", async () => {
    const n = 8;
    const objective = illConditionedQuadratic({ dimension: n, conditionNumber: 100 });
    const lambdas = quadraticEigenvalues(n, 100);
    const x0 = objective.initialParams!();
    const g0 = await gradientOf(objective, x0);
    const L0 = 0.5;
    const damping = Math.sqrt((L0 / 2) * norm(g0));
    const { opt, params } = await minimize(
      objective,
      gradientRegularizedNewton({ initialSmoothness: L0 }),
      1,
    );
    assert.equal(
      partStateWith<GradientRegularizedNewtonState>(opt, "smoothness").smoothness,
      L0 / 2,
    );
    for (let i = 0; i < n; i++) {
      const expected = x0[i] - g0[i] / (lambdas[i] + damping);
      assert.ok(Math.abs(params[i] - expected) < 1e-14, `entry ${i}: ${params[i]} vs ${expected}`);
    }
  });

  it("doubles L until the step decreases f enough", async () => {
    // √(1 + x²) from x = 2: the nearly unregularized Newton step lands at −8 and is rejected.
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    const hessian = (x: number) => (1 + x * x) ** -1.5;
    const objective: Objective = {
      name: "pseudo-huber",
      layout,
      value: (p) => Math.sqrt(1 + p[0] * p[0]),
      valueAndGrad(p, g) {
        const r = Math.sqrt(1 + p[0] * p[0]);
        g[0] = p[0] / r;
        return r;
      },
      hvp(p, v, out) {
        out[0] = v[0] * hessian(p[0]);
      },
      initialParams: () => Float64Array.from([2]),
    };
    const L0 = 1e-6;
    const { opt, params } = await minimize(
      objective,
      gradientRegularizedNewton({ initialSmoothness: L0 }),
      1,
    );
    const L = partStateWith<GradientRegularizedNewtonState>(opt, "smoothness").smoothness;
    const doublings = Math.log2(L / (L0 / 2));
    assert.ok(doublings >= 1 && Number.isInteger(doublings), `L = ${L}`);
    const g = 2 / Math.sqrt(5);
    const s = g / (hessian(2) + Math.sqrt(L * g));
    assert.ok(Math.abs(params[0] - (2 - s)) < 1e-14);
    assert.ok(Math.sqrt(1 + params[0] ** 2) <= Math.sqrt(5) - 0.25 * g * s);
    // One doubling fewer fails the test.
    const sSmaller = g / (hessian(2) + Math.sqrt((L / 2) * g));
    assert.ok(Math.sqrt(1 + (2 - sSmaller) ** 2) > Math.sqrt(5) - 0.25 * g * sSmaller);
  });

  it("reaches the logistic-regression optimum of damped Newton", async () => {
    const objective = logistic();
    const { params } = await minimize(objective, gradientRegularizedNewton(), 40);
    const g = norm(await gradientOf(objective, params));
    assert.ok(g <= 1e-12, `gradient norm ${g}`);
    const reference = await minimize(objective, dampedNewton(), 15);
    const fStar = objective.value(reference.params) as number;
    assert.ok(Math.abs((objective.value(params) as number) - fStar) <= 1e-14);
  });

  it("matrix-free and dense paths take the same steps on a small problem", async () => {
    const objective = logistic();
    const dense = await minimize(objective, gradientRegularizedNewton(), 3);
    const free = await minimize(
      objective,
      gradientRegularizedNewton({ denseThreshold: 0, cgTolerance: 1e-14 }),
      3,
    );
    for (let i = 0; i < dense.params.length; i++) {
      assert.ok(
        Math.abs(dense.params[i] - free.params[i]) <= 1e-9 * (1 + Math.abs(dense.params[i])),
        `entry ${i}: ${dense.params[i]} vs ${free.params[i]}`,
      );
    }
  });

  it("throws MissingOracleError without hvp", async () => {
    const { hvp: _dropped, ...withoutHvp } = illConditionedQuadratic({ dimension: 3 });
    void _dropped;
    const params = new ParamSet(withoutHvp.layout, withoutHvp.initialParams!());
    const opt = new Optimizer(params, gradientRegularizedNewton());
    await assert.rejects(opt.step(withoutHvp), MissingOracleError);
    await assert.rejects(opt.update(new Float64Array(3)), MissingOracleError);
  });

  it("rejects bad options naming the parameter and value", () => {
    assertInvalidArgument(
      () => gradientRegularizedNewton({ initialSmoothness: 0 }),
      "initialSmoothness",
      0,
    );
    assertInvalidArgument(
      () => gradientRegularizedNewton({ minSmoothness: -1 }),
      "minSmoothness",
      -1,
    );
    assertInvalidArgument(
      () => gradientRegularizedNewton({ maxDoublings: 2.5 }),
      "maxDoublings",
      2.5,
    );
    assertInvalidArgument(
      () => gradientRegularizedNewton({ cgMaxIterations: -3 }),
      "cgMaxIterations",
      -3,
    );
    assertInvalidArgument(
      () => gradientRegularizedNewton({ learningRate: NaN }),
      "learningRate",
      NaN,
    );
  });
});
