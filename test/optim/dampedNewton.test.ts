import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import { standardize } from "../../src/data/dataset.js";
import { MissingOracleError } from "../../src/errors.js";
import type { DampedNewtonState } from "../../src/optim/dampedNewton.js";
import { dampedNewton, scaleByDampedNewton } from "../../src/optim/dampedNewton.js";
import { gradientRegularizedNewton } from "../../src/optim/gradientRegularizedNewton.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { findTestFunction } from "../../src/oracles/problems/testFunctions2d.js";
import { Layout } from "../../src/params/layout.js";
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

/** f(x) = √(1 + x²): the pure Newton step x → −x³ diverges for |x| > 1. */
function pseudoHuber(): Objective {
  const layout = new Layout([{ name: "x", shape: [1] }], "float64");
  return {
    name: "pseudo-huber",
    layout,
    value: (p) => Math.sqrt(1 + p[0] * p[0]),
    valueAndGrad(p, g) {
      const r = Math.sqrt(1 + p[0] * p[0]);
      g[0] = p[0] / r;
      return r;
    },
    hvp(p, v, out) {
      out[0] = v[0] * (1 + p[0] * p[0]) ** -1.5;
    },
    initialParams: () => Float64Array.from([2]),
  };
}

describe("dampedNewton", () => {
  it("solves a strongly convex quadratic to machine precision in a few steps (dense and CG)", async () => {
    for (const denseThreshold of [100, 0]) {
      const objective = illConditionedQuadratic({ dimension: 50, conditionNumber: 1000 });
      const { params } = await minimize(objective, dampedNewton({ denseThreshold }), 3);
      const norm = await gradientNorm(objective, params);
      assert.ok(norm <= 1e-12, `denseThreshold ${denseThreshold}: gradient norm ${norm}`);
      assert.ok((objective.value(params) as number) <= 1e-14);
    }
  });

  it("takes AICN's step size (√(1 + 2MG) − 1)/(MG) with G² = gᵀH⁻¹g", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 100 });
    const x0 = objective.initialParams!();
    // On f = ½(x − x*)ᵀΛ(x − x*) with f* = 0: gᵀH⁻¹g = 2 f(x0).
    const f0 = objective.value(x0) as number;
    const G = Math.sqrt(2 * f0);
    const M = 3;
    const alpha = (Math.sqrt(1 + 2 * M * G) - 1) / (M * G);
    const { opt, params } = await minimize(objective, dampedNewton({ smoothness: M }), 1);
    const state = partStateWith<DampedNewtonState>(opt, "stepSize");
    assert.ok(Math.abs(state.stepSize - alpha) < 1e-15);
    assert.ok(Math.abs(state.decrement - G) < 1e-12 * G);
    // x1 − x* = (1 − α)(x0 − x*), so f(x1) = (1 − α)² f(x0).
    const f1 = objective.value(params) as number;
    assert.ok(Math.abs(f1 - (1 - alpha) ** 2 * f0) < 1e-13 * f0);
  });

  it("backtracks (Armijo) when the full Newton step increases f", async () => {
    const objective = pseudoHuber();
    const { opt, params } = await minimize(objective, dampedNewton(), 1);
    // From x = 2: s = x(1 + x²) = 10; α = 1 → −8 and α = ½ → −3 increase f; α = ¼ → −0.5.
    assert.equal(partStateWith<DampedNewtonState>(opt, "stepSize").stepSize, 0.25);
    assert.equal(params[0], -0.5);
  });

  it("reaches the logistic-regression optimum: gradient ≈ 0, dense and CG agree", async () => {
    const objective = logistic();
    const dense = await minimize(objective, dampedNewton(), 12);
    const matrixFree = await minimize(
      objective,
      dampedNewton({ denseThreshold: 0, cgTolerance: 1e-13 }),
      12,
    );
    const gDense = await gradientNorm(objective, dense.params);
    const gFree = await gradientNorm(objective, matrixFree.params);
    assert.ok(gDense <= 1e-12, `dense gradient norm ${gDense}`);
    assert.ok(gFree <= 1e-12, `CG gradient norm ${gFree}`);
    // Strong convexity μ ≥ l2 = 1e-3 bounds the gap by ‖g‖²/(2μ) ≤ 5e-22: both are f*.
    const fDense = objective.value(dense.params) as number;
    const fFree = objective.value(matrixFree.params) as number;
    assert.ok(Math.abs(fDense - fFree) <= 1e-14, `${fDense} vs ${fFree}`);
    // An independent second-order method lands on the same value.
    const other = await minimize(objective, gradientRegularizedNewton(), 40);
    assert.ok(Math.abs((objective.value(other.params) as number) - fDense) <= 1e-14);
    assert.ok(fDense < Math.log(2));
  });

  it("matrix-free and dense paths take the same step on a small problem", async () => {
    const objective = logistic();
    const dense = await minimize(objective, dampedNewton(), 1);
    const free = await minimize(
      objective,
      dampedNewton({ denseThreshold: 0, cgTolerance: 1e-14 }),
      1,
    );
    for (let i = 0; i < dense.params.length; i++) {
      assert.ok(
        Math.abs(dense.params[i] - free.params[i]) <= 1e-9 * (1 + Math.abs(dense.params[i])),
        `entry ${i}: ${dense.params[i]} vs ${free.params[i]}`,
      );
    }
  });

  it("raises the damping where the Hessian is indefinite and still descends", async () => {
    const saddle = findTestFunction("saddle").objective();
    const x0 = Float64Array.from([0.5, 0.5]);
    const objective: Objective = { ...saddle, initialParams: () => Float64Array.from(x0) };
    for (const denseThreshold of [100, 0]) {
      const { params } = await minimize(objective, dampedNewton({ denseThreshold }), 1);
      assert.ok((objective.value(params) as number) < (objective.value(x0) as number));
    }
  });

  it("learningRate multiplies the step", async () => {
    const objective = illConditionedQuadratic({ dimension: 5, conditionNumber: 10 });
    const x0 = objective.initialParams!();
    const { params } = await minimize(objective, dampedNewton({ learningRate: 0.5 }), 1);
    // Half a Newton step: x1 − x* = ½(x0 − x*), f(x1) = f(x0)/4.
    const ratio = (objective.value(params) as number) / (objective.value(x0) as number);
    assert.ok(Math.abs(ratio - 0.25) < 1e-12);
  });

  it("throws MissingOracleError without hvp or without an objective", async () => {
    const { hvp: _dropped, ...withoutHvp } = illConditionedQuadratic({ dimension: 3 });
    void _dropped;
    const params = new ParamSet(withoutHvp.layout, withoutHvp.initialParams!());
    const opt = new Optimizer(params, dampedNewton());
    await assert.rejects(opt.step(withoutHvp), MissingOracleError);
    await assert.rejects(opt.update(new Float64Array(3)), MissingOracleError);
  });

  it("leaves state and parameters untouched when the Hessian-vector product is not finite", async () => {
    const base = illConditionedQuadratic({ dimension: 4 });
    const objective: Objective = {
      ...base,
      hvp: (_p, _v, out) => {
        out.fill(NaN);
      },
    };
    const params = new ParamSet(objective.layout, objective.initialParams!());
    const before = Float64Array.from(params.data);
    const opt = new Optimizer(params, chainless());
    await assert.rejects(opt.step(objective), RangeError);
    assert.deepEqual(Array.from(params.data), Array.from(before));
    assert.equal((opt.state as DampedNewtonState).count, 0);
  });

  it("rejects bad options naming the parameter and value", () => {
    assertInvalidArgument(() => dampedNewton({ armijo: 1 }), "armijo", 1);
    assertInvalidArgument(() => dampedNewton({ damping: -1 }), "damping", -1);
    assertInvalidArgument(() => dampedNewton({ smoothness: NaN }), "smoothness", NaN);
    assertInvalidArgument(() => dampedNewton({ backtrackFactor: 0 }), "backtrackFactor", 0);
    assertInvalidArgument(() => dampedNewton({ denseThreshold: 1.5 }), "denseThreshold", 1.5);
    assertInvalidArgument(() => dampedNewton({ cgTolerance: 0 }), "cgTolerance", 0);
    assertInvalidArgument(() => dampedNewton({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(
      () => dampedNewton({ dampng: 1 } as unknown as Parameters<typeof dampedNewton>[0]),
      "dampng",
      1,
    );
  });
});

/** The bare transform, so the test reads its state directly. */
function chainless(): GradientTransform {
  return scaleByDampedNewton() as unknown as GradientTransform;
}
