import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { adamw } from "../../src/optim/adam.js";
import type { AdemamixOptions, AdemamixState } from "../../src/optim/ademamix.js";
import {
  ademamix,
  alphaWarmupSchedule,
  beta3WarmupSchedule,
  scaleByAdemamix,
} from "../../src/optim/ademamix.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { FloatArray } from "../../src/params/layout.js";
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
import type { AdemamixReferenceOptions } from "../reference/ademamix.js";
import { AdemamixReference } from "../reference/ademamix.js";

const STEPS = 6;

// Warmups shorter than STEPS, so both the warming and the settled branches run.
const combinations: {
  name: string;
  options: AdemamixOptions;
  reference: AdemamixReferenceOptions;
}[] = [
  {
    name: "defaults",
    options: {},
    reference: { lr: 1e-3, betas: [0.9, 0.999, 0.9999], alpha: 2, eps: 1e-8, weightDecay: 0 },
  },
  {
    name: "warmups and weight decay",
    options: {
      learningRate: 0.01,
      beta3: 0.999,
      alpha: 8,
      alphaWarmup: 4,
      beta3Warmup: 3,
      weightDecay: 0.1,
    },
    reference: {
      lr: 0.01,
      betas: [0.9, 0.999, 0.999],
      alpha: 8,
      alphaWarmup: 4,
      beta3Warmup: 3,
      eps: 1e-8,
      weightDecay: 0.1,
    },
  },
  {
    name: "beta1 = 0 with a beta3 warmup",
    options: { learningRate: 0.02, beta1: 0, alpha: 5, beta3Warmup: 5, eps: 1e-6 },
    reference: {
      lr: 0.02,
      betas: [0, 0.999, 0.9999],
      alpha: 5,
      beta3Warmup: 5,
      eps: 1e-6,
      weightDecay: 0,
    },
  },
];

describe("ademamix", () => {
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of combinations) {
      it(`equals the per-tensor reference (${c.name}, ${dtype})`, async () => {
        const params = sampleParams(dtype);
        const { layout } = params;
        const grads = sampleGradients(layout, STEPS);
        const reference = new AdemamixReference(perTensor(layout, params.data), c.reference);
        const opt = new Optimizer(params, ademamix(c.options));
        const rtol = FUSED_RTOL[dtype];
        for (let s = 0; s < STEPS; s++) {
          await opt.update(grads[s]);
          reference.step(perTensor(layout, grads[s]));
          const state = partState<AdemamixState>(opt, "scaleByAdemamix");
          assert.equal(state.fast === undefined, reference.expAvgFast === null);
          const at = `step ${s + 1}`;
          assertTensorsClose(layout, params.data, reference.params, rtol, `${at} params`);
          if (reference.expAvgFast !== null) {
            const fast = state.fast as FloatArray;
            assertTensorsClose(layout, fast, reference.expAvgFast, rtol, `${at} fast`);
          }
          assertTensorsClose(layout, state.slow, reference.expAvgSlow, rtol, `${at} slow`);
          assertTensorsClose(layout, state.nu, reference.expAvgSq, rtol, `${at} v`);
        }
      });
    }
  }

  it("is AdamW when alpha = 0", async () => {
    const a = sampleParams("float64");
    const b = a.clone();
    const grads = sampleGradients(a.layout, STEPS);
    const options = { learningRate: 0.01, beta1: 0.8, beta2: 0.99, eps: 1e-6, weightDecay: 0.1 };
    const mixed = new Optimizer(a, ademamix({ ...options, alpha: 0 }));
    const plain = new Optimizer(b, adamw(options));
    for (const g of grads) {
      await mixed.update(g);
      await plain.update(g);
    }
    assertClose(a.data, b.data, 1e-13, "params");
  });

  it("warms alpha up linearly, driven by the 1-based step", () => {
    const alpha = alphaWarmupSchedule(8, 10);
    // Update count c is step t = c + 1: α = (t/10)·8 until t = 10.
    assert.deepEqual([0, 4, 8, 9, 50].map(alpha), [0.8, 4, 7.2, 8, 8]);
    assert.equal(alphaWarmupSchedule(3, 4, 1)(1), 0.5 * 1 + 0.5 * 3);
  });

  it("warms beta3 up so that the EMA's half-life grows linearly", () => {
    const [beta1, beta3, steps] = [0.9, 0.999, 10];
    const schedule = beta3WarmupSchedule(beta3, steps, beta1, 0);
    // Half-life in steps of an EMA with decay β: h = ln ½ / ln β.
    const halfLife = (b: number) => Math.log(0.5) / Math.log(b);
    for (let t = 1; t < steps; t++) {
      const expected = (1 - t / steps) * halfLife(beta1) + (t / steps) * halfLife(beta3);
      assertClose([halfLife(schedule(t - 1))], [expected], 1e-12, `half-life at t=${t}`);
    }
    assert.equal(schedule(steps - 1), beta3);
    assert.equal(schedule(1e6), beta3);
    // The paper's form with β1 = 0: ln(β3(t)) = ln(β3)·T/t.
    const fromZero = beta3WarmupSchedule(0.99, 4, 0, 0);
    assertClose([fromZero(0), fromZero(1)], [0.99 ** 4, 0.99 ** 2], 1e-12, "beta3 from 0");
    // The reference code's 1e-8 keeps the start finite: f(0) = ln ½ / ln 1e-8 − 1.
    const official = beta3WarmupSchedule(0.99, 4, 0);
    const f = (b: number) => Math.log(0.5) / Math.log(b + 1e-8) - 1;
    const start = 0.75 * f(0) + 0.25 * f(0.99);
    assertClose([official(0)], [0.5 ** (1 / (start + 1))], 1e-12, "official beta3 at t=1");
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => ademamix({ learningRate: -0.1 }), "learningRate", -0.1);
    assertInvalidArgument(() => ademamix({ beta1: -0.5 }), "beta1", -0.5);
    assertInvalidArgument(() => ademamix({ beta2: 1 }), "beta2", 1);
    assertInvalidArgument(() => ademamix({ beta3: 1.5 }), "beta3", 1.5);
    assertInvalidArgument(() => ademamix({ beta3: () => 1 }), "beta3 (schedule at step 0)", 1);
    assertInvalidArgument(() => ademamix({ alpha: -2 }), "alpha", -2);
    assertInvalidArgument(() => ademamix({ alphaWarmup: 0 }), "alphaWarmup", 0);
    assertInvalidArgument(() => ademamix({ beta3Warmup: 2.5 }), "beta3Warmup", 2.5);
    assertInvalidArgument(() => ademamix({ alpha: () => 1, alphaWarmup: 10 }), "alphaWarmup", 10);
    assertInvalidArgument(() => ademamix({ eps: -1e-8 }), "eps", -1e-8);
    assertInvalidArgument(() => ademamix({ weightDecay: Number.NaN }), "weightDecay", Number.NaN);
    assertInvalidArgument(() => scaleByAdemamix({ gamma: 1 } as never), "gamma", 1);
    assertInvalidArgument(() => alphaWarmupSchedule(2, -3), "warmupSteps", -3);
    assertInvalidArgument(() => beta3WarmupSchedule(0.999, 10, 1), "beta3Start", 1);
    assertInvalidArgument(() => beta3WarmupSchedule(0.999, 10, 0.9, -1), "logEps", -1);
  });

  // β3 = 0.9999 remembers ~10⁴ steps, longer than these runs; β3 = 0.99 fits their length.
  it("converges on the 2-D Rosenbrock function (3000 steps, β3 = 0.99 with warmups)", async () => {
    const objective = rosenbrock();
    const params = await optimize(
      objective,
      ademamix({ learningRate: 0.02, beta3: 0.99, alphaWarmup: 1500, beta3Warmup: 1500 }),
      3000,
    );
    assert.ok(Math.abs(params.data[0] - 1) < 1e-4 && Math.abs(params.data[1] - 1) < 2e-4);
    assert.ok((objective.value(params.data) as number) < 1e-8);
  });

  it("converges on an ill-conditioned parabola (1000 steps)", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const loss = await minimize(objective, ademamix({ learningRate: 0.05, beta3: 0.99 }), 1000);
    assert.ok(loss < 1e-10);
  });
});
