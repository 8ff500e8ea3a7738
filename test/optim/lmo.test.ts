import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { lion } from "../../src/optim/lion.js";
import { lmo, scaleByLmo } from "../../src/optim/lmo.js";
import { muon } from "../../src/optim/muon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { cosineDecay } from "../../src/optim/schedules.js";
import { sgd } from "../../src/optim/sgd.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertClose, assertInvalidArgument, assertSameBits } from "../helpers/assertions.js";
import { loadCases, paramsFrom } from "../helpers/conformance.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import { polarFactor, singularValues } from "../linalg/matrixReference.js";

const matrices = new Layout(
  [
    { name: "tall", shape: [6, 3] },
    { name: "wide", shape: [2, 5] },
    { name: "filter", shape: [2, 2, 3] },
  ],
  "float64",
);

/** Runs `transform` from seeded parameters through seeded gradients; returns the parameters. */
async function run(transform: GradientTransform, layout = sampleParams().layout, steps = 4) {
  const params = new ParamSet(layout, sampleParams("float64", 1).data.slice(0, layout.size));
  const opt = new Optimizer(params, transform);
  for (const g of sampleGradients(layout, steps)) await opt.update(g);
  return params.data;
}

/** Applies `direction(gradient of one tensor)` tensor by tensor: θ ← θ − lr·direction. */
async function runReference(
  layout: Layout,
  lr: number,
  direction: (g: Float64Array, name: string) => ArrayLike<number>,
  steps = 4,
): Promise<FloatArray> {
  const params = new ParamSet(layout, sampleParams("float64", 1).data.slice(0, layout.size));
  for (const g of sampleGradients(layout, steps)) {
    for (const t of layout.tensors) {
      const d = direction(Float64Array.from(layout.view(g, t.name)), t.name);
      const w = params.view(t.name);
      for (let i = 0; i < t.size; i++) w[i] -= lr * d[i];
    }
  }
  return params.data;
}

const norm2 = (g: ArrayLike<number>) => Math.sqrt(Array.from(g).reduce((s, x) => s + x * x, 0));

describe("lmo", () => {
  it("ℓ∞ is sign descent (and Lion without momentum, bit for bit)", async () => {
    const layout = sampleParams().layout;
    const ours = await run(lmo({ norm: "linf", learningRate: 0.01 }), layout);
    const reference = await runReference(layout, 0.01, (g) => g.map(Math.sign));
    assertClose(ours, reference, 1e-15, "sign descent", { floor: 1 });
    assertSameBits(
      ours,
      await run(lion({ learningRate: 0.01, beta1: 0, beta2: 0 }), layout),
      "Lion",
    );
  });

  it("ℓ2 is normalized gradient descent per tensor; with one tensor, globally", async () => {
    const layout = sampleParams().layout;
    const ours = await run(lmo({ norm: "l2", learningRate: 0.1 }), layout);
    const reference = await runReference(layout, 0.1, (g) => g.map((x) => x / norm2(g)));
    assertClose(ours, reference, 1e-14, "normalized GD", { floor: 1 });
    const single = new Layout([{ name: "x", shape: [9] }], "float64");
    const one = await run(lmo({ norm: "l2", learningRate: 0.1 }), single);
    assertClose(
      one,
      await runReference(single, 0.1, (g) => g.map((x) => x / norm2(g))),
      1e-14,
      "global",
      {
        floor: 1,
      },
    );
  });

  it("spectral is Muon without momentum and shape scale (bit for bit), and Muon with its momentum", async () => {
    const plain = await run(lmo({ norm: "spectral", learningRate: 0.02 }), matrices);
    const muonPlain = await run(
      muon({ learningRate: 0.02, momentum: 0, updateScale: "none" }),
      matrices,
    );
    assertSameBits(plain, muonPlain, "no momentum");
    const withMomentum = await run(
      lmo({ norm: "spectral", learningRate: 0.02, momentum: 0.95, nesterov: true }),
      matrices,
    );
    assertSameBits(
      withMomentum,
      await run(muon({ learningRate: 0.02, updateScale: "none" }), matrices),
      "Nesterov",
    );
    // And the LMO of the spectral ball is the polar factor (converged cubic iteration).
    const exact = await run(
      lmo({ norm: "spectral", learningRate: 0.02, nsCoefficients: "cubic", nsSteps: 40 }),
      matrices,
    );
    const reference = await runReference(matrices, 0.02, (g, name) => {
      const t = matrices.tensor(name);
      return polarFactor(g, t.shape[0], t.size / t.shape[0]);
    });
    assertClose(exact, reference, 1e-12, "polar factor", { floor: 1 });
  });

  it("ℓ1 moves only the largest coordinate of each tensor, by lr", async () => {
    const layout = sampleParams().layout;
    const ours = await run(lmo({ norm: "l1", learningRate: 0.5 }), layout, 1);
    const reference = await runReference(
      layout,
      0.5,
      (g) => {
        const k = g.reduce((best, x, i) => (Math.abs(x) > Math.abs(g[best]) ? i : best), 0);
        return g.map((x, i) => (i === k ? Math.sign(x) : 0));
      },
      1,
    );
    assertSameBits(ours, reference, "greedy coordinate step");
  });

  it("steepest descent multiplies by the dual norm: ℓ2 is gradient descent, ℓ∞ ‖g‖₁·sign, spectral ‖g‖_*·UVᵀ", async () => {
    const layout = sampleParams().layout;
    const l2 = await run(lmo({ norm: "l2", steepest: true, learningRate: 0.1 }), layout);
    assertClose(l2, await run(sgd({ learningRate: 0.1 }), layout), 1e-14, "ℓ2 = SGD", { floor: 1 });
    const linf = await run(lmo({ norm: "linf", steepest: true, learningRate: 0.01 }), layout);
    const l1Of = (g: Float64Array) => g.reduce((s, x) => s + Math.abs(x), 0);
    assertClose(
      linf,
      await runReference(layout, 0.01, (g) => g.map((x) => l1Of(g) * Math.sign(x))),
      1e-14,
      "ℓ∞",
      { floor: 1 },
    );
    const l1 = await run(lmo({ norm: "l1", steepest: true, learningRate: 0.1 }), layout, 1);
    const referenceL1 = await runReference(
      layout,
      0.1,
      (g) => {
        const k = g.reduce((best, x, i) => (Math.abs(x) > Math.abs(g[best]) ? i : best), 0);
        return g.map((x, i) => (i === k ? x : 0));
      },
      1,
    );
    assertClose(l1, referenceL1, 1e-15, "ℓ1 steepest = largest coordinate's gradient step", {
      floor: 1,
    });
    const spectral = await run(
      lmo({
        norm: "spectral",
        steepest: true,
        learningRate: 0.01,
        nsCoefficients: "cubic",
        nsSteps: 40,
      }),
      matrices,
    );
    const reference = await runReference(matrices, 0.01, (g, name) => {
      const t = matrices.tensor(name);
      const rows = t.shape[0];
      const cols = t.size / rows;
      const nuclear = singularValues(g, rows, cols).reduce((s, x) => s + x, 0);
      return polarFactor(g, rows, cols).map((x) => nuclear * x);
    });
    assertClose(spectral, reference, 1e-11, "spectral", { floor: 1 });
  });

  it("chooses the norm and radius per tensor: by default spectral for matrices, ℓ∞ for the rest", async () => {
    const layout = sampleParams().layout;
    const radius = (t: { name: string }) => (t.name.endsWith("bias") ? 0.5 : 2);
    const ours = await run(lmo({ learningRate: 0.01, radius }), layout);
    const reference = await runReference(layout, 0.01, (g, name) => {
      const t = layout.tensor(name);
      const rho = radius(t);
      if (t.shape.length < 2) return g.map((x) => rho * Math.sign(x));
      const single = new Layout([{ name, shape: t.shape }], "float64");
      const d = single.zeros();
      d.set(g);
      const transform = scaleByLmo({ norm: "spectral" });
      transform.update(d, transform.init(single), { params: single.zeros(), layout: single });
      return d.map((x) => rho * x);
    });
    assertClose(ours, reference, 1e-14, "mixed norms", { floor: 1 });
  });

  it("converges on the matrix least-squares problem with momentum and a decaying rate", async () => {
    const c = loadCases("muon")[0];
    const f = conformanceObjective(c.problem);
    const params = paramsFrom(c, c.init);
    const initial = f.value(params.data) as number;
    const opt = new Optimizer(
      params,
      lmo({ learningRate: cosineDecay({ start: 0.2, steps: 400 }), momentum: 0.9 }),
    );
    for (let i = 0; i < 400; i++) await opt.step(f);
    const gap = (f.value(params.data) as number) - 14.164866023219886;
    assert.ok(gap >= -1e-9 && gap < 1e-6 * (initial - 14.164866023219886), `f − f* = ${gap}`);
  });

  it("rejects a spectral norm on a vector, naming it, and validates its options", () => {
    const layout = sampleParams().layout;
    assert.throws(
      () => new Optimizer(new ParamSet(layout), lmo({ norm: "spectral" })),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "shape of layer1.bias",
    );
    assert.throws(
      () => new Optimizer(new ParamSet(layout), lmo({ norm: () => "nuclear" as "l1" })),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "norm of layer1.weight",
    );
    assert.throws(
      () => new Optimizer(new ParamSet(layout), lmo({ radius: () => -1 })),
      (e: unknown) =>
        e instanceof InvalidArgumentError && e.parameter === "radius of layer1.weight",
    );
    assertInvalidArgument(() => lmo({ norm: "frobenius" as "l2" }), "norm", "frobenius");
    assertInvalidArgument(() => lmo({ radius: 0 }), "radius", 0);
    assertInvalidArgument(() => lmo({ momentum: -0.1 }), "momentum", -0.1);
    assertInvalidArgument(() => lmo({ steepest: 1 as unknown as boolean }), "steepest", 1);
    assertInvalidArgument(() => lmo({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => lmo({ nsSteps: -1 }), "nsSteps", -1);
    assertInvalidArgument(() => lmo({ ball: "l2" } as unknown as { norm: "l2" }), "ball", "l2");
  });
});
