import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { LionOptions, LionState } from "../../src/optim/lion.js";
import { lion } from "../../src/optim/lion.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  assertInvalidArgument,
  assertTensorsClose,
  minimize,
  optimize,
  partState,
  perTensor,
} from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { LionReferenceOptions } from "../reference/lion.js";
import { LionReference } from "../reference/lion.js";

const STEPS = 6;

const isMatrix = (k: number, layout: Layout) => layout.tensors[k].shape.length >= 2;

const combinations: {
  name: string;
  options: LionOptions;
  reference: Omit<LionReferenceOptions, "decays"> & { matricesOnly?: boolean };
}[] = [
  {
    name: "defaults",
    options: {},
    reference: { lr: 1e-4, beta1: 0.9, beta2: 0.99, weightDecay: 0 },
  },
  {
    name: "weight decay, other betas",
    options: { learningRate: 0.03, beta1: 0.95, beta2: 0.98, weightDecay: 0.5 },
    reference: { lr: 0.03, beta1: 0.95, beta2: 0.98, weightDecay: 0.5 },
  },
  {
    name: "masked weight decay, scheduled learning rate",
    options: {
      learningRate: (count) => 0.02 / (1 + count),
      weightDecay: 0.3,
      weightDecayMask: (t) => t.shape.length >= 2,
    },
    reference: {
      lr: (count) => 0.02 / (1 + count),
      beta1: 0.9,
      beta2: 0.99,
      weightDecay: 0.3,
      matricesOnly: true,
    },
  },
];

describe("lion", () => {
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of combinations) {
      it(`equals the per-tensor reference (${c.name}, ${dtype})`, async () => {
        const params = sampleParams(dtype);
        const { layout } = params;
        const grads = sampleGradients(layout, STEPS);
        const { matricesOnly, ...referenceOptions } = c.reference;
        const reference = new LionReference(perTensor(layout, params.data), {
          ...referenceOptions,
          decays: matricesOnly ? (k) => isMatrix(k, layout) : undefined,
        });
        const opt = new Optimizer(params, lion(c.options));
        for (let s = 0; s < STEPS; s++) {
          await opt.update(grads[s]);
          reference.step(perTensor(layout, grads[s]));
          const state = partState<LionState>(opt, "scaleByLion");
          const at = `step ${s + 1}`;
          const rtol = FUSED_RTOL[dtype];
          assertTensorsClose(layout, params.data, reference.params, rtol, `${at} params`);
          assertTensorsClose(layout, state.mu, reference.expAvg, rtol, `${at} m`);
        }
      });
    }
  }

  it("is signSGD when both betas are 0, and sign(0) = 0 leaves a coordinate in place", async () => {
    const params = ParamSet.fromRecord({ x: [1, -2, 3, 0.5] }, "float64");
    const opt = new Optimizer(params, lion({ learningRate: 0.1, beta1: 0, beta2: 0 }));
    await opt.update(Float64Array.from([2, -0.001, 0, 0]));
    assert.deepEqual(Array.from(params.data), [1 - 0.1, -2 + 0.1, 3, 0.5]);
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => lion({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(
      () => lion({ learningRate: () => Number.NaN }),
      "learningRate (schedule at step 0)",
      Number.NaN,
    );
    assertInvalidArgument(() => lion({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => lion({ beta2: -0.1 }), "beta2", -0.1);
    assertInvalidArgument(() => lion({ weightDecay: -0.5 }), "weightDecay", -0.5);
    assertInvalidArgument(() => lion({ betas: [0.9, 0.99] } as LionOptions), "betas", [0.9, 0.99]);
  });

  // Sign steps have a fixed length lr, so convergence needs a decaying learning rate.
  it("converges on the 2-D Rosenbrock function (6000 steps, exponentially decaying lr)", async () => {
    const objective = rosenbrock();
    const params = await optimize(
      objective,
      lion({ learningRate: (c) => 0.01 * 0.999 ** c }),
      6000,
    );
    assert.ok(Math.abs(params.data[0] - 1) < 1e-3 && Math.abs(params.data[1] - 1) < 2e-3);
    assert.ok((objective.value(params.data) as number) < 1e-6);
  });

  it("converges on an ill-conditioned parabola (1000 steps, cosine-decayed lr)", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const cosine = (c: number) => 0.025 * (1 + Math.cos((Math.PI * Math.min(c, 1000)) / 1000));
    const loss = await minimize(objective, lion({ learningRate: cosine }), 1000);
    assert.ok(loss < 1e-10);
  });
});
