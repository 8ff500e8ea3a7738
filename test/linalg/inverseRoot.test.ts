import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, NonFiniteError, ShapeMismatchError } from "../../src/errors.js";
import type { InverseRootMethod } from "../../src/linalg/inverseRoot.js";
import { inverseRoot } from "../../src/linalg/inverseRoot.js";
import { assertClose } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";

/** B·Bᵀ/n + shift·I for a random n×n B: symmetric positive definite, λ_min ≥ shift. */
function spd(n: number, seed: number, shift: number): Float64Array {
  const next = seededUniform(seed);
  const b = Array.from({ length: n * n }, () => next());
  const a = new Float64Array(n * n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      let sum = i === j ? shift : 0;
      for (let k = 0; k < n; k++) sum += (b[i * n + k] * b[j * n + k]) / n;
      a[i * n + j] = sum;
    }
  }
  return a;
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

function identity(n: number): Float64Array {
  const eye = new Float64Array(n * n);
  for (let i = 0; i < n; i++) eye[i * n + i] = 1;
  return eye;
}

/** X^p·A, the product that must be the identity when X = A^(−1/p). */
function powerTimes(
  x: ArrayLike<number>,
  p: number,
  a: ArrayLike<number>,
  n: number,
): Float64Array {
  let product: Float64Array = Float64Array.from(a);
  for (let k = 0; k < p; k++) product = multiply(x, product, n);
  return product;
}

const methods: InverseRootMethod[] = ["eigen", "newton"];

describe("inverseRoot", () => {
  for (const method of methods) {
    for (const p of [1, 2, 3, 4]) {
      for (const n of [1, 6, 40]) {
        it(`${method}: X^${p}·A = I for a random ${n}×${n} SPD matrix`, () => {
          const a = spd(n, 10 * n + p, 0.05);
          const x = new Float64Array(n * n);
          const result = inverseRoot(a, n, p, x, { method, tolerance: 1e-12 });
          assert.equal(result.converged, true);
          assert.equal(result.epsilon, 0);
          if (method === "eigen") assert.equal(result.iterations, 0);
          else assert.ok(result.error <= 1e-12, `error ${result.error}`);
          // The condition number here stays below 1e3, so 1e-10 leaves a wide margin for rounding.
          assertClose(powerTimes(x, p, a, n), identity(n), 1e-10, "X^p·A", { floor: 1 });
          for (let i = 0; i < n; i++) {
            for (let j = 0; j < i; j++) {
              assertClose([x[i * n + j]], [x[j * n + i]], 1e-12, "symmetry", { floor: 1 });
            }
          }
        });
      }
    }
  }

  it("gives the same root by both methods", () => {
    const n = 24;
    const a = spd(n, 5, 0.1);
    for (const p of [2, 4]) {
      const eigen = new Float64Array(n * n);
      const newton = new Float64Array(n * n);
      inverseRoot(a, n, p, eigen);
      inverseRoot(a, n, p, newton, { method: "newton", tolerance: 1e-13 });
      assertClose(newton, eigen, 1e-10, `p = ${p}`, { floor: 1 });
    }
  });

  it("matches the closed forms of a diagonal and a 2×2 matrix", () => {
    const diagonal = [4, 0.25, 9, 1e-4];
    const a = new Float64Array(16);
    diagonal.forEach((v, i) => (a[i * 4 + i] = v));
    for (const method of methods) {
      const x = new Float64Array(16);
      inverseRoot(a, 4, 2, x, { method, tolerance: 1e-14 });
      const expected = new Float64Array(16);
      diagonal.forEach((v, i) => (expected[i * 4 + i] = 1 / Math.sqrt(v)));
      assertClose(x, expected, 1e-12, `${method} diagonal`, { floor: 1 });
    }
    // [[2, 1], [1, 2]] has eigenvalues 1 and 3 along (1, −1)/√2 and (1, 1)/√2, so
    // A^(−1/2) = ½[[1 + 3^(−1/2), 3^(−1/2) − 1], [3^(−1/2) − 1, 1 + 3^(−1/2)]].
    const r = 1 / Math.sqrt(3);
    const expected = [(1 + r) / 2, (r - 1) / 2, (r - 1) / 2, (1 + r) / 2];
    for (const method of methods) {
      const x = new Float64Array(4);
      inverseRoot(Float64Array.from([2, 1, 1, 2]), 2, 2, x, { method, tolerance: 1e-14 });
      assertClose(x, expected, 1e-14, `${method} 2×2`, { floor: 1 });
    }
  });

  it("damps a singular matrix: (x·xᵀ + εI)^(−1/p) in closed form", () => {
    const v = [1, -2, 0.5, 2, 0];
    const n = v.length;
    const norm2 = v.reduce((s, t) => s + t * t, 0);
    const a = Float64Array.from({ length: n * n }, (_, q) => v[Math.floor(q / n)] * v[q % n]);
    const epsilon = 1e-2;
    for (const p of [2, 4]) {
      // On span(v): (‖v‖² + ε)^(−1/p); on its complement: ε^(−1/p).
      const along = (norm2 + epsilon) ** (-1 / p);
      const across = epsilon ** (-1 / p);
      const expected = Float64Array.from({ length: n * n }, (_, q) => {
        const [i, j] = [Math.floor(q / n), q % n];
        const projection = (v[i] * v[j]) / norm2;
        return along * projection + across * ((i === j ? 1 : 0) - projection);
      });
      for (const method of methods) {
        const x = new Float64Array(n * n);
        const result = inverseRoot(a, n, p, x, { method, epsilon, tolerance: 1e-13 });
        assert.equal(result.epsilon, epsilon);
        assertClose(x, expected, 1e-10, `${method}, p = ${p}`, { floor: 1 });
      }
    }
  });

  it("refuses an exactly singular matrix without damping, and reports Newton's failure to converge", () => {
    const a = Float64Array.from([1, 1, 1, 1]);
    assert.throws(
      () => inverseRoot(Float64Array.from([1, 0, 0, 0]), 2, 2, new Float64Array(4)),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "epsilon",
    );
    assert.throws(
      () => inverseRoot(new Float64Array(4), 2, 2, new Float64Array(4), { method: "newton" }),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "epsilon",
    );
    const x = new Float64Array(4);
    const result = inverseRoot(a, 2, 2, x, { method: "newton", maxIterations: 30 });
    assert.equal(result.converged, false);
    assert.equal(result.iterations, 30);
    assert.ok(result.error > 1e-6);
  });

  it("adds max(relativeEpsilon·‖A‖∞, epsilon), with ‖A‖∞ the largest absolute row sum", () => {
    const a = Float64Array.from([3, -1, -1, 2]);
    // Row sums of |A|: 4 and 3.
    for (const [relativeEpsilon, epsilon, damping] of [
      [0.1, 0, 0.4],
      [0.1, 0.5, 0.5],
      [0.01, 0.001, 0.04],
    ]) {
      for (const method of methods) {
        const x = new Float64Array(4);
        const result = inverseRoot(a, 2, 2, x, {
          method,
          relativeEpsilon,
          epsilon,
          tolerance: 1e-14,
        });
        assert.equal(result.epsilon, damping);
        const damped = Float64Array.from([3 + damping, -1, -1, 2 + damping]);
        assertClose(powerTimes(x, 2, damped, 2), identity(2), 1e-12, method, { floor: 1 });
      }
    }
  });

  it("shifts an indefinite input's spectrum so that its smallest eigenvalue becomes ε (eigen)", () => {
    // diag(−1, 2) + 0.1·I = diag(−0.9, 2.1); λ_min = −0.9 < ε, so λ ← λ + 0.9 + 0.1.
    const x = new Float64Array(4);
    inverseRoot(Float64Array.from([-1, 0, 0, 2]), 2, 2, x, { epsilon: 0.1 });
    assertClose(x, [1 / Math.sqrt(0.1), 0, 0, 1 / Math.sqrt(3.1)], 1e-14, "X", { floor: 1 });
  });

  it("takes float32 storage, writes in place, and accepts a fractional root (eigen)", () => {
    const n = 8;
    const a64 = spd(n, 3, 0.2);
    const a32 = Float32Array.from(a64);
    const x32 = new Float32Array(n * n);
    inverseRoot(a32, n, 4, x32, { method: "newton", tolerance: 1e-10 });
    const x64 = new Float64Array(n * n);
    inverseRoot(Float64Array.from(a32), n, 4, x64, { method: "newton", tolerance: 1e-10 });
    assertClose(x32, x64.map(Math.fround), 0, "rounded once");
    const inPlace = Float64Array.from(a64);
    inverseRoot(inPlace, n, 2, inPlace);
    const separate = new Float64Array(n * n);
    inverseRoot(a64, n, 2, separate);
    assertClose(inPlace, separate, 0, "in place");
    // A^(−2/3) cubed is A^(−2): (X³·A)·A = I.
    const x = new Float64Array(n * n);
    inverseRoot(a64, n, 1.5, x);
    assertClose(multiply(powerTimes(x, 3, a64, n), a64, n), identity(n), 1e-10, "X³·A²", {
      floor: 1,
    });
  });

  it("rejects bad options, shapes and non-finite input before writing out", () => {
    const a = spd(3, 1, 1);
    const out = new Float64Array(9).fill(7);
    const rejects = (call: () => unknown, parameter: string) =>
      assert.throws(
        call,
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
      );
    rejects(() => inverseRoot(a, 3, 0, out), "root");
    rejects(() => inverseRoot(a, 3, 2.5, out, { method: "newton" }), "root");
    rejects(() => inverseRoot(a, 3, 2, out, { method: "qr" as never }), "method");
    rejects(() => inverseRoot(a, 3, 2, out, { epsilon: -1e-3 }), "epsilon");
    rejects(() => inverseRoot(a, 3, 2, out, { relativeEpsilon: Number.NaN }), "relativeEpsilon");
    rejects(() => inverseRoot(a, 3, 2, out, { maxIterations: 1.5 }), "maxIterations");
    rejects(() => inverseRoot(a, 3, 2, out, { tolerance: -1 }), "tolerance");
    rejects(() => inverseRoot(a, 3, 2, out, { eps: 1 } as never), "eps");
    assert.throws(() => inverseRoot(a, 2, 2, new Float64Array(4)), ShapeMismatchError);
    assert.throws(() => inverseRoot(a, 3, 2, new Float64Array(8)), ShapeMismatchError);
    const bad = Float64Array.from(a);
    bad[5] = Infinity;
    assert.throws(
      () => inverseRoot(bad, 3, 2, out),
      (e: unknown) => e instanceof NonFiniteError && e.index === 5,
    );
    assert.ok(out.every((v) => v === 7));
  });
});
