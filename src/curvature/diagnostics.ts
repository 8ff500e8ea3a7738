/**
 * Curvature diagnostics from Hessian-vector products: the trace, and the top eigenvalue (the
 * "sharpness" of the loss surface).
 *
 * - Trace: Hutchinson, "A stochastic estimator of the trace of the influence matrix for
 *   Laplacian smoothing splines", Communications in Statistics – Simulation and Computation,
 *   1990: tr(H) = E[vᵀHv] for probes with E[vvᵀ] = I; the estimate is the mean over probes,
 *   reported with its standard error.
 * - Power iteration (von Mises & Pollaczek-Geiringer, 1929): q ← Hq/‖Hq‖, eigenvalue
 *   estimate the Rayleigh quotient qᵀHq. It converges to the eigenvalue of largest magnitude
 *   at rate (|λ₂|/|λ₁|)^(2k), which is the top eigenvalue whenever λ_max ≥ |λ_min|.
 * - Lanczos, "An iteration method for the solution of the eigenvalue problem of linear
 *   differential and integral operators", J. Res. Nat. Bur. Standards, 1950: m steps build an
 *   orthonormal Krylov basis Q and the tridiagonal T = QᵀHQ (diagonal α, off-diagonal β); the
 *   extreme eigenvalues of T (Ritz values) approximate those of H. Every new vector is
 *   orthogonalized twice against the whole basis (full reorthogonalization, Parlett & Scott
 *   1979), which keeps Q orthonormal in floating point at O(m·n) memory: meant for small
 *   problems or few iterations. The eigenpairs of T come from `eigh` (src/linalg); the
 *   Ritz vector of the largest Ritz value θ is y = Q s for T's unit eigenvector s of θ.
 *
 * Starting vectors are standard normal draws of the Philox sequence (seed, stream) of
 * src/random, so every result is reproducible.
 */
import { ShapeMismatchError } from "../errors.js";
import { eigh } from "../linalg/eigh.js";
import { checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { Objective } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import { INDEX_LIMIT, fillNormal } from "../random/index.js";
import type { HutchinsonOptions } from "./hutchinson.js";
import { assertFiniteProduct, checkProbeOptions, drawProbe } from "./hutchinson.js";

/** A Hutchinson trace estimate. */
export interface TraceEstimate {
  /** Mean of vᵀHv over the probes. */
  readonly trace: number;
  /** Sample standard deviation of vᵀHv divided by √probes (NaN for a single probe). */
  readonly standardError: number;
  /** Number of probes (= Hessian-vector products). */
  readonly probes: number;
}

/** Hutchinson's estimate of tr(∇²f(params)); one `hvp` call per probe. */
export async function hessianTrace(
  objective: Objective,
  params: FloatArray,
  options: HutchinsonOptions = {},
): Promise<TraceEstimate> {
  const owner = "hessianTrace";
  const settings = checkProbeOptions(owner, options);
  const hvp = requireOracle(objective, "hvp", owner);
  const layout = objective.layout;
  layout.assertBuffer(params, `${owner} params`);
  const v = layout.zeros();
  const hv = layout.zeros();
  let sum = 0;
  let sumSquares = 0;
  for (let s = 0; s < settings.probes; s++) {
    drawProbe(v, settings.distribution, settings.seed, settings.stream, s);
    await hvp(params, v, hv);
    assertFiniteProduct(`${owner}: Hessian-vector product`, layout, hv);
    let quadratic = 0;
    for (let i = 0; i < v.length; i++) quadratic += v[i] * hv[i];
    sum += quadratic;
    sumSquares += quadratic * quadratic;
  }
  const S = settings.probes;
  const trace = sum / S;
  const variance = S > 1 ? Math.max(0, (sumSquares - S * trace * trace) / (S - 1)) : NaN;
  return { trace, standardError: Math.sqrt(variance / S), probes: S };
}

/** Options of {@link powerIteration}. */
export interface PowerIterationOptions {
  /** Most Hessian-vector products (default 100). */
  maxIterations?: number;
  /** Stop when successive Rayleigh quotients differ by at most tolerance·|λ| (default 1e-6). */
  tolerance?: number;
  /** Philox seed of the starting vector (default 0). */
  seed?: number;
  /** Philox stream of the starting vector (default 0). */
  stream?: number;
}

/** Result of {@link powerIteration}. */
export interface PowerIterationResult {
  /** The last Rayleigh quotient qᵀHq (‖q‖ = 1). */
  readonly eigenvalue: number;
  /** Hessian-vector products made. */
  readonly iterations: number;
  /** Whether the tolerance was met before maxIterations. */
  readonly converged: boolean;
  /** The last unit vector q (float64). */
  readonly vector: Float64Array;
}

/** Options shared by the eigenvalue methods, validated. */
interface StartSettings {
  seed: number;
  stream: number;
}

function checkStart(owner: string, options: { seed?: number; stream?: number }): StartSettings {
  const bounds = { min: 0, below: INDEX_LIMIT, integer: true };
  return {
    seed: checkNumber(owner, "seed", options.seed ?? 0, bounds),
    stream: checkNumber(owner, "stream", options.stream ?? 0, bounds),
  };
}

/** A unit Gaussian starting vector of length n. */
function startVector(n: number, start: StartSettings): Float64Array {
  const q = fillNormal(new Float64Array(n), start.seed, start.stream);
  scale(q, 1 / norm(q));
  return q;
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

function norm(a: ArrayLike<number>): number {
  return Math.sqrt(dot(a, a));
}

function scale(a: Float64Array, factor: number): void {
  for (let i = 0; i < a.length; i++) a[i] *= factor;
}

/**
 * Estimates the eigenvalue of ∇²f(params) of largest magnitude by power iteration on
 * Hessian-vector products.
 */
export async function powerIteration(
  objective: Objective,
  params: FloatArray,
  options: PowerIterationOptions = {},
): Promise<PowerIterationResult> {
  const owner = "powerIteration";
  checkKnownOptions(owner, options, ["maxIterations", "tolerance", "seed", "stream"]);
  const maxIterations = checkNumber(owner, "maxIterations", options.maxIterations ?? 100, {
    min: 1,
    integer: true,
  });
  const tolerance = checkNumber(owner, "tolerance", options.tolerance ?? 1e-6, { min: 0 });
  const start = checkStart(owner, options);
  const hvp = requireOracle(objective, "hvp", owner);
  const layout = objective.layout;
  layout.assertBuffer(params, `${owner} params`);
  const n = layout.size;
  if (n === 0) throw new ShapeMismatchError(`${owner}: the layout has no parameters`);
  const q = startVector(n, start);
  const vector = layout.zeros();
  const product = layout.zeros();
  let eigenvalue = NaN;
  for (let k = 1; k <= maxIterations; k++) {
    vector.set(q);
    await hvp(params, vector, product);
    assertFiniteProduct(`${owner}: Hessian-vector product`, layout, product);
    const previous = eigenvalue;
    eigenvalue = dot(q, product);
    const length = norm(product);
    if (length === 0) return { eigenvalue: 0, iterations: k, converged: true, vector: q };
    for (let i = 0; i < n; i++) q[i] = product[i] / length;
    if (Math.abs(eigenvalue - previous) <= tolerance * Math.abs(eigenvalue)) {
      return { eigenvalue, iterations: k, converged: true, vector: q };
    }
  }
  return { eigenvalue, iterations: maxIterations, converged: false, vector: q };
}

/** Options of {@link lanczos}. */
export interface LanczosOptions {
  /** Number of Lanczos steps m (= Hessian-vector products), capped at the dimension (default 20). */
  iterations?: number;
  /** Philox seed of the starting vector (default 0). */
  seed?: number;
  /** Philox stream of the starting vector (default 0). */
  stream?: number;
}

/** Result of {@link lanczos}. */
export interface LanczosResult {
  /** The largest Ritz value: the estimate of the top eigenvalue. */
  readonly eigenvalue: number;
  /** The smallest Ritz value: the estimate of the bottom eigenvalue. */
  readonly smallest: number;
  /** All Ritz values, largest first. */
  readonly ritzValues: Float64Array;
  /** The unit Ritz vector of the largest Ritz value (float64), for residuals ‖Hy − θy‖. */
  readonly vector: Float64Array;
  /**
   * Lanczos steps made: `iterations`, or fewer when the Krylov space became invariant (then
   * the Ritz values are eigenvalues of the Hessian up to rounding).
   */
  readonly iterations: number;
}

/**
 * Estimates the extreme eigenvalues of ∇²f(params) with `iterations` Lanczos steps and full
 * reorthogonalization (stores the whole basis: `iterations` float64 vectors).
 */
export async function lanczos(
  objective: Objective,
  params: FloatArray,
  options: LanczosOptions = {},
): Promise<LanczosResult> {
  const owner = "lanczos";
  checkKnownOptions(owner, options, ["iterations", "seed", "stream"]);
  const requested = checkNumber(owner, "iterations", options.iterations ?? 20, {
    min: 1,
    integer: true,
  });
  const start = checkStart(owner, options);
  const hvp = requireOracle(objective, "hvp", owner);
  const layout = objective.layout;
  layout.assertBuffer(params, `${owner} params`);
  const n = layout.size;
  if (n === 0) throw new ShapeMismatchError(`${owner}: the layout has no parameters`);
  const m = Math.min(requested, n);
  const basis: Float64Array[] = [startVector(n, start)];
  const alpha: number[] = [];
  const beta: number[] = [];
  const vector = layout.zeros();
  const product = layout.zeros();
  const w = new Float64Array(n);
  for (let k = 0; k < m; k++) {
    const q = basis[k];
    vector.set(q);
    await hvp(params, vector, product);
    assertFiniteProduct(`${owner}: Hessian-vector product`, layout, product);
    for (let i = 0; i < n; i++) w[i] = product[i];
    const a = dot(q, w);
    alpha.push(a);
    // Two Gram-Schmidt passes against the whole basis (this also removes the α q_k and
    // β q_{k−1} terms of the three-term recurrence).
    for (let pass = 0; pass < 2; pass++) {
      for (const qj of basis) {
        const c = dot(qj, w);
        for (let i = 0; i < n; i++) w[i] -= c * qj[i];
      }
    }
    if (k === m - 1) break;
    const b = norm(w);
    const size = Math.max(Math.abs(a), ...beta.map(Math.abs), norm(product));
    if (!(b > 1e-12 * size)) break;
    beta.push(b);
    const next = new Float64Array(n);
    for (let i = 0; i < n; i++) next[i] = w[i] / b;
    basis.push(next);
  }
  const steps = alpha.length;
  const tridiagonal = new Float64Array(steps * steps);
  for (let i = 0; i < steps; i++) {
    tridiagonal[i * steps + i] = alpha[i];
    if (i + 1 < steps) {
      tridiagonal[i * steps + i + 1] = beta[i];
      tridiagonal[(i + 1) * steps + i] = beta[i];
    }
  }
  const eigenvectors = new Float64Array(steps * steps);
  const values = new Float64Array(steps);
  eigh(tridiagonal, steps, values, eigenvectors);
  let top = 0;
  for (let i = 1; i < steps; i++) if (values[i] > values[top]) top = i;
  const ritzVector = new Float64Array(n);
  for (let j = 0; j < steps; j++) {
    const weight = eigenvectors[j * steps + top];
    const qj = basis[j];
    for (let i = 0; i < n; i++) ritzVector[i] += weight * qj[i];
  }
  scale(ritzVector, 1 / norm(ritzVector));
  const ritzValues = values.sort((x, y) => y - x);
  return {
    eigenvalue: ritzValues[0],
    smallest: ritzValues[steps - 1],
    ritzValues,
    iterations: steps,
    vector: ritzVector,
  };
}
