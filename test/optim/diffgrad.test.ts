import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { DiffGradOptions, DiffGradState } from "../../src/optim/diffgrad.js";
import { diffGrad } from "../../src/optim/diffgrad.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  assertClose,
  assertInvalidArgument,
  assertTensorsClose,
  minimize,
  optimize,
  partState,
  perTensor,
} from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { DiffGradReferenceOptions } from "../reference/diffgrad.js";
import { DiffGradReference } from "../reference/diffgrad.js";

const STEPS = 6;

const reference = (o: Partial<DiffGradReferenceOptions>): DiffGradReferenceOptions => ({
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-8,
  weightDecay: 0,
  epsAfterBiasCorrection: false,
  ...o,
});

// eps = 1e-3 is close to √v here, so the two placements of ε differ visibly.
const combinations: {
  name: string;
  options: DiffGradOptions;
  reference: DiffGradReferenceOptions;
  matricesOnly?: boolean;
}[] = [
  { name: "defaults", options: {}, reference: reference({}) },
  {
    name: "weight decay, other betas",
    options: { learningRate: 0.02, beta1: 0.8, beta2: 0.99, weightDecay: 0.01 },
    reference: reference({ lr: 0.02, betas: [0.8, 0.99], weightDecay: 0.01 }),
  },
  {
    name: "paper's epsilon, masked weight decay",
    options: {
      learningRate: 0.01,
      eps: 1e-3,
      epsAfterBiasCorrection: true,
      weightDecay: 0.2,
      weightDecayMask: (t) => t.shape.length >= 2,
    },
    reference: reference({ lr: 0.01, eps: 1e-3, epsAfterBiasCorrection: true, weightDecay: 0.2 }),
    matricesOnly: true,
  },
  {
    name: "reference code's epsilon, large",
    options: { learningRate: 0.01, eps: 1e-3 },
    reference: reference({ lr: 0.01, eps: 1e-3 }),
  },
];

describe("diffGrad", () => {
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of combinations) {
      it(`equals the per-tensor reference (${c.name}, ${dtype})`, async () => {
        const params = sampleParams(dtype);
        const { layout } = params;
        const grads = sampleGradients(layout, STEPS);
        const ref = new DiffGradReference(perTensor(layout, params.data), {
          ...c.reference,
          decays: c.matricesOnly ? (k) => layout.tensors[k].shape.length >= 2 : undefined,
        });
        const opt = new Optimizer(params, diffGrad(c.options));
        const rtol = FUSED_RTOL[dtype];
        for (let s = 0; s < STEPS; s++) {
          await opt.update(grads[s]);
          ref.step(perTensor(layout, grads[s]));
          const state = partState<DiffGradState>(opt, "scaleByDiffGrad");
          const at = `step ${s + 1}`;
          assertTensorsClose(layout, params.data, ref.params, rtol, `${at} params`);
          assertTensorsClose(layout, state.mu, ref.expAvg, rtol, `${at} m`);
          assertTensorsClose(layout, state.nu, ref.expAvgSq, rtol, `${at} v`);
          const previous = `${at} previous gradient`;
          assertTensorsClose(layout, state.previousGrad, ref.previousGrad, rtol, previous);
        }
      });
    }
  }

  it("takes half of Adam's step while the gradient does not change", async () => {
    // With g_prev = g the friction is σ(0) = ½, so from step 2 on the step is half of Adam's in
    // the reference code's form: Δθ = −lr·√(1−β2^t)/(1−β1^t)·½·m/(√v + ε).
    const params = ParamSet.fromRecord({ x: [0.5, -1] }, "float64");
    const g = Float64Array.from([0.3, -2]);
    const opt = new Optimizer(params, diffGrad({ learningRate: 0.1 }));
    await opt.update(g);
    const before = Array.from(params.data);
    await opt.update(g);
    // Constant gradient: m = (1 − 0.9²)·g, v = (1 − 0.999²)·g² at t = 2.
    for (let i = 0; i < 2; i++) {
      const m = (1 - 0.9 ** 2) * g[i];
      const v = (1 - 0.999 ** 2) * g[i] * g[i];
      const step =
        ((0.1 * Math.sqrt(1 - 0.999 ** 2)) / (1 - 0.9 ** 2)) * ((0.5 * m) / (Math.sqrt(v) + 1e-8));
      assertClose([params.data[i]], [before[i] - step], 1e-14, `x[${i}]`);
    }
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => diffGrad({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => diffGrad({ learningRate: Infinity }), "learningRate", Infinity);
    assertInvalidArgument(() => diffGrad({ beta1: 1.2 }), "beta1", 1.2);
    assertInvalidArgument(() => diffGrad({ beta2: -1 }), "beta2", -1);
    assertInvalidArgument(() => diffGrad({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => diffGrad({ weightDecay: -0.1 }), "weightDecay", -0.1);
    assertInvalidArgument(
      () => diffGrad({ epsAfterBiasCorrection: "yes" } as never),
      "epsAfterBiasCorrection",
      "yes",
    );
    assertInvalidArgument(() => diffGrad({ amsgrad: true } as never), "amsgrad", true);
  });

  it("converges on the 2-D Rosenbrock function (5000 steps)", async () => {
    const objective = rosenbrock();
    const params = await optimize(objective, diffGrad({ learningRate: 0.02 }), 5000);
    assert.ok(Math.abs(params.data[0] - 1) < 1e-4 && Math.abs(params.data[1] - 1) < 2e-4);
    assert.ok((objective.value(params.data) as number) < 1e-8);
  });

  it("converges on an ill-conditioned parabola (1000 steps)", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const loss = await minimize(objective, diffGrad({ learningRate: 0.05 }), 1000);
    assert.ok(loss < 1e-12);
  });
});
