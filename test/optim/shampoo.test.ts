import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError } from "../../src/errors.js";
import { adamw } from "../../src/optim/adam.js";
import { adagrad } from "../../src/optim/adagrad.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { routeMatrices } from "../../src/optim/muon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { ShampooGrafting, ShampooOptions } from "../../src/optim/shampoo.js";
import { scaleByShampoo, shampoo } from "../../src/optim/shampoo.js";
import { sgd } from "../../src/optim/sgd.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { leastSquares } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  snapshotState,
} from "../helpers/assertions.js";
import { loadCases } from "../helpers/conformance.js";
import { fillUniform, sampleGradients, seededParams } from "../helpers/inputs.js";
import { digitsShapedMlp, valueAfterSteps } from "../helpers/problems.js";
import { jacobiEigen, polarFactor, product, transpose } from "../linalg/matrixReference.js";

/** Matrices only: tall, wide and a 3-D tensor seen as 2×6. */
const matrixLayout = (dtype: DType = "float64") =>
  new Layout(
    [
      { name: "tall", shape: [6, 4] },
      { name: "wide", shape: [3, 5] },
      { name: "filter", shape: [2, 3, 2] },
    ],
    dtype,
  );

/** Runs `transform` on seeded parameters of `layout` through `gradients`. */
async function run(
  layout: Layout,
  transform: GradientTransform,
  gradients: FloatArray[],
): Promise<{ params: ParamSet; opt: Optimizer }> {
  const params = seededParams(layout);
  const opt = new Optimizer(params, transform);
  for (const g of gradients) await opt.update(g);
  return { params, opt };
}

// ---------------------------------------------------------------------------------------------
// An independent dense reference of the paper form

/** (A + εI)^(−1/p) with Distributed Shampoo's shift, from Jacobi eigenpairs. */
function referenceRoot(a: Float64Array, n: number, p: number, epsilon: number): Float64Array {
  const damped = a.slice();
  for (let i = 0; i < n; i++) damped[i * n + i] += epsilon;
  const { values, vectors } = jacobiEigen(damped, n);
  const smallest = Math.min(...values);
  const shift = smallest < epsilon ? epsilon - smallest : 0;
  const out = new Float64Array(n * n);
  for (let k = 0; k < n; k++) {
    const weight = (values[k] + shift) ** (-1 / p);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++)
        out[i * n + j] += weight * vectors[i * n + k] * vectors[j * n + k];
    }
  }
  return out;
}

interface ReferenceOptions {
  lr: number;
  beta1: number;
  beta2: number;
  epsilon: number;
  frequency: number;
  start: number;
  grafting: ShampooGrafting;
  graftingBeta2: number;
  graftingEps: number;
  weightDecay: number;
}

/** The file header's equations, one tensor at a time, with plain loops and Jacobi roots. */
function referenceShampoo(o: ReferenceOptions) {
  interface TensorState {
    l: Float64Array;
    r: Float64Array;
    lRoot: Float64Array;
    rRoot: Float64Array;
    m: Float64Array;
    v: Float64Array;
  }
  const states = new Map<string, TensorState>();
  let t = 0;
  const eye = (n: number) => {
    const e = new Float64Array(n * n);
    for (let i = 0; i < n; i++) e[i * n + i] = 1;
    return e;
  };
  return (params: ParamSet, grad: ArrayLike<number>) => {
    t++;
    const w = o.beta2 === 1 ? 1 : 1 - o.beta2;
    const bc2 = o.beta2 < 1 ? 1 - o.beta2 ** t : 1;
    const due = (t % o.frequency === 0 && t > o.start) || t === o.start;
    for (const spec of params.layout.tensors) {
      const rows = spec.shape[0];
      const cols = spec.size / rows;
      let s = states.get(spec.name);
      if (!s) {
        s = {
          l: new Float64Array(rows * rows),
          r: new Float64Array(cols * cols),
          lRoot: eye(rows),
          rRoot: eye(cols),
          m: new Float64Array(spec.size),
          v: new Float64Array(spec.size),
        };
        states.set(spec.name, s);
      }
      const g = Float64Array.from({ length: spec.size }, (_, i) => grad[spec.offset + i]);
      const ggt = product(g, transpose(g, rows, cols), rows, cols, rows);
      const gtg = product(transpose(g, rows, cols), g, cols, rows, cols);
      for (let i = 0; i < s.l.length; i++) s.l[i] = o.beta2 * s.l[i] + w * ggt[i];
      for (let i = 0; i < s.r.length; i++) s.r[i] = o.beta2 * s.r[i] + w * gtg[i];
      if (due) {
        s.lRoot = referenceRoot(
          s.l.map((x) => x / bc2),
          rows,
          4,
          o.epsilon,
        );
        s.rRoot = referenceRoot(
          s.r.map((x) => x / bc2),
          cols,
          4,
          o.epsilon,
        );
      }
      const mHat = new Float64Array(spec.size);
      const graft = new Float64Array(spec.size);
      for (let i = 0; i < spec.size; i++) {
        s.m[i] = o.beta1 * s.m[i] + (1 - o.beta1) * g[i];
        mHat[i] = s.m[i] / (1 - o.beta1 ** t);
        if (o.grafting === "adam") {
          s.v[i] = o.graftingBeta2 * s.v[i] + (1 - o.graftingBeta2) * g[i] * g[i];
          graft[i] = mHat[i] / (Math.sqrt(s.v[i] / (1 - o.graftingBeta2 ** t)) + o.graftingEps);
        } else if (o.grafting === "adagrad") {
          s.v[i] += g[i] * g[i];
          graft[i] = mHat[i] / (Math.sqrt(s.v[i]) + o.graftingEps);
        } else {
          graft[i] = mHat[i];
        }
      }
      let d: Float64Array = graft;
      if (t >= o.start) {
        const p = product(product(s.lRoot, mHat, rows, rows, cols), s.rRoot, rows, cols, cols);
        if (o.grafting === "none") {
          d = p;
        } else {
          const norm = (x: Float64Array) => Math.sqrt(x.reduce((acc, y) => acc + y * y, 0));
          const factor = norm(graft) / (norm(p) + 1e-16);
          d = p.map((x) => x * factor);
        }
      }
      const wv = params.view(spec.name);
      for (let i = 0; i < spec.size; i++) wv[i] -= o.lr * (d[i] + o.weightDecay * wv[i]);
    }
  };
}

const referenceDefaults: ReferenceOptions = {
  lr: 0.05,
  beta1: 0.9,
  beta2: 1,
  epsilon: 1e-8,
  frequency: 1,
  start: 1,
  grafting: "adam",
  graftingBeta2: 0.999,
  graftingEps: 1e-10,
  weightDecay: 0,
};

function optionsFor(o: ReferenceOptions): ShampooOptions {
  return {
    learningRate: o.lr,
    beta1: o.beta1,
    beta2: o.beta2,
    epsilon: o.epsilon,
    preconditionFrequency: o.frequency,
    startPreconditioningStep: o.start,
    grafting: o.grafting,
    graftingBeta2: o.graftingBeta2,
    graftingEps: o.graftingEps,
    weightDecay: o.weightDecay,
  };
}

describe("shampoo: the paper form against its equations written out", () => {
  const cases: [string, Partial<ReferenceOptions>][] = [
    ["Distributed Shampoo's defaults (sums, Adam graft, roots every step)", {}],
    [
      "EMA statistics with bias correction, roots every 2 steps from step 4, decoupled decay",
      { beta2: 0.95, frequency: 2, start: 4, weightDecay: 0.1 },
    ],
    ["AdaGrad graft", { grafting: "adagrad", frequency: 3, start: 3 }],
    ["SGD graft without momentum", { grafting: "sgd", beta1: 0 }],
    ["no grafting", { grafting: "none", lr: 0.01, start: 2, frequency: 2 }],
  ];
  for (const [title, overrides] of cases) {
    it(title, async () => {
      const o = { ...referenceDefaults, ...overrides };
      const layout = matrixLayout();
      const gradients = sampleGradients(layout, 8);
      const expected = seededParams(layout);
      const reference = referenceShampoo(o);
      const params = seededParams(layout);
      const opt = new Optimizer(params, shampoo(optionsFor(o)));
      for (const [k, g] of gradients.entries()) {
        await opt.update(g);
        reference(expected, g);
        assertClose(params.data, expected.data, 1e-9, `step ${k + 1}`);
      }
    });
  }
});

describe("shampoo: degenerate cases", () => {
  const grafts: [string, ShampooOptions, () => GradientTransform][] = [
    [
      "Adam (β1 0.9, decoupled decay) equals adamw",
      { grafting: "adam", graftingBeta2: 0.99, graftingEps: 1e-8, weightDecay: 0.01 },
      () => adamw({ learningRate: 0.02, beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: 0.01 }),
    ],
    [
      "AdaGrad (β1 0) equals adagrad",
      { grafting: "adagrad", beta1: 0, graftingEps: 1e-10 },
      () => adagrad({ learningRate: 0.02 }),
    ],
    ["SGD (β1 0) equals sgd", { grafting: "sgd", beta1: 0 }, () => sgd({ learningRate: 0.02 })],
  ];
  for (const dtype of ["float32", "float64"] as const) {
    for (const [title, options, grafted] of grafts) {
      it(`preconditioning off: the ${title}, bit for bit (${dtype})`, async () => {
        const layout = matrixLayout(dtype);
        const gradients = sampleGradients(layout, 6);
        const off = await run(
          layout,
          shampoo({ ...options, learningRate: 0.02, startPreconditioningStep: Infinity }),
          gradients,
        );
        const plain = await run(layout, grafted(), gradients);
        assertSameBits(off.params.data, plain.params.data, "parameters");
      });
    }
  }

  it("steps before startPreconditioningStep are the grafted method's, later ones are not", async () => {
    const layout = matrixLayout();
    const gradients = sampleGradients(layout, 5);
    const adam = () => adamw({ learningRate: 0.02, beta2: 0.999, eps: 1e-10, weightDecay: 0 });
    const late = await run(
      layout,
      shampoo({ learningRate: 0.02, preconditionFrequency: 2, startPreconditioningStep: 4 }),
      gradients.slice(0, 3),
    );
    const plain = await run(layout, adam(), gradients.slice(0, 3));
    assertSameBits(late.params.data, plain.params.data, "after 3 steps");
    await late.opt.update(gradients[3]);
    await plain.opt.update(gradients[3]);
    let gap = 0;
    for (let i = 0; i < layout.size; i++) {
      gap = Math.max(gap, Math.abs(late.params.data[i] - plain.params.data[i]));
    }
    assert.ok(gap > 1e-4, `step 4 is preconditioned (gap ${gap})`);
  });

  for (const [rows, cols] of [
    [5, 3],
    [3, 5],
    [4, 4],
  ]) {
    it(`one step on fresh statistics is the polar factor U·Vᵀ (${rows}×${cols})`, async () => {
      const layout = new Layout([{ name: "w", shape: [rows, cols] }], "float64");
      const g = fillUniform(layout.zeros(), 7 + rows);
      const polar = polarFactor(g, rows, cols);
      const plain = new ParamSet(layout);
      await new Optimizer(plain, shampoo({ learningRate: 1, grafting: "none", beta1: 0 })).update(
        g,
      );
      assertClose(
        plain.data,
        polar.map((x) => -x),
        1e-9,
        "L^(-1/4)·G·R^(-1/4)",
      );
      // With the default Adam graft the same direction takes the norm of Adam's first step,
      // g/(|g| + ε) with ε = 1e-10.
      const grafted = new ParamSet(layout);
      await new Optimizer(grafted, shampoo({ learningRate: 1 })).update(g);
      let adamSquares = 0;
      for (const x of g) adamSquares += (x / (Math.abs(x) + 1e-10)) ** 2;
      const scale = Math.sqrt(adamSquares / Math.min(rows, cols));
      assertClose(
        grafted.data,
        polar.map((x) => -x * scale),
        1e-9,
        "grafted onto Adam",
      );
    });
  }

  it("blocking equals independent Shampoo on the blocks", async () => {
    const rows = 5;
    const cols = 7;
    const size = 3;
    const whole = new Layout([{ name: "w", shape: [rows, cols] }], "float64");
    const cuts = (n: number) => {
      const parts: [number, number][] = [];
      for (let s = 0; s < n; s += size) parts.push([s, Math.min(size, n - s)]);
      return parts;
    };
    const blocks = cuts(rows).flatMap(([r0, r]) => cuts(cols).map(([c0, c]) => ({ r0, r, c0, c })));
    assert.equal(blocks.length, 6);
    const pieces = new Layout(
      blocks.map((b, i) => ({ name: `b${i}`, shape: [b.r, b.c] })),
      "float64",
    );
    const toPieces = (x: FloatArray): Float64Array => {
      const out = new Float64Array(pieces.size);
      blocks.forEach((b, i) => {
        const view = pieces.tensors[i];
        for (let a = 0; a < b.r; a++) {
          for (let c = 0; c < b.c; c++)
            out[view.offset + a * b.c + c] = x[(b.r0 + a) * cols + b.c0 + c];
        }
      });
      return out;
    };
    const options: ShampooOptions = { learningRate: 0.05, preconditionFrequency: 2, beta2: 0.9 };
    const gradients = sampleGradients(whole, 6);
    const start = seededParams(whole);
    const blocked = new ParamSet(whole, start.data.slice());
    const blockedOpt = new Optimizer(blocked, shampoo({ ...options, maxPreconditionerDim: size }));
    const separate = new ParamSet(pieces, toPieces(start.data));
    const separateOpt = new Optimizer(separate, shampoo(options));
    for (const g of gradients) {
      await blockedOpt.update(g);
      await separateOpt.update(toPieces(g));
    }
    assertSameBits(toPieces(blocked.data), separate.data, "parameters");
    // Without blocks the 5×7 matrix is one problem, and the steps differ.
    const unblocked = await run(whole, shampoo(options), gradients);
    assert.notDeepEqual(Array.from(unblocked.params.data), Array.from(blocked.data));
  });
});

describe("shampoo: the pytorch-optimizer form on higher-order tensors", () => {
  it("a 3-D tensor is preconditioned mode by mode with the −1/3 root", async () => {
    const dims = [2, 3, 4];
    const layout = new Layout([{ name: "t", shape: dims }], "float64");
    const gradients = sampleGradients(layout, 3);
    const matrixEps = 0.1;
    const lr = 0.1;
    const params = seededParams(layout);
    const expected = seededParams(layout);
    const opt = new Optimizer(
      params,
      shampoo({ compatibility: "pytorch-optimizer", learningRate: lr, matrixEps }),
    );
    const index = (i: number[]) => (i[0] * dims[1] + i[1]) * dims[2] + i[2];
    const statistics = dims.map((n) => {
      const s = new Float64Array(n * n);
      for (let i = 0; i < n; i++) s[i * n + i] = matrixEps;
      return s;
    });
    for (const g of gradients) {
      let x = Float64Array.from(g);
      for (let mode = 0; mode < 3; mode++) {
        const n = dims[mode];
        // Mode-`mode` unfolding: row i gathers every entry whose index in that mode is i.
        const others = dims.filter((_, d) => d !== mode);
        const unfold = new Float64Array(n * others[0] * others[1]);
        for (let i = 0; i < n; i++) {
          for (let a = 0; a < others[0]; a++) {
            for (let b = 0; b < others[1]; b++) {
              const idx = [a, b];
              idx.splice(mode, 0, i);
              unfold[(i * others[0] + a) * others[1] + b] = x[index(idx)];
            }
          }
        }
        const cols = unfold.length / n;
        const gram = product(unfold, transpose(unfold, n, cols), n, cols, n);
        for (let q = 0; q < n * n; q++) statistics[mode][q] += gram[q];
        const root = referenceRoot(statistics[mode], n, 3, 0);
        const applied = product(root, unfold, n, n, cols);
        const next = new Float64Array(x.length);
        for (let i = 0; i < n; i++) {
          for (let a = 0; a < others[0]; a++) {
            for (let b = 0; b < others[1]; b++) {
              const idx = [a, b];
              idx.splice(mode, 0, i);
              next[index(idx)] = applied[(i * others[0] + a) * others[1] + b];
            }
          }
        }
        x = next;
      }
      await opt.update(g);
      for (let i = 0; i < x.length; i++) expected.data[i] -= lr * x[i];
      assertClose(params.data, expected.data, 1e-9, "parameters");
    }
  });
});

describe("shampoo: convergence", () => {
  it("solves the conformance least-squares problem", async () => {
    const c = loadCases("shampoo").find((c) => c.problem.name === "lstsq")!;
    const data = c.problem.data as { A: number[][]; C: number[][] };
    const f = leastSquares(data.A, data.C);
    const [p, q] = c.problem.shapes.W;
    // The optimum from the normal equations AᵀA·W = AᵀC, solved by Gaussian elimination.
    const a = Float64Array.from(data.A.flat());
    const m = data.A.length;
    const ata = product(transpose(a, m, p), a, p, m, p);
    const atc = product(transpose(a, m, p), Float64Array.from(data.C.flat()), p, m, q);
    for (let k = 0; k < p; k++) {
      for (let i = k + 1; i < p; i++) {
        const factor = ata[i * p + k] / ata[k * p + k];
        for (let j = 0; j < p; j++) ata[i * p + j] -= factor * ata[k * p + j];
        for (let j = 0; j < q; j++) atc[i * q + j] -= factor * atc[k * q + j];
      }
    }
    const best = new Float64Array(p * q);
    for (let i = p - 1; i >= 0; i--) {
      for (let j = 0; j < q; j++) {
        let s = atc[i * q + j];
        for (let k = i + 1; k < p; k++) s -= ata[i * p + k] * best[k * q + j];
        best[i * q + j] = s / ata[i * p + i];
      }
    }
    const fStar = (await f.value(best)) as number;
    const init = Float64Array.from((c.init.W as number[][]).flat());
    const gap = async (transform: GradientTransform) =>
      (await valueAfterSteps(f, init, transform, 300)) - fStar;
    const start = ((await f.value(init)) as number) - fStar;
    const shampooGap = await gap(shampoo({ learningRate: 0.05, preconditionFrequency: 5 }));
    assert.ok(shampooGap < 1e-9 * start, `f − f* = ${shampooGap} from ${start}`);
    // AdamW at the same rate is still far from the optimum: the preconditioner matters here.
    const adamGap = await gap(adamw({ learningRate: 0.05, weightDecay: 0 }));
    assert.ok(adamGap > 1e3 * shampooGap, `AdamW f − f* = ${adamGap}`);
  });

  it("trains an MLP of the digits network's shapes (64→32→10), vectors to AdamW", async () => {
    const { objective: f, initial } = digitsShapedMlp();
    const loss = (transform: GradientTransform) => valueAfterSteps(f, initial, transform, 150);
    const start = (await f.value(initial)) as number;
    const shampooLoss = await loss(
      routeMatrices({
        matrices: shampoo({ learningRate: 3e-3, preconditionFrequency: 10 }),
        rest: adamw({ learningRate: 3e-3, weightDecay: 0 }),
      }),
    );
    const adamLoss = await loss(adamw({ learningRate: 3e-3, weightDecay: 0 }));
    assert.ok(shampooLoss < 0.1 * start, `loss ${shampooLoss} from ${start}`);
    assert.ok(shampooLoss < adamLoss, `Shampoo ${shampooLoss} vs AdamW ${adamLoss}`);
  });
});

describe("shampoo: checkpoints and determinism", () => {
  const resumes = async (transform: () => GradientTransform, layout: Layout) => {
    const gradients = sampleGradients(layout, 7);
    const whole = await run(layout, transform(), gradients);
    const first = await run(layout, transform(), gradients.slice(0, 4));
    const bytes = serializeOptimizer(first.opt, { includeParams: true });
    const resumed = new Optimizer(new ParamSet(layout), transform());
    restoreOptimizer(resumed, bytes);
    for (const g of gradients.slice(4)) await resumed.update(g);
    assertSameBits(resumed.params.data, whole.params.data, "parameters");
    assertSameState(resumed.state, whole.opt.state);
  };

  it("the paper form (blocks, roots every 3 steps) resumes bit for bit", () =>
    resumes(
      () => shampoo({ preconditionFrequency: 3, maxPreconditionerDim: 4, beta2: 0.99 }),
      matrixLayout(),
    ));

  it("the pytorch-optimizer form (vectors and momentum) resumes bit for bit", () =>
    resumes(
      () =>
        shampoo({
          compatibility: "pytorch-optimizer",
          momentum: 0.5,
          preconditionFrequency: 2,
          matrixEps: 0.01,
          weightDecay: 1e-3,
        }),
      new Layout(
        [
          { name: "w", shape: [4, 3] },
          { name: "b", shape: [3] },
        ],
        "float32",
      ),
    ));
});

describe("shampoo: bad input", () => {
  it("a vector in the paper form is rejected, naming the tensor", () => {
    const layout = new Layout(
      [
        { name: "w", shape: [3, 2] },
        { name: "bias", shape: [2] },
      ],
      "float64",
    );
    assert.throws(
      () => new Optimizer(new ParamSet(layout), shampoo()),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.parameter === "shape of bias" &&
        e.message.includes("routeMatrices"),
    );
  });

  for (const compatibility of ["paper", "pytorch-optimizer"] as const) {
    it(`overflowing statistics throw, naming the tensor, and leave the state untouched (${compatibility})`, () => {
      const layout = new Layout([{ name: "w", shape: [3, 2] }], "float64");
      const transform = scaleByShampoo({ compatibility }) as GradientTransform;
      const state = transform.init(layout);
      const params = seededParams(layout);
      const ctx = { params: params.data, layout };
      void transform.update(fillUniform(layout.zeros(), 3), state, ctx);
      const before = snapshotState(state);
      const huge = fillUniform(layout.zeros(), 4, 1e200);
      const u = huge.slice();
      assert.throws(
        () => transform.update(u, state, ctx),
        (e: unknown) =>
          e instanceof NonFiniteError && e.tensor === "w" && /statistic/.test(e.message),
      );
      assertSameState(state, before);
    });
  }

  it("hyperparameters are checked when the transform is built", () => {
    assertInvalidArgument(() => shampoo({ beta1: 1 }), "beta1", 1);
    assertInvalidArgument(() => shampoo({ beta2: 1.5 }), "beta2", 1.5);
    assertInvalidArgument(() => shampoo({ epsilon: 0 }), "epsilon", 0);
    assertInvalidArgument(() => shampoo({ preconditionFrequency: 0 }), "preconditionFrequency", 0);
    assertInvalidArgument(
      () => shampoo({ preconditionFrequency: 10, startPreconditioningStep: 5 }),
      "startPreconditioningStep",
      5,
    );
    assertInvalidArgument(() => shampoo({ maxPreconditionerDim: 0 }), "maxPreconditionerDim", 0);
    assertInvalidArgument(
      () => shampoo({ grafting: "rmsprop" as ShampooGrafting }),
      "grafting",
      "rmsprop",
    );
    assertInvalidArgument(() => shampoo({ graftingBeta2: 1 }), "graftingBeta2", 1);
    assertInvalidArgument(() => shampoo({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(
      () => shampoo({ compatibility: "pytorch-optimizer", grafting: "adam" }),
      "grafting",
      "adam",
    );
    assertInvalidArgument(() => shampoo({ momentum: 0.9 }), "momentum", 0.9);
    assertInvalidArgument(
      () => shampoo({ compatibility: "pytorch-optimizer", matrixEps: 0 }),
      "matrixEps",
      0,
    );
    assertInvalidArgument(
      () => shampoo({ compatibility: "distributed" as "paper" }),
      "compatibility",
      "distributed",
    );
  });
});
