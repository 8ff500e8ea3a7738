// M-FAC against SGD with momentum on the digits perceptron: the verdict rule on synthetic
// measurements, equal budgets, the quick version end to end, and the same measurements from the
// same seed. (AdaHessian against Adam, which also races on the transformer, has its own file.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { summarize } from "../../src/reproduce/common.js";
import type { SelectedSetting } from "../../src/reproduce/digitsMlp.js";
import type { MfacSideResult } from "../../src/reproduce/mfacVsSgd.js";
import {
  MFAC_WINDOW,
  judgeMfac,
  mfacSides,
  mfacVerdict,
  mfacVsSgdPlan,
  reproduceMfacVsSgd,
} from "../../src/reproduce/mfacVsSgd.js";
import type { DigitsTuning, QuickRecord } from "../helpers/reproduce.js";
import { checkDigitsSides, quickRecord } from "../helpers/reproduce.js";
import { withoutTimes } from "./helpers.js";

function selected(trainLoss: number[], testAccuracy: number[]): SelectedSetting {
  return {
    settingIndex: 0,
    setting: { learningRate: 0.1 },
    atGridEdge: false,
    trainLoss: summarize(trainLoss),
    validationAccuracy: summarize(testAccuracy),
    testAccuracy: summarize(testAccuracy),
    msPerStep: 1,
  };
}

function mfacSide(name: string, trainLoss: number[], testAccuracy: number[]): MfacSideResult {
  const pick = selected(trainLoss, testAccuracy);
  return { optimizer: name, settings: [], runs: [], scores: [], forLoss: pick, forAccuracy: pick };
}

describe("mfac-vs-sgd verdict rule", () => {
  it("holds when M-FAC is better in loss and in accuracy, fails when it is not better in either", () => {
    assert.equal(mfacVerdict("better", "better"), "held");
    assert.equal(mfacVerdict("better", "not better"), "did not hold");
    assert.equal(mfacVerdict("not better", "unclear"), "did not hold");
    assert.equal(mfacVerdict("better", "unclear"), "inconclusive");
    assert.equal(mfacVerdict("unclear", "unclear"), "inconclusive");
  });

  it("compares losses as ratios and accuracies as differences, seed by seed", () => {
    const sgd = mfacSide("sgd-momentum", [0.01, 0.02, 0.04], [0.95, 0.96, 0.97]);
    const better = judgeMfac([sgd, mfacSide("mfac", [0.005, 0.01, 0.02], [0.96, 0.972, 0.978])]);
    // Every loss is halved: the log-ratio is ln 2 on every seed, with no spread.
    assert.ok(Math.abs(better.loss.mean - Math.LN2) < 1e-12);
    assert.ok(Math.abs(better.loss.standardError) < 1e-12);
    assert.equal(better.verdict, "held");
    assert.match(better.reason, /its loss is 0\.50× SGD's/);
    const worse = judgeMfac([sgd, mfacSide("mfac", [0.02, 0.04, 0.08], [0.96, 0.972, 0.978])]);
    assert.equal(worse.verdict, "did not hold");
  });

  it("gives both sides grids of the same size, M-FAC with its window of 32", () => {
    for (const quick of [true, false]) {
      const plan = mfacVsSgdPlan(quick, 0);
      const [sgd, mfac] = mfacSides(plan);
      assert.equal(sgd.settings.length, mfac.settings.length);
      assert.equal(plan.sgd.learningRates.length, plan.mfac.learningRates.length);
      assert.equal(plan.sgd.momenta.length, plan.mfac.damps.length);
      assert.equal(MFAC_WINDOW, 32);
    }
  });
});

describe("the digits reproductions are deterministic", () => {
  const tiny = { hidden: 8, batchSize: 32, steps: 10, evalEvery: 5, seeds: [3, 4] };
  it("mfac-vs-sgd measures the same twice from the same seed", async () => {
    const plan = {
      ...tiny,
      mfac: { learningRates: [0.01, 0.0316], damps: [0.1] },
      sgd: { learningRates: [0.1, 0.316], momenta: [0.9] },
    };
    const a = await reproduceMfacVsSgd({ quick: true, seed: 3 }, plan);
    const b = await reproduceMfacVsSgd({ quick: true, seed: 3 }, plan);
    assert.deepEqual(withoutTimes(b.measurements), withoutTimes(a.measurements));
    assert.equal(b.verdict, a.verdict);
  });
});

/** The JSON record of a digits reproduction, as far as these tests read it. */
interface DigitsRecord extends QuickRecord {
  measurements: DigitsTuning;
}

describe("descend reproduce --quick on the digits", () => {
  it("mfac-vs-sgd writes a well-formed record", async () => {
    const { record } = await quickRecord<DigitsRecord>("mfac-vs-sgd", 1);
    const plan = mfacVsSgdPlan(true, 1);
    checkDigitsSides(record.measurements, ["sgd-momentum", "mfac"], plan.seeds, plan.steps);
  });
});
