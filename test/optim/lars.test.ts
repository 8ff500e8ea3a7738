import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { LarsOptions, LarsState } from "../../src/optim/lars.js";
import { lars } from "../../src/optim/lars.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { FloatArray, Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  assertClose,
  assertInvalidArgument,
  minimize,
  optimize,
  partState,
  perTensor,
} from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { LarsReferenceOptions } from "../reference/lars.js";
import { LarsReference } from "../reference/lars.js";

const STEPS = 6;

/** Runs `steps` LARS steps on one tensor from `start` with a fixed gradient. */
async function runOnVector(
  start: number[],
  gradient: number[],
  steps: number,
  options: LarsOptions,
): Promise<number[]> {
  const params = ParamSet.fromRecord({ w: start }, "float64");
  const opt = new Optimizer(params, lars(options));
  for (let s = 0; s < steps; s++) await opt.update(Float64Array.from(gradient));
  return Array.from(params.data);
}

const reference = (o: Partial<LarsReferenceOptions>): LarsReferenceOptions => ({
  lr: 1,
  momentum: 0.9,
  dampening: 0,
  nesterov: false,
  weightDecay: 0,
  trustCoefficient: 1e-3,
  eps: 1e-8,
  form: "paper",
  ...o,
});

const isMatrix = (layout: Layout) => (k: number) => layout.tensors[k].shape.length >= 2;

const combinations: {
  name: string;
  options: LarsOptions;
  reference: (layout: Layout) => LarsReferenceOptions;
  zeroTensor?: string;
}[] = [
  { name: "defaults", options: {}, reference: () => reference({}) },
  {
    name: "Nesterov, weight decay, larger trust coefficient",
    options: { learningRate: 0.5, nesterov: true, weightDecay: 0.01, trustCoefficient: 0.02 },
    reference: () =>
      reference({ lr: 0.5, nesterov: true, weightDecay: 0.01, trustCoefficient: 0.02 }),
  },
  {
    name: "dampening, no epsilon",
    options: { learningRate: 2, momentum: 0.5, dampening: 0.5, eps: 0 },
    reference: () => reference({ lr: 2, momentum: 0.5, dampening: 0.5, eps: 0 }),
  },
  {
    name: "no momentum, a zero tensor",
    options: { learningRate: 0.1, momentum: 0, weightDecay: 0.1 },
    reference: () => reference({ lr: 0.1, momentum: 0, weightDecay: 0.1 }),
    zeroTensor: "layer1.bias",
  },
  {
    name: "optax form with weight-decay and trust-ratio masks",
    options: {
      learningRate: 3,
      trustRatioForm: "optax",
      weightDecay: 0.05,
      weightDecayMask: "**.weight",
      trustRatioMask: (t) => t.shape.length >= 2,
    },
    reference: (layout) =>
      reference({
        lr: 3,
        form: "optax",
        weightDecay: 0.05,
        decays: isMatrix(layout),
        adapts: isMatrix(layout),
      }),
  },
];

describe("lars", () => {
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of combinations) {
      it(`equals the per-tensor reference (${c.name}, ${dtype})`, async () => {
        const params = sampleParams(dtype);
        const { layout } = params;
        if (c.zeroTensor) params.view(c.zeroTensor).fill(0);
        const grads = sampleGradients(layout, STEPS);
        const ref = new LarsReference(perTensor(layout, params.data), c.reference(layout));
        const opt = new Optimizer(params, lars(c.options));
        const rtol = FUSED_RTOL[dtype];
        for (let s = 0; s < STEPS; s++) {
          await opt.update(grads[s]);
          ref.step(perTensor(layout, grads[s]));
          const state = partState<LarsState>(opt, "scaleByLars");
          layout.tensors.forEach((t, k) => {
            const at = `step ${s + 1} ${t.name}`;
            assertClose(params.view(t.name), ref.params[k], rtol, `${at} params`);
            const buffer = ref.momentumBuffer[k];
            if (buffer === null) assert.equal(state.momentumBuffer, undefined);
            else {
              const ours = layout.view(state.momentumBuffer as FloatArray, t.name);
              assertClose(ours, buffer, rtol, `${at} momentum`);
            }
          });
        }
      });
    }
  }

  // Hand computations with θ = (3, 4), ‖θ‖ = 5, wd = 0.1 (wd·θ = (0.3, 0.4)), η = 0.01, ε = 0.
  const hand: LarsOptions = { learningRate: 1, weightDecay: 0.1, trustCoefficient: 0.01, eps: 0 };

  it("computes the paper's and optax's trust ratios by hand", async () => {
    // g = (0.3, −0.4): ‖g‖ = 0.5 and g + wd·θ = (0.6, 0) with norm 0.6.
    // paper: λ = 0.01·5 / (0.5 + 0.1·5) = 0.05, step λ·(0.6, 0) = (0.03, 0)
    const paper = await runOnVector([3, 4], [0.3, -0.4], 1, hand);
    assertClose(paper, [2.97, 4], 1e-14, "paper form");
    // optax: λ = 0.01·5 / 0.6 = 1/12, step (0.05, 0)
    const optax = await runOnVector([3, 4], [0.3, -0.4], 1, { ...hand, trustRatioForm: "optax" });
    assertClose(optax, [2.95, 4], 1e-14, "optax form");
  });

  it("accumulates heavy-ball and Nesterov momentum as computed by hand", async () => {
    // g = (0.9, 1.2) is parallel to θ: g + wd·θ = (1.2, 1.6), ‖g‖ = 1.5, λ1 = 0.05 / 2 = 0.025,
    // d1 = (0.03, 0.04).
    // Heavy ball: θ1 = (2.97, 3.96) = 0.99·θ, ‖θ1‖ = 4.95; λ2 = 0.0495 / (1.5 + 0.495),
    // g + wd·θ1 = (1.197, 1.596), so d2 = 0.0099·(3, 4) = (0.0297, 0.0396);
    // b2 = 0.9·d1 + d2 = (0.0567, 0.0756), θ2 = (2.9133, 3.8844).
    assertClose(await runOnVector([3, 4], [0.9, 1.2], 1, hand), [2.97, 3.96], 1e-14, "θ1");
    assertClose(await runOnVector([3, 4], [0.9, 1.2], 2, hand), [2.9133, 3.8844], 1e-14, "θ2");
    // Nesterov: θ1 = θ − 1.9·d1 = 0.981·θ = (2.943, 3.924); d2 = 0.00981·(3, 4);
    // b2 = 0.9·d1 + d2 = (0.05643, 0.07524); θ2 = θ1 − (d2 + 0.9·b2) = (2.862783, 3.817044).
    const nesterov = { ...hand, nesterov: true };
    assertClose(await runOnVector([3, 4], [0.9, 1.2], 1, nesterov), [2.943, 3.924], 1e-14, "θ1");
    const twoSteps = await runOnVector([3, 4], [0.9, 1.2], 2, nesterov);
    assertClose(twoSteps, [2.862783, 3.817044], 1e-13, "Nesterov θ2");
  });

  it("takes λ = 1 for a zero tensor and for tensors outside the trust-ratio mask", async () => {
    // θ = 0: plain SGD on g + wd·θ = g, θ1 = −0.5·(1, 2).
    const zero = await runOnVector([0, 0], [1, 2], 1, { ...hand, learningRate: 0.5 });
    assertClose(zero, [-0.5, -1], 1e-15, "zero tensor");
    const masked = await runOnVector([3, 4], [0.3, -0.4], 1, { ...hand, trustRatioMask: [] });
    assertClose(masked, [2.4, 4], 1e-15, "masked tensor: θ − (0.6, 0)");
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => lars({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => lars({ trustCoefficient: 0 }), "trustCoefficient", 0);
    assertInvalidArgument(() => lars({ eps: -1e-8 }), "eps", -1e-8);
    assertInvalidArgument(() => lars({ weightDecay: -1 }), "weightDecay", -1);
    assertInvalidArgument(() => lars({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => lars({ dampening: 1.5 }), "dampening", 1.5);
    assertInvalidArgument(() => lars({ nesterov: "yes" } as never), "nesterov", "yes");
    assertInvalidArgument(() => lars({ nesterov: true, momentum: 0 }), "nesterov", true);
    assertInvalidArgument(() => lars({ nesterov: true, dampening: 0.1 }), "nesterov", true);
    assertInvalidArgument(
      () => lars({ trustRatioForm: "lamb" } as never),
      "trustRatioForm",
      "lamb",
    );
    assertInvalidArgument(() => lars({ trustRatioMask: 7 } as never), "trustRatioMask", 7);
    assertInvalidArgument(() => lars({ weightDecayMask: null } as never), "weightDecayMask", null);
    assertInvalidArgument(() => lars({ eta: 0.001 } as never), "eta", 0.001);
  });

  // Each step has length about lr·η·‖θ‖ (times the momentum gain), so a decaying rate is needed.
  const cosine = (lr: number, steps: number) => (c: number) =>
    0.5 * lr * (1 + Math.cos((Math.PI * Math.min(c, steps)) / steps));

  it("converges on the 2-D Rosenbrock function (5000 steps, cosine-decayed lr)", async () => {
    const objective = rosenbrock();
    const params = await optimize(objective, lars({ learningRate: cosine(5, 5000) }), 5000);
    assert.ok(Math.abs(params.data[0] - 1) < 1e-4 && Math.abs(params.data[1] - 1) < 2e-4);
    assert.ok((objective.value(params.data) as number) < 1e-8);
  });

  it("converges on an ill-conditioned parabola (1000 steps, cosine-decayed lr)", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const loss = await minimize(objective, lars({ learningRate: cosine(10, 1000) }), 1000);
    assert.ok(loss < 1e-10);
  });
});
