// K-FAC for dense layers: the eigenbasis-damped step against a direct solve of
// (A ⊗ G + λI)·vec(V) = vec(W̄) with the Kronecker matrix written out, factored Tikhonov damping
// against its dense form, the statistics / inverse schedule and the KL clip over many steps,
// pass-through of other tensors, the reference's chain (weight decay start, momentum),
// convergence on the digits perceptron, checkpoints, and bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadDigits } from "../../src/data/digits.js";
import {
  InvalidArgumentError,
  MissingOracleError,
  NonFiniteError,
  ShapeMismatchError,
} from "../../src/errors.js";
import { serializeOptimizer } from "../../src/optim/checkpoint.js";
import type { KfacState, ScaleByKfacOptions } from "../../src/optim/kfac.js";
import { kfac, scaleByKfac } from "../../src/optim/kfac.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { partition } from "../../src/optim/partition.js";
import { sgd } from "../../src/optim/sgd.js";
import type {
  DenseLayer,
  DenseLayerStatistics,
  LayerStatisticsObjective,
} from "../../src/oracles/denseLayers.js";
import { denseNetwork } from "../../src/oracles/denseLayers.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertClose, assertInvalidArgument, assertSameBits } from "../helpers/assertions.js";
import { everyNth, fillUniform } from "../helpers/inputs.js";
import {
  assertRepeatsAndResumes,
  fakeLayerStatisticsObjective,
  lossAfterSteps,
  seededLayerStatistics,
} from "../helpers/layerStatistics.js";
import { denseSolve } from "../reference/mfac.js";

type Matrix = number[][];

const layout = new Layout(
  [
    { name: "layer1.weight", shape: [3, 2] },
    { name: "layer1.bias", shape: [2] },
    { name: "other", shape: [4] },
    { name: "layer2.weight", shape: [2, 3] },
  ],
  "float64",
);
const layers: DenseLayer[] = [
  { weight: "layer1.weight", bias: "layer1.bias", inputs: 3, outputs: 2 },
  { weight: "layer2.weight", inputs: 2, outputs: 3 },
];
const ROWS = 5;

/** Random statistics for call `k` (inputs and gradients of every layer, B = 5). */
const statisticsFor = (k: number, scale = 1): DenseLayerStatistics =>
  seededLayerStatistics(layers, ROWS, { inputs: 100, outputGradients: 200 }, k, scale);

/** A fake objective serving `produce(call)` as its statistics, recording the options. */
const fakeObjective = (produce: (call: number) => DenseLayerStatistics = statisticsFor) =>
  fakeLayerStatisticsObjective(layout, layers, produce);

/** (1/B)·Σ_i x_i x_iᵀ of the rows of x (with a 1 appended when `ones`). */
function covariance(x: ArrayLike<number>, width: number, ones: boolean): Matrix {
  const n = width + (ones ? 1 : 0);
  const out: Matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < ROWS; i++) {
    const row = Array.from({ length: n }, (_, k) => (k < width ? x[i * width + k] : 1));
    for (let a = 0; a < n; a++) for (let b = 0; b < n; b++) out[a][b] += (row[a] * row[b]) / ROWS;
  }
  return out;
}

const identity = (n: number): Matrix =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));
const blend = (p: Matrix, q: Matrix, beta: number): Matrix =>
  p.map((row, i) => row.map((v, j) => beta * v + (1 - beta) * q[i][j]));
const shifted = (p: Matrix, s: number): Matrix =>
  p.map((row, i) => row.map((v, j) => v + (i === j ? s : 0)));

/** V with (A ⊗ G + λI)·vec(V) = vec(W̄), the Kronecker matrix written out (vec row-major). */
function kroneckerSolve(a: Matrix, g: Matrix, damping: number, w: readonly number[]): number[] {
  const m = a.length;
  const n = g.length;
  const k: Matrix = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      const row = new Array<number>(m * n).fill(0);
      for (let p = 0; p < m; p++) for (let q = 0; q < n; q++) row[p * n + q] = a[i][p] * g[j][q];
      row[i * n + j] += damping;
      k.push(row);
    }
  }
  return denseSolve(k, w);
}

/** W̄ of layer l read from a flat buffer: weight rows, then the bias row. */
function augmented(buffer: FloatArray, l: number): number[] {
  const layer = layers[l];
  const w = Array.from(layout.view(buffer, layer.weight));
  return layer.bias ? [...w, ...layout.view(buffer, layer.bias)] : w;
}

/** Runs the bare transform over `gradients`, returning each step's output. */
async function runTransform(
  options: ScaleByKfacOptions,
  gradients: readonly Float64Array[],
  produce?: (call: number) => DenseLayerStatistics,
) {
  const t = scaleByKfac(options);
  const state = t.init(layout);
  const { objective, calls } = fakeObjective(produce);
  const params = layout.zeros();
  const outputs: Float64Array[] = [];
  for (const g of gradients) {
    const u = g.slice();
    await t.update(u, state, { params, layout, objective });
    outputs.push(u);
  }
  return { outputs, state, calls };
}

const gradientsFor = (steps: number): Float64Array[] =>
  Array.from({ length: steps }, (_, k) => fillUniform(layout.zeros(), 300 + k) as Float64Array);

describe("K-FAC's preconditioned step", () => {
  it("equals (A ⊗ G + λI)⁻¹ vec(W̄) solved directly, with A, G from one batch (eigen damping)", async () => {
    for (const damping of [1e-3, 0.3]) {
      const [g] = gradientsFor(1);
      const { outputs } = await runTransform({ damping, klClip: Infinity, statDecay: 0.9 }, [g]);
      const stats = statisticsFor(0);
      layers.forEach((layer, l) => {
        const a = blend(
          identity(layer.inputs + (layer.bias ? 1 : 0)),
          covariance(stats.layers[l].inputs, layer.inputs, !!layer.bias),
          0.9,
        );
        const gg = blend(
          identity(layer.outputs),
          covariance(stats.layers[l].outputGradients, layer.outputs, false),
          0.9,
        );
        const expected = kroneckerSolve(a, gg, damping, augmented(g, l));
        assertClose(augmented(outputs[0], l), expected, 1e-10, `λ=${damping} ${layer.weight}`);
      });
      assert.deepEqual(
        layout.view(outputs[0], "other"),
        layout.view(g, "other"),
        "other passes through",
      );
    }
  });

  it("equals (A + π√λ I)⁻¹ W̄ (G + √λ/π I)⁻¹ with factored Tikhonov damping", async () => {
    const damping = 0.05;
    const [g] = gradientsFor(1);
    const { outputs } = await runTransform(
      { damping, dampingForm: "factored", klClip: Infinity, statDecay: 0.5 },
      [g],
    );
    const stats = statisticsFor(0, 1);
    layers.forEach((layer, l) => {
      const a = blend(
        identity(layer.inputs + (layer.bias ? 1 : 0)),
        covariance(stats.layers[l].inputs, layer.inputs, !!layer.bias),
        0.5,
      );
      const gg = blend(
        identity(layer.outputs),
        covariance(stats.layers[l].outputGradients, layer.outputs, false),
        0.5,
      );
      const meanTrace = (m: Matrix) => m.reduce((s, row, i) => s + row[i], 0) / m.length;
      const pi = Math.sqrt(meanTrace(a) / meanTrace(gg));
      const gamma = Math.sqrt(damping);
      const expected = kroneckerSolve(
        shifted(a, pi * gamma),
        shifted(gg, gamma / pi),
        0,
        augmented(g, l),
      );
      assertClose(augmented(outputs[0], l), expected, 1e-10, `${layer.weight}`);
    });
  });

  it("follows the schedule over many steps: EMA every T_cov steps, inverse every T_inv steps", async () => {
    const steps = 11;
    const options = {
      damping: 0.01,
      klClip: Infinity,
      covarianceInterval: 2,
      inverseInterval: 3,
      statDecay: 0.8,
    };
    const gradients = gradientsFor(steps);
    const { outputs, calls } = await runTransform(options, gradients);
    assert.equal(calls.length, 6, "statistics at t = 0, 2, 4, 6, 8, 10");
    const factors = layers.map((layer) => ({
      a: identity(layer.inputs + (layer.bias ? 1 : 0)),
      g: identity(layer.outputs),
    }));
    let snapshot = factors;
    let call = 0;
    for (let t = 0; t < steps; t++) {
      if (t % 2 === 0) {
        const stats = statisticsFor(call++);
        layers.forEach((layer, l) => {
          factors[l] = {
            a: blend(
              factors[l].a,
              covariance(stats.layers[l].inputs, layer.inputs, !!layer.bias),
              0.8,
            ),
            g: blend(
              factors[l].g,
              covariance(stats.layers[l].outputGradients, layer.outputs, false),
              0.8,
            ),
          };
        });
      }
      if (t % 3 === 0) snapshot = factors.map((f) => ({ ...f }));
      layers.forEach((layer, l) => {
        const expected = kroneckerSolve(
          snapshot[l].a,
          snapshot[l].g,
          0.01,
          augmented(gradients[t], l),
        );
        assertClose(augmented(outputs[t], l), expected, 1e-9, `step ${t} ${layer.weight}`);
      });
    }
  });

  it("scales every layer by ν = min(1, √(κ / (η²·Σ⟨V, W̄⟩))) (the KL clip)", async () => {
    const [g] = gradientsFor(1);
    const { outputs: free } = await runTransform({ klClip: Infinity }, [g]);
    const inner = layers.reduce((s, _, l) => {
      const v = augmented(free[0], l);
      const w = augmented(g, l);
      return s + v.reduce((t, x, k) => t + x * w[k], 0);
    }, 0);
    assert.ok(inner > 0);
    const learningRate = 0.5;
    for (const klClip of [1e-4, 1e-2, 1e3]) {
      const { outputs } = await runTransform({ klClip, learningRate }, [g]);
      const nu = Math.min(1, Math.sqrt(klClip / (learningRate ** 2 * inner)));
      layers.forEach((layer, l) => {
        assertClose(
          augmented(outputs[0], l),
          augmented(free[0], l).map((v) => nu * v),
          1e-12,
          `κ=${klClip} ${layer.weight}`,
        );
      });
      assert.deepEqual(layout.view(outputs[0], "other"), layout.view(g, "other"));
    }
  });

  it("asks for sampled-label statistics (seed, stream = step) or the data's", async () => {
    const gradients = gradientsFor(5);
    const sampled = await runTransform({ covarianceInterval: 2, seed: 9 }, gradients);
    assert.deepEqual(sampled.calls, [
      { labels: "sampled", seed: 9, count: 0 },
      { labels: "sampled", seed: 9, count: 2 },
      { labels: "sampled", seed: 9, count: 4 },
    ]);
    const empirical = await runTransform({ covarianceInterval: 4, fisher: "empirical" }, gradients);
    assert.deepEqual(
      empirical.calls.map((c) => c.labels),
      ["data", "data"],
    );
  });

  it("preconditions only the selected layers", async () => {
    const [g] = gradientsFor(1);
    const { outputs, state } = await runTransform({ layers: ["layer2.weight"], klClip: Infinity }, [
      g,
    ]);
    assert.deepEqual(Object.keys((state as KfacState).layers), ["layer2.weight"]);
    for (const name of ["layer1.weight", "layer1.bias", "other"]) {
      assert.deepEqual(layout.view(outputs[0], name), layout.view(g, name), name);
    }
    assert.notDeepEqual(layout.view(outputs[0], "layer2.weight"), layout.view(g, "layer2.weight"));
  });
});

describe("kfac (the reference's chain)", () => {
  it("adds weight decay from step 20·T_cov on, then heavy-ball momentum and −lr", async () => {
    // Without preconditioned layers (an empty selection) kfac is the reference's SGD tail.
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 1));
    const reference = new ParamSet(layout, params.data.slice());
    const options = { learningRate: 0.1, momentum: 0.5, weightDecay: 0.2, covarianceInterval: 1 };
    const opt = new Optimizer(params, kfac({ ...options, layers: () => false }));
    const early = new Optimizer(reference, sgd({ learningRate: 0.1, momentum: 0.5 }));
    const { objective } = fakeObjective();
    const grads = gradientsFor(25);
    for (let t = 0; t < 20; t++) {
      await opt.update(grads[t], objective);
      await early.update(grads[t]);
    }
    assertSameBits(params.data, reference.data, "no weight decay before step 20");
    // From step 20 on: d = g + wd·θ enters the same momentum buffer.
    const buffer = (
      early.state["0:scaleByMomentum"] as { momentumBuffer: Float64Array }
    ).momentumBuffer.slice();
    const theta = reference.data.slice();
    for (let t = 20; t < 25; t++) {
      await opt.update(grads[t], objective);
      for (let i = 0; i < theta.length; i++) {
        buffer[i] = 0.5 * buffer[i] + (grads[t][i] + 0.2 * theta[i]);
        theta[i] -= 0.1 * buffer[i];
      }
    }
    assertClose(params.data, theta, 1e-12, "with weight decay");
  });

  it("converges on the digits perceptron, faster than SGD with the same momentum", async () => {
    const data = everyNth(loadDigits(), 2);
    const net = await denseNetwork({ sizes: [64, 32, 10], data, seed: 1 });
    try {
      const initial = await net.value(net.initialParams());
      const preconditioned = await lossAfterSteps(
        net,
        kfac({ learningRate: 0.3, damping: 1e-2, klClip: 1e-2, inverseInterval: 10 }),
        40,
      );
      const plain = await lossAfterSteps(net, sgd({ learningRate: 0.3, momentum: 0.9 }), 40);
      assert.ok(initial > 2, `initial ${initial}`);
      assert.ok(preconditioned < 0.15, `K-FAC loss after 40 steps: ${preconditioned}`);
      assert.ok(preconditioned < plain, `K-FAC ${preconditioned} vs SGD ${plain}`);
    } finally {
      net.dispose();
    }
  });

  it("resumes bit-exactly from a checkpoint, and the same seed gives the same bits", async () => {
    const data = everyNth(loadDigits(), 30);
    const net = await denseNetwork({ sizes: [64, 6, 10], data, dtype: "float64", seed: 2 });
    try {
      const options = {
        learningRate: 0.2,
        covarianceInterval: 2,
        inverseInterval: 3,
        klClip: 0.05,
      };
      await assertRepeatsAndResumes(net, () => kfac(options), 8, 4, "kfac");
    } finally {
      net.dispose();
    }
  });
});

describe("kfac bad input", () => {
  it("rejects bad options, naming the option and the value", () => {
    assertInvalidArgument(() => kfac({ damping: 0 }), "damping", 0);
    assertInvalidArgument(
      () => kfac({ dampingForm: "diagonal" as "eigen" }),
      "dampingForm",
      "diagonal",
    );
    assertInvalidArgument(() => kfac({ statDecay: 1 }), "statDecay", 1);
    assertInvalidArgument(() => kfac({ covarianceInterval: 0 }), "covarianceInterval", 0);
    assertInvalidArgument(() => kfac({ inverseInterval: 2.5 }), "inverseInterval", 2.5);
    assertInvalidArgument(() => kfac({ klClip: 0 }), "klClip", 0);
    assertInvalidArgument(() => kfac({ klClip: NaN }), "klClip", NaN);
    assertInvalidArgument(() => kfac({ fisher: "true" as "sampled" }), "fisher", "true");
    assertInvalidArgument(() => kfac({ seed: -1 }), "seed", -1);
    assertInvalidArgument(() => kfac({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => kfac({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => kfac({ weightDecayStart: -2 }), "weightDecayStart", -2);
    assertInvalidArgument(() => kfac({ layers: 3 as unknown as string }), "layers", 3);
    assertInvalidArgument(() => kfac({ stat_decay: 0.9 } as object), "stat_decay", 0.9);
    assertInvalidArgument(
      () => new Optimizer(new ParamSet(layout), kfac({ layers: "other" })),
      "layers",
      "other [4]",
    );
  });

  /** One step that must throw, leaving parameters and state as they were. */
  async function rejectsUnchanged(
    objective: LayerStatisticsObjective,
    check: (e: unknown) => boolean,
  ) {
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 3));
    const start = params.data.slice();
    const opt = new Optimizer(params, kfac({ covarianceInterval: 2 }));
    const good = fakeObjective().objective;
    await opt.update(gradientsFor(1)[0], good);
    await opt.update(gradientsFor(2)[1], good);
    const before = serializeOptimizer(opt, { includeParams: true });
    const moved = params.data.slice();
    assert.notDeepEqual(moved, start);
    await assert.rejects(opt.update(gradientsFor(3)[2], objective), check);
    assert.deepEqual(params.data, moved);
    assert.deepEqual(serializeOptimizer(opt, { includeParams: true }), before);
  }

  it("names the missing oracle and the objective", async () => {
    const plain = { name: "no-layers", layout, value: () => 0, valueAndGrad: () => 0 };
    const opt = new Optimizer(new ParamSet(layout), kfac());
    await assert.rejects(
      opt.step(plain),
      (e: unknown) =>
        e instanceof MissingOracleError &&
        e.objective === "no-layers" &&
        e.oracle === "layerStatistics",
    );
    await assert.rejects(
      opt.update(layout.zeros()),
      (e: unknown) => e instanceof MissingOracleError && /opt\.step\(objective\)/.test(e.message),
    );
  });

  it("rejects non-finite or misshapen statistics before anything changes", async () => {
    const nan = fakeObjective((k) => {
      const s = statisticsFor(k);
      (s.layers[1].outputGradients as Float64Array)[4] = NaN;
      return s;
    }).objective;
    await rejectsUnchanged(
      nan,
      (e) => e instanceof NonFiniteError && e.message.includes("layer2.weight"),
    );
    const short = fakeObjective((k) => ({ ...statisticsFor(k), examples: 4 })).objective;
    await rejectsUnchanged(short, (e) => e instanceof ShapeMismatchError);
    const other: LayerStatisticsObjective = {
      ...fakeObjective().objective,
      denseLayers: [layers[0]],
    };
    await rejectsUnchanged(
      other,
      (e) =>
        e instanceof ShapeMismatchError && /layer2\.weight is not a dense layer/.test(String(e)),
    );
  });

  it("refuses to run inside a partition group (the statistics need every parameter)", async () => {
    const t = partition(
      { dense: ["layer1.weight", "layer1.bias"], rest: ["other", "layer2.weight"] },
      { dense: kfac(), rest: sgd({ learningRate: 0.1 }) },
    );
    const opt = new Optimizer(new ParamSet(layout), t);
    await assert.rejects(
      opt.update(gradientsFor(1)[0], fakeObjective().objective),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "parameters",
    );
  });
});
