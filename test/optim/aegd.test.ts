import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { AegdOptions, AegdState } from "../../src/optim/aegd.js";
import { aegd } from "../../src/optim/aegd.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceAegdOptions } from "../reference/aegd.js";
import { referenceAegdInit, referenceAegdStep } from "../reference/aegd.js";

function assertNear(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < b.length; i++) {
    const tol = rtol * Math.max(1, Math.abs(b[i]));
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function stateOf(opt: Optimizer): AegdState {
  return Object.values(opt.state).find((s) => "energy" in (s as State)) as AegdState;
}

/** One step from a given loss and gradient through the zero-copy path. */
async function stepWith(opt: Optimizer, loss: number, grad: ArrayLike<number>): Promise<void> {
  opt.updates.set(grad);
  await opt.apply({ params: opt.params.data, layout: opt.params.layout, loss });
}

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
        const params = sampleParams(dtype);
        const expected = sampleParams("float64");
        const opt = new Optimizer(params, aegd(options));
        const state = referenceAegdInit(params.layout);
        for (const [k, g] of sampleGradients(params.layout, 8).entries()) {
          const loss = 2 / (1 + k) - 0.2;
          await stepWith(opt, loss, g);
          referenceAegdStep(expected.layout, expected.data, loss, Float64Array.from(g), state, ref);
        }
        const rtol = dtype === "float64" ? 1e-12 : 1e-5;
        assertNear(params.data, expected.data, rtol, "params");
        const energy = stateOf(opt).energy;
        for (const t of params.layout.tensors) {
          assertNear(params.layout.view(energy, t.name), state.r.get(t.name)!, rtol, `r ${t.name}`);
        }
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

async function minimize(f: Objective, options: AegdOptions, steps: number): Promise<number> {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, aegd(options));
  for (let i = 0; i < steps; i++) await opt.step(f);
  return f.value(params.data) as number;
}

describe("AEGD converges", () => {
  it("on a parabola (κ = 10) to 1e-25 in 1000 steps (η = 0.3)", async () => {
    const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const loss = await minimize(f, { learningRate: 0.3 }, 1000);
    assert.ok(loss < 1e-25, `${loss}`);
  });

  it("on the 2-D Rosenbrock to 1e-8 in 10000 steps (η = 1e-3)", async () => {
    const loss = await minimize(rosenbrock(), { learningRate: 1e-3 }, 10000);
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
    await assert.rejects(stepWith(opt, -3, g), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.parameter, "c");
      assert.match(e.message, /-3/);
      return true;
    });
    assert.equal(stateOf(opt).count, 0);
  });

  const cases: [AegdOptions, string, string][] = [
    [{ learningRate: -0.1 }, "learningRate", "-0.1"],
    [{ c: NaN }, "c", "NaN"],
    [{ c: Infinity }, "c", "Infinity"],
    [{ weightDecay: -1 }, "weightDecay", "-1"],
    [{ decoupledWeightDecay: "yes" as unknown as boolean }, "decoupledWeightDecay", '"yes"'],
    [{ lr: 0.1 } as AegdOptions, "lr", "0.1"],
  ];
  for (const [options, parameter, value] of cases) {
    it(`rejects ${parameter} = ${value} at construction`, () => {
      assert.throws(
        () => aegd(options),
        (e: unknown) =>
          e instanceof InvalidArgumentError &&
          e.parameter === parameter &&
          e.message.includes(value),
      );
    });
  }
});
