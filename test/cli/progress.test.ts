import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RunResult, RunSpec } from "../../src/bench/run.js";
import {
  BenchProgress,
  estimateBenchRemainingMs,
  estimateRemainingMs,
  progressBar,
} from "../../src/cli/progress.js";

const spec: RunSpec = {
  optimizer: "adam",
  problem: "rosenbrock",
  learningRate: 0.1,
  learningRateSource: "tuned",
  learningRateFactor: 1,
  seed: 0,
  steps: 100,
  targetLoss: 1e-4,
};

const done: RunResult = {
  ...spec,
  status: "ok",
  losses: [2, 1],
  stepsDone: 100,
  finalLoss: 1,
  bestLoss: 1,
  stepsToTarget: null,
  accuracy: null,
  validationLoss: null,
  optimizerSeeded: false,
  calls: null,
  trace: null,
  times: { setupMs: 0, runMs: 1500, msPerStep: 15 },
};

function sink(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, columns: 120, write: (t: string) => chunks.push(t) } };
}

describe("progress bar", () => {
  it("fills in eighths of a character", () => {
    assert.equal(progressBar(0, 4), "░░░░");
    assert.equal(progressBar(1, 4), "████");
    assert.equal(progressBar(0.5, 4), "██░░");
    assert.equal(progressBar(1 / 32, 4), "▏░░░");
    assert.equal(progressBar(2, 4), "████");
    assert.equal(progressBar(Number.NaN, 4), "░░░░");
    for (let f = 0; f <= 1; f += 0.01) assert.equal([...progressBar(f, 20)].length, 20);
  });

  it("estimates the time left from the pace so far", () => {
    assert.equal(estimateRemainingMs(25, 100, 1000), 3000);
    assert.ok(Number.isNaN(estimateRemainingMs(0, 100, 10)));
  });

  it("estimates the rest of the benchmark from each problem's pace", () => {
    const pending = [
      { ...spec, steps: 100 },
      { ...spec, steps: 50 },
      { ...spec, problem: "quadratic", steps: 10 },
      { ...spec, unsupported: "no hvp" },
    ];
    // 2 ms per step on rosenbrock: 300 ms; the quadratic has no pace yet.
    assert.deepEqual(estimateBenchRemainingMs(pending, new Map([["rosenbrock", 2]])), {
      ms: 300,
      lowerBound: true,
    });
    assert.deepEqual(
      estimateBenchRemainingMs(
        pending,
        new Map([
          ["rosenbrock", 2],
          ["quadratic", 1],
        ]),
      ),
      { ms: 310, lowerBound: false },
    );
  });
});

describe("BenchProgress", () => {
  it("redraws a bar in place on a terminal, at most once per interval", () => {
    let t = 0;
    const { chunks, out } = sink(true);
    const progress = new BenchProgress(out, { now: () => t, redrawMs: 100 });
    progress.onRunStart(spec, 0, 3);
    for (let step = 1; step <= 50; step++) {
      t += 10;
      progress.onStep(spec, 0, step, 1 / step);
    }
    // One draw at the start and one per 100 ms of the 500 ms.
    assert.equal(chunks.length, 6);
    for (const c of chunks) assert.ok(c.startsWith("\r\x1b[2K"));
    const last = chunks[chunks.length - 1];
    assert.match(
      last,
      /\[1\/3\] adam +rosenbrock +lr 0\.1 +seed 0 +█{5}░{5} +50% +50\/100 +ETA 500 ms +loss 2\.000e-2 +500 ms$/,
    );
    progress.onRunEnd(done);
    assert.equal(chunks.at(-1), "\n");
    assert.match(chunks.at(-2)!, /100% +100\/100 +ok +loss 1\.000e\+0 +1\.50 s$/);
  });

  it("estimates the whole benchmark's time left on a terminal once a problem's pace is known", () => {
    let t = 0;
    const { chunks, out } = sink(true);
    const progress = new BenchProgress(out, { now: () => t, redrawMs: 0 });
    const plan = [spec, spec, { ...spec, steps: 300 }];
    progress.begin(plan);
    progress.onRunStart(spec, 0, 3);
    t = 400;
    progress.onStep(spec, 0, 20, 0.5);
    // No finished run yet: the current run's estimate only.
    assert.match(chunks.at(-1)!, /ETA 1\.60 s +loss/);
    progress.onRunEnd(done, 0);
    progress.onRunStart(spec, 1, 3);
    t = 700;
    progress.onStep(spec, 1, 20, 0.5);
    // 300 ms for 20 steps: 1.2 s left here; run 3 at the first run's 15 ms per step takes 4.5 s.
    // (The elapsed time at the end of the line does not fit in 120 columns.)
    assert.match(chunks.at(-1)!, /ETA 1\.20 s \(all ~5\.70 s\) +loss 5\.000e-1 /);
  });

  it("writes plain lines without control characters elsewhere", () => {
    let t = 0;
    const { chunks, out } = sink(false);
    const progress = new BenchProgress(out, { now: () => t, plainEveryMs: 1000 });
    progress.onRunStart(spec, 1, 3);
    for (let step = 1; step <= 100; step++) {
      t += 25;
      progress.onStep(spec, 1, step, 0.5);
    }
    progress.onRunEnd({ ...done, status: "diverged", message: "loss became NaN at step 7" });
    // With the plan known, each finished run tells how long the rest will take at its pace.
    const planned = new BenchProgress(out, { now: () => t });
    planned.begin([spec, spec, { ...spec, steps: 300 }]);
    planned.onRunStart(spec, 0, 3);
    planned.onRunEnd(done, 0);
    const text = chunks.join("");
    assert.ok(!text.includes("\r") && !text.includes("\u001b"));
    const lines = text.trimEnd().split("\n");
    assert.deepEqual(lines.slice(0, 2), [
      "[2/3] adam on rosenbrock: 40/100 steps, loss 5.000e-1, about 1.50 s left",
      "[2/3] adam on rosenbrock: 80/100 steps, loss 5.000e-1, about 500 ms left",
    ]);
    // 1.5 s for 100 steps: 15 ms per step, and 400 steps to go.
    assert.match(lines.at(-1)!, /; about 6\.00 s left in all$/);
    assert.equal(
      lines[2],
      "[2/3] adam on rosenbrock (lr 0.1, seed 0): diverged, 100/100 steps, final loss 1.000e+0, best 1.000e+0, 1.50 s (loss became NaN at step 7)",
    );
  });
});
