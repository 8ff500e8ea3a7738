import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError, ShapeMismatchError } from "../../src/errors.js";
import { eigh } from "../../src/linalg/eigh.js";
import type { MatrixData } from "../../src/linalg/matmul.js";
import { assertClose, assertSameBits } from "../helpers/assertions.js";
import { fillNormal } from "../../src/random/distributions.js";
import { seededUniform } from "../helpers/inputs.js";

function randomSymmetric(n: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      const value = next();
      a[i * n + j] = value;
      a[j * n + i] = value;
    }
  }
  return a;
}

/** An orthogonal matrix with no zero entries: the reflector I − 2uuᵀ/uᵀu times another one. */
function orthogonal(n: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  const reflector = (): Float64Array => {
    const u = Array.from({ length: n }, () => next() + 1.5);
    const uu = u.reduce((s, x) => s + x * x, 0);
    return Float64Array.from({ length: n * n }, (_, q) => {
      const [i, j] = [Math.floor(q / n), q % n];
      return (i === j ? 1 : 0) - (2 * u[i] * u[j]) / uu;
    });
  };
  return multiply(reflector(), reflector(), n);
}

function multiply(a: ArrayLike<number>, b: ArrayLike<number>, n: number): Float64Array {
  const c = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += a[i * n + k] * b[k * n + j];
      c[i * n + j] = sum;
    }
  }
  return c;
}

/** Q·diag(spectrum)·Qᵀ, symmetrized so that both triangles carry the same bits. */
function withSpectrum(spectrum: number[], seed: number): Float64Array {
  const n = spectrum.length;
  const q = orthogonal(n, seed);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j <= i; j++) {
      let sum = 0;
      for (let k = 0; k < n; k++) sum += q[i * n + k] * spectrum[k] * q[j * n + k];
      a[i * n + j] = sum;
      a[j * n + i] = sum;
    }
  }
  return a;
}

function largestEntry(a: ArrayLike<number>): number {
  let largest = 0;
  for (let i = 0; i < a.length; i++) largest = Math.max(largest, Math.abs(a[i]));
  return largest;
}

/**
 * Checks the definition of an eigendecomposition: max|A·V − V·Λ| ≤ tolerance·max|A|,
 * max|VᵀV − I| ≤ tolerance, and ascending eigenvalues.
 */
function assertDecomposition(
  a: ArrayLike<number>,
  n: number,
  values: ArrayLike<number>,
  vectors: ArrayLike<number>,
  tolerance: number,
): void {
  for (let j = 1; j < n; j++) assert.ok(values[j - 1] <= values[j], `ascending at ${j}`);
  const scale = Math.max(largestEntry(a), Number.MIN_VALUE);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let av = 0;
      let vv = 0;
      for (let k = 0; k < n; k++) {
        av += a[i * n + k] * vectors[k * n + j];
        vv += vectors[k * n + i] * vectors[k * n + j];
      }
      const residual = Math.abs(av - vectors[i * n + j] * values[j]) / scale;
      assert.ok(residual <= tolerance, `(A·V − V·Λ)[${i}, ${j}] = ${residual}·max|A|`);
      const orthogonality = Math.abs(vv - (i === j ? 1 : 0));
      assert.ok(orthogonality <= tolerance, `(VᵀV − I)[${i}, ${j}] = ${orthogonality}`);
    }
  }
}

/** Backward-stable methods keep both errors within a modest multiple of n·2⁻⁵³. */
const tolerance = (n: number): number => 16 * Math.max(n, 4) * 2 ** -53;

describe("eigh", () => {
  for (const n of [1, 2, 3, 5, 16, 50, 131]) {
    it(`decomposes a random symmetric ${n}×${n} matrix: A·V = V·Λ, VᵀV = I, trace and ‖A‖F kept`, () => {
      const a = randomSymmetric(n, 100 + n);
      const values = new Float64Array(n);
      const vectors = new Float64Array(n * n);
      eigh(a, n, values, vectors);
      assertDecomposition(a, n, values, vectors, tolerance(n));
      let trace = 0;
      let frobenius = 0;
      for (let i = 0; i < n; i++) trace += a[i * n + i];
      for (const x of a) frobenius += x * x;
      const sum = values.reduce((s, x) => s + x, 0);
      const squares = values.reduce((s, x) => s + x * x, 0);
      assertClose([sum, squares], [trace, frobenius], 1e-12, "trace, ‖A‖F²", { floor: 1 });
    });
  }

  it("gives a 1×1 matrix its entry and the vector [1]", () => {
    const values = new Float64Array(1);
    const vectors = new Float64Array(1);
    eigh(Float64Array.from([-3.25]), 1, values, vectors);
    assert.deepEqual([values[0], Math.abs(vectors[0])], [-3.25, 1]);
  });

  for (const [a, b, c] of [
    [2, 1, 2],
    [1, 1e-9, 1],
    [4, -3, -4],
    [0, 5, 0],
    [1e-3, 0, -7],
  ]) {
    it(`matches the 2×2 closed form for [[${a}, ${b}], [${b}, ${c}]]`, () => {
      const mean = (a + c) / 2;
      const radius = Math.hypot((a - c) / 2, b);
      const values = new Float64Array(2);
      const vectors = new Float64Array(4);
      eigh(Float64Array.from([a, b, b, c]), 2, values, vectors);
      assertClose(values, [mean - radius, mean + radius], 1e-15, "λ", {
        floor: radius + Math.abs(mean),
      });
      assertDecomposition([a, b, b, c], 2, values, vectors, tolerance(2));
    });
  }

  it("returns a diagonal matrix's sorted diagonal exactly, with unit eigenvectors", () => {
    const diagonal = [3, -1, 7, 0, 2.5, -8];
    const n = diagonal.length;
    const a = new Float64Array(n * n);
    diagonal.forEach((x, i) => (a[i * n + i] = x));
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(a, n, values, vectors);
    assert.deepEqual(
      Array.from(values),
      [...diagonal].sort((x, y) => x - y),
    );
    for (let j = 0; j < n; j++) {
      const row = diagonal.indexOf(values[j]);
      for (let i = 0; i < n; i++) assert.equal(Math.abs(vectors[i * n + j]), i === row ? 1 : 0);
    }
  });

  it("finds repeated eigenvalues and an orthonormal basis of each eigenspace", () => {
    const spectrum = [5, 1, 3, 1, 3, 1, -2, 5];
    const n = spectrum.length;
    const a = withSpectrum(spectrum, 7);
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(a, n, values, vectors);
    const expected = [...spectrum].sort((x, y) => x - y);
    assertClose(values, expected, 1e-14, "λ", { floor: 5 });
    assertDecomposition(a, n, values, vectors, tolerance(n));
  });

  it("finds the zero eigenvalues of a rank-deficient matrix", () => {
    const spectrum = [0, 4, 0, 0, 9, 0, 1e-3];
    const n = spectrum.length;
    const a = withSpectrum(spectrum, 8);
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(a, n, values, vectors);
    assertClose(values, [0, 0, 0, 0, 1e-3, 4, 9], 1e-14, "λ", { floor: 9 });
    assertDecomposition(a, n, values, vectors, tolerance(n));
  });

  it("converges on a large rank-deficient Gram matrix G·Gᵀ (a cluster of rounding-sized eigenvalues)", () => {
    // 128×128 of rank 32, the shape of a transformer layer's first gradient statistics: 96
    // eigenvalues are 0 up to rounding, far below the largest, and must still deflate.
    const n = 128;
    const rank = 32;
    // Gaussian columns whose scales span seven decades, like a gradient's: the tiny eigenvalues
    // then sit next to couplings of their own size, which a neighbour-relative test never drops.
    const g = fillNormal(new Float64Array(n * rank), 0, 0);
    for (let i = 0; i < n; i++) for (let k = 0; k < rank; k++) g[i * rank + k] *= 10 ** -(k % 8);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let k = 0; k < rank; k++) sum += g[i * rank + k] * g[j * rank + k];
        a[i * n + j] = sum;
      }
    }
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(a, n, values, vectors);
    assertDecomposition(a, n, values, vectors, tolerance(n));
    const largest = values[n - 1];
    for (let i = 0; i < n - rank; i++) {
      assert.ok(Math.abs(values[i]) <= 1e-13 * largest, `λ${i} = ${values[i]}`);
    }
    assert.ok(values[n - rank] > 0, "the rank-32 part stays positive");
  });

  it("decomposes the rank-one x·xᵀ into ‖x‖² with eigenvector ±x/‖x‖ and zeros", () => {
    const x = [1, -2, 0.5, 3, 0, 2];
    const n = x.length;
    const a = Float64Array.from({ length: n * n }, (_, q) => x[Math.floor(q / n)] * x[q % n]);
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(a, n, values, vectors);
    const norm2 = x.reduce((s, v) => s + v * v, 0);
    assertClose(values, [0, 0, 0, 0, 0, norm2], 1e-14, "λ", { floor: norm2 });
    const top = Array.from({ length: n }, (_, i) => vectors[i * n + n - 1]);
    const sign = Math.sign(top[0]);
    assertClose(
      top.map((v) => sign * v),
      x.map((v) => v / Math.sqrt(norm2)),
      1e-14,
      "top eigenvector",
      { floor: 1 },
    );
  });

  it("handles the zero matrix and entries near the float64 range's ends", () => {
    const n = 4;
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(new Float64Array(n * n), n, values, vectors);
    assert.deepEqual(Array.from(values), [0, 0, 0, 0]);
    assertDecomposition(new Float64Array(n * n), n, values, vectors, tolerance(n));
    for (const scale of [1e300, 1e-300]) {
      const unit = randomSymmetric(n, 9);
      const a = unit.map((x) => x * scale);
      eigh(a, n, values, vectors);
      const unitValues = new Float64Array(n);
      eigh(unit, n, unitValues, new Float64Array(n * n));
      assertClose(
        values,
        unitValues.map((x) => x * scale),
        1e-13,
        `λ at scale ${scale}`,
        {
          floor: scale,
        },
      );
      assertDecomposition(a, n, values, vectors, tolerance(n));
    }
  });

  it("reads only the lower triangle, allows vectors = a, and gives the same values without vectors", () => {
    const n = 9;
    const a = randomSymmetric(n, 11);
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    eigh(a, n, values, vectors);
    const lower = Float64Array.from(a);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) lower[i * n + j] = Number.NaN;
    const lowerValues = new Float64Array(n);
    eigh(lower, n, lowerValues, lower);
    assertSameBits(lowerValues, values, "λ");
    assertSameBits(lower, vectors, "V in place");
    const valuesOnly = new Float64Array(n);
    eigh(a, n, valuesOnly, null);
    assertSameBits(valuesOnly, values, "λ without vectors");
  });

  it("accepts float32 storage and rounds the float64 results once", () => {
    const n = 12;
    const a32 = Float32Array.from(randomSymmetric(n, 12));
    const a64 = Float64Array.from(a32);
    const values: MatrixData = new Float32Array(n);
    const vectors: MatrixData = new Float32Array(n * n);
    eigh(a32, n, values, vectors);
    const values64 = new Float64Array(n);
    const vectors64 = new Float64Array(n * n);
    eigh(a64, n, values64, vectors64);
    assertSameBits(values, values64.map(Math.fround), "λ");
    assertSameBits(vectors, vectors64.map(Math.fround), "V");
  });

  it("rejects non-finite entries in the lower triangle with a NonFiniteError", () => {
    for (const bad of [Number.NaN, Infinity, -Infinity]) {
      const a = randomSymmetric(3, 13);
      a[2 * 3 + 1] = bad;
      assert.throws(
        () => eigh(a, 3, new Float64Array(3), new Float64Array(9)),
        (e: unknown) => e instanceof NonFiniteError && e.index === 7 && Object.is(e.value, bad),
      );
    }
  });

  it("rejects mismatched lengths and bad orders", () => {
    const a = randomSymmetric(3, 14);
    assert.throws(() => eigh(a, 2, new Float64Array(2), null), ShapeMismatchError);
    assert.throws(() => eigh(a.subarray(0, 6), 3, new Float64Array(3), null), ShapeMismatchError);
    assert.throws(() => eigh(a, 3, new Float64Array(4), null), /values must hold n = 3/);
    assert.throws(() => eigh(a, 3, new Float64Array(3), new Float64Array(8)), ShapeMismatchError);
    assert.throws(
      () => eigh(a, -3, new Float64Array(3), null),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "n",
    );
  });
});
