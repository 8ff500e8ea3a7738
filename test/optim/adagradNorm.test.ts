import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AdagradNormOptions, AdagradNormState } from "../../src/optim/adagradNorm.js";
import { adagradNorm } from "../../src/optim/adagradNorm.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  minimize,
  partStateWith,
  runBesideReference,
} from "../helpers/assertions.js";
import { sampleLayout } from "../helpers/inputs.js";
import type { ReferenceAdagradNormOptions } from "../reference/adagradNorm.js";
import { referenceAdagradNormInit, referenceAdagradNormStep } from "../reference/adagradNorm.js";

const normState = (opt: Optimizer) => partStateWith<AdagradNormState>(opt, "bSquared");

describe("AdaGrad-Norm follows its definition", () => {
  // b_0² = 32, gradients a = [2], b = [7] then a = [8], b = [0]. By hand:
  //   one accumulator:  b_1² = 32 + 4 + 49 = 85,   b_2² = 85 + 64 = 149
  //   per tensor:       a: 32 + 4 = 36 → 6, 36 + 64 = 100 → 10;  b: 32 + 49 = 81 → 9, 81 → 9
  const gradients = [Float64Array.of(2, 7), Float64Array.of(8, 0)];

  it("one accumulator for the whole vector (the paper's algorithm)", async () => {
    const params = ParamSet.fromRecord({ a: [1], b: [1] }, "float64");
    const opt = new Optimizer(params, adagradNorm({ learningRate: 0.5, b0: Math.sqrt(32) }));
    await opt.update(gradients[0]);
    assertClose(
      params.data,
      [1 - (0.5 * 2) / Math.sqrt(85), 1 - (0.5 * 7) / Math.sqrt(85)],
      1e-15,
      "x1",
      UNIT_FLOOR,
    );
    assertClose(normState(opt).bSquared, [85], 1e-15, "b1²", UNIT_FLOOR);
    await opt.update(gradients[1]);
    assertClose(
      params.data,
      [1 - 1 / Math.sqrt(85) - 4 / Math.sqrt(149), 1 - 3.5 / Math.sqrt(85)],
      1e-15,
      "x2",
      UNIT_FLOOR,
    );
    assertClose(normState(opt).bSquared, [149], 1e-15, "b2²", UNIT_FLOOR);
  });

  it("one accumulator per tensor", async () => {
    const params = ParamSet.fromRecord({ a: [1], b: [1] }, "float64");
    const opt = new Optimizer(
      params,
      adagradNorm({ learningRate: 0.5, b0: Math.sqrt(32), perTensor: true }),
    );
    await opt.update(gradients[0]);
    assertClose(params.data, [1 - 1 / 6, 1 - 3.5 / 9], 1e-15, "x1", UNIT_FLOOR);
    assertClose(normState(opt).bSquared, [36, 81], 1e-15, "b1²", UNIT_FLOOR);
    await opt.update(gradients[1]);
    assertClose(params.data, [1 - 1 / 6 - 0.4, 1 - 3.5 / 9], 1e-15, "x2", UNIT_FLOOR);
    assertClose(normState(opt).bSquared, [100, 81], 1e-15, "b2²", UNIT_FLOOR);
  });

  it("starts from b_0 = 0.1 and η = 1 by default", async () => {
    const params = ParamSet.fromRecord({ w: [0, 0] }, "float64");
    const opt = new Optimizer(params, adagradNorm());
    await opt.update(Float64Array.of(0.3, 0.4));
    // b_1² = 0.01 + 0.25, so b_1 = √0.26.
    assertClose(
      params.data,
      [-0.3 / Math.sqrt(0.26), -0.4 / Math.sqrt(0.26)],
      1e-15,
      "x1",
      UNIT_FLOOR,
    );
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
        const state = referenceAdagradNormInit(sampleLayout(), ref);
        const { opt, params, expected } = await runBesideReference({
          dtype,
          transform: adagradNorm(options),
          gradients: 8,
          reference: (x, g) => referenceAdagradNormStep(x.layout, x.data, g, state, ref),
        });
        const rtol = FUSED_RTOL[dtype];
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        const keys = ref.perTensor ? params.layout.tensors.map((t) => t.name) : [""];
        assertClose(
          normState(opt).bSquared,
          keys.map((k) => state.bSquared.get(k)!),
          rtol,
          "b²",
          UNIT_FLOOR,
        );
      });
    }
  }
});

describe("AdaGrad-Norm hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalidArgument(() => adagradNorm({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => adagradNorm({ b0: 0 }), "b0", 0);
    assertInvalidArgument(() => adagradNorm({ b0: -0.1 }), "b0", -0.1);
    assertInvalidArgument(
      () => adagradNorm({ perTensor: 1 as unknown as boolean }),
      "perTensor",
      1,
    );
    assertInvalidArgument(() => adagradNorm({ eps: 1e-8 } as AdagradNormOptions), "eps", 1e-8);
  });
});

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
