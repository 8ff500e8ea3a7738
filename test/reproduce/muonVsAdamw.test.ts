import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adamw } from "../../src/optim/adam.js";
import { muon } from "../../src/optim/muon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { warmupCosine } from "../../src/optim/schedules.js";
import type { TensorSpec } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import type { Verdict } from "../../src/reproduce/claims.js";
import type { ReachSummary } from "../../src/reproduce/digitsMlp.js";
import type {
  MuonProblemResult,
  MuonSide,
  MuonSideResult,
  MuonVsAdamwPlan,
} from "../../src/reproduce/muonVsAdamw.js";
import {
  ADAMW_SETTINGS,
  HELD_RATIO,
  MUON_SETTINGS,
  MUON_SIDES,
  combineOutcomes,
  compareMuon,
  judgeMuon,
  muonSideTransform,
  muonStepsOutcome,
  muonVsAdamwPlan,
  perceptronTakesMuon,
  reproduceMuonVsAdamw,
  transformerTakesMuon,
} from "../../src/reproduce/muonVsAdamw.js";
import {
  checkRaceBudget,
  checkRaceSides,
  checkStepRatioRule,
  oneRateSide,
  reachSummary as reach,
} from "../helpers/reproduce.js";
import { withoutTimes } from "./helpers.js";

function side(optimizer: MuonSide, r: ReachSummary, msPerStep = 1): MuonSideResult {
  return {
    ...oneRateSide(optimizer, { learningRate: 1, reach: r, msPerStep, runs: [] }),
    adamwRate: optimizer === "muon" ? 0.01 : null,
  };
}

function problem(name: string, adamwReach: ReachSummary, muonReach: ReachSummary) {
  const sides = [side("adamw", adamwReach), side("muon", muonReach)];
  const msPerStep = [2, 3];
  const result: MuonProblemResult = {
    problem: name,
    description: name,
    monitor: "loss",
    muonTensors: [],
    muonParameters: 0,
    parameters: 0,
    plan: { ...muonVsAdamwPlan(false, 0).mlp, seeds: [0, 1, 2] },
    sides,
    timing: { rounds: 1, block: 10, msPerStep },
    comparison: compareMuon(sides, 3, msPerStep),
  };
  return result;
}

describe("muon-vs-adamw verdict rule", () => {
  it("holds on a problem at ≤ 0.7× AdamW's steps with every seed at the target, not at ≥ 1×", () => {
    assert.equal(HELD_RATIO, 0.7);
    checkStepRatioRule(muonStepsOutcome);
  });

  it("needs both problems for held and either for did not hold", () => {
    const cases: [Verdict[], Verdict][] = [
      [["held", "held"], "held"],
      [["held", "inconclusive"], "inconclusive"],
      [["inconclusive", "inconclusive"], "inconclusive"],
      [["held", "did not hold"], "did not hold"],
      [["did not hold", "inconclusive"], "did not hold"],
      [[], "inconclusive"],
    ];
    for (const [outcomes, expected] of cases) {
      assert.equal(combineOutcomes(outcomes), expected, outcomes.join(", "));
    }
  });

  it("compares Muon with AdamW in steps, and in time from the interleaved cost per step", () => {
    const c = compareMuon([side("adamw", reach(3, 200)), side("muon", reach(3, 100))], 3, [2, 3]);
    assert.deepEqual(c, { stepRatio: 0.5, timeRatio: 0.75, costPerStep: 1.5, outcome: "held" });
  });

  it("judges the races with the rule and names the numbers", () => {
    const transformer = problem("transformer-shakespeare", reach(3, 200), reach(3, 100));
    const mlp = problem("mlp-digits", reach(3, 100), reach(3, 60));
    const held = judgeMuon([transformer, mlp]);
    assert.equal(held.verdict, "held");
    assert.match(held.reason, /transformer-shakespeare: 0\.50× AdamW's steps/);
    assert.match(held.reason, /mlp-digits: 0\.60× AdamW's steps/);
    const slower = problem("mlp-digits", reach(3, 100), reach(3, 120));
    assert.equal(judgeMuon([transformer, slower]).verdict, "did not hold");
    const between = problem("mlp-digits", reach(3, 100), reach(3, 80));
    assert.equal(judgeMuon([transformer, between]).verdict, "inconclusive");
    const adamwMissed = problem("mlp-digits", reach(2, 300), reach(3, 50));
    const judged = judgeMuon([transformer, adamwMissed]);
    assert.equal(judged.verdict, "inconclusive");
    assert.match(judged.reason, /AdamW reached the target on only 2 of 3 seeds/);
  });
});

describe("muon-vs-adamw plan", () => {
  for (const quick of [true, false]) {
    it(`gives both sides the same budget (quick: ${quick})`, () => {
      const plan = muonVsAdamwPlan(quick, 5);
      for (const p of [plan.transformer, plan.mlp]) checkRaceBudget(p, MUON_SIDES, 5);
    });
  }
});

describe("muon-vs-adamw tensor routing", () => {
  it("gives Muon the blocks' matrices and the perceptron's input layer, AdamW the rest", () => {
    const spec = (name: string, shape: number[]): TensorSpec =>
      new Layout([{ name, shape }], "float64").tensors[0];
    const transformer: [string, number[], boolean][] = [
      ["tokenEmbedding", [65, 32], false],
      ["positionEmbedding", [32, 32], false],
      ["blocks.0.norm1.weight", [32], false],
      ["blocks.0.attention.qkv.weight", [32, 96], true],
      ["blocks.0.attention.qkv.bias", [96], false],
      ["blocks.1.mlp.output.weight", [128, 32], true],
      ["finalNorm.bias", [32], false],
    ];
    for (const [name, shape, expected] of transformer) {
      assert.equal(transformerTakesMuon(spec(name, shape)), expected, name);
    }
    const perceptron: [string, number[], boolean][] = [
      ["layer1.weight", [64, 32], true],
      ["layer1.bias", [32], false],
      ["layer2.weight", [32, 10], false],
      ["layer2.bias", [10], false],
    ];
    for (const [name, shape, expected] of perceptron) {
      assert.equal(perceptronTakesMuon(spec(name, shape)), expected, name);
    }
  });

  it("steps the Muon side as Muon on its matrices and AdamW at AdamW's rate elsewhere", async () => {
    const tensors = [
      { name: "tokenEmbedding", shape: [5, 3] },
      { name: "blocks.0.mlp.hidden.weight", shape: [4, 6] },
      { name: "blocks.0.mlp.hidden.bias", shape: [6] },
    ];
    const steps = 20;
    const [muonRate, adamwRate] = [0.05, 0.003];
    const whole = new ParamSet(new Layout(tensors, "float64"));
    whole.data.forEach((_, i, data) => (data[i] = Math.sin(1 + i)));
    const initial = whole.data.slice();
    const matrix = new ParamSet(new Layout([tensors[1]], "float64"));
    const rest = new ParamSet(new Layout([tensors[0], tensors[2]], "float64"));
    matrix.data.set(whole.view(tensors[1].name));
    rest.view(tensors[0].name).set(whole.view(tensors[0].name));
    rest.view(tensors[2].name).set(whole.view(tensors[2].name));
    // The documented schedule: warmup over 2% of the steps (at least 1), cosine to 1/20.
    const schedule = (peak: number) =>
      warmupCosine({ peak, warmupSteps: 1, totalSteps: steps, end: peak / 20 });
    const routed = new Optimizer(
      whole,
      muonSideTransform("muon", muonRate, steps, adamwRate, transformerTakesMuon),
    );
    const muonAlone = new Optimizer(
      matrix,
      muon({ learningRate: schedule(muonRate), ...MUON_SETTINGS }),
    );
    const adamwAlone = new Optimizer(
      rest,
      adamw({ learningRate: schedule(adamwRate), ...ADAMW_SETTINGS }),
    );
    for (let k = 0; k < 4; k++) {
      const grad = whole.layout.zeros();
      grad.forEach((_, i, g) => (g[i] = Math.cos(3 * i + k) + 0.1 * whole.data[i]));
      const part = (set: ParamSet) => {
        const g = set.layout.zeros();
        for (const t of set.layout.tensors) {
          g.set(whole.layout.view(grad, t.name), t.offset);
        }
        return g;
      };
      const gMatrix = part(matrix);
      const gRest = part(rest);
      await routed.update(grad);
      await muonAlone.update(gMatrix);
      await adamwAlone.update(gRest);
    }
    const close = (actual: ArrayLike<number>, expected: ArrayLike<number>, what: string) => {
      assert.equal(actual.length, expected.length);
      for (let i = 0; i < expected.length; i++) {
        assert.ok(
          Math.abs(actual[i] - expected[i]) <= 1e-12 * (1 + Math.abs(expected[i])),
          `${what}[${i}]: ${actual[i]} vs ${expected[i]}`,
        );
      }
    };
    close(whole.view(tensors[1].name), matrix.data, "matrix");
    close(whole.view(tensors[0].name), rest.view(tensors[0].name), "embedding");
    close(whole.view(tensors[2].name), rest.view(tensors[2].name), "bias");
    // Every tensor moved: the steps after the warmup are not zero.
    for (const t of whole.layout.tensors) {
      const before = whole.layout.view(initial, t.name);
      assert.ok(
        whole.view(t.name).every((x, i) => x !== before[i]),
        t.name,
      );
    }
  });
});

/** A tiny plan: one rate per side, one seed, a few steps. */
function tinyPlan(seed: number): MuonVsAdamwPlan {
  return {
    transformer: {
      steps: 8,
      evalEvery: 4,
      seeds: [seed],
      target: 3.9,
      learningRates: { adamw: [1e-2], muon: [0.0316] },
      timingRounds: 1,
    },
    mlp: {
      steps: 12,
      evalEvery: 4,
      seeds: [seed],
      target: 2,
      learningRates: { adamw: [0.1], muon: [0.1] },
      timingRounds: 1,
      hidden: 8,
      batchSize: 32,
    },
  };
}

describe("reproduceMuonVsAdamw", () => {
  it("measures the same steps and losses twice from the same seed", async () => {
    const first = await reproduceMuonVsAdamw({ quick: true, seed: 4 }, tinyPlan(4));
    const second = await reproduceMuonVsAdamw({ quick: true, seed: 4 }, tinyPlan(4));
    assert.deepEqual(withoutTimes(second.measurements), withoutTimes(first.measurements));
    assert.equal(second.verdict, first.verdict);
    assert.equal(
      second.reason.replace(/time to target [^)]*/g, ""),
      first.reason.replace(/time to target [^)]*/g, ""),
    );
    const problems = (first.measurements as unknown as { problems: MuonProblemResult[] }).problems;
    const losses = problems.flatMap((p) =>
      p.sides.flatMap((s) => s.rates.flatMap((r) => r.runs.flatMap((run) => run.curve))),
    );
    assert.equal(losses.length, 2 * 2 + 2 * 3);
    for (const point of losses) assert.ok(Number.isFinite(point.loss) && point.loss > 0);
  });

  it("runs the quick version end to end: a verdict and a well-formed JSON record", async () => {
    const result = await reproduceMuonVsAdamw({ quick: true, seed: 2 });
    assert.equal(result.claim, "muon-vs-adamw");
    assert.equal(result.quick, true);
    assert.equal(result.seed, 2);
    assert.ok(["held", "did not hold", "inconclusive"].includes(result.verdict));
    assert.ok(result.reason.length > 0);
    assert.match(result.report, /quick version/);
    const record = JSON.parse(JSON.stringify(result)) as {
      measurements: { problems: MuonProblemResult[] };
    };
    assert.deepEqual(record.measurements, result.measurements);
    const plan = muonVsAdamwPlan(true, 2);
    const problems = record.measurements.problems;
    assert.deepEqual(
      problems.map((p) => p.problem),
      ["transformer-shakespeare", "mlp-digits"],
    );
    assert.deepEqual(problems[0].muonTensors, [
      "blocks.0.attention.qkv.weight",
      "blocks.0.attention.output.weight",
      "blocks.0.mlp.hidden.weight",
      "blocks.0.mlp.output.weight",
      "blocks.1.attention.qkv.weight",
      "blocks.1.attention.output.weight",
      "blocks.1.mlp.hidden.weight",
      "blocks.1.mlp.output.weight",
    ]);
    assert.deepEqual(problems[1].muonTensors, ["layer1.weight"]);
    assert.equal(problems[1].muonParameters, 64 * 32);
    assert.equal(problems[1].parameters, 64 * 32 + 32 + 32 * 10 + 10);
    const outcomes: Verdict[] = [];
    for (const [k, p] of problems.entries()) {
      const expected = k === 0 ? plan.transformer : plan.mlp;
      assert.equal(p.plan.target, expected.target);
      assert.deepEqual(
        p.sides.map((s) => s.optimizer),
        [...MUON_SIDES],
      );
      // The Muon side's other tensors train at AdamW's selected rate.
      assert.equal(p.sides[0].adamwRate, null);
      assert.equal(p.sides[1].adamwRate, p.sides[0].bestLearningRate);
      checkRaceSides(p.sides, expected);
      const base = p.sides[0].rates[p.sides[0].bestIndex].reach;
      const challenger = p.sides[1].rates[p.sides[1].bestIndex].reach;
      assert.equal(p.comparison.stepRatio, challenger.meanSteps / base.meanSteps);
      assert.equal(p.timing.msPerStep.length, 2);
      for (const ms of p.timing.msPerStep) assert.ok(ms > 0 && Number.isFinite(ms));
      assert.equal(p.comparison.costPerStep, p.timing.msPerStep[1] / p.timing.msPerStep[0]);
      outcomes.push(p.comparison.outcome);
    }
    assert.equal(result.verdict, combineOutcomes(outcomes));
  });
});
