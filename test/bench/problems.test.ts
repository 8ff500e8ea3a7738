import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { findProblem, problems } from "../../src/bench/problems.js";
import { planBench, runBench } from "../../src/bench/run.js";

describe("benchmark problems", () => {
  it("have unique names, step counts, targets and positive tuned learning rates", () => {
    assert.equal(new Set(problems.map((p) => p.name)).size, problems.length);
    assert.deepEqual(
      problems.map((p) => p.name),
      ["rosenbrock", "quadratic", "softmax-digits", "mlp-digits"],
    );
    for (const p of problems) {
      assert.ok(p.description.length > 0);
      assert.ok(Number.isInteger(p.defaultSteps) && p.defaultSteps > 0);
      assert.ok(Number.isFinite(p.targetLoss) && p.targetLoss > 0);
      for (const [name, lr] of Object.entries(p.learningRates)) {
        assert.ok(Number.isFinite(lr) && lr > 0, `${p.name}/${name}`);
      }
    }
  });

  it("start Rosenbrock at (-1.2, 1) and the quadratic in 100 dimensions", async () => {
    const rosenbrock = await findProblem("rosenbrock")!.create({ seed: 0 });
    assert.deepEqual([...rosenbrock.initial], [-1.2, 1]);
    const start = await rosenbrock.objective.value(rosenbrock.initial);
    assert.ok(Math.abs(start - 24.2) < 1e-12, `${start}`);
    const quadratic = await findProblem("quadratic")!.create({ seed: 0 });
    assert.equal(quadratic.initial.length, 100);
    assert.equal(quadratic.objective.optimalValue, 0);
  });

  it("start softmax regression at zero weights, where the loss is ln 10", async () => {
    const softmax = await findProblem("softmax-digits")!.create({ seed: 0 });
    assert.ok(softmax.initial.every((w) => w === 0));
    const loss = await softmax.objective.value(softmax.initial);
    assert.ok(Math.abs(loss - Math.log(10)) < 1e-12, `${loss}`);
    assert.ok(softmax.accuracy, "a classification problem measures accuracy");
    const accuracy = await softmax.accuracy(softmax.initial);
    assert.ok(accuracy >= 0 && accuracy <= 1);
  });

  it("declare the softmax optimum below its target and the start", () => {
    const softmax = findProblem("softmax-digits")!;
    assert.ok(softmax.optimalValue! > 0);
    assert.ok(softmax.optimalValue! < softmax.targetLoss);
    assert.ok(softmax.targetLoss < Math.log(10));
  });

  it("train the jax-js perceptron reproducibly from the seed", async () => {
    const run = (seed: number) =>
      runBench(planBench({ optimizers: ["adam"], problems: ["mlp-digits"], steps: 3, seed }));
    const [first] = await run(1);
    const [again] = await run(1);
    const [other] = await run(2);
    assert.equal(first.status, "ok", first.message);
    assert.equal(first.losses.length, 4);
    assert.deepEqual(again.losses, first.losses);
    assert.notEqual(other.losses[0], first.losses[0]);
    assert.ok(first.losses[3] < first.losses[0]);
    assert.ok(first.accuracy !== null && first.accuracy >= 0 && first.accuracy <= 1);
  });
});
