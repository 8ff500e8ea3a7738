import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PairSummary } from "../../src/bench/summary.js";
import { stats } from "../../src/bench/summary.js";
import { compareResults, formatComparison } from "../../src/report/compare.js";
import type { BenchResults, ProblemSummary } from "../../src/report/results.js";

function problem(
  name: string,
  optimalValue: number | null,
  targetLoss: number | null,
): ProblemSummary {
  return { name, description: name, kind: "function", targetLoss, optimalValue, defaultSteps: 10 };
}

function pair(problemName: string, optimizer: string, loss: number, timeMs: number): PairSummary {
  return {
    problem: problemName,
    optimizer,
    status: "ok",
    learningRateSource: "tuned",
    sweep: [
      {
        learningRate: 0.1,
        factor: 1,
        runs: 1,
        diverged: 0,
        failed: 0,
        score: loss,
        finalLoss: loss,
      },
    ],
    chosen: 0,
    learningRate: 0.1,
    atEdge: false,
    score: loss,
    finalLoss: stats([loss]),
    stepsToTarget: null,
    timeMs: stats([timeMs]),
    calls: null,
    accuracy: null,
    validationLoss: null,
    seeds: [0],
  };
}

function record(summary: PairSummary[], startedAt: string): BenchResults {
  return {
    format: "descend-bench-results",
    version: 2,
    startedAt,
    complete: true,
    plannedRuns: summary.length,
    wallMs: 1,
    options: {
      suite: "quick",
      optimizers: [],
      problems: [],
      steps: null,
      seeds: [0],
      grid: [1],
      learningRates: {},
    },
    criterion: "c",
    environment: {
      node: "v20.0.0",
      platform: "linux",
      arch: "x64",
      cpus: 2,
      cpuModel: "cpu",
      descend: "0.1.0",
    },
    // f* = 1 on "shifted": losses are compared by their distance to it.
    problems: [problem("plain", 0, 1e-6), problem("shifted", 1, 1.01)],
    optimizers: [],
    runs: [],
    summary,
  };
}

describe("comparing two benchmark records", () => {
  const a = record(
    [
      pair("plain", "steady", 1e-3, 100),
      pair("plain", "worse", 1e-3, 100),
      pair("plain", "slower", 1e-3, 100),
      pair("plain", "better", 1e-3, 100),
      pair("plain", "gone", 1e-3, 100),
      pair("shifted", "near", 1.02, 100),
      pair("shifted", "solved", 1.001, 100),
    ],
    "2024-01-01T00:00:00.000Z",
  );
  const b = record(
    [
      // 5% worse: within the default 10% threshold.
      pair("plain", "steady", 1.05e-3, 110),
      pair("plain", "worse", 2e-3, 100),
      pair("plain", "slower", 1e-3, 400),
      pair("plain", "better", 2e-4, 100),
      // Loss 1.04 against 1.02 at f* = 1: the gap doubles (a 2% change of the loss itself).
      pair("shifted", "near", 1.04, 100),
      // The gap grows, but the target 1.01 is reached: not a regression.
      pair("shifted", "solved", 1.008, 100),
      pair("plain", "new", 1, 100),
    ],
    "2024-02-01T00:00:00.000Z",
  );

  it("flags regressions beyond the thresholds, by the distance to f*", () => {
    const comparison = compareResults(a, b);
    const row = (optimizer: string) => comparison.rows.find((r) => r.optimizer === optimizer)!;
    assert.equal(row("steady").regression, false);
    assert.ok(Math.abs(row("steady").lossRatio! - 1.05) < 1e-12);
    assert.ok(Math.abs(row("steady").timeRatio! - 1.1) < 1e-12);
    assert.equal(row("worse").regression, true);
    assert.deepEqual(row("worse").flags, ["loss +100%"]);
    assert.equal(row("slower").regression, true);
    assert.deepEqual(row("slower").flags, ["slower ×4.00"]);
    assert.equal(row("better").regression, false);
    assert.deepEqual(row("better").flags, ["loss -80%"]);
    assert.deepEqual(row("gone").flags, ["only in a"]);
    assert.deepEqual(row("new").flags, ["only in b"]);
    assert.ok(Math.abs(row("near").lossRatio! - 2) < 1e-9);
    assert.equal(row("near").regression, true);
    assert.ok(Math.abs(row("solved").lossRatio! - 8) < 1e-9);
    assert.equal(row("solved").regression, false);
    assert.equal(comparison.regressions, 3);
    // A looser threshold lets the doubled gaps pass.
    assert.equal(compareResults(a, b, { lossThreshold: 1.5, timeThreshold: 5 }).regressions, 0);
  });

  it("flags an optimizer that no longer finds a working rate", () => {
    const broken = record(
      [
        {
          ...pair("plain", "steady", 1, 1),
          status: "diverged",
          chosen: null,
          learningRate: null,
          finalLoss: null,
          timeMs: null,
        },
      ],
      "2024-03-01T00:00:00.000Z",
    );
    const comparison = compareResults(a, broken);
    const steady = comparison.rows.find((r) => r.optimizer === "steady")!;
    assert.equal(steady.regression, true);
    assert.deepEqual(steady.flags, ["diverged at every rate"]);
  });

  it("prints both records, one row per pair and the count of regressions", () => {
    const comparison = compareResults(a, b);
    const text = formatComparison(
      comparison,
      { label: "a.json", results: a },
      { label: "b.json", results: b },
    );
    const lines = text.split("\n");
    assert.match(
      lines[0],
      /^a = a\.json: 2024-01-01T00:00:00\.000Z, suite quick, 0 runs, descend 0\.1\.0/,
    );
    assert.match(lines[1], /^b = b\.json: 2024-02-01T00:00:00\.000Z/);
    assert.match(
      text,
      /\nproblem +optimizer +lr a +lr b +loss a +loss b +b\/a +time a +time b +b\/a +flags\n/,
    );
    assert.match(
      text,
      /\nplain +worse +0\.1 +0\.1 +1\.000e-3 +2\.000e-3 +2\.00 +100 ms +100 ms +1\.00 +REGRESSION loss \+100%\n/,
    );
    assert.match(text, /\nplain +gone +0\.1 +- +1\.000e-3 +- +- +100 ms +- +- +only in a\n/);
    assert.match(text, /\n3 regressions beyond 10% in loss \(distance to f\*\) or 50% in time\n$/);
  });
});
