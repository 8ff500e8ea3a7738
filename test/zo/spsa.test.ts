import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { FloatArray } from "../../src/params/layout.js";
import { normal } from "../../src/random/index.js";
import type { DirectionRef } from "../../src/zo/apply.js";
import { freshStream } from "../../src/zo/directions.js";
import type { PerturbedView } from "../../src/zo/perturb.js";
import { spsa, writeEstimate } from "../../src/zo/spsa.js";
import { assertSameBits } from "../helpers/assertions.js";

// f(θ) = ½ θᵀAθ + bᵀθ, ∇f = Aθ + b
const A = [
  [3, 1, 0, 0.5],
  [1, 2, 0.3, 0],
  [0, 0.3, 1, 0.2],
  [0.5, 0, 0.2, 4],
];
const b = [1, -2, 0.5, 0];
function quadratic(p: ArrayLike<number>): number {
  let f = 0;
  for (let i = 0; i < 4; i++) {
    let row = 0;
    for (let j = 0; j < 4; j++) row += A[i][j] * p[j];
    f += 0.5 * p[i] * row + b[i] * p[i];
  }
  return f;
}
function quadraticGradient(p: ArrayLike<number>): number[] {
  return A.map((row, i) => row.reduce((s, a, j) => s + a * p[j], b[i]));
}

// f(θ) = Σ θ_i³/6: ∇f = θ²/2, Gaussian smoothing ∇f_ε = θ²/2 + ε²/2 (E[u⁴] = 3)
const cubic = (p: ArrayLike<number>) => {
  let f = 0;
  for (let i = 0; i < p.length; i++) f += (p[i] * p[i] * p[i]) / 6;
  return f;
};

function directions(count: number, seed = 21): DirectionRef[] {
  return Array.from({ length: count }, (_, j) => ({ seed, stream: freshStream(0, j) }));
}

/** Per-coordinate mean and standard error of the samples g_j·z_j. */
function sampleStatistics(g: Float64Array, dirs: DirectionRef[], d: number) {
  const n = g.length;
  const mean = new Array<number>(d).fill(0);
  const sq = new Array<number>(d).fill(0);
  for (let j = 0; j < n; j++) {
    for (let k = 0; k < d; k++) {
      const x = g[j] * normal(dirs[j].seed, dirs[j].stream, k);
      mean[k] += x / n;
      sq[k] += (x * x) / n;
    }
  }
  const se = mean.map((m, k) => Math.sqrt((sq[k] - m * m) / (n - 1)));
  return { mean, se };
}

describe("SPSA estimator", () => {
  const theta = new Float64Array([1, -0.5, 0.8, 0.3]);

  it("two-point projected gradients are zᵀ∇f exactly on a quadratic", async () => {
    const dirs = directions(50);
    const est = await spsa(quadratic, theta, dirs, { epsilon: 0.1 });
    const grad = quadraticGradient(theta);
    for (let j = 0; j < 50; j++) {
      let expected = 0;
      for (let k = 0; k < 4; k++) expected += normal(21, dirs[j].stream, k) * grad[k];
      assert.ok(
        Math.abs(est.projectedGradients[j] - expected) < 1e-12 * (1 + Math.abs(expected)),
        `direction ${j}`,
      );
    }
  });

  // Tolerance: each coordinate's sample mean must lie within 4 standard errors of the expected
  // value (a two-sided 6e-5 chance per coordinate for an unbiased estimator; the seeds are fixed,
  // so the outcome is deterministic), and the biased alternative must be at least 8 away.
  const N = 20000;
  for (const estimator of ["twoPoint", "onePoint"] as const) {
    it(`${estimator}: E[ĝ] = ∇f on a quadratic (${N} directions, 4 standard errors)`, async () => {
      const dirs = directions(N);
      const est = await spsa(quadratic, theta, dirs, { epsilon: 0.05, estimator });
      const { mean, se } = sampleStatistics(est.projectedGradients, dirs, 4);
      const grad = quadraticGradient(theta);
      for (let k = 0; k < 4; k++) {
        assert.ok(
          Math.abs(mean[k] - grad[k]) < 4 * se[k],
          `coordinate ${k}: ${mean[k]} vs ${grad[k]} (se ${se[k]})`,
        );
      }
    });

    it(`${estimator}: E[ĝ] = ∇f_ε ≠ ∇f on a cubic (Gaussian smoothing, ε = 0.5)`, async () => {
      const eps = 0.5;
      const dirs = directions(N, 33);
      const est = await spsa(cubic, theta, dirs, { epsilon: eps, estimator });
      const { mean, se } = sampleStatistics(est.projectedGradients, dirs, 4);
      for (let k = 0; k < 4; k++) {
        const smoothed = (theta[k] * theta[k]) / 2 + (eps * eps) / 2;
        const plain = (theta[k] * theta[k]) / 2;
        assert.ok(
          Math.abs(mean[k] - smoothed) < 4 * se[k],
          `coordinate ${k}: ${mean[k]} vs ∇f_ε ${smoothed} (se ${se[k]})`,
        );
        assert.ok(Math.abs(mean[k] - plain) > 8 * se[k], `coordinate ${k} must tell ∇f_ε from ∇f`);
      }
    });
  }

  it("one-point evaluates f(θ) once and reports it as the loss; two-point reports the mean of f±", async () => {
    let calls = 0;
    const f = (p: FloatArray) => {
      calls++;
      return quadratic(p);
    };
    const one = await spsa(f, theta, directions(3), { epsilon: 0.01, estimator: "onePoint" });
    assert.equal(calls, 4);
    assert.equal(one.loss, quadratic(theta));
    assert.equal(one.minus, null);
    calls = 0;
    const two = await spsa(f, theta, directions(3), { epsilon: 0.01 });
    assert.equal(calls, 6);
    const minus = two.minus as Float64Array;
    assert.equal(
      two.loss,
      ((two.plus[0] + minus[0]) / 2 + (two.plus[1] + minus[1]) / 2 + (two.plus[2] + minus[2]) / 2) /
        3,
    );
  });

  it("writeEstimate forms (1/n) Σ g_j z_j only when asked", () => {
    const dirs = directions(3);
    const g = [0.5, -2, 1.25];
    const out = writeEstimate(new Float64Array(4), dirs, g);
    for (let k = 0; k < 4; k++) {
      let expected = 0;
      for (let j = 0; j < 3; j++) expected += (g[j] / 3) * normal(21, dirs[j].stream, k);
      assert.ok(Object.is(out[k], expected), `coordinate ${k}`);
    }
  });

  it("batched, view and plain objectives give the same bits on every path", async () => {
    const dirs = directions(5);
    const batched = {
      valueBatch: (points: readonly FloatArray[]) => points.map((p) => quadratic(p)),
    };
    const viewed = {
      valueOfView: (v: PerturbedView) => quadratic(v.read(new Float64Array(4))),
    };
    for (const estimator of ["twoPoint", "onePoint"] as const) {
      const plain = await spsa(quadratic, theta, dirs, { epsilon: 0.01, estimator });
      const viaObjective = await spsa({ value: quadratic }, theta, dirs, {
        epsilon: 0.01,
        estimator,
      });
      const viaBatch = await spsa(batched, theta, dirs, { epsilon: 0.01, estimator });
      const viaView = await spsa(viewed, theta, dirs, { epsilon: 0.01, estimator });
      assertSameBits(
        viaObjective.projectedGradients,
        plain.projectedGradients,
        `${estimator} objective`,
      );
      assertSameBits(viaBatch.projectedGradients, plain.projectedGradients, `${estimator} batch`);
      assertSameBits(viaView.projectedGradients, plain.projectedGradients, `${estimator} view`);
    }
  });

  it("rejects ε ≤ 0, non-finite values and malformed batches, leaving θ untouched", async () => {
    const p = new Float32Array([0.1, 0.2, 0.3, 0.4]);
    const before = p.slice();
    for (const epsilon of [0, -1e-3, Number.NaN]) {
      await assert.rejects(spsa(quadratic, p, directions(1), { epsilon }), (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(e.parameter, "epsilon");
        return true;
      });
    }
    let calls = 0;
    const nanOnSecond = (q: FloatArray) => (++calls === 2 ? Number.NaN : quadratic(q));
    for (const perturbation of ["virtual", "inPlace"] as const) {
      calls = 0;
      await assert.rejects(
        spsa(nanOnSecond, p, directions(2), { epsilon: 1e-3, perturbation, owner: "zoSgd" }),
        (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError);
          assert.match(
            e.message,
            /zoSgd: the objective's value at θ − εz \(direction 0\) must be a finite number, got NaN/,
          );
          return true;
        },
      );
      if (perturbation === "virtual") assertSameBits(p, before, "θ");
    }
    await assert.rejects(
      spsa({ valueBatch: () => [1] }, p, directions(2), { epsilon: 1e-3 }),
      /valueBatch's result must be 4 values/,
    );
    await assert.rejects(
      spsa({} as never, p, directions(1), { epsilon: 1e-3 }),
      /objective must be a function/,
    );
    await assert.rejects(
      spsa({ valueOfView: () => 0 }, p, directions(1), { epsilon: 1e-3, perturbation: "inPlace" }),
      /perturbation must be "virtual"/,
    );
  });
});
