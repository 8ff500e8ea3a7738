import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, MissingOracleError, NonFiniteError } from "../../src/errors.js";
import { choleskyFactor } from "../../src/linalg/cholesky.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type {
  PsgdKronGeometry,
  PsgdKronOptions,
  PsgdKronState,
  ScaleByPsgdKronOptions,
} from "../../src/optim/psgdKron.js";
import { philoxPsgdKronRandom, psgdKron, scaleByPsgdKron } from "../../src/optim/psgdKron.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { DType } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillNormal } from "../../src/random/index.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  minimize,
  snapshotState,
} from "../helpers/assertions.js";
import { fillUniform, sampleGradients, sampleParams, seededUniform } from "../helpers/inputs.js";

// ---------------------------------------------------------------------------------------------
// Dense references

/** A random symmetric positive definite n×n matrix G·Gᵀ + (n/10)·I. */
function randomSpd(n: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  const g = Float64Array.from({ length: n * n }, () => next());
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let s = i === j ? n / 10 : 0;
      for (let k = 0; k < n; k++) s += g[i * n + k] * g[j * n + k];
      out[i * n + j] = s;
    }
  }
  return out;
}

/** Kronecker product of square matrices (row-major, first factor slowest). */
function kron(a: Float64Array, n: number, b: Float64Array, m: number): Float64Array {
  const out = new Float64Array(n * m * n * m);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++)
      for (let k = 0; k < m; k++)
        for (let l = 0; l < m; l++)
          out[(i * m + k) * n * m + j * m + l] = a[i * n + j] * b[k * m + l];
  return out;
}

function multiply(a: Float64Array, b: Float64Array, n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
      out[i * n + j] = s;
    }
  return out;
}

function matVec(a: Float64Array, x: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let k = 0; k < n; k++) s += a[i * n + k] * x[k];
    out[i] = s;
  }
  return out;
}

function distanceFromIdentity(m: Float64Array, n: number): number {
  let worst = 0;
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) worst = Math.max(worst, Math.abs(m[i * n + j] - (i === j ? 1 : 0)));
  return worst;
}

/** A factor as the dense n×n matrix it stands for (diagonal factors hold n entries). */
function denseFactor(q: Float64Array, n: number): Float64Array {
  if (q.length === n * n) return q.slice();
  const out = new Float64Array(n * n);
  for (let j = 0; j < n; j++) out[j * n + j] = q[j];
  return out;
}

/**
 * The dense preconditioner of one tensor from its factors, over the squeezed dimensions `dims`:
 * ⊗ QᵢᵀQᵢ, or ⊗ Qᵢ for the geometries whose factors are P's.
 */
function densePreconditioner(
  state: PsgdKronState,
  tensor: string,
  dims: readonly number[],
  factorsArePFactors = false,
): Float64Array {
  const factors = state.factors[tensor] as State;
  let p: Float64Array = new Float64Array([1]);
  let size = 1;
  dims.forEach((n, i) => {
    const q = denseFactor(factors[`q${i}`] as Float64Array, n);
    let pi = q;
    if (!factorsArePFactors) {
      const qt = new Float64Array(n * n);
      for (let r = 0; r < n; r++) for (let c = 0; c < n; c++) qt[r * n + c] = q[c * n + r];
      pi = multiply(qt, q, n);
    }
    p = kron(p, size, pi, n);
    size *= n;
  });
  return p;
}

/** ½xᵀHx on one tensor of shape `dims`, with a dense H. */
function denseQuadratic(dims: readonly number[], h: Float64Array, dtype: DType = "float64") {
  const n = dims.reduce((a, b) => a * b, 1);
  const layout = new Layout([{ name: "W", shape: dims }], dtype);
  let hvpCalls = 0;
  const objective: Objective = {
    name: "dense-quadratic",
    layout,
    value: (x) => 0.5 * matVec(h, x, n).reduce((s, hx, i) => s + hx * x[i], 0),
    valueAndGrad(x, g) {
      const hx = matVec(h, x, n);
      g.set(hx);
      return 0.5 * hx.reduce((s, v, i) => s + v * x[i], 0);
    },
    hvp(_x, v, out) {
      hvpCalls++;
      out.set(matVec(h, v, n));
    },
  };
  return { layout, objective, n, hvpCalls: () => hvpCalls };
}

/** Runs `transform.update` directly `steps` times with the gradient `fill(step)`. */
async function drive(
  transform: GradientTransform<PsgdKronState>,
  layout: Layout,
  steps: number,
  fill: (u: Float64Array, step: number) => void,
  objective?: Objective,
): Promise<PsgdKronState> {
  const state = transform.init(layout);
  const params = new Float64Array(layout.size);
  const u = new Float64Array(layout.size);
  for (let k = 0; k < steps; k++) {
    fill(u, k);
    await transform.update(u, state, { params, layout, objective });
  }
  return state;
}

const GEOMETRIES: readonly PsgdKronGeometry[] = [
  "Q0.5EQ1.5",
  "QUAD",
  "QEQ",
  "EQ",
  "QEP",
  "PRO4P",
  "QUAD4P",
];

// ---------------------------------------------------------------------------------------------

describe("psgdKron: the Newton fit inverts a fixed Hessian", () => {
  // H = A⊗B⊗C on a 3×4×2 tensor: every factor dense (n² ≤ 24), and the middle dimension
  // exercises the mode products with dimensions on both sides.
  const dims = [3, 4, 2];
  const blocks = dims.map((n, i) => randomSpd(n, 10 + i));
  const h = kron(kron(blocks[0], 3, blocks[1], 4), 12, blocks[2], 2);
  for (const geometry of GEOMETRIES) {
    // dQ = E·Q with triangular factors converges more slowly than the others.
    const [fits, tolerance] = geometry === "EQ" ? [800, 3e-3] : [400, 1e-4];
    it(`${geometry}: P·H → I after ${fits} fits (dense Kronecker H)`, async () => {
      const { layout, objective, n, hvpCalls } = denseQuadratic(dims, h);
      const transform = scaleByPsgdKron({ fit: "newton", geometry, seed: 3 });
      // After one fit the factors are still close to the first step's scaled identity.
      const start = await drive(transform, layout, 1, (u) => u.fill(1), objective);
      const before = distanceFromIdentity(
        multiply(densePreconditioner(start, "W", dims, geometry.endsWith("4P")), h, n),
        n,
      );
      const state = await drive(transform, layout, fits, (u) => u.fill(1), objective);
      assert.equal(hvpCalls(), fits + 1);
      const p = densePreconditioner(state, "W", dims, geometry.endsWith("4P"));
      const after = distanceFromIdentity(multiply(p, h, n), n);
      assert.ok(before > 0.5, `the problem is not trivially fitted (start ${before})`);
      assert.ok(after < tolerance, `max |P·H − I| = ${after}`);
      if (geometry === "EQ") {
        const q = (state.factors.W as State).q1 as Float64Array;
        for (let i = 1; i < 4; i++) for (let j = 0; j < i; j++) assert.equal(q[i * 4 + j], 0);
      }
    });
  }

  it("diagonal factors fit a diagonal Hessian (max |P·H − I| < 1e-6)", async () => {
    const diagonal = blocks.map((b, i) => {
      const n = dims[i];
      const d = new Float64Array(n * n);
      for (let j = 0; j < n; j++) d[j * n + j] = b[j * n + j];
      return d;
    });
    const hd = kron(kron(diagonal[0], 3, diagonal[1], 4), 12, diagonal[2], 2);
    const { layout, objective, n } = denseQuadratic(dims, hd);
    const state = await drive(
      scaleByPsgdKron({ fit: "newton", maxSkew: 0 }),
      layout,
      200,
      (u) => u.fill(1),
      objective,
    );
    for (let i = 0; i < 3; i++) {
      assert.equal(((state.factors.W as State)[`q${i}`] as Float64Array).length, dims[i]);
    }
    const after = distanceFromIdentity(multiply(densePreconditioner(state, "W", dims), hd, n), n);
    assert.ok(after < 1e-6, `max |P·H − I| = ${after}`);
  });
});

describe("psgdKron: the whitening fit whitens the gradient", () => {
  it("P·C·P → I for Gaussian gradients of Kronecker covariance C", async () => {
    const dims = [3, 4];
    const c = kron(randomSpd(3, 20), 3, randomSpd(4, 21), 4);
    const n = 12;
    const l = new Float64Array(n * n);
    assert.ok(choleskyFactor(c, n, l));
    const layout = new Layout([{ name: "W", shape: dims }], "float64");
    const z = new Float64Array(n);
    const transform = scaleByPsgdKron({
      maxSkew: Infinity,
      // A decaying fitting step averages the gradient noise out.
      preconditionerLearningRate: (k) => (k < 400 ? 0.1 : k < 800 ? 0.02 : 0.005),
      maxAverageAmplitude: Infinity,
      maxElementAmplitude: Infinity,
      seed: 4,
    });
    const state = await drive(transform, layout, 1500, (u, k) => {
      fillNormal(z, 77, k);
      u.set(matVec(l, z, n));
    });
    const p = densePreconditioner(state, "W", dims);
    const error = distanceFromIdentity(multiply(multiply(p, c, n), p, n), n);
    const unpreconditioned = distanceFromIdentity(c, n);
    assert.ok(unpreconditioned > 1, `C is far from white (${unpreconditioned})`);
    assert.ok(error < 0.25, `max |P·C·P − I| = ${error}`);
  });
});

describe("psgdKron: factors, preconditioning and clipping", () => {
  const layout = new Layout(
    [
      { name: "cube", shape: [3, 5, 2] },
      { name: "column", shape: [1, 5, 1] },
      { name: "scalar", shape: [] },
      { name: "empty", shape: [0, 3] },
    ],
    "float64",
  );

  it("chooses dense or diagonal factors per dimension and squeezes size-1 dimensions", () => {
    const factorLengths = (options: ScaleByPsgdKronOptions) => {
      const s = scaleByPsgdKron({ initialScale: 8, ...options }).init(layout);
      return Object.fromEntries(
        Object.entries(s.factors).map(([name, f]) => [
          name,
          Object.keys(f)
            .filter((k) => k.startsWith("q"))
            .map((k) => ((f as State)[k] as Float64Array).length),
        ]),
      );
    };
    // Default maxSkew 1: n² ≤ size. 3² ≤ 30, 5² ≤ 30, 2² ≤ 30; [1,5,1] squeezes to [5], 25 > 5.
    assert.deepEqual(factorLengths({}), { cube: [9, 25, 4], column: [5], scalar: [1] });
    // maxSkew 0.2: n² ≤ 6 only for the dimension of size 2.
    assert.deepEqual(factorLengths({ maxSkew: 0.2 }), {
      cube: [3, 5, 4],
      column: [5],
      scalar: [1],
    });
    assert.deepEqual(factorLengths({ maxDenseSize: 3 }), {
      cube: [9, 5, 4],
      column: [5],
      scalar: [1],
    });
    assert.deepEqual(factorLengths({ maxSkew: Infinity }), {
      cube: [9, 25, 4],
      column: [25],
      scalar: [1],
    });
    // Initial factors: scale^(1/order)·I; the scalar keeps the scale itself.
    const s = scaleByPsgdKron({ initialScale: 8 }).init(layout);
    const cube = s.factors.cube as State;
    assertClose(cube.q0 as Float64Array, [2, 0, 0, 0, 2, 0, 0, 0, 2], 1e-15, "cube q0");
    assertClose((s.factors.column as State).q0 as Float64Array, [8, 8, 8, 8, 8], 0, "column");
    assertClose((s.factors.scalar as State).q0 as Float64Array, [8], 0, "scalar");
    assert.equal(s.initialized, 1);
  });

  for (const geometry of ["Q0.5EQ1.5", "PRO4P"] as const) {
    it(`${geometry}: the direction is the dense ⊗ factors times the gradient, tensor by tensor`, async () => {
      // Fit for five steps, then freeze the factors (probability 0) and compare one direction
      // against the dense Kronecker matrix built from the state.
      const transform = scaleByPsgdKron({
        geometry,
        updateProbability: (k) => (k < 5 ? 1 : 0),
        maxAverageAmplitude: Infinity,
        maxElementAmplitude: Infinity,
        seed: 9,
      });
      const grads = sampleGradients(layout, 6, 300);
      const state = await drive(transform, layout, 5, (u, k) => u.set(grads[k]));
      const u = Float64Array.from(grads[5]);
      const frozen = snapshotState(state);
      await transform.update(u, state, { params: new Float64Array(layout.size), layout });
      assertSameState(state.factors, frozen.factors as State, "factors (not refitted)");
      const squeezed: Record<string, number[]> = { cube: [3, 5, 2], column: [5], scalar: [1] };
      for (const t of layout.tensors) {
        if (t.size === 0) continue;
        const p = densePreconditioner(state, t.name, squeezed[t.name], geometry === "PRO4P");
        const expected = matVec(p, grads[5].subarray(t.offset, t.offset + t.size), t.size);
        assertClose(u.subarray(t.offset, t.offset + t.size), expected, 1e-12, t.name);
      }
    });
  }

  it("whitening clips each tensor's direction to the average and element amplitudes", async () => {
    const g = sampleGradients(layout, 1, 50)[0];
    const u = Float64Array.from(g);
    const transform = scaleByPsgdKron({
      initialScale: 3,
      updateProbability: 0,
      maxAverageAmplitude: 0.4,
      maxElementAmplitude: 0.5,
    });
    await transform.update(u, transform.init(layout), {
      params: new Float64Array(layout.size),
      layout,
    });
    // Every tensor's factors multiply to 3·I, so P = 9·I and the unclipped direction is 9·g.
    for (const t of layout.tensors) {
      if (t.size === 0) continue;
      const raw = Array.from(g.subarray(t.offset, t.offset + t.size), (x) => 9 * x);
      const rms = Math.sqrt(raw.reduce((a, x) => a + x * x, 0) / raw.length);
      const factor = rms > 0.4 ? 0.4 / rms : 1;
      const expected = raw.map((x) => Math.max(-0.5, Math.min(0.5, x * factor)));
      assert.ok(expected.some((x) => Math.abs(x) === 0.5) || rms > 0.4, `${t.name} is clipped`);
      assertClose(u.subarray(t.offset, t.offset + t.size), expected, 1e-13, t.name);
    }
  });

  it("Newton scales the whole direction down to maxNorm", async () => {
    const h = randomSpd(6, 5);
    const { layout: l, objective } = denseQuadratic([6], h);
    const g = Float64Array.from([3, -1, 2, 0.5, -2, 1]);
    const run = async (maxNorm: number) => {
      const t = scaleByPsgdKron({ fit: "newton", initialScale: 1, maxNorm, seed: 2 });
      const s = t.init(l);
      const u = g.slice();
      await t.update(u, s, { params: new Float64Array(6), layout: l, objective });
      return u;
    };
    const free = await run(Infinity);
    const norm = Math.hypot(...free);
    const clipped = await run(norm / 4);
    assertClose(
      clipped,
      Array.from(free, (x) => x / 4),
      1e-14,
      "clipped",
    );
    assertClose(await run(norm * 2), free, 0, "below the limit");
  });
});

describe("psgdKron: steps, momentum and the first-step scale", () => {
  const layout = new Layout([{ name: "W", shape: [3, 4] }], "float64");

  it("whitening sets the initial scale from the first gradient", async () => {
    const grads = sampleGradients(layout, 1, 11);
    const g = grads[0];
    const state = await drive(scaleByPsgdKron({ updateProbability: 0 }), layout, 1, (u) =>
      u.set(g),
    );
    const meanFourth = Array.from(g).reduce((a, x) => a + x ** 4, 0) / g.length;
    const scale = (meanFourth + 1e-36) ** (-1 / 8);
    const w = state.factors.W as State;
    // Dimension 3 dense (9 ≤ 12), dimension 4 diagonal (16 > 12), each scale^(1/2).
    assertClose(
      w.q0 as Float64Array,
      [1, 0, 0, 0, 1, 0, 0, 0, 1].map((x) => x * Math.sqrt(scale)),
      1e-15,
      "q0",
    );
    assertClose(w.q1 as Float64Array, new Array(4).fill(Math.sqrt(scale)), 1e-15, "q1");
  });

  it("Newton sets the initial scale from the first probe and Hessian-vector product", async () => {
    const h = randomSpd(12, 6);
    const { objective } = denseQuadratic([3, 4], h);
    let probe: Float64Array | undefined;
    const recording: Objective = {
      ...objective,
      hvp(x, v, out) {
        probe = Float64Array.from(v);
        return objective.hvp!(x, v, out);
      },
    };
    // μ = 0 leaves the factors where the scale put them.
    const transform = scaleByPsgdKron({ fit: "newton", preconditionerLearningRate: 0, seed: 5 });
    const state = await drive(transform, layout, 1, (u) => u.fill(1), recording);
    const hv = matVec(h, probe!, 12);
    const meanSquare = probe!.reduce((a, x) => a + x * x, 0) / 12;
    const meanFourth = hv.reduce((a, x) => a + x ** 4, 0) / 12;
    const scale = meanSquare ** 0.25 * (meanFourth + 1e-36) ** (-1 / 8);
    const w = state.factors.W as State;
    assertClose(w.q1 as Float64Array, new Array(4).fill(Math.sqrt(scale)), 1e-14, "q1");
  });

  it("momentum averages with βₜ = min(t/(t+1), μ) and is what gets preconditioned", async () => {
    const grads = sampleGradients(layout, 4, 21);
    const transform = scaleByPsgdKron({
      initialScale: 1,
      momentum: 0.6,
      updateProbability: 0,
      maxAverageAmplitude: Infinity,
      maxElementAmplitude: Infinity,
    });
    const state = transform.init(layout);
    let m = new Float64Array(12);
    for (let t = 0; t < 4; t++) {
      const beta = Math.min(t / (t + 1), 0.6);
      m = Float64Array.from(m, (x, i) => beta * x + (1 - beta) * grads[t][i]);
      const u = Float64Array.from(grads[t]);
      await transform.update(u, state, { params: new Float64Array(12), layout });
      assertClose(u, m, 1e-15, `direction at step ${t + 1}`);
    }
    assert.equal(state.momentumCount, 4);
  });

  it("fitting after the direction leaves the first direction to the initial factors", async () => {
    const g = sampleGradients(layout, 1, 31)[0];
    const u = Float64Array.from(g);
    const transform = scaleByPsgdKron({ initialScale: 1, updatePreconditionerFirst: false });
    const state = transform.init(layout);
    await transform.update(u, state, { params: new Float64Array(12), layout });
    assertClose(u, g, 0, "P = I at the first step");
    assert.notDeepEqual(Array.from((state.factors.W as State).q1 as Float64Array), [1, 1, 1, 1]);
  });

  it("Newton asks for a Hessian-vector product only on fitting steps (always the first)", async () => {
    const { layout: l, objective, hvpCalls } = denseQuadratic([3, 4], randomSpd(12, 8));
    await drive(
      scaleByPsgdKron({ fit: "newton", updateProbability: 0 }),
      l,
      5,
      (u) => u.fill(1),
      objective,
    );
    assert.equal(hvpCalls(), 1);
  });
});

describe("psgdKron: convergence", () => {
  it("Newton with lr 1 solves an ill-conditioned quadratic (κ = 1000)", async () => {
    const f = illConditionedQuadratic({ dimension: 10, conditionNumber: 1000 });
    const loss = await minimize(f, psgdKron({ fit: "newton", learningRate: 1 }), 200);
    assert.ok(loss < 1e-8, `loss ${loss}`);
  });

  it("whitening descends Rosenbrock's valley", async () => {
    const f = rosenbrock();
    const loss = await minimize(f, psgdKron({ learningRate: 0.003 }), 2000);
    assert.ok(loss < 0.02, `loss ${loss} (start 24.2)`);
  });

  it("float32 parameters follow the float64 run to float32 precision", async () => {
    const run = async (dtype: DType) => {
      const params = sampleParams(dtype, 3);
      const opt = new Optimizer(params, psgdKron({ learningRate: 0.01, momentum: 0.5, seed: 2 }));
      const grads = sampleGradients(params.layout, 8, 40);
      for (const g of grads) await opt.update(g);
      return Float64Array.from(params.data);
    };
    assertClose(await run("float32"), await run("float64"), 1e-4, "float32 vs float64", {
      floor: 1e-3,
    });
  });
});

describe("psgdKron: determinism and checkpoints", () => {
  const whitening: PsgdKronOptions = {
    learningRate: 0.01,
    momentum: 0.9,
    updateProbability: 0.6,
    seed: 12,
  };
  const newton: PsgdKronOptions = {
    fit: "newton",
    learningRate: 0.1,
    momentum: 0.5,
    updateProbability: 0.5,
    seed: 12,
  };
  const { objective: quadratic } = denseQuadratic([3, 4], randomSpd(12, 13));

  async function run(options: PsgdKronOptions, steps: number) {
    const params = new ParamSet(quadratic.layout);
    fillUniform(params.data, 5);
    const opt = new Optimizer(params, psgdKron(options));
    for (let k = 0; k < steps; k++) await opt.step(quadratic);
    return opt;
  }

  for (const [name, options] of [
    ["whitening", whitening],
    ["newton", newton],
  ] as const) {
    it(`${name}: same seed, same bits; another seed, another run`, async () => {
      const a = await run(options, 12);
      const b = await run(options, 12);
      assertSameBits(a.params.data, b.params.data, "params");
      assertSameState(a.state, b.state);
      const c = await run({ ...options, seed: 13 }, 12);
      assert.notDeepEqual(Array.from(c.params.data), Array.from(a.params.data));
    });

    it(`${name}: k steps, save, load, n − k steps equals n steps bit for bit`, async () => {
      const straight = await run(options, 9);
      const first = await run(options, 4);
      const bytes = serializeOptimizer(first, { includeParams: true });
      const resumed = new Optimizer(new ParamSet(quadratic.layout), psgdKron(options));
      restoreOptimizer(resumed, bytes, { includeParams: true });
      for (let k = 4; k < 9; k++) await resumed.step(quadratic);
      assertSameBits(resumed.params.data, straight.params.data, "params");
      assertSameState(resumed.state, straight.state);
    });
  }

  it("a float32 checkpoint taken before the lazy initial scale resumes too", async () => {
    // Float32 parameters with float64 factors and momentum in one checkpoint.
    const options: PsgdKronOptions = { learningRate: 0.01, momentum: 0.9, seed: 1 };
    const params = sampleParams("float32", 2);
    const fresh = new Optimizer(params, psgdKron(options));
    const bytes = serializeOptimizer(fresh);
    const resumed = new Optimizer(sampleParams("float32", 2), psgdKron(options));
    restoreOptimizer(resumed, bytes);
    const grads = sampleGradients(params.layout, 3, 70);
    for (const g of grads) {
      await fresh.update(g);
      await resumed.update(g);
    }
    const later = new Optimizer(sampleParams("float32", 2), psgdKron(options));
    restoreOptimizer(later, serializeOptimizer(fresh, { includeParams: true }));
    await fresh.update(grads[0]);
    await resumed.update(grads[0]);
    await later.update(grads[0]);
    assertSameBits(resumed.params.data, fresh.params.data, "params");
    assertSameBits(later.params.data, fresh.params.data, "params after a mid-run restore");
    assertSameState(later.state, fresh.state);
  });
});

describe("psgdKron: bad input", () => {
  it("a non-finite gradient throws naming the entry and changes nothing", async () => {
    const params = sampleParams("float64", 1);
    const opt = new Optimizer(params, psgdKron({ momentum: 0.9 }));
    const grads = sampleGradients(params.layout, 2, 1);
    await opt.update(grads[0]);
    const state = snapshotState(opt.state);
    const before = params.data.slice();
    grads[1][7] = NaN;
    await assert.rejects(opt.update(grads[1]), NonFiniteError);
    assertSameState(opt.state, state);
    assertSameBits(params.data, before, "params");
  });

  it("a non-finite Hessian-vector product throws naming the tensor and changes nothing", async () => {
    const { objective } = denseQuadratic([3, 4], randomSpd(12, 2));
    let poison = false;
    const flaky: Objective = {
      ...objective,
      hvp(x, v, out) {
        objective.hvp!(x, v, out);
        if (poison) out[5] = Infinity;
      },
    };
    const params = new ParamSet(objective.layout);
    fillUniform(params.data, 3);
    const opt = new Optimizer(params, psgdKron({ fit: "newton", momentum: 0.5 }));
    await opt.step(flaky);
    poison = true;
    const state = snapshotState(opt.state);
    const before = params.data.slice();
    await assert.rejects(opt.step(flaky), (e: unknown) => {
      assert.ok(e instanceof RangeError);
      assert.match(e.message, /Hessian-vector product is not finite.*W\[5\] = Infinity/);
      return true;
    });
    assertSameState(opt.state, state);
    assertSameBits(params.data, before, "params");
  });

  it("Newton without a Hessian-vector product names the missing oracle", async () => {
    const params = sampleParams("float64", 1);
    const opt = new Optimizer(params, psgdKron({ fit: "newton" }));
    await assert.rejects(opt.update(sampleGradients(params.layout, 1)[0]), MissingOracleError);
    const f = illConditionedQuadratic({ dimension: 4 });
    const noHvp: Objective = {
      name: "no-hvp",
      layout: f.layout,
      value: f.value,
      valueAndGrad: f.valueAndGrad,
    };
    const opt2 = new Optimizer(
      new ParamSet(f.layout, f.initialParams!()),
      psgdKron({ fit: "newton" }),
    );
    await assert.rejects(opt2.step(noHvp), (e: unknown) => {
      assert.ok(e instanceof MissingOracleError);
      assert.equal(e.oracle, "hvp");
      return true;
    });
  });

  it("rejects bad options, naming the option and the value", () => {
    assertInvalidArgument(() => psgdKron({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => psgdKron({ fit: "adam" as "newton" }), "fit", "adam");
    assertInvalidArgument(() => psgdKron({ geometry: "QQ" as "QEQ" }), "geometry", "QQ");
    assertInvalidArgument(
      () => psgdKron({ preconditionerLearningRate: -0.1 }),
      "preconditionerLearningRate",
      -0.1,
    );
    assertInvalidArgument(() => psgdKron({ lipschitzDecay: 1 }), "lipschitzDecay", 1);
    assertInvalidArgument(() => psgdKron({ damping: -1 }), "damping", -1);
    assertInvalidArgument(() => psgdKron({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => psgdKron({ maxDenseSize: NaN }), "maxDenseSize", NaN);
    assertInvalidArgument(() => psgdKron({ maxSkew: -1 }), "maxSkew", -1);
    assertInvalidArgument(() => psgdKron({ initialScale: 0 }), "initialScale", 0);
    assertInvalidArgument(() => psgdKron({ updateProbability: 1.5 }), "updateProbability", 1.5);
    assertInvalidArgument(
      () => psgdKron({ updateProbability: () => -1 }),
      "updateProbability (schedule at step 0)",
      -1,
    );
    assertInvalidArgument(() => psgdKron({ whiten: "momentum" }), "momentum", 0);
    assertInvalidArgument(
      () => psgdKron({ maxAverageAmplitude: 0 - 1 }),
      "maxAverageAmplitude",
      -1,
    );
    assertInvalidArgument(() => psgdKron({ seed: 1.5 }), "seed", 1.5);
    assertInvalidArgument(() => psgdKron({ betaL: 0.9 } as PsgdKronOptions), "betaL", 0.9);
    assertInvalidArgument(
      () => psgdKron({ fit: "newton", maxAverageAmplitude: 2 }),
      "maxAverageAmplitude",
      2,
    );
    assertInvalidArgument(() => psgdKron({ maxNorm: 1 }), "maxNorm", 1);
    assertInvalidArgument(() => psgdKron({ random: 3 as unknown as () => never }), "random", 3);
    assert.throws(() => philoxPsgdKronRandom(-1), InvalidArgumentError);
  });
});

describe("psgdKron: default randomness", () => {
  it("draws standard normals and uniforms per step from Philox, continuing within a step", () => {
    const random = philoxPsgdKronRandom(7);
    const normals = new Float64Array(20000);
    const draws = random(3);
    draws.normal(normals.subarray(0, 7), [7]);
    draws.normal(normals.subarray(7), [19993]);
    // Two calls continue one stream: the same numbers as one fill.
    assertSameBits(normals, fillNormal(new Float64Array(20000), 7, 6), "continued stream");
    const mean = normals.reduce((a, x) => a + x, 0) / normals.length;
    const variance = normals.reduce((a, x) => a + (x - mean) ** 2, 0) / normals.length;
    assert.ok(Math.abs(mean) < 0.03, `mean ${mean}`);
    assert.ok(Math.abs(variance - 1) < 0.04, `variance ${variance}`);
    const uniforms = Array.from({ length: 4000 }, () => draws.uniform());
    assert.ok(uniforms.every((x) => x >= 0 && x < 1));
    const uMean = uniforms.reduce((a, x) => a + x, 0) / uniforms.length;
    assert.ok(Math.abs(uMean - 0.5) < 0.02, `uniform mean ${uMean}`);
    assert.ok(uniforms.filter((x) => x < 0.01).length > 10, "the 1% coin can fire");
    // Another step, other numbers; the same step again, the same numbers.
    assert.notEqual(random(4).uniform(), random(3).uniform());
    assert.equal(random(3).uniform(), uniforms[0]);
  });
});
