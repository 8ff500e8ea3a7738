import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { formatValue } from "../../src/errors.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { RandomScalingOptions, RandomScalingState } from "../../src/optim/randomScaling.js";
import { randomScaling } from "../../src/optim/randomScaling.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  UNIT_FLOOR,
  assertInvalidArgument,
  assertTensorsClose,
  minimize,
  partStateWith,
  itMatchesReferenceLoop,
} from "../helpers/assertions.js";
import type { ReferenceRandomScalingOptions } from "../reference/randomScaling.js";
import {
  referenceRandomScalingInit,
  referenceRandomScalingStep,
  referenceScalingFactor,
} from "../reference/randomScaling.js";

const stateOf = (opt: Optimizer) => partStateWith<RandomScalingState>(opt, "delta");

const variants: {
  label: string;
  options: RandomScalingOptions;
  ref: ReferenceRandomScalingOptions;
}[] = [
  {
    label: "β = 0.9",
    options: { learningRate: 0.01, beta: 0.9, seed: 3 },
    ref: { lr: 0.01, beta: 0.9, mu: 0, seed: 3 },
  },
  {
    label: "defaults with μ > 0",
    options: { learningRate: 0.02, mu: 5, seed: 11 },
    ref: { lr: 0.02, beta: 0.99, mu: 5, seed: 11 },
  },
  {
    label: "scheduled η, β = 1, a seed above 2^32",
    options: { learningRate: (c: number) => 0.05 / (1 + c), beta: 1, seed: 2 ** 40 + 3 },
    ref: { lr: (c: number) => 0.05 / (1 + c), beta: 1, mu: 0, seed: 2 ** 40 + 3 },
  },
];

describe("random scaling: the Optimizer path equals the per-tensor reference loop", () => {
  itMatchesReferenceLoop({
    variants,
    transform: randomScaling,
    gradients: 8,
    init: referenceRandomScalingInit,
    step: referenceRandomScalingStep,
    checkState(opt, params, state, _ref, rtol) {
      assertTensorsClose(params.layout, stateOf(opt).delta, state.delta, rtol, "Δ", UNIT_FLOOR);
      assert.equal(stateOf(opt).count, 8);
    },
  });
});

describe("random scaling: the defining equations by hand", () => {
  it("f(x) = x²/2 from x = 2 with η = 0.1, β = 0.5, μ = 1", async () => {
    const params = ParamSet.fromRecord({ x: [2] }, "float64");
    const quadratic: Objective = {
      name: "half-square",
      layout: params.layout,
      value: (x) => 0.5 * x[0] * x[0],
      valueAndGrad: (x, g) => {
        g[0] = x[0];
        return 0.5 * x[0] * x[0];
      },
    };
    const opt = new Optimizer(
      params,
      randomScaling({ learningRate: 0.1, beta: 0.5, mu: 1, seed: 0 }),
    );
    const s1 = referenceScalingFactor(0, 1);
    const s2 = referenceScalingFactor(0, 2);
    assert.ok(s1 > 0 && s2 > 0 && s1 !== s2);
    // Step 1: the gradient at x0 = 2 is 2; Δ1 = 0.5/1.1·(0 − 0.2); x1 = 2 + s1·Δ1.
    await opt.step(quadratic);
    const delta1 = (0.5 / 1.1) * -0.2;
    const x1 = 2 + s1 * delta1;
    assert.ok(Math.abs(params.data[0] - x1) < 1e-15, `${params.data[0]} vs ${x1}`);
    // Step 2: the gradient is taken at the scaled iterate x1 itself.
    await opt.step(quadratic);
    const delta2 = (0.5 / 1.1) * (delta1 - 0.1 * x1);
    const x2 = x1 + s2 * delta2;
    assert.ok(Math.abs(params.data[0] - x2) < 1e-15, `${params.data[0]} vs ${x2}`);
    assert.ok(Math.abs(stateOf(opt).delta[0] - delta2) < 1e-16);
  });

  it("with β = 1, μ = 0 and one gradient, the displacement is s_t times the accumulated −η·Σg", async () => {
    const layout = new Layout([{ name: "w", shape: [3] }], "float64");
    const params = new ParamSet(layout, Float64Array.from([0, 0, 0]));
    const opt = new Optimizer(params, randomScaling({ learningRate: 0.5, beta: 1, seed: 9 }));
    const g = Float64Array.from([1, -2, 4]);
    let expected = 0;
    for (let t = 1; t <= 5; t++) {
      await opt.update(g);
      expected += referenceScalingFactor(9, t) * -0.5 * t;
      for (let i = 0; i < 3; i++) {
        assert.ok(Math.abs(params.data[i] - expected * g[i]) < 1e-13 * Math.abs(expected * g[i]));
      }
    }
  });
});

async function trajectory(seed: number, steps: number): Promise<Float64Array[]> {
  const f = rosenbrock();
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, randomScaling({ learningRate: 1e-4, beta: 0.9, seed }));
  const out: Float64Array[] = [];
  for (let i = 0; i < steps; i++) {
    await opt.step(f);
    out.push(Float64Array.from(params.data));
  }
  return out;
}

describe("random scaling: determinism", () => {
  it("the same seed gives a bit-identical trajectory; another seed a different one", async () => {
    const a = await trajectory(42, 50);
    const b = await trajectory(42, 50);
    const c = await trajectory(43, 50);
    for (let t = 0; t < a.length; t++) {
      for (let i = 0; i < 2; i++) assert.ok(Object.is(a[t][i], b[t][i]), `step ${t}`);
    }
    let differing = 0;
    for (let t = 0; t < a.length; t++) if (a[t][0] !== c[t][0]) differing++;
    assert.ok(differing >= 49, `${differing} of 50 steps differ`);
  });

  it("k steps, save, load, n − k steps equal n uninterrupted steps bit for bit", async () => {
    const f = rosenbrock();
    const make = () => randomScaling({ learningRate: 1e-4, beta: 0.9, seed: 5 });
    const straight = new ParamSet(f.layout, f.initialParams!());
    const reference = new Optimizer(straight, make());
    for (let i = 0; i < 30; i++) await reference.step(f);

    const first = new ParamSet(f.layout, f.initialParams!());
    const before = new Optimizer(first, make());
    for (let i = 0; i < 12; i++) await before.step(f);
    const saved = serializeOptimizer(before, { includeParams: true });
    const resumed = new Optimizer(new ParamSet(f.layout), make());
    restoreOptimizer(resumed, saved, { includeParams: true });
    for (let i = 12; i < 30; i++) await resumed.step(f);
    for (let i = 0; i < 2; i++) assert.ok(Object.is(resumed.params.data[i], straight.data[i]));
  });
});

describe("random scaling converges (seeds 0, 1, 2)", () => {
  it("on a parabola (κ = 10) to 1e-20 in 2000 steps (η = 0.03, β = 0.9)", async () => {
    for (const seed of [0, 1, 2]) {
      const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
      const loss = await minimize(f, randomScaling({ learningRate: 0.03, beta: 0.9, seed }), 2000);
      assert.ok(loss < 1e-20, `seed ${seed}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-10 in 12000 steps (η = 3e-4, β = 0.9)", async () => {
    for (const seed of [0, 1, 2]) {
      const transform = randomScaling({ learningRate: 3e-4, beta: 0.9, seed });
      const loss = await minimize(rosenbrock(), transform, 12000);
      assert.ok(loss < 1e-10, `seed ${seed}: ${loss}`);
    }
  });
});

describe("random scaling: validation", () => {
  const cases: [RandomScalingOptions, string, unknown][] = [
    [{ learningRate: -1 }, "learningRate", -1],
    [{ beta: 1.5 }, "beta", 1.5],
    [{ beta: -0.1 }, "beta", -0.1],
    [{ mu: -2 }, "mu", -2],
    [{ seed: -1 }, "seed", -1],
    [{ seed: 0.5 }, "seed", 0.5],
    [{ seed: 2 ** 53 }, "seed", 2 ** 53],
    [{ learningRate: (c: number) => (c > 5 ? -1 : 0.1) }, "learningRate (schedule at step 10)", -1],
    [{ momentum: 0.9 } as RandomScalingOptions, "momentum", 0.9],
  ];
  for (const [options, parameter, value] of cases) {
    it(`rejects ${parameter} = ${formatValue(value)}`, () => {
      assertInvalidArgument(() => randomScaling(options), parameter, value);
    });
  }
});
