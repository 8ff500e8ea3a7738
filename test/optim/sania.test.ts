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

    // Hutchinson: B = a exactly, N = ‖g‖²_{B⁻¹} = Σ a e² = 2f, so 2f ≤ N with equality, γ = 1,
    // and the step −B⁻¹g = −e is Newton's: the minimizer in one step. At the discriminant's zero
    // a rounding δ of 2f/N moves γ by √δ, so the tolerance is √ε-sized.
    const params = new ParamSet(layout, x0.slice());
    const opt = new Optimizer(params, sania());
    await opt.step(f);
    assertClose(params.data, c, 1e-7, "hutchinson w_1", { floor: 1 });
    assert.ok(Math.abs(stateOf(opt).stepSize - 1) < 1e-7);

    // γ = 1 − √(1 − 2f/N) when 2f ≤ N, else 1 (the root of f − γN + ½γ²N = 0, or none).
    const gammaOf = (gap: number, n: number) =>
      2 * gap <= n ? 1 - Math.sqrt(1 - (2 * gap) / n) : 1;

    // Adam-SQR, first step: B = g² (bias-corrected), so B⁻¹g = 1/g, N = n and
    // w_1 = w_0 − γ/g elementwise.
    const adamParams = new ParamSet(layout, x0.slice());
    const adam = new Optimizer(adamParams, sania({ preconditioner: "adamSqr" }));
    await adam.step(f);
    const f0 = await f.value(x0);
    const gammaAdam = gammaOf(f0, layout.size);
    const expected = Float64Array.from(x0, (x, i) => x - gammaAdam / (a[i] * (x - c[i])));
    assertClose(adamParams.data, expected, 1e-12, "adamSqr w_1");

    // Identity: B = I, N = ‖g‖², step −γ·g.
    const identityParams = new ParamSet(layout, x0.slice());
    await new Optimizer(identityParams, sania({ preconditioner: "identity" })).step(f);
    const g = Float64Array.from(x0, (x, i) => a[i] * (x - c[i]));
    const gg = g.reduce((s, v) => s + v * v, 0);
    const gammaIdentity = gammaOf(f0, gg);
    assertClose(
      identityParams.data,
      Float64Array.from(x0, (x, i) => x - gammaIdentity * g[i]),
      1e-12,
      "identity w_1",
    );
  });

  it("takes the model's minimizer (γ = 1) when its quadratic model has no root", async () => {
    // f = ½·4(x − 3)² + 10 with f* = 0: from x = 4, f = 12, g = 4, N = 16 < 2f = 24: no root.
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    const base = diagonalQuadratic(layout, [4], [3]);
    const shifted: Objective = {
      name: "shifted",
      layout,
      value: (x) => (base.value(x) as number) + 10,
      valueAndGrad: (x, g) => (base.valueAndGrad!(x, g) as number) + 10,
    };
    const p = new ParamSet(layout, Float64Array.of(4));
    const opt = new Optimizer(p, sania({ preconditioner: "identity", optimalValue: 0 }));
    await opt.step(shifted);
    assert.equal(stateOf(opt).stepSize, 1);
    assert.deepEqual(Array.from(p.data), [0]);
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
        // With the exact Hessian diagonal (Hutchinson on a diagonal quadratic) γ sits at the
        // discriminant's zero, where rounding moves it by √ε.
        const tolerance = preconditioner === "hutchinson" ? 1e-7 : 1e-10;
        assertClose(mapped, x.data, tolerance, `${preconditioner}: V·x̃_${k} vs x_${k}`, {
          floor: preconditioner === "hutchinson" ? 1 : 0,
        });
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
    // Steps the method needs from x = −5 (the SQR averages start from the first, large gradient,
    // so Adam-SQR's B⁻¹g is small until the average forgets it).
    const budget = { hutchinson: 1, identity: 60, adamSqr: 1500 } as const;
    for (const preconditioner of ["hutchinson", "identity", "adamSqr"] as const) {
      const p = new ParamSet(layout, Float64Array.of(-5));
      const opt = new Optimizer(p, sania({ preconditioner }));
      for (let k = 0; k < budget[preconditioner]; k++) await opt.step(parabola);
      assert.ok(Math.abs(p.data[0] - 3) < 1e-11, `${preconditioner} parabola: ${p.data[0]}`);
    }
    // AdaGrad-SQR's B is the running sum of g², so its steps shrink like 1/Σg²: it descends
    // every step but slowly.
    const p = new ParamSet(layout, Float64Array.of(-5));
    const opt = new Optimizer(p, sania({ preconditioner: "adagradSqr" }));
    let previous = await parabola.value(p.data);
    for (let k = 0; k < 200; k++) {
      await opt.step(parabola);
      const value = await parabola.value(p.data);
      assert.ok(value < previous, `adagradSqr parabola step ${k + 1}: ${value} ≥ ${previous}`);
      previous = value;
    }
    const r = rosenbrock();
    for (const preconditioner of ["hutchinson", "adamSqr"] as const) {
      const x = new ParamSet(r.layout, r.initialParams!());
      const opt = new Optimizer(x, sania({ preconditioner, seed: 3 }));
      for (let k = 0; k < 12000; k++) await opt.step(r);
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
