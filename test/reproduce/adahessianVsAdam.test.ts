// The adahessian-vs-adam reproduction: the verdict rule that combines the digits accuracy with
// the transformer's steps to target, equal budgets on both problems, and the quick version end
// to end (a well-formed record, the same measurements again from the same seed).
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type {
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
import type { DigitsRun, ReachSummary, SelectedSetting } from "../../src/reproduce/digitsMlp.js";
import { reproduce, withoutTimes } from "./helpers.js";

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
  optimizer: (typeof ADAHESSIAN_SIDES)[number],
  r: ReachSummary,
  msPerStep: number,
): TransformerSideResult {
  return {
    optimizer,
    rates: [{ learningRate: 1, reach: r, msPerStep, runs: [] }],
    bestIndex: 0,
    bestLearningRate: 1,
    bestAtGridEdge: false,
  };
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
  const halfDecadeApart = (grid: readonly number[]): void => {
    for (let i = 1; i < grid.length; i++) {
      const ratio = grid[i] / grid[i - 1];
      assert.ok(Math.abs(ratio - Math.sqrt(10)) < 0.01, `${grid}`);
    }
  };
  for (const quick of [true, false]) {
    it(`gives both sides the same budget on both problems (quick: ${quick})`, () => {
      const plan = adahessianVsAdamPlan(quick, 9);
      const [adam, adahessian] = adahessianSides(plan);
      assert.deepEqual(adam.settings, adahessian.settings);
      assert.equal(adam.settings.length, plan.learningRates.length);
      halfDecadeApart(plan.learningRates);
      const t = plan.transformer;
      for (const p of [plan, t]) {
        assert.ok(p.seeds.length >= 2 && p.seeds[0] === 9);
        assert.equal(p.steps % p.evalEvery, 0);
      }
      assert.equal(t.learningRates.adam.length, t.learningRates.adahessian.length);
      for (const side of ADAHESSIAN_SIDES) halfDecadeApart(t.learningRates[side]);
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
interface AdahessianRecord {
  claim: string;
  verdict: string;
  reason: string;
  quick: boolean;
  seed: number;
  measurements: {
    outcomes: { digitsAccuracy: Improvement; transformerSteps: Improvement };
    budget: Record<string, { gridSize: number; seeds: number; steps: number }>;
    sides: {
      optimizer: string;
      runs: DigitsRun[];
      scores: { meanValidationAccuracy: number }[];
      forAccuracy: SelectedSetting;
    }[];
    transformer: TransformerResult;
  };
}

function checkDigits(record: AdahessianRecord, seeds: readonly number[], steps: number): void {
  const { budget, sides } = record.measurements;
  assert.deepEqual(
    sides.map((s) => s.optimizer),
    [...ADAHESSIAN_SIDES],
  );
  assert.deepEqual(budget.adam, budget.adahessian);
  for (const s of sides) {
    assert.deepEqual(budget[s.optimizer], {
      gridSize: s.scores.length,
      seeds: seeds.length,
      steps,
    });
    assert.equal(s.runs.length, s.scores.length * seeds.length);
    for (const r of s.runs) {
      assert.ok(seeds.includes(r.seed));
      assert.equal(r.diverged, false);
      assert.ok(r.testAccuracy > 0.1 && r.testAccuracy <= 1);
      assert.equal(r.curve[r.curve.length - 1].step, steps);
    }
    const best = Math.max(...s.scores.map((x) => x.meanValidationAccuracy));
    assert.equal(s.scores[s.forAccuracy.settingIndex].meanValidationAccuracy, best);
    assert.equal(s.forAccuracy.testAccuracy.values.length, seeds.length);
  }
}

function checkTransformer(record: AdahessianRecord, seed: number): void {
  const expected = adahessianVsAdamPlan(true, seed).transformer;
  const t = record.measurements.transformer;
  assert.deepEqual(t.plan, expected);
  assert.deepEqual(
    t.sides.map((s) => s.optimizer),
    [...ADAHESSIAN_SIDES],
  );
  for (const s of t.sides) {
    assert.deepEqual(
      s.rates.map((r) => r.learningRate),
      [...expected.learningRates[s.optimizer]],
    );
    assert.equal(s.bestLearningRate, s.rates[s.bestIndex].learningRate);
    for (const rate of s.rates) {
      assert.deepEqual(
        rate.runs.map((r) => r.seed),
        [...expected.seeds],
      );
      rate.runs.forEach((run, i) => {
        assert.equal(run.diverged, false);
        assert.deepEqual(
          run.curve.map((c) => c.step),
          Array.from(
            { length: expected.steps / expected.evalEvery },
            (_, k) => (k + 1) * expected.evalEvery,
          ),
        );
        // Cross-entropy over 65 characters starts near ln 65 and stays positive.
        for (const c of run.curve) assert.ok(c.loss > 0 && c.loss < 5, `${c.loss}`);
        // Steps to target agree with the curve.
        const hit = run.curve.find((c) => c.loss <= expected.target);
        assert.equal(rate.reach.steps[i], hit?.step ?? null);
      });
    }
  }
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
    const dir = await mkdtemp(join(tmpdir(), "descend-reproduce-"));
    try {
      const seed = 1;
      const { code, stdout, stderr } = await reproduce([
        "adahessian-vs-adam",
        "--quick",
        "--seed",
        String(seed),
        "--out",
        dir,
      ]);
      assert.equal(code, 0, stderr);
      const record = JSON.parse(
        await readFile(join(dir, "adahessian-vs-adam.json"), "utf8"),
      ) as AdahessianRecord;
      assert.equal(record.claim, "adahessian-vs-adam");
      assert.equal(record.quick, true);
      assert.equal(record.seed, seed);
      assert.ok(stdout.includes(`Verdict: ${record.verdict}. ${record.reason}`));
      assert.match(stdout, /transformer-shakespeare: character-level transformer/);
      const { outcomes } = record.measurements;
      assert.equal(
        record.verdict,
        adahessianVerdict(outcomes.digitsAccuracy, outcomes.transformerSteps),
      );
      const plan = adahessianVsAdamPlan(true, seed);
      checkDigits(record, plan.seeds, plan.steps);
      checkTransformer(record, seed);
      // Same seed, same measurements (wall times aside).
      const again = await reproduceAdahessianVsAdam({ quick: true, seed });
      assert.deepEqual(withoutTimes(again.measurements), withoutTimes(record.measurements));
      assert.equal(again.verdict, record.verdict);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
