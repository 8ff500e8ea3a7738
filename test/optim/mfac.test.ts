import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import type { MfacOptions, MfacState } from "../../src/optim/mfac.js";
import { mfac, mfacInverseHessianVectorProduct, scaleByMfac } from "../../src/optim/mfac.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameState,
  assertTensorsClose,
  optimize,
  partState,
  perTensor,
  snapshotState,
} from "../helpers/assertions.js";
import { sampleGradients, sampleParams, seededUniform } from "../helpers/inputs.js";
import { MfacReference, denseInverseFisherProduct } from "../reference/mfac.js";

function randomVectors(count: number, d: number, seed: number, scale = 1): number[][] {
  const next = seededUniform(seed);
  return Array.from({ length: count }, () =>
    Array.from({ length: d }, () => scale * (2 * next() - 1)),
  );
}

describe("mfacInverseHessianVectorProduct", () => {
  for (const [m, d, damp] of [
    [1, 7, 0.3],
    [5, 37, 1e-2],
    [12, 9, 1e-3],
    [8, 50, 1e-4],
  ]) {
    it(`equals a dense solve of (λI + GᵀG/m)⁻¹v (m=${m}, d=${d}, λ=${damp})`, () => {
      const gradients = randomVectors(m, d, 7 * m + d);
      const [v] = randomVectors(1, d, 99 + d);
      const out = new Float64Array(d);
      mfacInverseHessianVectorProduct(gradients, damp, v, out);
      const expected = denseInverseFisherProduct(gradients, damp, v);
      assertClose(out, expected, 1e-10, "IHVP");
    });
  }

  it("accepts typed arrays, writes in place over v, and rejects bad input", () => {
    const gradients = randomVectors(3, 6, 5).map((g) => Float64Array.from(g));
    const v = Float64Array.from(randomVectors(1, 6, 6)[0]);
    const expected = denseInverseFisherProduct(
      gradients.map((g) => Array.from(g)),
      0.1,
      Array.from(v),
    );
    assert.equal(mfacInverseHessianVectorProduct(gradients, 0.1, v, v), v);
    assertClose(v, expected, 1e-10, "in place");
    const owner = () => mfacInverseHessianVectorProduct(gradients, 0, v, v);
    assertInvalidArgument(owner, "damp", 0);
    assertInvalidArgument(() => mfacInverseHessianVectorProduct([], 1, v, v), "gradients", []);
    assertInvalidArgument(
      () => mfacInverseHessianVectorProduct(gradients, 1, v, new Float64Array(5)),
      "out.length",
      5,
    );
    assertInvalidArgument(
      () => mfacInverseHessianVectorProduct([new Float64Array(4)], 1, v, v),
      "gradients[0].length",
      4,
    );
  });
});

const combinations: { name: string; options: MfacOptions }[] = [
  { name: "plain", options: { learningRate: 0.1, numGradients: 3, damp: 0.5 } },
  {
    name: "momentum and weight decay",
    options: { learningRate: 0.05, numGradients: 4, damp: 0.2, momentum: 0.9, weightDecay: 0.01 },
  },
  { name: "window of one", options: { learningRate: 0.2, numGradients: 1, damp: 1 } },
];

describe("mfac", () => {
  for (const dtype of ["float64", "float32"] as const) {
    for (const c of combinations) {
      it(`equals the dense-solve reference through window wrap-around (${c.name}, ${dtype})`, async () => {
        const steps = 9;
        const params = sampleParams(dtype);
        const { layout } = params;
        const grads = sampleGradients(layout, steps);
        const o = c.options;
        const reference = new MfacReference(
          perTensor(layout, params.data).map((p) => Float64Array.from(p)),
          {
            lr: o.learningRate as number,
            momentum: o.momentum ?? 0,
            weightDecay: (o.weightDecay as number | undefined) ?? 0,
            ngrads: o.numGradients!,
            damp: o.damp!,
          },
        );
        const opt = new Optimizer(params, mfac(o));
        const rtol = dtype === "float64" ? 1e-10 : 2e-4;
        for (let s = 0; s < steps; s++) {
          await opt.update(grads[s]);
          reference.step(perTensor(layout, grads[s]).map((g) => Float64Array.from(g)));
          assertTensorsClose(layout, params.data, reference.params, rtol, `step ${s + 1} params`);
          const state = partState<MfacState>(opt, "scaleByMfac");
          const m = o.numGradients!;
          const d = layout.size;
          assert.equal(state.position, (s + 1) % m);
          assert.equal(state.count, s + 1);
          // Only the periodic refactorizations (every m): the O(m²) updates passed their checks.
          assert.equal(state.refactorizations, Math.floor((s + 1) / m));
          assertClose(state.window, reference.window.flat(), rtol, `step ${s + 1} window`);
          // The incrementally kept Gram matrix equals G·Gᵀ recomputed from the window.
          const gram: number[] = [];
          for (let i = 0; i < m; i++) {
            for (let j = 0; j < m; j++) {
              let sum = 0;
              for (let k = 0; k < d; k++) sum += state.window[i * d + k] * state.window[j * d + k];
              gram.push(sum);
            }
          }
          assertClose(state.gram, gram, 1e-12, `step ${s + 1} gram`);
        }
      });
    }
  }

  it("with a window of one takes the closed-form step g / (λ + |g|²)", async () => {
    const params = ParamSet.fromRecord({ x: [0, 0, 0] }, "float64");
    const opt = new Optimizer(params, mfac({ learningRate: 1, numGradients: 1, damp: 0.5 }));
    await opt.update(Float64Array.from([1, 2, -2]));
    const scale = 1 / (0.5 + 9);
    assertClose(params.data, [-scale, -2 * scale, 2 * scale], 1e-14, "step");
  });

  it("before the window fills, divides the Fisher by m, not by the gradients seen", async () => {
    // One gradient g in a window of 4: F = λI + g gᵀ/4, so F⁻¹g = g / (λ + |g|²/4).
    const params = ParamSet.fromRecord({ x: [0, 0] }, "float64");
    const opt = new Optimizer(params, mfac({ learningRate: 1, numGradients: 4, damp: 0.25 }));
    await opt.update(Float64Array.from([3, 4]));
    const scale = 1 / (0.25 + 25 / 4);
    assertClose(params.data, [-3 * scale, -4 * scale], 1e-14, "step");
  });

  it("leaves its state untouched when the damped Gram matrix cannot be factored", async () => {
    const params = sampleParams("float64");
    const opt = new Optimizer(params, mfac({ learningRate: 0.1, numGradients: 3, damp: 0.1 }));
    for (const g of sampleGradients(params.layout, 2)) await opt.update(g);
    const before = snapshotState(opt.state);
    const huge = params.layout.zeros().fill(1e200);
    await assert.rejects(() => opt.update(huge), /positive definite/);
    assertSameState(opt.state, before);
  });

  it("resumes bit for bit from a checkpoint (ring buffer, position, Gram matrix, momentum)", async () => {
    const options: MfacOptions = {
      learningRate: 0.05,
      numGradients: 3,
      damp: 0.3,
      momentum: 0.8,
      weightDecay: 0.02,
    };
    const grads = sampleGradients(sampleParams("float64").layout, 8);
    const straight = new Optimizer(sampleParams("float64"), mfac(options));
    for (const g of grads) await straight.update(g);
    const first = new Optimizer(sampleParams("float64"), mfac(options));
    for (const g of grads.slice(0, 4)) await first.update(g);
    const bytes = serializeOptimizer(first, { includeParams: true });
    const resumed = new Optimizer(sampleParams("float64", 5), mfac(options));
    restoreOptimizer(resumed, bytes, { includeParams: true });
    for (const g of grads.slice(4)) await resumed.update(g);
    assert.deepEqual(Array.from(resumed.params.data), Array.from(straight.params.data));
    assertSameState(resumed.state, straight.state);
    assert.deepEqual(serializeOptimizer(resumed), serializeOptimizer(straight));
  });

  it("rejects bad hyperparameters, naming the parameter and value", () => {
    assertInvalidArgument(() => mfac({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => mfac({ damp: 0 }), "damp", 0);
    assertInvalidArgument(() => mfac({ damp: -1e-5 }), "damp", -1e-5);
    assertInvalidArgument(() => mfac({ damp: Number.NaN }), "damp", Number.NaN);
    assertInvalidArgument(() => mfac({ numGradients: 0 }), "numGradients", 0);
    assertInvalidArgument(() => mfac({ numGradients: 2.5 }), "numGradients", 2.5);
    assertInvalidArgument(() => mfac({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => mfac({ weightDecay: -0.1 }), "weightDecay", -0.1);
    assertInvalidArgument(() => mfac({ ngrads: 8 } as MfacOptions), "ngrads", 8);
    assertInvalidArgument(() => scaleByMfac({ damp: -2 }), "damp", -2);
  });

  it("has the official defaults (m = 1024, λ = 1e-5, no momentum)", () => {
    const state = scaleByMfac().init(ParamSet.fromRecord({ x: [1, 2] }).layout);
    assert.equal(state.gram.length, 1024 * 1024);
    // The window starts as zeros, so the factor of λ·m·I is √(λ·m)·I.
    assert.equal(state.factor.length, 1024 * 1024);
    assert.equal(state.factor[0], Math.sqrt(1e-5 * 1024));
    assert.equal(state.factor[1025], Math.sqrt(1e-5 * 1024));
    assert.equal(state.factor[1], 0);
    assert.equal(state.window.length, 1024 * 2);
    assert.equal(state.velocity, undefined);
  });

  it("converges on an ill-conditioned parabola (1000 steps)", async () => {
    const objective = illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    const params = await optimize(
      objective,
      mfac({ learningRate: 1, numGradients: 10, damp: 1 }),
      1000,
    );
    assert.ok((objective.value(params.data) as number) < 1e-20);
  });

  it("converges on the 2-D Rosenbrock function (6000 steps, momentum 0.9)", async () => {
    const objective = rosenbrock();
    const params = await optimize(
      objective,
      mfac({ learningRate: 0.05, numGradients: 10, damp: 10, momentum: 0.9 }),
      6000,
    );
    assert.ok(Math.abs(params.data[0] - 1) < 1e-3 && Math.abs(params.data[1] - 1) < 2e-3);
    assert.ok((objective.value(params.data) as number) < 1e-8);
  });
});
