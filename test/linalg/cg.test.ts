import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { LinearOperator } from "../../src/linalg/cg.js";
import { conjugateGradient, operatorMatrix } from "../../src/linalg/cg.js";
import { choleskyFactor, choleskySolve } from "../../src/linalg/cholesky.js";
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

function operatorOf(a: Float64Array, n: number): LinearOperator {
  return (v, out) => {
    for (let i = 0; i < n; i++) {
      let s = 0;
      for (let k = 0; k < n; k++) s += a[i * n + k] * v[k];
      out[i] = s;
    }
  };
}

function denseSolve(a: Float64Array, n: number, b: Float64Array): Float64Array {
  const l = new Float64Array(n * n);
  assert.ok(choleskyFactor(a, n, l));
  const x = new Float64Array(n);
  choleskySolve(l, n, b, x);
  return x;
}

function randomVector(n: number, seed: number): Float64Array {
  const next = seededUniform(seed);
  return Float64Array.from({ length: n }, () => 2 * next() - 1);
}

function maxDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("conjugateGradient", () => {
  it("matches a dense Cholesky solve on a random SPD system", async () => {
    const n = 30;
    const a = spd(n, 3, 0.5);
    const b = randomVector(n, 4);
    const x = new Float64Array(n);
    const result = await conjugateGradient(operatorOf(a, n), b, x, {
      tolerance: 1e-13,
      maxIterations: 4 * n,
    });
    assert.ok(result.converged);
    assert.equal(result.negativeCurvature, false);
    const reference = denseSolve(a, n, b);
    assert.ok(maxDifference(x, reference) < 1e-9, `max difference ${maxDifference(x, reference)}`);
  });

  it("solves the shifted system (A + σI)x = b", async () => {
    const n = 12;
    const a = spd(n, 5, 0);
    const shifted = Float64Array.from(a);
    for (let i = 0; i < n; i++) shifted[i * n + i] += 0.7;
    const b = randomVector(n, 6);
    const x = new Float64Array(n);
    const result = await conjugateGradient(operatorOf(a, n), b, x, {
      tolerance: 1e-13,
      maxIterations: 4 * n,
      shift: 0.7,
    });
    assert.ok(result.converged);
    assert.ok(maxDifference(x, denseSolve(shifted, n, b)) < 1e-10);
  });

  it("terminates in at most n steps in exact-enough arithmetic on a diagonal system", async () => {
    const n = 6;
    const diagonal = [1, 2, 3, 4, 5, 6];
    const op: LinearOperator = (v, out) => {
      for (let i = 0; i < n; i++) out[i] = diagonal[i] * v[i];
    };
    const b = Float64Array.from([1, 1, 1, 1, 1, 1]);
    const x = new Float64Array(n);
    const result = await conjugateGradient(op, b, x, { tolerance: 1e-12, maxIterations: 50 });
    assert.ok(result.converged);
    assert.ok(result.iterations <= n);
    for (let i = 0; i < n; i++) assert.ok(Math.abs(x[i] - 1 / diagonal[i]) < 1e-12);
  });

  it("reports negative curvature on an indefinite operator", async () => {
    const op: LinearOperator = (v, out) => {
      out[0] = v[0];
      out[1] = -v[1];
    };
    const b = Float64Array.from([1, 1]);
    const x = new Float64Array(2);
    const result = await conjugateGradient(op, b, x);
    assert.equal(result.negativeCurvature, true);
    assert.equal(result.converged, false);
    // pᵀAp = 1 − 1 = 0 on the first direction b: nothing was taken.
    assert.deepEqual(Array.from(x), [0, 0]);
  });

  it("stops at maxIterations and returns b = 0 immediately", async () => {
    const n = 20;
    const a = spd(n, 7, 1e-3);
    const x = new Float64Array(n);
    const limited = await conjugateGradient(operatorOf(a, n), randomVector(n, 8), x, {
      tolerance: 1e-15,
      maxIterations: 3,
    });
    assert.equal(limited.iterations, 3);
    assert.equal(limited.converged, false);
    const zero = await conjugateGradient(operatorOf(a, n), new Float64Array(n), x);
    assert.equal(zero.iterations, 0);
    assert.ok(zero.converged);
    assert.ok(x.every((v) => v === 0));
  });

  it("accepts an asynchronous operator", async () => {
    const n = 8;
    const a = spd(n, 9, 1);
    const sync = operatorOf(a, n);
    const op: LinearOperator = async (v, out) => {
      await Promise.resolve();
      sync(v, out);
    };
    const b = randomVector(n, 10);
    const x = new Float64Array(n);
    await conjugateGradient(op, b, x, { tolerance: 1e-14, maxIterations: 40 });
    assert.ok(maxDifference(x, denseSolve(a, n, b)) < 1e-11);
  });
});

describe("operatorMatrix", () => {
  it("reassembles the matrix of an operator", async () => {
    const n = 7;
    const a = spd(n, 11, 0.2);
    const out = new Float64Array(n * n);
    await operatorMatrix(operatorOf(a, n), n, out);
    assert.ok(maxDifference(out, a) < 1e-15);
  });
});
