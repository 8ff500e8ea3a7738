// The adahessian-vs-adam reproduction: the verdict rule that combines the digits accuracy with
// the transformer's steps to target, equal budgets on both problems, and the quick version end
// to end (a well-formed record, the same measurements again from the same seed).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type {
  AdahessianSide,
  AdahessianSideResult,
  TransformerResult,
  TransformerSideResult,
} from "../../src/reproduce/adahessianVsAdam.js";
import {
  ADAHESSIAN_SIDES,
  adahessianSides,
  adahessianVerdict,
  adahessianVsAdamPlan,
  compareTransformerSteps,
  judgeAdahessian,
  reproduceAdahessianVsAdam,
  stepsImprovement,
} from "../../src/reproduce/adahessianVsAdam.js";
import type { Improvement } from "../../src/reproduce/common.js";
import { summarize } from "../../src/reproduce/common.js";
import type { ReachSummary, SelectedSetting } from "../../src/reproduce/digitsMlp.js";
import type { DigitsTuning, QuickRecord } from "../helpers/reproduce.js";
import {
  checkDigitsSides,
  checkHalfDecadesApart,
  checkRaceBudget,
  checkRaceSides,
  oneRateSide,
  quickRecord,
} from "../helpers/reproduce.js";
import { withoutTimes } from "./helpers.js";

/** A reach summary with the given steps per seed (null: never reached) and time per step. */
function reach(steps: (number | null)[], msPerStep = 1, budget = 300): ReachSummary {
  const charged = steps.map((s) => s ?? budget);
  const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;
  return {
    steps,
    trainingMs: steps.map((s) => (s === null ? null : s * msPerStep)),
    reached: steps.filter((s) => s !== null).length,
    meanSteps: mean(charged),
    meanTrainingMs: mean(charged) * msPerStep,
    meanFinalLoss: 1,
  };
}

function selected(testAccuracy: number[]): SelectedSetting {
  return {
    settingIndex: 0,
    setting: { learningRate: 0.1 },
    atGridEdge: false,
    trainLoss: summarize(testAccuracy.map(() => 0.01)),
    validationAccuracy: summarize(testAccuracy),
    testAccuracy: summarize(testAccuracy),
    msPerStep: 1,
  };
}

function digitsSide(name: string, accuracy: number[], steps: number): AdahessianSideResult {
  return {
    optimizer: name,
    runs: [],
    scores: [],
    forAccuracy: selected(accuracy),
    reach: [reach(accuracy.map(() => steps))],
    forSpeed: { settingIndex: 0, learningRate: 0.1 },
  };
}

function transformerSide(
  optimizer: AdahessianSide,
  r: ReachSummary,
  msPerStep: number,
): TransformerSideResult {
  return oneRateSide(optimizer, { learningRate: 1, reach: r, msPerStep, runs: [] });
}

function transformer(adam: ReachSummary, adahessian: ReachSummary): TransformerResult {
  const plan = { ...adahessianVsAdamPlan(false, 0).transformer, seeds: [0, 1, 2] };
  const sides = [transformerSide("adam", adam, 20), transformerSide("adahessian", adahessian, 80)];
  return {
    description: "transformer",
    plan,
    sides,
    comparison: compareTransformerSteps(sides[0], sides[1], plan.steps),
  };
}

describe("adahessian-vs-adam verdict rule", () => {
  it("holds only when AdaHessian is better on both problems, fails when it is not better on one", () => {
    const outcomes: Improvement[] = ["better", "not better", "unclear"];
    const expected: Record<string, string> = {
      "better/better": "held",
      "better/unclear": "inconclusive",
      "unclear/better": "inconclusive",
      "unclear/unclear": "inconclusive",
    };
    for (const accuracy of outcomes) {
      for (const steps of outcomes) {
        assert.equal(
          adahessianVerdict(accuracy, steps),
          expected[`${accuracy}/${steps}`] ?? "did not hold",
          `${accuracy}/${steps}`,
        );
      }
    }
  });

  it("compares steps to target as paired log-ratios, a missed seed counting as the budget", () => {
    // Half of Adam's steps on every seed: ln 2 with no spread.
    const half = stepsImprovement(reach([100, 120, 110]), reach([50, 60, 55]), 300);
    assert.equal(half.improvement, "better");
    for (const d of half.logStepRatio.differences) assert.ok(Math.abs(d - Math.LN2) < 1e-12);
    // Twice Adam's steps: not better.
    assert.equal(
      stepsImprovement(reach([100, 100, 100]), reach([200, 200, 200]), 300).improvement,
      "not better",
    );
    // ln 2, 0 and ln(100/120): mean 0.170, standard error 0.267.
    const mixed = stepsImprovement(reach([100, 100, 100]), reach([50, 100, 120]), 300);
    assert.ok(Math.abs(mixed.logStepRatio.mean - (Math.LN2 + Math.log(100 / 120)) / 3) < 1e-12);
    assert.equal(mixed.improvement, "unclear");
  });

  it("is unclear when a miss could have decided it", () => {
    // AdaHessian faster on every seed, but one seed never got there (counted as the budget 120).
    const missed = stepsImprovement(reach([200, 220, 210]), reach([100, 110, null], 1, 120), 120);
    assert.ok(Math.abs(missed.logStepRatio.differences[2] - Math.log(210 / 120)) < 1e-12);
    assert.equal(missed.improvement, "unclear");
    // AdaHessian slower, but Adam missed a seed, whose count (the budget) is only a lower bound.
    const adamMissed = stepsImprovement(reach([null, 100, 100]), reach([300, 200, 200]), 300);
    assert.ok(adamMissed.logStepRatio.mean < 0);
    assert.equal(adamMissed.improvement, "unclear");
    // Adam's misses only understate AdaHessian's advantage: still better.
    assert.equal(
      stepsImprovement(reach([null, 240, 260]), reach([100, 120, 130]), 300).improvement,
      "better",
    );
  });

  it("compares AdaHessian's selected rate with Adam's in steps, wall time and cost per step", () => {
    const t = transformer(reach([100, 120, 110], 20), reach([50, 60, 55], 80));
    assert.equal(t.comparison.stepRatio, 0.5);
    assert.equal(t.comparison.timeRatio, 2);
    assert.equal(t.comparison.costPerStep, 4);
    assert.equal(t.comparison.improvement, "better");
  });

  it("judges from the digits accuracy and the transformer steps together", () => {
    const adam = digitsSide("adam", [0.95, 0.96, 0.97], 200);
    const plan = { seeds: [0, 1, 2], target: 0.01 };
    const faster = transformer(reach([100, 120, 110]), reach([50, 60, 55]));
    const slower = transformer(reach([100, 120, 110]), reach([200, 240, 220]));
    // Gains 0.01, 0.012, 0.008: mean 0.01, standard error 0.0012.
    const gain = digitsSide("adahessian", [0.96, 0.972, 0.978], 100);
    // Gains 0.02, −0.01, 0.005: mean 0.005, standard error 0.0087.
    const noisy = digitsSide("adahessian", [0.97, 0.95, 0.975], 100);
    const held = judgeAdahessian([adam, gain], plan, faster);
    assert.equal(held.verdict, "held");
    assert.equal(held.accuracyImprovement, "better");
    assert.equal(held.digitsStepRatio, 0.5);
    assert.match(held.reason, /\+1\.00 test-accuracy points over 3 paired seeds/);
    assert.match(held.reason, /AdaHessian needs 0\.50× Adam's steps/);
    assert.match(held.reason, /ln\(Adam's steps ÷ AdaHessian's\) 0\.69/);
    assert.equal(judgeAdahessian([adam, gain], plan, slower).verdict, "did not hold");
    assert.equal(judgeAdahessian([adam, noisy], plan, faster).verdict, "inconclusive");
    assert.equal(judgeAdahessian([adam, noisy], plan, slower).verdict, "did not hold");
    // Gains −0.01, 0, 0.005: a mean below zero decides alone.
    const worse = digitsSide("adahessian", [0.94, 0.96, 0.975], 100);
    assert.equal(judgeAdahessian([adam, worse], plan, faster).verdict, "did not hold");
  });
});

describe("adahessian-vs-adam plan", () => {
  for (const quick of [true, false]) {
    it(`gives both sides the same budget on both problems (quick: ${quick})`, () => {
      const plan = adahessianVsAdamPlan(quick, 9);
      const [adam, adahessian] = adahessianSides(plan);
      assert.deepEqual(adam.settings, adahessian.settings);
      assert.equal(adam.settings.length, plan.learningRates.length);
      checkHalfDecadesApart(plan.learningRates);
      assert.ok(plan.seeds.length >= 2 && plan.seeds[0] === 9);
      assert.equal(plan.steps % plan.evalEvery, 0);
      checkRaceBudget(plan.transformer, ADAHESSIAN_SIDES, 9);
    });
  }

  it("puts each side's pilot-best transformer rate second in its grid, target 2.8", () => {
    const t = adahessianVsAdamPlan(false, 0).transformer;
    assert.equal(t.learningRates.adam[1], 0.00316);
    assert.equal(t.learningRates.adahessian[1], 0.316);
    assert.equal(t.target, 2.8);
    // The pilot seeds that fixed the target are not among the reproduction's.
    for (const s of [1000, 1001, 1002]) assert.ok(!t.seeds.includes(s));
  });
});

/** The JSON record, as far as these tests read it. */
interface AdahessianRecord extends QuickRecord {
  measurements: DigitsTuning & {
    outcomes: { digitsAccuracy: Improvement; transformerSteps: Improvement };
    transformer: TransformerResult;
  };
}

function checkTransformer(record: AdahessianRecord, seed: number): void {
  const expected = adahessianVsAdamPlan(true, seed).transformer;
  const t = record.measurements.transformer;
  assert.deepEqual(t.plan, expected);
  assert.deepEqual(
    t.sides.map((s) => s.optimizer),
    [...ADAHESSIAN_SIDES],
  );
  // Cross-entropy over 65 characters starts near ln 65 and stays positive.
  checkRaceSides(t.sides, expected, 5);
  // The paired log-ratios come from the selected rates' steps, seed by seed.
  const [adam, adahessian] = t.sides.map((s) => s.rates[s.bestIndex].reach.steps);
  const ratios = adam.map((a, i) =>
    Math.log((a ?? expected.steps) / (adahessian[i] ?? expected.steps)),
  );
  t.comparison.logStepRatio.differences.forEach((d, i) =>
    assert.ok(Math.abs(d - ratios[i]) < 1e-12),
  );
}

describe("descend reproduce adahessian-vs-adam --quick", () => {
  it("runs both problems, writes a well-formed record, and measures the same again from the same seed", async () => {
    const seed = 1;
    const { record, stdout } = await quickRecord<AdahessianRecord>("adahessian-vs-adam", seed);
    assert.match(stdout, /transformer-shakespeare: character-level transformer/);
    const { outcomes } = record.measurements;
    assert.equal(
      record.verdict,
      adahessianVerdict(outcomes.digitsAccuracy, outcomes.transformerSteps),
    );
    const plan = adahessianVsAdamPlan(true, seed);
    checkDigitsSides(record.measurements, ADAHESSIAN_SIDES, plan.seeds, plan.steps);
    checkTransformer(record, seed);
    // Same seed, same measurements (wall times aside).
    const again = await reproduceAdahessianVsAdam({ quick: true, seed });
    assert.deepEqual(withoutTimes(again.measurements), withoutTimes(record.measurements));
    assert.equal(again.verdict, record.verdict);
  });
});
