import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError } from "../../src/errors.js";
import { adam, adamw } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { applyIfFinite, zeroNonFinite } from "../../src/optim/nonFinite.js";
import { scaleByLearningRate } from "../../src/optim/primitives.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import { chain } from "../../src/optim/transform.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertSameBits, assertSameState, snapshotState } from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";

describe("zeroNonFinite", () => {
  it("replaces NaN and ±Infinity by 0 and counts them", () => {
    const layout = new Layout([{ name: "x", shape: [6] }], "float32");
    const t = zeroNonFinite();
    const state = t.init(layout);
    const u = new Float32Array([1, NaN, -2, Infinity, -Infinity, 0.5]);
    void t.update(u, state, { params: layout.zeros(), layout });
    assert.deepEqual([...u], [1, 0, -2, 0, 0, 0.5]);
    assert.equal(state.replaced, 3);
    const clean = new Float32Array([1, 2, 3, 4, 5, 6]);
    void t.update(clean, state, { params: layout.zeros(), layout });
    assert.deepEqual([...clean], [1, 2, 3, 4, 5, 6]);
    assert.equal(state.replaced, 3);
  });

  it("composes in a chain before a preconditioner", () => {
    const params = ParamSet.fromRecord({ w: [0, 0, 0] }, "float64");
    const t = chain(zeroNonFinite(), scaleByLearningRate(1));
    const state = t.init(params.layout);
    const u = new Float64Array([NaN, 2, -Infinity]);
    void t.update(u, state, { params: params.data, layout: params.layout });
    assert.deepEqual([...u], [-0, -2, -0]);
  });
});

describe("applyIfFinite", () => {
  it("skips a non-finite step: zero update, inner state untouched, skip counted", async () => {
    const params = sampleParams();
    const t = applyIfFinite(adam({ learningRate: 0.01 }));
    const state = t.init(params.layout);
    const ctx = { params: params.data, layout: params.layout };
    const [g1, g2, g3] = sampleGradients(params.layout, 3);
    await t.update(g1.slice(), state, ctx);
    const innerBefore = snapshotState(state.inner);
    const bad = g2.slice();
    bad[17] = NaN;
    bad[40] = Infinity;
    await t.update(bad, state, ctx);
    assert.ok(
      bad.every((x) => x === 0),
      "the emitted update is zero",
    );
    assertSameState(state.inner, innerBefore);
    assert.equal(state.skippedSteps, 1);
    assert.equal(state.consecutiveErrors, 1);
    await t.update(g3.slice(), state, ctx);
    assert.equal(state.consecutiveErrors, 0);
    assert.equal(state.skippedSteps, 1);
  });

  it("a run with skipped bad steps equals the run without them (bit for bit)", async () => {
    for (const dtype of ["float64", "float32"] as const) {
      const withBad = sampleParams(dtype);
      const clean = withBad.clone();
      const grads = sampleGradients(withBad.layout, 6);
      const guarded = applyIfFinite(adam({ learningRate: 0.02 }));
      const plain = adam({ learningRate: 0.02 });
      const guardedState = guarded.init(withBad.layout);
      const plainState = plain.init(clean.layout);
      // Both driven as a non-chain Optimizer applies a transform: update, then p += u.
      const step = async (t: GradientTransform, s: State, p: ParamSet, g: FloatArray) => {
        const u = g.slice();
        await t.update(u, s, { params: p.data, layout: p.layout });
        for (let k = 0; k < u.length; k++) p.data[k] += u[k];
        return u;
      };
      for (const [i, g] of grads.entries()) {
        if (i === 2 || i === 3) {
          const bad = g.slice();
          bad[i] = -Infinity;
          const before = withBad.data.slice();
          const u = await step(guarded, guardedState, withBad, bad);
          assert.ok(u.every((x) => x === 0));
          assertSameBits(withBad.data, before, "skipped step leaves params");
        }
        await step(guarded, guardedState, withBad, g);
        await step(plain, plainState, clean, g);
      }
      assertSameBits(withBad.data, clean.data, `${dtype} params`);
      assertSameState(guardedState.inner, plainState);
      assert.equal(guardedState.skippedSteps, 2);
    }
  });

  it("throws after maxConsecutiveErrors skips in a row, leaving state untouched", async () => {
    const params = sampleParams();
    const t = applyIfFinite(adam(), { maxConsecutiveErrors: 2 });
    const state = t.init(params.layout);
    const ctx = { params: params.data, layout: params.layout };
    const nan = () => {
      const u = params.layout.zeros();
      u[params.layout.tensor("layer2.bias").offset + 1] = NaN;
      return u;
    };
    await t.update(nan(), state, ctx);
    await t.update(nan(), state, ctx);
    const before = snapshotState(state);
    assert.throws(
      () => t.update(nan(), state, ctx),
      (e: unknown) => {
        assert.ok(e instanceof NonFiniteError);
        assert.equal(e.tensor, "layer2.bias");
        assert.equal(e.index, 1);
        assert.match(e.message, /after 2 consecutive skipped steps/);
        return true;
      },
    );
    assertSameState(state, before);
    // A finite step resets the run of errors.
    await t.update(params.layout.zeros(), state, ctx);
    assert.equal(state.consecutiveErrors, 0);
    await t.update(nan(), state, ctx);
    assert.equal(state.skippedSteps, 3);
  });

  it("supports asynchronous inner transforms", async () => {
    const layout = new Layout([{ name: "x", shape: [2] }], "float64");
    let calls = 0;
    const slow: GradientTransform = {
      name: "slow",
      init: () => ({}),
      async update(u) {
        await new Promise((resolve) => setImmediate(resolve));
        calls++;
        u[0] *= 2;
      },
    };
    const t = applyIfFinite(slow);
    const state = t.init(layout);
    const u = new Float64Array([3, 4]);
    const pending = t.update(u, state, { params: layout.zeros(), layout });
    assert.ok(pending instanceof Promise);
    await pending;
    assert.deepEqual([...u], [6, 4]);
    assert.equal(calls, 1);
  });

  it("validates its arguments", () => {
    for (const bad of [-1, 1.5, NaN]) {
      assert.throws(
        () => applyIfFinite(adam(), { maxConsecutiveErrors: bad }),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "maxConsecutiveErrors",
      );
    }
    assert.throws(
      () => applyIfFinite(adam(), { maxErrors: 3 } as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "maxErrors",
    );
    assert.throws(
      () => applyIfFinite(null as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "inner",
    );
    assert.doesNotThrow(() => applyIfFinite(adam(), { maxConsecutiveErrors: 0 }));
  });
});

describe('Optimizer with nonFinite: "pass" leaves non-finite gradients to the transform', () => {
  it("applyIfFinite skips the bad step inside an Optimizer", async () => {
    const a = sampleParams("float64");
    const b = sampleParams("float64");
    const guarded = new Optimizer(a, applyIfFinite(adamw({ learningRate: 0.01 })), {
      nonFinite: "pass",
    });
    const clean = new Optimizer(b, adamw({ learningRate: 0.01 }));
    const [g1, g2] = sampleGradients(a.layout, 2);
    const bad = g1.slice();
    bad[3] = Number.NaN;
    for (const g of [g1, bad, g2]) await guarded.update(g);
    for (const g of [g1, g2]) await clean.update(g);
    // The wrapped chain runs unfused (p += u after the lr scaling), the clean one fused: equal
    // up to rounding of the last bit.
    for (let i = 0; i < a.data.length; i++) {
      assert.ok(
        Math.abs(a.data[i] - b.data[i]) <= 1e-15 * Math.max(1, Math.abs(b.data[i])),
        `index ${i}`,
      );
    }
  });
});
