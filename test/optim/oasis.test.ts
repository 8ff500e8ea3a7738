import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingOracleError } from "../../src/errors.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import type { OasisOptions, OasisState } from "../../src/optim/oasis.js";
import { oasis } from "../../src/optim/oasis.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { Objective } from "../../src/oracles/objective.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  partStateWith,
} from "../helpers/assertions.js";
import { coupledQuartic, diagonalQuadratic, twoTensorLayout } from "../helpers/problems.js";
import { fillUniform } from "../helpers/inputs.js";
import { referenceOasisInit, referenceOasisStep } from "../reference/oasis.js";
const stateOf = (opt: Optimizer) => partStateWith<OasisState>(opt, "prevGrad");

describe("OASIS", () => {
  for (const adaptive of [true, false]) {
    it(`matches the per-tensor reference loop (adaptive: ${adaptive})`, async () => {
      const f = coupledQuartic(twoTensorLayout(), 31);
      const options: OasisOptions = {
        learningRate: 0.3,
        adaptive,
        beta2: 0.95,
        alpha: 1e-3,
        warmStartProbes: 4,
        seed: 11,
      };
      const params = new ParamSet(f.layout, f.initialParams!());
      const opt = new Optimizer(params, oasis(options));
      const w = Float64Array.from(f.initialParams!());
      const state = referenceOasisInit(f.layout);
      const g = new Float64Array(f.layout.size);
      const hvp = (x: Float64Array, z: Float64Array) => {
        const out = new Float64Array(z.length);
        void f.hvp!(x, z, out);
        return out;
      };
      for (let k = 0; k < 12; k++) {
        await opt.step(f);
        f.valueAndGrad!(w, g);
        referenceOasisStep(f.layout, w, g, hvp, state, {
          eta0: 0.3,
          adaptive,
          beta: 0.95,
          alpha: 1e-3,
          warm: 4,
          seed: 11,
        });
        assertClose(params.data, w, 1e-12, `params after step ${k + 1}`);
        assert.ok(Math.abs(stateOf(opt).stepSize - state.eta) <= 1e-12 * state.eta);
      }
    });
  }

  it("follows the defining equations on a diagonal quadratic (exact Hutchinson diagonal)", async () => {
    const layout = twoTensorLayout();
    const a = fillUniform(new Float64Array(layout.size), 7).map((r) => 1 + 3 * Math.abs(r));
    const c = fillUniform(new Float64Array(layout.size), 8);
    const f = diagonalQuadratic(layout, a, c, 5);
    const x0 = f.initialParams!();
    const error = (x: FloatArray, scale: number) =>
      Float64Array.from(x, (v, i) => scale * (x0[i] - c[i]) + c[i] + 0 * v);

    // Adaptive, η_0 = 0.2: D = a exactly, so w_1 − c = 0.8 (w_0 − c); from then on the
    // smoothness estimate ‖Δw‖_D / (2‖aΔw‖*_D) is exactly 1/2 and each step halves the error.
    const params = new ParamSet(layout, x0.slice());
    const opt = new Optimizer(params, oasis({ learningRate: 0.2, alpha: 1e-8 }));
    await opt.step(f);
    assertClose(stateOf(opt).diag, a, 1e-15, "D_0");
    assertClose(params.data, error(params.data, 0.8), 1e-12, "w_1");
    let expected = 0.8;
    const thetas = [0.5 / 0.2, 1];
    for (let k = 1; k < 6; k++) {
      await opt.step(f);
      expected *= 0.5;
      assertClose(params.data, error(params.data, expected), 1e-12, `w_${k + 1}`);
      assert.ok(Math.abs(stateOf(opt).stepSize - 0.5) < 1e-13, `η_${k}`);
      assert.ok(Math.abs(stateOf(opt).theta - thetas[Math.min(k - 1, 1)]) < 1e-12, `θ_${k}`);
      assertClose(stateOf(opt).diag, a, 1e-14, `D_${k}`);
    }

    // Fixed learning rate 0.3: w_k − c = 0.7^k (w_0 − c).
    const fixed = new ParamSet(layout, x0.slice());
    const optFixed = new Optimizer(fixed, oasis({ learningRate: 0.3, adaptive: false }));
    for (let k = 1; k <= 5; k++) {
      await optFixed.step(f);
      assertClose(fixed.data, error(fixed.data, 0.7 ** k), 1e-12, `fixed w_${k}`);
    }
  });

  it("truncates the preconditioner at alpha", async () => {
    const layout = new Layout([{ name: "x", shape: [2] }], "float64");
    const f = diagonalQuadratic(layout, Float64Array.of(1e-3, 2), Float64Array.of(0, 0), 5);
    const params = new ParamSet(layout, Float64Array.of(1, 1));
    const opt = new Optimizer(params, oasis({ learningRate: 0.5, alpha: 0.1, adaptive: false }));
    await opt.step(f);
    // g = (1e-3, 2); steps 0.5·g / max(|D|, α) = (0.5·1e-3/0.1, 0.5·2/2).
    assertClose(params.data, [1 - 0.005, 0.5], 1e-14, "w_1");
  });

  it("converges on a parabola and on the 2-D Rosenbrock function", async () => {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    const parabola = diagonalQuadratic(layout, Float64Array.of(4), Float64Array.of(3), 5);
    const p = new ParamSet(layout, Float64Array.of(-5));
    const optP = new Optimizer(p, oasis());
    for (let k = 0; k < 5; k++) await optP.step(parabola);
    assert.ok(Math.abs(p.data[0] - 3) < 1e-12, `parabola: ${p.data[0]}`);

    const r = rosenbrock();
    const x = new ParamSet(r.layout, r.initialParams!());
    const opt = new Optimizer(x, oasis({ seed: 3 }));
    for (let k = 0; k < 6000; k++) await opt.step(r);
    const value = await r.value(x.data);
    assert.ok(value < 1e-9, `rosenbrock f = ${value}`);
    assertClose(x.data, [1, 1], 1e-4, "rosenbrock minimizer");
  });

  it("validates options, naming parameter and value", () => {
    assertInvalidArgument(() => oasis({ beta2: 1 }), "beta2", 1);
    assertInvalidArgument(() => oasis({ alpha: 0 }), "alpha", 0);
    assertInvalidArgument(() => oasis({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => oasis({ warmStartProbes: 1.5 }), "warmStartProbes", 1.5);
    assertInvalidArgument(() => oasis({ seed: -2 }), "seed", -2);
    assertInvalidArgument(() => oasis({ adaptive: 1 as unknown as boolean }), "adaptive", 1);
    assertInvalidArgument(() => oasis({ lr: 1 } as OasisOptions), "lr", 1);
  });

  it("needs an objective with an hvp oracle", async () => {
    const f = coupledQuartic(twoTensorLayout(), 31);
    const withoutHvp: Objective = {
      name: f.name,
      layout: f.layout,
      value: (x) => f.value(x),
      valueAndGrad: (x, g) => f.valueAndGrad!(x, g),
    };
    const opt = new Optimizer(new ParamSet(f.layout, f.initialParams!()), oasis());
    await assert.rejects(opt.step(withoutHvp), (e: unknown) => {
      assert.ok(e instanceof MissingOracleError);
      assert.equal(e.oracle, "hvp");
      return true;
    });
    await assert.rejects(opt.update(f.layout.zeros()), MissingOracleError);
    assert.equal(stateOf(opt).count, 0);
  });

  it("resumes bit-exactly: k steps, save, load, n − k steps equals n steps", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      for (const adaptive of [true, false]) {
        const f = coupledQuartic(twoTensorLayout(dtype), 31);
        const options: OasisOptions = { learningRate: 0.5, adaptive, seed: 9 };
        const straight = new Optimizer(new ParamSet(f.layout, f.initialParams!()), oasis(options));
        for (let i = 0; i < 9; i++) await straight.step(f);
        const first = new Optimizer(new ParamSet(f.layout, f.initialParams!()), oasis(options));
        for (let i = 0; i < 4; i++) await first.step(f);
        const bytes = serializeOptimizer(first, { includeParams: true });
        const resumed = new Optimizer(new ParamSet(f.layout), oasis(options));
        restoreOptimizer(resumed, bytes, { includeParams: true });
        for (let i = 0; i < 5; i++) await resumed.step(f);
        assertSameBits(resumed.params.data, straight.params.data, `${dtype} params`);
        assertSameState(resumed.state, straight.state);
      }
    }
  });
});
