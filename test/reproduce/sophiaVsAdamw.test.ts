import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { ReachSummary } from "../../src/reproduce/digitsMlp.js";
import type {
  SophiaVsAdamwPlan,
  StepsProblemResult,
  StepsSideResult,
} from "../../src/reproduce/sophiaVsAdamw.js";
import {
  HELD_RATIO,
  SOPHIA_SIDES,
  compareSteps,
  judgeSophia,
  reproduceSophiaVsAdamw,
  sophiaVsAdamwPlan,
  stepsOutcome,
  unclippedFraction,
} from "../../src/reproduce/sophiaVsAdamw.js";
import type { Optimizer } from "../../src/optim/optimizer.js";
import { reproduce, withoutTimes } from "./helpers.js";

/** A reach summary with `reached` of `seeds` seeds at the target and the given mean steps. */
function reach(reached: number, meanSteps: number, meanTrainingMs = meanSteps): ReachSummary {
  return {
    steps: [],
    trainingMs: [],
    reached,
    meanSteps,
    meanTrainingMs,
    meanFinalLoss: 1,
  };
}

function side(optimizer: (typeof SOPHIA_SIDES)[number], r: ReachSummary, msPerStep = 1) {
  const result: StepsSideResult = {
    optimizer,
    rates: [{ learningRate: 1, reach: r, msPerStep, unclippedFraction: null, runs: [] }],
    bestIndex: 0,
    bestLearningRate: 1,
    bestAtGridEdge: false,
  };
  return result;
}

function problem(name: string, sides: StepsSideResult[]): StepsProblemResult {
  const plan = sophiaVsAdamwPlan(false, 0).transformer;
  return {
    problem: name,
    description: name,
    monitor: "loss",
    plan: { ...plan, seeds: [0, 1, 2] },
    sides,
    comparisons: compareSteps(sides, 3),
  };
}

describe("sophia-vs-adamw verdict rule", () => {
  it("holds at ≤ 0.7× AdamW's steps with every seed at the target", () => {
    assert.equal(HELD_RATIO, 0.7);
    assert.deepEqual(stepsOutcome(reach(3, 200), reach(3, 100), 3), {
      ratio: 0.5,
      outcome: "held",
    });
    assert.equal(stepsOutcome(reach(3, 200), reach(3, 140), 3).outcome, "held");
  });

  it("does not hold at ≥ 1×, even when Sophia misses the target (its mean is then a lower bound)", () => {
    assert.equal(stepsOutcome(reach(3, 200), reach(3, 200), 3).outcome, "did not hold");
    assert.equal(stepsOutcome(reach(3, 100), reach(1, 400), 3).outcome, "did not hold");
  });

  it("is inconclusive in between, when Sophia misses the target below 1×, or when AdamW misses it", () => {
    assert.equal(stepsOutcome(reach(3, 200), reach(3, 160), 3).outcome, "inconclusive");
    assert.equal(stepsOutcome(reach(3, 400), reach(2, 200), 3).outcome, "inconclusive");
    assert.equal(stepsOutcome(reach(2, 300), reach(3, 100), 3).outcome, "inconclusive");
  });

  it("compares each Sophia with AdamW in steps, wall time and cost per step", () => {
    const [g, h] = compareSteps(
      [
        side("adamw", reach(3, 200, 400), 2),
        side("sophia-g", reach(3, 100, 300), 3),
        side("sophia-h", reach(3, 300, 900), 3),
      ],
      3,
    );
    assert.deepEqual(g, {
      optimizer: "sophia-g",
      stepRatio: 0.5,
      timeRatio: 0.75,
      costPerStep: 1.5,
      outcome: "held",
    });
    assert.equal(h.outcome, "did not hold");
    assert.equal(h.stepRatio, 1.5);
  });

  it("takes the verdict from SophiaG on the transformer", () => {
    const transformer = problem("transformer-shakespeare", [
      side("adamw", reach(3, 200)),
      side("sophia-g", reach(3, 250)),
      side("sophia-h", reach(3, 80)),
    ]);
    const mlp = problem("mlp-digits", [
      side("adamw", reach(3, 200)),
      side("sophia-g", reach(3, 60)),
      side("sophia-h", reach(3, 60)),
    ]);
    const judged = judgeSophia([transformer, mlp]);
    assert.equal(judged.verdict, "did not hold");
    assert.match(judged.reason, /SophiaG at its best rate needs 1\.25× the steps/);
    assert.match(judged.reason, /mlp-digits: sophia-g 0\.30× AdamW's steps \(held/);
    const held = judgeSophia([
      problem("transformer-shakespeare", [
        side("adamw", reach(3, 200)),
        side("sophia-g", reach(3, 90)),
        side("sophia-h", reach(3, 300)),
      ]),
      mlp,
    ]);
    assert.equal(held.verdict, "held");
  });
});

describe("Sophia's unclipped fraction", () => {
  it("counts the coordinates with |m| < ρ·B·h (ρ = 0.05), never where h ≤ 0", () => {
    const opt = (mu: number[], hessian: number[]) =>
      ({
        state: {
          "0:scaleBySophiaG": {
            count: 3,
            mu: Float64Array.from(mu),
            hessian: Float64Array.from(hessian),
          },
          "1:scaleByLearningRate": {},
        },
      }) as unknown as Optimizer;
    const o = opt([1, 0.01, -0.01, 0.5], [1, 1, 0, -1]);
    // B = 1: thresholds 0.05, 0.05, 0, −0.05; only |0.01| < 0.05.
    assert.equal(unclippedFraction(o, 1), 0.25);
    // B = 40: thresholds 2, 2, 0, −2; |1| and |0.01| are below 2.
    assert.equal(unclippedFraction(o, 40), 0.5);
    assert.ok(Number.isNaN(unclippedFraction({ state: { a: {} } } as unknown as Optimizer, 1)));
  });
});

describe("sophia-vs-adamw plan", () => {
  for (const quick of [true, false]) {
    it(`gives every side the same budget (quick: ${quick})`, () => {
      const plan = sophiaVsAdamwPlan(quick, 5);
      for (const p of [plan.transformer, plan.mlp]) {
        assert.equal(p.seeds[0], 5);
        assert.ok(p.seeds.length >= 2);
        const grids = SOPHIA_SIDES.map((s) => p.learningRates[s]);
        for (const grid of grids) {
          assert.equal(grid.length, grids[0].length);
          // Half a decade apart, to the 3 digits the grids are written with.
          for (let i = 1; i < grid.length; i++) {
            assert.ok(Math.abs(grid[i] / grid[i - 1] - Math.sqrt(10)) < 0.01, `${grid}`);
          }
        }
        assert.ok(p.steps % p.evalEvery === 0);
      }
    });
  }
});

/** The JSON record, as far as this test reads it. */
interface SophiaRecord {
  claim: string;
  verdict: string;
  reason: string;
  quick: boolean;
  seed: number;
  measurements: { problems: (StepsProblemResult & { plan: SophiaVsAdamwPlan["mlp"] })[] };
}

describe("descend reproduce sophia-vs-adamw --quick", () => {
  it("races the three optimizers on both problems, writes a well-formed record, and measures the same again from the same seed", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-reproduce-"));
    try {
      const { code, stdout, stderr } = await reproduce([
        "sophia-vs-adamw",
        "--quick",
        "--seed",
        "2",
        "--out",
        dir,
      ]);
      assert.equal(code, 0, stderr);
      const record = JSON.parse(
        await readFile(join(dir, "sophia-vs-adamw.json"), "utf8"),
      ) as SophiaRecord;
      assert.equal(record.claim, "sophia-vs-adamw");
      assert.equal(record.quick, true);
      assert.equal(record.seed, 2);
      assert.ok(["held", "did not hold", "inconclusive"].includes(record.verdict));
      assert.ok(stdout.includes(`Verdict: ${record.verdict}. ${record.reason}`));
      const plan = sophiaVsAdamwPlan(true, 2);
      const problems = record.measurements.problems;
      assert.deepEqual(
        problems.map((p) => p.problem),
        ["transformer-shakespeare", "mlp-digits"],
      );
      for (const [k, p] of problems.entries()) {
        const expected = k === 0 ? plan.transformer : plan.mlp;
        assert.equal(p.plan.target, expected.target);
        assert.deepEqual(
          p.sides.map((s) => s.optimizer),
          [...SOPHIA_SIDES],
        );
        assert.deepEqual(
          p.comparisons.map((c) => c.optimizer),
          ["sophia-g", "sophia-h"],
        );
        for (const s of p.sides) {
          assert.equal(s.rates.length, expected.learningRates[s.optimizer].length);
          assert.equal(s.bestLearningRate, s.rates[s.bestIndex].learningRate);
          for (const rate of s.rates) {
            assert.deepEqual(
              rate.runs.map((r) => r.seed),
              [...expected.seeds],
            );
            for (const run of rate.runs) {
              assert.equal(run.diverged, false);
              assert.deepEqual(
                run.curve.map((c) => c.step),
                Array.from(
                  { length: expected.steps / expected.evalEvery },
                  (_, i) => (i + 1) * expected.evalEvery,
                ),
              );
              for (const c of run.curve) assert.ok(c.loss > 0 && Number.isFinite(c.loss));
            }
            // Steps to target agree with the curves.
            rate.runs.forEach((run, i) => {
              const hit = run.curve.find((c) => c.loss <= expected.target);
              assert.equal(rate.reach.steps[i], hit?.step ?? null);
            });
          }
        }
      }
      // Same seed, same measurements (wall times aside): the losses, steps and selections.
      const again = await reproduceSophiaVsAdamw({ quick: true, seed: 2 });
      assert.deepEqual(withoutTimes(again.measurements), withoutTimes(record.measurements));
      assert.equal(again.verdict, record.verdict);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
