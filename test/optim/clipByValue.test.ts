import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { clipByValue } from "../../src/optim/clipByValue.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { scaleByLearningRate } from "../../src/optim/primitives.js";
import { chain } from "../../src/optim/transform.js";
import { Layout } from "../../src/params/layout.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";

const layout = new Layout([{ name: "x", shape: [6] }], "float64");

function apply(limit: Parameters<typeof clipByValue>[0], values: number[]): FloatArray {
  const t = clipByValue(limit);
  const u = Float64Array.from(values);
  void t.update(u, t.init(layout), { params: layout.zeros(), layout });
  return u;
}

describe("clipByValue", () => {
  it("clamps each element to [-c, c]", () => {
    const u = apply(1, [-3, -1, -0.5, 0, 0.75, 2]);
    assert.deepEqual([...u], [-1, -1, -0.5, 0, 0.75, 1]);
  });

  it("clamps to asymmetric [min, max] bounds, or one side only", () => {
    assert.deepEqual(
      [...apply({ min: -0.25, max: 2 }, [-3, -1, 0, 1, 2, 5])],
      [-0.25, -0.25, 0, 1, 2, 2],
    );
    assert.deepEqual([...apply({ max: 0 }, [-3, -1, 0, 1, 2, 5])], [-3, -1, 0, 0, 0, 0]);
    assert.deepEqual([...apply({ min: 1 }, [-3, -1, 0, 1, 2, 5])], [1, 1, 1, 1, 2, 5]);
  });

  it("leaves NaN visible and clamps infinities", () => {
    const u = apply(2, [NaN, Infinity, -Infinity, 1, 0, 0]);
    assert.ok(Number.isNaN(u[0]));
    assert.deepEqual([...u.subarray(1)], [2, -2, 1, 0, 0]);
  });

  it("works in a float32 optimizer chain", async () => {
    const params = ParamSet.fromRecord({ w: [0, 0, 0] }, "float32");
    const opt = new Optimizer(params, chain(clipByValue(0.5), scaleByLearningRate(1)));
    await opt.update(new Float32Array([10, -0.25, -10]));
    assert.deepEqual([...params.data], [-0.5, 0.25, 0.5]);
  });

  it("validates its bounds", () => {
    const bad: [unknown, string][] = [
      [-1, "limit"],
      [NaN, "limit"],
      [null, "limit"],
      [{}, "bounds"],
      [{ min: 2, max: 1 }, "max"],
      [{ min: NaN }, "min"],
      [{ mx: 1 }, "mx"],
    ];
    for (const [value, parameter] of bad) {
      assert.throws(
        () => clipByValue(value as number),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
        `${JSON.stringify(value)} -> ${parameter}`,
      );
    }
  });
});
