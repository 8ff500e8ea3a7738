import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, MissingOracleError } from "../../src/errors.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { SaniaOptions, SaniaPreconditioner, SaniaState } from "../../src/optim/sania.js";
import { sania } from "../../src/optim/sania.js";
import type { Objective } from "../../src/oracles/objective.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
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
import { referenceSaniaInit, referenceSaniaStep } from "../reference/sania.js";
const stateOf = (opt: Optimizer) => partStateWith<SaniaState>(opt, "precond");
const KINDS: SaniaPreconditioner[] = ["hutchinson", "adamSqr", "adagradSqr", "identity"];

describe("SANIA", () => {
  for (const preconditioner of KINDS) {
    it(`matches the per-tensor reference loop (${preconditioner})`, async () => {
      const f = coupledQuartic(twoTensorLayout(), 41);
      const fStar = -0.05;
      const params = new ParamSet(f.layout, f.initialParams!());
      const opt = new Optimizer(
        params,
        sania({ preconditioner, optimalValue: fStar, beta2: 0.9, alpha: 0.5, eps: 1, seed: 5 }),
      );
      const w = Float64Array.from(f.initialParams!());
      const state = referenceSaniaInit(f.layout);
      const g = new Float64Array(f.layout.size);
      const hvp = (x: Float64Array, z: Float64Array) => {
        const out = new Float64Array(z.length);
        void f.hvp!(x, z, out);
        return out;
      };
      for (let k = 0; k < 12; k++) {
        await opt.step(f);
        const loss = await f.valueAndGrad!(w, g);
        referenceSaniaStep(f.layout, w, loss, g, hvp, state, {
          preconditioner,
          fStar,
          beta: 0.9,
          alpha: 0.5,
          eps: 1,
          seed: 5,
        });
        assertClose(params.data, w, 1e-12, `params after step ${k + 1}`);
      }
    });
  }

  it("follows the closed-form step on a diagonal quadratic (exact Hutchinson diagonal)", async () => {
    const layout = twoTensorLayout();
    const a = fillUniform(new Float64Array(layout.size), 7).map((r) => 1 + 3 * Math.abs(r));
    const c = fillUniform(new Float64Array(layout.size), 8);
    const f = diagonalQuadratic(layout, a, c);
    const x0 = fillUniform(layout.zeros(), 9, 2);

    // Hutchinson: B = a exactly, ‖g‖²_{B⁻¹} = Σ a e² = 2f, so the step is e ← e − ½ e.
    const params = new ParamSet(layout, x0.slice());
    const opt = new Optimizer(params, sania());
    for (let k = 1; k <= 6; k++) {
      await opt.step(f);
      const expected = Float64Array.from(x0, (x, i) => c[i] + 0.5 ** k * (x - c[i]));
      assertClose(params.data, expected, 1e-12, `hutchinson w_${k}`);
      assert.ok(Math.abs(stateOf(opt).stepSize - 0.5) < 1e-13);
    }

    // Adam-SQR, first step: B = g² (bias-corrected), so B⁻¹g = 1/g, ‖g‖²_{B⁻¹} = n and
    // w_1 = w_0 − (f/n)/g elementwise.
    const adamParams = new ParamSet(layout, x0.slice());
    const adam = new Optimizer(adamParams, sania({ preconditioner: "adamSqr" }));
    await adam.step(f);
    const f0 = await f.value(x0);
    const expected = Float64Array.from(x0, (x, i) => x - f0 / layout.size / (a[i] * (x - c[i])));
    assertClose(adamParams.data, expected, 1e-12, "adamSqr w_1");

    // Identity: the Polyak step (f − f*)/‖g‖² · g.
    const polyakParams = new ParamSet(layout, x0.slice());
    await new Optimizer(polyakParams, sania({ preconditioner: "identity" })).step(f);
    const g = Float64Array.from(x0, (x, i) => a[i] * (x - c[i]));
    const gg = g.reduce((s, v) => s + v * v, 0);
    assertClose(
      polyakParams.data,
      Float64Array.from(x0, (x, i) => x - (f0 / gg) * g[i]),
      1e-12,
      "identity w_1",
    );
  });

  it("is scale invariant: rescaled coordinates give the rescaled iterates", async () => {
    const layout = twoTensorLayout();
    const a = fillUniform(new Float64Array(layout.size), 17).map((r) => 1 + 3 * Math.abs(r));
    const c = fillUniform(new Float64Array(layout.size), 18);
    const scale = fillUniform(new Float64Array(layout.size), 19).map((r) => 10 ** (1.5 * r));
    const x0 = fillUniform(layout.zeros(), 20, 2);
    const f = diagonalQuadratic(layout, a, c);
    // f̃(x̃) = f(V x̃): curvature V²a, minimizer c/V; start at x0/V.
    const fScaled = diagonalQuadratic(
      layout,
      a.map((v, i) => v * scale[i] ** 2),
      c.map((v, i) => v / scale[i]),
    );
    for (const preconditioner of ["hutchinson", "adamSqr", "adagradSqr"] as const) {
      const x = new ParamSet(layout, x0.slice());
      const y = new ParamSet(
        layout,
        x0.map((v, i) => v / scale[i]),
      );
      const optX = new Optimizer(x, sania({ preconditioner }));
      const optY = new Optimizer(y, sania({ preconditioner }));
      for (let k = 1; k <= 8; k++) {
        await optX.step(f);
        await optY.step(fScaled);
        const mapped = y.data.map((v, i) => v * scale[i]);
        assertClose(mapped, x.data, 1e-10, `${preconditioner}: V·x̃_${k} vs x_${k}`);
      }
    }
    // The unpreconditioned Polyak step is not: the same check fails.
    const x = new ParamSet(layout, x0.slice());
    const y = new ParamSet(
      layout,
      x0.map((v, i) => v / scale[i]),
    );
    await new Optimizer(x, sania({ preconditioner: "identity" })).step(f);
    await new Optimizer(y, sania({ preconditioner: "identity" })).step(fScaled);
    const mapped = y.data.map((v, i) => v * scale[i]);
    assert.throws(() => assertClose(mapped, x.data, 1e-3, "identity"));
  });

  it("converges on a parabola and on the 2-D Rosenbrock function", async () => {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    const parabola = diagonalQuadratic(layout, [4], [3]);
    for (const preconditioner of KINDS) {
      const p = new ParamSet(layout, Float64Array.of(-5));
      const opt = new Optimizer(p, sania({ preconditioner }));
      for (let k = 0; k < 60; k++) await opt.step(parabola);
      assert.ok(Math.abs(p.data[0] - 3) < 1e-12, `${preconditioner} parabola: ${p.data[0]}`);
    }
    const r = rosenbrock();
    for (const preconditioner of ["hutchinson", "adamSqr", "adagradSqr"] as const) {
      const x = new ParamSet(r.layout, r.initialParams!());
      const opt = new Optimizer(x, sania({ preconditioner, seed: 3 }));
      for (let k = 0; k < 2000; k++) await opt.step(r);
      const value = await r.value(x.data);
      assert.ok(value < 1e-12, `${preconditioner} rosenbrock f = ${value}`);
      assertClose(x.data, [1, 1], 1e-5, `${preconditioner} rosenbrock minimizer`);
    }
  });

  it("does not ascend when f ≤ f*", async () => {
    const layout = new Layout([{ name: "x", shape: [2] }], "float64");
    const f = diagonalQuadratic(layout, [1, 2], [0, 0]);
    const p = new ParamSet(layout, Float64Array.of(1, 1));
    await new Optimizer(p, sania({ optimalValue: 10 })).step(f);
    assert.deepEqual(Array.from(p.data), [1, 1]);
  });

  it("validates options, naming parameter and value", () => {
    assertInvalidArgument(() => sania({ beta2: -0.1 }), "beta2", -0.1);
    assertInvalidArgument(() => sania({ alpha: 0 }), "alpha", 0);
    assertInvalidArgument(() => sania({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => sania({ optimalValue: NaN }), "optimalValue", NaN);
    assertInvalidArgument(
      () => sania({ preconditioner: "newton" as SaniaPreconditioner }),
      "preconditioner",
      "newton",
    );
    assertInvalidArgument(() => sania({ learningRate: 1 } as SaniaOptions), "learningRate", 1);
  });

  it("needs f* and the loss, with clear errors", async () => {
    const layout = new Layout([{ name: "x", shape: [2] }], "float64");
    const base = diagonalQuadratic(layout, [1, 2], [0, 0]);
    const withoutOptimum: Objective = { ...base, optimalValue: undefined };
    const opt = new Optimizer(new ParamSet(layout, Float64Array.of(1, 1)), sania());
    await assert.rejects(opt.step(withoutOptimum), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.parameter, "optimalValue");
      return true;
    });
    await assert.rejects(opt.update(Float64Array.of(1, 1), base), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.equal(e.parameter, "loss");
      return true;
    });
    assert.equal(stateOf(opt).count, 0);
  });

  it("needs an objective with an hvp oracle (Hutchinson only)", async () => {
    const layout = new Layout([{ name: "x", shape: [2] }], "float64");
    const withoutHvp: Objective = { ...diagonalQuadratic(layout, [1, 2], [0, 0]), hvp: undefined };
    const opt = new Optimizer(new ParamSet(layout, Float64Array.of(1, 1)), sania());
    await assert.rejects(opt.step(withoutHvp), (e: unknown) => {
      assert.ok(e instanceof MissingOracleError);
      assert.equal(e.oracle, "hvp");
      return true;
    });
    assert.equal(stateOf(opt).count, 0);
    const adam = new Optimizer(
      new ParamSet(layout, Float64Array.of(1, 1)),
      sania({ preconditioner: "adamSqr" }),
    );
    await adam.step(withoutHvp);
    assert.equal(stateOf(adam).count, 1);
  });

  it("resumes bit-exactly: k steps, save, load, n − k steps equals n steps", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      for (const preconditioner of KINDS) {
        const f = coupledQuartic(twoTensorLayout(dtype), 41);
        const options: SaniaOptions = { preconditioner, eps: 1, seed: 9 };
        const straight = new Optimizer(new ParamSet(f.layout, f.initialParams!()), sania(options));
        for (let i = 0; i < 9; i++) await straight.step(f);
        const first = new Optimizer(new ParamSet(f.layout, f.initialParams!()), sania(options));
        for (let i = 0; i < 4; i++) await first.step(f);
        const bytes = serializeOptimizer(first, { includeParams: true });
        const resumed = new Optimizer(new ParamSet(f.layout), sania(options));
        restoreOptimizer(resumed, bytes, { includeParams: true });
        for (let i = 0; i < 5; i++) await resumed.step(f);
        assertSameBits(resumed.params.data, straight.params.data, `${dtype} params`);
        assertSameState(resumed.state, straight.state);
      }
    }
  });
});
