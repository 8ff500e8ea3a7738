/**
 * Conjugate gradient for `(A + σI)·x = b` with a symmetric matrix-free operator A (a
 * Hessian-vector product), and a helper that assembles the dense matrix of such an operator.
 *
 * Hestenes & Stiefel, "Methods of Conjugate Gradients for Solving Linear Systems", Journal of
 * Research of the National Bureau of Standards 49(6), 1952. From x₀ = 0, r₀ = p₀ = b:
 *
 *     α_k = r_kᵀr_k / p_kᵀ(A + σI)p_k
 *     x_{k+1} = x_k + α_k p_k,   r_{k+1} = r_k − α_k (A + σI)p_k
 *     β_k = r_{k+1}ᵀr_{k+1} / r_kᵀr_k,   p_{k+1} = r_{k+1} + β_k p_k
 *
 * It stops when ‖r‖ ≤ tolerance·‖b‖, after `maxIterations` products, or when a direction has
 * non-positive curvature pᵀ(A + σI)p ≤ 0: the system is then not positive definite and the
 * caller decides (Steihaug's truncated CG and Newton-CG return the iterate reached so far, or
 * follow the reported direction, Nocedal & Wright, "Numerical Optimization", 2006, Alg. 7.1).
 * All arithmetic is float64.
 */
import type { Awaitable } from "../oracles/objective.js";

/** A symmetric linear map applied matrix-free: writes A·v into `out` (fully overwritten). */
export type LinearOperator = (v: Float64Array, out: Float64Array) => Awaitable<void>;

/** Options of {@link conjugateGradient}. */
export interface ConjugateGradientOptions {
  /** Stop when ‖b − (A + σI)x‖ ≤ tolerance·‖b‖ (default 1e-10). */
  tolerance?: number;
  /** Most operator applications (default: the dimension). */
  maxIterations?: number;
  /** The shift σ added to the operator's diagonal (default 0). */
  shift?: number;
}

/** Outcome of {@link conjugateGradient}. */
export interface ConjugateGradientResult {
  /** Operator applications made. */
  readonly iterations: number;
  /** ‖b − (A + σI)x‖ of the returned x (the recurrence's residual). */
  readonly residualNorm: number;
  /** Whether the relative residual reached the tolerance. */
  readonly converged: boolean;
  /**
   * Whether a search direction p had pᵀ(A + σI)p ≤ 0. The iterate reached before it is
   * returned in `x`, and p is left in the workspace's `direction`.
   */
  readonly negativeCurvature: boolean;
}

/** Scratch vectors of {@link conjugateGradient}, reusable across calls of the same size. */
export interface ConjugateGradientWorkspace {
  /** The residual b − (A + σI)x. */
  readonly residual: Float64Array;
  /** The current search direction (the one of non-positive curvature when that is reported). */
  readonly direction: Float64Array;
  /** (A + σI)·direction. */
  readonly product: Float64Array;
}

/** Allocates a {@link ConjugateGradientWorkspace} for systems of dimension `n`. */
export function conjugateGradientWorkspace(n: number): ConjugateGradientWorkspace {
  return {
    residual: new Float64Array(n),
    direction: new Float64Array(n),
    product: new Float64Array(n),
  };
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * Solves `(A + σI)·x = b` by conjugate gradient from x = 0, writing x into `x` (length of b).
 * `b` is not modified. Pass a `workspace` to avoid allocating three vectors per call.
 */
export async function conjugateGradient(
  operator: LinearOperator,
  b: Float64Array,
  x: Float64Array,
  options: ConjugateGradientOptions = {},
  workspace: ConjugateGradientWorkspace = conjugateGradientWorkspace(b.length),
): Promise<ConjugateGradientResult> {
  const n = b.length;
  const tolerance = options.tolerance ?? 1e-10;
  const maxIterations = options.maxIterations ?? n;
  const shift = options.shift ?? 0;
  const { residual: r, direction: p, product: q } = workspace;
  x.fill(0);
  r.set(b);
  p.set(b);
  let rr = dot(r, r);
  const target = tolerance * Math.sqrt(rr);
  if (rr === 0) {
    return {
      iterations: 0,
      residualNorm: Math.sqrt(rr),
      converged: true,
      negativeCurvature: false,
    };
  }
  let iterations = 0;
  while (iterations < maxIterations) {
    await operator(p, q);
    iterations++;
    if (shift !== 0) for (let i = 0; i < n; i++) q[i] += shift * p[i];
    const curvature = dot(p, q);
    if (!(curvature > 0)) {
      return {
        iterations,
        residualNorm: Math.sqrt(rr),
        converged: false,
        negativeCurvature: true,
      };
    }
    const alpha = rr / curvature;
    for (let i = 0; i < n; i++) {
      x[i] += alpha * p[i];
      r[i] -= alpha * q[i];
    }
    const next = dot(r, r);
    if (Math.sqrt(next) <= target) {
      return {
        iterations,
        residualNorm: Math.sqrt(next),
        converged: true,
        negativeCurvature: false,
      };
    }
    const beta = next / rr;
    rr = next;
    for (let i = 0; i < n; i++) p[i] = r[i] + beta * p[i];
  }
  return { iterations, residualNorm: Math.sqrt(rr), converged: false, negativeCurvature: false };
}

/**
 * Assembles the dense n×n row-major matrix of `operator` (n applications to the unit vectors),
 * then symmetrizes it as ½(M + Mᵀ) so rounding in the products cannot make it asymmetric.
 * `unit` and `column` are scratch vectors of length n; `out` receives the matrix.
 */
export async function operatorMatrix(
  operator: LinearOperator,
  n: number,
  out: Float64Array,
  unit: Float64Array = new Float64Array(n),
  column: Float64Array = new Float64Array(n),
): Promise<void> {
  unit.fill(0);
  for (let j = 0; j < n; j++) {
    unit[j] = 1;
    await operator(unit, column);
    unit[j] = 0;
    for (let i = 0; i < n; i++) out[i * n + j] = column[i];
  }
  for (let i = 0; i < n; i++) {
    for (let j = i + 1; j < n; j++) {
      const mean = 0.5 * (out[i * n + j] + out[j * n + i]);
      out[i * n + j] = mean;
      out[j * n + i] = mean;
    }
  }
}
