import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { planBench, runBench } from "../../src/bench/run.js";
import type { RunResult, RunStatus } from "../../src/bench/run.js";
import {
  runScore,
  stats,
  summarizePair,
  summarizeRuns,
  tailLength,
} from "../../src/bench/summary.js";
import { lineBowl } from "./helpers.js";

/** A hand-made run: `losses` after 0 … n steps. */
function run(
  learningRate: number,
  factor: number,
  seed: number,
  losses: number[],
  status: RunStatus = "ok",
  extra: Partial<RunResult> = {},
): RunResult {
  const steps = status === "ok" ? losses.length - 1 : 10;
  return {
    optimizer: "opt",
    problem: "prob",
    learningRate,
    learningRateSource: "tuned",
    learningRateFactor: factor,
    seed,
    steps,
    targetLoss: 0.5,
    status,
    losses,
    stepsDone: status === "ok" ? steps : Math.max(0, losses.length - 1),
    finalLoss: losses.length ? losses[losses.length - 1] : Number.NaN,
    bestLoss: Math.min(...losses.filter(Number.isFinite)),
    stepsToTarget: (() => {
      const k = losses.findIndex((l) => l <= 0.5);
      return k < 0 ? null : k;
    })(),
    accuracy: null,
    validationLoss: null,
    optimizerSeeded: false,
    calls: {
      value: 0,
      valueAndGrad: steps,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    },
    trace: null,
    times: { setupMs: 0, runMs: 10 * (seed + 1), msPerStep: 1 },
    ...extra,
  };
}

/** Ten steps: the loss falls from 1 to `end`, with the last `tail` losses given. */
function curve(tail: number[]): number[] {
  return [...Array.from({ length: 11 - tail.length }, () => 1), ...tail];
}

describe("the selection criterion", () => {
  it("averages the last tenth of the steps, at least the final loss", () => {
    assert.equal(tailLength(10), 1);
    assert.equal(tailLength(4), 1);
    assert.equal(tailLength(2000), 200);
    assert.equal(tailLength(25), 3);
    // 20 steps: the losses after steps 19 and 20.
    const losses = Array.from({ length: 21 }, (_, k) => k);
    assert.equal(runScore(run(1, 1, 0, losses)), (19 + 20) / 2);
    assert.equal(runScore(run(1, 1, 0, [3, 2], "diverged")), Number.POSITIVE_INFINITY);
    assert.ok(Number.isNaN(runScore(run(1, 1, 0, [3, 2], "interrupted"))));
    assert.ok(Number.isNaN(runScore(run(1, 1, 0, [], "error"))));
  });

  it("computes mean, sample standard deviation and range by hand", () => {
    const s = stats([1, 2, 4]);
    assert.equal(s.n, 3);
    assert.ok(Math.abs(s.mean - 7 / 3) < 1e-15);
    // Σ(x − 7/3)² = 16/9 + 1/9 + 25/9 = 42/9, divided by n − 1 = 2.
    assert.ok(Math.abs(s.std - Math.sqrt(42 / 9 / 2)) < 1e-15);
    assert.equal(s.min, 1);
    assert.equal(s.max, 4);
    assert.deepEqual(stats([5]), { n: 1, mean: 5, std: 0, min: 5, max: 5 });
    assert.ok(Number.isNaN(stats([]).mean));
  });

  it("picks the lowest mean tail loss, not the lowest final loss", () => {
    // 20 steps, tail of 2: rate 0.1 ends lowest (0.01) after a high loss; 0.3 is steady at 0.2.
    const steps20 = (a: number, b: number) => [...Array.from({ length: 19 }, () => 1), a, b];
    const pair = summarizePair([
      run(0.1, 1, 0, steps20(3, 0.01)),
      run(0.3, 3, 0, steps20(0.2, 0.2)),
    ]);
    assert.equal(pair.sweep[0].score, (3 + 0.01) / 2);
    assert.equal(pair.sweep[1].score, 0.2);
    assert.equal(pair.chosen, 1);
    assert.equal(pair.learningRate, 0.3);
    assert.equal(pair.atEdge, true);
  });

  it("ranks a rate with a diverged seed last and summarizes the chosen rate's seeds", () => {
    const runs = [
      // Rate 0.1: one seed diverged, the other has the best loss of all.
      run(0.1, 1 / 3, 0, curve([1e-6])),
      run(0.1, 1 / 3, 1, [1, 5, Number.POSITIVE_INFINITY], "diverged"),
      // Rate 0.3: final losses 0.2 and 0.4.
      run(0.3, 1, 0, curve([0.2])),
      run(0.3, 1, 1, curve([0.4])),
      // Rate 0.9: final losses 0.5 and 0.7.
      run(0.9, 3, 0, curve([0.5])),
      run(0.9, 3, 1, curve([0.7])),
    ];
    const pair = summarizePair(runs);
    assert.equal(pair.status, "ok");
    assert.deepEqual(
      pair.sweep.map((p) => [p.learningRate, p.score, p.diverged]),
      [
        [0.1, Number.POSITIVE_INFINITY, 1],
        [0.3, (0.2 + 0.4) / 2, 0],
        [0.9, (0.5 + 0.7) / 2, 0],
      ],
    );
    assert.equal(pair.learningRate, 0.3);
    assert.equal(pair.atEdge, false);
    const final = pair.finalLoss!;
    assert.equal(final.n, 2);
    assert.ok(Math.abs(final.mean - 0.3) < 1e-15);
    // Two values 0.2 and 0.4: sample sd = |0.4 − 0.2| / √2.
    assert.ok(Math.abs(final.std - 0.2 / Math.SQRT2) < 1e-15);
    assert.equal(final.min, 0.2);
    assert.equal(final.max, 0.4);
    // Both reached the target 0.5 at the last step; times 10 and 20 ms.
    assert.deepEqual(pair.stepsToTarget, { reached: 2, runs: 2, mean: 10 });
    assert.equal(pair.timeMs!.mean, 15);
    assert.equal(pair.calls!.valueAndGrad, 10);
    assert.deepEqual(pair.seeds, [0, 1]);
  });

  it("breaks ties towards the centre of the grid", () => {
    const pair = summarizePair([
      run(0.1, 1 / 3, 0, curve([0.2])),
      run(0.3, 1, 0, curve([0.2])),
      run(0.9, 3, 0, curve([0.2])),
    ]);
    assert.equal(pair.learningRate, 0.3);
  });

  it("says why nothing was chosen", () => {
    const diverged = summarizePair([
      run(0.1, 1, 0, [1, Number.NaN], "diverged", { message: "loss became NaN at step 1" }),
    ]);
    assert.equal(diverged.status, "diverged");
    assert.equal(diverged.chosen, null);
    assert.equal(diverged.message, "loss became NaN at step 1");
    const failed = summarizePair([run(0.1, 1, 0, [], "error", { message: "setup failed: x" })]);
    assert.equal(failed.status, "error");
    const unsupported = summarizePair([run(0.1, 1, 0, [], "unsupported", { message: "no hvp" })]);
    assert.equal(unsupported.status, "unsupported");
    assert.equal(unsupported.finalLoss, null);
  });

  it("groups runs by problem, then optimizer, in order of appearance", () => {
    const a = run(0.1, 1, 0, curve([0.2]));
    const pairs = summarizeRuns([
      { ...a, problem: "p1", optimizer: "o2" },
      { ...a, problem: "p2", optimizer: "o1" },
      { ...a, problem: "p1", optimizer: "o1" },
    ]);
    assert.deepEqual(
      pairs.map((p) => `${p.problem}/${p.optimizer}`),
      ["p1/o2", "p1/o1", "p2/o1"],
    );
  });

  it("finds the known best rate of gradient descent on ½x²", async () => {
    // x_{k+1} = (1 − η) x_k: η = 1 lands on the minimum in one step, η = 0.5 halves x per
    // step, η = 0.1 shrinks it by 0.9, and η = 100 multiplies it by −99 until it overflows.
    const sources = { problems: [lineBowl] };
    const runs = await runBench(
      planBench(
        { optimizers: ["sgd"], problems: ["line-bowl"], grid: [0.1, 0.5, 1, 100], seeds: 2 },
        sources,
      ),
      sources,
    );
    assert.equal(runs.length, 4, "one seed: nothing about the problem or SGD is random");
    const [pair] = summarizeRuns(runs);
    assert.equal(pair.learningRate, 1);
    assert.equal(pair.score, 0);
    assert.deepEqual(
      pair.sweep.map((p) => p.score === Number.POSITIVE_INFINITY),
      [false, false, false, true],
    );
    // η = 0.5 after 200 steps: ½·(2⁻²⁰⁰)² per step of the tail (20 steps, 181 … 200).
    let tail = 0;
    for (let k = 181; k <= 200; k++) tail += 0.5 * 0.25 ** k;
    assert.ok(Math.abs(pair.sweep[1].score - tail / 20) <= 1e-12 * tail);
  });
});
