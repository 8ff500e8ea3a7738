import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, formatValue } from "../../src/errors.js";
import type { AegdOptions, AegdState } from "../../src/optim/aegd.js";
import { aegd } from "../../src/optim/aegd.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { Objective } from "../../src/oracles/objective.js";
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
  updateWithLoss,
} from "../helpers/assertions.js";
import { sampleGradients, sampleLayout, sampleParams } from "../helpers/inputs.js";
import type { ReferenceAegdOptions } from "../reference/aegd.js";
import { referenceAegdInit, referenceAegdStep } from "../reference/aegd.js";

const stateOf = (opt: Optimizer) => partStateWith<AegdState>(opt, "energy");

const variants: { label: string; options: AegdOptions; ref: ReferenceAegdOptions }[] = [
  {
    label: "defaults (η = 0.1, c = 1)",
    options: {},
    ref: { lr: 0.1, c: 1, weightDecay: 0, decoupled: false },
  },
  {
    label: "L2 weight decay on the weights only, c = 0.5",
    options: { learningRate: 0.3, c: 0.5, weightDecay: 0.01, weightDecayMask: "*.weight" },
    ref: {
      lr: 0.3,
      c: 0.5,
      weightDecay: 0.01,
      decoupled: false,
      decayMask: (n) => n.endsWith(".weight"),
    },
  },
  {
    label: "decoupled weight decay (AEGDW)",
    options: { learningRate: 0.7, weightDecay: 0.05, decoupledWeightDecay: true },
    ref: { lr: 0.7, c: 1, weightDecay: 0.05, decoupled: true },
  },
];

describe("AEGD: the Optimizer path equals the per-tensor reference loop", () => {
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const loss = (k: number) => 2 / (1 + k) - 0.2;
        const state = referenceAegdInit(sampleLayout());
        const { opt, params, expected } = await runBesideReference({
          dtype,
          transform: aegd(options),
          gradients: 8,
          update: (o, g, k) => updateWithLoss(o, loss(k), g),
          reference: (x, g, k) => referenceAegdStep(x.layout, x.data, loss(k), g, state, ref),
        });
        const rtol = FUSED_RTOL[dtype];
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        assertTensorsClose(params.layout, stateOf(opt).energy, state.r, rtol, "r", UNIT_FLOOR);
      });
    }
  }
});

const square: Objective = {
  name: "square",
  layout: ParamSet.fromRecord({ x: [0] }, "float64").layout,
  value: (x) => x[0] * x[0],
  valueAndGrad: (x, g) => {
    g[0] = 2 * x[0];
    return x[0] * x[0];
  },
};

describe("AEGD: the defining equations by hand", () => {
  it("f(x) = x² from x = 1 with η = 0.1, c = 1", async () => {
    const params = ParamSet.fromRecord({ x: [1] }, "float64");
    const opt = new Optimizer(params, aegd({ learningRate: 0.1, c: 1 }));
    // Step 1: f = 1, √(f + c) = √2, v = 2/(2√2) = 1/√2, r0 = √2, r1 = √2/(1 + 0.2·½) = √2/1.1,
    // x1 = 1 − 0.2·(√2/1.1)·(1/√2) = 1 − 0.2/1.1 = 9/11.
    await opt.step(square);
    assert.ok(Math.abs(params.data[0] - 9 / 11) < 1e-15, `${params.data[0]}`);
    assert.ok(Math.abs(stateOf(opt).energy[0] - Math.SQRT2 / 1.1) < 1e-15);
    // Step 2: f = 81/121, √(f + 1) = √202/11, v = (18/11)/(2√202/11) = 9/√202,
    // r2 = r1/(1 + 0.2·81/202), x2 = 9/11 − 0.2·r2·v.
    await opt.step(square);
    const r2 = Math.SQRT2 / 1.1 / (1 + (0.2 * 81) / 202);
    const x2 = 9 / 11 - 0.2 * r2 * (9 / Math.sqrt(202));
    assert.ok(Math.abs(params.data[0] - x2) < 1e-15, `${params.data[0]} vs ${x2}`);
    assert.ok(Math.abs(stateOf(opt).energy[0] - r2) < 1e-15);
  });

  it("the energy never increases", async () => {
    const f = rosenbrock();
    const params = new ParamSet(f.layout, f.initialParams!());
    const opt = new Optimizer(params, aegd({ learningRate: 1e-3 }));
    await opt.step(f);
    let previous = Float64Array.from(stateOf(opt).energy);
    for (let i = 0; i < 200; i++) {
      await opt.step(f);
      const energy = stateOf(opt).energy;
      for (let k = 0; k < energy.length; k++) assert.ok(energy[k] <= previous[k]);
      previous = Float64Array.from(energy);
    }
  });
});

describe("AEGD converges", () => {
  it("on a parabola (κ = 10) to 1e-25 in 1000 steps (η = 0.3)", async () => {
    const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const loss = await minimize(f, aegd({ learningRate: 0.3 }), 1000);
    assert.ok(loss < 1e-25, `${loss}`);
  });

  it("on the 2-D Rosenbrock to 1e-8 in 10000 steps (η = 1e-3)", async () => {
    const loss = await minimize(rosenbrock(), aegd({ learningRate: 1e-3 }), 10000);
    assert.ok(loss < 1e-8, `${loss}`);
  });
});

describe("AEGD: errors", () => {
  it("names the missing loss and leaves parameters and state untouched", async () => {
    const params = sampleParams("float64");
    const before = Float64Array.from(params.data);
    const opt = new Optimizer(params, aegd());
    const [g] = sampleGradients(params.layout, 1);
    await assert.rejects(opt.update(g), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.parameter, "loss");
      assert.match(e.message, /f\(θ\)/);
      assert.match(e.message, /opt\.step\(objective\)/);
      return true;
    });
    assert.deepEqual(params.data, before);
    assert.equal(stateOf(opt).count, 0);
    assert.ok(stateOf(opt).energy.every((r) => r === 0));
    assert.equal(opt.count, 0);
  });

  it("rejects f(θ) + c ≤ 0, naming c and the loss", async () => {
    const params = sampleParams("float64");
    const opt = new Optimizer(params, aegd({ c: 1 }));
    const [g] = sampleGradients(params.layout, 1);
    await assert.rejects(updateWithLoss(opt, -3, g), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.parameter, "c");
      assert.match(e.message, /-3/);
      return true;
    });
    assert.equal(stateOf(opt).count, 0);
  });

  const cases: [AegdOptions, string, unknown][] = [
    [{ learningRate: -0.1 }, "learningRate", -0.1],
    [{ c: NaN }, "c", NaN],
    [{ c: Infinity }, "c", Infinity],
    [{ weightDecay: -1 }, "weightDecay", -1],
    [{ decoupledWeightDecay: "yes" as unknown as boolean }, "decoupledWeightDecay", "yes"],
    [{ lr: 0.1 } as AegdOptions, "lr", 0.1],
  ];
  for (const [options, parameter, value] of cases) {
    it(`rejects ${parameter} = ${formatValue(value)} at construction`, () => {
      assertInvalidArgument(() => aegd(options), parameter, value);
    });
  }
});
