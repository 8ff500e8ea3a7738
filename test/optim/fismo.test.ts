import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError } from "../../src/errors.js";
import { adamw } from "../../src/optim/adam.js";
import type { FismoState } from "../../src/optim/fismo.js";
import { fismo, scaleByFismo } from "../../src/optim/fismo.js";
import { muon, routeMatrices } from "../../src/optim/muon.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { cosineDecay } from "../../src/optim/schedules.js";
import type { State } from "../../src/optim/transform.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import type { DType } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  assertClose,
  assertInvalidArgument,
  assertResumesBitExactly,
  assertSameBits,
  assertSameState,
  partState,
  snapshotState,
} from "../helpers/assertions.js";
import { loadCases, matrixLeastSquares, paramsFrom } from "../helpers/conformance.js";
import { fillUniform, matrixLayout } from "../helpers/inputs.js";
import {
  jacobiEigen,
  polarFactor,
  product,
  singularValues,
  transpose,
} from "../linalg/matrixReference.js";

/** Gradients of entries in [−1, 1): large enough next to the damping to shape the factors. */
const gradientsFor = (layout: Layout, steps: number, seed = 200) =>
  Array.from({ length: steps }, (_, k) => fillUniform(layout.zeros(), seed + k));

/** S^power for a symmetric positive definite n×n matrix, from its Jacobi eigendecomposition. */
function symmetricPower(s: ArrayLike<number>, n: number, power: number): Float64Array {
  const { values, vectors } = jacobiEigen(s, n);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++)
        sum += vectors[i * n + k] * values[k] ** power * vectors[j * n + k];
      out[i * n + j] = sum;
    }
  }
  return out;
}

function identity(n: number): Float64Array {
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return eye;
}

function trace(a: ArrayLike<number>, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += a[i * n + i];
  return t;
}

/**
 * One factor of Algorithm 1: sym((n / tr F̃)·F̃), F̃ = γ·F + (1−γ)·(C + μ·(tr F / n)·I), where C
 * is the curvature term already divided by the other side's size.
 */
function nextFactor(f: Float64Array, c: Float64Array, n: number, gamma: number, mu: number) {
  const averaged = new Float64Array(n * n);
  const shift = (mu * trace(f, n)) / n;
  for (let i = 0; i < n * n; i++) averaged[i] = gamma * f[i] + (1 - gamma) * c[i];
  for (let i = 0; i < n; i++) averaged[i * n + i] += (1 - gamma) * shift;
  const normalize = n / trace(averaged, n);
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      out[i * n + j] = (normalize * (averaged[i * n + j] + averaged[j * n + i])) / 2;
    }
  }
  return out;
}

interface ReferenceOptions {
  lr: number;
  beta: number;
  gamma: number;
  mu: number;
  weightDecay: number;
  nesterov: boolean;
  scale: (rows: number, cols: number) => number;
}

/**
 * The paper's Algorithm 1 written out per matrix with dense products, Jacobi inverses and roots
 * and the exact polar factor (plus the optional Nesterov look-ahead, shape scale and decay).
 */
function referenceFismo(o: ReferenceOptions) {
  const states = new Map<string, { p: Float64Array; q: Float64Array; m: Float64Array }>();
  return (params: ParamSet, grad: ArrayLike<number>) => {
    for (const t of params.layout.tensors) {
      const rows = t.shape[0];
      const cols = t.size / rows;
      let s = states.get(t.name);
      if (!s) {
        s = { p: identity(rows), q: identity(cols), m: new Float64Array(t.size) };
        states.set(t.name, s);
      }
      const g = Float64Array.from({ length: t.size }, (_, i) => grad[t.offset + i]);
      const gt = transpose(g, rows, cols);
      const qInverse = symmetricPower(s.q, cols, -1);
      const left = product(product(g, qInverse, rows, cols, cols), gt, rows, cols, rows);
      for (let i = 0; i < left.length; i++) left[i] /= cols;
      const p = nextFactor(s.p, left, rows, o.gamma, o.mu);
      const pInverse = symmetricPower(p, rows, -1);
      const right = product(product(gt, pInverse, cols, rows, rows), g, cols, rows, cols);
      for (let i = 0; i < right.length; i++) right[i] /= rows;
      const q = nextFactor(s.q, right, cols, o.gamma, o.mu);
      s.p = p;
      s.q = q;
      const pRoot = symmetricPower(p, rows, -0.5);
      const qRoot = symmetricPower(q, cols, -0.5);
      const whitened = product(product(pRoot, g, rows, rows, cols), qRoot, rows, cols, cols);
      const input = new Float64Array(t.size);
      for (let i = 0; i < t.size; i++) {
        s.m[i] = o.beta * s.m[i] + (1 - o.beta) * whitened[i];
        input[i] = o.nesterov ? (1 - o.beta) * whitened[i] + o.beta * s.m[i] : s.m[i];
      }
      const polar = polarFactor(input, rows, cols);
      const step = product(product(pRoot, polar, rows, rows, cols), qRoot, rows, cols, cols);
      const scale = o.scale(rows, cols);
      const w = params.view(t.name);
      for (let i = 0; i < t.size; i++) w[i] -= o.lr * (scale * step[i] + o.weightDecay * w[i]);
    }
  };
}

/** FISMO with Newton–Schulz run to the exact polar factor (40 cubic steps). */
const exactFismo = (options: Parameters<typeof fismo>[0]) =>
  fismo({ ...options, nsCoefficients: "cubic", nsSteps: 40 });

async function compareWithReference(
  options: Parameters<typeof fismo>[0],
  reference: ReferenceOptions,
  dtype: DType,
  rtol: number,
) {
  const layout = matrixLayout(dtype);
  const params = new ParamSet(layout, fillUniform(layout.zeros(), 3));
  const expected = new ParamSet(matrixLayout(), fillUniform(matrixLayout().zeros(), 3));
  const opt = new Optimizer(params, exactFismo(options));
  const run = referenceFismo(reference);
  for (const g of gradientsFor(layout, 6)) {
    await opt.update(g);
    run(expected, g);
  }
  assertClose(params.data, expected.data, rtol, `${dtype} params`, { floor: 1 });
}

describe("fismo", () => {
  it("follows Algorithm 1 per matrix: Fisher factors, whitened momentum, mapped-back polar factor", () =>
    compareWithReference(
      { learningRate: 0.05, momentum: 0.9, factorDecay: 0.8, damping: 0.05 },
      {
        lr: 0.05,
        beta: 0.9,
        gamma: 0.8,
        mu: 0.05,
        weightDecay: 0,
        nesterov: false,
        scale: () => 1,
      },
      "float64",
      1e-9,
    ));

  it("adds Muon's Nesterov look-ahead, shape scale and decoupled weight decay when asked", () =>
    compareWithReference(
      {
        learningRate: 0.02,
        momentum: 0.8,
        factorDecay: 0.5,
        damping: 0.01,
        nesterov: true,
        updateScale: "aspectRatio",
        weightDecay: 0.1,
      },
      {
        lr: 0.02,
        beta: 0.8,
        gamma: 0.5,
        mu: 0.01,
        weightDecay: 0.1,
        nesterov: true,
        scale: (r, c) => Math.sqrt(Math.max(1, r / c)),
      },
      "float64",
      1e-9,
    ));

  it("runs in float32 close to the float64 reference", () =>
    compareWithReference(
      { learningRate: 0.02, factorDecay: 0.9, damping: 0.01 },
      {
        lr: 0.02,
        beta: 0.95,
        gamma: 0.9,
        mu: 0.01,
        weightDecay: 0,
        nesterov: false,
        scale: () => 1,
      },
      "float32",
      2e-4,
    ));

  it("keeps symmetric, positive definite factors of trace m and n that move away from I", async () => {
    const layout = matrixLayout();
    const opt = new Optimizer(new ParamSet(layout), fismo({ factorDecay: 0.5, damping: 0.01 }));
    for (const g of gradientsFor(layout, 5)) await opt.update(g);
    const state = partState<FismoState>(opt, "scaleByFismo");
    for (const t of layout.tensors) {
      const rows = t.shape[0];
      const cols = t.size / rows;
      const factors = state.factors[t.name] as State;
      for (const [factor, n] of [
        [factors.p as Float64Array, rows],
        [factors.q as Float64Array, cols],
      ] as const) {
        for (let i = 0; i < n; i++) {
          for (let j = 0; j < i; j++) assert.equal(factor[i * n + j], factor[j * n + i]);
        }
        assert.ok(
          Math.abs(trace(factor, n) - n) < 1e-12 * n,
          `${t.name}: trace ${trace(factor, n)}`,
        );
        const { values } = jacobiEigen(factor, n);
        assert.ok(Math.min(...values) > 0, `${t.name}: eigenvalues ${values.join(", ")}`);
        if (n > 1) {
          let distance = 0;
          const eye = identity(n);
          for (let i = 0; i < n * n; i++)
            distance = Math.max(distance, Math.abs(factor[i] - eye[i]));
          assert.ok(distance > 0.05, `${t.name}: factor stayed at I (${distance})`);
        }
      }
      // Q^(−1/2) kept for the next step is the inverse root of the current Q.
      const q = factors.q as Float64Array;
      assertClose(
        factors.qInverseRoot as Float64Array,
        symmetricPower(q, cols, -0.5),
        1e-10,
        `${t.name} Q^(−1/2)`,
        { floor: 1 },
      );
    }
  });

  it("with β = 0 takes a step of spectral length η, all singular values equal, in the Fisher metric", async () => {
    const layout = matrixLayout();
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 4));
    const lr = 0.1;
    const opt = new Optimizer(
      params,
      exactFismo({ learningRate: lr, momentum: 0, factorDecay: 0.6, damping: 0.02 }),
    );
    const gradients = gradientsFor(layout, 4);
    for (const g of gradients.slice(0, 3)) await opt.update(g);
    const before = params.data.slice();
    await opt.update(gradients[3]);
    const state = partState<FismoState>(opt, "scaleByFismo");
    for (const t of layout.tensors) {
      const rows = t.shape[0];
      const cols = t.size / rows;
      const factors = state.factors[t.name] as State;
      const step = new Float64Array(t.size);
      for (let i = 0; i < t.size; i++) step[i] = before[t.offset + i] - params.data[t.offset + i];
      const metric = product(
        product(symmetricPower(factors.p as Float64Array, rows, 0.5), step, rows, rows, cols),
        symmetricPower(factors.q as Float64Array, cols, 0.5),
        rows,
        cols,
        cols,
      );
      for (const sigma of singularValues(metric, rows, cols)) {
        assert.ok(Math.abs(sigma - lr) < 1e-9, `${t.name}: singular value ${sigma} in the metric`);
      }
      // In the Euclidean geometry the same step is not isotropic: the factors reshape it.
      const plain = singularValues(step, rows, cols);
      assert.ok(plain[0] / plain[plain.length - 1] > 1.05, `${t.name}: ${plain.join(", ")}`);
    }
  });

  it("with frozen factors (γ = 1) is Muon with plain momentum and no shape scale, bit for bit", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const layout = matrixLayout(dtype);
      const a = new ParamSet(layout, fillUniform(layout.zeros(), 5));
      const b = new ParamSet(layout, fillUniform(layout.zeros(), 5));
      const withFactors = new Optimizer(a, fismo({ factorDecay: 1, momentum: 0.9 }));
      const plainMuon = new Optimizer(
        b,
        muon({ nesterov: false, updateScale: "none", momentum: 0.9 }),
      );
      for (const g of gradientsFor(layout, 5)) {
        await withFactors.update(g);
        await plainMuon.update(g);
      }
      assertSameBits(a.data, b.data, `${dtype} params`);
      const state = partState<FismoState>(withFactors, "scaleByFismo");
      const factors = state.factors.square as State;
      assertSameBits(factors.p as Float64Array, identity(4), "P");
    }
  });

  it("leaves a zero gradient at zero without NaN", async () => {
    const layout = matrixLayout();
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 1));
    const before = params.data.slice();
    const opt = new Optimizer(params, fismo());
    await opt.update(layout.zeros());
    assert.deepEqual(params.data, before);
  });

  it("converges on the matrix least-squares problem of the conformance fixtures", async () => {
    const { objective: f, params, initialValue: initial, optimum: best } = matrixLeastSquares();
    const opt = new Optimizer(
      params,
      fismo({ learningRate: cosineDecay({ start: 0.2, steps: 400 }) }),
    );
    for (let i = 0; i < 400; i++) await opt.step(f);
    const gap = (f.value(params.data) as number) - best.value;
    assert.ok(gap >= 0 && gap < 1e-5 * (initial - best.value), `f − f* = ${gap}`);
    assertClose(params.data, best.w, 1e-2, "W*", { floor: 1 });
  });

  it("trains the two-layer tanh network of the fixtures with AdamW on the biases", async () => {
    const c = loadCases("adam").find((k) => k.problem.name === "mlp")!;
    const f = conformanceObjective(c.problem);
    const params = paramsFrom(c, c.init);
    const initial = f.value(params.data) as number;
    const opt = new Optimizer(
      params,
      routeMatrices({
        matrices: fismo({ learningRate: cosineDecay({ start: 0.03, steps: 300 }) }),
        rest: adamw({ learningRate: 0.015 }),
      }),
    );
    for (let i = 0; i < 300; i++) await opt.step(f);
    const final = f.value(params.data) as number;
    assert.ok(final < 0.02 * initial, `loss ${initial} → ${final}`);
  });

  it("resumes bit-exactly through a checkpoint (with AdamW for the vectors)", () =>
    assertResumesBitExactly(() =>
      routeMatrices({
        matrices: fismo({ weightDecay: 0.1, nesterov: true, damping: 0.01 }),
        rest: adamw(),
      }),
    ));

  it("throws before any state changes when a gradient's products overflow", () => {
    const layout = matrixLayout();
    const transform = scaleByFismo();
    const state = transform.init(layout);
    const g = fillUniform(layout.zeros(), 6);
    transform.update(g.slice(), state, { params: layout.zeros(), layout });
    const before = snapshotState(state);
    // Finite entries whose squares overflow, in the last tensor: the earlier ones already ran.
    const huge = g.slice();
    const filter = layout.tensor("filter");
    for (let i = filter.offset; i < filter.offset + filter.size; i++) huge[i] = 1e200;
    const u = huge.slice();
    assert.throws(
      () => transform.update(u, state, { params: layout.zeros(), layout }),
      (e: unknown) => e instanceof NonFiniteError && /filter/.test(e.message),
    );
    assertSameState(state, before);
    assertSameBits(u, huge, "update buffer");
  });

  it("rejects vectors and scalars, naming the tensor, before any state exists", () => {
    const layout = new Layout([
      { name: "weight", shape: [3, 2] },
      { name: "bias", shape: [2] },
    ]);
    assert.throws(
      () => new Optimizer(new ParamSet(layout), fismo()),
      (e: unknown) =>
        e instanceof InvalidArgumentError &&
        e.parameter === "shape of bias" &&
        /matrix/.test(e.message),
    );
    assert.throws(() => scaleByFismo().init(new Layout([{ name: "gain", shape: [] }])), /gain/);
  });

  it("validates its options", () => {
    assertInvalidArgument(() => fismo({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => fismo({ factorDecay: 1.5 }), "factorDecay", 1.5);
    assertInvalidArgument(() => fismo({ factorDecay: -0.1 }), "factorDecay", -0.1);
    assertInvalidArgument(() => fismo({ damping: 0 }), "damping", 0);
    assertInvalidArgument(() => fismo({ damping: Number.NaN }), "damping", Number.NaN);
    assertInvalidArgument(() => fismo({ learningRate: -0.1 }), "learningRate", -0.1);
    assertInvalidArgument(() => fismo({ weightDecay: -1 }), "weightDecay", -1);
    assertInvalidArgument(() => fismo({ nsSteps: 0.5 }), "nsSteps", 0.5);
    assertInvalidArgument(
      () => fismo({ nesterov: "yes" as unknown as boolean }),
      "nesterov",
      "yes",
    );
    assertInvalidArgument(() => fismo({ updateScale: "rms" as "none" }), "updateScale", "rms");
    assertInvalidArgument(
      () => fismo({ gamma: 0.9 } as unknown as { factorDecay: number }),
      "gamma",
      0.9,
    );
  });
});
