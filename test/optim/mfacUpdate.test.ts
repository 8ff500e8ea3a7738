// M-FAC's O(m²) factor update: the sliding-window Cholesky primitives against dense
// definitions, and the optimizer's windowed solve against a dense d×d solve over many steps.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { choleskyFactor } from "../../src/linalg/cholesky.js";
import {
  choleskyAppendLast,
  choleskyRemoveFirst,
  choleskyUpperSolve,
  choleskyLowerToUpper,
} from "../../src/linalg/choleskyUpdate.js";
import type { MfacState, ScaleByMfacOptions } from "../../src/optim/mfac.js";
import { mfac, scaleByMfac } from "../../src/optim/mfac.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { Layout } from "../../src/params/layout.js";
import { assertClose, assertInvalidArgument, assertSameBits } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";
import { denseInverseFisherProduct, denseSolve } from "../reference/mfac.js";

/** A random symmetric positive definite n×n matrix B·Bᵀ + n·I as nested arrays. */
function randomSpd(n: number, seed: number): number[][] {
  const next = seededUniform(seed);
  const b = Array.from({ length: n }, () => Array.from({ length: n }, () => next()));
  return b.map((row, i) =>
    b.map((other, j) => row.reduce((s, v, k) => s + v * other[k], 0) + (i === j ? n : 0)),
  );
}

/** The upper factor R (A = RᵀR) by the library's full factorization, to feed the updates. */
function upperFactor(a: number[][]): Float64Array {
  const n = a.length;
  const out = Float64Array.from(a.flat());
  assert.ok(choleskyFactor(out, n, out));
  choleskyLowerToUpper(out, n);
  return out;
}

/** RᵀR for the leading `order`×`order` block of a buffer with row stride `stride`. */
function gramOfUpper(r: ArrayLike<number>, order: number, stride: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < order; i++) {
    for (let j = 0; j < order; j++) {
      let sum = 0;
      for (let k = 0; k < order; k++) sum += r[k * stride + i] * r[k * stride + j];
      out.push(sum);
    }
  }
  return out;
}

function assertUpperTriangularWithPositiveDiagonal(r: ArrayLike<number>, n: number): void {
  for (let i = 0; i < n; i++) {
    assert.ok(r[i * n + i] > 0, `diagonal ${i}: ${r[i * n + i]}`);
    for (let j = 0; j < i; j++) assert.equal(r[i * n + j], 0, `below the diagonal (${i}, ${j})`);
  }
}

describe("sliding-window Cholesky updates", () => {
  for (const n of [1, 2, 7]) {
    it(`removing the first row and column factors A without them (n=${n}, also in place)`, () => {
      const a = randomSpd(n, 10 + n);
      const r = upperFactor(a);
      const expected = a.slice(1).flatMap((row) => row.slice(1));
      for (const inPlace of [false, true]) {
        const out = inPlace ? r.slice() : new Float64Array(n * n).fill(Number.NaN);
        choleskyRemoveFirst(inPlace ? out : r, n, out, new Float64Array(n));
        assertClose(gramOfUpper(out, n - 1, n), expected, 1e-13, `A₁₁ (in place: ${inPlace})`);
        // The last row and column are cleared for the bordering step.
        for (let i = 0; i < n; i++) {
          assert.equal(out[(n - 1) * n + i], 0);
          assert.equal(out[i * n + n - 1], 0);
        }
        for (let i = 0; i < n - 1; i++) {
          assert.ok(out[i * n + i] > 0);
          for (let j = 0; j < i; j++) assert.equal(out[i * n + j], 0);
        }
      }
    });

    it(`bordering with a last row and column factors the bordered matrix (n=${n})`, () => {
      const a = randomSpd(n, 20 + n);
      // The factor of the leading block, written into an n×n buffer with garbage around it.
      const lead = upperFactor(a.slice(0, n - 1).map((row) => row.slice(0, n - 1)));
      const r = new Float64Array(n * n).fill(7);
      for (let i = 0; i < n - 1; i++) r.set(lead.subarray(i * (n - 1), (i + 1) * (n - 1)), i * n);
      for (let i = 1; i < n - 1; i++) r.fill(0, i * n, i * n + i);
      const column = a.slice(0, n - 1).map((row) => row[n - 1]);
      assert.ok(choleskyAppendLast(r, n, column, a[n - 1][n - 1], new Float64Array(n)));
      assertUpperTriangularWithPositiveDiagonal(r, n);
      assertClose(gramOfUpper(r, n, n), a.flat(), 1e-13, "bordered A");
    });

    it(`solves RᵀR·x = b as a dense solve does (n=${n}, also in place)`, () => {
      const a = randomSpd(n, 30 + n);
      const b = Array.from({ length: n }, (_, i) => Math.sin(i + 1));
      const r = upperFactor(a);
      const x = new Float64Array(n);
      choleskyUpperSolve(r, n, b, x);
      const expected = denseSolve(a, b);
      assertClose(x, expected, 1e-12, "x");
      const inPlace = Float64Array.from(b);
      choleskyUpperSolve(r, n, inPlace, inPlace);
      assertSameBits(inPlace, x, "in place");
    });
  }

  it("bordering reports a matrix that is not positive definite (or not finite)", () => {
    // [[4, 2], [2, 1]] is singular: the second pivot is 1 − 2²/4 = 0.
    const r = Float64Array.from([2, 0, 0, 0]);
    assert.equal(choleskyAppendLast(r, 2, [2], 1, new Float64Array(2)), false);
    assert.equal(choleskyAppendLast(r, 2, [2], 0.5, new Float64Array(2)), false);
    assert.equal(choleskyAppendLast(r, 2, [Number.NaN], 3, new Float64Array(2)), false);
    assert.equal(choleskyAppendLast(r, 2, [2], Infinity, new Float64Array(2)), false);
    assert.equal(choleskyAppendLast(r, 2, [2], 1 + 1e-9, new Float64Array(2)), true);
  });

  it("a long slide of removals and borderings keeps factoring the window's matrix", () => {
    // The window's matrix λI + rows' inner products, for 60 slides of a window of 5 in R³
    // (rank-deficient: d < m), compared after every slide.
    const m = 5;
    const d = 3;
    const lambda = 1e-3;
    const next = seededUniform(4);
    const rows: number[][] = Array.from({ length: m }, () => new Array<number>(d).fill(0));
    let r = new Float64Array(m * m);
    for (let i = 0; i < m; i++) r[i * m + i] = Math.sqrt(lambda);
    const scratch = new Float64Array(m);
    for (let step = 0; step < 60; step++) {
      const g = Array.from({ length: d }, () => next());
      rows.shift();
      const column = rows.map((row) => row.reduce((s, v, k) => s + v * g[k], 0));
      rows.push(g);
      const out = new Float64Array(m * m);
      choleskyRemoveFirst(r, m, out, scratch);
      const diagonal = g.reduce((s, v) => s + v * v, 0) + lambda;
      assert.ok(choleskyAppendLast(out, m, column, diagonal, scratch));
      r = out;
      const expected = rows.flatMap((x, i) =>
        rows.map((y, j) => x.reduce((s, v, k) => s + v * y[k], 0) + (i === j ? lambda : 0)),
      );
      assertClose(gramOfUpper(r, m, m), expected, 1e-12, `slide ${step}`);
    }
  });
});

interface Run {
  transform: GradientTransform<MfacState>;
  state: MfacState;
  layout: Layout;
}

function start(d: number, options: ScaleByMfacOptions): Run {
  const layout = new Layout([{ name: "x", shape: [d] }], "float64");
  const transform = scaleByMfac(options);
  return { transform, state: transform.init(layout), layout };
}

/** One step: the direction F⁻¹g for the window with g in it. */
function direction(run: Run, g: readonly number[]): Float64Array {
  const u = Float64Array.from(g);
  const params = run.layout.zeros();
  void run.transform.update(u, run.state, { params, layout: run.layout });
  return u;
}

/** Whether the O(m²) update alone (remove the oldest, border with g) would succeed. */
function borderingSucceeds(state: MfacState, m: number, d: number, damp: number, g: number[]) {
  const column: number[] = [];
  for (let i = 1; i < m; i++) {
    const row = ((state.position + i) % m) * d;
    column.push(g.reduce((s, v, k) => s + v * state.window[row + k], 0));
  }
  const diagonal = g.reduce((s, v) => s + v * v, 0) + damp * m;
  const r = new Float64Array(m * m);
  choleskyRemoveFirst(state.factor, m, r, new Float64Array(m));
  return choleskyAppendLast(r, m, column, diagonal, new Float64Array(m));
}

/** λ·m·I + G·Gᵀ in the state's age order, from the window buffer itself. */
function ageOrderedDampedGram(state: MfacState, m: number, d: number, damp: number): number[] {
  const slot = (i: number) => (state.position + i) % m;
  const out: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < m; j++) {
      let sum = i === j ? damp * m : 0;
      for (let k = 0; k < d; k++) {
        sum += state.window[slot(i) * d + k] * state.window[slot(j) * d + k];
      }
      out.push(sum);
    }
  }
  return out;
}

/** Gradients around one direction: `base + spread·noise` (spread ≪ 1 makes them collinear). */
function gradientStream(d: number, seed: number, spread: number): () => number[] {
  const next = seededUniform(seed);
  const base = Array.from({ length: d }, () => next());
  return () => base.map((b) => (spread === 1 ? next() : b + spread * next()));
}

describe("M-FAC's O(m²)-updated windowed solve", () => {
  const cases = [
    { name: "d > m", m: 6, d: 40, damp: 1e-3, spread: 1, steps: 45, rtol: 1e-9 },
    { name: "d < m", m: 12, d: 5, damp: 1e-2, spread: 1, steps: 50, rtol: 1e-9 },
    { name: "d = m", m: 8, d: 8, damp: 1e-4, spread: 1, steps: 40, rtol: 1e-9 },
    // Gradients within 1e-4 of each other: the m×m system's condition number is ~1e8.
    { name: "nearly collinear", m: 7, d: 30, damp: 1e-5, spread: 1e-4, steps: 40, rtol: 1e-6 },
    { name: "window of one", m: 1, d: 9, damp: 0.1, spread: 1, steps: 6, rtol: 1e-12 },
  ];
  for (const c of cases) {
    it(`equals a dense solve of (λI + (1/m)Σ ggᵀ)⁻¹g for ${c.steps} steps, never refactored (${c.name})`, () => {
      const run = start(c.d, {
        numGradients: c.m,
        damp: c.damp,
        refactorInterval: Infinity,
      });
      const nextGradient = gradientStream(c.d, 1000 + c.m * c.d, c.spread);
      const window: number[][] = Array.from({ length: c.m }, () => new Array<number>(c.d).fill(0));
      for (let s = 0; s < c.steps; s++) {
        const g = nextGradient();
        window[s % c.m] = g;
        const u = direction(run, g);
        const expected = denseInverseFisherProduct(window, c.damp, g);
        assertClose(u, expected, c.rtol, `${c.name}, step ${s + 1}`);
        // The updated factor still factors the damped Gram matrix of the window, in age order.
        const gram = ageOrderedDampedGram(run.state, c.m, c.d, c.damp);
        assertClose(gramOfUpper(run.state.factor, c.m, c.m), gram, 1e-11, `factor ${s + 1}`);
        assertUpperTriangularWithPositiveDiagonal(run.state.factor, c.m);
      }
      assert.equal(run.state.refactorizations, 0, "every step took the O(m²) update");
    });
  }

  it("refactors every refactorInterval steps, and otherwise agrees with refactoring every step", () => {
    const m = 5;
    const d = 11;
    const damp = 1e-3;
    const every = start(d, { numGradients: m, damp, refactorInterval: 1 });
    const periodic = start(d, { numGradients: m, damp, refactorInterval: 4 });
    const nextGradient = gradientStream(d, 77, 1);
    for (let s = 1; s <= 13; s++) {
      const g = nextGradient();
      const reference = direction(every, g);
      const u = direction(periodic, g);
      assertClose(u, reference, 1e-11, `step ${s}`);
      if (s % 4 === 0) assertSameBits(periodic.state.factor, every.state.factor, `step ${s}`);
      assertSameBits(periodic.state.gram, every.state.gram, `gram ${s}`);
      assert.equal(periodic.state.refactorizations, Math.floor(s / 4));
      assert.equal(every.state.refactorizations, s);
    }
  });

  it("falls back to refactoring when the updated factor has lost accuracy", () => {
    const m = 4;
    const d = 9;
    const damp = 1e-2;
    const run = start(d, { numGradients: m, damp, refactorInterval: Infinity });
    const fresh = start(d, { numGradients: m, damp, refactorInterval: 1 });
    const nextGradient = gradientStream(d, 5, 1);
    for (let s = 0; s < 6; s++) {
      const g = nextGradient();
      direction(run, g);
      direction(fresh, g);
    }
    // An entry that survives the removal of the oldest row, off by 10%: the bordering still
    // succeeds, the backward-error check catches it.
    run.state.factor[2 * m + 3] *= 1.1;
    const g = nextGradient();
    assert.ok(borderingSucceeds(run.state, m, d, damp, g));
    assert.equal(run.state.refactorizations, 0);
    assertSameBits(direction(run, g), direction(fresh, g), "direction");
    assertSameBits(run.state.factor, fresh.state.factor, "factor");
    assert.equal(run.state.refactorizations, 1);
  });

  it("falls back to refactoring when the bordering pivot is not positive", () => {
    const m = 4;
    const d = 9;
    const damp = 1e-2;
    const run = start(d, { numGradients: m, damp, refactorInterval: Infinity });
    const fresh = start(d, { numGradients: m, damp, refactorInterval: 1 });
    const nextGradient = gradientStream(d, 6, 1);
    for (let s = 0; s < 6; s++) {
      const g = nextGradient();
      direction(run, g);
      direction(fresh, g);
    }
    // A last column of zeros over a tiny pivot survives the removal of the oldest row as a
    // tiny pivot, which makes R⁻ᵀ·b huge, so γ − |R⁻ᵀ·b|² < 0.
    for (let i = 0; i < m - 1; i++) run.state.factor[i * m + m - 1] = 0;
    run.state.factor[m * m - 1] = 1e-9;
    const g = nextGradient();
    assert.equal(borderingSucceeds(run.state, m, d, damp, g), false);
    assert.equal(run.state.refactorizations, 0);
    assertSameBits(direction(run, g), direction(fresh, g), "direction");
    assertSameBits(run.state.factor, fresh.state.factor, "factor");
    assert.equal(run.state.refactorizations, 1);
  });

  it("rejects a refactorInterval that is not an integer ≥ 1 or Infinity", () => {
    for (const bad of [0, -1, 2.5, Number.NaN, -Infinity, "4"]) {
      assertInvalidArgument(
        () => scaleByMfac({ refactorInterval: bad as number }),
        "refactorInterval",
        bad,
      );
    }
    assertInvalidArgument(() => mfac({ refactorInterval: 0 }), "refactorInterval", 0);
    assert.doesNotThrow(() => mfac({ refactorInterval: Infinity }));
    assert.doesNotThrow(() => scaleByMfac({ refactorInterval: 1 }));
  });
});
