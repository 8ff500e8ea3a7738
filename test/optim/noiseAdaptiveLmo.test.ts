import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError } from "../../src/errors.js";
import type { AdagoState } from "../../src/optim/adago.js";
import { adago } from "../../src/optim/adago.js";
import { adagradNorm } from "../../src/optim/adagradNorm.js";
import type { LmoNorm } from "../../src/optim/lmo.js";
import { lmo } from "../../src/optim/lmo.js";
import type { NoiseAdaptiveLmoState } from "../../src/optim/noiseAdaptiveLmo.js";
import { noiseAdaptiveLmo } from "../../src/optim/noiseAdaptiveLmo.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import type { DType, TensorSpec } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillNormal } from "../../src/random/distributions.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  partState,
  snapshotState,
} from "../helpers/assertions.js";
import { loadCases, paramsFrom } from "../helpers/conformance.js";
import { fillUniform, sampleLayout } from "../helpers/inputs.js";
import { polarFactor, singularValues } from "../linalg/matrixReference.js";

const STATE = "scaleByNoiseAdaptiveLmo";

const mixed = new Layout(
  [
    { name: "w", shape: [5, 3] },
    { name: "v", shape: [2, 6] },
    { name: "b", shape: [7] },
  ],
  "float64",
);

/** Seeded gradients whose tensors differ in scale (w large, v small, b growing). */
function gradients(layout: Layout, steps: number): Float64Array[] {
  return Array.from({ length: steps }, (_, t) => {
    const g = fillUniform(new Float64Array(layout.size), 60 + t) as Float64Array;
    layout.tensors.forEach((tensor, k) => {
      const scale = [2, 0.05, 0.3 * (t + 1)][k % 3];
      for (let i = tensor.offset; i < tensor.offset + tensor.size; i++) g[i] *= scale;
    });
    return g;
  });
}

type Measure = "dual" | "frobenius";

/** The dual norm of `norm`, written out: nuclear (from the singular values), ℓ1, ℓ2, ℓ∞. */
function dualNorm(norm: LmoNorm, g: Float64Array, shape: readonly number[]): number {
  const abs = Array.from(g, Math.abs);
  if (norm === "linf") return abs.reduce((s, x) => s + x, 0);
  if (norm === "l2") return Math.hypot(...g);
  if (norm === "l1") return Math.max(...abs);
  return singularValues(g, shape[0], g.length / shape[0]).reduce((s, x) => s + x, 0);
}

/** argmax over the unit ball of `norm` of ⟨m, t⟩, written out per norm. */
function unitLmo(norm: LmoNorm, m: Float64Array, shape: readonly number[]): Float64Array {
  if (norm === "linf") return m.map(Math.sign);
  if (norm === "l2") return m.map((x) => x / Math.hypot(...m));
  if (norm === "l1") {
    const k = m.reduce((best, x, i) => (Math.abs(x) > Math.abs(m[best]) ? i : best), 0);
    return m.map((x, i) => (i === k ? Math.sign(x) : 0));
  }
  return polarFactor(m, shape[0], m.length / shape[0]);
}

interface ReferenceOptions {
  eta: number;
  mu: number;
  gamma: number;
  eps: number;
  v0: number;
  measure: Measure;
  norm: (t: TensorSpec) => LmoNorm;
  radius: (t: TensorSpec) => number;
}

/**
 * The update of the file header, tensor by tensor: accumulator of clamped measured norms,
 * momentum, LMO, step max(ε, η·min(n, γ)/v)·ρ. Counts the steps the clamp was active.
 */
function reference(
  layout: Layout,
  start: Float64Array,
  grads: readonly Float64Array[],
  o: ReferenceOptions,
) {
  const params = start.slice();
  const vSquared: number[] = [];
  let clampedSteps = 0;
  for (const t of layout.tensors) {
    const norm = o.norm(t);
    const m = new Float64Array(t.size);
    let v2 = o.v0 * o.v0;
    for (const grad of grads) {
      const g = grad.slice(t.offset, t.offset + t.size);
      const n = o.measure === "frobenius" ? Math.hypot(...g) : dualNorm(norm, g, t.shape);
      if (n > o.gamma) clampedSteps++;
      const c = Math.min(n, o.gamma);
      v2 += c * c;
      for (let i = 0; i < t.size; i++) m[i] = o.mu * m[i] + (1 - o.mu) * g[i];
      const step = Math.max(o.eps, (o.eta * c) / Math.sqrt(v2)) * o.radius(t);
      const d = unitLmo(norm, m, t.shape);
      for (let i = 0; i < t.size; i++) params[t.offset + i] -= step * d[i];
    }
    vSquared.push(v2);
  }
  return { params, vSquared, clampedSteps };
}

async function runOn(
  layout: Layout,
  transform: GradientTransform,
  grads: readonly ArrayLike<number>[],
  start?: ArrayLike<number>,
) {
  const params = new ParamSet(layout);
  if (start) params.data.set(start);
  const opt = new Optimizer(params, transform);
  for (const g of grads) await opt.update(layout.zeros().map((_, i) => g[i]));
  return { params, opt };
}

/** Stochastic quadratic ½‖X − T‖² per layer; the gradient of layer k carries N(0, σ_k²) noise. */
async function noisyQuadratic(
  transform: GradientTransform,
  sigmas: readonly number[],
  steps = 300,
) {
  const layout = new Layout(
    sigmas.map((_, k) => ({ name: `layer${k}`, shape: [4, 4] })),
    "float64",
  );
  const target = fillUniform(layout.zeros(), 21);
  const params = new ParamSet(layout);
  const opt = new Optimizer(params, transform);
  const noise = layout.zeros();
  const grad = layout.zeros();
  const distance = (k: number) => {
    const t = layout.tensors[k];
    let s = 0;
    for (let i = t.offset; i < t.offset + t.size; i++) s += (params.data[i] - target[i]) ** 2;
    return Math.sqrt(s);
  };
  const initial = sigmas.map((_, k) => distance(k));
  for (let step = 0; step < steps; step++) {
    fillNormal(noise, 5, step);
    layout.tensors.forEach((t, k) => {
      for (let i = t.offset; i < t.offset + t.size; i++) {
        grad[i] = params.data[i] - target[i] + sigmas[k] * noise[i];
      }
    });
    await opt.update(grad);
  }
  return { opt, initial, final: sigmas.map((_, k) => distance(k)) };
}

describe("noiseAdaptiveLmo", () => {
  it("follows the hand-computed per-layer accumulators and steps for every norm, with and without momentum", async () => {
    const grads = gradients(mixed, 5);
    const start = fillUniform(mixed.zeros(), 9) as Float64Array;
    const radius = (t: TensorSpec) => ({ w: 1, v: 2, b: 0.5 })[t.name as "w" | "v" | "b"];
    let clamped = 0;
    let free = 0;
    for (const choice of ["spectral", "linf", "l2", "l1"] as const) {
      // "spectral" leaves the vector b to the default ℓ∞.
      const norm = (t: TensorSpec): LmoNorm =>
        choice === "spectral" && t.shape.length < 2 ? "linf" : choice;
      for (const mu of [0, 0.9]) {
        const o = { eta: 0.2, mu, gamma: 2, eps: 1e-3, v0: 0.5 };
        const { params, opt } = await runOn(
          mixed,
          noiseAdaptiveLmo({
            learningRate: o.eta,
            momentum: mu,
            gamma: o.gamma,
            eps: o.eps,
            v0: o.v0,
            norm: choice === "spectral" ? undefined : choice,
            radius,
            nsCoefficients: "cubic",
            nsSteps: 40,
          }),
          grads,
          start,
        );
        const expected = reference(mixed, start, grads, { ...o, measure: "dual", norm, radius });
        const what = `${choice}, μ = ${mu}`;
        const state = partState<NoiseAdaptiveLmoState>(opt, STATE);
        assertClose(state.vSquared, expected.vSquared, 1e-12, `v² (${what})`);
        assertClose(params.data, expected.params, 1e-11, `params (${what})`, { floor: 1 });
        clamped += expected.clampedSteps;
        free += mixed.tensors.length * grads.length - expected.clampedSteps;
      }
    }
    // Both sides of the clamp were exercised.
    assert.ok(clamped > 0 && free > 0, `clamped ${clamped}, free ${free}`);
  });

  it("with the spectral norm and the Frobenius measure is AdaGO, bit for bit", async () => {
    for (const dtype of ["float64", "float32"] as DType[]) {
      const layout = new Layout(
        [
          { name: "a", shape: [5, 3] },
          { name: "b", shape: [2, 6] },
          { name: "c", shape: [3, 2, 2] },
        ],
        dtype,
      );
      const grads = gradients(layout, 6);
      const start = fillUniform(layout.zeros(), 9);
      const warmup = (t: number) => Math.min(1, t / 3) * 0.3;
      for (const nesterov of [false, true]) {
        for (const learningRate of [0.3, warmup]) {
          const o = { learningRate, momentum: 0.9, gamma: 1, eps: 1e-3, v0: 0.5, nesterov };
          const ours = await runOn(
            layout,
            noiseAdaptiveLmo({ ...o, norm: "spectral", measure: "frobenius" }),
            grads,
            start,
          );
          const theirs = await runOn(layout, adago(o), grads, start);
          const what = `${dtype}, nesterov ${nesterov}, ${typeof learningRate}`;
          assertSameBits(ours.params.data, theirs.params.data, `params (${what})`);
          assertSameBits(
            partState<NoiseAdaptiveLmoState>(ours.opt, STATE).vSquared,
            partState<AdagoState>(theirs.opt, "scaleByAdago").vSquared,
            `v² (${what})`,
          );
        }
      }
    }
  });

  it("with ℓ2, no momentum, no clamp and no floor is AdaGrad-Norm per tensor", async () => {
    const layout = sampleLayout();
    const grads = gradients(layout, 6);
    const start = fillUniform(layout.zeros(), 4);
    const ours = await runOn(
      layout,
      noiseAdaptiveLmo({ norm: "l2", momentum: 0, eps: 0, v0: 0.1, learningRate: 0.5 }),
      grads,
      start,
    );
    const theirs = await runOn(
      layout,
      adagradNorm({ perTensor: true, b0: 0.1, learningRate: 0.5 }),
      grads,
      start,
    );
    assertClose(ours.params.data, theirs.params.data, 1e-14, "params", { floor: 1 });
  });

  it("gives the layer with 10× the gradient noise the lower rate, by a factor near the noise ratio", async () => {
    for (const norm of ["spectral", "linf"] as const) {
      const { opt } = await noisyQuadratic(noiseAdaptiveLmo({ norm, learningRate: 0.1 }), [0.1, 1]);
      const [quiet, noisy] = partState<NoiseAdaptiveLmoState>(opt, STATE).vSquared.map(
        (v2) => 0.1 / Math.sqrt(v2),
      );
      // The accumulators sum squared dual norms of signal + noise; the noise parts differ by
      // exactly 10× in distribution and dominate after the first steps, so the rates differ by
      // a factor a little under 10 (the quiet layer's early signal counts too).
      const ratio = quiet / noisy;
      assert.ok(ratio > 5 && ratio < 10.5, `${norm}: rate ratio ${ratio}`);
    }
  });

  it("converges on a noisy quadratic where constant LMO steps stall at their noise floor", async () => {
    // Steps of constant length keep X at a distance of the order of the step from T; the
    // AdaGrad-Norm rates shrink like 1/√t and keep closing in.
    const sigmas = [0.1, 1];
    const adaptive = await noisyQuadratic(noiseAdaptiveLmo({ learningRate: 0.1 }), sigmas, 1200);
    const constant = await noisyQuadratic(lmo({ learningRate: 0.1, momentum: 0.95 }), sigmas, 1200);
    for (let k = 0; k < sigmas.length; k++) {
      const what = `layer ${k}: ${adaptive.initial[k]} -> ${adaptive.final[k]}, constant ${constant.final[k]}`;
      assert.ok(adaptive.final[k] < 0.2 * adaptive.initial[k], what);
      assert.ok(adaptive.final[k] < 0.5 * constant.final[k], what);
    }
  });

  it("converges on the matrix least-squares problem of the conformance fixtures", async () => {
    const c = loadCases("muon")[0];
    const f = conformanceObjective(c.problem);
    const params = paramsFrom(c, c.init);
    const initial = f.value(params.data) as number;
    // Without a clamp the large first gradients fix a small rate for the rest of the run (the
    // weakness AdaGO's γ addresses), so the deterministic problem wants a larger η.
    const opt = new Optimizer(params, noiseAdaptiveLmo({ learningRate: 3 }));
    for (let i = 0; i < 1000; i++) await opt.step(f);
    // f* = 14.164866… (normal equations; test/optim/muon.test.ts checks Muon against it).
    const gap = (f.value(params.data) as number) - 14.164866023219886;
    assert.ok(gap >= -1e-9 && gap < 1e-10 * (initial - 14.164866023219886), `f − f* = ${gap}`);
  });

  it("rejects bad options and tensors, naming them, before any state exists or changes", async () => {
    assertInvalidArgument(() => noiseAdaptiveLmo({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => noiseAdaptiveLmo({ gamma: 0 }), "gamma", 0);
    assertInvalidArgument(() => noiseAdaptiveLmo({ gamma: NaN }), "gamma", NaN);
    assertInvalidArgument(() => noiseAdaptiveLmo({ gamma: -Infinity }), "gamma", -Infinity);
    assertInvalidArgument(() => noiseAdaptiveLmo({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => noiseAdaptiveLmo({ v0: 0 }), "v0", 0);
    assertInvalidArgument(() => noiseAdaptiveLmo({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(
      () => noiseAdaptiveLmo({ measure: "nuclear" as "dual" }),
      "measure",
      "nuclear",
    );
    assertInvalidArgument(() => noiseAdaptiveLmo({ norm: "linf2" as "l2" }), "norm", "linf2");
    assertInvalidArgument(() => noiseAdaptiveLmo({ radius: 0 }), "radius", 0);
    assertInvalidArgument(() => noiseAdaptiveLmo({ weightDecay: -0.1 }), "weightDecay", -0.1);
    assertInvalidArgument(() => noiseAdaptiveLmo({ nsSteps: -1 }), "nsSteps", -1);
    assertInvalidArgument(
      () => noiseAdaptiveLmo({ clamp: 1 } as unknown as { gamma: number }),
      "clamp",
      1,
    );
    // Per-tensor choices are checked when the state is made, naming the tensor.
    assert.throws(
      () => new Optimizer(new ParamSet(mixed), noiseAdaptiveLmo({ norm: "spectral" })),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "shape of b",
    );
    assert.throws(
      () => new Optimizer(new ParamSet(mixed), noiseAdaptiveLmo({ radius: () => -1 })),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "radius of w",
    );
    // A non-finite gradient is refused before the accumulators or the momentum move.
    const { params, opt } = await runOn(mixed, noiseAdaptiveLmo(), gradients(mixed, 2));
    const stateBefore = snapshotState(opt.state);
    const paramsBefore = params.data.slice();
    const bad = gradients(mixed, 1)[0];
    bad[mixed.tensor("v").offset + 3] = NaN;
    await assert.rejects(async () => opt.update(bad), NonFiniteError);
    assertSameState(opt.state, stateBefore);
    assertSameBits(params.data, paramsBefore, "params");
  });
});
