import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { numpy as np, vmap } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import { jaxArray } from "../../src/oracles/jax.js";
import type { Objective } from "../../src/oracles/objective.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { sgd } from "../../src/optim/sgd.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  coordinateGradientEstimator,
  coordinateGradientObjective,
  randomCoordinateMask,
} from "../../src/zo/cge.js";
import type { ValueBatch } from "../../src/zo/valueBatch.js";
import {
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  assertSameBits,
} from "../helpers/assertions.js";
import { fillUniform } from "../helpers/inputs.js";

function netLayout(dtype: DType = "float64"): Layout {
  return new Layout(
    [
      { name: "layer.weight", shape: [3, 4] },
      { name: "layer.bias", shape: [4] },
      { name: "head.weight", shape: [4, 2] },
    ],
    dtype,
  );
}

/**
 * A smooth, coupled, non-quadratic function with a closed-form gradient:
 * f(x) = Σ_i sin(x_i)·c_i + (Σ_i x_i)²/2 + Σ_i x_i⁴/4,  ∇f_i = c_i cos(x_i) + Σ_j x_j + x_i³.
 * Counts the points it was evaluated at.
 */
function smoothObjective(layout: Layout) {
  const c = fillUniform(new Float64Array(layout.size), 31);
  const f = (x: ArrayLike<number>) => {
    let total = 0;
    let s = 0;
    for (let i = 0; i < x.length; i++) {
      total += Math.sin(x[i]) * c[i] + x[i] ** 4 / 4;
      s += x[i];
    }
    return total + (s * s) / 2;
  };
  const gradient = (x: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < x.length; i++) s += x[i];
    return Float64Array.from(x, (xi, i) => c[i] * Math.cos(xi) + s + xi ** 3);
  };
  const calls = { value: 0, batches: 0, points: 0 };
  const objective = {
    name: "smooth",
    layout,
    value(x: FloatArray) {
      calls.value++;
      return f(x);
    },
  } satisfies Objective;
  const valueBatch: ValueBatch = (points) => {
    calls.batches++;
    calls.points += points.length;
    return points.map((p) => f(p));
  };
  return { objective, f, gradient, calls, valueBatch };
}

const layout = netLayout();
/** Coordinates 0, 3, 6, … of the layer weight and the whole head (not the bias). */
function sparseMask(): Uint8Array {
  const mask = new Uint8Array(layout.size);
  for (let i = 0; i < 12; i += 3) mask[i] = 1;
  mask.fill(1, 16, 24);
  mask[13] = 1; // a bias coordinate, which the `tensors` selector below drops
  return mask;
}
const selected = [0, 3, 6, 9, 16, 17, 18, 19, 20, 21, 22, 23];

describe("coordinate-wise gradient estimation (CGE)", () => {
  const theta = fillUniform(layout.zeros(), 32);

  it("central differences equal an independent central finite difference on S and 0 elsewhere", async () => {
    const { objective, f, gradient } = smoothObjective(layout);
    const mu = 1e-4;
    const out = layout.zeros().fill(NaN);
    const loss = await coordinateGradientEstimator(objective, {
      stepSize: mu,
      difference: "central",
      mask: sparseMask(),
      tensors: ["layer.weight", "head.weight"],
    }).estimate(theta, out);
    assert.equal(loss, f(theta));
    const g = gradient(theta);
    for (let i = 0; i < layout.size; i++) {
      if (!selected.includes(i)) {
        assert.ok(Object.is(out[i], 0), `coordinate ${i} outside S: ${out[i]}`);
        continue;
      }
      const plus = Float64Array.from(theta);
      const minus = Float64Array.from(theta);
      plus[i] += mu;
      minus[i] -= mu;
      const reference = (f(plus) - f(minus)) / (plus[i] - minus[i]);
      assert.ok(Object.is(out[i], reference), `coordinate ${i}: ${out[i]} vs ${reference}`);
      // Central differences are O(μ²) from the gradient (plus rounding ~1e-16/μ).
      assert.ok(Math.abs(out[i] - g[i]) < 1e-7, `coordinate ${i}: ${out[i]} vs ∇f ${g[i]}`);
    }
  });

  it("with dyadic θ and μ the steps are exact: (f(θ+μe_i) − f(θ−μe_i))/(2μ) bit for bit", async () => {
    const { objective, f } = smoothObjective(layout);
    const dyadic = theta.map((x) => Math.round(x * 1024) / 1024);
    const mu = 2 ** -7;
    const out = layout.zeros();
    await coordinateGradientEstimator(objective, { stepSize: mu, difference: "central" }).estimate(
      dyadic,
      out,
    );
    for (let i = 0; i < layout.size; i++) {
      const plus = Float64Array.from(dyadic);
      const minus = Float64Array.from(dyadic);
      plus[i] = dyadic[i] + mu;
      minus[i] = dyadic[i] - mu;
      assert.ok(Object.is(out[i], (f(plus) - f(minus)) / (2 * mu)), `coordinate ${i}`);
    }
  });

  it("forward differences (the default, DeepZero's) use |S| + 1 evaluations and are O(μ) from ∇f", async () => {
    const { objective, f, gradient, calls } = smoothObjective(layout);
    const mu = 1e-6;
    const out = layout.zeros();
    const estimator = coordinateGradientEstimator(objective, { stepSize: mu, mask: sparseMask() });
    assert.equal(estimator.evaluationsPerEstimate, 14);
    await estimator.estimate(theta, out);
    assert.equal(calls.value, 14);
    const g = gradient(theta);
    const base = f(theta);
    for (const i of [...selected, 13]) {
      const plus = Float64Array.from(theta);
      plus[i] += mu;
      assert.ok(Object.is(out[i], (f(plus) - base) / (plus[i] - theta[i])), `coordinate ${i}`);
      assert.ok(Math.abs(out[i] - g[i]) < 1e-4, `coordinate ${i}: ${out[i]} vs ${g[i]}`);
    }
  });

  for (const difference of ["forward", "central"] as const) {
    it(`batched and one-at-a-time evaluation agree bit for bit (${difference})`, async () => {
      const reference = smoothObjective(layout);
      const expected = layout.zeros();
      const expectedLoss = await coordinateGradientEstimator(reference.objective, {
        difference,
        mask: sparseMask(),
      }).estimate(theta, expected);
      for (const batchSize of [1, 4, 7, 64]) {
        const { objective, valueBatch, calls } = smoothObjective(layout);
        const checked: ValueBatch = (points) => {
          for (const p of points) {
            let differing = 0;
            for (let i = 0; i < p.length; i++) if (!Object.is(p[i], theta[i])) differing++;
            assert.ok(differing <= 1, "a batched point differs from θ in at most one coordinate");
          }
          return valueBatch(points);
        };
        const out = layout.zeros();
        const estimator = coordinateGradientEstimator(objective, {
          difference,
          mask: sparseMask(),
          valueBatch: checked,
          batchSize,
        });
        const loss = await estimator.estimate(theta, out);
        assertSameBits(out, expected, `batchSize ${batchSize}`);
        assert.ok(Object.is(loss, expectedLoss));
        const points = estimator.evaluationsPerEstimate;
        assert.equal(calls.points, points);
        assert.equal(calls.batches, Math.ceil(points / Math.min(batchSize, points)));
        assert.equal(calls.value, 0, "no one-at-a-time calls when batched");
      }
    });
  }

  it("uses the objective's own valueBatch hook when it has one", async () => {
    const { objective, valueBatch, calls } = smoothObjective(layout);
    const batched = { ...objective, valueBatch };
    await coordinateGradientEstimator(batched, { batchSize: 100 }).estimate(theta, layout.zeros());
    assert.equal(calls.batches, 1);
    assert.equal(calls.value, 0);
  });

  it("takes a bare function (params) => number with its layout", async () => {
    const { objective, f } = smoothObjective(layout);
    const expected = layout.zeros();
    const out = layout.zeros();
    await coordinateGradientEstimator(objective, { mask: sparseMask() }).estimate(theta, expected);
    await coordinateGradientEstimator((x: FloatArray) => f(x), {
      mask: sparseMask(),
      layout,
    }).estimate(theta, out);
    assertSameBits(out, expected, "function and objective");
    assertInvalidArgument(
      () => coordinateGradientEstimator((x: FloatArray) => f(x)),
      "layout",
      undefined,
    );
    assertInvalidArgument(() => coordinateGradientEstimator(objective, { layout: 3 }), "layout", 3);
  });

  it("restores θ bit for bit after in-place perturbation, even when the objective throws", async () => {
    const layout32 = netLayout("float32");
    const x = fillUniform(layout32.zeros(), 33);
    x[1] = -0;
    x[2] = 1e-30;
    const before = new Uint8Array(x.buffer.slice(0));
    const { objective } = smoothObjective(layout32);
    const out = layout32.zeros();
    for (const difference of ["forward", "central"] as const) {
      await coordinateGradientEstimator(objective, { difference }).estimate(x, out);
      assert.deepEqual(new Uint8Array(x.buffer), before, `θ after a ${difference} estimate`);
    }
    let calls = 0;
    const failing: Objective = {
      name: "failing",
      layout: layout32,
      value(p) {
        if (++calls === 5) throw new Error("model crashed");
        return p[0];
      },
    };
    const untouched = layout32.zeros().fill(7);
    await assert.rejects(
      coordinateGradientEstimator(failing).estimate(x, untouched),
      /model crashed/,
    );
    assert.deepEqual(new Uint8Array(x.buffer), before, "θ after a failed estimate");
    assertSameBits(untouched, layout32.zeros().fill(7), "out after a failed estimate");
  });

  it("divides by the step actually taken in float32", async () => {
    const layout32 = new Layout([{ name: "x", shape: [1] }], "float32");
    const x = Float32Array.of(1.1);
    const objective: Objective = { name: "identity", layout: layout32, value: (p) => p[0] };
    const out = layout32.zeros();
    await coordinateGradientEstimator(objective, { stepSize: 5e-3 }).estimate(x, out);
    // f is the identity: the quotient of the rounded step by itself is exactly 1 (dividing by
    // μ = 5e-3 instead would give 1.0000…(float32 rounding of the step)).
    assert.equal(out[0], 1);
  });

  it("rejects a step that vanishes in the parameters' precision, naming the coordinate", async () => {
    const layout32 = netLayout("float32");
    const x = layout32.zeros();
    x[17] = 1e6;
    const { objective } = smoothObjective(layout32);
    await assert.rejects(
      coordinateGradientEstimator(objective).estimate(x, layout32.zeros()),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.parameter === "stepSize" &&
        e.message.includes("head.weight[1]"),
    );
  });

  it("rejects bad options, naming parameter and value", () => {
    const { objective } = smoothObjective(layout);
    assertInvalidArgument(
      () => coordinateGradientEstimator(objective, { stepSize: 0 }),
      "stepSize",
      0,
    );
    assertInvalidArgument(
      () => coordinateGradientEstimator(objective, { difference: "backward" as "forward" }),
      "difference",
      "backward",
    );
    assertInvalidArgument(
      () => coordinateGradientEstimator(objective, { batchSize: 0 }),
      "batchSize",
      0,
    );
    assertInvalidArgument(
      () => coordinateGradientEstimator(objective, { step: 1 } as object),
      "step",
      1,
    );
    assert.throws(
      () => coordinateGradientEstimator(objective, { mask: new Uint8Array(3) }),
      ShapeMismatchError,
    );
    const batchAnswersWrong: ValueBatch = () => [1];
    return assert.rejects(
      coordinateGradientEstimator(objective, { valueBatch: batchAnswersWrong }).estimate(
        theta,
        layout.zeros(),
      ),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "valueBatch result",
    );
  });

  it("drives an ordinary optimizer from function values alone", async () => {
    // f = Σ a_i (x_i − c_i)²/2: central differences of a quadratic are exact up to rounding.
    const a = [1, 2, 0.5, 1.5];
    const c = [0.3, -0.7, 1.1, 0];
    const quadLayout = new Layout([{ name: "x", shape: [4] }], "float64");
    const objective: Objective = {
      name: "quadratic",
      layout: quadLayout,
      value: (x) => a.reduce((s, ai, i) => s + (ai * (x[i] - c[i]) ** 2) / 2, 0),
    };
    const params = new ParamSet(quadLayout);
    const opt = new Optimizer(params, sgd({ learningRate: 0.5 }));
    const cge = coordinateGradientObjective(objective, { difference: "central" });
    for (let k = 0; k < 60; k++) await opt.step(cge);
    assertClose(params.data, c, 1e-6, "minimizer");
  });
});

describe("CGE on a jax-js model, batched through vmap", () => {
  it("one vmapped forward per batch agrees with one forward per point, and with the gradient", async () => {
    // Logistic regression f(w) = mean_i log(1 + exp(−y_i·x_iᵀw)) on fixed data.
    const rows = 40;
    const d = 6;
    const x = new Float32Array(rows * d).map((_, i) => Math.sin(1.3 * i));
    const y = new Float32Array(rows).map((_, i) => (i % 3 === 0 ? 1 : -1));
    const loss = (w: JaxArray, xs: JaxArray, ys: JaxArray): JaxArray =>
      np.mean(np.log1p(np.exp(np.negative(np.multiply(ys, np.matmul(xs, w))))));
    const stackedLoss = vmap(loss, [0, null, null]);
    const wLayout = new Layout([{ name: "w", shape: [d] }], "float32");
    let forwardPasses = 0;
    const model = {
      name: "jax-logistic",
      layout: wLayout,
      async value(w: FloatArray) {
        forwardPasses++;
        const out = loss(jaxArray(w), jaxArray(x, [rows, d]), jaxArray(y));
        return (await out.data())[0];
      },
      async valueBatch(points: readonly FloatArray[]) {
        forwardPasses++;
        const stacked = new Float32Array(points.length * d);
        points.forEach((p, k) => stacked.set(p, k * d));
        const out = stackedLoss(
          jaxArray(stacked, [points.length, d]),
          jaxArray(x, [rows, d]),
          jaxArray(y),
        );
        return out.data();
      },
    };
    const w = Float32Array.from({ length: d }, (_, i) => 0.3 * Math.cos(i));
    const options = { difference: "central" as const, stepSize: 1e-2, batchSize: 16 };
    const batched = wLayout.zeros();
    await coordinateGradientEstimator(model, options).estimate(w, batched);
    assert.equal(forwardPasses, 1, "2·6 + 1 = 13 points in one vmapped forward pass");
    const single = wLayout.zeros();
    await coordinateGradientEstimator({ ...model, valueBatch: undefined }, options).estimate(
      w,
      single,
    );
    assert.equal(forwardPasses, 14);
    // vmap may reduce in another order than the single forward: float32 rounding of f (~1e-7)
    // divided by the step 2μ = 0.02.
    assertClose(batched, single, 5e-5, "batched vs single", UNIT_FLOOR);
    // Exact gradient in float64: −mean_i y_i·σ(−y_i·x_iᵀw)·x_i.
    const gradient = new Float64Array(d);
    for (let i = 0; i < rows; i++) {
      let margin = 0;
      for (let j = 0; j < d; j++) margin += x[i * d + j] * w[j];
      const s = 1 / (1 + Math.exp(y[i] * margin));
      for (let j = 0; j < d; j++) gradient[j] -= (y[i] * s * x[i * d + j]) / rows;
    }
    assertClose(batched, gradient, 1e-4, "batched vs gradient", UNIT_FLOOR);
  });
});

describe("randomCoordinateMask (DeepZero's layer-wise random sparsity)", () => {
  it("keeps round(density·size) coordinates of each pruned tensor and every unpruned one", () => {
    const mask = randomCoordinateMask(layout, { density: 0.3, seed: 2 });
    const count = (start: number, end: number) =>
      mask.subarray(start, end).reduce((s, m) => s + m, 0);
    assert.equal(count(0, 12), Math.round(0.3 * 12));
    assert.equal(count(12, 16), 4, "the bias (one dimension) is kept whole");
    assert.equal(count(16, 24), Math.round(0.3 * 8));
    assert.ok(mask.every((m) => m === 0 || m === 1));
  });

  it("is a function of (seed, stream): same mask again, other streams re-draw", () => {
    const a = randomCoordinateMask(layout, { density: 0.5, seed: 4, stream: 1 });
    assertSameBits(a, randomCoordinateMask(layout, { density: 0.5, seed: 4, stream: 1 }), "mask");
    const draws = new Set<string>();
    for (let stream = 0; stream < 8; stream++) {
      draws.add(randomCoordinateMask(layout, { density: 0.5, seed: 4, stream }).join(""));
    }
    assert.ok(draws.size > 4, `only ${draws.size} distinct masks in 8 streams`);
  });

  it("picks coordinates uniformly (each kept about density of the time)", () => {
    const big = new Layout([{ name: "w", shape: [10, 10] }]);
    const hits = new Float64Array(100);
    const draws = 2000;
    for (let stream = 0; stream < draws; stream++) {
      const m = randomCoordinateMask(big, { density: 0.2, seed: 1, stream });
      for (let i = 0; i < 100; i++) hits[i] += m[i];
    }
    // Each coordinate is kept with probability 0.2: standard deviation √(0.2·0.8/2000) ≈ 0.009.
    for (let i = 0; i < 100; i++) {
      assert.ok(Math.abs(hits[i] / draws - 0.2) < 0.05, `coordinate ${i}: ${hits[i] / draws}`);
    }
  });

  it("honours the prune selector and the edges of density", () => {
    assert.ok(randomCoordinateMask(layout, { density: 1 }).every((m) => m === 1));
    const none = randomCoordinateMask(layout, { density: 0, prune: () => true });
    assert.ok(none.every((m) => m === 0));
    assertInvalidArgument(() => randomCoordinateMask(layout, { density: 1.5 }), "density", 1.5);
  });
});
