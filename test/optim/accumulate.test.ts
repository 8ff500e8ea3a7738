import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { accumulate } from "../../src/optim/accumulate.js";
import { adam, adamw } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { addDecayedWeights, scaleByLearningRate } from "../../src/optim/primitives.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import { chain } from "../../src/optim/transform.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { assertSameBits } from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";

/** The mean of `grads`, summed left to right in float64, in the gradients' own type. */
function mean(grads: readonly FloatArray[]): FloatArray {
  const out = grads[0].slice();
  for (let i = 0; i < out.length; i++) {
    let s = 0;
    for (const g of grads) s += g[i];
    out[i] = s / grads.length;
  }
  return out;
}

const makers: [string, () => GradientTransform][] = [
  ["adam", () => adam({ learningRate: 0.01 })],
  ["adamw", () => adamw({ learningRate: 0.01, weightDecay: 0.2 })],
  ["sgd with L2 decay", () => chain(addDecayedWeights(0.1), scaleByLearningRate(0.1))],
];

async function checkEquivalence(dtype: DType, k: number, make: () => GradientTransform) {
  const cycles = 3;
  const params = sampleParams(dtype, 5);
  const reference = params.clone();
  const grads = sampleGradients(params.layout, k * cycles, 70);
  const opt = new Optimizer(params, accumulate(k, make()));

  // Reference: the inner transform driven directly (update, then p += u, as the Optimizer
  // applies a non-chain transform), one step per cycle on the mean gradient.
  const inner = make();
  const innerState = inner.init(reference.layout);
  for (let c = 0; c < cycles; c++) {
    const micro = grads.slice(c * k, (c + 1) * k);
    for (let j = 0; j < k; j++) {
      const before = params.data.slice();
      await opt.update(micro[j]);
      if (j < k - 1) assertSameBits(params.data, before, `micro-step ${j} leaves params`);
    }
    const u = mean(micro);
    await inner.update(u, innerState, { params: reference.data, layout: reference.layout });
    for (let i = 0; i < u.length; i++) reference.data[i] += u[i];
    assertSameBits(params.data, reference.data, `${dtype} k=${k} cycle ${c}`);
  }
  const state = opt.state as State;
  assert.equal(state.miniStep, 0);
  assert.equal(state.gradientStep, cycles);
  assert.deepEqual(Object.keys(state.inner as State), Object.keys(innerState));
}

describe("accumulate", () => {
  for (const [name, make] of makers) {
    it(`k micro-steps equal one ${name} step on the mean gradient (bit for bit)`, async () => {
      for (const dtype of ["float64", "float32"] as const) {
        for (const k of [1, 3, 4]) await checkEquivalence(dtype, k, make);
      }
    });
  }

  it("emits zero updates and leaves the inner state untouched between k-th calls", async () => {
    const params = sampleParams();
    const t = accumulate(4, adamw({ learningRate: 0.1 }));
    const state = t.init(params.layout);
    const grads = sampleGradients(params.layout, 4);
    const inner = state.inner as State;
    const adamState = inner["0:scaleByAdam"] as State;
    for (let j = 0; j < 3; j++) {
      const u = grads[j].slice();
      void t.update(u, state, { params: params.data, layout: params.layout });
      assert.ok(
        u.every((x) => x === 0),
        `update ${j} is zero`,
      );
      assert.equal(state.miniStep, j + 1);
      assert.equal(adamState.count, 0);
      assert.ok((adamState.mu as FloatArray).every((x) => x === 0));
    }
    let expectedSum = 0;
    for (let j = 0; j < 3; j++) expectedSum += grads[j][7];
    assert.equal(state.sum[7], expectedSum);
    assert.ok(state.sum instanceof Float64Array);
    const u = grads[3].slice();
    void t.update(u, state, { params: params.data, layout: params.layout });
    assert.ok(u.some((x) => x !== 0));
    assert.equal(adamState.count, 1);
    assert.equal(state.gradientStep, 1);
    assert.ok(state.sum.every((x) => x === 0));
  });

  it("keeps the float64 sum for float32 layouts", () => {
    const params = sampleParams("float32");
    const t = accumulate(2, scaleByLearningRate(1));
    const state = t.init(params.layout);
    assert.ok(state.sum instanceof Float64Array);
    assert.equal(state.sum.length, params.layout.size);
  });

  it("leaves its state untouched when the inner update throws", () => {
    const params = sampleParams();
    const failing: GradientTransform = {
      name: "failing",
      init: () => ({ count: 0 }),
      update() {
        throw new Error("inner failure");
      },
    };
    const t = accumulate(2, failing);
    const state = t.init(params.layout);
    const ctx = { params: params.data, layout: params.layout };
    const [g1, g2] = sampleGradients(params.layout, 2);
    void t.update(g1.slice(), state, ctx);
    const sumBefore = state.sum.slice();
    assert.throws(() => t.update(g2.slice(), state, ctx), /inner failure/);
    assert.equal(state.miniStep, 1);
    assert.equal(state.gradientStep, 0);
    assertSameBits(state.sum, sumBefore, "sum");
  });

  it("supports asynchronous inner transforms", async () => {
    const params = sampleParams();
    const reference = params.clone();
    const base = adam({ learningRate: 0.05 });
    const asyncAdam: GradientTransform = {
      name: "asyncAdam",
      init: (layout) => base.init(layout),
      async update(u, state, ctx) {
        await new Promise((resolve) => setImmediate(resolve));
        await base.update(u, state, ctx);
      },
    };
    const opt = new Optimizer(params, accumulate(2, asyncAdam));
    const grads = sampleGradients(params.layout, 2);
    await opt.update(grads[0]);
    await opt.update(grads[1]);
    const direct = adam({ learningRate: 0.05 });
    const s = direct.init(reference.layout);
    const u = mean(grads);
    await direct.update(u, s, { params: reference.data, layout: reference.layout });
    for (let i = 0; i < u.length; i++) reference.data[i] += u[i];
    assertSameBits(params.data, reference.data, "async");
    assert.equal((opt.state as State).gradientStep, 1);
  });

  it("is not a chain, so the Optimizer cannot fuse the inner learning rate or decay", async () => {
    const params = sampleParams();
    const before = params.data.slice();
    const t = accumulate(3, adamw({ learningRate: 0.1, weightDecay: 0.5 }));
    assert.equal("parts" in t, false);
    const opt = new Optimizer(params, t);
    await opt.update(params.layout.zeros().fill(1));
    // Decoupled decay would shrink every parameter here if it leaked into the micro-step.
    assertSameBits(params.data, before, "after one micro-step");
  });

  it("validates its arguments", () => {
    for (const bad of [0, 1.5, -2, NaN, "2"]) {
      assert.throws(
        () => accumulate(bad as number, adam()),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "every",
      );
    }
    assert.throws(
      () => accumulate(2, {} as GradientTransform),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "inner",
    );
  });
});
