import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { adamw } from "../../src/optim/adam.js";
import { adago } from "../../src/optim/adago.js";
import { lmo } from "../../src/optim/lmo.js";
import { muon, muonWithAdamw, routeMatrices, scaleByMuon } from "../../src/optim/muon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { cosineDecay } from "../../src/optim/schedules.js";
import { sgd } from "../../src/optim/sgd.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { Layout } from "../../src/params/layout.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertResumesBitExactly,
} from "../helpers/assertions.js";
import { matrixLeastSquares } from "../helpers/conformance.js";
import { fillUniform, matrixLayout, sampleGradients, sampleParams } from "../helpers/inputs.js";
import { polarFactor } from "../linalg/matrixReference.js";

/**
 * The reference's update written out per tensor, with the exact polar factor in place of
 * Newton–Schulz: M ← μM + (1−μ)G, U = (1−μ)G + μM or M, W ← W − lr(s·polar(U) + wd·W).
 */
function referenceMuon(options: {
  lr: number;
  momentum: number;
  nesterov: boolean;
  weightDecay: number;
  scale: (rows: number, cols: number) => number;
}) {
  const momenta = new Map<string, Float64Array>();
  return (params: ParamSet, grad: ArrayLike<number>) => {
    for (const t of params.layout.tensors) {
      const rows = t.shape[0];
      const cols = t.size / rows;
      let m = momenta.get(t.name);
      if (!m) momenta.set(t.name, (m = new Float64Array(t.size)));
      const u = new Float64Array(t.size);
      for (let i = 0; i < t.size; i++) {
        const g = grad[t.offset + i];
        m[i] = options.momentum * m[i] + (1 - options.momentum) * g;
        u[i] = options.nesterov ? (1 - options.momentum) * g + options.momentum * m[i] : m[i];
      }
      const o = polarFactor(u, rows, cols);
      const s = options.scale(rows, cols);
      const w = params.view(t.name);
      for (let i = 0; i < t.size; i++) {
        w[i] -= options.lr * (s * o[i] + options.weightDecay * w[i]);
      }
    }
  };
}

async function compareWithReference(
  transformOptions: Parameters<typeof muon>[0],
  reference: ReturnType<typeof referenceMuon>,
  dtype: "float32" | "float64",
  rtol: number,
) {
  const layout = matrixLayout(dtype);
  const params = new ParamSet(layout, fillUniform(layout.zeros(), 3));
  const expected = new ParamSet(matrixLayout(), fillUniform(matrixLayout().zeros(), 3));
  const opt = new Optimizer(params, muon(transformOptions));
  for (const g of sampleGradients(layout, 6)) {
    await opt.update(g);
    reference(expected, g);
  }
  assertClose(params.data, expected.data, rtol, `${dtype} params`, { floor: 1 });
}

describe("muon", () => {
  it("follows the reference update per matrix (Nesterov, weight decay, √max(1, rows/cols))", () =>
    compareWithReference(
      { learningRate: 0.03, momentum: 0.9, weightDecay: 0.1, nsCoefficients: "cubic", nsSteps: 40 },
      referenceMuon({
        lr: 0.03,
        momentum: 0.9,
        nesterov: true,
        weightDecay: 0.1,
        scale: (r, c) => Math.sqrt(Math.max(1, r / c)),
      }),
      "float64",
      1e-11,
    ));

  it("uses plain momentum without Nesterov and Moonshot's 0.2·√max(rows, cols) scale", () =>
    compareWithReference(
      {
        learningRate: 0.01,
        momentum: 0.8,
        nesterov: false,
        updateScale: "matchAdamW",
        nsCoefficients: "cubic",
        nsSteps: 40,
      },
      referenceMuon({
        lr: 0.01,
        momentum: 0.8,
        nesterov: false,
        weightDecay: 0,
        scale: (r, c) => 0.2 * Math.sqrt(Math.max(r, c)),
      }),
      "float64",
      1e-11,
    ));

  it("runs in float32 close to the float64 reference", () =>
    compareWithReference(
      { learningRate: 0.02, nsCoefficients: "cubic", nsSteps: 40 },
      referenceMuon({
        lr: 0.02,
        momentum: 0.95,
        nesterov: true,
        weightDecay: 0,
        scale: (r, c) => Math.sqrt(Math.max(1, r / c)),
      }),
      "float32",
      1e-5,
    ));

  it("with the default quintic, moves each matrix by lr·s times singular values in [0.68, 1.21]", async () => {
    const layout = new Layout([{ name: "w", shape: [6, 4] }], "float64");
    const params = new ParamSet(layout);
    const opt = new Optimizer(params, muon({ learningRate: 1, momentum: 0 }));
    await opt.update(fillUniform(layout.zeros(), 5));
    // A single step from 0 is −lr·s·NS(G): its spectral norm is s times Muon's band.
    const s = Math.sqrt(6 / 4);
    const gram = new Float64Array(16);
    for (let i = 0; i < 4; i++)
      for (let j = 0; j < 4; j++)
        for (let k = 0; k < 6; k++)
          gram[i * 4 + j] += params.data[k * 4 + i] * params.data[k * 4 + j];
    let trace = 0;
    for (let i = 0; i < 4; i++) trace += gram[i * 5];
    const rms = Math.sqrt(trace / 4) / s;
    assert.ok(rms > 0.68 && rms < 1.21, `mean squared singular value ${rms}`);
  });

  it("leaves a zero gradient at zero without NaN", async () => {
    const params = new ParamSet(matrixLayout(), fillUniform(matrixLayout().zeros(), 1));
    const before = params.data.slice();
    const opt = new Optimizer(params, muon());
    await opt.update(matrixLayout().zeros());
    assert.deepEqual(params.data, before);
  });

  it("converges on the matrix least-squares problem of the conformance fixtures", async () => {
    const { objective: f, params, initialValue: initial, optimum: best } = matrixLeastSquares();
    const opt = new Optimizer(
      params,
      muon({ learningRate: cosineDecay({ start: 0.2, steps: 400 }) }),
    );
    for (let i = 0; i < 400; i++) await opt.step(f);
    const gap = (f.value(params.data) as number) - best.value;
    assert.ok(gap >= 0 && gap < 1e-6 * (initial - best.value), `f − f* = ${gap}`);
    assertClose(params.data, best.w, 1e-3, "W*", { floor: 1 });
  });

  it("rejects vectors and scalars, naming the tensor, before any state exists", () => {
    const layout = new Layout([
      { name: "weight", shape: [3, 2] },
      { name: "bias", shape: [2] },
    ]);
    assert.throws(
      () => new Optimizer(new ParamSet(layout), muon()),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.parameter === "shape of bias" &&
        /matrix/.test(e.message) &&
        /\[2\]/.test(e.message),
    );
    const scalar = new Layout([{ name: "gain", shape: [] }]);
    assert.throws(() => scaleByMuon().init(scalar), /shape of gain/);
  });

  it("validates its options", () => {
    assertInvalidArgument(() => muon({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => muon({ learningRate: -0.1 }), "learningRate", -0.1);
    assertInvalidArgument(() => muon({ weightDecay: -1 }), "weightDecay", -1);
    assertInvalidArgument(() => muon({ nsSteps: 0.5 }), "nsSteps", 0.5);
    assertInvalidArgument(() => muon({ nsEps: -1 }), "nsEps", -1);
    assertInvalidArgument(
      () => muon({ nsCoefficients: "septic" as "cubic" }),
      "nsCoefficients",
      "septic",
    );
    assertInvalidArgument(() => muon({ nesterov: "yes" as unknown as boolean }), "nesterov", "yes");
    assertInvalidArgument(() => muon({ updateScale: "rms" as "none" }), "updateScale", "rms");
    assertInvalidArgument(
      () => muon({ betas: 0.9 } as unknown as { momentum: number }),
      "betas",
      0.9,
    );
  });
});

describe("muonWithAdamw", () => {
  it("gives matrices to Muon and everything else to AdamW with the reference's auxiliary defaults", async () => {
    const params = sampleParams("float64");
    const layout = params.layout;
    const matrices = layout.select((t) => t.shape.length >= 2);
    const vectors = layout.select((t) => t.shape.length < 2);
    const matrixParams = new ParamSet(layout.subset(matrices));
    const vectorParams = new ParamSet(layout.subset(vectors));
    const gather = (from: FloatArray, into: ParamSet) => {
      for (const t of into.layout.tensors) into.view(t.name).set(layout.view(from, t.name));
    };
    gather(params.data, matrixParams);
    gather(params.data, vectorParams);
    const whole = new Optimizer(params, muonWithAdamw({ muon: { weightDecay: 0.05 } }));
    const muonAlone = new Optimizer(matrixParams, muon({ weightDecay: 0.05 }));
    const adamwAlone = new Optimizer(
      vectorParams,
      adamw({ learningRate: 3e-4, beta1: 0.9, beta2: 0.95, eps: 1e-10, weightDecay: 0 }),
    );
    for (const g of sampleGradients(layout, 4)) {
      await whole.update(g);
      const gm = matrixParams.layout.zeros();
      const gv = vectorParams.layout.zeros();
      for (const t of matrixParams.layout.tensors)
        matrixParams.layout.view(gm, t.name).set(layout.view(g, t.name));
      for (const t of vectorParams.layout.tensors)
        vectorParams.layout.view(gv, t.name).set(layout.view(g, t.name));
      await muonAlone.update(gm);
      await adamwAlone.update(gv);
    }
    // Inside a partition the affine tail is applied to the update and then added; alone, the
    // Optimizer fuses it into the parameter write: the same values up to rounding.
    for (const group of [matrixParams, vectorParams]) {
      for (const t of group.layout.tensors) {
        assertClose(params.view(t.name), group.view(t.name), 1e-13, t.name, { floor: 1 });
      }
    }
  });

  it("lets the caller keep a matrix out of Muon (an output layer to AdamW)", async () => {
    const params = sampleParams("float64");
    const start = params.data.slice();
    const opt = new Optimizer(
      params,
      muonWithAdamw({
        matrices: (t) => t.shape.length >= 2 && !t.name.startsWith("layer2"),
        adamw: { learningRate: 0.01 },
      }),
    );
    const g = fillUniform(params.layout.zeros(), 2);
    await opt.update(g);
    // AdamW's first step moves every coordinate by lr·sign(g) (bias-corrected m/√v = ±1).
    const w2 = params.layout.tensor("layer2.weight");
    for (let i = w2.offset; i < w2.offset + w2.size; i++) {
      assert.ok(Math.abs(Math.abs(params.data[i] - start[i]) - 0.01) < 1e-9, `layer2.weight ${i}`);
    }
    assert.deepEqual(Object.keys(opt.state), ["matrices", "rest"]);
  });

  it("routeMatrices pairs any two transforms, and muon rejects a vector routed to it", () => {
    const layout = sampleParams().layout;
    const routed = routeMatrices({
      matrices: muon(),
      rest: sgd({ learningRate: 0.1 }),
      select: "**",
    });
    assert.throws(() => routed.init(layout), /shape of layer1\.bias/);
    assertInvalidArgument(
      () => muonWithAdamw({ adam: {} } as unknown as { adamw: object }),
      "adam",
      {},
    );
  });
});

describe("orthogonalizing optimizers resume bit-exactly through a checkpoint", () => {
  const builds: [string, () => GradientTransform][] = [
    ["muonWithAdamw", () => muonWithAdamw({ muon: { weightDecay: 0.1 } })],
    ["adago with AdamW", () => routeMatrices({ matrices: adago({ gamma: 0.5 }), rest: adamw() })],
    ["lmo with momentum", () => lmo({ momentum: 0.9, nesterov: true, steepest: true })],
  ];
  for (const [name, build] of builds) {
    it(`${name}: k steps, save, load, n − k steps equals n steps`, () =>
      assertResumesBitExactly(build));
  }
});
