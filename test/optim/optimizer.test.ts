import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  InvalidArgumentError,
  MissingOracleError,
  NonFiniteError,
  ShapeMismatchError,
} from "../../src/errors.js";
import { adam, adamw, scaleByAdam } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { addDecayedWeights, maximize, scaleByLearningRate } from "../../src/optim/primitives.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import { chain } from "../../src/optim/transform.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";

/** Hides a chain's parts so the Optimizer cannot fuse its affine tail. */
function opaque(t: GradientTransform): GradientTransform {
  return {
    name: "opaque",
    init: (l) => t.init(l),
    update: (u, s, c) => t.update(u, s as State, c),
  };
}

describe("Optimizer", () => {
  it("fused affine tail equals the unfused chain (AdamW with masked decay and a schedule)", async () => {
    for (const dtype of ["float64", "float32"] as const) {
      const make = () =>
        chain(
          scaleByAdam(),
          addDecayedWeights(0.1, { mask: (t) => t.shape.length >= 2 }),
          scaleByLearningRate((count) => 0.01 / (1 + count)),
        );
      const a = sampleParams(dtype);
      const b = sampleParams(dtype);
      const fused = new Optimizer(a, make());
      const plain = new Optimizer(b, opaque(make()));
      for (const g of sampleGradients(a.layout, 6)) {
        await fused.update(g);
        await plain.update(g);
      }
      const tol = dtype === "float64" ? 1e-15 : 1e-6;
      for (let i = 0; i < a.data.length; i++) {
        assert.ok(
          Math.abs(a.data[i] - b.data[i]) <= tol * Math.max(1, Math.abs(b.data[i])),
          `${dtype} index ${i}`,
        );
      }
      // Biases were not decayed: with zero gradients and no decay they must not move.
    }
  });

  it("masked decay leaves unmasked tensors undecayed", async () => {
    const params = ParamSet.fromRecord({ w: [[1, 1]], b: [1, 1] }, "float64");
    const opt = new Optimizer(
      params,
      chain(addDecayedWeights(0.5, { mask: "w" }), scaleByLearningRate(0.1)),
    );
    await opt.update(new Float64Array(4));
    assert.deepEqual([...params.data], [0.95, 0.95, 1, 1]);
  });

  it("maximize ascends", async () => {
    const params = ParamSet.fromRecord({ x: [0] }, "float64");
    const opt = new Optimizer(params, chain(maximize(), scaleByLearningRate(0.5)));
    await opt.update(new Float64Array([2]));
    assert.deepEqual([...params.data], [1]);
  });

  it("step() drives an objective and reports the loss before the step", async () => {
    const f = rosenbrock();
    const params = new ParamSet(f.layout, f.initialParams!());
    const opt = new Optimizer(params, adam({ learningRate: 0.02 }));
    const first = await opt.step(f);
    assert.equal(first.loss, 24.199999999999996);
    let last = first.loss!;
    for (let i = 0; i < 3000; i++) last = (await opt.step(f)).loss!;
    assert.ok(last < 1e-6, `loss ${last}`);
    assert.equal(opt.count, 3001);
  });

  it("throws on a non-finite gradient before touching params or state", async () => {
    const params = sampleParams("float64");
    const before = params.data.slice();
    const opt = new Optimizer(params, adamw());
    const g = params.layout.zeros();
    g[37] = Number.NaN;
    await assert.rejects(
      opt.update(g),
      (e: unknown) =>
        e instanceof NonFiniteError &&
        e.tensor === "layer1.bias" &&
        e.index === 2 &&
        /NaN/.test(e.message),
    );
    assert.deepEqual(params.data, before);
    assert.equal(opt.count, 0);
    const mu = (opt.state["0:scaleByAdam"] as State).mu as Float64Array;
    assert.ok(mu.every((x) => x === 0));
  });

  it("skip policy skips the step; zero policy replaces bad entries", async () => {
    const params = sampleParams("float64");
    const before = params.data.slice();
    const skip = new Optimizer(params, adamw(), { nonFinite: "skip" });
    const bad = params.layout.zeros().fill(0.1);
    bad[0] = Number.POSITIVE_INFINITY;
    const r = await skip.update(bad);
    assert.equal(r.skipped, true);
    assert.equal(skip.skippedSteps, 1);
    assert.deepEqual(params.data, before);

    const a = sampleParams("float64");
    const b = sampleParams("float64");
    const zeroed = params.layout.zeros().fill(0.1);
    zeroed[0] = 0;
    await new Optimizer(a, adamw(), { nonFinite: "zero" }).update(bad);
    await new Optimizer(b, adamw()).update(zeroed);
    assert.deepEqual(a.data, b.data);
  });

  it("rejects mismatched gradients, objectives lacking gradients and bad options", async () => {
    const params = sampleParams("float64");
    const opt = new Optimizer(params, adam());
    await assert.rejects(opt.update(new Float64Array(5)), ShapeMismatchError);
    await assert.rejects(opt.update(new Float32Array(params.size)), /expected a Float64Array/);
    const blackBox = { name: "black-box", layout: params.layout, value: () => 0 };
    await assert.rejects(
      opt.step(blackBox),
      (e: unknown) =>
        e instanceof MissingOracleError && /"black-box" has no "valueAndGrad"/.test(e.message),
    );
    assert.throws(
      () => new Optimizer(params, adam(), { nonFinite: "ignore" as "skip" }),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        /nonFinite must be one of.*got "ignore"/.test(e.message),
    );
  });

  it("validates hyperparameters at construction, naming parameter and value", () => {
    assert.throws(
      () => adam({ learningRate: -1 }),
      /adam: learningRate must be a finite number >= 0, got -1/,
    );
    assert.throws(() => adam({ beta1: 1 }), /beta1 must be a finite number in \[0, 1\), got 1/);
    assert.throws(() => adam({ beta2: Number.NaN }), /beta2 must be .* got NaN/);
    assert.throws(() => adamw({ weightDecay: -0.1 }), /weightDecay must be .* got -0.1/);
    assert.throws(
      () => adam({ learningRate: () => -1 }),
      /learningRate \(schedule at step 0\) must be/,
    );
    assert.throws(() => adam({ betas: [0.9, 0.99] } as never), /betas must be a known option/);
  });
});
