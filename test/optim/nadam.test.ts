import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { NadamOptions, NadamState } from "../../src/optim/nadam.js";
import { nadam } from "../../src/optim/nadam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
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
import type { ReferenceNadamOptions } from "../reference/nadam.js";
import { referenceNadamInit, referenceNadamStep } from "../reference/nadam.js";

const base: ReferenceNadamOptions = {
  lr: 0.01,
  beta1: 0.9,
  beta2: 0.999,
  eps: 1e-8,
  weightDecay: 0,
  momentumDecay: 4e-3,
  decoupled: false,
  legacyProduct: false,
};

const variants: { label: string; options: NadamOptions; ref: ReferenceNadamOptions }[] = [
  { label: "defaults", options: { learningRate: 0.01 }, ref: base },
  {
    label: "torch 1.13 momentum product",
    options: { learningRate: 0.01, legacyMomentumProduct: true },
    ref: { ...base, legacyProduct: true },
  },
  {
    label: "L2 decay, other betas and momentum decay",
    options: {
      learningRate: 0.02,
      beta1: 0.8,
      beta2: 0.95,
      eps: 1e-6,
      momentumDecay: 0.05,
      weightDecay: 0.1,
    },
    ref: {
      ...base,
      lr: 0.02,
      beta1: 0.8,
      beta2: 0.95,
      eps: 1e-6,
      momentumDecay: 0.05,
      weightDecay: 0.1,
    },
  },
  {
    label: "decoupled decay",
    options: { learningRate: 0.03, weightDecay: 0.2, decoupledWeightDecay: true },
    ref: { ...base, lr: 0.03, weightDecay: 0.2, decoupled: true },
  },
];

describe("NAdam fused path equals the per-tensor reference loop", () => {
  itMatchesReferenceLoop({
    variants,
    transform: nadam,
    gradients: 8,
    init: referenceNadamInit,
    step: referenceNadamStep,
    checkState(opt, params, state, _ref, rtol) {
      const s = partStateWith<NadamState>(opt, "muProduct");
      assert.equal(s.count, 8);
      assertClose([s.muProduct], [state.muProduct], 1e-15, "muProduct", UNIT_FLOOR);
      assertTensorsClose(params.layout, s.mu, state.m, rtol, "m", UNIT_FLOOR);
      assertTensorsClose(params.layout, s.nu, state.v, rtol, "v", UNIT_FLOOR);
    },
  });

  it("the first step equals its closed form", async () => {
    // t = 1: m = (1−β1)g, √(v/(1−β2)) = |g|, so d = sign(g)·[(1−μ1)/(1−μ1) + (1−β1)μ2/(1−μ1μ2)]
    // up to ε; the torch 1.13 product puts μ1² in the last denominator.
    const beta1 = 0.9;
    const mu1 = beta1 * (1 - 0.5 * 0.96 ** 0.004);
    const mu2 = beta1 * (1 - 0.5 * 0.96 ** 0.008);
    for (const legacy of [false, true]) {
      const params = ParamSet.fromRecord({ w: [0, 0] }, "float64");
      const opt = new Optimizer(
        params,
        nadam({ learningRate: 1, eps: 0, legacyMomentumProduct: legacy }),
      );
      await opt.update(Float64Array.of(3, -0.5));
      const product = legacy ? mu1 * mu1 * mu2 : mu1 * mu2;
      const step = 1 + ((1 - beta1) * mu2) / (1 - product);
      assertClose(params.data, [-step, step], 1e-15, `legacy=${legacy}`, UNIT_FLOOR);
    }
  });
});

describe("NAdam hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalidArgument(() => nadam({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => nadam({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => nadam({ beta2: -0.1 }), "beta2", -0.1);
    assertInvalidArgument(() => nadam({ eps: -1e-8 }), "eps", -1e-8);
    assertInvalidArgument(() => nadam({ momentumDecay: -0.004 }), "momentumDecay", -0.004);
    assertInvalidArgument(() => nadam({ weightDecay: -0.01 }), "weightDecay", -0.01);
    assertInvalidArgument(
      () => nadam({ decoupledWeightDecay: 1 as unknown as boolean }),
      "decoupledWeightDecay",
      1,
    );
    assertInvalidArgument(
      () => nadam({ betas: [0.9, 0.99] } as NadamOptions),
      "betas",
      [0.9, 0.99],
    );
  });
});

describe("NAdam converges", () => {
  it("on a parabola (κ = 10) to 1e-20 in 1000 steps", async () => {
    for (const legacyMomentumProduct of [false, true]) {
      const loss = await minimize(
        illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }),
        nadam({ learningRate: 0.05, legacyMomentumProduct }),
        1000,
      );
      assert.ok(loss < 1e-20, `legacy=${legacyMomentumProduct}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-8 in 8000 steps", async () => {
    const loss = await minimize(
      rosenbrock(),
      nadam({ learningRate: (count) => 0.02 / (1 + count / 1000) }),
      8000,
    );
    assert.ok(loss < 1e-8, `${loss}`);
  });
});
