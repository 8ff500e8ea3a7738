import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunResult } from "../../src/bench/run.js";
import {
  formatDuration,
  formatShort,
  formatLoss,
  formatPercent,
  formatTable,
  resultsTable,
} from "../../src/bench/table.js";

function result(overrides: Partial<RunResult>): RunResult {
  return {
    optimizer: "adam",
    problem: "rosenbrock",
    learningRate: 0.1,
    learningRateSource: "tuned",
    seed: 0,
    steps: 3,
    targetLoss: 0.5,
    status: "ok",
    losses: [4, 1, 0.25, 0.125],
    stepsDone: 3,
    finalLoss: 0.125,
    bestLoss: 0.125,
    stepsToTarget: 2,
    accuracy: null,
    times: { setupMs: 1, runMs: 12.5, msPerStep: 12.5 / 3 },
    ...overrides,
  };
}

describe("cell formats", () => {
  it("formats losses, durations, percentages and learning rates", () => {
    assert.equal(formatLoss(0.000123456), "1.235e-4");
    assert.equal(formatLoss(24.2), "2.420e+1");
    assert.equal(formatLoss(Number.NaN), "NaN");
    assert.equal(formatLoss(Number.POSITIVE_INFINITY), "Inf");
    assert.equal(formatDuration(0.25), "250 µs");
    assert.equal(formatDuration(4.25), "4.3 ms");
    assert.equal(formatDuration(420), "420 ms");
    assert.equal(formatDuration(1234), "1.23 s");
    assert.equal(formatDuration(125_000), "2m 05s");
    assert.equal(formatPercent(0.9731), "97.3%");
    assert.equal(formatShort(0.001), "0.001");
    assert.equal(formatShort(5e-7), "5e-7");
    assert.equal(formatShort(1e200), "1e200");
  });
});

describe("results table", () => {
  it("has one aligned row per run and a blank line between problems", () => {
    const text = formatTable([
      result({}),
      result({ optimizer: "adamw", stepsToTarget: null, finalLoss: 0.75, bestLoss: 0.5 }),
      result({ problem: "quadratic" }),
    ]);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 6);
    assert.match(
      lines[0],
      /^optimizer +problem +lr +final loss +best loss +steps to target +time +status$/,
    );
    assert.match(lines[1], /^-+( +-+)+$/);
    assert.equal(lines[4], "");
    // Right-aligned numbers end in the same column as their headers.
    const finalEnd = lines[0].indexOf("final loss") + "final loss".length;
    assert.equal(lines[2].slice(finalEnd - 8, finalEnd), "1.250e-1");
    assert.equal(lines[3].slice(finalEnd - 8, finalEnd), "7.500e-1");
    const targetEnd = lines[0].indexOf("steps to target") + "steps to target".length;
    assert.equal(lines[2][targetEnd - 1], "2");
    assert.equal(lines[3][targetEnd - 1], "-");
    assert.ok(!lines[0].includes("accuracy"));
  });

  it("adds an accuracy column when a run measured accuracy", () => {
    const table = resultsTable([result({ accuracy: 0.5 }), result({ problem: "quadratic" })]);
    const column = table.columns.findIndex((c) => c.title === "accuracy");
    assert.ok(column > 0);
    assert.equal(table.rows[0][column], "50.0%");
    assert.equal(table.rows[1][column], "-");
  });

  it("shows how failed runs ended", () => {
    const table = resultsTable([
      result({
        status: "diverged",
        stepsDone: 4,
        losses: [1, 2, 3, 4, Number.POSITIVE_INFINITY],
        finalLoss: Number.POSITIVE_INFINITY,
        bestLoss: 1,
        stepsToTarget: null,
      }),
      result({
        status: "error",
        stepsDone: 0,
        losses: [],
        finalLoss: Number.NaN,
        bestLoss: Number.NaN,
        stepsToTarget: null,
        times: { setupMs: 3, runMs: 0, msPerStep: 0 },
      }),
    ]);
    const status = table.columns.length - 1;
    const final = table.columns.findIndex((c) => c.title === "final loss");
    assert.equal(table.rows[0][status], "diverged @4");
    assert.equal(table.rows[0][final], "Inf");
    assert.equal(table.rows[1][status], "error");
    assert.equal(table.rows[1][final], "-");
    assert.equal(table.rows[1][final + 1], "-");
    assert.equal(table.rows[1][status - 1], "-");
  });
});
