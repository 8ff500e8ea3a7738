/**
 * Inverse p-th roots `X = (A + εI)^(−1/p)` of symmetric positive semi-definite matrices, the
 * preconditioners of Shampoo (L^(−1/4), R^(−1/4)) and its relatives, by two methods.
 *
 * Damping follows Distributed Shampoo (Shi, Lee, Iwasaki, Gallego-Posada, Li, Rangadurai,
 * Mudigere & Rabbat, "A Distributed Data-Parallel PyTorch Implementation of the Distributed
 * Shampoo Optimizer for Training Neural Networks At-Scale", arXiv:2309.06497, 2023; official
 * code facebookresearch/optimizers @ f606606, distributed_shampoo/preconditioner/
 * matrix_functions.py): ε·I is added before the computation. Its "relative epsilon" (there only
 * in the coupled higher-order method) is offered for both methods: the damping is
 * max(relativeEpsilon·‖A‖_∞, epsilon), with the maximum absolute row sum ‖A‖_∞ as the cheap upper
 * bound on λ_max that the official code uses. (Distributed Shampoo's optimizer passes
 * epsilon = 1e-12 by default; here the default is 0 and the caller chooses.)
 *
 * `method: "eigen"` (the official default, `EigenConfig` with `perturb_before_computation`):
 *
 *     A + εI = Q·diag(λ)·Qᵀ                           (eigh)
 *     if λ_min < ε:  λ ← λ − λ_min + ε                (an indefinite input is shifted up)
 *     X = Q·diag(λ^(−1/p))·Qᵀ = W·Wᵀ,  W = Q·diag(λ^(−1/(2p)))
 *
 * The last form makes X exactly symmetric and costs one Gram product. Any real p > 0 works.
 *
 * `method: "newton"`: the coupled Newton iteration for the inverse p-th root (Guo & Higham, "A
 * Schur–Newton Method for the Matrix p'th Root and its Inverse", SIAM J. Matrix Anal. Appl.
 * 28(3), 2006; the official `matrix_inverse_root_newton`), for integer p ≥ 1:
 *
 *     α = −1/p,  z = (p + 1) / (2‖A + εI‖_F)
 *     X₀ = z^(1/p)·I,  M₀ = z·(A + εI)
 *     repeat while max|M − I| > tolerance and k < maxIterations:
 *         M' = (1 − α)·I + α·M
 *         X ← X·M',  M ← M'^p·M
 *
 * M converges to I and X to (A + εI)^(−1/p) quadratically once close; the scaling z puts the
 * spectrum of M₀ inside (0, p + 1), where convergence is guaranteed. Defaults (official
 * `CoupledNewtonConfig`): maxIterations 100, tolerance 1e-6 on max|M − I|. M'^p is formed by
 * repeated squaring with {@link matmul}.
 *
 * Both methods compute in float64 (float32 inputs are widened) and round the output once.
 */
import { InvalidArgumentError, NonFiniteError, ShapeMismatchError } from "../errors.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { eigh } from "./eigh.js";
import type { MatrixData } from "./matmul.js";
import { gram, matmul } from "./matmul.js";

/** How {@link inverseRoot} computes the root. */
export type InverseRootMethod = "eigen" | "newton";

/** Options of {@link inverseRoot}. */
export interface InverseRootOptions {
  /** `"eigen"` (eigendecomposition, default) or `"newton"` (coupled Newton iteration). */
  method?: InverseRootMethod;
  /** Absolute damping ε ≥ 0 added to the diagonal (default 0). */
  epsilon?: number;
  /**
   * Relative damping ≥ 0: the diagonal receives max(relativeEpsilon·‖A‖_∞, epsilon), with
   * ‖A‖_∞ the largest absolute row sum, an upper bound on λ_max (default 0).
   */
  relativeEpsilon?: number;
  /** Newton only: most iterations (default 100). */
  maxIterations?: number;
  /** Newton only: stop once max|M − I| ≤ tolerance (default 1e-6). */
  tolerance?: number;
}

/** Outcome of {@link inverseRoot}. */
export interface InverseRootResult {
  /** The damping actually added to the diagonal. */
  readonly epsilon: number;
  /** Newton iterations taken (0 for the eigendecomposition). */
  readonly iterations: number;
  /** Newton: the final max|M − I|; eigen: 0. */
  readonly error: number;
  /** Newton: whether max|M − I| reached the tolerance; eigen: always true. */
  readonly converged: boolean;
}

const OPTIONS = ["method", "epsilon", "relativeEpsilon", "maxIterations", "tolerance"] as const;

// Float64 scratch reused across calls (one call at a time per realm, none re-entrant).
let scratch: Float64Array = new Float64Array(0);

/**
 * Writes `(A + δI)^(−1/root)` into `out` for the symmetric positive semi-definite n×n matrix
 * `a` (row-major, both triangles read), with the damping δ described in the module comment.
 *
 * @param a - the symmetric matrix, n·n entries
 * @param n - its order
 * @param root - p: a positive number ("eigen") or a positive integer ("newton")
 * @param out - receives X, n·n entries; may be `a` itself
 * @param options - method, damping and the Newton iteration's limits
 * @returns the damping used and, for Newton, the iteration count, final error and convergence
 * @throws `InvalidArgumentError` for bad options, or when the damped matrix is singular
 *   for the eigen method (smallest eigenvalue 0: pass epsilon > 0)
 * @throws `ShapeMismatchError` when an array's length is not n·n
 * @throws `NonFiniteError` when `a` holds NaN or ±Infinity
 */
export function inverseRoot(
  a: MatrixData,
  n: number,
  root: number,
  out: MatrixData,
  options: Readonly<InverseRootOptions> = {},
): InverseRootResult {
  const owner = "inverseRoot";
  checkKnownOptions(owner, options, OPTIONS);
  const method =
    options.method === undefined
      ? "eigen"
      : checkChoice(owner, "method", options.method, ["eigen", "newton"] as const);
  checkNumber(owner, "n", n, { min: 0, integer: true });
  if (method === "newton") checkNumber(owner, "root", root, { min: 1, integer: true });
  else checkNumber(owner, "root", root, { above: 0 });
  const epsilon =
    options.epsilon === undefined ? 0 : checkNumber(owner, "epsilon", options.epsilon, { min: 0 });
  const relativeEpsilon =
    options.relativeEpsilon === undefined
      ? 0
      : checkNumber(owner, "relativeEpsilon", options.relativeEpsilon, { min: 0 });
  const maxIterations =
    options.maxIterations === undefined
      ? 100
      : checkNumber(owner, "maxIterations", options.maxIterations, { min: 0, integer: true });
  const tolerance =
    options.tolerance === undefined
      ? 1e-6
      : checkNumber(owner, "tolerance", options.tolerance, { min: 0 });
  if (a.length !== n * n) {
    throw new ShapeMismatchError(`${owner}: a must hold n·n = ${n * n} entries, got ${a.length}`);
  }
  if (out.length !== n * n) {
    throw new ShapeMismatchError(
      `${owner}: out must hold n·n = ${n * n} entries, got ${out.length}`,
    );
  }
  let rowSumBound = 0;
  for (let i = 0; i < n; i++) {
    let rowSum = 0;
    for (let j = 0; j < n; j++) {
      const entry = a[i * n + j];
      if (!Number.isFinite(entry)) {
        throw new NonFiniteError(`${owner} input`, "a", i * n + j, entry);
      }
      rowSum += Math.abs(entry);
    }
    rowSumBound = Math.max(rowSumBound, rowSum);
  }
  const damping = Math.max(relativeEpsilon * rowSumBound, epsilon);
  if (n === 0) return { epsilon: damping, iterations: 0, error: 0, converged: true };

  const size = n * n;
  if (scratch.length < 5 * size) scratch = new Float64Array(5 * size);
  const damped = scratch.subarray(0, size);
  for (let q = 0; q < size; q++) damped[q] = a[q];
  for (let i = 0; i < n; i++) damped[i * n + i] += damping;
  if (method === "eigen") {
    eigenRoot(damped, n, root, damping, out, scratch.subarray(size, 2 * size));
    return { epsilon: damping, iterations: 0, error: 0, converged: true };
  }
  const { iterations, error } = newtonRoot(damped, n, root, maxIterations, tolerance, out);
  return { epsilon: damping, iterations, error, converged: error <= tolerance };
}

function eigenRoot(
  damped: Float64Array,
  n: number,
  root: number,
  damping: number,
  out: MatrixData,
  weighted: Float64Array,
): void {
  const values = new Float64Array(n);
  // eigh reads the lower triangle; its vectors overwrite `damped`.
  eigh(damped, n, values, damped);
  const smallest = values[0];
  const shift = smallest < damping ? damping - smallest : 0;
  const exponent = -1 / (2 * root);
  for (let k = 0; k < n; k++) {
    const lambda = values[k] + shift;
    if (!(lambda > 0)) {
      throw new InvalidArgumentError(
        "inverseRoot",
        "epsilon",
        damping,
        "> 0 when A is singular (the damped matrix's smallest eigenvalue is 0)",
      );
    }
    values[k] = lambda ** exponent;
  }
  for (let i = 0; i < n; i++) {
    const row = i * n;
    for (let k = 0; k < n; k++) weighted[row + k] = damped[row + k] * values[k];
  }
  gram(weighted, n, n, out, "left");
}

function newtonRoot(
  damped: Float64Array,
  n: number,
  p: number,
  maxIterations: number,
  tolerance: number,
  out: MatrixData,
): { iterations: number; error: number } {
  const size = n * n;
  let x = scratch.subarray(size, 2 * size);
  let m = damped;
  let step = scratch.subarray(2 * size, 3 * size);
  let spare = scratch.subarray(3 * size, 4 * size);
  let power = scratch.subarray(4 * size, 5 * size);
  let frobenius = 0;
  for (let q = 0; q < size; q++) frobenius += m[q] * m[q];
  frobenius = Math.sqrt(frobenius);
  const alpha = -1 / p;
  if (frobenius === 0) {
    // Only the zero matrix without damping lands here: its inverse root does not exist.
    throw new InvalidArgumentError(
      "inverseRoot",
      "epsilon",
      0,
      "> 0 when A is singular (A + εI is the zero matrix)",
    );
  }
  const z = (p + 1) / (2 * frobenius);
  x.fill(0);
  const start = z ** (1 / p);
  for (let i = 0; i < n; i++) x[i * n + i] = start;
  for (let q = 0; q < size; q++) m[q] *= z;
  let error = distanceToIdentity(m, n);
  let iterations = 0;
  while (error > tolerance && iterations < maxIterations) {
    iterations++;
    for (let q = 0; q < size; q++) step[q] = alpha * m[q];
    for (let i = 0; i < n; i++) step[i * n + i] += 1 - alpha;
    matmul(x, step, n, n, n, spare);
    [x, spare] = [spare, x];
    // power ← step^p by binary powering; `step` is no longer needed, so it is squared in place
    // of a copy, and the three buffers trade roles through `spare`, the one free at each point.
    let base = step;
    let haveFactor = false;
    for (let exponent = p; ;) {
      if (exponent % 2 === 1) {
        if (haveFactor) {
          matmul(power, base, n, n, n, spare);
          [power, spare] = [spare, power];
        } else {
          power.set(base);
          haveFactor = true;
        }
      }
      exponent = Math.floor(exponent / 2);
      if (exponent === 0) break;
      matmul(base, base, n, n, n, spare);
      [base, spare] = [spare, base];
    }
    step = base;
    matmul(power, m, n, n, n, spare);
    [m, spare] = [spare, m];
    error = distanceToIdentity(m, n);
  }
  for (let q = 0; q < size; q++) out[q] = x[q];
  return { iterations, error };
}

/** max over entries of |M − I| (the official `torch.dist(M, I, p=inf)`). */
function distanceToIdentity(m: Float64Array, n: number): number {
  let largest = 0;
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) {
      const value = Math.abs(m[i * n + j] - (i === j ? 1 : 0));
      // `!(value <= largest)` also carries a NaN out as the error.
      if (!(value <= largest)) largest = value;
    }
  }
  return largest;
}
