// The shared pieces of the reproductions against closed forms: paired statistics, the
// "better than" rule, steps to a target (with seeds that never get there), and training runs on
// a quadratic whose loss curve under gradient descent is known exactly.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { sgd } from "../../src/optim/sgd.js";
import type { Objective } from "../../src/oracles/objective.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import type { CurvePoint, TrainingModel } from "../../src/reproduce/common.js";
import {
  atEdge,
  firstReach,
  halfDecades,
  improvementOf,
  median,
  pairedDifference,
  summarize,
  trainAndMonitor,
} from "../../src/reproduce/common.js";
import { bestByReach, reachOf, reachesSooner } from "../../src/reproduce/digitsMlp.js";

/** f(θ) = ½‖θ‖² in `dtype`, starting at θ_i = i + 1. */
function halfSquaredNorm(n: number, dtype: "float32" | "float64"): TrainingModel {
  const layout = new Layout([{ name: "theta", shape: [n] }], dtype);
  const value = (p: FloatArray): number => {
    let sum = 0;
    for (const x of p) sum += x * x;
    return 0.5 * sum;
  };
  const objective: Objective = {
    name: "half-squared-norm",
    layout,
    value,
    valueAndGrad(p, g) {
      g.set(p);
      return value(p);
    },
  };
  return {
    objective,
    initialParams: () => {
      const params = new ParamSet(layout);
      params.data.forEach((_, i) => (params.data[i] = i + 1));
      return params;
    },
  };
}

const curve = (losses: number[], every = 10): CurvePoint[] =>
  losses.map((loss, i) => ({ step: (i + 1) * every, loss, trainingMs: 2 * (i + 1) * every }));

describe("statistics over seeds", () => {
  it("pairs seeds: mean difference and its standard error", () => {
    const d = pairedDifference([0.95, 0.96, 0.94], [0.93, 0.93, 0.93]);
    const expected = [0.02, 0.03, 0.01];
    d.differences.forEach((x, i) => assert.ok(Math.abs(x - expected[i]) < 1e-12));
    assert.ok(Math.abs(d.mean - 0.02) < 1e-12);
    // sd of (0.02, 0.03, 0.01) is 0.01, so the standard error is 0.01 / √3.
    assert.ok(Math.abs(d.standardError - 0.01 / Math.sqrt(3)) < 1e-12);
    assert.throws(() => pairedDifference([1, 2], [1]), RangeError);
    assert.ok(Number.isNaN(pairedDifference([1], [0]).standardError));
  });

  it("calls an improvement better only beyond twice its standard error", () => {
    const at = (differences: number[]) => improvementOf(pairedDifference(differences, [0, 0, 0]));
    assert.equal(at([0.02, 0.03, 0.01]), "better"); // mean 0.02 > 2 · 0.0058
    assert.equal(at([0.05, -0.02, 0.0]), "unclear"); // mean 0.01 < 2 · 0.021
    assert.equal(at([0.01, -0.03, 0.0]), "not better"); // mean < 0
    assert.equal(at([0, 0, 0]), "not better");
    assert.equal(improvementOf(pairedDifference([0.1], [0])), "unclear");
    assert.equal(improvementOf(pairedDifference([NaN, 1], [0, 0])), "unclear");
  });

  it("summarizes, takes medians, spaces grids and finds their edges", () => {
    assert.deepEqual(summarize([2, 4]).values, [2, 4]);
    assert.ok(Math.abs(summarize([2, 4]).sd - Math.SQRT2) < 1e-15);
    assert.equal(median([3, 1, 2]), 2);
    assert.equal(median([4, 1, 3, 2]), 2.5);
    assert.deepEqual(halfDecades(-6, 4), [0.001, 0.00316, 0.01, 0.0316]);
    assert.equal(atEdge([1, 2, 3], 1), true);
    assert.equal(atEdge([1, 2, 3], 2), false);
    assert.equal(atEdge([1], 1), false);
  });
});

describe("steps to a target", () => {
  it("takes the first measurement at or below the target", () => {
    const c = curve([3, 2.5, 2.6, 2.4]);
    assert.equal(firstReach(c, 2.5)?.step, 20);
    assert.equal(firstReach(c, 2.4)?.step, 40);
    assert.equal(firstReach(c, 2), undefined);
  });

  it("counts a seed that never reaches the target as the whole budget", () => {
    const runs = [
      { curve: curve([3, 2.5, 2]), trainingMs: 60, diverged: false },
      { curve: curve([3, 2.9, 2.8]), trainingMs: 60, diverged: false },
    ];
    const r = reachOf(runs, 2.5, 30);
    assert.deepEqual(r.steps, [20, null]);
    assert.deepEqual(r.trainingMs, [40, null]);
    assert.equal(r.reached, 1);
    assert.equal(r.meanSteps, (20 + 30) / 2);
    assert.equal(r.meanTrainingMs, (40 + 60) / 2);
    assert.ok(Math.abs(r.meanFinalLoss - 2.4) < 1e-12);
    const diverged = reachOf([{ curve: curve([3]), trainingMs: 5, diverged: true }], 2.5, 30);
    assert.equal(diverged.meanFinalLoss, Infinity);
  });

  it("ranks settings by seeds at the target, then mean steps, then final loss", () => {
    const make = (reached: number, meanSteps: number, meanFinalLoss: number) => ({
      steps: [],
      trainingMs: [],
      reached,
      meanSteps,
      meanTrainingMs: 0,
      meanFinalLoss,
    });
    assert.ok(reachesSooner(make(3, 200, 1), make(2, 50, 0.5)));
    assert.ok(reachesSooner(make(3, 100, 1), make(3, 150, 0.5)));
    assert.ok(reachesSooner(make(3, 100, 0.5), make(3, 100, 1)));
    assert.equal(bestByReach([make(1, 90, 1), make(3, 120, 1), make(3, 110, 2)]), 2);
  });
});

describe("training runs", () => {
  it("records the loss curve of gradient descent on ½‖θ‖²: (1 − η)^(2k) · f(θ₀)", async () => {
    const model = halfSquaredNorm(3, "float64");
    const f0 = 0.5 * (1 + 4 + 9);
    const eta = 0.1;
    const run = await trainAndMonitor(model, sgd({ learningRate: eta }), {
      steps: 25,
      evalEvery: 10,
      monitor: async (p) => model.objective.value!(p.data) as number,
    });
    assert.equal(run.diverged, false);
    assert.deepEqual(
      run.curve.map((p) => p.step),
      [10, 20, 25],
    );
    for (const p of run.curve) {
      const exact = (1 - eta) ** (2 * p.step) * f0;
      assert.ok(Math.abs(p.loss - exact) < 1e-12 * f0, `step ${p.step}: ${p.loss} vs ${exact}`);
      assert.ok(p.trainingMs >= 0 && p.trainingMs <= run.trainingMs);
    }
    // The parameters after the run are θ₀ · (1 − η)^25.
    run.params.data.forEach((x, i) => assert.ok(Math.abs(x - (i + 1) * 0.9 ** 25) < 1e-12));
  });

  it("stops a run whose gradient overflows, as diverged", async () => {
    // Gradient descent with η = 3 multiplies θ by −2 each step: float32 overflows near step 128.
    const model = halfSquaredNorm(2, "float32");
    const run = await trainAndMonitor(model, sgd({ learningRate: 3 }), {
      steps: 400,
      evalEvery: 50,
      monitor: async (p) => model.objective.value!(p.data) as number,
    });
    assert.equal(run.diverged, true);
    assert.ok(run.curve.length < 8, `stopped early: ${run.curve.length} measurements`);
  });

  it("stops at a non-finite monitored loss", async () => {
    const model = halfSquaredNorm(2, "float64");
    const run = await trainAndMonitor(model, sgd({ learningRate: 0.1 }), {
      steps: 30,
      evalEvery: 10,
      monitor: async (p) => (p.data[0] < 0.2 ? NaN : 1),
    });
    assert.equal(run.diverged, true);
    // θ₀ = 1 shrinks by 0.9 per step: below 0.2 after 16 steps, so the second measurement stops it.
    assert.deepEqual(
      run.curve.map((p) => p.step),
      [10, 20],
    );
  });
});
