import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { subset } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { InvalidArgumentError, MissingOracleError, NonFiniteError } from "../../src/errors.js";
import type { Objective } from "../../src/oracles/objective.js";
import { mlpClassifier } from "../../src/oracles/problems/mlp.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { sgd } from "../../src/optim/sgd.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { normal, rademacher } from "../../src/random/distributions.js";
import {
  forwardGradientEstimator,
  forwardGradientObjective,
} from "../../src/zo/forwardGradient.js";
import { assertClose, assertInvalidArgument, assertSameBits } from "../helpers/assertions.js";
import { fillUniform } from "../helpers/inputs.js";

const layout = new Layout(
  [
    { name: "w", shape: [2, 2] },
    { name: "b", shape: [2] },
  ],
  "float64",
);
const d = layout.size;

/**
 * f(x) = ½ xᵀAx − cᵀx with A = MᵀM + I (symmetric positive definite), so ∇f = Ax − c and the
 * directional derivative along v is (Ax − c)·v: closed forms for every oracle. Counts jvp calls.
 */
function quadratic() {
  const m = fillUniform(new Float64Array(d * d), 11);
  const a = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let s = i === j ? 1 : 0;
      for (let k = 0; k < d; k++) s += m[k * d + i] * m[k * d + j];
      a[i * d + j] = s;
    }
  }
  const c = fillUniform(new Float64Array(d), 12);
  const gradient = (x: ArrayLike<number>) => {
    const g = new Float64Array(d);
    for (let i = 0; i < d; i++) {
      let s = -c[i];
      for (let j = 0; j < d; j++) s += a[i * d + j] * x[j];
      g[i] = s;
    }
    return g;
  };
  const counts = { jvp: 0, value: 0 };
  const objective = {
    name: "quadratic",
    layout,
    value(x: FloatArray) {
      counts.value++;
      const g = gradient(x);
      let f = 0;
      for (let i = 0; i < d; i++) f += 0.5 * x[i] * (g[i] - c[i]);
      return f;
    },
    jvp(x: FloatArray, v: FloatArray) {
      counts.jvp++;
      const g = gradient(x);
      let s = 0;
      for (let i = 0; i < d; i++) s += g[i] * v[i];
      return s;
    },
  } satisfies Objective;
  return { objective, gradient, counts };
}

const theta = fillUniform(layout.zeros(), 13);

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe("forward gradient: random directions", () => {
  for (const distribution of ["normal", "rademacher"] as const) {
    it(`is unbiased with ${distribution} directions (mean of 20000 estimates within 5 standard errors)`, async () => {
      const { objective, gradient } = quadratic();
      const estimator = forwardGradientEstimator(objective, {
        distribution,
        seed: 5,
        evaluateLoss: false,
      });
      const g = gradient(theta);
      const norm2 = dot(g, g);
      const samples = 20000;
      const sum = new Float64Array(d);
      const out = layout.zeros();
      for (let t = 0; t < samples; t++) {
        await estimator.estimate(theta, out, t);
        for (let i = 0; i < d; i++) sum[i] += out[i];
      }
      for (let i = 0; i < d; i++) {
        // Per-coordinate variance of (g·v)v: ‖g‖² + g_i² for N(0, I), ‖g‖² − g_i² for ±1 entries.
        const variance = distribution === "normal" ? norm2 + g[i] ** 2 : norm2 - g[i] ** 2;
        const standardError = Math.sqrt(variance / samples);
        const mean = sum[i] / samples;
        assert.ok(
          Math.abs(mean - g[i]) <= 5 * standardError,
          `coordinate ${i}: mean ${mean} vs gradient ${g[i]} (standard error ${standardError})`,
        );
      }
    });
  }

  it("averages n directions drawn from elements k·d … of the stream (seed, step)", async () => {
    const { objective, gradient, counts } = quadratic();
    const seed = 9;
    const step = 4;
    const n = 3;
    const out = layout.zeros();
    const loss = await forwardGradientEstimator(objective, { directions: n, seed }).estimate(
      theta,
      out,
      step,
    );
    assert.equal(counts.jvp, n);
    assert.equal(loss, objective.value(theta));
    const g = gradient(theta);
    const expected = new Float64Array(d);
    for (let k = 0; k < n; k++) {
      const v = Array.from({ length: d }, (_, i) => normal(seed, step, k * d + i));
      const slope = dot(g, v);
      for (let i = 0; i < d; i++) expected[i] += (slope * v[i]) / n;
    }
    assertClose(out, expected, 1e-13, "estimate");
  });

  it("writes exactly (∇f·v)·v with the Rademacher direction of the step", async () => {
    const { objective, gradient } = quadratic();
    const out = layout.zeros();
    await forwardGradientEstimator(objective, { distribution: "rademacher", seed: 3 }).estimate(
      theta,
      out,
      7,
    );
    const v = Array.from({ length: d }, (_, i) => rademacher(3, 7, i));
    const slope = dot(gradient(theta), v);
    assertSameBits(
      out,
      v.map((x) => slope * x),
      "estimate",
    );
  });

  it("is a pure function of (θ, seed, step): same bits again, other steps and seeds differ", async () => {
    const { objective } = quadratic();
    const a = layout.zeros();
    const b = layout.zeros();
    const c = layout.zeros();
    const e = forwardGradientEstimator(objective, { seed: 1 });
    await e.estimate(theta, a, 10);
    await e.estimate(theta, c, 11);
    await e.estimate(theta, b, 10);
    assertSameBits(a, b, "same step");
    assert.notDeepEqual(Array.from(a), Array.from(c));
    await forwardGradientEstimator(objective, { seed: 2 }).estimate(theta, c, 10);
    assert.notDeepEqual(Array.from(a), Array.from(c));
  });
});

describe("forward gradient: guessed directions (projection)", () => {
  const guessOf =
    (u: ArrayLike<number>) =>
    (_params: FloatArray, out: FloatArray): void => {
      for (let i = 0; i < d; i++) out[i] = u[i];
    };

  it("projects the gradient onto the guess: (∇f·U/‖U‖²)·U, and returns ∇f for U = ∇f", async () => {
    const { objective, gradient, counts } = quadratic();
    const u = fillUniform(new Float64Array(d), 21);
    const out = layout.zeros();
    await forwardGradientEstimator(objective, { guess: guessOf(u) }).estimate(theta, out, 0);
    assert.equal(counts.jvp, 1);
    const g = gradient(theta);
    const coefficient = dot(g, u) / dot(u, u);
    assertClose(
      out,
      Array.from(u, (x) => coefficient * x),
      1e-14,
      "projection",
    );
    await forwardGradientEstimator(objective, { guess: guessOf(g) }).estimate(theta, out, 0);
    assertClose(out, g, 1e-14, "projection onto the gradient itself");
  });

  it("projects per tensor with projection: 'tensor' (one JVP per tensor)", async () => {
    const { objective, gradient, counts } = quadratic();
    const u = fillUniform(new Float64Array(d), 22);
    const out = layout.zeros();
    await forwardGradientEstimator(objective, {
      guess: guessOf(u),
      projection: "tensor",
    }).estimate(theta, out, 0);
    assert.equal(counts.jvp, layout.tensors.length);
    const g = gradient(theta);
    const expected = new Float64Array(d);
    for (const t of layout.tensors) {
      const end = t.offset + t.size;
      const coefficient =
        dot(g.subarray(t.offset, end), u.subarray(t.offset, end)) /
        dot(u.subarray(t.offset, end), u.subarray(t.offset, end));
      for (let i = t.offset; i < end; i++) expected[i] = coefficient * u[i];
    }
    assertClose(out, expected, 1e-14, "per-tensor projection");
  });

  it("hands the guess the params and the step; a zero guess gives zero without a JVP", async () => {
    const { objective, counts } = quadratic();
    const seen: number[] = [];
    const fg = forwardGradientObjective(objective, {
      guess: (params, _out, step) => {
        assert.equal(params, theta);
        seen.push(step);
      },
    });
    const out = layout.zeros().fill(7);
    await fg.valueAndGrad(theta, out);
    await fg.valueAndGrad(theta, out);
    assert.deepEqual(seen, [0, 1]);
    assert.equal(counts.jvp, 0);
    assertSameBits(out, new Float64Array(d), "zero guess");
  });

  it("rejects a non-finite guess naming the tensor and index", async () => {
    const { objective } = quadratic();
    const u = new Float64Array(d);
    u[5] = NaN;
    const fg = forwardGradientObjective(objective, { guess: guessOf(u) });
    await assert.rejects(fg.valueAndGrad(theta, layout.zeros()), (e: unknown) => {
      assert.ok(e instanceof NonFiniteError);
      assert.equal(e.tensor, "b");
      assert.equal(e.index, 1);
      return true;
    });
    assert.equal(fg.step, 0, "a failed estimate does not advance the step");
  });
});

describe("forward gradient: objective wrapper and validation", () => {
  it("advances its step per call; setting the step back redraws the same estimate", async () => {
    const { objective } = quadratic();
    const fg = forwardGradientObjective(objective, { seed: 4 });
    const first = layout.zeros();
    const again = layout.zeros();
    const loss = await fg.valueAndGrad(theta, first);
    assert.equal(loss, objective.value(theta));
    assert.equal(fg.step, 1);
    fg.step = 0;
    await fg.valueAndGrad(theta, again);
    assertSameBits(first, again, "replayed step 0");
    assert.equal(await fg.value(theta), objective.value(theta));
  });

  it("leaves the output and the step untouched when a JVP throws", async () => {
    const { objective } = quadratic();
    let calls = 0;
    const flaky = {
      ...objective,
      jvp(x: FloatArray, v: FloatArray) {
        if (++calls === 2) throw new Error("device lost");
        return objective.jvp(x, v);
      },
    };
    const out = layout.zeros().fill(7);
    const fg = forwardGradientObjective(flaky, { directions: 3 });
    await assert.rejects(fg.valueAndGrad(theta, out), /device lost/);
    assertSameBits(out, layout.zeros().fill(7), "out");
    assert.equal(fg.step, 0);
  });

  it("asks for the jvp oracle by name", () => {
    const noJvp: Objective = { name: "values-only", layout, value: () => 0 };
    assert.throws(
      () => forwardGradientObjective(noJvp),
      (e: unknown) => e instanceof MissingOracleError && e.oracle === "jvp",
    );
  });

  it("rejects bad options and inputs, naming parameter and value", async () => {
    const { objective } = quadratic();
    assertInvalidArgument(
      () => forwardGradientEstimator(objective, { directions: 0 }),
      "directions",
      0,
    );
    assertInvalidArgument(() => forwardGradientEstimator(objective, { seed: -1 }), "seed", -1);
    assertInvalidArgument(
      () => forwardGradientEstimator(objective, { distribution: "uniform" as "normal" }),
      "distribution",
      "uniform",
    );
    assertInvalidArgument(
      () => forwardGradientEstimator(objective, { projection: "tensor" }),
      "projection",
      "tensor",
    );
    assertInvalidArgument(
      () => forwardGradientEstimator(objective, { guess: () => undefined, directions: 2 }),
      "directions",
      2,
    );
    assertInvalidArgument(
      () => forwardGradientEstimator(objective, { directons: 2 } as object),
      "directons",
      2,
    );
    const estimator = forwardGradientEstimator(objective);
    await assert.rejects(estimator.estimate(theta, layout.zeros(), 1.5), InvalidArgumentError);
    await assert.rejects(estimator.estimate(theta, new Float64Array(3), 0), /expected 6 elements/);
  });
});

describe("forward gradient on a jax-js perceptron", () => {
  const digits = loadDigits();
  const rows = subset(
    digits,
    Array.from({ length: 200 }, (_, i) => i * 8),
  );

  it("jvp equals the reverse-mode gradient dotted with v, and a finite difference along v", async () => {
    const model = await mlpClassifier(rows, { hidden: 8, dtype: "float64" });
    try {
      const p = model.initialParams();
      const g = model.layout.zeros();
      await model.valueAndGrad(p, g);
      const v = model.layout.zeros();
      for (let i = 0; i < v.length; i++) v[i] = normal(0, 0, i);
      const slope = await model.jvp(p, v);
      // jax-js evaluates tanh and log to about float32 accuracy even in float64.
      assert.ok(Math.abs(slope - dot(g, v)) <= 1e-6 * Math.abs(slope), `${slope} vs ${dot(g, v)}`);
      const h = 1e-3;
      const plus = p.map((x, i) => x + h * v[i]);
      const minus = p.map((x, i) => x - h * v[i]);
      const difference = ((await model.value(plus)) - (await model.value(minus))) / (2 * h);
      assert.ok(
        Math.abs(slope - difference) <= 1e-3 * Math.abs(slope),
        `${slope} vs ${difference}`,
      );
      // The estimate is that slope times the step's direction.
      const out = model.layout.zeros();
      await forwardGradientEstimator(model, { seed: 0, evaluateLoss: false }).estimate(p, out, 0);
      for (let i = 0; i < out.length; i += 97) {
        assert.ok(Math.abs(out[i] - slope * v[i]) <= 1e-12 * Math.abs(slope * v[i]) + 1e-300);
      }
    } finally {
      model.dispose();
    }
  });

  it("trains it through an ordinary SGD optimizer with no backward pass, deterministically", async () => {
    const model = await mlpClassifier(rows, { hidden: 8 });
    try {
      const train = async () => {
        const params = model.paramSet();
        const opt = new Optimizer(params, sgd({ learningRate: 0.05 }));
        const fg = forwardGradientObjective(model, { seed: 1 });
        const start = await model.value(params.data);
        for (let s = 0; s < 100; s++) await opt.step(fg);
        return { start, end: await model.value(params.data), params: params.data.slice() };
      };
      const a = await train();
      const b = await train();
      // 610 parameters, one direction per step: 2.58 falls to about 1.79 in 100 steps.
      assert.ok(a.end < 0.8 * a.start, `loss ${a.start} → ${a.end}`);
      assertSameBits(a.params, b.params, "two runs with the same seed");
    } finally {
      model.dispose();
    }
  });
});
