import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { choleskyFactor, choleskySolve } from "../../src/linalg/cholesky.js";
import { assertClose } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";

/** A random symmetric positive definite matrix B·Bᵀ + shift·I (row-major). */
function spd(n: number, seed: number, shift: number): Float64Array {
  const next = seededUniform(seed);
  const b = Array.from({ length: n * n }, () => 2 * next() - 1);
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = i === j ? shift : 0;
      for (let k = 0; k < n; k++) sum += b[i * n + k] * b[j * n + k];
      a[i * n + j] = sum;
    }
  }
  return a;
}

function multiply(a: Float64Array, n: number, x: ArrayLike<number>): number[] {
  return Array.from({ length: n }, (_, i) => {
    let sum = 0;
    for (let k = 0; k < n; k++) sum += a[i * n + k] * x[k];
    return sum;
  });
}

describe("cholesky", () => {
  for (const n of [1, 2, 5, 17]) {
    it(`factors a ${n}×${n} SPD matrix into a lower-triangular L with L·Lᵀ = A`, () => {
      const a = spd(n, 10 + n, 0.1);
      const l = new Float64Array(n * n).fill(7);
      assert.equal(choleskyFactor(a, n, l), true);
      const product = new Float64Array(n * n);
      for (let i = 0; i < n; i++) {
        assert.ok(l[i * n + i] > 0, "positive diagonal");
        for (let j = 0; j < n; j++) {
          if (j > i) assert.equal(l[i * n + j], 0, `upper entry (${i}, ${j})`);
          let sum = 0;
          for (let k = 0; k < n; k++) sum += l[i * n + k] * l[j * n + k];
          product[i * n + j] = sum;
        }
      }
      assertClose(product, a, 1e-13, "L·Lᵀ", { floor: 1e-13 });
    });

    it(`solves A·x = b for a ${n}×${n} SPD matrix (residual check, in place too)`, () => {
      const a = spd(n, 20 + n, 0.5);
      const next = seededUniform(30 + n);
      const b = Float64Array.from({ length: n }, () => 2 * next() - 1);
      const l = new Float64Array(n * n);
      assert.ok(choleskyFactor(a, n, l));
      const x = new Float64Array(n);
      choleskySolve(l, n, b, x);
      assertClose(multiply(a, n, x), b, 1e-11, "A·x", { floor: 1e-12 });
      const inPlace = Float64Array.from(b);
      choleskySolve(l, n, inPlace, inPlace);
      assert.deepEqual(Array.from(inPlace), Array.from(x));
    });
  }

  it("factors in place, reading only the lower triangle", () => {
    const n = 6;
    const a = spd(n, 3, 1);
    const lower = Float64Array.from(a);
    for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) lower[i * n + j] = Number.NaN;
    const l = new Float64Array(n * n);
    assert.ok(choleskyFactor(a, n, l));
    assert.ok(choleskyFactor(lower, n, lower));
    assert.deepEqual(Array.from(lower), Array.from(l));
  });

  it("reports matrices that are not positive definite", () => {
    assert.equal(choleskyFactor(Float64Array.from([1, 2, 2, 1]), 2, new Float64Array(4)), false);
    assert.equal(choleskyFactor(Float64Array.from([0, 0, 0, 1]), 2, new Float64Array(4)), false);
    assert.equal(choleskyFactor(Float64Array.from([-1]), 1, new Float64Array(1)), false);
    assert.equal(choleskyFactor(Float64Array.from([Number.NaN]), 1, new Float64Array(1)), false);
  });
});
