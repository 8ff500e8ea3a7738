import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import type { MatrixData } from "../../src/linalg/matmul.js";
import type { GemmBackend } from "../../src/linalg/matmul.js";
import { gram, matmul, matmulBackend } from "../../src/linalg/matmul.js";
import { assertSameBits } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";

function random(length: number, seed: number, type: "f32" | "f64" = "f64"): MatrixData {
  const next = seededUniform(seed);
  const values = Array.from({ length }, () => next());
  return type === "f32" ? Float32Array.from(values) : Float64Array.from(values);
}

/**
 * The definition: C[i, j] = α·Σ_p op(A)[i, p]·op(B)[p, j] + β·C[i, j], summed in ascending p in
 * float64. matmul promises this exact evaluation order, so results must match bit for bit.
 */
function definition(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
  c: ArrayLike<number>,
  options: { transposeA?: boolean; transposeB?: boolean; alpha?: number; beta?: number } = {},
): number[] {
  const { transposeA = false, transposeB = false, alpha = 1, beta = 0 } = options;
  const result: number[] = [];
  for (let i = 0; i < m; i++) {
    for (let j = 0; j < n; j++) {
      let sum = 0;
      for (let p = 0; p < k; p++) {
        const left = transposeA ? a[p * m + i] : a[i * k + p];
        const right = transposeB ? b[j * k + p] : b[p * n + j];
        sum += left * right;
      }
      result.push(beta === 0 ? alpha * sum : alpha * sum + beta * c[i * n + j]);
    }
  }
  return result;
}

function rounded(values: number[], like: MatrixData): number[] {
  return like instanceof Float32Array ? values.map(Math.fround) : values;
}

for (const backend of ["wasm", "js"] as GemmBackend[]) {
  describe(`${backend} backend`, () => {
    let previous: GemmBackend = "wasm";
    before(() => {
      previous = matmulBackend();
      assert.equal(matmulBackend(backend), backend, "WebAssembly SIMD is available in Node ≥ 20");
    });
    after(() => {
      matmulBackend(previous);
    });

    describe(`matmul (${backend} backend)`, () => {
      // Sizes straddle the 4×4 register block and the cache panels (k = 3000 makes panels 4 wide).
      const shapes: [number, number, number][] = [
        [1, 1, 1],
        [2, 3, 4],
        [5, 7, 3],
        [9, 13, 11],
        [33, 17, 70],
        [70, 64, 65],
        [6, 3000, 10],
        [300, 2, 263],
      ];
      for (const [m, k, n] of shapes) {
        for (const transposeA of [false, true]) {
          for (const transposeB of [false, true]) {
            it(`equals the float64 triple loop bit for bit: ${m}×${k}·${k}×${n}, transposeA ${transposeA}, transposeB ${transposeB}`, () => {
              const a = random(m * k, m + 7 * k);
              const b = random(k * n, n + 11 * k);
              const out = new Float64Array(m * n).fill(Number.NaN);
              matmul(a, b, m, k, n, out, { transposeA, transposeB });
              const expected = definition(a, b, m, k, n, out, { transposeA, transposeB });
              assertSameBits(out, expected, "C");
            });
          }
        }
      }

      for (const [typeA, typeB, typeOut] of [
        ["f32", "f32", "f32"],
        ["f32", "f64", "f32"],
        ["f64", "f32", "f64"],
        ["f64", "f64", "f32"],
      ] as const) {
        it(`rounds a ${typeA}·${typeB} → ${typeOut} product once from the float64 sum`, () => {
          const [m, k, n] = [23, 41, 18];
          const a = random(m * k, 1, typeA);
          const b = random(k * n, 2, typeB);
          const out = typeOut === "f32" ? new Float32Array(m * n) : new Float64Array(m * n);
          matmul(a, b, m, k, n, out);
          assertSameBits(out, rounded(definition(a, b, m, k, n, out), out), "C");
        });
      }

      it("applies α and β as α·op(A)·op(B) + β·C", () => {
        const [m, k, n] = [13, 9, 17];
        const a = random(k * m, 3);
        const b = random(n * k, 4);
        const c = random(m * n, 5, "f32");
        const before = Array.from(c);
        const options = { transposeA: true, transposeB: true, alpha: -0.75, beta: 1.5 };
        matmul(a, b, m, k, n, c, options);
        assertSameBits(c, rounded(definition(a, b, m, k, n, before, options), c), "C");
      });

      it("does not read out when β = 0 (NaN there is overwritten), and reads it otherwise", () => {
        const a = Float64Array.from([1, 2, 3, 4]);
        const b = Float64Array.from([5, 6, 7, 8]);
        const out = Float64Array.from([Number.NaN, Infinity, -Infinity, Number.NaN]);
        matmul(a, b, 2, 2, 2, out);
        assert.deepEqual(Array.from(out), [19, 22, 43, 50]);
        matmul(a, b, 2, 2, 2, out, { alpha: 2, beta: -1 });
        assert.deepEqual(Array.from(out), [19, 22, 43, 50]);
      });

      it("with k = 0 scales out by β (an empty sum is 0)", () => {
        const out = Float64Array.from([1, -2, 3, 4, 5, 6]);
        matmul(new Float64Array(0), new Float64Array(0), 2, 0, 3, out, { beta: 0.5 });
        assert.deepEqual(Array.from(out), [0.5, -1, 1.5, 2, 2.5, 3]);
        matmul(new Float64Array(0), new Float64Array(0), 2, 0, 3, out);
        assert.deepEqual(Array.from(out), [0, 0, 0, 0, 0, 0]);
      });

      it("gives the same bits after a larger product has grown the scratch", () => {
        const [m, k, n] = [10, 12, 14];
        const a = random(m * k, 8);
        const b = random(k * n, 9);
        const first = new Float64Array(m * n);
        matmul(a, b, m, k, n, first);
        matmul(
          random(200 * 300, 1),
          random(300 * 100, 2),
          200,
          300,
          100,
          new Float64Array(200 * 100),
        );
        const second = new Float64Array(m * n);
        matmul(a, b, m, k, n, second);
        assertSameBits(second, first, "C");
      });

      it("multiplies by the identity exactly", () => {
        const n = 19;
        const a = random(n * n, 10);
        const identity = new Float64Array(n * n);
        for (let i = 0; i < n; i++) identity[i * n + i] = 1;
        const out = new Float64Array(n * n);
        matmul(a, identity, n, n, n, out);
        assertSameBits(out, a, "A·I");
        matmul(identity, a, n, n, n, out, { transposeB: true });
        const transposed = Array.from(
          { length: n * n },
          (_, q) => a[(q % n) * n + Math.floor(q / n)],
        );
        assertSameBits(out, transposed, "I·Aᵀ");
      });

      it("rejects wrong lengths with a ShapeMismatchError naming the array", () => {
        const a = new Float64Array(6);
        const b = new Float64Array(12);
        assert.throws(() => matmul(a, b, 2, 3, 4, new Float64Array(7)), ShapeMismatchError);
        assert.throws(
          () => matmul(a, new Float64Array(11), 2, 3, 4, new Float64Array(8)),
          (error: unknown) =>
            error instanceof ShapeMismatchError && /b must hold 12/.test(error.message),
        );
        assert.throws(() => matmul(a, b, 3, 3, 4, new Float64Array(12)), /a must hold 9/);
      });

      it("rejects bad sizes, options and overlapping output with InvalidArgumentError", () => {
        const a = new Float64Array(4);
        const b = new Float64Array(4);
        const out = new Float64Array(4);
        const rejects = (call: () => void, parameter: string) =>
          assert.throws(
            call,
            (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
          );
        rejects(() => matmul(a, b, -2, 2, -2, out), "m");
        rejects(() => matmul(a, b, 2, 2.5, 2, out), "k");
        rejects(() => matmul(a, b, 2, 2, Number.NaN, out), "n");
        rejects(() => matmul(a, b, 2, 2, 2, out, { alpha: Infinity }), "alpha");
        rejects(() => matmul(a, b, 2, 2, 2, out, { beta: Number.NaN }), "beta");
        rejects(() => matmul(a, b, 2, 2, 2, out, { transpose: true } as never), "transpose");
        rejects(() => matmul(a, b, 2, 2, 2, out, { transposeA: 1 } as never), "transposeA");
        rejects(() => matmul(a, b, 2, 2, 2, a), "out");
        const shared = new Float64Array(8);
        rejects(() => matmul(shared.subarray(0, 4), b, 2, 2, 2, shared.subarray(3, 7)), "out");
        rejects(() => matmul([1, 2, 3, 4] as never, b, 2, 2, 2, out), "a");
        // Disjoint views of one buffer are fine.
        matmul(shared.subarray(0, 4), b, 2, 2, 2, shared.subarray(4, 8));
      });
    });

    describe(`gram (${backend} backend)`, () => {
      for (const [rows, cols] of [
        [1, 1],
        [3, 5],
        [17, 6],
        [70, 33],
        [9, 2500],
        [130, 70],
      ] as const) {
        for (const side of ["left", "right"] as const) {
          it(`equals the definition of ${side === "left" ? "A·Aᵀ" : "Aᵀ·A"} bit for bit, A ${rows}×${cols}`, () => {
            const a = random(rows * cols, rows * 31 + cols);
            const size = side === "left" ? rows : cols;
            const out = new Float64Array(size * size).fill(Number.NaN);
            gram(a, rows, cols, out, side);
            const expected =
              side === "left"
                ? definition(a, a, rows, cols, rows, out, { transposeB: true })
                : definition(a, a, cols, rows, cols, out, { transposeA: true });
            assertSameBits(out, expected, "Gram");
            for (let i = 0; i < size; i++) {
              for (let j = 0; j < i; j++)
                assert.ok(Object.is(out[i * size + j], out[j * size + i]));
            }
          });
        }
      }

      it("accumulates α·Aᵀ·A + β·G in float32, reading only G's lower triangle", () => {
        const [rows, cols] = [21, 10];
        const a = random(rows * cols, 5, "f32");
        const g = new Float32Array(cols * cols);
        gram(random(4 * cols, 6), 4, cols, g, "right");
        const before = Array.from(g);
        for (let i = 0; i < cols; i++)
          for (let j = i + 1; j < cols; j++) g[i * cols + j] = Number.NaN;
        gram(a, rows, cols, g, "right", { alpha: 0.1, beta: 0.9 });
        const expected = definition(a, a, cols, rows, cols, before, {
          transposeA: true,
          alpha: 0.1,
          beta: 0.9,
        });
        assertSameBits(g, rounded(expected, g), "G");
      });

      it("rejects a bad side, wrong lengths and an output overlapping A", () => {
        const a = new Float64Array(6);
        assert.throws(
          () => gram(a, 2, 3, new Float64Array(4), "both" as never),
          (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "side",
        );
        assert.throws(() => gram(a, 2, 3, new Float64Array(9), "left"), ShapeMismatchError);
        assert.throws(() => gram(a, 2, 3, new Float64Array(4), "right"), ShapeMismatchError);
        assert.throws(() => gram(a, 2, 2, new Float64Array(4), "left"), ShapeMismatchError);
        const square = new Float64Array(4);
        assert.throws(
          () => gram(square, 2, 2, square, "left"),
          (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "out",
        );
      });
    });
  });
}

describe("matmulBackend", () => {
  it("rejects an unknown backend and keeps the current one", () => {
    const current = matmulBackend();
    assert.throws(
      () => matmulBackend("gpu" as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "backend",
    );
    assert.equal(matmulBackend(), current);
  });
});
