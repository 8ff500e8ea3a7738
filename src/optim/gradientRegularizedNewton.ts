/**
 * Gradient-regularized Newton: a Levenberg-Marquardt step whose damping is the square root of
 * the gradient norm times an adaptive smoothness estimate.
 *
 * Mishchenko, "Regularized Newton Method with Global O(1/k²) Convergence", SIAM Journal on
 * Optimization 33(3), 2023; the same regularizer with approximate Hessians and an adaptive
 * search is analysed in Semenov, Jaggi & Doikov, "Gradient-Normalized Smoothness for
 * Optimization with Approximate Hessians", ICLR 2026 (arXiv:2506.13710, 2025).
 *
 * Step k, g = ∇f(θ), H = ∇²f(θ), L the smoothness estimate (state, starts at
 * `initialSmoothness`):
 *
 *     L     ← max(L / 2, minSmoothness)           optimistic halving at every step
 *     λ     = √(L·‖g‖)
 *     s     = (H + λI)⁻¹ g                         CG, or dense Cholesky for small d
 *     accept when f(θ − s) ≤ f(θ) − ¼·gᵀs, otherwise L ← 2L and solve again
 *     θ     ← θ − lr·s                            lr = `learningRate`, a multiplier (default 1)
 *
 * With L a Lipschitz constant of the Hessian the fixed-L iteration is the one of Mishchenko's
 * Theorem 1 (global O(1/k²) on convex functions, superlinear locally since λ → 0 with ‖g‖).
 * The adaptive halving/doubling follows the papers' line searches (Mishchenko's AdaN, Algorithm
 * 1 of Semenov et al.), with our own acceptance test: the Armijo-type decrease ¼·gᵀs above,
 * which every step passes on a convex quadratic (there f(θ) − f(θ − s) ≥ ½·gᵀs) and values
 * within rounding of f(θ) count as no increase. When H + λI is not positive definite (a
 * non-convex point) L is doubled as for a failed test.
 *
 * Defaults (initialSmoothness 1, minSmoothness 1e-12, at most 50 doublings per step) are ours:
 * no official implementation fixes them.
 */
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

/** Options of {@link scaleByGradientRegularizedNewton}. */
export interface ScaleByGradientRegularizedNewtonOptions extends NewtonSolverOptions {
  /** Starting smoothness estimate L > 0 (default 1). */
  initialSmoothness?: number;
  /** Floor of L after halving (default 1e-12). */
  minSmoothness?: number;
  /** Most doublings of L per step (default 50). */
  maxDoublings?: number;
}

/** State of {@link scaleByGradientRegularizedNewton}. */
export interface GradientRegularizedNewtonState extends State {
  /** Updates applied so far. */
  count: number;
  /** The accepted smoothness estimate L of the last update. */
  smoothness: number;
}

const OWNER = "scaleByGradientRegularizedNewton";
const OPTIONS = ["initialSmoothness", "minSmoothness", "maxDoublings", ...NEWTON_SOLVER_OPTIONS];

/**
 * Replaces the gradient by the regularized Newton step (H + √(L‖g‖)I)⁻¹g (before `−lr`), with
 * L adapted by halving and doubling. Needs `hvp` and `value` of the step's objective.
 */
export function scaleByGradientRegularizedNewton(
  options: ScaleByGradientRegularizedNewtonOptions = {},
): GradientTransform<GradientRegularizedNewtonState> {
  checkKnownOptions(OWNER, options, OPTIONS);
  const initialSmoothness = checkNumber(
    OWNER,
    "initialSmoothness",
    options.initialSmoothness ?? 1,
    { above: 0 },
  );
  const minSmoothness = checkNumber(OWNER, "minSmoothness", options.minSmoothness ?? 1e-12, {
    above: 0,
  });
  const maxDoublings = checkNumber(OWNER, "maxDoublings", options.maxDoublings ?? 50, {
    min: 0,
    integer: true,
  });
  const settings = checkNewtonSolverOptions(OWNER, options);
  const systems = new WeakMap<Layout, NewtonSystem>();
  const systemFor = (layout: Layout): NewtonSystem => {
    let s = systems.get(layout);
    if (!s) systems.set(layout, (s = new NewtonSystem(layout, settings)));
    return s;
  };
  return {
    name: OWNER,
    needs: ["hvp"],
    init(layout) {
      systemFor(layout);
      return { count: 0, smoothness: initialSmoothness };
    },
    async update(u, state, ctx) {
      const objective = stepObjective(ctx, OWNER);
      const hvp = requireOracle(objective, "hvp", `optimizer ${OWNER}`);
      const value = requireOracle(objective, "value", `optimizer ${OWNER}`);
      const system = systemFor(ctx.layout);
      const { gradient, solution, trial, n } = system;
      const params = ctx.params;
      const gradientNorm = loadGradient(u, gradient);
      const loss = ctx.loss ?? (await value(params));
      await system.prepare(hvp, params, OWNER);
      let smoothness = Math.max(state.smoothness / 2, minSmoothness);
      let accepted = false;
      for (let doubling = 0; doubling <= maxDoublings; doubling++) {
        if (doubling > 0) smoothness *= 2;
        const lambda = Math.sqrt(smoothness * gradientNorm);
        if (!(await system.solve(lambda))) continue;
        let slope = 0;
        for (let i = 0; i < n; i++) {
          slope += gradient[i] * solution[i];
          trial[i] = params[i] - solution[i];
        }
        const f = await value(trial);
        if (f <= loss - 0.25 * slope + roundingSlack(loss)) {
          accepted = true;
          break;
        }
      }
      // No acceptable step (e.g. f is flat to rounding far from a minimizer): stay put.
      if (accepted) for (let i = 0; i < n; i++) u[i] = solution[i];
      else u.fill(0);
      state.count++;
      state.smoothness = smoothness;
    },
  };
}

/** Options of {@link gradientRegularizedNewton}. */
export interface GradientRegularizedNewtonOptions extends ScaleByGradientRegularizedNewtonOptions {
  /** Multiplier of the regularized Newton step (constant or schedule; default 1). */
  learningRate?: Hyper;
}

/**
 * Gradient-regularized Newton with adaptive smoothness:
 * `θ ← θ − lr·(∇²f(θ) + √(L‖∇f(θ)‖)I)⁻¹∇f(θ)`. The regularizer sets the step length, so
 * `learningRate` is a multiplier that should stay 1. Needs an objective with `hvp`.
 */
export function gradientRegularizedNewton(
  options: GradientRegularizedNewtonOptions = {},
): ChainTransform {
  const owner = "gradientRegularizedNewton";
  checkKnownOptions(owner, options, ["learningRate", ...OPTIONS]);
  const { learningRate = 1, ...rest } = options;
  const lr = checkLearningRate(owner, learningRate);
  return chain(scaleByGradientRegularizedNewton(rest), scaleByLearningRate(lr));
}
