// The variance-adapted matrix-whitening variants next to SOAP: AdaMuon as the matrix-whitening
// paper runs it.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { adaMuon } from "../../src/optim/adaMuon.js";
import { adamw } from "../../src/optim/adam.js";
import { routeMatrices } from "../../src/optim/muon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { tanhMlp } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertClose, assertInvalidArgument } from "../helpers/assertions.js";
import { fillUniform, sampleGradients, seededUniform } from "../helpers/inputs.js";
import { polarFactor } from "../linalg/matrixReference.js";

const layout = new Layout(
  [
    { name: "tall", shape: [6, 3] },
    { name: "wide", shape: [2, 5] },
    { name: "filter", shape: [2, 2, 3] },
  ],
  "float64",
);

/**
 * kvfrans/matrix-whitening `make_adamuon`, one matrix at a time, with the exact polar factor:
 * M ← β₁M + (1−β₁)G, O = polar(M/(1−β₁ᵗ))·√max(1, cols/rows), V ← β₂V + (1−β₂)O²,
 * D = O/(√(V/(1−β₂ᵗ)) + ε), θ ← θ − lr·(D + wd·θ).
 */
function referenceAdaMuon(o: {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  wd: number;
}) {
  const m = new Map<string, Float64Array>();
  const v = new Map<string, Float64Array>();
  let t = 0;
  return (params: ParamSet, grad: ArrayLike<number>) => {
    t++;
    for (const spec of params.layout.tensors) {
      const rows = spec.shape[0];
      const cols = spec.size / rows;
      if (!m.has(spec.name)) {
        m.set(spec.name, new Float64Array(spec.size));
        v.set(spec.name, new Float64Array(spec.size));
      }
      const mu = m.get(spec.name)!;
      const nu = v.get(spec.name)!;
      const hat = new Float64Array(spec.size);
      for (let i = 0; i < spec.size; i++) {
        mu[i] = o.beta1 * mu[i] + (1 - o.beta1) * grad[spec.offset + i];
        hat[i] = mu[i] / (1 - o.beta1 ** t);
      }
      const scale = Math.sqrt(Math.max(1, cols / rows));
      const orthogonal = polarFactor(hat, rows, cols).map((x) => x * scale);
      const w = params.view(spec.name);
      for (let i = 0; i < spec.size; i++) {
        nu[i] = o.beta2 * nu[i] + (1 - o.beta2) * orthogonal[i] ** 2;
        const d = orthogonal[i] / (Math.sqrt(nu[i] / (1 - o.beta2 ** t)) + o.eps);
        w[i] -= o.lr * (d + o.wd * w[i]);
      }
    }
  };
}

describe("adaMuon (variance-adapted Muon)", () => {
  it("follows the matrix-whitening paper's update (constant factors cancel in the division by √V)", async () => {
    const o = { lr: 0.01, beta1: 0.8, beta2: 0.9, eps: 1e-12, wd: 0.1 };
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 2));
    const expected = new ParamSet(layout, params.data.slice());
    const opt = new Optimizer(
      params,
      adaMuon({
        learningRate: o.lr,
        beta1: o.beta1,
        beta2: o.beta2,
        eps: o.eps,
        weightDecay: o.wd,
        nsCoefficients: "cubic",
        nsSteps: 40,
      }),
    );
    const reference = referenceAdaMuon(o);
    for (const [k, g] of sampleGradients(layout, 6).entries()) {
      await opt.update(g);
      reference(expected, g);
      assertClose(params.data, expected.data, 1e-10, `step ${k + 1}`);
    }
  });

  it("trains an MLP of the digits network's shapes, vectors to AdamW", async () => {
    const next = seededUniform(5);
    const x = Array.from({ length: 128 }, () => Array.from({ length: 64 }, () => next()));
    const teacher = Array.from({ length: 64 }, () => Array.from({ length: 10 }, () => next()));
    const y = x.map((r) =>
      teacher[0].map((_, j) => Math.tanh(r.reduce((s, v, i) => s + v * teacher[i][j], 0) / 8)),
    );
    const f = tanhMlp(x, y, 32);
    const params = new ParamSet(f.layout, fillUniform(f.layout.zeros(), 9, 0.2));
    const start = (await f.value(params.data)) as number;
    const opt = new Optimizer(
      params,
      routeMatrices({
        matrices: adaMuon({ learningRate: 3e-3 }),
        rest: adamw({ learningRate: 3e-3, weightDecay: 0 }),
      }),
    );
    for (let i = 0; i < 150; i++) await opt.step(f);
    const end = (await f.value(params.data)) as number;
    assert.ok(end < 0.05 * start, `loss ${end} from ${start}`);
  });

  it("rejects vectors (naming the tensor) and bad hyperparameters", () => {
    const withBias = new Layout(
      [
        { name: "w", shape: [3, 2] },
        { name: "bias", shape: [2] },
      ],
      "float64",
    );
    assert.throws(
      () => new Optimizer(new ParamSet(withBias), adaMuon()),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "shape of bias",
    );
    assertInvalidArgument(() => adaMuon({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => adaMuon({ beta2: 2 }), "beta2", 2);
    assertInvalidArgument(() => adaMuon({ eps: -1 }), "eps", -1);
    assertInvalidArgument(() => adaMuon({ nsSteps: -1 }), "nsSteps", -1);
    assertInvalidArgument(() => adaMuon({ momentum: 0.9 } as never), "momentum", 0.9);
  });
});
