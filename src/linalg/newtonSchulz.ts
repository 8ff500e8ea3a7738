/**
 * Newton–Schulz orthogonalization: an approximation of the polar factor `U·Vᵀ` of a matrix
 * `G = U·Σ·Vᵀ` from matrix products alone, the core of Muon and of steepest descent under the
 * spectral norm.
 *
 * With `X₀ = G / (‖G‖_F + ε)` (so every singular value lies in [0, 1]) each step applies an odd
 * polynomial to the singular values while keeping the singular vectors:
 *
 *     A = X·Xᵀ,   B = b·A + c·A·A,   X ← a·X + B·X        (σ ← a·σ + b·σ³ + c·σ⁵)
 *
 * - The classic cubic iteration (Kovarik 1970; Björck & Bowie 1971; Higham, "Functions of
 *   Matrices", 2008, §8.3), (a, b, c) = (1.5, −0.5, 0), converges quadratically to `U·Vᵀ` for
 *   any full-rank G (singular values in (0, √3) after the scaling).
 * - Muon's quintic, (a, b, c) = (3.4445, −4.7750, 2.0315) (Jordan et al., "Muon: An optimizer
 *   for hidden layers in neural networks", 2024; KellerJordan/Muon @ 857d1ad, muon.py,
 *   `zeropower_via_newtonschulz5`), maximizes the slope at 0 so that 5 steps suffice, at the
 *   price of not converging to 1: after 5 steps every singular value σ of X₀ with
 *   σ ≥ 3·10⁻³ ends in [0.68, 1.21] (iterate the scalar polynomial to see it). The official
 *   docstring describes the result loosely as "S' ~ Uniform(0.5, 1.5)".
 *
 * As in the official code, a matrix with more rows than columns is transposed first so that
 * A = X·Xᵀ is the smaller Gram matrix (min(m, n)² entries), the Frobenius normalization adds
 * ε = 1e-7, and 5 steps are the default. The official code runs the iteration in bfloat16 on
 * the GPU; here it runs in the precision of the input (float32 or float64).
 *
 * Cost per step: two products of the short side squared by the long side and, for the quintic,
 * one cube of the short side.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { FloatArray } from "../params/layout.js";
import { checkKnownOptions, checkNumber } from "../optim/validate.js";
import { gram, matmul } from "./matmul.js";

/** Coefficients (a, b, c) of the step `σ ← a·σ + b·σ³ + c·σ⁵`. */
export type NewtonSchulzCoefficients = readonly [a: number, b: number, c: number];

/** Muon's quintic coefficients (KellerJordan/Muon @ 857d1ad, muon.py). */
export const MUON_QUINTIC: NewtonSchulzCoefficients = Object.freeze([3.4445, -4.775, 2.0315]);

/** The classic cubic Newton–Schulz coefficients, `X ← 1.5·X − 0.5·X·Xᵀ·X`. */
export const CLASSIC_CUBIC: NewtonSchulzCoefficients = Object.freeze([1.5, -0.5, 0]);

/** Options of {@link newtonSchulz} and {@link createNewtonSchulz}. */
export interface NewtonSchulzOptions {
  /** Number of iterations (default 5, Muon's). */
  steps?: number;
  /**
   * `"quintic"` (Muon's, default), `"cubic"` (the classic iteration, which converges to the
   * exact polar factor) or explicit (a, b, c).
   */
  coefficients?: "quintic" | "cubic" | NewtonSchulzCoefficients;
  /** Added to the Frobenius norm in the initial scaling (default 1e-7, Muon's). */
  eps?: number;
}

/**
 * An orthogonalizer with validated options and reusable work buffers: writes the
 * Newton–Schulz approximation of the polar factor of `input` (rows × cols, row-major) into
 * `out` (same shape; may be `input` itself).
 */
export interface NewtonSchulz {
  (input: FloatArray, rows: number, cols: number, out: FloatArray): void;
  /** Iterations per call. */
  readonly steps: number;
  /** Coefficients (a, b, c). */
  readonly coefficients: NewtonSchulzCoefficients;
  /** ε of the initial scaling. */
  readonly eps: number;
}

const OWNER = "newtonSchulz";

/**
 * Validates a coefficients option (`"quintic"`, `"cubic"` or three finite numbers) and returns
 * the coefficients; throws an {@link InvalidArgumentError} naming `owner` and `parameter`.
 */
export function checkCoefficients(
  owner: string,
  parameter: string,
  value: unknown,
): NewtonSchulzCoefficients {
  if (value === "quintic") return MUON_QUINTIC;
  if (value === "cubic") return CLASSIC_CUBIC;
  if (
    Array.isArray(value) &&
    value.length === 3 &&
    value.every((v) => typeof v === "number" && Number.isFinite(v))
  ) {
    return Object.freeze([value[0], value[1], value[2]]) as NewtonSchulzCoefficients;
  }
  throw new InvalidArgumentError(
    owner,
    parameter,
    value,
    '"quintic", "cubic" or three finite numbers [a, b, c]',
  );
}

/** Work buffers for one matrix shape and element type. */
interface Workspace {
  readonly current: FloatArray;
  readonly next: FloatArray;
  readonly gram: FloatArray;
  readonly poly: FloatArray;
}

function allocate(like: FloatArray, length: number): FloatArray {
  return like instanceof Float32Array ? new Float32Array(length) : new Float64Array(length);
}

/**
 * Validates `options` once and returns an orthogonalizer that keeps its work buffers between
 * calls (one set per element type and matrix shape), so repeated calls on matrices of the
 * shapes already seen do not allocate.
 */
export function createNewtonSchulz(options: NewtonSchulzOptions = {}): NewtonSchulz {
  checkKnownOptions(OWNER, options, ["steps", "coefficients", "eps"]);
  const steps = checkNumber(OWNER, "steps", options.steps ?? 5, { integer: true, min: 0 });
  const coefficients = checkCoefficients(OWNER, "coefficients", options.coefficients ?? "quintic");
  const eps = checkNumber(OWNER, "eps", options.eps ?? 1e-7, { min: 0 });
  const [a, b, c] = coefficients;
  // One set of buffers per element type and shape (short side, then long side): the products
  // take exactly sized arrays, and an optimizer meets the same few shapes every step.
  const workspaces = {
    f32: new Map<number, Map<number, Workspace>>(),
    f64: new Map<number, Map<number, Workspace>>(),
  };
  const workspaceFor = (like: FloatArray, short: number, long: number): Workspace => {
    const byShort = like instanceof Float32Array ? workspaces.f32 : workspaces.f64;
    let byLong = byShort.get(short);
    if (!byLong) byShort.set(short, (byLong = new Map()));
    let w = byLong.get(long);
    if (!w) {
      w = {
        current: allocate(like, short * long),
        next: allocate(like, short * long),
        gram: allocate(like, short * short),
        poly: allocate(like, short * short),
      };
      byLong.set(long, w);
    }
    return w;
  };

  const orthogonalize = (input: FloatArray, rows: number, cols: number, out: FloatArray) => {
    checkNumber(OWNER, "rows", rows, { integer: true, min: 0 });
    checkNumber(OWNER, "cols", cols, { integer: true, min: 0 });
    const size = rows * cols;
    if (input.length !== size || out.length !== size) {
      throw new ShapeMismatchError(
        `${OWNER}: a ${rows}×${cols} matrix has ${size} entries, got input of ${input.length} and out of ${out.length}`,
      );
    }
    if (size === 0) return;
    // Iterate on the wide orientation so that X·Xᵀ is the smaller Gram matrix.
    const transposed = rows > cols;
    const short = transposed ? cols : rows;
    const long = transposed ? rows : cols;
    const w = workspaceFor(input, short, long);
    let x = w.current;
    let y = w.next;
    let norm = 0;
    for (let i = 0; i < size; i++) norm += input[i] * input[i];
    const scale = Math.sqrt(norm) + eps;
    if (transposed) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) x[j * rows + i] = input[i * cols + j] / scale;
      }
    } else {
      for (let i = 0; i < size; i++) x[i] = input[i] / scale;
    }
    const { gram: xxt, poly } = w;
    const square = short * short;
    for (let step = 0; step < steps; step++) {
      gram(x, short, long, xxt, "left");
      for (let i = 0; i < square; i++) poly[i] = b * xxt[i];
      // X·Xᵀ is symmetric, so its square is its own Gram matrix (half the work of a product).
      if (c !== 0) gram(xxt, short, short, poly, "left", { alpha: c, beta: 1 });
      for (let i = 0; i < size; i++) y[i] = x[i];
      matmul(poly, x, short, short, long, y, { beta: a });
      const swap = x;
      x = y;
      y = swap;
    }
    if (transposed) {
      for (let i = 0; i < rows; i++) {
        for (let j = 0; j < cols; j++) out[i * cols + j] = x[j * rows + i];
      }
    } else {
      for (let i = 0; i < size; i++) out[i] = x[i];
    }
  };
  return Object.assign(orthogonalize, { steps, coefficients, eps });
}

/**
 * One-off Newton–Schulz orthogonalization of `input` (rows × cols, row-major, float32 or
 * float64) into `out` (same shape and type; may be `input`). For repeated calls use
 * {@link createNewtonSchulz}, which keeps its work buffers.
 */
export function newtonSchulz(
  input: FloatArray,
  rows: number,
  cols: number,
  out: FloatArray,
  options: NewtonSchulzOptions = {},
): void {
  createNewtonSchulz(options)(input, rows, cols, out);
}
