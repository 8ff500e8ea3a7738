import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { RmspropOptions, RmspropState } from "../../src/optim/rmsprop.js";
import { rmsprop } from "../../src/optim/rmsprop.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { FloatArray } from "../../src/params/layout.js";
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
import type { ReferenceRmspropOptions } from "../reference/rmsprop.js";
import { referenceRmspropInit, referenceRmspropStep } from "../reference/rmsprop.js";

const base: ReferenceRmspropOptions = {
  lr: 0.01,
  alpha: 0.99,
  eps: 1e-8,
  weightDecay: 0,
  momentum: 0,
  centered: false,
};

const variants: { label: string; options: RmspropOptions; ref: ReferenceRmspropOptions }[] = [
  { label: "plain", options: { learningRate: 0.01 }, ref: base },
  {
    label: "plain with L2 decay and α = 0.9",
    options: { learningRate: 0.02, alpha: 0.9, eps: 1e-6, weightDecay: 0.05 },
    ref: { ...base, lr: 0.02, alpha: 0.9, eps: 1e-6, weightDecay: 0.05 },
  },
  {
    label: "centered",
    options: { learningRate: 0.01, centered: true },
    ref: { ...base, centered: true },
  },
  {
    label: "momentum",
    options: { learningRate: 0.01, momentum: 0.9 },
    ref: { ...base, momentum: 0.9 },
  },
  {
    label: "centered with momentum and L2 decay",
    options: { learningRate: 0.005, alpha: 0.95, centered: true, momentum: 0.5, weightDecay: 0.1 },
    ref: { ...base, lr: 0.005, alpha: 0.95, centered: true, momentum: 0.5, weightDecay: 0.1 },
  },
];

describe("RMSprop fused path equals the per-tensor reference loop", () => {
  itMatchesReferenceLoop({
    variants,
    transform: rmsprop,
    gradients: 8,
    init: referenceRmspropInit,
    step: referenceRmspropStep,
    checkState(opt, params, state, ref, rtol) {
      const s = partStateWith<RmspropState>(opt, "nu");
      assert.equal(s.count, 8);
      assert.equal("gradAvg" in s, ref.centered, "gradAvg exists only when centered");
      assert.equal("momentumBuffer" in s, ref.momentum > 0, "buffer exists only with momentum");
      const buffers: [string, FloatArray | undefined, Map<string, Float64Array>][] = [
        ["square avg", s.nu, state.squareAvg],
        ["grad avg", s.gradAvg as FloatArray | undefined, state.gradAvg],
        ["momentum", s.momentumBuffer as FloatArray | undefined, state.buffer],
      ];
      for (const [what, ours, theirs] of buffers) {
        if (ours !== undefined) {
          assertTensorsClose(params.layout, ours, theirs, rtol, what, UNIT_FLOOR);
        }
      }
    },
  });

  it("first step: g/(√((1−α)g²) + ε), and centered g/(√(α(1−α)g²) + ε)", async () => {
    // s_1 = (1−α)g² and ḡ_1 = (1−α)g, so s_1 − ḡ_1² = α(1−α)g².
    const alpha = 0.9;
    for (const centered of [false, true]) {
      const params = ParamSet.fromRecord({ w: [0, 0] }, "float64");
      const opt = new Optimizer(params, rmsprop({ learningRate: 1, alpha, eps: 0, centered }));
      await opt.update(Float64Array.of(2, -0.5));
      const size = 1 / Math.sqrt((centered ? alpha : 1) * (1 - alpha));
      assertClose(params.data, [-size, size], 1e-15, `centered=${centered}`, UNIT_FLOOR);
    }
  });
});

describe("RMSprop hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalidArgument(() => rmsprop({ learningRate: -0.01 }), "learningRate", -0.01);
    assertInvalidArgument(() => rmsprop({ alpha: 1 }), "alpha", 1);
    assertInvalidArgument(() => rmsprop({ alpha: -0.9 }), "alpha", -0.9);
    assertInvalidArgument(() => rmsprop({ eps: -1e-8 }), "eps", -1e-8);
    assertInvalidArgument(() => rmsprop({ momentum: 1.2 }), "momentum", 1.2);
    assertInvalidArgument(() => rmsprop({ weightDecay: -2 }), "weightDecay", -2);
    assertInvalidArgument(
      () => rmsprop({ centered: "no" as unknown as boolean }),
      "centered",
      "no",
    );
    assertInvalidArgument(() => rmsprop({ rho: 0.9 } as RmspropOptions), "rho", 0.9);
  });
});

// A constant rate leaves RMSprop hovering at a loss of order lr² (its steps have size ≈ lr
// whatever the gradient), so the rates decay.
const decaying =
  (lr: number, halfLife = 200) =>
  (count: number) =>
    lr / (1 + count / halfLife);

describe("RMSprop converges", () => {
  it("on a parabola (κ = 10) to 1e-10 in 2000 steps", async () => {
    for (const options of [
      { learningRate: decaying(1e-2, 100) },
      { learningRate: decaying(1e-2, 100), centered: true },
      { learningRate: decaying(1e-3), centered: true, momentum: 0.9 },
    ]) {
      const loss = await minimize(
        illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }),
        rmsprop(options),
        2000,
      );
      assert.ok(loss < 1e-10, `${JSON.stringify({ ...options, learningRate: 0 })}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-4 in 5000 steps", async () => {
    for (const options of [
      { learningRate: decaying(1e-2) },
      { learningRate: decaying(1e-3), centered: true, momentum: 0.9 },
    ]) {
      const loss = await minimize(rosenbrock(), rmsprop(options), 5000);
      assert.ok(loss < 1e-4, `${JSON.stringify({ ...options, learningRate: 0 })}: ${loss}`);
    }
  });
});
