import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { RadamOptions, RadamState } from "../../src/optim/radam.js";
import { radam } from "../../src/optim/radam.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceRadamOptions } from "../reference/radam.js";
import { referenceRadamInit, referenceRadamStep } from "../reference/radam.js";

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
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const params = sampleParams(dtype);
        const expected = sampleParams("float64");
        const opt = new Optimizer(params, radam(options));
        const state = referenceRadamInit(params.layout);
        for (const g of sampleGradients(params.layout, 10)) {
          await opt.update(g);
          referenceRadamStep(expected.layout, expected.data, Float64Array.from(g), state, ref);
        }
        const rtol = dtype === "float64" ? 1e-12 : 1e-5;
        assertNear(params.data, expected.data, rtol, "params");
        const s = Object.values(opt.state).find((x) => "nu" in (x as State)) as RadamState;
        assert.equal(s.count, 10);
        for (const t of params.layout.tensors) {
          assertNear(params.layout.view(s.mu, t.name), state.m.get(t.name)!, rtol, `m ${t.name}`);
          assertNear(params.layout.view(s.nu, t.name), state.v.get(t.name)!, rtol, `v ${t.name}`);
        }
      });
    }
  }

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
        assertNear(moved, [-0.25, 4], 1e-14, `t=${t}`);
      } else {
        assert.ok(rho > 5, `ρ_${t} = ${rho}`);
        const r = Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
        assertNear(moved, [-r, r], 1e-12, `t=${t}`);
      }
    }
  });
});

describe("RAdam hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalid(() => radam({ learningRate: -1e-3 }), "learningRate", "-0.001");
    assertInvalid(() => radam({ beta1: 1.5 }), "beta1", "1.5");
    assertInvalid(() => radam({ beta2: 1 }), "beta2", "1");
    assertInvalid(() => radam({ eps: -1 }), "eps", "-1");
    assertInvalid(() => radam({ weightDecay: -0.5 }), "weightDecay", "-0.5");
    assertInvalid(() => radam({ rectificationThreshold: 3 }), "rectificationThreshold", "3");
    assertInvalid(
      () => radam({ decoupledWeightDecay: "true" as unknown as boolean }),
      "decoupledWeightDecay",
      '"true"',
    );
    assertInvalid(() => radam({ decoupled: true } as RadamOptions), "decoupled", "true");
  });
});

async function minimize(f: Objective, transform: GradientTransform, steps: number) {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return f.value(params.data) as number;
}

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
