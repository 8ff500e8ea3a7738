import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { MatrixSensingObjective } from "../../src/oracles/problems/matrixSensing.js";
import { matrixSensing } from "../../src/oracles/problems/matrixSensing.js";
import type { FloatArray } from "../../src/params/layout.js";
import { fillUniform } from "../helpers/inputs.js";

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** ‖F Fᵀ − G Gᵀ‖_F² for row-major factors F (n × p) and G (n × q). */
function gramDistanceSquared(
  f: ArrayLike<number>,
  p: number,
  g: ArrayLike<number>,
  q: number,
  n: number,
): number {
  let total = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let a = 0;
      for (let l = 0; l < p; l++) a += f[i * p + l] * f[j * p + l];
      let b = 0;
      for (let l = 0; l < q; l++) b += g[i * q + l] * g[j * q + l];
      total += (a - b) ** 2;
    }
  }
  return total;
}

/** Plain gradient descent; returns the final loss. */
function gradientDescent(
  problem: MatrixSensingObjective,
  u: FloatArray,
  learningRate: number,
  steps: number,
  stopBelow = 0,
): number {
  const g = problem.layout.zeros();
  let f = Infinity;
  for (let step = 0; step < steps && f > stopBelow; step++) {
    f = problem.valueAndGrad(u, g);
    for (let i = 0; i < u.length; i++) u[i] -= learningRate * g[i];
  }
  return problem.value(u);
}

describe("matrix sensing", () => {
  it("the ground-truth factor is a global minimum: f = 0, ∇f = 0, recovery error 0", () => {
    for (const options of [{}, { n: 8, rank: 3, k: 3 }, { n: 8, rank: 1, k: 5, seed: 4 }]) {
      const problem = matrixSensing(options);
      const star = problem.groundTruthParams();
      const g = problem.layout.zeros();
      const f = problem.valueAndGrad(star, g);
      assert.ok(f < 1e-28, `f(U*) = ${f}`);
      assert.ok(Math.max(...g.map(Math.abs)) < 1e-13, "∇f(U*) = 0");
      assert.ok(problem.recoveryError(star) < 1e-14);
      assert.equal(problem.recoveryError(problem.layout.zeros()), 1);
      assert.equal(problem.optimalValue, 0);
      // Any rotation U*·R of the factor gives the same X*: rotate two columns of U* by 30°.
      const rotated = star.slice();
      const [c, s] = [Math.cos(Math.PI / 6), Math.sin(Math.PI / 6)];
      const k = problem.k;
      for (let i = 0; i < problem.n; i++) {
        const [a, b] = [star[i * k], star[i * k + 1]];
        rotated[i * k] = c * a - s * b;
        rotated[i * k + 1] = s * a + c * b;
      }
      if (k > 1) assert.ok(problem.value(rotated) < 1e-28, "invariant under U → UR");
    }
  });

  it("X* has orthonormal eigenvectors with eigenvalues from 1 down to 1/κ", () => {
    const problem = matrixSensing({ n: 12, rank: 3, conditionNumber: 100 });
    const u = problem.groundTruthFactor();
    const expected = [1, 0.1, 0.01]; // κ^(−j/(r−1)), j = 0, 1, 2
    for (let a = 0; a < 3; a++) {
      for (let b = 0; b < 3; b++) {
        let s = 0;
        for (let i = 0; i < 12; i++) s += u[i * 3 + a] * u[i * 3 + b];
        assert.ok(Math.abs(s - (a === b ? expected[a] : 0)) < 1e-14, `U*ᵀU* [${a}, ${b}] = ${s}`);
      }
    }
  });

  it("averages to ¼‖U Uᵀ − X*‖_F² over many Gaussian measurements", () => {
    // Each term ⟨A_i, S⟩²/‖S‖_F² is χ²₁ (variance 2): over m = 4000 the ratio has sd √(2/m) ≈ 0.022.
    const problem = matrixSensing({ n: 5, rank: 2, k: 3, measurements: 4000, seed: 3 });
    for (let trial = 0; trial < 3; trial++) {
      const u = fillUniform(problem.layout.zeros(), 40 + trial);
      const population = 0.25 * gramDistanceSquared(u, 3, problem.groundTruthFactor(), 2, 5);
      const ratio = problem.value(u) / population;
      assert.ok(Math.abs(ratio - 1) < 0.1, `f / population loss = ${ratio}`);
    }
  });

  it("gradient and HVP match central differences; the Hessian is symmetric", () => {
    const problem = matrixSensing({ n: 6, rank: 2, k: 4, measurements: 30, seed: 1 });
    const h = 1e-5;
    for (let trial = 0; trial < 3; trial++) {
      const u = fillUniform(problem.layout.zeros(), 50 + trial);
      const v = fillUniform(problem.layout.zeros(), 60 + trial);
      const w = fillUniform(problem.layout.zeros(), 70 + trial);
      const plus = u.map((x, i) => x + h * v[i]);
      const minus = u.map((x, i) => x - h * v[i]);
      const g = problem.layout.zeros();
      const gPlus = problem.layout.zeros();
      const gMinus = problem.layout.zeros();
      problem.valueAndGrad(u, g);
      problem.valueAndGrad(plus, gPlus);
      problem.valueAndGrad(minus, gMinus);
      const fd = (problem.value(plus) - problem.value(minus)) / (2 * h);
      assert.ok(
        Math.abs(dot(g, v) - fd) <= 1e-7 * Math.max(1, Math.abs(fd)),
        `∇f·v ${dot(g, v)} vs ${fd}`,
      );
      const hv = problem.layout.zeros();
      const hw = problem.layout.zeros();
      problem.hvp(u, v, hv);
      problem.hvp(u, w, hw);
      const scale = Math.max(1, ...hv.map(Math.abs));
      for (let i = 0; i < hv.length; i++) {
        const fdHv = (gPlus[i] - gMinus[i]) / (2 * h);
        assert.ok(Math.abs(hv[i] - fdHv) <= 1e-7 * scale, `Hv[${i}] ${hv[i]} vs ${fdHv}`);
      }
      const symmetric = Math.abs(dot(w, hv) - dot(v, hw));
      assert.ok(symmetric <= 1e-12 * Math.max(1, Math.abs(dot(w, hv))), "wᵀHv = vᵀHw");
    }
  });

  it("the origin is a strict saddle: zero gradient, negative curvature along X*'s top eigenvector", () => {
    const problem = matrixSensing({ conditionNumber: 1 });
    const zero = problem.layout.zeros();
    const g = problem.layout.zeros().fill(NaN);
    assert.ok(problem.valueAndGrad(zero, g) > 0);
    assert.ok(g.every((x) => x === 0));
    // V = u₁ e₁ᵀ with u₁ the first column of U* (eigenvalue σ₁ = 1): in expectation
    // ⟨V, ∇²f(0)[V]⟩ = −⟨X*, V Vᵀ⟩ = −‖u₁‖⁴ = −1.
    const { n, k, rank } = problem;
    const truth = problem.groundTruthFactor();
    const v = problem.layout.zeros();
    for (let i = 0; i < n; i++) v[i * k] = truth[i * rank];
    const hv = problem.layout.zeros();
    problem.hvp(zero, v, hv);
    const curvature = dot(v, hv);
    assert.ok(curvature < -0.5 && curvature > -1.5, `curvature ${curvature}`);
  });

  it("small initialization recovers X* although k = n; a large one fits the data but not X*", () => {
    // Li, Ma & Zhang (2018): with m = 200 < n(n+1)/2 = 210 measurements many zero-loss factors
    // exist; gradient descent from α = 1e-3 still finds the rank-2 ground truth.
    const small = matrixSensing();
    assert.equal(small.k, 20);
    assert.equal(small.measurements, 200);
    const u = small.initialParams();
    const f = gradientDescent(small, u, 0.5, 300);
    assert.ok(f < 1e-5, `loss ${f}`);
    assert.ok(small.recoveryError(u) < 1e-2, `recovery error ${small.recoveryError(u)}`);

    const large = matrixSensing({ initScale: 0.5 });
    const w = large.initialParams();
    const fLarge = gradientDescent(large, w, 0.05, 3000, 1e-3);
    assert.ok(fLarge <= 1e-3, `loss ${fLarge}`);
    assert.ok(large.recoveryError(w) > 0.1, `recovery error ${large.recoveryError(w)}`);
  });

  it("is seeded: the start has scale α, the same seed gives the same problem", () => {
    const a = matrixSensing({ seed: 7, initScale: 0.01 });
    const b = matrixSensing({ seed: 7, initScale: 0.01 });
    const c = matrixSensing({ seed: 8, initScale: 0.01 });
    const u = a.initialParams();
    assert.deepEqual(u, b.initialParams());
    assert.notDeepEqual(u, c.initialParams());
    assert.deepEqual(a.groundTruthFactor(), b.groundTruthFactor());
    assert.notDeepEqual(a.groundTruthFactor(), c.groundTruthFactor());
    const probe = fillUniform(a.layout.zeros(), 3);
    assert.equal(a.value(probe), b.value(probe));
    assert.notEqual(a.value(probe), c.value(probe));
    const rms = Math.sqrt(dot(u, u) / u.length);
    assert.ok(Math.abs(rms / 0.01 - 1) < 0.1, `rms ${rms}`); // 400 normals: sd of rms ≈ 3.5%
    const f32 = matrixSensing({ seed: 7, initScale: 0.01, dtype: "float32" });
    const u32 = f32.initialParams();
    assert.ok(u32 instanceof Float32Array);
    assert.ok(Math.abs(f32.value(u32) - a.value(Float64Array.from(u32))) < 1e-15);
  });

  it("rejects bad options and buffers", () => {
    assert.throws(() => matrixSensing({ rank: 3, k: 2 }), /k must be at least the rank 3/);
    assert.throws(() => matrixSensing({ n: 4, rank: 5 }), InvalidArgumentError);
    assert.throws(() => matrixSensing({ measurements: 0 }), InvalidArgumentError);
    assert.throws(() => matrixSensing({ initScale: -1 }), InvalidArgumentError);
    assert.throws(() => matrixSensing({ conditionNumber: 0.5 }), InvalidArgumentError);
    assert.throws(() => matrixSensing({ size: 3 } as never), /known option/);
    const problem = matrixSensing({ n: 4, rank: 1 });
    assert.throws(() => problem.value(new Float64Array(3)), /expected 16 elements/);
  });
});
