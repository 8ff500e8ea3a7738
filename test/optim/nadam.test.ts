import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { NadamOptions, NadamState } from "../../src/optim/nadam.js";
import { nadam } from "../../src/optim/nadam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceNadamOptions } from "../reference/nadam.js";
import { referenceNadamInit, referenceNadamStep } from "../reference/nadam.js";

function assertNear(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < b.length; i++) {
    const tol = rtol * Math.max(1, Math.abs(b[i]));
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function assertInvalid(build: () => unknown, parameter: string, value: string): void {
  assert.throws(build, (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${e}`);
    assert.equal(e.parameter, parameter);
    assert.ok(e.message.includes(parameter), e.message);
    assert.ok(e.message.includes(value), `${e.message} should show ${value}`);
    return true;
  });
}

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
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const params = sampleParams(dtype);
        const expected = sampleParams("float64");
        const opt = new Optimizer(params, nadam(options));
        const state = referenceNadamInit(params.layout);
        for (const g of sampleGradients(params.layout, 8)) {
          await opt.update(g);
          referenceNadamStep(expected.layout, expected.data, Float64Array.from(g), state, ref);
        }
        const rtol = dtype === "float64" ? 1e-12 : 1e-5;
        assertNear(params.data, expected.data, rtol, "params");
        const s = Object.values(opt.state).find((x) => "muProduct" in (x as State)) as NadamState;
        assert.equal(s.count, 8);
        assertNear([s.muProduct], [state.muProduct], 1e-15, "muProduct");
        for (const t of params.layout.tensors) {
          assertNear(params.layout.view(s.mu, t.name), state.m.get(t.name)!, rtol, `m ${t.name}`);
          assertNear(params.layout.view(s.nu, t.name), state.v.get(t.name)!, rtol, `v ${t.name}`);
        }
      });
    }
  }

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
      assertNear(params.data, [-step, step], 1e-15, `legacy=${legacy}`);
    }
  });
});

describe("NAdam hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalid(() => nadam({ learningRate: -1 }), "learningRate", "-1");
    assertInvalid(() => nadam({ beta1: 1 }), "beta1", "1");
    assertInvalid(() => nadam({ beta2: -0.1 }), "beta2", "-0.1");
    assertInvalid(() => nadam({ eps: -1e-8 }), "eps", "-1e-8");
    assertInvalid(() => nadam({ momentumDecay: -0.004 }), "momentumDecay", "-0.004");
    assertInvalid(() => nadam({ weightDecay: -0.01 }), "weightDecay", "-0.01");
    assertInvalid(
      () => nadam({ decoupledWeightDecay: 1 as unknown as boolean }),
      "decoupledWeightDecay",
      "1",
    );
    assertInvalid(() => nadam({ betas: [0.9, 0.99] } as NadamOptions), "betas", "[0.9, 0.99]");
  });
});

async function minimize(f: Objective, transform: GradientTransform, steps: number) {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return f.value(params.data) as number;
}

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
