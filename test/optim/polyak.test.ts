import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, formatValue } from "../../src/errors.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { PolyakOptions, PolyakState } from "../../src/optim/polyak.js";
import { polyak } from "../../src/optim/polyak.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  minimize,
  optimize,
  partStateWith,
  runBesideReference,
  updateWithLoss,
} from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferencePolyakOptions } from "../reference/polyak.js";
import { referencePolyakStep } from "../reference/polyak.js";

const stateOf = (opt: Optimizer) => partStateWith<PolyakState>(opt, "stepSize");

// The fifth loss is below f* in every variant: that step must not move.
const losses = [2.5, 1.7, 1.1, 0.9, -1, 0.6, 0.45, 0.4];

const variants: {
  label: string;
  options: PolyakOptions;
  ref: (count: number) => ReferencePolyakOptions;
}[] = [
  {
    label: "SPS (c = 0.5, no cap)",
    options: { optimalValue: 0 },
    ref: () => ({ fStar: 0, c: 0.5, maxStepSize: Infinity, eps: 0 }),
  },
  {
    label: "SPS_max (c = 1, γ_b = 0.3, f* = −0.5)",
    options: { optimalValue: -0.5, c: 1, maxStepSize: 0.3 },
    ref: () => ({ fStar: -0.5, c: 1, maxStepSize: 0.3, eps: 0 }),
  },
  {
    label: "scheduled cap and ε as in the official code",
    options: { optimalValue: 0.1, c: 0.2, maxStepSize: (k: number) => 2 / (1 + k), eps: 1e-8 },
    ref: (k) => ({ fStar: 0.1, c: 0.2, maxStepSize: 2 / (1 + k), eps: 1e-8 }),
  },
];

describe("Polyak: the Optimizer path equals the per-tensor reference loop", () => {
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const rtol = FUSED_RTOL[dtype];
        const { params, expected } = await runBesideReference({
          dtype,
          transform: polyak(options),
          gradients: 8,
          update: (opt, g, k) => updateWithLoss(opt, losses[k], g),
          reference: (x, g, k, opt) => {
            const gamma = referencePolyakStep(x.layout, x.data, losses[k], g, ref(k));
            assertClose([stateOf(opt).stepSize], [gamma], rtol, `γ at step ${k}`, UNIT_FLOOR);
            if (k === 4) assert.equal(gamma, 0);
          },
        });
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
      });
    }
  }
});

/** f(x) = ½‖x‖², f* = 0. */
function halfSquare(start: number[]): { params: ParamSet; f: Objective } {
  const params = ParamSet.fromRecord({ x: start }, "float64");
  const f: Objective = {
    name: "half-square",
    layout: params.layout,
    optimalValue: 0,
    value: (x) => 0.5 * (x[0] * x[0] + x[1] * x[1]),
    valueAndGrad: (x, g) => {
      g[0] = x[0];
      g[1] = x[1];
      return 0.5 * (x[0] * x[0] + x[1] * x[1]);
    },
  };
  return { params, f };
}

describe("Polyak: the defining equations by hand on f(x) = ½‖x‖² from (3, −4)", () => {
  it("c = 1/2: γ = 12.5/(0.5·25) = 1 lands exactly on the minimizer", async () => {
    const { params, f } = halfSquare([3, -4]);
    const opt = new Optimizer(params, polyak());
    await opt.step(f);
    assert.equal(stateOf(opt).stepSize, 1);
    assert.deepEqual(Array.from(params.data), [0, 0]);
  });

  it("c = 1 (Polyak's original): γ = 1/2 halves the point", async () => {
    const { params, f } = halfSquare([3, -4]);
    const opt = new Optimizer(params, polyak({ c: 1 }));
    await opt.step(f);
    assert.equal(stateOf(opt).stepSize, 0.5);
    assert.deepEqual(Array.from(params.data), [1.5, -2]);
  });

  it("γ_b = 0.25 caps the step: x1 = 0.75·x0", async () => {
    const { params, f } = halfSquare([3, -4]);
    const opt = new Optimizer(params, polyak({ maxStepSize: 0.25 }));
    await opt.step(f);
    assert.equal(stateOf(opt).stepSize, 0.25);
    assert.deepEqual(Array.from(params.data), [2.25, -3]);
  });

  it("a zero gradient gives a zero step (no 0/0)", async () => {
    const { params, f } = halfSquare([0, 0]);
    const opt = new Optimizer(params, polyak({ optimalValue: -1 }));
    await opt.step(f);
    assert.equal(stateOf(opt).stepSize, 0);
    assert.deepEqual(Array.from(params.data), [0, 0]);
  });
});

describe("Polyak converges", () => {
  for (const c of [0.5, 1]) {
    it(`reaches machine precision on a parabola (κ = 10) with f* from the objective (c = ${c})`, async () => {
      const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
      const params = await optimize(f, polyak({ c }), 300);
      const grad = f.layout.zeros();
      const loss = (await f.valueAndGrad!(params.data, grad)) as number;
      assert.ok(loss <= 1e-30, `f = ${loss}`);
      for (const g of grad) assert.ok(Math.abs(g) <= 1e-15, `gradient ${g}`);
    });
  }

  it("stops at the level f = f* of a given optimalValue (overriding the objective's)", async () => {
    const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const params = await optimize(f, polyak({ optimalValue: 0.05, c: 1 }), 300);
    const loss = f.value(params.data) as number;
    assert.ok(loss >= 0.05 - 1e-12 && loss < 0.05 + 1e-6, `f = ${loss}`);
  });

  it("on the 2-D Rosenbrock (f* = 0) to 1e-25 in 4000 steps (c = 1)", async () => {
    const f = rosenbrock();
    const loss = await minimize(f, polyak({ c: 1 }), 4000);
    assert.ok(loss < 1e-25, `${loss}`);
  });

  it("on the 2-D Rosenbrock to 1e-10 in 10000 steps with the defaults (c = 0.5)", async () => {
    const f = rosenbrock();
    const loss = await minimize(f, polyak(), 10000);
    assert.ok(loss < 1e-10, `${loss}`);
  });
});

describe("Polyak: errors", () => {
  it("names optimalValue when neither the options nor the objective give f*", async () => {
    const { params, f } = halfSquare([3, -4]);
    const withoutStar: Objective = { ...f, optimalValue: undefined };
    const opt = new Optimizer(params, polyak());
    await assert.rejects(opt.step(withoutStar), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.parameter, "optimalValue");
      assert.match(e.message, /optimalValue/);
      return true;
    });
    assert.deepEqual(Array.from(params.data), [3, -4]);
    assert.equal(stateOf(opt).count, 0);
  });

  it("names the missing loss", async () => {
    const params = sampleParams("float64");
    const opt = new Optimizer(params, polyak({ optimalValue: 0 }));
    const [g] = sampleGradients(params.layout, 1);
    await assert.rejects(
      opt.update(g),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "loss",
    );
    assert.equal(stateOf(opt).count, 0);
  });

  const cases: [PolyakOptions, string, unknown][] = [
    [{ c: 0 }, "c", 0],
    [{ c: -1 }, "c", -1],
    [{ maxStepSize: 0 }, "maxStepSize", 0],
    [{ maxStepSize: (k: number) => 1 - k }, "maxStepSize (schedule at step 1)", 0],
    [{ eps: -1e-8 }, "eps", -1e-8],
    [{ optimalValue: NaN }, "optimalValue", NaN],
    [{ fStar: 0 } as PolyakOptions, "fStar", 0],
  ];
  for (const [options, parameter, value] of cases) {
    it(`rejects ${parameter} = ${formatValue(value)} at construction`, () => {
      assertInvalidArgument(() => polyak(options), parameter, value);
    });
  }
});
