import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AdagradOptions, AdagradState } from "../../src/optim/adagrad.js";
import { adagrad } from "../../src/optim/adagrad.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  assertTensorsClose,
  minimize,
  partStateWith,
  runBesideReference,
} from "../helpers/assertions.js";
import { sampleLayout } from "../helpers/inputs.js";
import type { ReferenceAdagradOptions } from "../reference/adagrad.js";
import { referenceAdagradInit, referenceAdagradStep } from "../reference/adagrad.js";

const base: ReferenceAdagradOptions = {
  lr: 0.1,
  lrDecay: 0,
  weightDecay: 0,
  initialAccumulatorValue: 0,
  eps: 1e-10,
};

const variants: { label: string; options: AdagradOptions; ref: ReferenceAdagradOptions }[] = [
  { label: "defaults", options: { learningRate: 0.1 }, ref: base },
  {
    label: "learning-rate decay",
    options: { learningRate: 0.2, learningRateDecay: 0.1 },
    ref: { ...base, lr: 0.2, lrDecay: 0.1 },
  },
  {
    label: "initial accumulator, L2 decay and eps",
    options: { learningRate: 0.05, initialAccumulatorValue: 0.3, weightDecay: 0.05, eps: 1e-3 },
    ref: { ...base, lr: 0.05, initialAccumulatorValue: 0.3, weightDecay: 0.05, eps: 1e-3 },
  },
];

describe("Adagrad fused path equals the per-tensor reference loop", () => {
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const state = referenceAdagradInit(sampleLayout(), ref);
        const { opt, params, expected } = await runBesideReference({
          dtype,
          transform: adagrad(options),
          gradients: 8,
          reference: (x, g) => referenceAdagradStep(x.layout, x.data, g, state, ref),
        });
        const rtol = FUSED_RTOL[dtype];
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        const s = partStateWith<AdagradState>(opt, "sumOfSquares");
        assert.equal(s.count, 8);
        assertTensorsClose(params.layout, s.sumOfSquares, state.sum, rtol, "sum", UNIT_FLOOR);
      });
    }
  }

  it("takes steps lr/(1 + (t−1)·decay)/√t for a constant gradient", async () => {
    // s_t = t·g², so g/√s_t = sign(g)/√t.
    const params = ParamSet.fromRecord({ w: [0, 0] }, "float64");
    const opt = new Optimizer(
      params,
      adagrad({ learningRate: 0.5, learningRateDecay: 0.25, eps: 0 }),
    );
    let previous = Array.from(params.data);
    for (let t = 1; t <= 6; t++) {
      await opt.update(Float64Array.of(-3, 0.01));
      const moved = Array.from(params.data, (p, i) => p - previous[i]);
      previous = Array.from(params.data);
      const size = 0.5 / (1 + (t - 1) * 0.25) / Math.sqrt(t);
      assertClose(moved, [size, -size], 1e-15, `t=${t}`, UNIT_FLOOR);
    }
  });
});

describe("Adagrad learning-rate decay composes with a scheduled learning rate", () => {
  it("step t uses lr(t−1)/(1 + (t−1)·decay)", async () => {
    const schedule = (count: number) => 0.1 * (count + 1);
    const params = ParamSet.fromRecord({ w: [0] }, "float64");
    const opt = new Optimizer(
      params,
      adagrad({ learningRate: schedule, learningRateDecay: 0.5, eps: 0 }),
    );
    let previous = params.data[0];
    for (let t = 1; t <= 5; t++) {
      await opt.update(Float64Array.of(2));
      const size = schedule(t - 1) / (1 + (t - 1) * 0.5) / Math.sqrt(t);
      assertClose([params.data[0] - previous], [-size], 1e-15, `t=${t}`, UNIT_FLOOR);
      previous = params.data[0];
    }
  });
});

describe("Adagrad hyperparameter validation", () => {
  it("rejects bad values, naming the parameter and the value", () => {
    assertInvalidArgument(() => adagrad({ learningRate: -0.01 }), "learningRate", -0.01);
    assertInvalidArgument(() => adagrad({ learningRateDecay: -1 }), "learningRateDecay", -1);
    assertInvalidArgument(() => adagrad({ weightDecay: -0.1 }), "weightDecay", -0.1);
    assertInvalidArgument(
      () => adagrad({ initialAccumulatorValue: -0.1 }),
      "initialAccumulatorValue",
      -0.1,
    );
    assertInvalidArgument(() => adagrad({ eps: Number.NaN }), "eps", NaN);
    assertInvalidArgument(
      () => adagrad({ lr_decay: 0.1 } as unknown as AdagradOptions),
      "lr_decay",
      0.1,
    );
  });
});

describe("Adagrad converges", () => {
  it("on a parabola (κ = 10) to 1e-20 in 1000 steps", async () => {
    const loss = await minimize(
      illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }),
      adagrad({ learningRate: 0.5 }),
      1000,
    );
    assert.ok(loss < 1e-20, `${loss}`);
  });

  it("on the 2-D Rosenbrock to 1e-6 in 10000 steps", async () => {
    const loss = await minimize(rosenbrock(), adagrad({ learningRate: 0.5 }), 10000);
    assert.ok(loss < 1e-6, `${loss}`);
  });
});
