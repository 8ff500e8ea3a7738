import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingOracleError } from "../../src/errors.js";
import type { AdaHessianOptions, AdaHessianState } from "../../src/optim/adahessian.js";
import { adahessian, scaleByAdaHessian } from "../../src/optim/adahessian.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { DType } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  FUSED_RTOL,
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  assertTensorsClose,
  minimize,
  partStateWith,
  snapshotState,
} from "../helpers/assertions.js";
import { coupledQuartic } from "../helpers/problems.js";
import type { ReferenceAdaHessianOptions } from "../reference/adahessian.js";
import { referenceAdaHessianInit, referenceAdaHessianStep } from "../reference/adahessian.js";

/** Tensors of every rank the averaging modes treat differently. */
function curvatureLayout(dtype: DType): Layout {
  return new Layout(
    [
      { name: "conv.weight", shape: [3, 2, 2, 3] },
      { name: "fc.weight", shape: [4, 5] },
      { name: "conv1d.weight", shape: [2, 3, 4] },
      { name: "fc.bias", shape: [5] },
    ],
    dtype,
  );
}
const stateOf = (opt: Optimizer) => partStateWith<AdaHessianState>(opt, "nu");

const variants: { label: string; options: AdaHessianOptions; ref: ReferenceAdaHessianOptions }[] = [
  {
    label: "official defaults",
    options: {},
    ref: {
      lr: 0.15,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-4,
      weightDecay: 0,
      hessianPower: 1,
      averaging: "kernels",
      seed: 0,
    },
  },
  {
    label: "row averaging, weight decay, seed 5",
    options: { learningRate: 0.05, weightDecay: 0.01, spatialAveraging: "rows", seed: 5 },
    ref: {
      lr: 0.05,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-4,
      weightDecay: 0.01,
      hessianPower: 1,
      averaging: "rows",
      seed: 5,
    },
  },
  {
    label: "no averaging, Hessian power 0.5, other betas",
    options: {
      learningRate: 0.02,
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-3,
      hessianPower: 0.5,
      spatialAveraging: "none",
      seed: 2 ** 40,
    },
    ref: {
      lr: 0.02,
      beta1: 0.8,
      beta2: 0.99,
      eps: 1e-3,
      weightDecay: 0,
      hessianPower: 0.5,
      averaging: "none",
      seed: 2 ** 40,
    },
  },
];

describe("AdaHessian: the Optimizer path equals the per-tensor reference loop", () => {
  for (const { label, options, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const f = coupledQuartic(curvatureLayout(dtype), 21);
        const g = coupledQuartic(curvatureLayout("float64"), 21);
        const params = new ParamSet(f.layout, f.initialParams!());
        const expected = new ParamSet(g.layout, g.initialParams!());
        const opt = new Optimizer(params, adahessian(options));
        const state = referenceAdaHessianInit(g.layout);
        const grad = new Float64Array(g.layout.size);
        const hvp = (x: Float64Array, v: Float64Array) => {
          const out = new Float64Array(x.length);
          void g.hvp!(x, v, out);
          return out;
        };
        for (let k = 0; k < 6; k++) {
          await opt.step(f);
          void g.valueAndGrad!(expected.data, grad);
          referenceAdaHessianStep(g.layout, expected.data, grad, hvp, state, ref);
        }
        const rtol = FUSED_RTOL[dtype];
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        assertTensorsClose(f.layout, stateOf(opt).mu, [...state.m.values()], rtol, "m");
        assertTensorsClose(f.layout, stateOf(opt).nu, [...state.v.values()], rtol, "v");
        assert.equal(stateOf(opt).count, 6);
      });
    }
  }
});

describe("AdaHessian probes", () => {
  it("are ±1 with both signs, fresh every step and set by the seed", async () => {
    const f = coupledQuartic(curvatureLayout("float64"), 21);
    const seen: Float64Array[] = [];
    const recording: Objective = {
      ...f,
      hvp(x, v, out) {
        seen.push(Float64Array.from(v));
        return f.hvp!(x, v, out);
      },
    };
    for (const seed of [0, 0, 1]) {
      const opt = new Optimizer(new ParamSet(f.layout, f.initialParams!()), adahessian({ seed }));
      for (let k = 0; k < 2; k++) await opt.step(recording);
    }
    for (const v of seen) {
      assert.ok(v.every((x) => x === 1 || x === -1));
      const plus = v.filter((x) => x === 1).length;
      assert.ok(plus > 20 && plus < v.length - 20, `balanced signs: ${plus} of ${v.length}`);
    }
    assertSameBits(seen[0], seen[2], "same seed, same step");
    assert.notDeepEqual(seen[0], seen[1], "steps differ");
    assert.notDeepEqual(seen[0], seen[4], "seeds differ");
  });

  it("can be injected, and receive the 0-based step and each tensor's view", async () => {
    const f = coupledQuartic(curvatureLayout("float64"), 21);
    const calls: string[] = [];
    const opt = new Optimizer(
      new ParamSet(f.layout, f.initialParams!()),
      adahessian({
        probes: (ctx, i, out, step) => {
          assert.equal(out.length, ctx.layout.tensors[i].size);
          calls.push(`${step}:${ctx.layout.tensors[i].name}`);
          out.fill(1);
        },
      }),
    );
    await opt.step(f);
    await opt.step(f);
    const names = f.layout.tensors.map((t) => t.name);
    assert.deepEqual(calls, [...names.map((n) => `0:${n}`), ...names.map((n) => `1:${n}`)]);
  });
});

describe("AdaHessian convergence", () => {
  it("solves a parabola with condition number 100", async () => {
    const f = illConditionedQuadratic({ dimension: 20, conditionNumber: 100 });
    const loss = await minimize(f, adahessian({ learningRate: 0.15 }), 300);
    assert.ok(loss < 1e-10, `loss ${loss}`);
  });

  // The diagonal estimate sees the valley's strong off-diagonal curvature as noise; the square
  // root of it (Hessian power 1/2, as the conformance case uses) crosses the valley far faster.
  it("reaches the minimum of the 2-D Rosenbrock function (Hessian power 1/2)", async () => {
    const f = rosenbrock();
    const loss = await minimize(f, adahessian({ learningRate: 0.1, hessianPower: 0.5 }), 5000);
    assert.ok(loss < 1e-8, `loss ${loss}`);
  });
});

describe("AdaHessian validation and failures", () => {
  it("rejects bad options, naming the parameter and the value", () => {
    assertInvalidArgument(() => adahessian({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => adahessian({ weightDecay: -0.1 }), "weightDecay", -0.1);
    assertInvalidArgument(() => adahessian({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => adahessian({ beta2: -0.5 }), "beta2", -0.5);
    assertInvalidArgument(() => adahessian({ eps: -1e-4 }), "eps", -1e-4);
    assertInvalidArgument(() => adahessian({ hessianPower: 1.5 }), "hessianPower", 1.5);
    assertInvalidArgument(() => adahessian({ seed: 0.5 }), "seed", 0.5);
    assertInvalidArgument(
      () => adahessian({ spatialAveraging: "cols" as "rows" }),
      "spatialAveraging",
      "cols",
    );
    assertInvalidArgument(
      () => scaleByAdaHessian({ probes: 3 as unknown as undefined }),
      "probes",
      3,
    );
    assertInvalidArgument(
      () => adahessian({ betas: [0.9, 0.99] } as AdaHessianOptions),
      "betas",
      [0.9, 0.99],
    );
  });

  it("needs an objective with an hvp oracle", async () => {
    const f = coupledQuartic(curvatureLayout("float64"), 21);
    const withoutHvp: Objective = {
      name: f.name,
      layout: f.layout,
      value: (x) => f.value(x),
      valueAndGrad: (x, g) => f.valueAndGrad!(x, g),
    };
    const opt = new Optimizer(new ParamSet(f.layout, f.initialParams!()), adahessian());
    await assert.rejects(opt.step(withoutHvp), (e: unknown) => {
      assert.ok(e instanceof MissingOracleError);
      assert.equal(e.oracle, "hvp");
      assert.equal(e.objective, "coupled-quartic");
      return true;
    });
    await assert.rejects(opt.update(f.layout.zeros()), MissingOracleError);
    assert.equal(stateOf(opt).count, 0);
  });

  it("throws on a non-finite Hessian-vector product and changes nothing", async () => {
    const f = coupledQuartic(curvatureLayout("float64"), 21);
    let calls = 0;
    const faulty: Objective = {
      ...f,
      hvp(x, v, out) {
        void f.hvp!(x, v, out);
        if (++calls === 3) out[40] = Number.NaN;
      },
    };
    const params = new ParamSet(f.layout, f.initialParams!());
    const opt = new Optimizer(params, adahessian());
    await opt.step(faulty);
    await opt.step(faulty);
    const before = snapshotState(opt.state);
    const x = params.data.slice();
    await assert.rejects(opt.step(faulty), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /Hessian-vector product is not finite/);
      assert.match(e.message, /fc\.weight\[4\] = NaN/);
      return true;
    });
    assertSameState(opt.state, before);
    assertSameBits(params.data, x, "params");
    assert.equal(opt.count, 2);
  });
});

describe("AdaHessian checkpoints", () => {
  it("resumes bit-exactly: k steps, save, load, n − k steps equals n steps", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const f = coupledQuartic(curvatureLayout(dtype), 21);
      const options: AdaHessianOptions = { learningRate: 0.05, weightDecay: 0.01, seed: 9 };
      const straight = new Optimizer(
        new ParamSet(f.layout, f.initialParams!()),
        adahessian(options),
      );
      for (let i = 0; i < 9; i++) await straight.step(f);

      const first = new Optimizer(new ParamSet(f.layout, f.initialParams!()), adahessian(options));
      for (let i = 0; i < 4; i++) await first.step(f);
      const bytes = serializeOptimizer(first, { includeParams: true });
      const resumed = new Optimizer(new ParamSet(f.layout), adahessian(options));
      restoreOptimizer(resumed, bytes, { includeParams: true });
      for (let i = 0; i < 5; i++) await resumed.step(f);

      assertSameBits(resumed.params.data, straight.params.data, `${dtype} params`);
      assertSameState(resumed.state, straight.state);
    }
  });
});
