import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { numpy as np } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import { InvalidArgumentError } from "../../src/errors.js";
import type { HvpMode } from "../../src/oracles/jax.js";
import { HVP_MODES, jaxArray, jaxObjective } from "../../src/oracles/jax.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { fillUniform } from "../helpers/inputs.js";
import { liveBufferCounter } from "./liveBuffers.js";

// jit is available for float32 only.
const SETTINGS = [
  { dtype: "float64", jit: false },
  { dtype: "float32", jit: true },
  { dtype: "float32", jit: false },
] as const;

function uniform64(length: number, seed: number): Float64Array {
  return fillUniform(new Float64Array(length), seed) as Float64Array;
}

function typed(values: Float64Array, dtype: DType): Float32Array | Float64Array {
  return dtype === "float64" ? values : Float32Array.from(values);
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${tol})`,
    );
  }
}

const ROWS = 6;
const COLS = 4;

/** ½‖A w + b − y‖² with parameters (w, b): H = [[AᵀA, Aᵀ1], [1ᵀA, n]]. */
type LsParams = { w: JaxArray; b: JaxArray };
type LsData = { a: JaxArray; y: JaxArray };
function leastSquares(p: LsParams, d: LsData): JaxArray {
  const residual = np.subtract(np.add(np.matmul(d.a, p.w), p.b), d.y);
  return np.multiply(np.sum(np.square(residual)), 0.5);
}

/** H·(v_w, v_b) of {@link leastSquares}: (Aᵀ(A v_w + v_b 1), 1ᵀ(A v_w + v_b 1)). */
function leastSquaresHvp(a: Float64Array, v: FloatArray): Float64Array {
  const out = new Float64Array(COLS + 1);
  for (let i = 0; i < ROWS; i++) {
    let av = v[COLS];
    for (let j = 0; j < COLS; j++) av += a[i * COLS + j] * v[j];
    for (let j = 0; j < COLS; j++) out[j] += a[i * COLS + j] * av;
    out[COLS] += av;
  }
  return out;
}

/**
 * f(w, u) = Σ_i c_i tanh(x_i·w) + Σ_j exp(w_j / 2) + tanh(u·w), with w, u ∈ R⁴: two tensors
 * coupled through the last term, so the Hessian has off-diagonal blocks.
 */
type SmoothParams = { w: JaxArray; u: JaxArray };
type SmoothData = { x: JaxArray; c: JaxArray };
function smooth(p: SmoothParams, d: SmoothData): JaxArray {
  const rows = np.sum(np.multiply(d.c, np.tanh(np.matmul(d.x, p.w.ref))));
  const diagonal = np.sum(np.exp(np.multiply(p.w.ref, 0.5)));
  return np.add(np.add(rows, diagonal), np.tanh(np.sum(np.multiply(p.u, p.w))));
}

/** The dense Hessian of {@link smooth} at θ = (w, u), row-major 8 × 8, written by hand. */
function smoothHessian(x: Float64Array, c: Float64Array, theta: FloatArray): Float64Array {
  const n = 2 * COLS;
  const h = new Float64Array(n * n);
  const w = Array.from(theta.subarray(0, COLS));
  const u = Array.from(theta.subarray(COLS, n));
  // d²/dz² tanh z = −2 tanh z (1 − tanh² z)
  const second = (z: number): number => -2 * Math.tanh(z) * (1 - Math.tanh(z) ** 2);
  for (let i = 0; i < ROWS; i++) {
    let z = 0;
    for (let j = 0; j < COLS; j++) z += x[i * COLS + j] * w[j];
    const s = c[i] * second(z);
    for (let j = 0; j < COLS; j++) {
      for (let k = 0; k < COLS; k++) h[j * n + k] += s * x[i * COLS + j] * x[i * COLS + k];
    }
  }
  for (let j = 0; j < COLS; j++) h[j * n + j] += Math.exp(w[j] / 2) / 4;
  let s = 0;
  for (let j = 0; j < COLS; j++) s += u[j] * w[j];
  const t2 = second(s);
  const t1 = 1 - Math.tanh(s) ** 2;
  for (let a = 0; a < COLS; a++) {
    for (let b = 0; b < COLS; b++) {
      h[a * n + b] += t2 * u[a] * u[b]; // ∂w_a ∂w_b
      h[(COLS + a) * n + COLS + b] += t2 * w[a] * w[b]; // ∂u_a ∂u_b
      const mixed = t2 * u[a] * w[b] + (a === b ? t1 : 0); // ∂w_a ∂u_b
      h[a * n + COLS + b] += mixed;
      h[(COLS + b) * n + a] += mixed;
    }
  }
  return h;
}

async function leastSquaresObjective(dtype: DType, jit: boolean, hvpMode: HvpMode) {
  const a = uniform64(ROWS * COLS, 11);
  const objective = await jaxObjective({
    params: {
      w: jaxArray(typed(uniform64(COLS, 12), dtype)),
      b: jaxArray(typed(Float64Array.of(0.3), dtype)),
    },
    data: {
      a: jaxArray(typed(a, dtype), [ROWS, COLS]),
      y: jaxArray(typed(uniform64(ROWS, 13), dtype)),
    },
    loss: leastSquares,
    jit,
    hvpMode,
  });
  return { objective, a };
}

async function smoothObjective(dtype: DType, jit: boolean, hvpMode: HvpMode, hvpEpsilon?: number) {
  const x = uniform64(ROWS * COLS, 21);
  const c = uniform64(ROWS, 22);
  const objective = await jaxObjective({
    params: {
      w: jaxArray(typed(uniform64(COLS, 23), dtype)),
      u: jaxArray(typed(uniform64(COLS, 24), dtype)),
    },
    data: { x: jaxArray(typed(x, dtype), [ROWS, COLS]), c: jaxArray(typed(c, dtype)) },
    loss: smooth,
    jit,
    hvpMode,
    hvpEpsilon,
  });
  return { objective, x, c };
}

describe("Hessian-vector products of jax-js objectives", () => {
  for (const hvpMode of HVP_MODES) {
    for (const { dtype, jit } of SETTINGS) {
      it(`${hvpMode}: least squares gives AᵀA v (${dtype}, jit ${jit})`, async () => {
        const { objective, a } = await leastSquaresObjective(dtype, jit, hvpMode);
        try {
          assert.equal(objective.hvpMode, hvpMode);
          const theta = fillUniform(objective.layout.zeros(), 14);
          const out = objective.layout.zeros();
          for (const seed of [15, 16]) {
            const v = fillUniform(objective.layout.zeros(), seed);
            await objective.hvp(theta, v, out);
            // The loss is quadratic, so central differences are exact up to rounding too.
            const tol =
              dtype === "float64" ? (hvpMode === "finite-difference" ? 1e-9 : 1e-12) : 1e-4;
            assertClose(out, leastSquaresHvp(a, v), tol, `${hvpMode} H·v`);
          }
          await objective.hvp(theta, objective.layout.zeros(), out);
          assertClose(out, new Float64Array(out.length), 0, `${hvpMode} H·0`);
        } finally {
          objective.dispose();
        }
      });

      it(`${hvpMode}: the dense Hessian of a tanh/exp loss, column by column (${dtype}, jit ${jit})`, async () => {
        const { objective, x, c } = await smoothObjective(dtype, jit, hvpMode);
        try {
          const theta = fillUniform(objective.layout.zeros(), 25);
          const expected = smoothHessian(x, c, theta);
          const n = theta.length;
          // jax-js evaluates tanh and exp to about float32 accuracy even in float64. Central
          // differences add their truncation, O(ε₀²) with ε₀ = 5e-3 relative to 1 + ‖θ‖.
          const exactTol = dtype === "float64" ? 1e-5 : 1e-4;
          const tol = hvpMode === "finite-difference" ? 5e-4 : exactTol;
          const unit = objective.layout.zeros();
          const out = objective.layout.zeros();
          for (let j = 0; j < n; j++) {
            unit.fill(0);
            unit[j] = 1;
            await objective.hvp(theta, unit, out);
            const column = Float64Array.from({ length: n }, (_, i) => expected[i * n + j]);
            assertClose(out, column, tol, `${hvpMode} column ${j}`);
          }
        } finally {
          objective.dispose();
        }
      });
    }
  }

  it("finite differences stay within the truncation + rounding bound for each ε₀", async () => {
    // Error bound per component: (h²/6)·M·‖v‖³ + 4u·G/h with h = ε₀(1 + ‖θ‖)/‖v‖, M a bound on
    // the fourth derivatives (here below 10) and G on the gradient (below 10).
    const reference = await smoothObjective("float64", false, "forward-over-reverse");
    const theta = fillUniform(reference.objective.layout.zeros(), 26);
    const v = fillUniform(reference.objective.layout.zeros(), 27);
    const exact = reference.objective.layout.zeros();
    await reference.objective.hvp(theta, v, exact);
    reference.objective.dispose();
    let thetaNorm = 0;
    let vNorm = 0;
    for (let i = 0; i < theta.length; i++) {
      thetaNorm += theta[i] ** 2;
      vNorm += v[i] ** 2;
    }
    thetaNorm = Math.sqrt(thetaNorm);
    vNorm = Math.sqrt(vNorm);
    const roundoff = 2 ** -24;
    for (const epsilon of [1e-1, 1e-2, 5e-3, 1e-3]) {
      const { objective } = await smoothObjective("float32", true, "finite-difference", epsilon);
      try {
        const out = objective.layout.zeros();
        await objective.hvp(Float32Array.from(theta), Float32Array.from(v), out);
        const h = (epsilon * (1 + thetaNorm)) / vNorm;
        const bound = ((h * h) / 6) * 10 * vNorm ** 3 + (4 * roundoff * 10) / h;
        let worst = 0;
        for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - exact[i]));
        assert.ok(worst <= bound, `ε₀ = ${epsilon}: error ${worst} above the bound ${bound}`);
      } finally {
        objective.dispose();
      }
    }
  });

  it("rejects invalid HVP options, naming the parameter and value", async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ hvpMode: "central" }, /hvpMode.*central/s],
      [{ hvpMode: 3 }, /hvpMode.*3/s],
      [{ hvpMode: "finite-difference", hvpEpsilon: 0 }, /hvpEpsilon.*0/s],
      [{ hvpMode: "finite-difference", hvpEpsilon: -1e-3 }, /hvpEpsilon.*-0\.001/s],
      [{ hvpMode: "finite-difference", hvpEpsilon: Number.NaN }, /hvpEpsilon.*NaN/s],
      [{ hvpMode: "finite-difference", hvpEpsilon: 2 }, /hvpEpsilon.*2/s],
      [{ hvpEpsilon: 1e-3 }, /hvpEpsilon.*0\.001/s],
      [{ hvpMode: "reverse-over-reverse", hvpEpsilon: 1e-3 }, /hvpEpsilon.*0\.001/s],
    ];
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    for (const [extra, message] of cases) {
      await assert.rejects(
        jaxObjective({
          params: { w: jaxArray(Float64Array.of(1, 2)) },
          loss: (p: { w: JaxArray }) => np.sum(np.square(p.w)),
          ...extra,
        }),
        (error: unknown) =>
          error instanceof InvalidArgumentError && message.test((error as Error).message),
        JSON.stringify(extra),
      );
    }
    assert.equal(liveBuffers(), before, "a rejected objective frees its parameters");
  });
});

describe("HVP modes release every jax-js buffer (leak test)", () => {
  for (const hvpMode of HVP_MODES) {
    for (const { dtype, jit } of SETTINGS) {
      it(`${hvpMode} (${dtype}, jit ${jit})`, async () => {
        const liveBuffers = await liveBufferCounter();
        const before = liveBuffers();
        // A polynomial loss: jax-js 0.1.25 itself keeps a few buffers on eager second-order calls
        // through some transcendental functions (see JaxObjectiveOptions.jit).
        const { objective } = await leastSquaresObjective(dtype, jit, hvpMode);
        const theta = fillUniform(objective.layout.zeros(), 31);
        const v = fillUniform(objective.layout.zeros(), 32);
        const out = objective.layout.zeros();
        let steady = -1;
        for (let k = 0; k < 8; k++) {
          await objective.hvp(theta, v, out);
          if (k === 2) steady = liveBuffers();
        }
        assert.equal(liveBuffers(), steady, "no buffer accumulates from call to call");
        objective.dispose();
        assert.equal(liveBuffers(), before, "disposing frees the data and the compiled code");
      });
    }
  }
});
