import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import type { MemoryResult, ProblemResult, Summary } from "../../src/reproduce/lionVsAdamw.js";
import {
  compareSides,
  judge,
  lionVsAdamwPlan,
  qualityOutcome,
  settingsOf,
  summarize,
} from "../../src/reproduce/lionVsAdamw.js";
import type { SideResult } from "../../src/reproduce/lionVsAdamw.js";
import { reproduce } from "./helpers.js";

/** The JSON record of a reproduction, as far as these tests read it. */
interface Record {
  claim: string;
  verdict: string;
  reason: string;
  quick: boolean;
  seed: number;
  measurements: {
    budget: { [side: string]: { gridSize: number; seeds: number; steps: number } };
    memory: MemoryResult[];
    quality: (Omit<ProblemResult, "sides"> & { sides: SideResult[] })[];
  };
}

describe("lion-vs-adamw plan", () => {
  for (const quick of [true, false]) {
    it(`gives both sides the same budget, Lion's grid at the paper's ratios (quick: ${quick})`, () => {
      const plan = lionVsAdamwPlan(quick, 7);
      const { adamw, lion } = plan.grids;
      assert.equal(adamw.learningRates.length, lion.learningRates.length);
      assert.equal(adamw.weightDecays.length, lion.weightDecays.length);
      assert.equal(settingsOf(adamw).length, settingsOf(lion).length);
      assert.ok(adamw.learningRates.length >= 3);
      assert.ok(plan.seeds.length >= 2);
      assert.equal(plan.seeds[0], 7);
      assert.equal(new Set(plan.seeds).size, plan.seeds.length);
      adamw.learningRates.forEach((lr, i) => {
        const ratio = lr / lion.learningRates[i];
        assert.ok(Math.abs(ratio - plan.lrRatio) < 1e-2 * plan.lrRatio, `lr ratio ${ratio}`);
      });
      adamw.weightDecays.forEach((wd, i) => {
        // wd_Lion = wd_AdamW × lr_AdamW / lr_Lion keeps lr·wd equal.
        assert.ok(
          Math.abs(lion.weightDecays[i] - wd * plan.lrRatio) < 1e-2 * (wd * plan.lrRatio + 1e-12),
        );
      });
      assert.ok(plan.lrRatio >= 3 && plan.lrRatio <= 10, "the paper's 3–10×");
    });
  }
});

describe("lion-vs-adamw verdict", () => {
  it("compares mean test accuracies against the seeds' spread", () => {
    assert.equal(qualityOutcome(0.01, 0.005), "comparable");
    assert.equal(qualityOutcome(-0.004, 0.005), "comparable");
    assert.equal(qualityOutcome(-0.005, 0.005), "comparable");
    assert.equal(qualityOutcome(-0.008, 0.005), "unclear");
    assert.equal(qualityOutcome(-0.011, 0.005), "worse");
    assert.equal(qualityOutcome(0, 0), "comparable");
    assert.equal(qualityOutcome(-0.001, 0), "worse");
    assert.equal(qualityOutcome(0.02, NaN), "unclear");
  });

  it("summarizes seeds by mean and sample standard deviation", () => {
    const s = summarize([1, 2, 3, 4]);
    assert.equal(s.mean, 2.5);
    assert.ok(Math.abs(s.sd - Math.sqrt(5 / 3)) < 1e-15);
    assert.ok(Number.isNaN(summarize([3]).sd));
  });

  const side = (optimizer: "adamw" | "lion", accuracy: Summary): SideResult => ({
    optimizer,
    grid: { learningRates: [1], weightDecays: [0] },
    gridSize: 1,
    seeds: [0, 1],
    steps: 1,
    scores: [],
    runs: [],
    best: { learningRate: 1, weightDecay: 0 },
    bestAtGridEdge: false,
    trainLoss: summarize([0.1, 0.1]),
    validationLoss: summarize([0.1, 0.1]),
    validationAccuracy: summarize([0.9, 0.9]),
    testAccuracy: accuracy,
    trainingMs: 0,
  });
  const memory = (lionBytes: number): MemoryResult => ({
    model: "m",
    parameters: 10,
    dtype: "float32",
    parameterBytes: 40,
    optimizers: [
      {
        optimizer: "adamw",
        buffers: [],
        stateBytes: 80,
        checkpointStateBytes: 80,
        timesParameterBytes: 2,
      },
      {
        optimizer: "lion",
        buffers: [],
        stateBytes: lionBytes,
        checkpointStateBytes: lionBytes,
        timesParameterBytes: lionBytes / 40,
      },
    ],
    lionToAdamw: lionBytes / 80,
  });
  const problem = (adamwAccuracies: number[], lionAccuracies: number[]): ProblemResult =>
    compareSides("p", "a problem", [
      side("adamw", summarize(adamwAccuracies)),
      side("lion", summarize(lionAccuracies)),
    ]);

  it("holds with half the memory and accuracy within the spread", () => {
    const q = problem([0.9, 0.92], [0.905, 0.91]);
    assert.ok(Math.abs(q.accuracyDifference - -0.0025) < 1e-12);
    assert.ok(Math.abs(q.accuracySpread - Math.sqrt(2) * 0.01) < 1e-12);
    assert.equal(q.outcome, "comparable");
    assert.equal(judge([memory(40)], [q]).verdict, "held");
  });

  it("does not hold with more memory, or accuracy below by more than twice the spread", () => {
    assert.equal(
      judge([memory(120)], [problem([0.9, 0.92], [0.91, 0.91])]).verdict,
      "did not hold",
    );
    const worse = problem([0.9, 0.901], [0.8, 0.801]);
    assert.equal(worse.outcome, "worse");
    assert.equal(judge([memory(40)], [worse]).verdict, "did not hold");
  });

  it("is inconclusive in between, or without a spread", () => {
    // Spread 0.01·√2 ≈ 0.0141; a difference of −0.02 lies between one and two spreads.
    assert.equal(judge([memory(40)], [problem([0.9, 0.92], [0.89, 0.89])]).verdict, "inconclusive");
    assert.equal(judge([memory(40)], [problem([0.9], [0.95])]).verdict, "inconclusive");
  });
});

describe("descend reproduce lion-vs-adamw --quick", () => {
  it("measures both sides with the same budget and writes a well-formed record", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-reproduce-"));
    try {
      const { code, stdout, stderr } = await reproduce([
        "lion-vs-adamw",
        "--quick",
        "--seed",
        "3",
        "--out",
        dir,
      ]);
      assert.equal(code, 0, stderr);
      const record = JSON.parse(await readFile(join(dir, "lion-vs-adamw.json"), "utf8")) as Record;
      assert.equal(record.claim, "lion-vs-adamw");
      assert.equal(record.quick, true);
      assert.equal(record.seed, 3);
      assert.ok(["held", "did not hold", "inconclusive"].includes(record.verdict));
      assert.ok(stdout.includes(`Verdict: ${record.verdict}. ${record.reason}`));
      assert.match(stdout, /^lion-vs-adamw: implemented\nPaper: Chen, /);

      const plan = lionVsAdamwPlan(true, 3);
      const { budget, memory, quality } = record.measurements;
      assert.deepEqual(budget.adamw, budget.lion);
      assert.deepEqual(budget.lion, {
        gridSize: settingsOf(plan.grids.lion).length,
        seeds: plan.seeds.length,
        steps: plan.steps,
      });

      assert.equal(memory.length, 2);
      for (const m of memory) {
        const [a, l] = m.optimizers;
        assert.equal(a.stateBytes, 2 * m.parameterBytes);
        assert.equal(l.stateBytes, m.parameterBytes);
        assert.equal(m.lionToAdamw, 0.5);
      }

      assert.deepEqual(
        quality.map((q) => q.problem),
        ["mlp-digits", "softmax-digits"],
      );
      for (const q of quality) {
        const [a, l] = q.sides;
        assert.deepEqual([a.optimizer, l.optimizer], ["adamw", "lion"]);
        for (const s of [a, l]) {
          assert.equal(s.gridSize, budget[s.optimizer].gridSize);
          assert.equal(s.steps, plan.steps);
          assert.deepEqual(s.seeds, [...plan.seeds]);
          assert.equal(s.scores.length, s.gridSize);
          assert.equal(s.runs.length, s.gridSize * s.seeds.length);
          assert.ok(s.grid.learningRates.includes(s.best.learningRate));
          assert.ok(s.grid.weightDecays.includes(s.best.weightDecay));
          assert.equal(s.testAccuracy.values.length, s.seeds.length);
          for (const r of s.runs) {
            assert.equal(r.diverged, false);
            assert.ok(r.trainLoss > 0 && Number.isFinite(r.trainLoss));
            assert.ok(r.testAccuracy > 0.1 && r.testAccuracy <= 1, `accuracy ${r.testAccuracy}`);
          }
          // The selected setting has the best mean validation accuracy of the grid.
          const best = Math.max(...s.scores.map((x) => x.meanValidationAccuracy));
          const chosen = s.scores.find(
            (x) => x.learningRate === s.best.learningRate && x.weightDecay === s.best.weightDecay,
          );
          assert.equal(chosen?.meanValidationAccuracy, best);
        }
        assert.ok(
          Math.abs(q.accuracyDifference - (l.testAccuracy.mean - a.testAccuracy.mean)) < 1e-12,
        );
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
