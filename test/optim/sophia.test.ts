import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingOracleError } from "../../src/errors.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { HessianSource, SophiaOptions, SophiaState } from "../../src/optim/sophia.js";
import { sophiaG, sophiaH } from "../../src/optim/sophia.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { softmaxRegression } from "../../src/oracles/problems/softmax.js";
import { subset } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  assertTensorsClose,
  partStateWith,
  perTensor,
  snapshotState,
} from "../helpers/assertions.js";
import { fillUniform, sampleGradients, sampleParams } from "../helpers/inputs.js";
import { SophiaReference } from "../reference/sophia.js";

/** A deterministic estimate that depends on the parameters it is asked at (so timing shows). */
const estimateOf = (p: number, shift: number) => (p - 0.3) * (p - 0.3) - shift;

function parameterSource(shift: number): HessianSource {
  return (ctx, out) => {
    for (let i = 0; i < out.length; i++) out[i] = estimateOf(ctx.params[i], shift);
  };
}

/** ∇f·∇f at the current parameters: a GNB-like (squared-gradient) estimate for tests. */
function squaredGradientSource(f: Objective): HessianSource {
  const g = f.layout.zeros();
  return async (ctx, out) => {
    await f.valueAndGrad!(ctx.params, g);
    for (let i = 0; i < out.length; i++) out[i] = g[i] * g[i];
  };
}

/** The diagonal of a diagonal Hessian, from the objective's hvp with the all-ones vector. */
function exactDiagonalSource(f: Objective): HessianSource {
  const ones = f.layout.zeros().fill(1);
  return async (ctx, out) => {
    await f.hvp!(ctx.params, ones, out);
  };
}

async function run(f: Objective, options: SophiaOptions, steps: number, useG = false) {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, useG ? sophiaG(options) : sophiaH(options));
  for (let s = 0; s < steps; s++) await opt.step(f);
  return { params, opt };
}

// g⊙g vanishes at a minimum, so its steps stay sign-like there: it needs a decaying step size.
const decaying = (c: number) => 0.05 * 0.997 ** c;

describe("sophia", () => {
  const combinations = [
    {
      name: "official clip, weight decay, batch size",
      options: { learningRate: 0.05, rho: 0.1, batchSize: 4, weightDecay: 0.2, beta2: 0.9 },
      paper: false,
      shift: -0.01,
    },
    {
      name: "paper clip, estimates of both signs",
      options: { learningRate: 0.03, rho: 0.5, weightDecay: 0, clipForm: "paper" as const },
      paper: true,
      shift: 0.2,
    },
  ];
  for (const c of combinations) {
    it(`equals the per-tensor reference loop (${c.name})`, async () => {
      const interval = 3;
      const steps = 11;
      const params = sampleParams("float64");
      const { layout } = params;
      const grads = sampleGradients(layout, steps);
      const reference = new SophiaReference(perTensor(layout, params.data), {
        lr: c.options.learningRate,
        beta1: 0.965,
        beta2: c.options.beta2 ?? 0.99,
        rho: c.options.rho,
        bs: c.options.batchSize ?? 1,
        weightDecay: c.options.weightDecay,
        eps: 1e-15,
        paper: c.paper,
      });
      const opt = new Optimizer(
        params,
        sophiaG({ ...c.options, hessianInterval: interval, hessian: parameterSource(c.shift) }),
      );
      for (let s = 1; s <= steps; s++) {
        await opt.update(grads[s - 1]);
        reference.step(perTensor(layout, grads[s - 1]));
        // The official loop refreshes after step t when t mod k = 0, at the new parameters.
        if (s % interval === 0) {
          reference.updateHessian(
            reference.params.map((p) => p.map((x) => estimateOf(x, c.shift))),
          );
        }
        const state = partStateWith<SophiaState>(opt, "hessian");
        assertTensorsClose(layout, params.data, reference.params, 1e-12, `step ${s} params`);
        assertTensorsClose(layout, state.mu, reference.expAvg, 1e-12, `step ${s} m`);
        // The refresh owed after step s happens at the start of step s + 1.
        if (s % interval !== 0) {
          assertTensorsClose(layout, state.hessian, reference.hessian, 1e-12, `step ${s} h`);
        }
      }
    });
  }

  it("takes sign steps of length lr before the first refresh", async () => {
    const params = ParamSet.fromRecord({ x: [1, -2, 3, 0.5] }, "float64");
    const opt = new Optimizer(params, sophiaG({ learningRate: 0.1, weightDecay: 0 }));
    await opt.update(Float64Array.from([2, -0.001, 0, 1e-6]));
    assert.deepEqual(Array.from(params.data), [1 - 0.1, -2 + 0.1, 3, 0.5 - 0.1]);
  });

  it("SophiaH with the exact diagonal injected equals its closed form on a diagonal quadratic", async () => {
    const f = illConditionedQuadratic({ dimension: 6, conditionNumber: 50 });
    const lr = 0.02;
    const rho = 0.3;
    const [b1, b2] = [0.9, 0.8];
    const { params } = await run(
      f,
      {
        learningRate: lr,
        rho,
        beta1: b1,
        beta2: b2,
        weightDecay: 0,
        hessianInterval: 1,
        hessian: exactDiagonalSource(f),
      },
      3,
    );
    // Closed form per coordinate: f = Σ ½λ_i (x_i − c_i)², Hessian diag(λ), g = λ(x − c).
    const x0 = f.initialParams!();
    const lambda = f.layout.zeros();
    await f.hvp!(x0, f.layout.zeros().fill(1), lambda);
    const grad = f.layout.zeros();
    await f.valueAndGrad!(x0, grad);
    const center = x0.map((x, i) => x - grad[i] / lambda[i]);
    const clip = (r: number) => Math.min(Math.max(r, -1), 1);
    for (let i = 0; i < x0.length; i++) {
      const l = lambda[i];
      let x = x0[i];
      const m1 = (1 - b1) * l * (x - center[i]);
      x -= lr * Math.sign(m1); // h = 0: a sign step
      const h2 = (1 - b2) * l;
      const m2 = b1 * m1 + (1 - b1) * l * (x - center[i]);
      x -= lr * clip(m2 / Math.max(rho * h2, 1e-15));
      const h3 = b2 * h2 + (1 - b2) * l;
      const m3 = b1 * m2 + (1 - b1) * l * (x - center[i]);
      x -= lr * clip(m3 / Math.max(rho * h3, 1e-15));
      assert.ok(Math.abs(params.data[i] - x) <= 1e-14 * Math.max(1, Math.abs(x)), `x[${i}]`);
    }
  });

  it("Hutchinson's estimate v⊙Hv is exact for a diagonal Hessian (same trajectory bit for bit)", async () => {
    const f = illConditionedQuadratic({ dimension: 9, conditionNumber: 20 });
    const options = { learningRate: 0.01, hessianInterval: 2, weightDecay: 0 };
    const a = await run(f, { ...options, hessian: "hutchinson" }, 9);
    const b = await run(f, { ...options, hessian: exactDiagonalSource(f) }, 9);
    assertSameBits(a.params.data, b.params.data, "params");
  });

  it("SophiaG's built-in source squares sampledLabelGrad at the current parameters", async () => {
    const calls: { seed: number; count: number; at: number[] }[] = [];
    const f: Objective = {
      ...illConditionedQuadratic({ dimension: 3 }),
      sampledLabelGrad(params, out, seed, count) {
        calls.push({ seed, count, at: Array.from(params) });
        for (let i = 0; i < out.length; i++) out[i] = params[i] + (seed % 7) - 3;
        return 0;
      },
    };
    const beta2 = 0.5;
    const { params, opt } = await run(
      f,
      { learningRate: 0.01, hessianInterval: 2, beta2, weightDecay: 0 },
      2,
      true,
    );
    assert.equal(calls.length, 0);
    const before = Array.from(params.data);
    await opt.step(f);
    assert.equal(calls.length, 1);
    assert.deepEqual(calls[0].at, before);
    assert.ok(Number.isInteger(calls[0].seed) && calls[0].count === 1);
    const h = partStateWith<SophiaState>(opt, "hessian").hessian;
    for (let i = 0; i < 3; i++) {
      const g = before[i] + (calls[0].seed % 7) - 3;
      assert.equal(h[i], (1 - beta2) * g * g);
    }
    await opt.step(f);
    await opt.step(f);
    assert.notEqual(calls[1].seed, calls[0].seed);
  });

  it("converges on an ill-conditioned parabola (SophiaH with hvp, SophiaG with g⊙g)", async () => {
    const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const options = {
      learningRate: 0.05,
      rho: 0.04,
      beta2: 0.9,
      hessianInterval: 2,
      weightDecay: 0,
    };
    const h = await run(f, options, 1000);
    assert.ok((f.value(h.params.data) as number) < 1e-12, `sophiaH ${f.value(h.params.data)}`);
    const g = await run(
      f,
      { ...options, learningRate: decaying, hessian: squaredGradientSource(f) },
      3000,
      true,
    );
    assert.ok((f.value(g.params.data) as number) < 1e-6, `sophiaG ${f.value(g.params.data)}`);
  });

  it("converges on the 2-D Rosenbrock function (SophiaH with hvp, SophiaG with g⊙g)", async () => {
    const f = rosenbrock();
    const options = {
      learningRate: 0.05,
      rho: 0.01,
      beta2: 0.9,
      hessianInterval: 2,
      weightDecay: 0,
    };
    const h = await run(f, options, 3000);
    assert.ok((f.value(h.params.data) as number) < 1e-6, `sophiaH ${f.value(h.params.data)}`);
    const g = await run(
      f,
      { ...options, learningRate: decaying, hessian: squaredGradientSource(f) },
      3000,
      true,
    );
    assert.ok((f.value(g.params.data) as number) < 1e-6, `sophiaG ${f.value(g.params.data)}`);
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => sophiaG({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => sophiaG({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => sophiaH({ beta2: -0.1 }), "beta2", -0.1);
    assertInvalidArgument(() => sophiaG({ rho: -0.5 }), "rho", -0.5);
    assertInvalidArgument(() => sophiaG({ batchSize: 0 }), "batchSize", 0);
    assertInvalidArgument(() => sophiaG({ hessianInterval: 2.5 }), "hessianInterval", 2.5);
    assertInvalidArgument(() => sophiaG({ eps: 0 }), "eps", 0);
    assertInvalidArgument(() => sophiaG({ weightDecay: -1 }), "weightDecay", -1);
    assertInvalidArgument(() => sophiaG({ seed: -3 }), "seed", -3);
    assertInvalidArgument(
      () => sophiaG({ clipForm: "torch" } as unknown as SophiaOptions),
      "clipForm",
      "torch",
    );
    assertInvalidArgument(
      () => sophiaH({ hessian: "fisher" } as unknown as SophiaOptions),
      "hessian",
      "fisher",
    );
    assertInvalidArgument(
      () => sophiaG({ betas: [0.9, 0.99] } as unknown as SophiaOptions),
      "betas",
      [0.9, 0.99],
    );
  });

  it("declares its oracles; a missing one is a MissingOracleError naming both", async () => {
    assert.deepEqual(sophiaG().needs, ["sampledLabelGrad"]);
    assert.deepEqual(sophiaH().needs, ["hvp"]);
    const f = illConditionedQuadratic({ dimension: 3 });
    const noHvp: Objective = { ...f, name: "no-hvp", hvp: undefined };
    const opt = new Optimizer(new ParamSet(f.layout, f.initialParams!()), sophiaH());
    await assert.rejects(opt.step(noHvp), (e: unknown) => {
      assert.ok(e instanceof MissingOracleError);
      assert.ok(e.message.includes('"no-hvp"') && e.message.includes('"hvp"'), e.message);
      return true;
    });
    const g = new Optimizer(new ParamSet(f.layout, f.initialParams!()), sophiaG());
    await assert.rejects(g.step(f), (e: unknown) => {
      assert.ok(e instanceof MissingOracleError);
      assert.ok(e.message.includes(f.name) && e.message.includes("sampledLabelGrad"), e.message);
      return true;
    });
  });

  it("rejects a non-finite Hessian estimate, leaving parameters and state untouched", async () => {
    const layout = new Layout([{ name: "w", shape: [2, 2] }], "float64");
    const bad: HessianSource = (_ctx, out) => {
      out.fill(1);
      out[3] = Number.NaN;
    };
    const params = new ParamSet(layout, Float64Array.from([1, 2, 3, 4]));
    const opt = new Optimizer(params, sophiaG({ hessianInterval: 1, hessian: bad }));
    await opt.update(Float64Array.from([0.1, 0.2, 0.3, 0.4]));
    const state = snapshotState(opt.state);
    const before = params.data.slice();
    await assert.rejects(opt.update(Float64Array.from([1, 1, 1, 1])), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /Hessian estimate is not finite: w\[3\] = NaN/);
      return true;
    });
    assertSameState(opt.state, state);
    assertSameBits(params.data, before, "params");
  });

  it("resumes bit for bit from a checkpoint (Hutchinson probes included)", async () => {
    const f = illConditionedQuadratic({ dimension: 7, conditionNumber: 30 });
    const build = () => sophiaH({ learningRate: 0.01, hessianInterval: 3, seed: 5 });
    const straight = await run(f, { learningRate: 0.01, hessianInterval: 3, seed: 5 }, 14);
    const first = await run(f, { learningRate: 0.01, hessianInterval: 3, seed: 5 }, 6);
    const bytes = serializeOptimizer(first.opt, { includeParams: true });
    const resumed = new Optimizer(new ParamSet(f.layout), build());
    restoreOptimizer(resumed, bytes, { includeParams: true });
    for (let s = 6; s < 14; s++) await resumed.step(f);
    assertSameBits(resumed.params.data, straight.params.data, "params");
    assertSameState(resumed.state, straight.opt.state);
  });

  it("takes SophiaG's batch factor B from the objective's batchScale unless batchSize is given", async () => {
    const data = subset(
      loadDigits(),
      Array.from({ length: 60 }, (_, i) => i),
    );
    const declared = softmaxRegression(data);
    assert.equal(declared.batchScale, 60);
    // The same problem without the declaration.
    const bare = Object.fromEntries(
      Object.entries(declared).filter(([key]) => key !== "batchScale"),
    ) as unknown as Objective;
    const run = async (f: Objective, options: SophiaOptions) => {
      const p = new ParamSet(f.layout, fillUniform(f.layout.zeros(), 4, 0.1));
      const opt = new Optimizer(p, sophiaG({ learningRate: 0.05, hessianInterval: 2, ...options }));
      for (let k = 0; k < 7; k++) await opt.step(f);
      return p.data;
    };
    const automatic = await run(declared, {});
    assert.deepEqual(automatic, await run(bare, { batchSize: 60 }));
    assert.notDeepEqual(automatic, await run(bare, {}));
    assert.deepEqual(await run(declared, { batchSize: 3 }), await run(bare, { batchSize: 3 }));

    // A bad declaration is refused before anything changes.
    const broken: Objective = { ...bare, name: "broken", batchScale: 0 } as Objective;
    const p = new ParamSet(broken.layout, fillUniform(broken.layout.zeros(), 4, 0.1));
    const before = p.data.slice();
    const opt = new Optimizer(p, sophiaG());
    await assert.rejects(() => opt.step(broken), /batchScale of the objective/);
    assert.deepEqual(p.data, before);
    assert.equal(opt.count, 0);
  });

  it("does not apply the objective's batchScale to SophiaH (Hutchinson estimates the mean loss's Hessian)", async () => {
    const f = illConditionedQuadratic({ dimension: 6, conditionNumber: 10 });
    const withScale: Objective = { ...f, batchScale: 1000 } as Objective;
    const run = async (g: Objective) => {
      const p = new ParamSet(g.layout, g.initialParams!());
      const opt = new Optimizer(p, sophiaH({ learningRate: 0.05, hessianInterval: 2 }));
      for (let k = 0; k < 7; k++) await opt.step(g);
      return p.data;
    };
    assert.deepEqual(await run(withScale), await run(f));
  });
});
