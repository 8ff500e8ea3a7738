import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import {
  CLASSIC_CUBIC,
  MUON_QUINTIC,
  createNewtonSchulz,
  newtonSchulz,
} from "../../src/linalg/newtonSchulz.js";
import { assertClose, assertInvalidArgument } from "../helpers/assertions.js";
import {
  polarFactor,
  randomMatrix,
  singularValues,
  transpose,
  withSingularValues,
} from "./matrixReference.js";

const SHAPES: readonly [number, number][] = [
  [6, 4],
  [4, 7],
  [5, 5],
  [1, 6],
  [9, 1],
];

/** The scalar map σ ↦ a·σ + b·σ³ + c·σ⁵ applied `steps` times. */
function scalarIteration(sigma: number, steps: number, [a, b, c]: readonly number[]): number {
  let x = sigma;
  for (let k = 0; k < steps; k++) x = a * x + b * x ** 3 + c * x ** 5;
  return x;
}

function frobenius(a: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * a[i];
  return Math.sqrt(s);
}

describe("newtonSchulz", () => {
  for (const [rows, cols] of SHAPES) {
    it(`the converged cubic iteration gives the exact polar factor of a ${rows}×${cols} matrix`, () => {
      const g = randomMatrix(rows, cols, 10 * rows + cols);
      const out = new Float64Array(rows * cols);
      newtonSchulz(g, rows, cols, out, { coefficients: "cubic", steps: 40 });
      assertClose(out, polarFactor(g, rows, cols), 1e-12, "U·Vᵀ", { floor: 1 });
    });
  }

  it("keeps the singular vectors and maps each singular value by the scalar polynomial", () => {
    // G = U·diag(σ)·Vᵀ; after the Frobenius scaling the iteration acts on σ/‖σ‖ one by one,
    // so the result is U·diag(p⁵(σ/‖σ‖))·Vᵀ with p Muon's quintic.
    const sigma = [3, 1.2, 0.4, 0.05];
    const { u, v } = withSingularValues(7, 4, sigma, 31);
    const norm = Math.hypot(...sigma);
    const g = withSingularValues(7, 4, sigma, 31).a;
    const mapped = sigma.map((s) => scalarIteration(s / (norm + 1e-7), 5, MUON_QUINTIC));
    const expected = new Float64Array(28);
    for (let i = 0; i < 7; i++) {
      for (let j = 0; j < 4; j++) {
        let s = 0;
        for (let k = 0; k < 4; k++) s += u[i * 4 + k] * mapped[k] * v[j * 4 + k];
        expected[i * 4 + j] = s;
      }
    }
    const out = new Float64Array(28);
    newtonSchulz(g, 7, 4, out);
    assertClose(out, expected, 1e-12, "U·diag(p⁵(σ))·Vᵀ", { floor: 1 });
  });

  it("puts Muon's singular values in its documented band [0.68, 1.21] after 5 steps", () => {
    // Spread σ over two decades, so σ/‖σ‖_F spans [3e-3, 1): the band holds above 3e-3.
    for (const [rows, cols, seed] of [
      [8, 5, 1],
      [5, 12, 2],
      [10, 10, 3],
    ]) {
      const r = Math.min(rows, cols);
      const raw = Array.from({ length: r }, (_, k) => Math.exp(-k * (Math.log(100) / (r - 1))));
      const { a } = withSingularValues(rows, cols, raw, seed);
      const out = new Float64Array(rows * cols);
      newtonSchulz(a, rows, cols, out);
      const s = singularValues(out, rows, cols);
      assert.ok(Math.min(...raw) / frobenius(a) >= 3e-3, "inputs cover the band's domain");
      for (const value of s) {
        assert.ok(value >= 0.68 && value <= 1.21, `${rows}×${cols}: singular value ${value}`);
      }
      // The spread is real: the quintic does not converge to 1 (unlike the cubic).
      assert.ok(Math.max(...s) - Math.min(...s) > 0.1, `spread ${s.join(", ")}`);
    }
  });

  it("orthogonalizing Gᵀ gives the transpose of orthogonalizing G", () => {
    const g = randomMatrix(6, 3, 5);
    const out = new Float64Array(18);
    const outT = new Float64Array(18);
    newtonSchulz(g, 6, 3, out);
    newtonSchulz(transpose(g, 6, 3), 3, 6, outT);
    assertClose(outT, transpose(out, 6, 3), 1e-14, "NS(Gᵀ) = NS(G)ᵀ", { floor: 1 });
  });

  it("runs in float32 close to the float64 result, and in place", () => {
    const g = randomMatrix(9, 6, 8);
    const g32 = Float32Array.from(g);
    const out64 = new Float64Array(54);
    newtonSchulz(g, 9, 6, out64);
    newtonSchulz(g32, 9, 6, g32);
    assertClose(g32, out64, 1e-5, "float32", { floor: 1 });
  });

  it("is scale invariant and sends the zero matrix to zero", () => {
    const g = randomMatrix(4, 5, 9);
    const scaled = g.map((x) => 1000 * x);
    const a = new Float64Array(20);
    const b = new Float64Array(20);
    const orthogonalize = createNewtonSchulz();
    orthogonalize(g, 4, 5, a);
    orthogonalize(scaled, 4, 5, b);
    assertClose(b, a, 1e-6, "scaled", { floor: 1 });
    const zero = new Float64Array(20).fill(0);
    orthogonalize(zero, 4, 5, b);
    assert.deepEqual(Array.from(b), new Array(20).fill(0));
  });

  it("with zero steps returns the scaled input G/(‖G‖_F + ε)", () => {
    const g = randomMatrix(3, 4, 12);
    const out = new Float64Array(12);
    newtonSchulz(g, 3, 4, out, { steps: 0, eps: 0 });
    const norm = frobenius(g);
    assertClose(
      out,
      g.map((x) => x / norm),
      1e-15,
      "G/‖G‖",
    );
  });

  it("reuses its buffers: repeated calls on one shape give identical bits", () => {
    const orthogonalize = createNewtonSchulz({ coefficients: CLASSIC_CUBIC, steps: 7 });
    assert.deepEqual(orthogonalize.coefficients, [1.5, -0.5, 0]);
    const g = randomMatrix(5, 3, 4);
    const first = new Float64Array(15);
    const second = new Float64Array(15);
    orthogonalize(g, 5, 3, first);
    orthogonalize(randomMatrix(3, 5, 6), 3, 5, new Float64Array(15));
    orthogonalize(g, 5, 3, second);
    assert.deepEqual(Array.from(second), Array.from(first));
  });

  it("rejects bad options and mismatched shapes", () => {
    assertInvalidArgument(() => createNewtonSchulz({ steps: -1 }), "steps", -1);
    assertInvalidArgument(() => createNewtonSchulz({ steps: 2.5 }), "steps", 2.5);
    assertInvalidArgument(() => createNewtonSchulz({ eps: -1e-7 }), "eps", -1e-7);
    assertInvalidArgument(
      () => createNewtonSchulz({ coefficients: "quartic" as "cubic" }),
      "coefficients",
      "quartic",
    );
    assert.throws(
      () => createNewtonSchulz({ coefficients: [1, 2] as unknown as [number, number, number] }),
      InvalidArgumentError,
    );
    assertInvalidArgument(
      () => createNewtonSchulz({ stpes: 3 } as unknown as { steps: number }),
      "stpes",
      3,
    );
    assert.throws(
      () => newtonSchulz(new Float64Array(6), 2, 4, new Float64Array(8)),
      (e: unknown) => e instanceof ShapeMismatchError && /2×4/.test(e.message),
    );
  });
});
