import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findProblem, problems, stepsFor } from "../../src/bench/problems.js";
import { planBench, runBench } from "../../src/bench/run.js";
import { suites } from "../../src/bench/suites.js";
import { oraclesOf } from "../../src/oracles/objective.js";

describe("benchmark problems", () => {
  it("have unique names, step counts, targets, oracles and positive tuned learning rates", () => {
    assert.equal(new Set(problems.map((p) => p.name)).size, problems.length);
    assert.deepEqual(
      problems.map((p) => p.name),
      [
        "rosenbrock",
        "rosenbrock-100d",
        "rastrigin",
        "quadratic",
        "matrix-sensing",
        "logistic-cancer",
        "softmax-digits",
        "mlp-digits",
        "transformer-shakespeare",
      ],
    );
    for (const p of problems) {
      assert.ok(p.description.length > 0);
      for (const suite of suites) {
        const steps = stepsFor(p, suite.name);
        assert.ok(Number.isInteger(steps) && steps > 0, `${p.name} ${suite.name}`);
      }
      assert.ok(p.targetLoss === undefined || (Number.isFinite(p.targetLoss) && p.targetLoss > 0));
      assert.ok(p.oracles.includes("value") && p.oracles.includes("valueAndGrad"), p.name);
      for (const [name, lr] of Object.entries(p.learningRates)) {
        assert.ok(Number.isFinite(lr) && lr > 0, `${p.name}/${name}`);
      }
    }
    for (const suite of suites) {
      if (suite.problems === "all") continue;
      for (const name of suite.problems) assert.ok(findProblem(name), `${suite.name}: ${name}`);
    }
  });

  it("offer the oracles they declare, and their seed changes exactly what they say", async () => {
    for (const problem of problems) {
      const [a, b] = [await problem.create({ seed: 0 }), await problem.create({ seed: 1 })];
      try {
        const offered = oraclesOf(a.objective);
        for (const oracle of problem.oracles)
          assert.ok(offered.includes(oracle), `${problem.name} ${oracle}`);
        assert.equal(a.initial.length, a.objective.layout.size);
        const same = a.initial.every((x, i) => x === b.initial[i]);
        // Problems whose seed only picks minibatches keep their start; the others must differ.
        if (!problem.seeded) assert.ok(same, `${problem.name} ignores the seed`);
        else assert.ok(!same, `${problem.name} draws its start from the seed`);
        assert.equal(a.objective.optimalValue, problem.optimalValue, problem.name);
      } finally {
        a.dispose?.();
        b.dispose?.();
      }
    }
  });

  it("start Rosenbrock at (-1.2, 1, …) in 2 and 100 dimensions", async () => {
    const rosenbrock = await findProblem("rosenbrock")!.create({ seed: 0 });
    assert.deepEqual([...rosenbrock.initial], [-1.2, 1]);
    assert.ok(Math.abs((await rosenbrock.objective.value(rosenbrock.initial)) - 24.2) < 1e-12);
    // 50 terms (1 + 1.2)² + 100(1 − 1.44)² = 24.2 and 49 terms 100(−1.2 − 1)² = 484.
    const wide = await findProblem("rosenbrock-100d")!.create({ seed: 0 });
    assert.equal(wide.initial.length, 100);
    const start = await wide.objective.value(wide.initial);
    assert.ok(Math.abs(start - (50 * 24.2 + 49 * 484)) < 1e-9, `${start}`);
    const quadratic = await findProblem("quadratic")!.create({ seed: 0 });
    assert.equal(quadratic.initial.length, 100);
  });

  it("start the linear classifiers at zero weights, where the loss is ln(classes)", async () => {
    for (const [name, classes] of [
      ["softmax-digits", 10],
      ["logistic-cancer", 2],
    ] as const) {
      const problem = await findProblem(name)!.create({ seed: 0 });
      assert.ok(problem.initial.every((w) => w === 0));
      const loss = await problem.objective.value(problem.initial);
      assert.ok(Math.abs(loss - Math.log(classes)) < 1e-12, `${name}: ${loss}`);
      assert.ok(problem.accuracy, "a classification problem measures accuracy");
      const accuracy = await problem.accuracy(problem.initial);
      assert.ok(accuracy >= 0 && accuracy <= 1);
    }
  });

  it("declare the optimum of logistic regression on the cancer data (checked by Newton's method)", async () => {
    const problem = findProblem("logistic-cancer")!;
    const { objective, initial } = await problem.create({ seed: 0 });
    const d = initial.length;
    const w = Float64Array.from(initial);
    const g = new Float64Array(d);
    let loss = Number.NaN;
    for (let iteration = 0; iteration < 25; iteration++) {
      loss = await objective.valueAndGrad!(w, g);
      // The Hessian column by column from Hessian-vector products, then H s = g by elimination.
      const h: number[][] = [];
      for (let j = 0; j < d; j++) {
        const e = new Float64Array(d);
        e[j] = 1;
        const column = new Float64Array(d);
        await objective.hvp!(w, e, column);
        h.push([...column]);
      }
      const a = h.map((row, i) => [...row, g[i]]);
      for (let c = 0; c < d; c++) {
        for (let r = 0; r < d; r++) {
          if (r === c) continue;
          const m = a[r][c] / a[c][c];
          for (let k = c; k <= d; k++) a[r][k] -= m * a[c][k];
        }
      }
      for (let j = 0; j < d; j++) w[j] -= a[j][d] / a[j][j];
    }
    assert.ok(Math.abs(loss - problem.optimalValue!) < 1e-14, `${loss}`);
    assert.ok(problem.optimalValue! < problem.targetLoss!);
  });

  it("declare the softmax optimum below its target and the start", () => {
    const softmax = findProblem("softmax-digits")!;
    assert.ok(softmax.optimalValue! > 0);
    assert.ok(softmax.optimalValue! < softmax.targetLoss!);
    assert.ok(softmax.targetLoss! < Math.log(10));
  });

  it("train the jax-js perceptron reproducibly from the seed", async () => {
    const run = (seed: number) =>
      runBench(
        planBench({
          optimizers: ["adam"],
          problems: ["mlp-digits"],
          steps: 3,
          seed,
          seeds: 1,
          grid: [1],
        }),
      );
    const [first] = await run(1);
    const [again] = await run(1);
    const [other] = await run(2);
    assert.equal(first.status, "ok", first.message);
    assert.equal(first.losses.length, 4);
    assert.deepEqual(again.losses, first.losses);
    assert.notEqual(other.losses[0], first.losses[0]);
    assert.ok(first.losses[3] < first.losses[0]);
    assert.ok(first.accuracy !== null && first.accuracy >= 0 && first.accuracy <= 1);
    assert.deepEqual(first.calls, {
      value: 0,
      valueAndGrad: 3,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    });
  });

  it("train the transformer on minibatches and report its validation loss", async () => {
    const [result] = await runBench(
      planBench({
        optimizers: ["adam"],
        problems: ["transformer-shakespeare"],
        steps: 2,
        seeds: 1,
        grid: [1],
      }),
    );
    assert.equal(result.status, "ok", result.message);
    assert.equal(result.losses.length, 3);
    // 65 characters: about ln 65 at the start.
    assert.ok(Math.abs(result.losses[0] - Math.log(65)) < 0.3, `${result.losses[0]}`);
    assert.ok(result.validationLoss !== null && Number.isFinite(result.validationLoss));
  });
});
