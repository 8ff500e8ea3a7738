import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { AdagoState } from "../../src/optim/adago.js";
import { adago } from "../../src/optim/adago.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertClose, assertInvalidArgument, partState } from "../helpers/assertions.js";
import { loadCases, paramsFrom } from "../helpers/conformance.js";
import { fillUniform } from "../helpers/inputs.js";
import { polarFactor, singularValues } from "../linalg/matrixReference.js";

const layout = new Layout(
  [
    { name: "a", shape: [5, 3] },
    { name: "b", shape: [2, 6] },
    { name: "c", shape: [3, 2, 2] },
  ],
  "float64",
);

/** Gradients whose norms cross γ = 1: tensor a large, b small, c in between and growing. */
function gradients(steps: number): Float64Array[] {
  return Array.from({ length: steps }, (_, t) => {
    const g = fillUniform(new Float64Array(layout.size), 40 + t) as Float64Array;
    const scale = [3, 0.05, 0.2 * (t + 1)];
    layout.tensors.forEach((tensor, k) => {
      for (let i = tensor.offset; i < tensor.offset + tensor.size; i++) g[i] *= scale[k];
    });
    return g;
  });
}

/** The paper's algorithm, written out per matrix with the exact polar factor. */
function referenceAdago(
  params: ParamSet,
  grads: readonly Float64Array[],
  o: { eta: number; mu: number; gamma: number; eps: number; v0: number },
): void {
  for (const t of layout.tensors) {
    const rows = t.shape[0];
    const cols = t.size / rows;
    const m = new Float64Array(t.size);
    let v2 = o.v0 * o.v0;
    const w = params.view(t.name);
    for (const grad of grads) {
      const g = grad.subarray(t.offset, t.offset + t.size);
      let norm2 = 0;
      for (let i = 0; i < t.size; i++) {
        m[i] = o.mu * m[i] + (1 - o.mu) * g[i];
        norm2 += g[i] * g[i];
      }
      v2 += Math.min(norm2, o.gamma * o.gamma);
      const alpha = Math.max(o.eps, (o.eta * Math.min(Math.sqrt(norm2), o.gamma)) / Math.sqrt(v2));
      const orth = polarFactor(m, rows, cols);
      for (let i = 0; i < t.size; i++) w[i] -= alpha * orth[i];
    }
  }
}

async function runAdago(options: Parameters<typeof adago>[0], grads: readonly Float64Array[]) {
  const params = new ParamSet(layout, fillUniform(layout.zeros(), 9));
  const opt = new Optimizer(params, adago({ ...options, nsCoefficients: "cubic", nsSteps: 40 }));
  for (const g of grads) await opt.update(g);
  return { params, opt };
}

describe("adago", () => {
  it("follows the paper's algorithm: clamped AdaGrad-Norm step size on orthogonalized momentum", async () => {
    const grads = gradients(6);
    const o = { eta: 0.3, mu: 0.9, gamma: 1, eps: 1e-3, v0: 0.5 };
    const { params, opt } = await runAdago(
      { learningRate: o.eta, momentum: o.mu, gamma: o.gamma, eps: o.eps, v0: o.v0 },
      grads,
    );
    const expected = new ParamSet(layout, fillUniform(layout.zeros(), 9));
    referenceAdago(expected, grads, o);
    assertClose(params.data, expected.data, 1e-11, "params", { floor: 1 });
    // One accumulator per matrix: v0² plus the clamped squared norms.
    const state = partState<AdagoState>(opt, "scaleByAdago");
    layout.tensors.forEach((t, k) => {
      let v2 = o.v0 ** 2;
      for (const g of grads) {
        let n2 = 0;
        for (let i = t.offset; i < t.offset + t.size; i++) n2 += g[i] * g[i];
        v2 += Math.min(n2, 1);
      }
      assertClose([state.vSquared[k]], [v2], 1e-14, `v² of ${t.name}`);
    });
  });

  it("applies the floor ε once the adaptive step falls below it", async () => {
    // With ε = η every step is α = ε = η: each matrix moves by exactly η·polar(M).
    const grads = gradients(4);
    const { params } = await runAdago({ learningRate: 0.05, eps: 0.05, momentum: 0.5 }, grads);
    const expected = new ParamSet(layout, fillUniform(layout.zeros(), 9));
    referenceAdago(expected, grads, { eta: 0.05, mu: 0.5, gamma: 1, eps: 0.05, v0: 1e-6 });
    assertClose(params.data, expected.data, 1e-11, "params", { floor: 1 });
  });

  it("takes a first step of spectral length η·‖G‖/√(v₀² + ‖G‖²) ≈ η whatever the gradient's scale", async () => {
    for (const scale of [1e-3, 1, 1e3]) {
      const single = new Layout([{ name: "w", shape: [4, 3] }], "float64");
      const params = new ParamSet(single);
      const opt = new Optimizer(
        params,
        adago({ learningRate: 0.2, gamma: 1e4, nsCoefficients: "cubic", nsSteps: 40 }),
      );
      const g = fillUniform(single.zeros(), 3, scale);
      await opt.update(g);
      const norm = Math.hypot(...g);
      const expected = (0.2 * norm) / Math.hypot(1e-6, norm);
      assert.ok(Math.abs(expected - 0.2) < 1e-6);
      for (const s of singularValues(params.data, 4, 3)) {
        assert.ok(Math.abs(s - expected) < 1e-12, `scale ${scale}: singular value ${s}`);
      }
    }
  });

  it("converges on the matrix least-squares problem of the conformance fixtures", async () => {
    const c = loadCases("muon")[0];
    const f = conformanceObjective(c.problem);
    const params = paramsFrom(c, c.init);
    const initial = f.value(params.data) as number;
    const opt = new Optimizer(params, adago({ learningRate: 1 }));
    for (let i = 0; i < 1000; i++) await opt.step(f);
    // f* = 14.164866… (normal equations; test/optim/muon.test.ts checks Muon against it).
    const gap = (f.value(params.data) as number) - 14.164866023219886;
    assert.ok(gap >= -1e-9 && gap < 1e-4 * (initial - 14.164866023219886), `f − f* = ${gap}`);
  });

  it("rejects vectors, naming the tensor, and validates its options", () => {
    const withBias = new Layout([
      { name: "w", shape: [3, 2] },
      { name: "bias", shape: [2] },
    ]);
    assert.throws(
      () => new Optimizer(new ParamSet(withBias), adago()),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "shape of bias",
    );
    assertInvalidArgument(() => adago({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => adago({ gamma: 0 }), "gamma", 0);
    assertInvalidArgument(() => adago({ v0: 0 }), "v0", 0);
    assertInvalidArgument(() => adago({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => adago({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => adago({ weightDecay: -0.1 }), "weightDecay", -0.1);
    assertInvalidArgument(() => adago({ nsSteps: -2 }), "nsSteps", -2);
    assertInvalidArgument(() => adago({ clamp: 1 } as unknown as { gamma: number }), "clamp", 1);
  });

  it("accepts a warm-up from η = 0: the first step leaves the weights, the accumulator advances", async () => {
    const layout = new Layout([{ name: "W", shape: [3, 2] }], "float64");
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 5));
    const before = params.data.slice();
    const warmup = (t: number) => Math.min(1, t / 4) * 0.1;
    const opt = new Optimizer(params, adago({ learningRate: warmup }));
    await opt.update(fillUniform(layout.zeros(), 6));
    assert.deepEqual(params.data, before);
    assert.ok(partState<AdagoState>(opt, "scaleByAdago").vSquared[0] > 1e-12);
    await opt.update(fillUniform(layout.zeros(), 7));
    assert.notDeepEqual(params.data, before);
  });
});
