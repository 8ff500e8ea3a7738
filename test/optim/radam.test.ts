import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { RadamOptions, RadamState } from "../../src/optim/radam.js";
import { radam } from "../../src/optim/radam.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  assertTensorsClose,
  minimize,
  partStateWith,
  itMatchesReferenceLoop,
} from "../helpers/assertions.js";
import type { ReferenceRadamOptions } from "../reference/radam.js";
import { referenceRadamInit, referenceRadamStep } from "../reference/radam.js";

const base: ReferenceRadamOptions = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  decoupled: false,
  threshold: 5,
};

// Ten steps with β2 = 0.999 cover both branches: ρ_t first exceeds 5 at t = 6 (4 at t = 5).
const variants: { label: string; options: RadamOptions; ref: ReferenceRadamOptions }[] = [
  { label: "defaults", options: { learningRate: 0.01 }, ref: base },
  {
    label: "L2 decay and other betas",
    options: { learningRate: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
    ref: { ...base, lr: 0.02, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 },
  },
  {
    label: "decoupled decay",
    options: { learningRate: 0.03, weightDecay: 0.2, decoupledWeightDecay: true },
    ref: { ...base, lr: 0.03, weightDecay: 0.2, decoupled: true },
  },
  {
    label: "the paper's threshold ρ_t > 4",
    options: { learningRate: 0.01, rectificationThreshold: 4 },
    ref: { ...base, threshold: 4 },
  },
];

describe("RAdam fused path equals the per-tensor reference loop", () => {
  itMatchesReferenceLoop({
    variants,
    transform: radam,
    gradients: 10,
    init: referenceRadamInit,
    step: referenceRadamStep,
    checkState(opt, params, state, _ref, rtol) {
      const s = partStateWith<RadamState>(opt, "nu");
      assert.equal(s.count, 10);
      assertTensorsClose(params.layout, s.mu, state.m, rtol, "m", UNIT_FLOOR);
      assertTensorsClose(params.layout, s.nu, state.v, rtol, "v", UNIT_FLOOR);
    },
  });

  it("steps by lr·m̂ until ρ_t > 5, then by lr·r_t·sign(g) for a constant gradient", async () => {
    // With g constant, m̂_t = g and √(1−β2^t)/√v_t = 1/|g|, so the rectified step is lr·r_t.
    const beta2 = 0.999;
    const rhoInf = 2 / (1 - beta2) - 1;
    const params = ParamSet.fromRecord({ w: [0, 0] }, "float64");
    const opt = new Optimizer(params, radam({ learningRate: 1, eps: 0 }));
    const g = Float64Array.of(0.25, -4);
    let previous = Array.from(params.data);
    for (let t = 1; t <= 8; t++) {
      await opt.update(g);
      const moved = Array.from(params.data, (p, i) => p - previous[i]);
      previous = Array.from(params.data);
      const rho = rhoInf - (2 * t * beta2 ** t) / (1 - beta2 ** t);
      if (t <= 5) {
        assert.ok(rho <= 5, `ρ_${t} = ${rho}`);
        assertClose(moved, [-0.25, 4], 1e-14, `t=${t}`, UNIT_FLOOR);
      } else {
        assert.ok(rho > 5, `ρ_${t} = ${rho}`);
        const r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
        assertClose(moved, [-r, r], 1e-12, `t=${t}`, UNIT_FLOOR);
      }
    }
  });
});

describe("RAdam hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalidArgument(() => radam({ learningRate: -1e-3 }), "learningRate", -0.001);
    assertInvalidArgument(() => radam({ beta1: 1.5 }), "beta1", 1.5);
    assertInvalidArgument(() => radam({ beta2: 1 }), "beta2", 1);
    assertInvalidArgument(() => radam({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => radam({ weightDecay: -0.5 }), "weightDecay", -0.5);
    assertInvalidArgument(() => radam({ rectificationThreshold: 3 }), "rectificationThreshold", 3);
    assertInvalidArgument(
      () => radam({ decoupledWeightDecay: "true" as unknown as boolean }),
      "decoupledWeightDecay",
      "true",
    );
    assertInvalidArgument(() => radam({ decoupled: true } as RadamOptions), "decoupled", true);
  });
});

describe("RAdam converges", () => {
  it("on a parabola (κ = 10) to 1e-20 in 1000 steps", async () => {
    for (const rectificationThreshold of [5, 4]) {
      const loss = await minimize(
        illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }),
        radam({ learningRate: 0.05, rectificationThreshold }),
        1000,
      );
      assert.ok(loss < 1e-20, `threshold ${rectificationThreshold}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-10 in 5000 steps", async () => {
    // The first five steps are un-adapted momentum steps of size lr·|m̂| with |∇f| ≈ 230 at
    // the start, so the rate stays small until the adaptive rate takes over.
    const loss = await minimize(
      rosenbrock(),
      radam({ learningRate: (count) => (count < 5 ? 1e-3 : 0.02) }),
      5000,
    );
    assert.ok(loss < 1e-10, `${loss}`);
  });
});
