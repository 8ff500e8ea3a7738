import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError } from "../../src/errors.js";
import { adamw } from "../../src/optim/adam.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { cosineDecay } from "../../src/optim/schedules.js";
import type { SplusOptions, SplusState } from "../../src/optim/splus.js";
import { scaleBySplus, splus, splusEvaluationParams } from "../../src/optim/splus.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  snapshotState,
} from "../helpers/assertions.js";
import { loadCases, paramsFrom } from "../helpers/conformance.js";
import { fillUniform, sampleGradients, seededParams } from "../helpers/inputs.js";
import { jacobiEigen, orthonormalColumns, product, transpose } from "../linalg/matrixReference.js";

const layout = new Layout(
  [
    { name: "wide", shape: [3, 4] },
    { name: "tall", shape: [4, 3] },
    { name: "token_embed", shape: [2, 3] },
    { name: "bias", shape: [2] },
    { name: "filter", shape: [2, 2, 2] },
  ],
  "float64",
);

const sign = (x: number) => (x > 0 ? 1 : x < 0 ? -1 : 0);

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

// ---------------------------------------------------------------------------------------------
// The official optax chain (kvfrans/splus optax/splus.py) written out, one tensor at a time

interface ReferenceOptions {
  lr: number;
  beta1: number;
  beta2: number;
  emaRate: number;
  eps: number;
  frequency: number;
  maxDim: number;
  nonstandardScale: number;
  weightDecay: number;
}

interface TensorState {
  m: Float64Array;
  ema: Float64Array;
  l: Float64Array | null;
  r: Float64Array | null;
  ql: Float64Array | null;
  qr: Float64Array | null;
}

/** Eigenvectors (as columns, any order) of S + eps·I, by Jacobi rotations. */
function eigenvectors(s: Float64Array, n: number, eps: number): Float64Array {
  const shifted = s.slice();
  for (let i = 0; i < n; i++) shifted[i * n + i] += eps;
  return jacobiEigen(shifted, n).vectors;
}

function referenceSplus(o: ReferenceOptions) {
  const states = new Map<string, TensorState>();
  let t = 0;
  const lerp = (a: Float64Array, b: Float64Array, beta: number) => {
    for (let i = 0; i < a.length; i++) a[i] = beta * a[i] + (1 - beta) * b[i];
  };
  const step = (params: ParamSet, grad: ArrayLike<number>) => {
    t++;
    for (const spec of params.layout.tensors) {
      const is2d = spec.shape.length === 2;
      const [rows, cols] = is2d ? spec.shape : [0, 0];
      const left = is2d && rows < o.maxDim;
      const right = is2d && cols < o.maxDim;
      let s = states.get(spec.name);
      if (!s) {
        s = {
          m: new Float64Array(spec.size),
          ema: new Float64Array(spec.size),
          l: left ? new Float64Array(rows * rows) : null,
          r: right ? new Float64Array(cols * cols) : null,
          ql: left ? identity(rows) : null,
          qr: right ? identity(cols) : null,
        };
        states.set(spec.name, s);
      }
      const g = Float64Array.from({ length: spec.size }, (_, i) => grad[spec.offset + i]);
      lerp(s.m, g, o.beta1);
      let d: Float64Array;
      if (left || right) {
        let x = s.m;
        if (s.ql) x = product(transpose(s.ql, rows, rows), x, rows, rows, cols);
        if (s.qr) x = product(x, s.qr, rows, cols, cols);
        x = x.map(sign);
        if (s.ql) x = product(s.ql, x, rows, rows, cols);
        if (s.qr) x = product(x, transpose(s.qr, cols, cols), rows, cols, cols);
        d = x;
      } else {
        d = s.m.map(sign);
      }
      if (s.l) lerp(s.l, product(g, transpose(g, rows, cols), rows, cols, rows), o.beta2);
      if (s.r) lerp(s.r, product(transpose(g, rows, cols), g, cols, rows, cols), o.beta2);
      if (t === 1 || t % o.frequency === 0) {
        if (s.l) s.ql = eigenvectors(s.l, rows, o.eps);
        if (s.r) s.qr = eigenvectors(s.r, cols, o.eps);
      }
      const w = params.view(spec.name);
      lerp(s.ema, Float64Array.from(w), o.emaRate);
      const standard = left && right && !/embed|layernorm/i.test(spec.name);
      const scale = standard ? 2 / (rows + cols) : o.nonstandardScale;
      for (let i = 0; i < spec.size; i++) w[i] -= o.lr * scale * (d[i] + o.weightDecay * w[i]);
    }
  };
  /** splus_get_eval_params: the average divided by 1 − ρᵗ. */
  const evaluation = (l: Layout) => {
    const out = l.zeros();
    for (const spec of l.tensors) {
      const ema = states.get(spec.name)!.ema;
      for (let i = 0; i < spec.size; i++) out[spec.offset + i] = ema[i] / (1 - o.emaRate ** t);
    }
    return out;
  };
  return { step, evaluation };
}

const referenceDefaults: ReferenceOptions = {
  lr: 0.1,
  beta1: 0.9,
  beta2: 0.999,
  emaRate: 0.999,
  eps: 1e-30,
  frequency: 3,
  maxDim: 10000,
  nonstandardScale: 0.001,
  weightDecay: 0.01,
};

describe("splus: against the official optax chain written out", () => {
  const cases: [string, Partial<ReferenceOptions>][] = [
    ["official defaults, bases refreshed on step 1 and every 3 steps", {}],
    [
      "other decays, a side limit of 4 (one side of each 3×4 / 4×3 matrix stays unrotated)",
      {
        lr: 0.3,
        beta1: 0.5,
        beta2: 0.8,
        emaRate: 0.7,
        frequency: 2,
        maxDim: 4,
        nonstandardScale: 0.02,
        weightDecay: 0.1,
      },
    ],
  ];
  for (const [title, overrides] of cases) {
    it(title, async () => {
      const o = { ...referenceDefaults, ...overrides };
      const reference = referenceSplus(o);
      const expected = seededParams(layout);
      const params = seededParams(layout);
      const options: SplusOptions = {
        learningRate: o.lr,
        beta1: o.beta1,
        beta2: o.beta2,
        emaRate: o.emaRate,
        eps: o.eps,
        preconditionFrequency: o.frequency,
        maxPreconditionerDim: o.maxDim,
        nonstandardScale: o.nonstandardScale,
        weightDecay: o.weightDecay,
      };
      const opt = new Optimizer(params, splus(options));
      for (const [k, g] of sampleGradients(layout, 8).entries()) {
        await opt.update(g);
        reference.step(expected, g);
        assertClose(params.data, expected.data, 1e-11, `step ${k + 1} parameters`);
        assertClose(
          splusEvaluationParams(opt),
          reference.evaluation(layout),
          1e-11,
          `step ${k + 1} evaluation parameters`,
        );
      }
    });
  }
});

describe("splus: properties of the direction", () => {
  const wide = new Layout([{ name: "w", shape: [3, 4] }], "float64");
  const ctx = { params: wide.zeros(), layout: wide };

  it("in the eigenbasis of the statistics every entry of the direction is ±s, s = 2/(rows + cols)", () => {
    const beta2 = 0.9;
    const transform = scaleBySplus({ beta2 });
    const state = transform.init(wide);
    const [g1, g2] = sampleGradients(wide, 2);
    void transform.update(g1.slice(), state, ctx);
    const d = g2.slice();
    void transform.update(d, state, ctx);
    // The bases of step 2 are those of L = (1 − β₂)·g₁g₁ᵀ and R = (1 − β₂)·g₁ᵀg₁.
    const l = product(g1, transpose(g1, 3, 4), 3, 4, 3).map((x) => (1 - beta2) * x);
    const r = product(transpose(g1, 3, 4), g1, 4, 3, 4).map((x) => (1 - beta2) * x);
    const ql = jacobiEigen(l, 3).vectors;
    const qr = jacobiEigen(r, 4).vectors;
    const inBasis = product(product(transpose(ql, 3, 3), d, 3, 3, 4), qr, 3, 4, 4);
    const s = 2 / 7;
    assertClose(
      inBasis.map((x) => Math.abs(x)),
      new Float64Array(12).fill(s),
      1e-10,
      "|Q_Lᵀ·D·Q_R|",
    );
    const norm = Math.hypot(...d);
    assert.ok(Math.abs(norm - s * Math.sqrt(12)) < 1e-12, `‖D‖ = ${norm}`);
  });

  it("the first step is the sign of the momentum, scaled", () => {
    const transform = scaleBySplus({ beta1: 0.5 });
    const state = transform.init(wide);
    const g = sampleGradients(wide, 1)[0];
    const d = g.slice();
    void transform.update(d, state, ctx);
    assertSameBits(
      d,
      g.map((x) => (2 / 7) * sign(x)),
      "direction",
    );
  });

  it("from the second step on, rotating the gradients (G → U·G·Vᵀ) rotates the directions", () => {
    const u = orthonormalColumns(3, 3, 11);
    const v = orthonormalColumns(4, 4, 12);
    const rotateMatrix = (g: ArrayLike<number>) =>
      product(product(u, g, 3, 3, 4), transpose(v, 4, 4), 3, 4, 4);
    const plain = scaleBySplus({ preconditionFrequency: 2, beta2: 0.9 });
    const turned = scaleBySplus({ preconditionFrequency: 2, beta2: 0.9 });
    const plainState = plain.init(wide);
    const turnedState = turned.init(wide);
    for (const [k, g] of sampleGradients(wide, 6).entries()) {
      const d = g.slice();
      const e = rotateMatrix(g);
      void plain.update(d, plainState, ctx);
      void turned.update(e, turnedState, ctx);
      if (k === 0) continue;
      assertClose(e, rotateMatrix(d), 1e-9, `step ${k + 1}`, { floor: 2 / 7 });
    }
  });

  it("vectors, 3-D tensors and embeddings take sign descent scaled by nonstandardScale", () => {
    const l = new Layout(
      [
        { name: "bias", shape: [3] },
        { name: "conv", shape: [2, 1, 2] },
      ],
      "float64",
    );
    const transform = scaleBySplus({ nonstandardScale: 0.25, beta1: 0 });
    const state = transform.init(l);
    const g = Float64Array.from([0.5, -2, 0, 3, -1e-9, 4, -4]);
    void transform.update(g, state, { params: l.zeros(), layout: l });
    assert.deepEqual(Array.from(g), [0.25, -0.25, 0, 0.25, -0.25, 0.25, -0.25]);
    assert.deepEqual(Object.keys(state.factors.bias as object), []);
  });
});

describe("splus: convergence", () => {
  it("solves the matrix least-squares problem of the conformance fixtures, as do its averaged iterates", async () => {
    const c = loadCases("muon")[0];
    const f = conformanceObjective(c.problem);
    const params = paramsFrom(c, c.init);
    const grad = f.layout.zeros();
    await f.valueAndGrad!(params.data, grad);
    const startNorm = Math.hypot(...grad);
    // A short momentum (β₁ = 0.5) and a decaying rate: sign steps settle only as lr → 0.
    const steps = 400;
    const opt = new Optimizer(
      params,
      splus({
        learningRate: cosineDecay({ start: 0.3, steps }),
        beta1: 0.5,
        weightDecay: 0,
        preconditionFrequency: 10,
        emaRate: 0.9,
      }),
    );
    for (let i = 0; i < steps; i++) await opt.step(f);
    await f.valueAndGrad!(params.data, grad);
    const endNorm = Math.hypot(...grad);
    assert.ok(endNorm < 1e-4 * startNorm, `‖∇f‖ ${endNorm} from ${startNorm}`);
    await f.valueAndGrad!(splusEvaluationParams(opt), grad);
    const averagedNorm = Math.hypot(...grad);
    assert.ok(averagedNorm < 1e-4 * startNorm, `averaged ‖∇f‖ ${averagedNorm}`);
  });
});

describe("splus: evaluation parameters, checkpoints, bad input", () => {
  it("evaluates with the current parameters before any step, and rejects other optimizers", () => {
    const params = seededParams(layout);
    const opt = new Optimizer(params, splus());
    assert.deepEqual(splusEvaluationParams(opt), params.data);
    const other = new Optimizer(seededParams(layout), adamw());
    assert.throws(
      () => splusEvaluationParams(other),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "optimizer",
    );
  });

  it("resumes bit for bit across a basis refresh (float32 parameters)", async () => {
    const l32 = new Layout(layout.tensors, "float32");
    const make = () => splus({ preconditionFrequency: 3 });
    const gradients = sampleGradients(l32, 8);
    const drive = async (opt: Optimizer, gs: FloatArray[]) => {
      for (const g of gs) await opt.update(g);
    };
    const whole = new Optimizer(seededParams(l32), make());
    await drive(whole, gradients);
    const first = new Optimizer(seededParams(l32), make());
    await drive(first, gradients.slice(0, 4));
    const resumed = new Optimizer(new ParamSet(l32), make());
    restoreOptimizer(resumed, serializeOptimizer(first, { includeParams: true }));
    await drive(resumed, gradients.slice(4));
    assertSameBits(resumed.params.data, whole.params.data, "parameters");
    assertSameState(resumed.state, whole.state);
    assertSameBits(splusEvaluationParams(resumed), splusEvaluationParams(whole), "averages");
  });

  it("overflowing statistics throw, naming the tensor, and leave the state untouched", () => {
    const transform: GradientTransform<SplusState> = scaleBySplus({ preconditionFrequency: 2 });
    const state = transform.init(layout);
    const ctx = { params: seededParams(layout).data, layout };
    void transform.update(fillUniform(layout.zeros(), 3), state, ctx);
    const before = snapshotState(state);
    const huge = fillUniform(layout.zeros(), 5, 1e200);
    assert.throws(
      () => transform.update(huge, state, ctx),
      (e: unknown) =>
        e instanceof NonFiniteError && e.tensor === "wide" && /statistic L/.test(e.message),
    );
    assertSameState(state, before);
  });

  it("hyperparameters are checked when the transform is built", () => {
    assertInvalidArgument(() => splus({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => splus({ beta2: -0.1 }), "beta2", -0.1);
    assertInvalidArgument(() => splus({ emaRate: 1 }), "emaRate", 1);
    assertInvalidArgument(() => splus({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => splus({ preconditionFrequency: 0 }), "preconditionFrequency", 0);
    assertInvalidArgument(() => splus({ maxPreconditionerDim: 2.5 }), "maxPreconditionerDim", 2.5);
    assertInvalidArgument(() => splus({ nonstandardScale: -1 }), "nonstandardScale", -1);
    assertInvalidArgument(() => splus({ nonstandard: 3 as unknown as string }), "nonstandard", 3);
    assertInvalidArgument(() => splus({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => splus({ weightDecay: -0.5 }), "weightDecay", -0.5);
    assertInvalidArgument(() => splus({ b1: 0.9 } as SplusOptions), "b1", 0.9);
  });
});
