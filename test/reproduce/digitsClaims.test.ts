// M-FAC against SGD with momentum on the digits perceptron: the verdict rule on synthetic
// measurements, equal budgets, the quick version end to end, and the same measurements from the
// same seed. (AdaHessian against Adam, which also races on the transformer, has its own file.)
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { summarize } from "../../src/reproduce/common.js";
import type { DigitsRun, SelectedSetting } from "../../src/reproduce/digitsMlp.js";
import type { MfacSideResult } from "../../src/reproduce/mfacVsSgd.js";
import {
  MFAC_WINDOW,
  judgeMfac,
  mfacSides,
  mfacVerdict,
  mfacVsSgdPlan,
  reproduceMfacVsSgd,
} from "../../src/reproduce/mfacVsSgd.js";
import { reproduce, withoutTimes } from "./helpers.js";

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
interface DigitsRecord {
  claim: string;
  verdict: string;
  reason: string;
  quick: boolean;
  seed: number;
  measurements: {
    budget: Record<string, { gridSize: number; seeds: number; steps: number }>;
    sides: {
      optimizer: string;
      runs: DigitsRun[];
      scores: { meanValidationAccuracy: number }[];
      forAccuracy: SelectedSetting;
    }[];
  };
}

async function quickRecord(claim: string, seed: number): Promise<DigitsRecord> {
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
    const record = JSON.parse(await readFile(join(dir, `${claim}.json`), "utf8")) as DigitsRecord;
    assert.equal(record.claim, claim);
    assert.equal(record.quick, true);
    assert.equal(record.seed, seed);
    assert.ok(["held", "did not hold", "inconclusive"].includes(record.verdict));
    assert.ok(stdout.includes(`Verdict: ${record.verdict}. ${record.reason}`));
    return record;
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

function checkSides(record: DigitsRecord, names: string[], seeds: number[], steps: number): void {
  const { budget, sides } = record.measurements;
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

describe("descend reproduce --quick on the digits", () => {
  it("mfac-vs-sgd writes a well-formed record", async () => {
    const record = await quickRecord("mfac-vs-sgd", 1);
    const plan = mfacVsSgdPlan(true, 1);
    checkSides(record, ["sgd-momentum", "mfac"], [...plan.seeds], plan.steps);
  });
});
