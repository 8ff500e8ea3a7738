// The dense-network helper and its layer-statistics oracle: layer inputs against a plain
// forward pass, pre-activation gradients against finite differences of each example's own loss
// and against the closed forms at the output layer, the link to the autodiff gradient
// (∇W = (1/B)·aᵀg), sampled labels (inverse-CDF rule, Fisher moments), mini-batches, float32,
// leaks, and bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Dataset } from "../../src/data/dataset.js";
import { subset } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import {
  InvalidArgumentError,
  MissingOracleError,
  NonFiniteError,
  ShapeMismatchError,
} from "../../src/errors.js";
import type {
  DenseActivation,
  DenseLayerStatistics,
  DenseLoss,
  DenseNetworkObjective,
  LayerStatisticsObjective,
} from "../../src/oracles/denseLayers.js";
import {
  checkLayerStatistics,
  denseNetwork,
  hasLayerStatistics,
  locateDenseLayers,
  matchDenseLayers,
  requireLayerStatistics,
  withLayerStatistics,
} from "../../src/oracles/denseLayers.js";
import { mlpClassifier } from "../../src/oracles/problems/mlp.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { fillNormal, fillUniform as philoxUniforms } from "../../src/random/distributions.js";
import { assertClose, assertInvalidArgument } from "../helpers/assertions.js";
import { fillUniform } from "../helpers/inputs.js";
import { liveBufferCounter } from "./liveBuffers.js";

const digits = loadDigits();

function everyNth(ds: Dataset, step: number): Dataset {
  return subset(
    ds,
    Array.from({ length: Math.floor(ds.rows / step) }, (_, i) => i * step),
  );
}

const activations: Record<DenseActivation, (s: number) => number> = {
  tanh: Math.tanh,
  relu: (s) => Math.max(s, 0),
  sigmoid: (s) => 1 / (1 + Math.exp(-s)),
  identity: (s) => s,
};

function softmax(z: ArrayLike<number>): number[] {
  const max = Math.max(...Array.from(z));
  const e = Array.from(z, (v) => Math.exp(v - max));
  const sum = e.reduce((s, v) => s + v, 0);
  return e.map((v) => v / sum);
}

/** ℓ(z; y) of one example, written out in float64. */
function exampleLoss(loss: DenseLoss, z: readonly number[], y: ArrayLike<number>): number {
  if (loss === "squared-error") return 0.5 * z.reduce((s, v, k) => s + (v - y[k]) ** 2, 0);
  const max = Math.max(...z);
  const logSum = max + Math.log(z.reduce((s, v) => s + Math.exp(v - max), 0));
  return -z.reduce((s, v, k) => s + y[k] * (v - logSum), 0);
}

/** A tiny network's definition in plain float64, independent of jax-js. */
class PlainNetwork {
  constructor(
    readonly net: DenseNetworkObjective,
    readonly params: Float64Array,
    readonly act: (s: number) => number,
  ) {}

  weight(l: number): { w: Float64Array; b: Float64Array | undefined } {
    const spec = this.net.denseLayers[l];
    const w = this.net.layout.view(this.params, spec.weight) as Float64Array;
    const b = spec.bias
      ? (this.net.layout.view(this.params, spec.bias) as Float64Array)
      : undefined;
    return { w, b };
  }

  /** s_ℓ = a_ℓ·W_ℓ + b_ℓ (+ shift at index `shiftAt` of layer `shiftLayer`). */
  preActivation(l: number, a: readonly number[], shift?: { at: number; by: number }): number[] {
    const { inputs, outputs } = this.net.denseLayers[l];
    const { w, b } = this.weight(l);
    const s: number[] = [];
    for (let j = 0; j < outputs; j++) {
      let sum = b ? b[j] : 0;
      for (let k = 0; k < inputs; k++) sum += a[k] * w[k * outputs + j];
      s.push(sum + (shift && shift.at === j ? shift.by : 0));
    }
    return s;
  }

  /** Every layer's input for one example, and the outputs z, optionally shifting one s entry. */
  forward(x: readonly number[], shift?: { layer: number; at: number; by: number }) {
    const depth = this.net.denseLayers.length;
    const inputs: number[][] = [];
    let a = [...x];
    for (let l = 0; l < depth; l++) {
      inputs.push(a);
      const s = this.preActivation(l, a, shift && shift.layer === l ? shift : undefined);
      a = l < depth - 1 ? s.map(this.act) : s;
    }
    return { inputs, z: a };
  }
}

interface Tiny {
  net: DenseNetworkObjective;
  x: Float64Array;
  y: Float64Array;
  rows: number;
  params: Float64Array;
}

async function tinyNetwork(
  sizes: number[],
  loss: DenseLoss,
  activation: DenseActivation,
  bias = true,
): Promise<Tiny> {
  const rows = 6;
  const x = fillUniform(new Float64Array(rows * sizes[0]), 3) as Float64Array;
  const outputs = sizes[sizes.length - 1];
  const y = new Float64Array(rows * outputs);
  if (loss === "softmax-cross-entropy")
    for (let i = 0; i < rows; i++) y[i * outputs + (i % outputs)] = 1;
  else fillUniform(y, 4);
  const net = await denseNetwork({
    sizes,
    data: { x, y },
    loss,
    activation,
    bias,
    dtype: "float64",
    seed: 2,
  });
  // Larger weights than Glorot's so every activation works away from 0, biases non-zero.
  const params = fillUniform(net.layout.zeros(), 9, 0.9) as Float64Array;
  return { net, x, y, rows, params };
}

describe("denseNetwork layer statistics", () => {
  const cases: [number[], DenseLoss, DenseActivation, boolean][] = [
    [[3, 4, 2], "softmax-cross-entropy", "tanh", true],
    [[3, 5, 4, 3], "softmax-cross-entropy", "sigmoid", true],
    [[2, 4, 3], "squared-error", "relu", true],
    [[3, 4, 2], "squared-error", "identity", false],
  ];

  it("gives each layer's inputs (plain forward pass) and per-example ∂ℓ_i/∂s (central differences)", async () => {
    for (const [sizes, loss, activation, bias] of cases) {
      const { net, x, y, rows, params } = await tinyNetwork(sizes, loss, activation, bias);
      try {
        const plain = new PlainNetwork(net, params, activations[activation]);
        const stats = await net.layerStatistics(params);
        assert.equal(stats.examples, rows);
        assert.equal(stats.layers.length, sizes.length - 1);
        let total = 0;
        for (let i = 0; i < rows; i++) {
          const xi = Array.from(x.subarray(i * sizes[0], (i + 1) * sizes[0]));
          const yi = y.subarray(i * sizes.at(-1)!, (i + 1) * sizes.at(-1)!);
          const { inputs, z } = plain.forward(xi);
          total += exampleLoss(loss, z, yi);
          net.denseLayers.forEach((layer, l) => {
            const got = stats.layers[l].inputs.subarray(i * layer.inputs, (i + 1) * layer.inputs);
            // jax-js evaluates tanh and exp to about float32 accuracy even in float64.
            assertClose(got, inputs[l], 1e-6, `${loss}/${activation} a_${l + 1}[${i}]`, {
              floor: 1,
            });
            const h = 1e-5;
            const expected = Array.from({ length: layer.outputs }, (_, j) => {
              const up = exampleLoss(loss, plain.forward(xi, { layer: l, at: j, by: h }).z, yi);
              const down = exampleLoss(loss, plain.forward(xi, { layer: l, at: j, by: -h }).z, yi);
              return (up - down) / (2 * h);
            });
            const grad = stats.layers[l].outputGradients;
            assertClose(
              grad.subarray(i * layer.outputs, (i + 1) * layer.outputs),
              expected,
              1e-5,
              `${loss}/${activation} g_${l + 1}[${i}]`,
              { floor: 1 },
            );
          });
        }
        // jax-js evaluates log and exp to about float32 accuracy even in float64.
        assert.ok(
          Math.abs(stats.loss - total / rows) < 1e-5,
          `loss ${stats.loss} vs ${total / rows}`,
        );
      } finally {
        net.dispose();
      }
    }
  });

  it("has the output layer's closed forms: softmax(z) − y for cross-entropy, z − y for squared error", async () => {
    for (const [sizes, loss, activation, bias] of cases) {
      const { net, x, y, rows, params } = await tinyNetwork(sizes, loss, activation, bias);
      try {
        const plain = new PlainNetwork(net, params, activations[activation]);
        const stats = await net.layerStatistics(params);
        const out = sizes.at(-1)!;
        const last = stats.layers.at(-1)!.outputGradients;
        for (let i = 0; i < rows; i++) {
          const { z } = plain.forward(Array.from(x.subarray(i * sizes[0], (i + 1) * sizes[0])));
          const p = loss === "softmax-cross-entropy" ? softmax(z) : z;
          const expected = p.map((v, k) => v - y[i * out + k]);
          assertClose(last.subarray(i * out, (i + 1) * out), expected, 1e-6, `row ${i}`, {
            floor: 1,
          });
        }
      } finally {
        net.dispose();
      }
    }
  });

  it("links to the autodiff gradient: ∇W = (1/B)·aᵀg and ∇b = (1/B)·Σ_i g_i", async () => {
    for (const [sizes, loss, activation, bias] of cases) {
      const { net, rows, params } = await tinyNetwork(sizes, loss, activation, bias);
      try {
        const grad = net.layout.zeros();
        const value = await net.valueAndGrad(params, grad);
        const stats = await net.layerStatistics(params);
        assert.ok(Math.abs(value - stats.loss) < 1e-9, `${value} vs ${stats.loss}`);
        net.denseLayers.forEach((layer, l) => {
          const { inputs, outputGradients } = stats.layers[l];
          const w = new Float64Array(layer.inputs * layer.outputs);
          const b = new Float64Array(layer.outputs);
          for (let i = 0; i < rows; i++) {
            for (let k = 0; k < layer.inputs; k++) {
              for (let j = 0; j < layer.outputs; j++) {
                w[k * layer.outputs + j] +=
                  (inputs[i * layer.inputs + k] * outputGradients[i * layer.outputs + j]) / rows;
              }
            }
            for (let j = 0; j < layer.outputs; j++)
              b[j] += outputGradients[i * layer.outputs + j] / rows;
          }
          assertClose(net.layout.view(grad, layer.weight), w, 1e-10, `∇${layer.weight}`, {
            floor: 1e-3,
          });
          if (layer.bias) {
            assertClose(net.layout.view(grad, layer.bias), b, 1e-10, `∇${layer.bias}`, {
              floor: 1e-3,
            });
          } else assert.equal(net.layout.has("layer1.bias"), false);
        });
      } finally {
        net.dispose();
      }
    }
  });

  it("samples cross-entropy labels by the inverse CDF at Philox uniforms (the rule of sampledLabelGrad)", async () => {
    const { net, x, rows, params } = await tinyNetwork([3, 4, 3], "softmax-cross-entropy", "tanh");
    try {
      const plain = new PlainNetwork(net, params, Math.tanh);
      for (const [seed, count] of [
        [0, 0],
        [5, 17],
        [2 ** 40 + 1, 3],
      ]) {
        const stats = await net.layerStatistics(params, { labels: "sampled", seed, count });
        const u = philoxUniforms(new Float64Array(rows), seed, count);
        let total = 0;
        const grad = net.layout.zeros();
        const sampledLoss = await net.sampledLabelGrad!(params, grad, seed, count);
        for (let i = 0; i < rows; i++) {
          const { z } = plain.forward(Array.from(x.subarray(i * 3, i * 3 + 3)));
          const p = softmax(z);
          let label = 0;
          for (let c = 0, cumulative = 0; c < 2; c++) {
            cumulative += p[c];
            if (cumulative <= u[i]) label = c + 1;
          }
          const expected = p.map((v, k) => v - (k === label ? 1 : 0));
          const got = stats.layers[1].outputGradients.subarray(i * 3, i * 3 + 3);
          assertClose(got, expected, 1e-6, `(${seed}, ${count}) row ${i}`, { floor: 1 });
          total -= Math.log(p[label]);
        }
        assert.ok(Math.abs(stats.loss - total / rows) < 1e-5, `${stats.loss} vs ${total / rows}`);
        assert.ok(Math.abs(stats.loss - sampledLoss) < 1e-9, "same labels as sampledLabelGrad");
        // The sampled gradient of sampledLabelGrad is (1/B)·aᵀg of the same labels.
        const { inputs, outputGradients } = stats.layers[1];
        const w = new Float64Array(12);
        for (let i = 0; i < rows; i++) {
          for (let k = 0; k < 4; k++) {
            for (let j = 0; j < 3; j++)
              w[k * 3 + j] += (inputs[i * 4 + k] * outputGradients[i * 3 + j]) / rows;
          }
        }
        assertClose(net.layout.view(grad, "layer2.weight"), w, 1e-9, "sampled ∇W₂", {
          floor: 1e-3,
        });
      }
    } finally {
      net.dispose();
    }
  });

  it("samples squared-error targets z + n with n the Philox normals", async () => {
    const { net, rows, params } = await tinyNetwork([2, 4, 3], "squared-error", "tanh");
    try {
      const stats = await net.layerStatistics(params, { labels: "sampled", seed: 8, count: 2 });
      const noise = fillNormal(new Float64Array(rows * 3), 8, 2);
      assertClose(
        stats.layers[1].outputGradients,
        noise.map((n) => -n),
        1e-12,
        "g = −n",
        { floor: 1 },
      );
      const expectedLoss = noise.reduce((s, n) => s + 0.5 * n * n, 0) / rows;
      assert.ok(Math.abs(stats.loss - expectedLoss) < 1e-9);
    } finally {
      net.dispose();
    }
  });

  it("has the Fisher's moments: E[g gᵀ] = diag(p) − p pᵀ (cross-entropy) or I (squared error)", async () => {
    // One example repeated: every row draws its own label, so the rows' mean of g gᵀ at the
    // output is a Monte Carlo estimate of the output Fisher.
    const rows = 4000;
    const xRow = [0.3, -0.7];
    const x = Float64Array.from({ length: rows * 2 }, (_, k) => xRow[k % 2]);
    for (const loss of ["softmax-cross-entropy", "squared-error"] as const) {
      const y = new Float64Array(rows * 3);
      for (let i = 0; i < rows; i++) y[i * 3] = 1;
      const net = await denseNetwork({ sizes: [2, 3], data: { x, y }, loss, dtype: "float64" });
      try {
        const params = Float64Array.from([0.5, -1, 0.2, 1.5, 0.3, -0.4, 0.1, 0, -0.3]);
        const stats = await net.layerStatistics(params, { labels: "sampled", seed: 4, count: 9 });
        const g = stats.layers[0].outputGradients;
        const second = new Float64Array(9);
        for (let i = 0; i < rows; i++) {
          for (let a = 0; a < 3; a++)
            for (let b = 0; b < 3; b++) second[a * 3 + b] += (g[i * 3 + a] * g[i * 3 + b]) / rows;
        }
        const z = [0, 1, 2].map(
          (j) => params[6 + j] + xRow[0] * params[j] + xRow[1] * params[3 + j],
        );
        const p = softmax(z);
        const expected = [0, 1, 2].flatMap((a) =>
          [0, 1, 2].map((b) =>
            loss === "squared-error" ? (a === b ? 1 : 0) : (a === b ? p[a] : 0) - p[a] * p[b],
          ),
        );
        // Entries of g gᵀ are bounded by 1 (cross-entropy) or have variance ≤ 3 (normals): five
        // standard errors of a mean of 4000 draws stay below 0.14.
        for (let k = 0; k < 9; k++) {
          assert.ok(
            Math.abs(second[k] - expected[k]) < 0.14,
            `${loss} [${k}] ${second[k]} vs ${expected[k]}`,
          );
        }
      } finally {
        net.dispose();
      }
    }
  });

  it("follows mini-batches: statistics of the rows of the current batch, as valueAndGrad sees them", async () => {
    const data = everyNth(digits, 20);
    const net = await denseNetwork({
      sizes: [64, 6, 10],
      data,
      dtype: "float64",
      batchSize: 16,
      seed: 3,
    });
    try {
      const params = net.initialParams();
      const grad = net.layout.zeros();
      for (const k of [0, 2, 7]) {
        net.setBatch(k);
        const value = await net.valueAndGrad(params, grad);
        const stats = await net.layerStatistics(params);
        assert.equal(stats.examples, 16);
        assert.ok(Math.abs(value - stats.loss) < 1e-9, `batch ${k}: ${value} vs ${stats.loss}`);
        const { inputs, outputGradients } = stats.layers[1];
        const b = new Float64Array(10);
        for (let i = 0; i < 16; i++)
          for (let j = 0; j < 10; j++) b[j] += outputGradients[i * 10 + j] / 16;
        assertClose(net.layout.view(grad, "layer2.bias"), b, 1e-10, `batch ${k} ∇b₂`, {
          floor: 1e-3,
        });
        assert.equal(inputs.length, 16 * 6);
      }
    } finally {
      net.dispose();
    }
  });

  it("starts where mlpClassifier starts and computes the same loss (same seed, same batches)", async () => {
    const data = everyNth(digits, 10);
    const net = await denseNetwork({
      sizes: [64, 8, 10],
      data,
      dtype: "float64",
      seed: 5,
      batchSize: 30,
    });
    const mlp = await mlpClassifier(data, { hidden: 8, dtype: "float64", seed: 5, batchSize: 30 });
    try {
      assert.deepEqual(
        net.layout.tensors.map((t) => [t.name, t.shape]),
        mlp.layout.tensors.map((t) => [t.name, t.shape]),
      );
      assert.deepEqual(net.initialParams(), mlp.initialParams());
      const params = fillUniform(net.layout.zeros(), 6, 0.3);
      for (const k of [0, 4, 9]) {
        net.setBatch(k);
        mlp.setBatch(k);
        const a = await net.value(params);
        const b = await mlp.value(params);
        assert.ok(Math.abs(a - b) < 1e-9, `batch ${k}: ${a} vs ${b}`);
      }
    } finally {
      net.dispose();
      mlp.dispose();
    }
  });

  it("agrees in float32 (compiled) with float64 to float32 accuracy", async () => {
    const data = everyNth(digits, 15);
    const f64 = await denseNetwork({ sizes: [64, 12, 10], data, dtype: "float64" });
    const f32 = await denseNetwork({ sizes: [64, 12, 10], data });
    try {
      const params = f64.initialParams();
      const a = await f64.layerStatistics(params, { labels: "sampled", seed: 1, count: 2 });
      const b = await f32.layerStatistics(Float32Array.from(params), {
        labels: "sampled",
        seed: 1,
        count: 2,
      });
      assert.ok(b.layers[1].inputs instanceof Float32Array);
      assert.ok(Math.abs(a.loss - b.loss) < 1e-5);
      for (let l = 0; l < 2; l++) {
        assertClose(b.layers[l].inputs, a.layers[l].inputs, 1e-5, `a_${l + 1}`, { floor: 1 });
        assertClose(b.layers[l].outputGradients, a.layers[l].outputGradients, 1e-5, `g_${l + 1}`, {
          floor: 1,
        });
      }
    } finally {
      f64.dispose();
      f32.dispose();
    }
  });

  it("leaves no jax-js buffer behind, and dispose frees everything", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const data = everyNth(digits, 9);
    for (const dtype of ["float32", "float64"] as const) {
      const net = await denseNetwork({ sizes: [64, 5, 10], data, dtype, batchSize: 40 });
      const params = net.initialParams();
      let steady = -1;
      for (let call = 0; call < 12; call++) {
        net.setBatch(call % 3);
        await net.layerStatistics(params, { labels: call % 2 ? "sampled" : "data", count: call });
        if (call === 3) steady = liveBuffers();
      }
      assert.equal(liveBuffers(), steady, `${dtype}: no growth from call to call`);
      net.dispose();
      assert.equal(liveBuffers(), before, `${dtype}: dispose frees everything`);
    }
  });
});

describe("denseNetwork bad input", () => {
  const x = new Float64Array(12);
  const y = new Float64Array(8);

  it("rejects bad options, naming the option and the value", async () => {
    const reject = async (options: object, parameter: string, value: unknown) => {
      await assert.rejects(
        denseNetwork(options as Parameters<typeof denseNetwork>[0]),
        (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError, String(e));
          assert.equal(e.parameter, parameter);
          assertInvalidArgument(
            () => {
              throw e;
            },
            parameter,
            value,
          );
          return true;
        },
      );
    };
    await reject({ sizes: [3], data: { x, y } }, "sizes", [3]);
    await reject({ sizes: [3, 0], data: { x, y } }, "sizes[1]", 0);
    await reject({ sizes: [3, 2], data: { x, y }, loss: "hinge" }, "loss", "hinge");
    await reject({ sizes: [3, 2], data: { x, y }, activation: "gelu" }, "activation", "gelu");
    await reject({ sizes: [3, 2], data: { x, y }, batchSize: 5 }, "batchSize", 5);
    await reject({ sizes: [3, 2], data: { x, y }, dtype: "int8" }, "dtype", "int8");
    await reject({ sizes: [3, 2], data: { x, y }, widths: 3 }, "widths", 3);
    await reject({ sizes: [64, 10], data: digits, loss: "squared-error" }, "data", "a Dataset");
  });

  it("rejects data that does not fit the widths with a ShapeMismatchError", async () => {
    await assert.rejects(denseNetwork({ sizes: [5, 2], data: { x, y } }), ShapeMismatchError);
    await assert.rejects(denseNetwork({ sizes: [64, 3], data: digits }), ShapeMismatchError);
  });

  it("rejects bad statistics options and buffers, and use after dispose", async () => {
    const net = await denseNetwork({ sizes: [3, 2], data: { x, y }, dtype: "float64" });
    const params = net.initialParams();
    assertRejectsParameter(
      await capture(net.layerStatistics(params, { labels: "true" as "data" })),
      "labels",
    );
    assertRejectsParameter(await capture(net.layerStatistics(params, { seed: -1 })), "seed");
    assertRejectsParameter(await capture(net.layerStatistics(params, { count: 0.5 })), "count");
    await assert.rejects(net.layerStatistics(new Float64Array(3)), ShapeMismatchError);
    await assert.rejects(net.layerStatistics(new Float32Array(params.length)), ShapeMismatchError);
    assert.throws(() => net.setData({} as never), TypeError);
    net.dispose();
    await assert.rejects(net.layerStatistics(params), /disposed/);
  });
});

async function capture(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (e) {
    return e;
  }
  return undefined;
}

function assertRejectsParameter(error: unknown, parameter: string): void {
  assert.ok(error instanceof InvalidArgumentError, String(error));
  assert.equal(error.parameter, parameter);
}

describe("layer-statistics helpers", () => {
  const layout = new Layout(
    [
      { name: "enc.weight", shape: [3, 2] },
      { name: "enc.bias", shape: [2] },
      { name: "head.weight", shape: [2, 4] },
      { name: "head.bias", shape: [3] },
      { name: "scale", shape: [4] },
    ],
    "float64",
  );

  it("locates dense layers: 2-D weights, the bias of the same prefix and width", () => {
    const located = locateDenseLayers("test", layout);
    assert.deepEqual(
      located.map((l) => [l.weight.name, l.bias?.name, l.inputs, l.outputs]),
      [
        ["enc.weight", "enc.bias", 3, 2],
        ["head.weight", undefined, 2, 4],
      ],
    );
    assert.deepEqual(
      locateDenseLayers("test", layout, "enc.*weight").map((l) => l.weight.name),
      ["enc.weight"],
    );
    assertInvalidArgument(() => locateDenseLayers("test", layout, "scale"), "layers", "scale [4]");
  });

  const objective = (
    layers: LayerStatisticsObjective["denseLayers"],
  ): LayerStatisticsObjective => ({
    name: "fake",
    layout,
    value: () => 0,
    denseLayers: layers,
    layerStatistics: () => ({ examples: 1, loss: 0, layers: [] }),
  });

  it("matches located layers to the objective's, and rejects mismatches", () => {
    const located = locateDenseLayers("test", layout);
    const fine = objective([
      { weight: "head.weight", inputs: 2, outputs: 4 },
      { weight: "enc.weight", bias: "enc.bias", inputs: 3, outputs: 2 },
    ]);
    assert.deepEqual(Array.from(matchDenseLayers("test", located, fine)), [1, 0]);
    const missing = objective([{ weight: "enc.weight", bias: "enc.bias", inputs: 3, outputs: 2 }]);
    assert.throws(
      () => matchDenseLayers("test", located, missing),
      /head\.weight is not a dense layer of objective "fake"/,
    );
    const widths = objective([
      { weight: "enc.weight", bias: "enc.bias", inputs: 2, outputs: 3 },
      { weight: "head.weight", inputs: 2, outputs: 4 },
    ]);
    assert.throws(() => matchDenseLayers("test", located, widths), ShapeMismatchError);
    const bias = objective([
      { weight: "enc.weight", inputs: 3, outputs: 2 },
      { weight: "head.weight", inputs: 2, outputs: 4 },
    ]);
    assert.throws(() => matchDenseLayers("test", located, bias), /bias none/);
  });

  it("checks statistics: counts, lengths and finiteness", () => {
    const fake = objective([{ weight: "enc.weight", bias: "enc.bias", inputs: 3, outputs: 2 }]);
    const good: DenseLayerStatistics = {
      examples: 2,
      loss: 0,
      layers: [{ inputs: new Float64Array(6), outputGradients: new Float32Array(4) }],
    };
    checkLayerStatistics("test", fake, good);
    const bad = (change: Partial<DenseLayerStatistics>) => ({ ...good, ...change });
    assert.throws(
      () => checkLayerStatistics("test", fake, bad({ examples: 0 })),
      ShapeMismatchError,
    );
    assert.throws(
      () => checkLayerStatistics("test", fake, bad({ layers: [] })),
      ShapeMismatchError,
    );
    const short: FloatArray = new Float64Array(5);
    assert.throws(
      () =>
        checkLayerStatistics(
          "test",
          fake,
          bad({ layers: [{ inputs: short, outputGradients: new Float64Array(4) }] }),
        ),
      /inputs \(enc\.weight\) must hold 6 values/,
    );
    const nan = new Float64Array(4);
    nan[3] = NaN;
    assert.throws(
      () =>
        checkLayerStatistics(
          "test",
          fake,
          bad({ layers: [{ inputs: new Float64Array(6), outputGradients: nan }] }),
        ),
      (e: unknown) => e instanceof NonFiniteError && e.index === 3,
    );
  });

  it("tells objectives with the oracle from those without, naming the objective", () => {
    const plain = { name: "plain", layout, value: () => 0 };
    assert.equal(hasLayerStatistics(plain), false);
    assert.throws(
      () => requireLayerStatistics(plain, "optimizer kfac"),
      (e: unknown) =>
        e instanceof MissingOracleError &&
        e.objective === "plain" &&
        e.oracle === "layerStatistics" &&
        e.message.includes("optimizer kfac"),
    );
    const fake = objective([]);
    assert.equal(hasLayerStatistics(fake), true);
    assert.equal(requireLayerStatistics(fake, "x"), fake);
  });
});

describe("withLayerStatistics", () => {
  it("gives a model the network's layer statistics; batches and disposal reach both", async () => {
    const data = everyNth(digits, 12);
    const mlp = await mlpClassifier(data, { hidden: 6, dtype: "float64", seed: 2, batchSize: 20 });
    const net = await denseNetwork({
      sizes: [64, 6, 10],
      data,
      dtype: "float64",
      seed: 2,
      batchSize: 20,
    });
    const combined = withLayerStatistics(mlp, net);
    const params = fillUniform(mlp.layout.zeros(), 3, 0.3);
    combined.setBatch(3);
    // The model's own oracles are its own, the statistics are the network's, on the same batch.
    assert.equal(await combined.value(params), await mlp.value(params));
    assert.equal(mlp.batchIndex, 3);
    assert.equal(net.batchIndex, 3);
    const stats = await combined.layerStatistics(params);
    assert.equal(stats.examples, 20);
    assert.ok(Math.abs(stats.loss - (await mlp.value(params))) < 1e-12);
    assert.equal(typeof combined.sampledLabelGrad, "function");
    combined.dispose();
    await assert.rejects(async () => mlp.value(params), /disposed/);
    await assert.rejects(async () => net.value(params), /disposed/);
  });

  it("refuses a network of another shape", async () => {
    const data = everyNth(digits, 12);
    const mlp = await mlpClassifier(data, { hidden: 6, dtype: "float64", seed: 2 });
    const net = await denseNetwork({ sizes: [64, 7, 10], data, dtype: "float64", seed: 2 });
    try {
      assert.throws(() => withLayerStatistics(mlp, net), ShapeMismatchError);
    } finally {
      mlp.dispose();
      net.dispose();
    }
  });
});
