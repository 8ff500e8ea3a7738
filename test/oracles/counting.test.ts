import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MissingOracleError } from "../../src/errors.js";
import { adam } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { countingObjective, totalCalls, zeroCounts } from "../../src/oracles/counting.js";
import type { Objective } from "../../src/oracles/objective.js";
import { requireOracle } from "../../src/oracles/objective.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";

const layout = new Layout([{ name: "x", shape: [2] }], "float64");

/** A bowl with every oracle and the hooks problems add (minibatches, validation, disposal). */
function fullObjective() {
  const log: string[] = [];
  let batch = -1;
  const objective = {
    name: "full",
    layout,
    optimalValue: 0,
    value: (x: FloatArray) => 0.5 * (x[0] * x[0] + x[1] * x[1]),
    valueAndGrad(x: FloatArray, g: FloatArray) {
      g.set(x);
      return 0.5 * (x[0] * x[0] + x[1] * x[1]);
    },
    hvp: (_x: FloatArray, v: FloatArray, out: FloatArray) => out.set(v),
    jvp: (x: FloatArray, v: FloatArray) => x[0] * v[0] + x[1] * v[1],
    sampledLabelGrad(x: FloatArray, g: FloatArray, seed: number) {
      g.set(x);
      return seed;
    },
    setBatch(step: number) {
      batch = step;
      log.push(`batch ${step}`);
    },
    get batchIndex() {
      return batch;
    },
    validationLoss(x: FloatArray) {
      // Calls its own oracle: internal calls are not the optimizer's and are not counted.
      return this.value(x) + 1;
    },
    accuracy: () => 0.75,
    dispose() {
      log.push("disposed");
    },
  };
  return { objective, log };
}

describe("countingObjective", () => {
  it("counts each oracle separately, exactly", async () => {
    const { objective } = fullObjective();
    const counter = countingObjective(objective);
    const o = counter.objective;
    const x = Float64Array.of(3, 4);
    const out = new Float64Array(2);
    assert.equal(o.value(x), 12.5);
    assert.equal(o.value(x), 12.5);
    assert.equal(o.valueAndGrad(x, out), 12.5);
    assert.deepEqual([...out], [3, 4]);
    for (let i = 0; i < 3; i++) o.hvp(x, Float64Array.of(1, 2), out);
    assert.deepEqual([...out], [1, 2]);
    assert.equal(o.jvp(x, Float64Array.of(1, 1)), 7);
    assert.equal(o.sampledLabelGrad(x, out, 9), 9);
    assert.deepEqual(counter.counts(), {
      value: 2,
      valueAndGrad: 1,
      hvp: 3,
      jvp: 1,
      sampledLabelGrad: 1,
      outputJacobian: 0,
      layerStatistics: 0,
    });
    assert.equal(totalCalls(counter.counts()), 8);
    // Calls on the original are not counted.
    objective.value(x);
    objective.valueAndGrad(x, out);
    assert.equal(counter.counts().value, 2);
    assert.equal(counter.counts().valueAndGrad, 1);
    counter.reset();
    assert.deepEqual(counter.counts(), zeroCounts());
  });

  it("returns a snapshot, not a live view", () => {
    const counter = countingObjective(fullObjective().objective);
    const before = counter.counts();
    counter.objective.value(Float64Array.of(1, 1));
    assert.equal(before.value, 0);
    assert.equal(counter.counts().value, 1);
  });

  it("keeps every other property and hook of the wrapped objective", () => {
    const { objective, log } = fullObjective();
    const counter = countingObjective(objective);
    const o = counter.objective;
    assert.equal(o.name, "full");
    assert.equal(o.layout, layout);
    assert.equal(o.optimalValue, 0);
    o.setBatch(7);
    assert.equal(o.batchIndex, 7);
    assert.equal(objective.batchIndex, 7);
    assert.equal(o.validationLoss(Float64Array.of(1, 1)), 2);
    assert.equal(o.accuracy(), 0.75);
    o.dispose();
    assert.deepEqual(log, ["batch 7", "disposed"]);
    assert.deepEqual(Object.keys(o), Object.keys(objective));
    assert.ok("setBatch" in o && "hvp" in o);
    // The objective's own use of its oracles is not counted.
    assert.equal(counter.counts().value, 0);
    // Reading a method twice gives the same function.
    assert.equal(o.setBatch, o.setBatch);
    assert.equal(o.value, o.value);
  });

  it("leaves missing oracles missing, so requireOracle still names them", () => {
    const blackBox: Objective = { name: "black-box", layout, value: (x) => x[0] };
    const o = countingObjective(blackBox).objective;
    assert.equal(o.valueAndGrad, undefined);
    assert.equal(o.hvp, undefined);
    assert.throws(
      () => requireOracle(o, "hvp", "optimizer sophia"),
      (error: unknown) =>
        error instanceof MissingOracleError &&
        error.objective === "black-box" &&
        error.oracle === "hvp" &&
        /optimizer sophia/.test(error.message),
    );
  });

  it("runs class methods on the original instance, private state included", async () => {
    class Counted implements Objective {
      readonly name = "class-objective";
      readonly layout = layout;
      #calls = 0;
      value(x: FloatArray): number {
        this.#calls++;
        return x[0] * x[0];
      }
      async valueAndGrad(x: FloatArray, g: FloatArray): Promise<number> {
        g[0] = 2 * x[0];
        g[1] = 0;
        return this.value(x);
      }
      get calls(): number {
        return this.#calls;
      }
    }
    const original = new Counted();
    const counter = countingObjective(original);
    const o = counter.objective;
    const g = new Float64Array(2);
    assert.equal(await o.valueAndGrad(Float64Array.of(3, 0), g), 9);
    assert.equal(o.value(Float64Array.of(2, 0)), 4);
    assert.equal(o.calls, 2);
    assert.ok(o instanceof Counted);
    // valueAndGrad's internal call of value goes to the original and is not counted.
    assert.deepEqual(counter.counts(), { ...zeroCounts(), value: 1, valueAndGrad: 1 });
  });

  it("counts a frozen objective's calls too", () => {
    const frozen = Object.freeze({ ...fullObjective().objective });
    const counter = countingObjective(frozen);
    counter.objective.value(Float64Array.of(1, 0));
    assert.equal(counter.counts().value, 1);
  });

  it("counts a call that throws", () => {
    const failing: Objective = {
      name: "failing",
      layout,
      value: () => {
        throw new Error("no");
      },
    };
    const counter = countingObjective(failing);
    assert.throws(() => counter.objective.value(Float64Array.of(0, 0)), /no/);
    assert.equal(counter.counts().value, 1);
  });

  it("sees k gradient calls and nothing else for k steps of Adam", async () => {
    const counter = countingObjective(rosenbrock());
    const optimizer = new Optimizer(
      new ParamSet(layout, Float64Array.of(-1.2, 1)),
      adam({ learningRate: 0.01 }),
    );
    for (let k = 0; k < 17; k++) await optimizer.step(counter.objective);
    assert.deepEqual(counter.counts(), { ...zeroCounts(), valueAndGrad: 17 });
  });
});
