import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { AdagradNormOptions, AdagradNormState } from "../../src/optim/adagradNorm.js";
import { adagradNorm } from "../../src/optim/adagradNorm.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceAdagradNormOptions } from "../reference/adagradNorm.js";
import { referenceAdagradNormInit, referenceAdagradNormStep } from "../reference/adagradNorm.js";

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

function normState(opt: Optimizer): AdagradNormState {
  return Object.values(opt.state).find((x) => "bSquared" in (x as State)) as AdagradNormState;
}

describe("AdaGrad-Norm follows its definition", () => {
  // b_0² = 32, gradients a = [2], b = [7] then a = [8], b = [0]. By hand:
  //   one accumulator:  b_1² = 32 + 4 + 49 = 85,   b_2² = 85 + 64 = 149
  //   per tensor:       a: 32 + 4 = 36 → 6, 36 + 64 = 100 → 10;  b: 32 + 49 = 81 → 9, 81 → 9
  const gradients = [Float64Array.of(2, 7), Float64Array.of(8, 0)];

  it("one accumulator for the whole vector (the paper's algorithm)", async () => {
    const params = ParamSet.fromRecord({ a: [1], b: [1] }, "float64");
    const opt = new Optimizer(params, adagradNorm({ learningRate: 0.5, b0: Math.sqrt(32) }));
    await opt.update(gradients[0]);
    assertNear(
      params.data,
      [1 - (0.5 * 2) / Math.sqrt(85), 1 - (0.5 * 7) / Math.sqrt(85)],
      1e-15,
      "x1",
    );
    assertNear(normState(opt).bSquared, [85], 1e-15, "b1²");
    await opt.update(gradients[1]);
    assertNear(
      params.data,
      [1 - 1 / Math.sqrt(85) - 4 / Math.sqrt(149), 1 - 3.5 / Math.sqrt(85)],
      1e-15,
      "x2",
    );
    assertNear(normState(opt).bSquared, [149], 1e-15, "b2²");
  });

  it("one accumulator per tensor", async () => {
    const params = ParamSet.fromRecord({ a: [1], b: [1] }, "float64");
    const opt = new Optimizer(
      params,
      adagradNorm({ learningRate: 0.5, b0: Math.sqrt(32), perTensor: true }),
    );
    await opt.update(gradients[0]);
    assertNear(params.data, [1 - 1 / 6, 1 - 3.5 / 9], 1e-15, "x1");
    assertNear(normState(opt).bSquared, [36, 81], 1e-15, "b1²");
    await opt.update(gradients[1]);
    assertNear(params.data, [1 - 1 / 6 - 0.4, 1 - 3.5 / 9], 1e-15, "x2");
    assertNear(normState(opt).bSquared, [100, 81], 1e-15, "b2²");
  });

  it("starts from b_0 = 0.1 and η = 1 by default", async () => {
    const params = ParamSet.fromRecord({ w: [0, 0] }, "float64");
    const opt = new Optimizer(params, adagradNorm());
    await opt.update(Float64Array.of(0.3, 0.4));
    // b_1² = 0.01 + 0.25, so b_1 = √0.26.
    assertNear(params.data, [-0.3 / Math.sqrt(0.26), -0.4 / Math.sqrt(0.26)], 1e-15, "x1");
  });
});

const variants: { label: string; options: AdagradNormOptions; ref: ReferenceAdagradNormOptions }[] =
  [
    {
      label: "one accumulator",
      options: { learningRate: 0.3 },
      ref: { eta: 0.3, b0: 0.1, perTensor: false },
    },
    {
      label: "per tensor, b0 = 2",
      options: { learningRate: 0.7, b0: 2, perTensor: true },
      ref: { eta: 0.7, b0: 2, perTensor: true },
    },
  ];

describe("AdaGrad-Norm fused path equals the per-tensor reference loop", () => {
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const params = sampleParams(dtype);
        const expected = sampleParams("float64");
        const opt = new Optimizer(params, adagradNorm(options));
        const state = referenceAdagradNormInit(params.layout, ref);
        for (const g of sampleGradients(params.layout, 8)) {
          await opt.update(g);
          referenceAdagradNormStep(
            expected.layout,
            expected.data,
            Float64Array.from(g),
            state,
            ref,
          );
        }
        const rtol = dtype === "float64" ? 1e-12 : 1e-5;
        assertNear(params.data, expected.data, rtol, "params");
        const keys = ref.perTensor ? params.layout.tensors.map((t) => t.name) : [""];
        assertNear(
          normState(opt).bSquared,
          keys.map((k) => state.bSquared.get(k)!),
          rtol,
          "b²",
        );
      });
    }
  }
});

describe("AdaGrad-Norm hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalid(() => adagradNorm({ learningRate: -1 }), "learningRate", "-1");
    assertInvalid(() => adagradNorm({ b0: 0 }), "b0", "0");
    assertInvalid(() => adagradNorm({ b0: -0.1 }), "b0", "-0.1");
    assertInvalid(() => adagradNorm({ perTensor: 1 as unknown as boolean }), "perTensor", "1");
    assertInvalid(() => adagradNorm({ eps: 1e-8 } as AdagradNormOptions), "eps", "1e-8");
  });
});

async function minimize(f: Objective, transform: GradientTransform, steps: number) {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return f.value(params.data) as number;
}

describe("AdaGrad-Norm converges", () => {
  it("on a parabola (κ = 10) to 1e-15 in 2000 steps, from b_0 = 0.1 or b_0 = 10", async () => {
    // The paper's point: b_0 need not be tuned to the smoothness constant. A large b_0 keeps the
    // step near η/b_0 = 0.1, so the flattest direction (λ = 0.1) contracts by 0.99 per step.
    for (const b0 of [0.1, 10]) {
      const loss = await minimize(
        illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }),
        adagradNorm({ learningRate: 1, b0 }),
        2000,
      );
      assert.ok(loss < 1e-15, `b0 = ${b0}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-5 in 10000 steps", async () => {
    const loss = await minimize(rosenbrock(), adagradNorm({ learningRate: 1 }), 10000);
    assert.ok(loss < 1e-5, `${loss}`);
  });
});
