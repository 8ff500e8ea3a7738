import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { ReachSummary } from "../../src/reproduce/digitsMlp.js";
import type {
  SophiaSide,
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
import type { QuickRecord } from "../helpers/reproduce.js";
import {
  checkRaceBudget,
  checkRaceSides,
  checkStepRatioRule,
  oneRateSide,
  quickRecord,
  reachSummary as reach,
} from "../helpers/reproduce.js";
import { withoutTimes } from "./helpers.js";

function side(optimizer: SophiaSide, r: ReachSummary, msPerStep = 1): StepsSideResult {
  return oneRateSide(optimizer, {
    learningRate: 1,
    reach: r,
    msPerStep,
    unclippedFraction: null,
    runs: [],
  });
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
  it("holds at ≤ 0.7× AdamW's steps with every seed at the target, not at ≥ 1×", () => {
    assert.equal(HELD_RATIO, 0.7);
    checkStepRatioRule(stepsOutcome);
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
      for (const p of [plan.transformer, plan.mlp]) checkRaceBudget(p, SOPHIA_SIDES, 5);
    });
  }
});

/** The JSON record, as far as this test reads it. */
interface SophiaRecord extends QuickRecord {
  measurements: { problems: (StepsProblemResult & { plan: SophiaVsAdamwPlan["mlp"] })[] };
}

describe("descend reproduce sophia-vs-adamw --quick", () => {
  it("races the three optimizers on both problems, writes a well-formed record, and measures the same again from the same seed", async () => {
    const { record } = await quickRecord<SophiaRecord>("sophia-vs-adamw", 2);
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
      checkRaceSides(p.sides, expected);
    }
    // Same seed, same measurements (wall times aside): the losses, steps and selections.
    const again = await reproduceSophiaVsAdamw({ quick: true, seed: 2 });
    assert.deepEqual(withoutTimes(again.measurements), withoutTimes(record.measurements));
    assert.equal(again.verdict, record.verdict);
  });
});
