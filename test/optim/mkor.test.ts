// MKOR: the Sherman–Morrison-updated factor inverses against inverting the updated factors
// densely, over many steps, in both forms (with the official resets and the paper's
// stabilization), the rescaled direction, the reduction to SGD before the first update,
// convergence on the digits perceptron, checkpoints, and bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadDigits } from "../../src/data/digits.js";
import { MissingOracleError, NonFiniteError } from "../../src/errors.js";
import { serializeOptimizer } from "../../src/optim/checkpoint.js";
import type { MkorLayerState, MkorState, ScaleByMkorOptions } from "../../src/optim/mkor.js";
import { mkor, scaleByMkor } from "../../src/optim/mkor.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { sgd } from "../../src/optim/sgd.js";
import type { DenseLayer, DenseLayerStatistics } from "../../src/oracles/denseLayers.js";
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
    { name: "layer1.weight", shape: [4, 3] },
    { name: "layer1.bias", shape: [3] },
    { name: "other", shape: [2] },
    { name: "layer2.weight", shape: [3, 2] },
  ],
  "float64",
);
const layers: DenseLayer[] = [
  { weight: "layer1.weight", bias: "layer1.bias", inputs: 4, outputs: 3 },
  { weight: "layer2.weight", inputs: 3, outputs: 2 },
];
const ROWS = 6;

/** Statistics of call k: entries up to `scale` in size (some beyond the clipping value). */
const statisticsFor = (k: number, scale = 1.5): DenseLayerStatistics =>
  seededLayerStatistics(layers, ROWS, { inputs: 500, outputGradients: 700 }, k, scale);

const fakeObjective = (produce: (call: number) => DenseLayerStatistics = (k) => statisticsFor(k)) =>
  fakeLayerStatisticsObjective(layout, layers, produce);

const identity = (n: number): Matrix =>
  Array.from({ length: n }, (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)));

/** The inverse of `m` by a dense solve per column (no Sherman–Morrison). */
function inverse(m: Matrix): Matrix {
  const n = m.length;
  const columns = identity(n).map((e) => denseSolve(m, e));
  return columns[0].map((_, i) => columns.map((column) => column[i]));
}

const product = (a: Matrix, b: Matrix): Matrix =>
  a.map((row) => b[0].map((_, j) => row.reduce((s, v, k) => s + v * b[k][j], 0)));
const combine = (a: Matrix, alpha: number, b: Matrix, beta: number): Matrix =>
  a.map((row, i) => row.map((v, j) => alpha * v + beta * b[i][j]));
const outer = (v: readonly number[]): Matrix => v.map((x) => v.map((y) => x * y));
const maxAbs = (m: Matrix): number => Math.max(...m.flat().map(Math.abs));

/** Batch mean of the rows of x clamped to ±clip (with the homogeneous 1 when `one`). */
function clampedMean(x: ArrayLike<number>, width: number, clip: number, one: boolean): number[] {
  const mean = Array.from({ length: width }, (_, j) => {
    let sum = 0;
    for (let i = 0; i < ROWS; i++) sum += Math.min(clip, Math.max(-clip, x[i * width + j]));
    return sum / ROWS;
  });
  return one ? [...mean, Math.min(1, clip)] : mean;
}

/** W̄ of layer l as rows: the weight's rows, then the bias. */
function augmented(buffer: FloatArray, l: number): Matrix {
  const layer = layers[l];
  const w = Array.from(layout.view(buffer, layer.weight));
  const rows = Array.from({ length: layer.inputs }, (_, i) =>
    w.slice(i * layer.outputs, (i + 1) * layer.outputs),
  );
  return layer.bias ? [...rows, Array.from(layout.view(buffer, layer.bias))] : rows;
}

/**
 * MKOR written with dense inverses: the factor F is updated as the form says and P = F⁻¹ is
 * recomputed by solving, every refresh.
 */
class DenseMkor {
  readonly inverses: { a: Matrix; g: Matrix; resetA: boolean; resetG: boolean }[];

  constructor(
    readonly official: boolean,
    readonly decay: number,
    readonly threshold: number,
    readonly factor: number,
    readonly clip: number,
  ) {
    this.inverses = layers.map((layer) => ({
      a: identity(layer.inputs + (layer.bias ? 1 : 0)),
      g: identity(layer.outputs),
      resetA: official,
      resetG: official,
    }));
  }

  refresh(stats: DenseLayerStatistics): void {
    layers.forEach((layer, l) => {
      const state = this.inverses[l];
      const vA = clampedMean(stats.layers[l].inputs, layer.inputs, this.clip, !!layer.bias);
      const vG = clampedMean(stats.layers[l].outputGradients, layer.outputs, this.clip, false);
      for (const side of ["a", "g"] as const) {
        const v = side === "a" ? vA : vG;
        const p = state[side];
        const n = p.length;
        if (this.official) {
          const flag = side === "a" ? "resetA" : "resetG";
          if (state[flag]) {
            state[side] = identity(n);
            state[flag] = false;
            continue;
          }
          const blended = combine(p, this.decay, identity(n), 1 - this.decay);
          state[side] = inverse(combine(inverse(blended), 1, outer(v), 1));
          if (maxAbs(state[side]) > this.threshold) state.resetA = state.resetG = true;
        } else {
          const stable =
            maxAbs(p) > this.threshold ? combine(p, 1 - this.factor, identity(n), this.factor) : p;
          state[side] = inverse(combine(inverse(stable), this.decay, outer(v), 1 - this.decay));
        }
      }
    });
  }

  /** The rescaled direction of layer l for its augmented gradient W̄. */
  direction(l: number, w: Matrix): Matrix {
    const v = product(product(this.inverses[l].a, w), this.inverses[l].g);
    const norm = (m: Matrix) => Math.sqrt(m.flat().reduce((s, x) => s + x * x, 0));
    const hasBias = !!layers[l].bias;
    const split = (m: Matrix) => (hasBias ? [m.slice(0, -1), m.slice(-1)] : [m, []]);
    const ratio = this.official
      ? split(w).reduce((s, m) => s + norm(m), 0) / split(v).reduce((s, m) => s + norm(m), 0)
      : norm(w) / norm(v);
    return v.map((row) => row.map((x) => ratio * x));
  }
}

async function compareOverSteps(options: ScaleByMkorOptions, steps: number) {
  const official = (options.form ?? "official") === "official";
  const reference = new DenseMkor(
    official,
    options.statDecay ?? 0.95,
    options.stabilizationThreshold ?? 2,
    options.stabilizationFactor ?? 0.1,
    options.clippingValue ?? 100,
  );
  const t = scaleByMkor({ inverseInterval: 1, ...options });
  const state = t.init(layout);
  const { objective } = fakeObjective();
  const params = layout.zeros();
  let stabilized = 0;
  let resets = 0;
  for (let step = 0; step < steps; step++) {
    const g = fillUniform(layout.zeros(), 900 + step) as Float64Array;
    const u = g.slice();
    await t.update(u, state, { params, layout, objective });
    const before = reference.inverses.map((s) => maxAbs(s.a) > reference.threshold);
    const flagsBefore = reference.inverses.map((s) => s.resetA || s.resetG);
    reference.refresh(statisticsFor(step));
    stabilized += before.filter(Boolean).length;
    resets += flagsBefore.filter(Boolean).length;
    layers.forEach((layer, l) => {
      const got = (state as MkorState).layers[layer.weight] as MkorLayerState;
      const n = layer.inputs + (layer.bias ? 1 : 0);
      const expected = reference.inverses[l];
      const what = `${options.form ?? "official"} step ${step} ${layer.weight}`;
      assertClose(got.inverseA, expected.a.flat(), 1e-9, `${what} P_A`, { floor: 1e-3 });
      assertClose(got.inverseG, expected.g.flat(), 1e-9, `${what} P_G`, { floor: 1e-3 });
      assert.equal(got.inverseA.length, n * n);
      const direction = reference.direction(l, augmented(g, l));
      assertClose(augmented(u, l).flat(), direction.flat(), 1e-9, `${what} direction`, {
        floor: 1e-3,
      });
    });
    assert.deepEqual(layout.view(u, "other"), layout.view(g, "other"), "other passes through");
  }
  return { stabilized, resets };
}

describe("MKOR's rank-1 inverse updates", () => {
  it("equal inverting the updated factors densely over many steps (official form)", async () => {
    const { resets } = await compareOverSteps({}, 30);
    assert.ok(resets >= 2, "the first refresh resets both layers");
  });

  it("follow the official resets: max|P| > ε resets both factors of the layer at the next refresh", async () => {
    // max|P| ≤ 1 by construction (P' ≤ I, so F ≥ I), so a threshold below 1 makes resets happen.
    const { resets } = await compareOverSteps({ stabilizationThreshold: 0.9, statDecay: 0.8 }, 30);
    assert.ok(resets > 4, `resets seen: ${resets}`);
  });

  it("equal inverting the updated factors densely over many steps (paper form, with stabilization)", async () => {
    const { stabilized } = await compareOverSteps({ form: "paper", clippingValue: 0.5 }, 40);
    assert.ok(stabilized > 0, "the norm-based stabilization ran");
  });

  it("clamps the statistics before averaging", async () => {
    await compareOverSteps({ clippingValue: 0.3, statDecay: 0.7 }, 8);
  });

  it("refreshes on the schedule (every T_inv steps, every step during warmup)", async () => {
    const t = scaleByMkor({ inverseInterval: 4, warmupSteps: 3, fisher: "sampled", seed: 2 });
    const state = t.init(layout);
    const { objective, calls } = fakeObjective();
    for (let step = 0; step < 10; step++) {
      await t.update(layout.zeros(), state, { params: layout.zeros(), layout, objective });
    }
    assert.deepEqual(
      calls.map((c) => c.count),
      [0, 1, 2, 4, 8],
    );
    assert.ok(calls.every((c) => c.labels === "sampled" && c.seed === 2));
    const empirical = fakeObjective();
    const u = scaleByMkor();
    await u.update(layout.zeros(), u.init(layout), {
      params: layout.zeros(),
      layout,
      objective: empirical.objective,
    });
    assert.equal(empirical.calls[0].labels, "data");
  });
});

describe("mkor (the reference's chain)", () => {
  it("is SGD with momentum bit for bit until the first update of the inverses (they start reset)", async () => {
    const a = new ParamSet(layout, fillUniform(layout.zeros(), 4));
    const b = new ParamSet(layout, a.data.slice());
    const withMkor = new Optimizer(a, mkor({ learningRate: 0.05, inverseInterval: 5 }));
    const plain = new Optimizer(b, sgd({ learningRate: 0.05, momentum: 0.9 }));
    const { objective } = fakeObjective();
    for (let step = 0; step < 10; step++) {
      const g = fillUniform(layout.zeros(), 40 + step);
      await withMkor.update(g, objective);
      await plain.update(g);
      if (step < 5) assertSameBits(a.data, b.data, `step ${step}`);
    }
    assert.notDeepEqual(a.data, b.data, "preconditioned from step 5 on");
  });

  it("converges on the digits perceptron, faster than the same SGD without preconditioning", async () => {
    const data = everyNth(loadDigits(), 2);
    const net = await denseNetwork({ sizes: [64, 32, 10], data, seed: 1 });
    try {
      const preconditioned = await lossAfterSteps(net, mkor(), 50);
      const plain = await lossAfterSteps(net, sgd({ learningRate: 0.1, momentum: 0.9 }), 50);
      assert.ok(preconditioned < 0.25, `MKOR loss after 50 steps: ${preconditioned}`);
      assert.ok(preconditioned < plain, `MKOR ${preconditioned} vs SGD ${plain}`);
      const paper = await lossAfterSteps(net, mkor({ form: "paper" }), 50);
      assert.ok(paper < 0.3, `MKOR (paper form) loss after 50 steps: ${paper}`);
    } finally {
      net.dispose();
    }
  });

  it("resumes bit-exactly from a checkpoint, and the same seed gives the same bits", async () => {
    const data = everyNth(loadDigits(), 30);
    const net = await denseNetwork({ sizes: [64, 6, 10], data, dtype: "float64", seed: 4 });
    try {
      for (const form of ["official", "paper"] as const) {
        const options = { form, inverseInterval: 3, warmupSteps: 2, weightDecay: 1e-3 };
        await assertRepeatsAndResumes(net, () => mkor(options), 9, 4, form);
      }
    } finally {
      net.dispose();
    }
  });
});

describe("mkor bad input", () => {
  it("rejects bad options, naming the option and the value", () => {
    assertInvalidArgument(() => mkor({ form: "fast" as "paper" }), "form", "fast");
    assertInvalidArgument(() => mkor({ inverseInterval: 0 }), "inverseInterval", 0);
    assertInvalidArgument(() => mkor({ statDecay: 1 }), "statDecay", 1);
    assertInvalidArgument(() => mkor({ form: "paper", statDecay: 0 }), "statDecay", 0);
    assertInvalidArgument(() => mkor({ stabilizationFactor: 1.5 }), "stabilizationFactor", 1.5);
    assertInvalidArgument(() => mkor({ stabilizationThreshold: 0 }), "stabilizationThreshold", 0);
    assertInvalidArgument(() => mkor({ clippingValue: -1 }), "clippingValue", -1);
    assertInvalidArgument(() => mkor({ warmupSteps: 1.5 }), "warmupSteps", 1.5);
    assertInvalidArgument(() => mkor({ fisher: "true" as "sampled" }), "fisher", "true");
    assertInvalidArgument(() => mkor({ momentum: -0.1 }), "momentum", -0.1);
    assertInvalidArgument(() => mkor({ learningRate: NaN }), "learningRate", NaN);
    assertInvalidArgument(() => mkor({ inv_freq: 10 } as object), "inv_freq", 10);
    assertInvalidArgument(() => mkor({ layers: [1] as unknown as string[] }), "layers", [1]);
  });

  it("names the missing oracle and the objective", async () => {
    const plain = { name: "no-layers", layout, value: () => 0, valueAndGrad: () => 0 };
    const opt = new Optimizer(new ParamSet(layout), mkor());
    await assert.rejects(
      opt.step(plain),
      (e: unknown) =>
        e instanceof MissingOracleError &&
        e.objective === "no-layers" &&
        e.oracle === "layerStatistics",
    );
  });

  it("rejects non-finite statistics before anything changes", async () => {
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 3));
    const opt = new Optimizer(params, mkor({ inverseInterval: 2 }));
    const good = fakeObjective().objective;
    await opt.update(fillUniform(layout.zeros(), 1), good);
    await opt.update(fillUniform(layout.zeros(), 2), good);
    const before = serializeOptimizer(opt, { includeParams: true });
    const bad = fakeObjective((k) => {
      const s = statisticsFor(k);
      (s.layers[0].inputs as Float64Array)[7] = Infinity;
      return s;
    }).objective;
    await assert.rejects(
      opt.update(fillUniform(layout.zeros(), 3), bad),
      (e: unknown) => e instanceof NonFiniteError && e.message.includes("layer1.weight"),
    );
    assert.deepEqual(serializeOptimizer(opt, { includeParams: true }), before);
  });
});
