/**
 * Saddle-free Newton: the Newton step with the Hessian's eigenvalues replaced by their absolute
 * values, so negative curvature is descended instead of attracting the iterate to a saddle.
 *
 * Dauphin, Pascanu, Gulcehre, Cho, Ganguli & Bengio, "Identifying and attacking the saddle point
 * problem in high-dimensional non-convex optimization", NeurIPS 2014.
 *
 * Step k, g = ∇f(θ), δ = `damping` ≥ 0:
 *
 *     Krylov path (d > denseThreshold): m = min(krylovDimension, d) Lanczos steps on H = ∇²f(θ)
 *       started at q₁ = g/‖g‖ (full reorthogonalization) give Q (d×m) and T = QᵀHQ
 *       tridiagonal; T = U Θ Uᵀ; with V = QU:
 *     s     = V (|Θ| + δI)⁻¹ Vᵀ g = Q U (|Θ| + δI)⁻¹ Uᵀ (‖g‖ e₁)
 *     Dense path: H assembled from d Hessian-vector products, H = V Λ Vᵀ,
 *     s     = V (|Λ| + δI)⁻¹ Vᵀ g
 *     α     = ρ^j, the first j ≥ 0 with f(θ − α s) ≤ f(θ) − c·α·gᵀs   (gᵀs > 0 always)
 *     θ     ← θ − lr·α·s                          lr = `learningRate`, a multiplier (default 1)
 *
 * The paper works in the Krylov subspace of the gradient exactly as above (its Algorithm 1
 * uses k Lanczos vectors) and chose the damping by trying a few values; here the damping is
 * fixed and a backtracking search on the step length guards against steps along directions
 * of near-zero curvature, where |λ|⁻¹ is huge. Components whose |λ| + δ is 0 (no curvature
 * information at all) are left out of the step. Eigendecompositions use `eigh` (src/linalg).
 * When m = d and the Krylov space is the whole space, both paths give the same
 * step up to rounding.
 *
 * Defaults: δ = 0, m = 20, c = 10⁻⁴, ρ = ½ (ours; the paper fixes none of them in general).
 */
import { eigh } from "../linalg/eigh.js";
import type { Layout } from "../params/layout.js";
import { requireOracle } from "../oracles/objective.js";
import type { NewtonSolverOptions } from "./dampedNewton.js";
import {
  NEWTON_SOLVER_OPTIONS,
  NewtonSystem,
  checkNewtonSolverOptions,
  loadGradient,
  roundingSlack,
  stepObjective,
} from "./dampedNewton.js";
import type { Hyper } from "./hyper.js";
import { checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleBySaddleFreeNewton}. */
export interface ScaleBySaddleFreeNewtonOptions extends NewtonSolverOptions {
  /** Damping δ ≥ 0 added to the absolute eigenvalues (default 0). */
  damping?: number;
  /** Lanczos steps m of the Krylov path, at least 1 (default 20). */
  krylovDimension?: number;
  /** Armijo constant c in (0, 1) (default 1e-4). */
  armijo?: number;
  /** Backtracking factor ρ in (0, 1) (default 0.5). */
  backtrackFactor?: number;
  /** Most backtracking halvings per step (default 40). */
  maxBacktracks?: number;
}

/** State of {@link scaleBySaddleFreeNewton}. */
export interface SaddleFreeNewtonState extends State {
  /** Updates applied so far. */
  count: number;
  /** The step size α of the last update (0 before the first). */
  stepSize: number;
  /** The smallest (Ritz) eigenvalue seen at the last update. */
  smallestEigenvalue: number;
}

interface Workspace {
  system: NewtonSystem;
  basis: Float64Array[];
  product: Float64Array;
  small: Float64Array;
  values: Float64Array;
  vectors: Float64Array;
  coefficients: Float64Array;
  alpha: Float64Array;
  beta: Float64Array;
}

const OWNER = "scaleBySaddleFreeNewton";
const OPTIONS = [
  "damping",
  "krylovDimension",
  "armijo",
  "backtrackFactor",
  "maxBacktracks",
  ...NEWTON_SOLVER_OPTIONS,
];

/**
 * Replaces the gradient by the saddle-free Newton step α·V(|Λ| + δI)⁻¹Vᵀg (before `−lr`), in
 * the Krylov subspace of the gradient or exactly for small d. Needs `hvp` and `value`.
 */
export function scaleBySaddleFreeNewton(
  options: ScaleBySaddleFreeNewtonOptions = {},
): GradientTransform<SaddleFreeNewtonState> {
  checkKnownOptions(OWNER, options, OPTIONS);
  const damping = checkNumber(OWNER, "damping", options.damping ?? 0, { min: 0 });
  const krylovDimension = checkNumber(OWNER, "krylovDimension", options.krylovDimension ?? 20, {
    min: 1,
    integer: true,
  });
  const armijo = checkNumber(OWNER, "armijo", options.armijo ?? 1e-4, { above: 0, below: 1 });
  const backtrackFactor = checkNumber(OWNER, "backtrackFactor", options.backtrackFactor ?? 0.5, {
    above: 0,
    below: 1,
  });
  const maxBacktracks = checkNumber(OWNER, "maxBacktracks", options.maxBacktracks ?? 40, {
    min: 0,
    integer: true,
  });
  const settings = checkNewtonSolverOptions(OWNER, options);
  const workspaces = new WeakMap<Layout, Workspace>();
  const workspaceFor = (layout: Layout): Workspace => {
    let w = workspaces.get(layout);
    if (!w) {
      const system = new NewtonSystem(layout, settings);
      const n = layout.size;
      const m = system.dense ? n : Math.min(krylovDimension, n);
      w = {
        system,
        basis: system.dense ? [] : Array.from({ length: m }, () => new Float64Array(n)),
        product: new Float64Array(n),
        small: new Float64Array(m * m),
        values: new Float64Array(m),
        vectors: new Float64Array(m * m),
        coefficients: new Float64Array(m),
        alpha: new Float64Array(m),
        beta: new Float64Array(m),
      };
      workspaces.set(layout, w);
    }
    return w;
  };

  /** Divides the eigen-coefficients by |λ| + δ, dropping directions without curvature. */
  const invertAbsolute = (values: Float64Array, m: number, coefficients: Float64Array): number => {
    let smallest = Infinity;
    for (let j = 0; j < m; j++) {
      const eigenvalue = values[j];
      smallest = Math.min(smallest, eigenvalue);
      const denominator = Math.abs(eigenvalue) + damping;
      coefficients[j] = denominator > 0 ? coefficients[j] / denominator : 0;
    }
    return smallest;
  };

  return {
    name: OWNER,
    needs: ["hvp"],
    init(layout) {
      workspaceFor(layout);
      return { count: 0, stepSize: 0, smallestEigenvalue: 0 };
    },
    async update(u, state, ctx) {
      const objective = stepObjective(ctx, OWNER);
      const hvp = requireOracle(objective, "hvp", `optimizer ${OWNER}`);
      const value = requireOracle(objective, "value", `optimizer ${OWNER}`);
      const w = workspaceFor(ctx.layout);
      const { system, basis, product, small, values, vectors, coefficients, alpha, beta } = w;
      const { gradient, solution: step, trial, n } = system;
      const params = ctx.params;
      const gradientNorm = loadGradient(u, gradient);
      const loss = ctx.loss ?? (await value(params));
      await system.prepare(hvp, params, OWNER);
      let smallest = 0;
      step.fill(0);
      if (gradientNorm > 0 && system.dense) {
        small.set(system.hessian);
        eigh(small, n, values, vectors);
        for (let j = 0; j < n; j++) {
          let c = 0;
          for (let i = 0; i < n; i++) c += vectors[i * n + j] * gradient[i];
          coefficients[j] = c;
        }
        smallest = invertAbsolute(values, n, coefficients);
        for (let i = 0; i < n; i++) {
          let s = 0;
          for (let j = 0; j < n; j++) s += vectors[i * n + j] * coefficients[j];
          step[i] = s;
        }
      } else if (gradientNorm > 0) {
        // Lanczos from g/‖g‖ with two Gram-Schmidt passes against the whole basis.
        const mMax = basis.length;
        let m = 0;
        for (let i = 0; i < n; i++) basis[0][i] = gradient[i] / gradientNorm;
        for (let k = 0; k < mMax; k++) {
          const q = basis[k];
          await system.apply(q, product);
          let a = 0;
          for (let i = 0; i < n; i++) a += q[i] * product[i];
          alpha[m++] = a;
          if (k === mMax - 1) break;
          let scaleOfProduct = 0;
          for (let i = 0; i < n; i++) scaleOfProduct += product[i] * product[i];
          for (let pass = 0; pass < 2; pass++) {
            for (let j = 0; j <= k; j++) {
              const qj = basis[j];
              let c = 0;
              for (let i = 0; i < n; i++) c += qj[i] * product[i];
              for (let i = 0; i < n; i++) product[i] -= c * qj[i];
            }
          }
          let b = 0;
          for (let i = 0; i < n; i++) b += product[i] * product[i];
          b = Math.sqrt(b);
          // The Krylov space is invariant: the step in it is exact.
          if (!(b > 1e-12 * Math.max(Math.abs(a), Math.sqrt(scaleOfProduct)))) break;
          beta[k] = b;
          const next = basis[k + 1];
          for (let i = 0; i < n; i++) next[i] = product[i] / b;
        }
        small.fill(0);
        for (let i = 0; i < m; i++) {
          small[i * m + i] = alpha[i];
          if (i + 1 < m) {
            small[i * m + i + 1] = beta[i];
            small[(i + 1) * m + i] = beta[i];
          }
        }
        // The m×m tridiagonal sits in the leading m² entries of the buffers sized for the largest m.
        eigh(small.subarray(0, m * m), m, values.subarray(0, m), vectors.subarray(0, m * m));
        for (let j = 0; j < m; j++) coefficients[j] = gradientNorm * vectors[j];
        smallest = invertAbsolute(values, m, coefficients);
        for (let k = 0; k < m; k++) {
          let y = 0;
          for (let j = 0; j < m; j++) y += vectors[k * m + j] * coefficients[j];
          const qk = basis[k];
          for (let i = 0; i < n; i++) step[i] += y * qk[i];
        }
      }
      let slope = 0;
      for (let i = 0; i < n; i++) slope += gradient[i] * step[i];
      let stepSize = 1;
      if (slope > 0) {
        for (let j = 0; ; j++) {
          for (let i = 0; i < n; i++) trial[i] = params[i] - stepSize * step[i];
          const f = await value(trial);
          if (f <= loss - armijo * stepSize * slope + roundingSlack(loss)) break;
          if (j >= maxBacktracks) {
            stepSize = 0;
            break;
          }
          stepSize *= backtrackFactor;
        }
      } else stepSize = 0;
      for (let i = 0; i < n; i++) u[i] = stepSize * step[i];
      state.count++;
      state.stepSize = stepSize;
      state.smallestEigenvalue = smallest;
    },
  };
}

/** Options of {@link saddleFreeNewton}. */
export interface SaddleFreeNewtonOptions extends ScaleBySaddleFreeNewtonOptions {
  /** Multiplier of the line-searched saddle-free step (constant or schedule; default 1). */
  learningRate?: Hyper;
}

/**
 * Saddle-free Newton: `θ ← θ − lr·α·V(|Λ| + δI)⁻¹Vᵀ∇f(θ)` in the gradient's Krylov subspace
 * (or exactly when d ≤ `denseThreshold`). `learningRate` is a multiplier of the line-searched
 * step and should stay 1. Needs an objective with `hvp`.
 */
export function saddleFreeNewton(options: SaddleFreeNewtonOptions = {}): ChainTransform {
  const owner = "saddleFreeNewton";
  checkKnownOptions(owner, options, ["learningRate", ...OPTIONS]);
  const { learningRate = 1, ...rest } = options;
  const lr = checkLearningRate(owner, learningRate);
  return chain(scaleBySaddleFreeNewton(rest), scaleByLearningRate(lr));
}
