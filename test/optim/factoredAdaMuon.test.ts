import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError } from "../../src/errors.js";
import { scaleByAdam } from "../../src/optim/adam.js";
import type {
  FactoredAdaMuonOptions,
  FactoredVarianceCompatibility,
  FactoredVarianceState,
} from "../../src/optim/factoredAdaMuon.js";
import { factoredAdaMuon, scaleByFactoredVariance } from "../../src/optim/factoredAdaMuon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { cosineDecay } from "../../src/optim/schedules.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameState,
  snapshotState,
} from "../helpers/assertions.js";
import { loadCases, paramsFrom } from "../helpers/conformance.js";
import { fillUniform, sampleGradients, seededUniform } from "../helpers/inputs.js";
import { polarFactor } from "../linalg/matrixReference.js";

const matrices = new Layout(
  [
    { name: "tall", shape: [5, 3] },
    { name: "wide", shape: [2, 4] },
    { name: "filter", shape: [2, 2, 3] },
  ],
  "float64",
);

const withBias = new Layout([...matrices.tensors, { name: "bias", shape: [3] }], "float64");

/** The matrix view [shape[0], rest] of a tensor with two or more dimensions. */
function view(shape: readonly number[]): { rows: number; cols: number } {
  const rows = shape[0];
  return { rows, cols: shape.reduce((a, b) => a * b, 1) / rows };
}

/**
 * Adafactor's estimate from the full running second moment V (rows×cols): with R = V·1 and
 * C = 1ᵀ·V, V̂ = R·Cᵀ/(1ᵀR), times `aspect`.
 */
function adafactorEstimate(v: Float64Array, rows: number, cols: number, aspect = 1) {
  const r = new Float64Array(rows);
  const c = new Float64Array(cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) {
      r[i] += v[i * cols + j];
      c[j] += v[i * cols + j];
    }
  }
  const total = r.reduce((a, b) => a + b, 0);
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) {
    for (let j = 0; j < cols; j++) out[i * cols + j] = (aspect * r[i] * c[j]) / total;
  }
  return out;
}

/**
 * The factored variance scaling from its dense definition: V ← β₂V + (1 − β₂)u² in full, V̂
 * Adafactor's rank-one estimate of V (V itself for vectors), u ← u/(√(V̂/(1 − β₂ᵗ)) + ε).
 */
function referenceFactoredScaling(
  layout: Layout,
  o: { beta2: number; eps: number; compatibility: FactoredVarianceCompatibility },
) {
  const moments = layout.tensors.map((t) => new Float64Array(t.size));
  let t = 0;
  return (u: Float64Array) => {
    t++;
    const out = new Float64Array(u.length);
    for (const [k, spec] of layout.tensors.entries()) {
      const v = moments[k];
      for (let i = 0; i < spec.size; i++) {
        v[i] = o.beta2 * v[i] + (1 - o.beta2) * u[spec.offset + i] ** 2;
      }
      let estimate = v;
      if (spec.shape.length >= 2) {
        const { rows, cols } = view(spec.shape);
        const aspect = o.compatibility === "matrix-whitening" ? cols / rows : 1;
        estimate = adafactorEstimate(v, rows, cols, aspect);
      }
      for (let i = 0; i < spec.size; i++) {
        const root = Math.sqrt(estimate[i] / (1 - o.beta2 ** t));
        out[spec.offset + i] = u[spec.offset + i] / (root + o.eps);
      }
    }
    return out;
  };
}

/** Runs `transform` alone over `inputs`, returning each output. */
function drive(transform: GradientTransform, layout: Layout, inputs: readonly FloatArray[]) {
  const state = transform.init(layout);
  const ctx = { params: layout.zeros(), layout };
  return inputs.map((x) => {
    const u = Float64Array.from(x);
    void transform.update(u, state, ctx);
    return u;
  });
}

/** Seeded inputs whose scale changes from step to step, as an optimizer's updates do. */
function varyingInputs(layout: Layout, steps: number): Float64Array[] {
  return sampleGradients(layout, steps).map((g, k) =>
    Float64Array.from(g, (x) => x * (1 + 0.5 * Math.sin(k))),
  );
}

describe("scaleByFactoredVariance (Adafactor's rank-one second moment)", () => {
  for (const compatibility of ["adafactor", "matrix-whitening"] as const) {
    it(`equals the dense definition: rank-one estimate of the full running moment (${compatibility})`, () => {
      const o = { beta2: 0.8, eps: 1e-6, compatibility };
      const reference = referenceFactoredScaling(withBias, o);
      const inputs = varyingInputs(withBias, 6);
      const outputs = drive(scaleByFactoredVariance(o), withBias, inputs);
      for (const [k, u] of inputs.entries()) {
        assertClose(outputs[k], reference(u), 1e-12, `step ${k + 1}`);
      }
    });
  }

  it("is exact when the second moment has rank one: it then matches Adam with β₁ = 0", () => {
    // u_ij = ±a_i·b_j·c_t: every u² is the rank-one a²·b²ᵀ times c_t², and so is their average.
    const next = seededUniform(21);
    const a = Float64Array.from({ length: 5 }, () => 1 + next());
    const b = Float64Array.from({ length: 3 }, () => 1 + next());
    const l = new Layout([{ name: "w", shape: [5, 3] }], "float64");
    const inputs = Array.from({ length: 6 }, (_, k) =>
      Float64Array.from({ length: 15 }, (_, q) => {
        const signOf = next() < 0 ? -1 : 1;
        return signOf * a[Math.floor(q / 3)] * b[q % 3] * (1 + k);
      }),
    );
    const options = { beta2: 0.9, eps: 1e-8 };
    const factored = drive(scaleByFactoredVariance(options), l, inputs);
    const adam = drive(scaleByAdam({ beta1: 0, ...options }), l, inputs);
    for (const [k, u] of factored.entries()) assertClose(u, adam[k], 1e-12, `step ${k + 1}`);
  });

  it("the reference code's form steps √(rows/cols) times as far (ε = 0)", () => {
    const inputs = varyingInputs(matrices, 4);
    const consistent = drive(scaleByFactoredVariance({ eps: 0 }), matrices, inputs);
    const reference = drive(
      scaleByFactoredVariance({ eps: 0, compatibility: "matrix-whitening" }),
      matrices,
      inputs,
    );
    for (const [k, u] of consistent.entries()) {
      const expected = u.slice();
      for (const spec of matrices.tensors) {
        const { rows, cols } = view(spec.shape);
        for (let i = 0; i < spec.size; i++) expected[spec.offset + i] *= Math.sqrt(rows / cols);
      }
      assertClose(reference[k], expected, 1e-13, `step ${k + 1}`);
    }
  });

  it("keeps rows + cols numbers per matrix and a full moment for vectors", () => {
    const state = scaleByFactoredVariance().init(withBias);
    const sizes = Object.fromEntries(
      Object.entries(state.factors).map(([name, f]) => [
        name,
        Object.fromEntries(
          Object.entries(f as State).map(([key, buffer]) => [key, (buffer as FloatArray).length]),
        ),
      ]),
    );
    assert.deepEqual(sizes, {
      tall: { rowMeans: 5, columnMeans: 3 },
      wide: { rowMeans: 2, columnMeans: 4 },
      filter: { rowMeans: 2, columnMeans: 6 },
      bias: { full: 3 },
    });
  });

  it("leaves a zero update at zero", () => {
    const [u] = drive(scaleByFactoredVariance(), withBias, [withBias.zeros()]);
    assert.ok(u.every((x) => x === 0));
  });

  it("overflowing squares throw, naming the tensor, and leave the state untouched", () => {
    const transform = scaleByFactoredVariance();
    const state: FactoredVarianceState = transform.init(withBias);
    const ctx = { params: withBias.zeros(), layout: withBias };
    void transform.update(fillUniform(withBias.zeros(), 3), state, ctx);
    const before = snapshotState(state);
    assert.throws(
      () => transform.update(fillUniform(withBias.zeros(), 4, 1e200), state, ctx),
      (e: unknown) =>
        e instanceof NonFiniteError && e.tensor === "tall" && /row means/.test(e.message),
    );
    assertSameState(state, before);
  });
});

/**
 * kvfrans/matrix-whitening `make_adamuon` with `v_adafactor=True`, one matrix at a time, with
 * the exact polar factor: M ← β₁M + (1−β₁)G, O = polar(M/(1−β₁ᵗ))·√max(1, cols/rows),
 * ρ ← β₂ρ + (1−β₂)·(row means of O²), γ ← β₂γ + (1−β₂)·(column means of O²),
 * V̂ = κ·ρ·γᵀ/mean(ρ) with κ = 1 (Adafactor) or cols/rows (the code), D = O/(√(V̂/(1−β₂ᵗ)) + ε),
 * θ ← θ − lr·(D + wd·θ).
 */
function referenceFactoredAdaMuon(o: {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
  compatibility: FactoredVarianceCompatibility;
}) {
  const state = new Map<string, { m: Float64Array; rho: Float64Array; gamma: Float64Array }>();
  let t = 0;
  return (params: ParamSet, grad: ArrayLike<number>) => {
    t++;
    for (const spec of params.layout.tensors) {
      const { rows, cols } = view(spec.shape);
      if (!state.has(spec.name)) {
        state.set(spec.name, {
          m: new Float64Array(spec.size),
          rho: new Float64Array(rows),
          gamma: new Float64Array(cols),
        });
      }
      const { m, rho, gamma } = state.get(spec.name)!;
      const hat = new Float64Array(spec.size);
      for (let i = 0; i < spec.size; i++) {
        m[i] = o.beta1 * m[i] + (1 - o.beta1) * grad[spec.offset + i];
        hat[i] = m[i] / (1 - o.beta1 ** t);
      }
      const scale = Math.sqrt(Math.max(1, cols / rows));
      const orthogonal = polarFactor(hat, rows, cols).map((x) => x * scale);
      for (let i = 0; i < rows; i++) {
        let s = 0;
        for (let j = 0; j < cols; j++) s += orthogonal[i * cols + j] ** 2;
        rho[i] = o.beta2 * rho[i] + (1 - o.beta2) * (s / cols);
      }
      for (let j = 0; j < cols; j++) {
        let s = 0;
        for (let i = 0; i < rows; i++) s += orthogonal[i * cols + j] ** 2;
        gamma[j] = o.beta2 * gamma[j] + (1 - o.beta2) * (s / rows);
      }
      const meanRho = rho.reduce((a, b) => a + b, 0) / rows;
      const kappa = o.compatibility === "matrix-whitening" ? cols / rows : 1;
      const w = params.view(spec.name);
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) {
          const estimate = (kappa * rho[i] * gamma[j]) / meanRho;
          const q = i * cols + j;
          const d = orthogonal[q] / (Math.sqrt(estimate / (1 - o.beta2 ** t)) + o.eps);
          w[q] -= o.lr * (d + o.wd * w[q]);
        }
      }
    }
  };
}

describe("factoredAdaMuon", () => {
  for (const compatibility of ["adafactor", "matrix-whitening"] as const) {
    it(`follows the matrix-whitening code with the factored moment (${compatibility})`, async () => {
      const o = { lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-12, wd: 0.1, compatibility };
      const params = new ParamSet(matrices, fillUniform(matrices.zeros(), 2));
      const expected = new ParamSet(matrices, params.data.slice());
      const opt = new Optimizer(
        params,
        factoredAdaMuon({
          learningRate: o.lr,
          beta1: o.beta1,
          beta2: o.beta2,
          eps: o.eps,
          weightDecay: o.wd,
          compatibility,
          nsCoefficients: "cubic",
          nsSteps: 40,
        }),
      );
      const reference = referenceFactoredAdaMuon(o);
      for (const [k, g] of sampleGradients(matrices, 6).entries()) {
        await opt.update(g);
        reference(expected, g);
        assertClose(params.data, expected.data, 1e-10, `step ${k + 1}`);
      }
    });
  }

  it("converges on the matrix least-squares problem of the conformance fixtures", async () => {
    const c = loadCases("muon")[0];
    const f = conformanceObjective(c.problem);
    const params = paramsFrom(c, c.init);
    const grad = f.layout.zeros();
    await f.valueAndGrad!(params.data, grad);
    const startNorm = Math.hypot(...grad);
    const steps = 400;
    const opt = new Optimizer(
      params,
      factoredAdaMuon({ learningRate: cosineDecay({ start: 0.05, steps }), beta1: 0.5 }),
    );
    for (let i = 0; i < steps; i++) await opt.step(f);
    await f.valueAndGrad!(params.data, grad);
    const endNorm = Math.hypot(...grad);
    assert.ok(endNorm < 1e-4 * startNorm, `‖∇f‖ ${endNorm} from ${startNorm}`);
  });

  it("rejects vectors, naming the tensor, before any state exists", () => {
    assert.throws(
      () => new Optimizer(new ParamSet(withBias), factoredAdaMuon()),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.parameter === "shape of bias" &&
        /\[3\]/.test(e.message),
    );
  });

  it("hyperparameters are checked when the transform is built", () => {
    assertInvalidArgument(() => factoredAdaMuon({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => factoredAdaMuon({ beta2: -0.1 }), "beta2", -0.1);
    assertInvalidArgument(() => factoredAdaMuon({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => factoredAdaMuon({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => factoredAdaMuon({ nsSteps: 1.5 }), "nsSteps", 1.5);
    assertInvalidArgument(
      () =>
        factoredAdaMuon({
          compatibility: "adam" as FactoredVarianceCompatibility,
        }),
      "compatibility",
      "adam",
    );
    assertInvalidArgument(
      () => factoredAdaMuon({ factored: true } as FactoredAdaMuonOptions),
      "factored",
      true,
    );
    assertInvalidArgument(() => scaleByFactoredVariance({ beta2: 1 }), "beta2", 1);
  });
});
