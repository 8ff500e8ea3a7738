import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PairSummary } from "../../src/bench/summary.js";
import { stats } from "../../src/bench/summary.js";
import {
  formatCalls,
  formatDuration,
  formatFactor,
  formatLoss,
  formatPercent,
  formatRate,
  formatShort,
  formatSpread,
  formatTable,
  summaryTable,
} from "../../src/bench/table.js";

function pair(overrides: Partial<PairSummary>): PairSummary {
  return {
    problem: "rosenbrock",
    optimizer: "adam",
    status: "ok",
    learningRateSource: "tuned",
    sweep: [
      {
        learningRate: 0.01,
        factor: 1 / 3,
        runs: 2,
        diverged: 0,
        failed: 0,
        score: 0.5,
        finalLoss: 0.5,
      },
      {
        learningRate: 0.03,
        factor: 1,
        runs: 2,
        diverged: 0,
        failed: 0,
        score: 0.1,
        finalLoss: 0.1,
      },
      {
        learningRate: 0.09,
        factor: 3,
        runs: 2,
        diverged: 1,
        failed: 0,
        score: Number.POSITIVE_INFINITY,
        finalLoss: 0.2,
      },
    ],
    chosen: 1,
    learningRate: 0.03,
    atEdge: false,
    score: 0.1,
    finalLoss: stats([0.125, 0.375]),
    stepsToTarget: { reached: 2, runs: 2, mean: 12.5 },
    timeMs: stats([10, 15]),
    calls: {
      value: 0,
      valueAndGrad: 300,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    },
    accuracy: null,
    validationLoss: null,
    seeds: [0, 1],
    ...overrides,
  };
}

describe("cell formats", () => {
  it("formats losses, durations, percentages, rates, factors and calls", () => {
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
    assert.equal(formatRate(0.1 / 3), "0.0333");
    assert.equal(formatRate(3e-5 * 3), "0.00009");
    assert.equal(formatRate(1.9), "1.9");
    assert.equal(formatFactor(1 / 3), "×1/3");
    assert.equal(formatFactor(1 / 10), "×1/10");
    assert.equal(formatFactor(1), "×1");
    assert.equal(formatFactor(30), "×30");
    assert.equal(formatFactor(0.4), "×0.4");
    assert.equal(
      formatCalls({
        value: 0,
        valueAndGrad: 300,
        hvp: 150,
        jvp: 0,
        sampledLabelGrad: 0,
        outputJacobian: 0,
        layerStatistics: 0,
      }),
      "300 grad + 150 hvp",
    );
    assert.equal(
      formatCalls({
        value: 2.5,
        valueAndGrad: 0,
        hvp: 0,
        jvp: 0,
        sampledLabelGrad: 0,
        outputJacobian: 0,
        layerStatistics: 0,
      }),
      "2.5 value",
    );
    assert.equal(formatCalls(null), "-");
  });

  it("writes mean ± sample standard deviation, or the value alone for one seed", () => {
    // 0.125 and 0.375: mean 0.25, sd 0.25/√2 = 0.1768.
    assert.equal(formatSpread(stats([0.125, 0.375])), "2.500e-1 ± 1.8e-1");
    assert.equal(formatSpread(stats([0.25])), "2.500e-1");
    assert.equal(formatSpread(stats([])), "-");
  });
});

describe("summary table", () => {
  it("has one aligned row per pair and a blank line between problems", () => {
    const text = formatTable([
      pair({}),
      pair({ optimizer: "adamw", stepsToTarget: { reached: 1, runs: 2, mean: 7 } }),
      pair({ problem: "quadratic", stepsToTarget: { reached: 0, runs: 2, mean: null } }),
    ]);
    const lines = text.trimEnd().split("\n");
    assert.equal(lines.length, 6);
    assert.match(
      lines[0],
      /^optimizer +problem +best lr +final loss \(mean ± sd\) +seeds +steps to target +time\/run +status$/,
    );
    assert.match(lines[1], /^-+( +-+)+$/);
    assert.equal(lines[4], "");
    // Right-aligned numbers end in the same column as their headers.
    const finalEnd = lines[0].indexOf("final loss (mean ± sd)") + "final loss (mean ± sd)".length;
    assert.equal(lines[2].slice(finalEnd - 17, finalEnd), "2.500e-1 ± 1.8e-1");
    const targetEnd = lines[0].indexOf("steps to target") + "steps to target".length;
    assert.equal(lines[2].slice(targetEnd - 2, targetEnd), "13");
    assert.equal(lines[3].slice(targetEnd - 7, targetEnd), "7 (1/2)");
    assert.equal(lines[5][targetEnd - 1], "-");
    assert.match(lines[2], /0\.03 +2\.500e-1/);
    assert.match(lines[2], /13 ms {2}ok \(1\/3 rates diverged\)$/);
    assert.ok(!lines[0].includes("accuracy"));
  });

  it("marks a rate at the edge of the grid and says why nothing was chosen", () => {
    const table = summaryTable([
      pair({ chosen: 2, learningRate: 0.09, atEdge: true }),
      pair({ chosen: 0, learningRate: 0.01, atEdge: true }),
      pair({
        status: "diverged",
        chosen: null,
        learningRate: null,
        finalLoss: null,
        stepsToTarget: null,
        timeMs: null,
      }),
      pair({ status: "unsupported", chosen: null, learningRate: null, finalLoss: null }),
    ]);
    const rate = table.columns.findIndex((c) => c.title === "best lr");
    const status = table.columns.length - 1;
    assert.equal(table.rows[0][rate], "0.09 (highest tried)");
    assert.equal(table.rows[1][rate], "0.01 (lowest tried)");
    assert.equal(table.rows[2][rate], "-");
    assert.equal(table.rows[2][status], "diverged at every rate");
    assert.equal(table.rows[3][status], "unsupported");
  });

  it("adds accuracy, validation and oracle-call columns when asked or measured", () => {
    const table = summaryTable(
      [pair({ accuracy: stats([0.5, 0.75]), validationLoss: stats([2]) }), pair({})],
      { calls: true },
    );
    const titles = table.columns.map((c) => c.title);
    const accuracy = titles.indexOf("accuracy");
    assert.equal(table.rows[0][accuracy], "62.5%");
    assert.equal(table.rows[1][accuracy], "-");
    assert.equal(table.rows[0][titles.indexOf("val loss")], "2.000e+0");
    assert.equal(table.rows[0][titles.indexOf("oracle calls/run")], "300 grad");
  });
});
