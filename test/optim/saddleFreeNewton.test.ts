import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import { standardize } from "../../src/data/dataset.js";
import { MissingOracleError } from "../../src/errors.js";
import { dampedNewton } from "../../src/optim/dampedNewton.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { SaddleFreeNewtonState } from "../../src/optim/saddleFreeNewton.js";
import { saddleFreeNewton } from "../../src/optim/saddleFreeNewton.js";
import { sgd } from "../../src/optim/sgd.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { findTestFunction } from "../../src/oracles/problems/testFunctions2d.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertInvalidArgument, partStateWith } from "../helpers/assertions.js";

async function gradientNorm(objective: Objective, params: Float64Array | Float32Array) {
  const g = objective.layout.zeros();
  await objective.valueAndGrad!(params, g);
  let s = 0;
  for (const v of g) s += v * v;
  return Math.sqrt(s);
}

async function minimize(objective: Objective, transform: GradientTransform, steps: number) {
  const params = new ParamSet(objective.layout, objective.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let k = 0; k < steps; k++) await opt.step(objective);
  return { opt, params: params.data };
}

const logistic = () => logisticRegression(standardize(loadBreastCancer()), { l2: 1e-3 });

/** The saddle x² − y² + y⁴/4 started next to its saddle point at the origin. */
function nearSaddle(): Objective {
  const objective = findTestFunction("saddle").objective();
  return { ...objective, initialParams: () => Float64Array.from([1e-3, 1e-3]) };
}

describe("saddleFreeNewton", () => {
  it("solves a strongly convex quadratic to machine precision (dense and Krylov)", async () => {
    for (const options of [{}, { denseThreshold: 0, krylovDimension: 50 }]) {
      const objective = illConditionedQuadratic({ dimension: 50, conditionNumber: 1000 });
      const { params } = await minimize(objective, saddleFreeNewton(options), 3);
      const g = await gradientNorm(objective, params);
      assert.ok(g <= 1e-12, `${JSON.stringify(options)}: gradient norm ${g}`);
    }
  });

  it("reaches the logistic-regression optimum of damped Newton", async () => {
    const objective = logistic();
    const reference = await minimize(objective, dampedNewton(), 15);
    const fStar = objective.value(reference.params) as number;
    for (const options of [{}, { denseThreshold: 0, krylovDimension: 31 }]) {
      const { params } = await minimize(objective, saddleFreeNewton(options), 15);
      const g = await gradientNorm(objective, params);
      assert.ok(g <= 1e-12, `${JSON.stringify(options)}: gradient norm ${g}`);
      assert.ok(Math.abs((objective.value(params) as number) - fStar) <= 1e-14);
    }
  });

  it("takes the step |H|⁻¹g near the saddle", async () => {
    const objective = nearSaddle();
    const { opt, params } = await minimize(objective, saddleFreeNewton(), 1);
    const [x, y] = [1e-3, 1e-3];
    const gy = -2 * y + y ** 3;
    const hy = -2 + 3 * y * y;
    assert.equal(partStateWith<SaddleFreeNewtonState>(opt, "stepSize").stepSize, 1);
    assert.ok(Math.abs(params[0] - (x - (2 * x) / 2)) < 1e-18);
    assert.ok(Math.abs(params[1] - (y - gy / Math.abs(hy))) < 1e-18);
    const smallest = partStateWith<SaddleFreeNewtonState>(opt, "smallestEigenvalue");
    assert.ok(Math.abs(smallest.smallestEigenvalue - hy) < 1e-12);
  });

  it("escapes the saddle where gradient descent stalls", async () => {
    const objective = nearSaddle();
    const steps = 20;
    const gd = await minimize(objective, sgd({ learningRate: 0.1 }), steps);
    assert.ok((objective.value(gd.params) as number) > -0.01, "gradient descent left the saddle");
    for (const options of [{}, { denseThreshold: 0, krylovDimension: 2 }]) {
      const { params } = await minimize(objective, saddleFreeNewton(options), steps);
      const f = objective.value(params) as number;
      assert.ok(Math.abs(f - -1) <= 1e-14, `${JSON.stringify(options)}: f = ${f}`);
      assert.ok(Math.abs(Math.abs(params[1]) - Math.SQRT2) <= 1e-7);
    }
  });

  it("matrix-free (Krylov) and dense paths take the same step on a small problem", async () => {
    const objective = logistic();
    const dense = await minimize(objective, saddleFreeNewton(), 1);
    const krylov = await minimize(
      objective,
      saddleFreeNewton({ denseThreshold: 0, krylovDimension: 31 }),
      1,
    );
    for (let i = 0; i < dense.params.length; i++) {
      assert.ok(
        Math.abs(dense.params[i] - krylov.params[i]) <= 1e-8 * (1 + Math.abs(dense.params[i])),
        `entry ${i}: ${dense.params[i]} vs ${krylov.params[i]}`,
      );
    }
  });

  it("throws MissingOracleError without hvp", async () => {
    const { hvp: _dropped, ...withoutHvp } = illConditionedQuadratic({ dimension: 3 });
    void _dropped;
    const params = new ParamSet(withoutHvp.layout, withoutHvp.initialParams!());
    const opt = new Optimizer(params, saddleFreeNewton());
    await assert.rejects(opt.step(withoutHvp), MissingOracleError);
    await assert.rejects(opt.update(new Float64Array(3)), MissingOracleError);
  });

  it("rejects bad options naming the parameter and value", () => {
    assertInvalidArgument(() => saddleFreeNewton({ krylovDimension: 0 }), "krylovDimension", 0);
    assertInvalidArgument(() => saddleFreeNewton({ damping: -0.1 }), "damping", -0.1);
    assertInvalidArgument(() => saddleFreeNewton({ armijo: 0 }), "armijo", 0);
    assertInvalidArgument(() => saddleFreeNewton({ maxBacktracks: -1 }), "maxBacktracks", -1);
    assertInvalidArgument(() => saddleFreeNewton({ learningRate: -2 }), "learningRate", -2);
  });
});
