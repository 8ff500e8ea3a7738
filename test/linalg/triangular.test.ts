// The triangular solves behind PSGD Kron's dQ = E·Q geometry (src/linalg/triangular.ts),
// checked by multiplying the solution back with the dense triangular matrix.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShapeMismatchError } from "../../src/errors.js";
import type { TriangularSolveOptions } from "../../src/linalg/triangular.js";
import { solveTriangular } from "../../src/linalg/triangular.js";
import { assertClose, assertInvalidArgument } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";

/**
 * A random n×n matrix whose named triangle is well conditioned (diagonal away from 0) and whose
 * other triangle is garbage that a solve must not read.
 */
function storage(n: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  const t = Float64Array.from({ length: n * n }, () => next());
  for (let i = 0; i < n; i++) t[i * n + i] = (i % 2 === 0 ? 1 : -1) * (1.5 + next());
  return t;
}

/** op(T) as a dense matrix: the named triangle of `t` (unit diagonal if asked), maybe transposed. */
function denseOp(t: Float64Array, n: number, options: TriangularSolveOptions): Float64Array {
  const upper = (options.triangle ?? "upper") === "upper";
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const inTriangle = upper ? j >= i : j <= i;
      let value = inTriangle ? t[i * n + j] : 0;
      if (i === j && options.unitDiagonal) value = 1;
      if (options.transpose) out[j * n + i] = value;
      else out[i * n + j] = value;
    }
  }
  return out;
}

function product(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  m: number,
  k: number,
  n: number,
): Float64Array {
  const out = new Float64Array(m * n);
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
      out[i * n + j] = s;
    }
  return out;
}

describe("solveTriangular", () => {
  const n = 7;
  const count = 4;
  for (const triangle of ["upper", "lower"] as const) {
    for (const transpose of [false, true]) {
      for (const side of ["left", "right"] as const) {
        for (const unitDiagonal of [false, true]) {
          const options = { triangle, transpose, side, unitDiagonal };
          it(`solves ${JSON.stringify(options)}`, () => {
            const t = storage(n, 3);
            const b = Float64Array.from({ length: n * count }, seededUniform(9));
            const x = new Float64Array(n * count);
            solveTriangular(t, n, b, count, x, options);
            const op = denseOp(t, n, options);
            const back =
              side === "left" ? product(op, x, n, n, count) : product(x, op, count, n, n);
            assertClose(back, b, 1e-13, "op(T)·X or X·op(T)");
            // In place gives the same bits.
            const inPlace = b.slice();
            solveTriangular(t, n, inPlace, count, inPlace, options);
            assert.deepEqual(Array.from(inPlace), Array.from(x));
          });
        }
      }
    }
  }

  it("writes float32 outputs rounded once and handles empty systems", () => {
    const t = storage(3, 5);
    const b = Float64Array.from([1, 2, 3]);
    const x64 = new Float64Array(3);
    const x32 = new Float32Array(3);
    solveTriangular(t, 3, b, 1, x64);
    solveTriangular(t, 3, b, 1, x32);
    assertClose(x32, x64, 1e-6, "float32");
    solveTriangular(new Float64Array(0), 0, new Float64Array(0), 5, new Float64Array(0));
    solveTriangular(t, 3, new Float64Array(0), 0, new Float64Array(0));
  });

  it("rejects bad sizes and options", () => {
    const t = storage(3, 1);
    const b = new Float64Array(6);
    assert.throws(() => solveTriangular(t, 3, b, 3, new Float64Array(9)), ShapeMismatchError);
    assert.throws(() => solveTriangular(t, 3, b, 2, new Float64Array(5)), ShapeMismatchError);
    assert.throws(() => solveTriangular(t, 2, b, 3, b), ShapeMismatchError);
    assertInvalidArgument(
      () => solveTriangular(t, 3, b, 2, b, { side: "top" as "left" }),
      "side",
      "top",
    );
    assertInvalidArgument(
      () => solveTriangular(t, 3, b, 2, b, { triangle: "diagonal" as "upper" }),
      "triangle",
      "diagonal",
    );
    assertInvalidArgument(() => solveTriangular(t, 3, b, 1.5, b), "count", 1.5);
    assertInvalidArgument(
      () => solveTriangular(t, 3, b, 2, b, { upper: true } as TriangularSolveOptions),
      "upper",
      true,
    );
  });
});
