import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { clipByGlobalNorm, globalNorm } from "../../src/optim/clipByGlobalNorm.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { scaleByLearningRate } from "../../src/optim/primitives.js";
import { chain } from "../../src/optim/transform.js";
import { Layout } from "../../src/params/layout.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { UNIT_FLOOR, assertClose } from "../helpers/assertions.js";
import { sampleGradients, sampleLayout, sampleParams } from "../helpers/inputs.js";

const twoTensors = new Layout(
  [
    { name: "a", shape: [2] },
    { name: "b", shape: [1, 2] },
  ],
  "float64",
);

// Four rounding units of 2e-16 per coordinate, relative above 1 and absolute below.
const RTOL = 4 * 2e-16;

function run(maxNorm: number | ((t: number) => number), u: FloatArray, layout = twoTensors) {
  const t = clipByGlobalNorm(maxNorm);
  const state = t.init(layout);
  void t.update(u, state, { params: layout.zeros(), layout });
  return state;
}

describe("clipByGlobalNorm", () => {
  it("scales the whole update (all tensors together) down to maxNorm", () => {
    // Global norm of [3, 4, 12, 84] is sqrt(9 + 16 + 144 + 7056) = 85.
    const u = new Float64Array([3, 4, 12, 84]);
    const state = run(17, u);
    assert.equal(state.norm, 85);
    assertClose(u, [3 / 5, 4 / 5, 12 / 5, 84 / 5], RTOL, "clipped", UNIT_FLOOR);
    assertClose([globalNorm(u)], [17], RTOL, "norm after clipping", UNIT_FLOOR);
  });

  it("leaves updates within the bound untouched, bit for bit", () => {
    const u = new Float64Array([0.1, -0.2, 0.3, 1e-3]);
    const before = [...u];
    run(1, u);
    assert.deepEqual([...u], before);
    // The boundary itself is kept (optax keeps n < c and clips otherwise; at n = c the factor is 1).
    const edge = new Float64Array([3, 4, 0, 0]);
    run(5, edge);
    assert.deepEqual([...edge], [3, 4, 0, 0]);
  });

  it("is a global norm, not per tensor: the direction is preserved", () => {
    const layout = sampleLayout("float64");
    const [g] = sampleGradients(layout, 1);
    const original = Float64Array.from(g);
    let expectedNorm = 0;
    for (const x of original) expectedNorm += x * x;
    expectedNorm = Math.sqrt(expectedNorm);
    run(0.25, g, layout);
    for (let i = 0; i < g.length; i++) {
      const expected = (original[i] * 0.25) / expectedNorm;
      assert.ok(Math.abs(g[i] - expected) <= 1e-15, `index ${i}`);
    }
  });

  it("accumulates the norm in float64 for float32 buffers (squares beyond float32 range)", () => {
    const layout = new Layout([{ name: "x", shape: [4] }], "float32");
    // Each square is 1e40, past float32's ~3.4e38, yet the norm 2e20 is representable.
    const u = new Float32Array([1e20, 1e20, -1e20, -1e20]);
    const state = run(1, u, layout);
    assert.ok(Math.abs(state.norm / (2 * Math.fround(1e20)) - 1) < 1e-12, `norm ${state.norm}`);
    for (const x of u) assert.ok(Math.abs(Math.abs(x) - 0.5) < 1e-7, `${x}`);
  });

  it("rescues the norm when float64 squares overflow", () => {
    const u = new Float64Array([3e200, 4e200, 0, 0]);
    assert.ok(Math.abs(globalNorm(u) / 5e200 - 1) < 1e-15);
    run(1, u);
    assert.ok(Math.abs(u[0] - 0.6) < 1e-15 && Math.abs(u[1] - 0.8) < 1e-15, `${u[0]}, ${u[1]}`);
    assert.equal(globalNorm(new Float64Array([Infinity, 1])), Infinity);
    assert.ok(Number.isNaN(globalNorm(new Float64Array([NaN, 1]))));
  });

  it("follows a scheduled threshold through its own count", () => {
    const t = clipByGlobalNorm((count) => (count === 0 ? 1 : 2));
    const state = t.init(twoTensors);
    const ctx = { params: twoTensors.zeros(), layout: twoTensors };
    const first = new Float64Array([0, 0, 3, 4]);
    void t.update(first, state, ctx);
    assertClose(first, [0, 0, 0.6, 0.8], RTOL, "first", UNIT_FLOOR);
    const second = new Float64Array([0, 0, 3, 4]);
    void t.update(second, state, ctx);
    assertClose(second, [0, 0, 1.2, 1.6], RTOL, "second", UNIT_FLOOR);
    assert.equal(state.count, 2);
  });

  it("clips gradients inside an optimizer chain", async () => {
    const params = ParamSet.fromRecord({ w: [1, 1] }, "float64");
    const opt = new Optimizer(params, chain(clipByGlobalNorm(1), scaleByLearningRate(0.5)));
    await opt.update(new Float64Array([30, 40]));
    assertClose(params.data, [1 - 0.5 * 0.6, 1 - 0.5 * 0.8], RTOL, "params", UNIT_FLOOR);
    const p = sampleParams();
    const o = new Optimizer(p, clipByGlobalNorm(1e9));
    const before = Float64Array.from(p.data);
    const [g] = sampleGradients(p.layout, 1);
    await o.update(g);
    for (let i = 0; i < g.length; i++) assert.equal(p.data[i], before[i] + g[i]);
  });

  it("validates maxNorm", () => {
    for (const bad of [0, -1, NaN, Infinity, "1"]) {
      assert.throws(
        () => clipByGlobalNorm(bad as number),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "maxNorm",
      );
    }
    assert.throws(
      () => clipByGlobalNorm(() => -1),
      (e: unknown) => e instanceof InvalidArgumentError && /maxNorm/.test(e.message),
    );
  });
});
