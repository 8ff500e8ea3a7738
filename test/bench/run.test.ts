import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingOracleError } from "../../src/errors.js";
import { catalog, findOptimizer } from "../../src/optim/catalog.js";
import { findProblem, learningRateFor, problems } from "../../src/bench/problems.js";
import type { RunResult } from "../../src/bench/run.js";
import {
  TRACE_POINTS,
  UnknownNameError,
  planBench,
  runBench,
  takesSeed,
} from "../../src/bench/run.js";
import { QUICK_OPTIMIZERS, findSuite } from "../../src/bench/suites.js";
import {
  batchLog,
  batchedBowl,
  brokenGradient,
  curvedBowl,
  hvpDescent,
  scoredBowl,
  seededBowl,
  twoPoint,
  unloadable,
  valueOnly,
  valueOnlyUndeclared,
} from "./helpers.js";

const tiny = {
  optimizers: ["adam", "adamw"],
  problems: ["rosenbrock", "quadratic"],
  steps: 25,
  seed: 7,
  grid: [1],
  seeds: 1,
};

function rosenbrockValue(x: number, y: number): number {
  return (1 - x) ** 2 + 100 * (y - x * x) ** 2;
}

/** Everything but the times, which legitimately differ between runs. */
function withoutTimes(results: readonly RunResult[]): unknown[] {
  return results.map((r) => ({
    ...r,
    times: undefined,
    trace: r.trace && { ...r.trace, ms: undefined },
  }));
}

describe("planBench", () => {
  it("expands problems × optimizers × learning rates × seeds, grouped by problem", () => {
    const plan = planBench(
      { optimizers: ["adam", "sgd"], problems: ["seeded-bowl"], grid: [3, 1 / 3, 1], seeds: 2 },
      { problems: [seededBowl] },
    );
    const adamRate = findOptimizer("adam").defaultLearningRate;
    assert.deepEqual(
      plan.runs.map((r) => [r.optimizer, r.learningRateFactor, r.seed]),
      [
        ["adam", 1 / 3, 0],
        ["adam", 1 / 3, 1],
        ["adam", 1, 0],
        ["adam", 1, 1],
        ["adam", 3, 0],
        ["adam", 3, 1],
        ["sgd", 1 / 3, 0],
        ["sgd", 1 / 3, 1],
        ["sgd", 1, 0],
        ["sgd", 1, 1],
        ["sgd", 3, 0],
        ["sgd", 3, 1],
      ],
    );
    assert.deepEqual(
      plan.runs.slice(0, 6).map((r) => r.learningRate),
      [adamRate / 3, adamRate / 3, adamRate, adamRate, 3 * adamRate, 3 * adamRate],
    );
    assert.deepEqual(plan.options.grid, [1 / 3, 1, 3]);
    assert.deepEqual(plan.options.seeds, [0, 1]);
  });

  it("runs one seed where neither the problem nor the optimizer uses it", () => {
    const sources = { problems: [...problems, seededBowl] };
    const plan = planBench(
      {
        optimizers: ["adam", "random-scaling"],
        problems: ["rosenbrock", "seeded-bowl"],
        grid: [1],
        seeds: 3,
        seed: 5,
      },
      sources,
    );
    assert.equal(takesSeed(findOptimizer("adam")), false);
    assert.equal(takesSeed(findOptimizer("random-scaling")), true);
    assert.deepEqual(
      plan.runs.map((r) => `${r.problem}/${r.optimizer}/${r.seed}`),
      [
        "rosenbrock/adam/5",
        "rosenbrock/random-scaling/5",
        "rosenbrock/random-scaling/6",
        "rosenbrock/random-scaling/7",
        "seeded-bowl/adam/5",
        "seeded-bowl/adam/6",
        "seeded-bowl/adam/7",
        "seeded-bowl/random-scaling/5",
        "seeded-bowl/random-scaling/6",
        "seeded-bowl/random-scaling/7",
      ],
    );
  });

  it("takes the suite's optimizers, problems, grid, seeds and steps by default", () => {
    const quick = planBench({});
    const suite = findSuite("quick");
    assert.equal(quick.options.suite, "quick");
    assert.deepEqual(quick.options.optimizers, QUICK_OPTIMIZERS);
    assert.deepEqual(quick.options.problems, suite.problems);
    assert.deepEqual(quick.options.grid, suite.grid);
    assert.equal(quick.options.seeds.length, suite.seeds);
    const sensing = quick.runs.find((r) => r.problem === "matrix-sensing")!;
    assert.equal(sensing.steps, findProblem("matrix-sensing")!.suiteSteps!.quick);
    const standard = planBench({ suite: "standard" });
    assert.deepEqual(
      standard.options.optimizers,
      catalog.map((e) => e.name),
    );
    assert.deepEqual(
      standard.options.problems,
      problems.map((p) => p.name),
    );
    assert.equal(standard.options.seeds.length, 3);
    assert.equal(standard.options.grid.length, 5);
    for (const run of standard.runs) {
      assert.equal(run.steps, findProblem(run.problem)!.defaultSteps);
    }
    assert.throws(() => planBench({ suite: "huge" as "quick" }), /unknown suite "huge"/);
  });

  it("centres the sweep on the tuned rate, the catalog default, or an override", () => {
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
    const plan = planBench({ ...tiny, grid: [1, 10], learningRates: { adamw: 0.25 } });
    const adamw = plan.runs.filter((r) => r.optimizer === "adamw");
    assert.deepEqual(
      adamw.map((r) => [r.learningRate, r.learningRateSource]),
      [
        [0.25, "override"],
        [2.5, "override"],
        [0.25, "override"],
        [2.5, "override"],
      ],
    );
  });

  it("marks an optimizer needing an oracle the problem lacks, once, naming both", () => {
    const registry = [valueOnly, curvedBowl, seededBowl];
    const plan = planBench(
      {
        optimizers: ["adam", "hvp-descent"],
        problems: registry.map((p) => p.name),
        grid: [1, 3],
        seeds: 2,
      },
      { problems: registry, catalog: [...catalog, hvpDescent] },
    );
    const unsupported = plan.runs.filter((r) => r.unsupported !== undefined);
    assert.deepEqual(
      unsupported.map((r) => `${r.problem}/${r.optimizer}`),
      ["value-only/adam", "value-only/hvp-descent", "seeded-bowl/hvp-descent"],
    );
    assert.equal(
      unsupported[0].unsupported,
      new MissingOracleError("value-only", "valueAndGrad", "optimizer adam").message,
    );
    assert.match(unsupported[2].unsupported!, /"seeded-bowl" has no "hvp" oracle.*hvp-descent/);
    // The curved bowl offers the HVP: a full sweep.
    assert.equal(
      plan.runs.filter((r) => r.problem === "curved-bowl" && r.optimizer === "hvp-descent").length,
      4,
    );
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

  it("rejects bad steps, seeds, grids and learning rates", () => {
    assert.throws(() => planBench({ steps: 0 }), /steps must be a positive integer, got 0/);
    assert.throws(() => planBench({ steps: 2.5 }), /steps/);
    assert.throws(() => planBench({ seed: -1 }), /seeds/);
    assert.throws(() => planBench({ seeds: 0 }), /seeds must be a positive integer/);
    assert.throws(() => planBench({ seed: 0xffffffff, seeds: 2 }), /seeds must be integers/);
    assert.throws(() => planBench({ grid: [] }), /grid is empty/);
    assert.throws(() => planBench({ grid: [1, -3] }), /grid factors must be positive/);
    assert.throws(() => planBench({ learningRates: { adam: -1 } }), /learning rate of adam/);
    assert.throws(() => planBench({ learningRates: { nope: 1 } }), UnknownNameError);
  });
});

describe("runBench", () => {
  it("records one loss per step from the closed-form starting value", async () => {
    const results = await runBench(planBench(tiny));
    assert.equal(results.length, 4);
    for (const r of results) {
      assert.equal(r.status, "ok", r.message);
      assert.equal(r.message, undefined);
      assert.equal(r.stepsDone, 25);
      assert.equal(r.losses.length, 26);
      assert.ok(r.losses.every(Number.isFinite));
      assert.equal(r.finalLoss, r.losses[25]);
      assert.equal(r.bestLoss, Math.min(...r.losses));
      const reached = r.losses.findIndex((l) => l <= r.targetLoss!);
      assert.equal(r.stepsToTarget, reached < 0 ? null : reached);
      assert.equal(r.accuracy, null);
      assert.equal(r.validationLoss, null);
      assert.ok(r.times.runMs >= 0 && r.times.setupMs >= 0);
      assert.ok(Math.abs(r.times.msPerStep - r.times.runMs / 25) < 1e-9);
    }
    // f(-1.2, 1) = 2.2² + 100·0.44² = 24.2.
    assert.ok(Math.abs(results[0].losses[0] - 24.2) < 1e-12);
    // Adam's first step is lr·g/(|g| + ε) per coordinate; g(-1.2, 1) = (-215.6, -88).
    const lr = results[0].learningRate;
    const x1 = -1.2 + (lr * 215.6) / (215.6 + 1e-8);
    const y1 = 1 + (lr * 88) / (88 + 1e-8);
    assert.ok(Math.abs(results[0].losses[1] - rosenbrockValue(x1, y1)) < 1e-9);
  });

  it("counts exactly the optimizer's oracle calls, not the curve's evaluations", async () => {
    const steps = 3 * TRACE_POINTS + 7;
    const [r] = await runBench(planBench({ ...tiny, optimizers: ["adam"], steps }));
    assert.equal(r.status, "ok");
    // k steps of Adam are k gradients; the loss at the final point is evaluated uncounted.
    assert.deepEqual(r.calls, {
      value: 0,
      valueAndGrad: steps,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    });
    const trace = r.trace!;
    assert.deepEqual(Object.keys(trace.calls), ["valueAndGrad"]);
    const stride = Math.ceil(steps / TRACE_POINTS);
    const expected = [];
    for (let k = 0; k <= steps; k += stride) expected.push(k);
    if (expected.at(-1) !== steps) expected.push(steps);
    assert.deepEqual(trace.step, expected);
    // One gradient per step: the calls to reach θ_k are k.
    assert.deepEqual(trace.calls.valueAndGrad, expected);
    assert.equal(trace.ms.length, expected.length);
    assert.equal(trace.ms[0], 0);
    for (let i = 1; i < trace.ms.length; i++) assert.ok(trace.ms[i] >= trace.ms[i - 1]);
    assert.ok(Math.abs(trace.ms.at(-1)! - r.times.runMs) < 1e-9);
  });

  it("counts the HVPs a curvature method asks for through the step context", async () => {
    const sources = { problems: [curvedBowl], catalog: [hvpDescent] };
    const [r] = await runBench(
      planBench(
        { optimizers: ["hvp-descent"], problems: ["curved-bowl"], grid: [1], seeds: 1, steps: 9 },
        sources,
      ),
      sources,
    );
    assert.equal(r.status, "ok", r.message);
    assert.deepEqual(r.calls, {
      value: 0,
      valueAndGrad: 9,
      hvp: 9,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    });
    assert.deepEqual(r.trace!.calls.hvp, r.trace!.step);
  });

  it("lets a zeroth-order method pay in values only, and records its curve on the side", async () => {
    const sources = { problems: [seededBowl], catalog: [twoPoint] };
    const [r] = await runBench(
      planBench(
        { optimizers: ["two-point"], problems: ["seeded-bowl"], grid: [1], seeds: 1, steps: 12 },
        sources,
      ),
      sources,
    );
    assert.equal(r.status, "ok", r.message);
    assert.deepEqual(r.calls, {
      value: 24,
      valueAndGrad: 0,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    });
    assert.equal(r.losses.length, 13);
    // Only the first coordinate moves, by lr·∂f/∂x₀ = 0.1·x₀ per step: x₀ shrinks by 0.9.
    const start = await seededBowl.create({ seed: 0 });
    const [x0, x1, x2] = start.initial;
    const expected = 0.5 * ((x0 * 0.9 ** 12) ** 2 + x1 * x1 + x2 * x2);
    assert.ok(Math.abs(r.finalLoss - expected) < 1e-9, `${r.finalLoss} vs ${expected}`);
  });

  it("is deterministic for a seed, and the seed changes the start, minibatches and optimizer", async () => {
    const sources = { problems: [...problems, seededBowl, batchedBowl] };
    const options = {
      optimizers: ["adam", "random-scaling"],
      problems: ["rosenbrock", "seeded-bowl", "batched-bowl"],
      steps: 20,
      grid: [1],
      seeds: 2,
    };
    const plan = planBench(options, sources);
    const first = await runBench(plan, sources);
    const second = await runBench(plan, sources);
    assert.deepEqual(withoutTimes(first), withoutTimes(second));
    const by = (problem: string, optimizer: string, seed: number) =>
      first.find((r) => r.problem === problem && r.optimizer === optimizer && r.seed === seed)!;
    // A seeded start.
    assert.notEqual(by("seeded-bowl", "adam", 0).losses[0], by("seeded-bowl", "adam", 1).losses[0]);
    // The minibatch order.
    assert.notDeepEqual(by("batched-bowl", "adam", 0).losses, by("batched-bowl", "adam", 1).losses);
    // The optimizer's own randomness, on a problem without any.
    const scaled0 = by("rosenbrock", "random-scaling", 0);
    const scaled1 = by("rosenbrock", "random-scaling", 1);
    assert.equal(scaled0.optimizerSeeded, true);
    assert.equal(scaled0.losses[0], scaled1.losses[0]);
    assert.notDeepEqual(scaled0.losses, scaled1.losses);
  });

  it("selects the minibatch of every step, and of the final evaluation", async () => {
    const sources = { problems: [batchedBowl] };
    batchLog.length = 0;
    const [r] = await runBench(
      planBench(
        { optimizers: ["sgd"], problems: ["batched-bowl"], steps: 4, grid: [1], seeds: 1, seed: 3 },
        sources,
      ),
      sources,
    );
    assert.equal(r.status, "ok");
    assert.deepEqual(
      batchLog.map((b) => b.step),
      [0, 1, 2, 3, 4],
    );
    assert.ok(batchLog.every((b) => b.seed === 3));
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

  it("reports runs that throw, cannot start or lack an oracle, and goes on", async () => {
    const registry = [brokenGradient, unloadable, valueOnly, valueOnlyUndeclared, seededBowl];
    const plan = planBench(
      { optimizers: ["adam"], problems: registry.map((p) => p.name), grid: [1], seeds: 1 },
      { problems: registry },
    );
    const results = await runBench(plan, { problems: registry });
    assert.deepEqual(
      results.map((r) => r.status),
      ["error", "error", "unsupported", "unsupported", "ok"],
    );
    const [broken, missing, blackBox, undeclared] = results;
    assert.match(broken.message ?? "", /at step 2: Error: model exploded <boom>/);
    assert.equal(broken.stepsDone, 2);
    assert.equal(broken.losses.length, 2);
    assert.match(missing.message ?? "", /setup failed: .*Cannot find module 'missing-model'/);
    assert.deepEqual(missing.losses, []);
    assert.ok(Number.isNaN(missing.finalLoss));
    assert.equal(missing.calls, null);
    const missingOracle = new MissingOracleError("value-only", "valueAndGrad", "optimizer adam");
    assert.equal(blackBox.message, missingOracle.message);
    assert.equal(blackBox.losses.length, 0);
    assert.match(undeclared.message ?? "", /"value-only" has no "valueAndGrad" oracle/);
  });

  it("records an error for a run whose optimizer is missing from the sources", async () => {
    const plan = planBench({ ...tiny, optimizers: ["adam"] });
    const results = await runBench(plan, { catalog: [findOptimizer("sgd")] });
    assert.deepEqual(
      results.map((r) => r.status),
      ["error", "error"],
    );
    assert.match(results[0].message ?? "", /unknown optimizer "adam"/);
  });

  it("measures accuracy on problems that offer it", async () => {
    const registry = [scoredBowl];
    const [r] = await runBench(
      planBench(
        { optimizers: ["adam"], problems: ["scored-bowl"], grid: [1], seeds: 1 },
        { problems: registry },
      ),
      { problems: registry },
    );
    assert.equal(r.status, "ok");
    assert.equal(r.accuracy, Math.max(0, Math.min(1, 1 - r.finalLoss)));
  });

  it("stops at the abort signal, keeping the finished runs", async () => {
    const controller = new AbortController();
    const results = await runBench(planBench(tiny), {
      signal: controller.signal,
      onStep: (_spec, index, step) => {
        if (index === 1 && step === 10) controller.abort();
      },
    });
    assert.equal(results.length, 2);
    assert.equal(results[0].status, "ok");
    assert.equal(results[1].status, "interrupted");
    assert.equal(results[1].stepsDone, 10);
    assert.equal(results[1].losses.length, 11);
    assert.equal(results[1].trace!.step.at(-1), 10);
  });
});
