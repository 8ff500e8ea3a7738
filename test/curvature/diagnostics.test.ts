// Hessian trace, power iteration and Lanczos against closed-form spectra: the diagonal
// quadratic (eigenvalues from quadraticEigenvalues) and the 2×2 Rosenbrock Hessian.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { hessianTrace, lanczos, powerIteration } from "../../src/curvature/diagnostics.js";
import {
  InvalidArgumentError,
  MissingOracleError,
  NonFiniteError,
  ShapeMismatchError,
} from "../../src/errors.js";
import type { Objective } from "../../src/oracles/objective.js";
import {
  illConditionedQuadratic,
  quadraticEigenvalues,
} from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { Layout } from "../../src/params/layout.js";

const dimension = 50;
const kappa = 100;
const quadratic = illConditionedQuadratic({ dimension, conditionNumber: kappa });
const eigenvalues = quadraticEigenvalues(dimension, kappa);
const x = quadratic.initialParams!();
const exactTrace = eigenvalues.reduce((s, l) => s + l, 0);

// Rosenbrock (a = 1, b = 100) at (−1.2, 1): H = [[2 − 400(y − x²) + 800x², −400x], [−400x, 200]].
const rosen = rosenbrock();
const point = Float64Array.from([-1.2, 1]);
const h11 = 2 - 400 * (1 - 1.44) + 800 * 1.44;
const h12 = -400 * -1.2;
const h22 = 200;
const rosenTop = (h11 + h22) / 2 + Math.hypot((h11 - h22) / 2, h12);
const rosenBottom = (h11 + h22) / 2 - Math.hypot((h11 - h22) / 2, h12);

describe("hessianTrace", () => {
  it("is exact with Rademacher probes on a diagonal Hessian (vᵀHv = Σλ for every sign vector)", async () => {
    const t = await hessianTrace(quadratic, x, { probes: 3, seed: 1 });
    assert.ok(Math.abs(t.trace - exactTrace) <= 1e-12 * exactTrace);
    assert.ok(t.standardError <= 1e-12);
    assert.equal(t.probes, 3);
  });

  it("is unbiased with Gaussian probes (within 5 standard errors, Var = 2Σλ²)", async () => {
    const N = 2000;
    const t = await hessianTrace(quadratic, x, { probes: N, distribution: "gaussian", seed: 4 });
    const sd = Math.sqrt((2 * eigenvalues.reduce((s, l) => s + l * l, 0)) / N);
    assert.ok(Math.abs(t.trace - exactTrace) <= 5 * sd, `${t.trace} vs ${exactTrace}`);
    // The reported standard error estimates the same quantity.
    assert.ok(Math.abs(t.standardError / sd - 1) < 0.2);
  });
});

describe("top eigenvalue", () => {
  it("power iteration finds the quadratic's largest eigenvalue", async () => {
    const r = await powerIteration(quadratic, x, { maxIterations: 1000, tolerance: 1e-13 });
    assert.ok(r.converged);
    assert.ok(r.iterations > 1 && r.iterations <= 1000);
    assert.ok(Math.abs(r.eigenvalue - eigenvalues[0]) <= 1e-6, `${r.eigenvalue}`);
  });

  it("power iteration finds the Rosenbrock Hessian's top eigenvalue", async () => {
    const r = await powerIteration(rosen, point, { tolerance: 1e-14 });
    assert.ok(r.converged);
    assert.ok(Math.abs(r.eigenvalue - rosenTop) <= 1e-10 * rosenTop);
    // The vector is a unit eigenvector: (H − λI)q ≈ 0.
    const [q0, q1] = r.vector;
    assert.ok(Math.abs((h11 - rosenTop) * q0 + h12 * q1) <= 1e-5 * rosenTop);
  });

  it("Lanczos finds the quadratic's extreme eigenvalues, and the whole spectrum at m = n", async () => {
    const r = await lanczos(quadratic, x, { iterations: 30, seed: 2 });
    assert.equal(r.iterations, 30);
    assert.ok(Math.abs(r.eigenvalue - eigenvalues[0]) <= 1e-8, `${r.eigenvalue}`);
    const full = await lanczos(quadratic, x, { iterations: 200 });
    assert.equal(full.iterations, dimension);
    for (let i = 0; i < dimension; i++) {
      assert.ok(Math.abs(full.ritzValues[i] - eigenvalues[i]) <= 1e-10, `eigenvalue ${i}`);
    }
    assert.ok(Math.abs(full.smallest - 1 / kappa) <= 1e-10);
  });

  it("Lanczos is exact on the 2×2 Rosenbrock Hessian", async () => {
    const r = await lanczos(rosen, point, { iterations: 5 });
    assert.equal(r.iterations, 2);
    assert.ok(Math.abs(r.eigenvalue - rosenTop) <= 1e-12 * rosenTop);
    assert.ok(Math.abs(r.smallest - rosenBottom) <= 1e-10 * rosenTop);
  });

  it("stops early when the Krylov space is invariant", async () => {
    // H = 3I: the first product is parallel to the start, so one step is exact.
    const layout = new Layout([{ name: "w", shape: [4] }], "float64");
    const scaled: Objective = {
      name: "scaled-identity",
      layout,
      value: () => 0,
      hvp: (_p, v, out) => {
        for (let i = 0; i < 4; i++) out[i] = 3 * v[i];
      },
    };
    const r = await lanczos(scaled, layout.zeros(), { iterations: 4 });
    assert.equal(r.iterations, 1);
    assert.ok(Math.abs(r.eigenvalue - 3) <= 1e-14);
  });
});

describe("diagnostics errors", () => {
  const noHvp: Objective = { name: "value-only", layout: quadratic.layout, value: () => 0 };
  it("names the missing hvp oracle", async () => {
    await assert.rejects(hessianTrace(noHvp, x), MissingOracleError);
    await assert.rejects(powerIteration(noHvp, x), /"hvp" oracle/);
    await assert.rejects(lanczos(noHvp, x), MissingOracleError);
  });
  it("rejects wrong buffers, non-finite products and bad options", async () => {
    await assert.rejects(powerIteration(quadratic, new Float64Array(3)), ShapeMismatchError);
    await assert.rejects(lanczos(quadratic, new Float64Array(3)), ShapeMismatchError);
    const broken: Objective = { ...quadratic, hvp: (_p, _v, out) => void out.fill(Infinity) };
    await assert.rejects(hessianTrace(broken, x), NonFiniteError);
    await assert.rejects(lanczos(broken, x), /x\[0\] = Infinity/);
    await assert.rejects(lanczos(quadratic, x, { iterations: 0 }), InvalidArgumentError);
    await assert.rejects(powerIteration(quadratic, x, { tolerance: -1 }), InvalidArgumentError);
  });
});
