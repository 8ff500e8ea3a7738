import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { LambOptions, LambState } from "../../src/optim/lamb.js";
import { lamb } from "../../src/optim/lamb.js";
import { Optimizer } from "../../src/optim/optimizer.js";
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
import type { LambReferenceOptions } from "../reference/lamb.js";
import { LambReference } from "../reference/lamb.js";

const STEPS = 6;

const reference = (o: Partial<LambReferenceOptions>): LambReferenceOptions => ({
  lr: 1e-3,
  betas: [0.9, 0.999],
  eps: 1e-6,
  weightDecay: 0,
  biasCorrection: false,
  clampMax: 10,
  ...o,
});

// The sample tensors have norms between about 1 and 3.5, so a clamp at 1.5 is active for some.
const combinations: {
  name: string;
  options: LambOptions;
  reference: LambReferenceOptions;
  matricesOnly?: boolean;
  zeroTensor?: string;
  zeroGradient?: string;
}[] = [
  { name: "defaults (reference code form)", options: {}, reference: reference({}) },
  {
    name: "paper form: bias correction, weight decay",
    options: { learningRate: 0.01, biasCorrection: true, weightDecay: 0.05 },
    reference: reference({ lr: 0.01, biasCorrection: true, weightDecay: 0.05 }),
  },
  {
    name: "active clamp, masked weight decay, other betas and eps",
    options: {
      learningRate: 0.02,
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-8,
      weightDecay: 0.1,
      weightDecayMask: "**.weight",
      maxWeightNorm: 1.5,
    },
    reference: reference({
      lr: 0.02,
      betas: [0.8, 0.99],
      eps: 1e-8,
      weightDecay: 0.1,
      clampMax: 1.5,
    }),
    matricesOnly: true,
  },
  {
    name: "a zero tensor and a zero gradient take trust ratio 1",
    options: { learningRate: 0.01, maxWeightNorm: Infinity, biasCorrection: true },
    reference: reference({ lr: 0.01, clampMax: Infinity, biasCorrection: true }),
    zeroTensor: "norm.scale",
    zeroGradient: "layer2.bias",
  },
];

describe("lamb", () => {
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of combinations) {
      it(`equals the per-tensor reference (${c.name}, ${dtype})`, async () => {
        const params = sampleParams(dtype);
        const { layout } = params;
        if (c.zeroTensor) params.view(c.zeroTensor).fill(0);
        const grads = sampleGradients(layout, STEPS);
        if (c.zeroGradient) for (const g of grads) layout.view(g, c.zeroGradient).fill(0);
        const ref = new LambReference(perTensor(layout, params.data), {
          ...c.reference,
          decays: c.matricesOnly ? (k) => layout.tensors[k].shape.length >= 2 : undefined,
        });
        const opt = new Optimizer(params, lamb(c.options));
        const rtol = FUSED_RTOL[dtype];
        for (let s = 0; s < STEPS; s++) {
          await opt.update(grads[s]);
          ref.step(perTensor(layout, grads[s]));
          const state = partState<LambState>(opt, "scaleByLamb");
          const at = `step ${s + 1}`;
          assertTensorsClose(layout, params.data, ref.params, rtol, `${at} params`);
          assertTensorsClose(layout, state.mu, ref.expAvg, rtol, `${at} m`);
          assertTensorsClose(layout, state.nu, ref.expAvgSq, rtol, `${at} v`);
        }
        if (c.reference.clampMax === 1.5) {
          // The clamp must have been exercised: some tensor is above it, some below.
          const norms = ref.params.map((p) => Math.hypot(...p));
          assert.ok(norms.some((n) => n > 1.5) && norms.some((n) => n < 1.5), `${norms}`);
        }
        if (c.zeroTensor) {
          const moved = params.view(c.zeroTensor);
          assert.ok(
            moved.some((x) => x !== 0),
            "a zero tensor must still move (trust 1)",
          );
        }
      });
    }
  }

  it("moves every tensor by lr times its (clamped) norm on the first step", async () => {
    // With trust = ‖θ‖/‖r‖ the step lr·trust·r has norm lr·min(‖θ‖, clamp), whatever g is.
    const params = sampleParams("float64");
    const before = params.clone();
    const [g] = sampleGradients(params.layout, 1);
    const opt = new Optimizer(params, lamb({ learningRate: 0.1, maxWeightNorm: 1.5 }));
    await opt.update(g);
    for (const t of params.layout.tensors) {
      const a = before.view(t.name);
      const b = params.view(t.name);
      const moved = Math.hypot(...a.map((x, i) => b[i] - x));
      const expected = 0.1 * Math.min(Math.hypot(...a), 1.5);
      assertClose([moved], [expected], 1e-12, t.name);
    }
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => lamb({ learningRate: -1e-3 }), "learningRate", -1e-3);
    assertInvalidArgument(() => lamb({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => lamb({ beta2: Number.NaN }), "beta2", Number.NaN);
    assertInvalidArgument(() => lamb({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => lamb({ weightDecay: -0.01 }), "weightDecay", -0.01);
    assertInvalidArgument(
      () => lamb({ weightDecay: () => -1 }),
      "weightDecay (schedule at step 0)",
      -1,
    );
    assertInvalidArgument(() => lamb({ maxWeightNorm: 0 }), "maxWeightNorm", 0);
    assertInvalidArgument(() => lamb({ maxWeightNorm: -Infinity }), "maxWeightNorm", -Infinity);
    assertInvalidArgument(() => lamb({ biasCorrection: 1 } as never), "biasCorrection", 1);
    assertInvalidArgument(() => lamb({ weightDecayMask: 3 } as never), "weightDecayMask", 3);
    assertInvalidArgument(() => lamb({ adam: true } as never), "adam", true);
  });

  // The step length is lr·‖θ‖, so convergence to a point needs a decaying learning rate, and the
  // steps shrink near the origin, which the path from (−1.2, 1) passes close by: with a peak lr
  // of 0.01 LAMB stalls there for thousands of steps, with 0.02 it gets through.
  const cosine = (lr: number, steps: number) => (c: number) =>
    0.5 * lr * (1 + Math.cos((Math.PI * Math.min(c, steps)) / steps));

  it("converges on the 2-D Rosenbrock function (5000 steps, cosine-decayed lr)", async () => {
    for (const biasCorrection of [false, true]) {
      const objective = rosenbrock();
      const transform = lamb({ learningRate: cosine(0.02, 5000), biasCorrection });
      const params = await optimize(objective, transform, 5000);
      assert.ok(Math.abs(params.data[0] - 1) < 1e-5 && Math.abs(params.data[1] - 1) < 1e-5);
      assert.ok(
        (objective.value(params.data) as number) < 1e-8,
        `biasCorrection ${biasCorrection}`,
      );
    }
  });

  it("converges on an ill-conditioned parabola (1000 steps, cosine-decayed lr)", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const loss = await minimize(objective, lamb({ learningRate: cosine(0.05, 1000) }), 1000);
    assert.ok(loss < 1e-9);
  });
});
