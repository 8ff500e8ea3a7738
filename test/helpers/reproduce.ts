// What the reproduction tests share: fixtures of a race's results, the step-ratio rule of the
// step-count claims, the equal budgets of a race's plan, the shape of a race's record (every
// rate on every seed, curves at every measurement, steps to target read from them), the sides
// of a digits tuning, and a quick run's JSON record.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Verdict } from "../../src/reproduce/claims.js";
import type { DigitsRun, ReachSummary, SelectedSetting } from "../../src/reproduce/digitsMlp.js";
import type { RacePlan, RaceRate, RaceSide } from "../../src/reproduce/race.js";
import { reproduce } from "../reproduce/helpers.js";

/** A reach summary with `reached` seeds at the target and the given mean steps. */
export function reachSummary(
  reached: number,
  meanSteps: number,
  meanTrainingMs = meanSteps,
): ReachSummary {
  return { steps: [], trainingMs: [], reached, meanSteps, meanTrainingMs, meanFinalLoss: 1 };
}

/** A side that tried the one rate `rate`, selected. */
export function oneRateSide<Side extends string, Rate extends RaceRate>(
  optimizer: Side,
  rate: Rate,
): RaceSide<Side, Rate> {
  return {
    optimizer,
    rates: [rate],
    bestIndex: 0,
    bestLearningRate: rate.learningRate,
    bestAtGridEdge: false,
  };
}

/** Checks that `grid` is half a decade apart, to the 3 digits the grids are written with. */
export function checkHalfDecadesApart(grid: readonly number[]): void {
  for (let i = 1; i < grid.length; i++) {
    assert.ok(Math.abs(grid[i] / grid[i - 1] - Math.sqrt(10)) < 0.01, `${grid}`);
  }
}

/**
 * Checks that a race's `plan` gives every one of `sides` the same budget: seeds counting from
 * `baseSeed` (at least two), grids of one size half a decade apart, and a measurement at the
 * last step.
 */
export function checkRaceBudget<Side extends string>(
  plan: RacePlan<Side>,
  sides: readonly Side[],
  baseSeed: number,
): void {
  assert.equal(plan.seeds[0], baseSeed);
  assert.ok(plan.seeds.length >= 2);
  const grids = sides.map((s) => plan.learningRates[s]);
  for (const grid of grids) {
    assert.equal(grid.length, grids[0].length);
    checkHalfDecadesApart(grid);
  }
  assert.equal(plan.steps % plan.evalEvery, 0);
}

/** A claim's outcome of a challenger's steps to target against the baseline's, over `seeds`. */
type StepRatioRule = (
  baseline: ReachSummary,
  challenger: ReachSummary,
  seeds: number,
) => { ratio: number; outcome: Verdict };

/**
 * Checks `rule` on three seeds against the rule the step-count claims fix in advance, at a held
 * ratio of 0.7: held at ≤ 0.7× the baseline's steps with every seed at the target; did not hold
 * at ≥ 1×, also when the challenger missed the target (its mean is then a lower bound);
 * inconclusive between 0.7× and 1×, when the challenger misses the target below 1×, or when the
 * baseline misses it.
 */
export function checkStepRatioRule(rule: StepRatioRule): void {
  assert.deepEqual(rule(reachSummary(3, 200), reachSummary(3, 100), 3), {
    ratio: 0.5,
    outcome: "held",
  });
  const cases: [baseline: ReachSummary, challenger: ReachSummary, expected: Verdict][] = [
    [reachSummary(3, 200), reachSummary(3, 140), "held"],
    [reachSummary(3, 200), reachSummary(3, 200), "did not hold"],
    [reachSummary(3, 100), reachSummary(1, 400), "did not hold"],
    [reachSummary(3, 200), reachSummary(3, 141), "inconclusive"],
    [reachSummary(3, 200), reachSummary(3, 160), "inconclusive"],
    [reachSummary(3, 400), reachSummary(2, 200), "inconclusive"],
    [reachSummary(2, 300), reachSummary(3, 100), "inconclusive"],
  ];
  for (const [baseline, challenger, expected] of cases) {
    assert.equal(
      rule(baseline, challenger, 3).outcome,
      expected,
      `${challenger.meanSteps} steps (${challenger.reached} seeds) against ${baseline.meanSteps} (${baseline.reached})`,
    );
  }
}

/**
 * Checks the sides of a race as its record keeps them against the `plan` it ran: every rate of
 * the side's grid on every seed, no run diverged, the loss measured every `evalEvery` steps,
 * positive and below `maxLoss`, and the steps to target read from the curves.
 */
export function checkRaceSides<Side extends string>(
  sides: readonly RaceSide<Side>[],
  plan: RacePlan<Side>,
  maxLoss = Infinity,
): void {
  const measured = Array.from(
    { length: plan.steps / plan.evalEvery },
    (_, k) => (k + 1) * plan.evalEvery,
  );
  for (const s of sides) {
    assert.deepEqual(
      s.rates.map((r) => r.learningRate),
      [...plan.learningRates[s.optimizer]],
    );
    assert.equal(s.bestLearningRate, s.rates[s.bestIndex].learningRate);
    for (const rate of s.rates) {
      assert.deepEqual(
        rate.runs.map((r) => r.seed),
        [...plan.seeds],
      );
      rate.runs.forEach((run, i) => {
        assert.equal(run.diverged, false);
        assert.deepEqual(
          run.curve.map((c) => c.step),
          measured,
        );
        for (const c of run.curve) {
          assert.ok(c.loss > 0 && Number.isFinite(c.loss) && c.loss < maxLoss, `${c.loss}`);
        }
        const hit = run.curve.find((c) => c.loss <= plan.target);
        assert.equal(rate.reach.steps[i], hit?.step ?? null);
      });
    }
  }
}

/** The measurements of a digits tuning, as far as {@link checkDigitsSides} reads them. */
export interface DigitsTuning {
  budget: Record<string, { gridSize: number; seeds: number; steps: number }>;
  sides: {
    optimizer: string;
    runs: DigitsRun[];
    scores: { meanValidationAccuracy: number }[];
    forAccuracy: SelectedSetting;
  }[];
}

/**
 * Checks the sides of a digits tuning: the sides `names` in order with the same budget, every
 * setting on every one of `seeds` for `steps` steps without diverging, and the accuracy
 * selection at the best mean validation accuracy.
 */
export function checkDigitsSides(
  tuning: DigitsTuning,
  names: readonly string[],
  seeds: readonly number[],
  steps: number,
): void {
  const { budget, sides } = tuning;
  assert.deepEqual(
    sides.map((s) => s.optimizer),
    names,
  );
  assert.deepEqual(budget[names[0]], budget[names[1]]);
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

/** The fields of every reproduction's JSON record that {@link quickRecord} checks. */
export interface QuickRecord {
  claim: string;
  verdict: string;
  reason: string;
  quick: boolean;
  seed: number;
}

/**
 * Runs `descend reproduce <claim> --quick --seed <seed>` into a temporary folder and returns the
 * JSON record it wrote (read as `Record`) and what it printed, after checking that it ran, that
 * the record names the run, and that the printed verdict and reason are the record's.
 */
export async function quickRecord<Record extends QuickRecord>(
  claim: string,
  seed: number,
): Promise<{ record: Record; stdout: string }> {
  const dir = await mkdtemp(join(tmpdir(), "descend-reproduce-"));
  try {
    const { code, stdout, stderr } = await reproduce([
      claim,
      "--quick",
      "--seed",
      String(seed),
      "--out",
      dir,
    ]);
    assert.equal(code, 0, stderr);
    const record = JSON.parse(await readFile(join(dir, `${claim}.json`), "utf8")) as Record;
    assert.equal(record.claim, claim);
    assert.equal(record.quick, true);
    assert.equal(record.seed, seed);
    assert.ok(["held", "did not hold", "inconclusive"].includes(record.verdict));
    assert.ok(stdout.includes(`Verdict: ${record.verdict}. ${record.reason}`));
    return { record, stdout };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
