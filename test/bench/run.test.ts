import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingOracleError } from "../../src/errors.js";
import { catalog, findOptimizer } from "../../src/optim/catalog.js";
import { findProblem, learningRateFor, problems } from "../../src/bench/problems.js";
import type { RunResult } from "../../src/bench/run.js";
import { UnknownNameError, planBench, runBench } from "../../src/bench/run.js";
import { brokenGradient, scoredBowl, seededBowl, unloadable, valueOnly } from "./helpers.js";

const tiny = {
  optimizers: ["adam", "adamw"],
  problems: ["rosenbrock", "quadratic"],
  steps: 25,
  seed: 7,
};

function rosenbrockValue(x: number, y: number): number {
  return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
}

/** Everything but the times, which legitimately differ between runs. */
function withoutTimes(results: readonly RunResult[]): unknown[] {
  return results.map((r) => ({ ...r, times: undefined }));
}

describe("planBench", () => {
  it("expands optimizers × problems, grouped by problem", () => {
    const plan = planBench(tiny);
    assert.deepEqual(
      plan.runs.map((r) => `${r.problem}/${r.optimizer}`),
      ["rosenbrock/adam", "rosenbrock/adamw", "quadratic/adam", "quadratic/adamw"],
    );
    for (const run of plan.runs) {
      assert.equal(run.steps, 25);
      assert.equal(run.seed, 7);
      assert.equal(run.targetLoss, findProblem(run.problem)!.targetLoss);
    }
    assert.deepEqual(plan.options.optimizers, ["adam", "adamw"]);
    assert.equal(plan.options.steps, 25);
  });

  it("uses each problem's default steps and the default optimizers that exist", () => {
    const plan = planBench({});
    const names = new Set(catalog.map((e) => e.name));
    assert.ok(plan.options.optimizers.length > 0);
    for (const name of plan.options.optimizers) assert.ok(names.has(name), name);
    assert.deepEqual(
      plan.options.problems,
      problems.map((p) => p.name),
    );
    for (const run of plan.runs) assert.equal(run.steps, findProblem(run.problem)!.defaultSteps);
    assert.equal(plan.options.seed, 0);
  });

  it("picks the tuned learning rate, the catalog default, or an override", () => {
    const rosenbrock = findProblem("rosenbrock")!;
    const adam = findOptimizer("adam");
    const tuned = learningRateFor(rosenbrock, adam);
    assert.deepEqual(tuned, { learningRate: rosenbrock.learningRates.adam, source: "tuned" });
    assert.deepEqual(learningRateFor(seededBowl, adam), {
      learningRate: adam.defaultLearningRate,
      source: "default",
    });
    assert.deepEqual(learningRateFor(rosenbrock, adam, 0.5), {
      learningRate: 0.5,
      source: "override",
    });
    const plan = planBench({ ...tiny, learningRates: { adamw: 0.25 } });
    assert.deepEqual(
      plan.runs.map((r) => [r.optimizer, r.learningRateSource]),
      [
        ["adam", "tuned"],
        ["adamw", "override"],
        ["adam", "tuned"],
        ["adamw", "override"],
      ],
    );
    assert.equal(plan.runs[1].learningRate, 0.25);
  });

  it("rejects unknown names, listing the known ones", () => {
    assert.throws(
      () => planBench({ optimizers: ["adam", "adamm"] }),
      (error: unknown) => {
        assert.ok(error instanceof UnknownNameError);
        assert.equal(error.unknown, "adamm");
        assert.deepEqual(
          error.known,
          catalog.map((e) => e.name),
        );
        assert.match(error.message, /unknown optimizer "adamm"/);
        for (const e of catalog) assert.ok(error.message.includes(e.name));
        return true;
      },
    );
    assert.throws(
      () => planBench({ problems: ["rosenbrok"] }),
      (error: unknown) => {
        assert.ok(error instanceof UnknownNameError);
        assert.match(error.message, /unknown problem "rosenbrok"/);
        for (const p of problems) assert.ok(error.message.includes(p.name));
        return true;
      },
    );
  });

  it("rejects bad steps, seeds and learning rates", () => {
    assert.throws(() => planBench({ steps: 0 }), /steps must be a positive integer, got 0/);
    assert.throws(() => planBench({ steps: 2.5 }), /steps/);
    assert.throws(() => planBench({ seed: -1 }), /seed/);
    assert.throws(() => planBench({ learningRates: { adam: -1 } }), /learning rate of adam/);
    assert.throws(() => planBench({ learningRates: { nope: 1 } }), UnknownNameError);
  });
});

describe("runBench", () => {
  it("records one loss per step from the closed-form starting value", async () => {
    const plan = planBench(tiny);
    const results = await runBench(plan);
    assert.equal(results.length, 4);
    for (const r of results) {
      assert.equal(r.status, "ok", r.message);
      assert.equal(r.message, undefined);
      assert.equal(r.stepsDone, 25);
      assert.equal(r.losses.length, 26);
      assert.ok(r.losses.every(Number.isFinite));
      assert.equal(r.finalLoss, r.losses[25]);
      assert.equal(r.bestLoss, Math.min(...r.losses));
      const reached = r.losses.findIndex((l) => l <= r.targetLoss);
      assert.equal(r.stepsToTarget, reached < 0 ? null : reached);
      assert.equal(r.accuracy, null);
      assert.ok(r.times.runMs >= 0 && r.times.setupMs >= 0);
      assert.ok(Math.abs(r.times.msPerStep - r.times.runMs / 25) < 1e-9);
    }
    // f(-1.2, 1) = 2.2² + 100·0.44² = 24.2.
    assert.ok(Math.abs(results[0].losses[0] - 24.2) < 1e-12);
    // The quadratic starts at x* + δ, δ_i = ±(0.5 + frac(i/φ)) alternating: f = ½ Σ λ_i δ_i².
    let half = 0;
    for (let i = 0; i < 100; i++) {
      const offset = 0.5 + (((i * (Math.sqrt(5) - 1)) / 2) % 1);
      half += 0.5 * 1000 ** (-i / 99) * offset * offset;
    }
    assert.ok(Math.abs(results[2].losses[0] - half) < 1e-12 * half);
    // Adam's first step is lr·g/(|g| + ε) per coordinate; g(-1.2, 1) = (-215.6, -88).
    const lr = results[0].learningRate;
    const x1 = -1.2 + (lr * 215.6) / (215.6 + 1e-8);
    const y1 = 1 + (lr * 88) / (88 + 1e-8);
    assert.ok(Math.abs(results[0].losses[1] - rosenbrockValue(x1, y1)) < 1e-9);
  });

  it("is deterministic for a seed", async () => {
    const plan = planBench(
      { ...tiny, problems: [...tiny.problems, "seeded-bowl"] },
      {
        problems: [...problems, seededBowl],
      },
    );
    const sources = { problems: [...problems, seededBowl] };
    const first = await runBench(plan, sources);
    const second = await runBench(plan, sources);
    assert.deepEqual(withoutTimes(first), withoutTimes(second));
    const other = await runBench(
      planBench({ optimizers: ["adam"], problems: ["seeded-bowl"], seed: 8 }, sources),
      sources,
    );
    assert.notDeepEqual(other[0].losses, first[4].losses);
  });

  it("reports a diverging run and completes the others", async () => {
    const plan = planBench({ ...tiny, learningRates: { adam: 1e200 } });
    const ended: string[] = [];
    const results = await runBench(plan, {
      onRunEnd: (r) => {
        ended.push(`${r.problem}/${r.optimizer}:${r.status}`);
      },
    });
    assert.deepEqual(ended, [
      "rosenbrock/adam:diverged",
      "rosenbrock/adamw:ok",
      "quadratic/adam:diverged",
      "quadratic/adamw:ok",
    ]);
    const diverged = results[0];
    assert.match(diverged.message ?? "", /not finite|became/);
    assert.ok(diverged.stepsDone < 25);
    assert.equal(diverged.losses.length, diverged.stepsDone + 1);
    assert.ok(!Number.isFinite(diverged.finalLoss));
    assert.ok(Math.abs(diverged.losses[0] - 24.2) < 1e-12);
    assert.ok(Number.isFinite(diverged.bestLoss));
    assert.equal(results[1].losses.length, 26);
  });

  it("reports runs that throw or cannot start, and goes on", async () => {
    const registry = [brokenGradient, unloadable, valueOnly, seededBowl];
    const plan = planBench(
      { optimizers: ["adam"], problems: registry.map((p) => p.name) },
      { problems: registry },
    );
    const results = await runBench(plan, { problems: registry });
    assert.deepEqual(
      results.map((r) => r.status),
      ["error", "error", "error", "ok"],
    );
    const [broken, missing, blackBox] = results;
    assert.match(broken.message ?? "", /at step 2: Error: model exploded <boom>/);
    assert.equal(broken.stepsDone, 2);
    assert.equal(broken.losses.length, 2);
    assert.match(missing.message ?? "", /setup failed: .*Cannot find module 'missing-model'/);
    assert.deepEqual(missing.losses, []);
    assert.ok(Number.isNaN(missing.finalLoss));
    const missingOracle = new MissingOracleError("value-only", "valueAndGrad", "optimizer adam");
    assert.equal(blackBox.message, `setup failed: MissingOracleError: ${missingOracle.message}`);
  });

  it("measures accuracy on problems that offer it", async () => {
    const registry = [scoredBowl];
    const results = await runBench(
      planBench({ optimizers: ["adam"], problems: ["scored-bowl"] }, { problems: registry }),
      { problems: registry },
    );
    const [r] = results;
    assert.equal(r.status, "ok");
    assert.equal(r.accuracy, Math.max(0, Math.min(1, 1 - r.finalLoss)));
  });

  it("stops at the abort signal, keeping the finished runs", async () => {
    const controller = new AbortController();
    const plan = planBench(tiny);
    const results = await runBench(plan, {
      signal: controller.signal,
      onStep: (spec, index, step) => {
        if (index === 1 && step === 10) controller.abort();
      },
    });
    assert.equal(results.length, 2);
    assert.equal(results[0].status, "ok");
    assert.equal(results[1].status, "interrupted");
    assert.equal(results[1].stepsDone, 10);
    assert.equal(results[1].losses.length, 11);
  });
});
