/**
 * Damped Newton method: the Newton direction from Hessian-vector products, with the explicit
 * step size of AICN as the first trial of an Armijo backtracking line search.
 *
 * Hanzely, Kamzolov, Pasechnyuk, Gasnikov, Richtárik & Takáč, "A Damped Newton Method Achieves
 * Global O(1/k²) and Local Quadratic Convergence Rate", NeurIPS 2022 (AICN). Its step-size
 * schedules are extended (up to O(k⁻³)) with line searches in Hanzely, Abdukhakimov & Takáč,
 * "Newton Method Revisited: Global Convergence Rates up to O(k⁻³) for Stepsize Schedules and
 * Linesearch Procedures", arXiv:2405.18926, 2024 (first circulated as "Damped Newton Method with
 * Near-Optimal Global O(k⁻³) Convergence Rate").
 *
 * Step k, g = ∇f(θ), H = ∇²f(θ), λ ≥ 0 the Levenberg damping (option `damping`, default 0):
 *
 *     s     = (H + λI)⁻¹ g                         the Newton direction (CG or dense Cholesky)
 *     G     = √(gᵀs) = ‖g‖*_θ                      the local dual norm (Newton decrement)
 *     α₀    = (√(1 + 2·M·G) − 1) / (M·G)           AICN's step size, M = `smoothness`;
 *                                                  α₀ = 1 (pure Newton) when M = 0 (default)
 *     α     = α₀·ρ^j, the first j ≥ 0 with         Armijo backtracking (ρ = `backtrackFactor`,
 *             f(θ − α s) ≤ f(θ) − c·α·gᵀs          c = `armijo`)
 *     θ     ← θ − lr·α·s                           lr = `learningRate`, a multiplier (default 1)
 *
 * AICN's α₀ is its exact rule (affine-invariant cubic Newton step, with M the semi-strong
 * self-concordance constant L_semi of the paper); the Armijo test is the safeguard of
 * classical damped Newton (Boyd & Vandenberghe, "Convex Optimization", 2004, §9.5) and makes
 * the method monotone when M is unknown. Values within 2⁻⁵⁰·|f| of f(θ) count as no increase,
 * so full steps are not rejected for rounding once f has converged.
 *
 * The system is solved matrix-free by conjugate gradient (Hestenes & Stiefel 1952) when the
 * dimension exceeds `denseThreshold`; otherwise H is assembled from d Hessian-vector products
 * and factored by Cholesky. When H + λI is not positive definite (CG meets non-positive
 * curvature, or Cholesky a non-positive pivot) the damping is raised to max(2λ, 10⁻³) until it
 * is (Nocedal & Wright, "Numerical Optimization", 2006, §3.4, added multiple of the identity).
 *
 * No official implementation exists for these defaults: α₀ = 1 and c = 10⁻⁴, ρ = ½ are the
 * textbook values of Nocedal & Wright (§3.1).
 */
import { MissingOracleError } from "../errors.js";
import { choleskyFactor, choleskySolve } from "../linalg/cholesky.js";
import type { ConjugateGradientWorkspace, LinearOperator } from "../linalg/cg.js";
import { conjugateGradient, conjugateGradientWorkspace, operatorMatrix } from "../linalg/cg.js";
import type { Objective } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import { chain } from "./transform.js";
import { checkKnownOptions, checkNumber } from "./validate.js";

/** How the Newton systems of this family are solved (validated settings). */
export interface NewtonSolverSettings {
  /** Largest dimension solved densely (Hessian assembled, Cholesky). */
  readonly denseThreshold: number;
  /** Relative residual at which CG stops. */
  readonly cgTolerance: number;
  /** Most CG iterations per solve (0: twice the dimension). */
  readonly cgMaxIterations: number;
}

/** Option names of {@link NewtonSolverSettings}, shared by the Newton-family optimizers. */
export const NEWTON_SOLVER_OPTIONS = ["denseThreshold", "cgTolerance", "cgMaxIterations"] as const;

/** Options of the Newton system solver, shared by the Newton-family optimizers. */
export interface NewtonSolverOptions {
  /** Dimensions up to this are solved with a dense Cholesky factorization (default 100). */
  denseThreshold?: number;
  /** Relative residual at which conjugate gradient stops (default 1e-10). */
  cgTolerance?: number;
  /** Most conjugate-gradient iterations per solve (default: twice the dimension). */
  cgMaxIterations?: number;
}

/** Validates the shared solver options. */
export function checkNewtonSolverOptions(
  owner: string,
  options: NewtonSolverOptions,
): NewtonSolverSettings {
  return {
    denseThreshold: checkNumber(owner, "denseThreshold", options.denseThreshold ?? 100, {
      min: 0,
      integer: true,
    }),
    cgTolerance: checkNumber(owner, "cgTolerance", options.cgTolerance ?? 1e-10, {
      above: 0,
      below: 1,
    }),
    cgMaxIterations: checkNumber(owner, "cgMaxIterations", options.cgMaxIterations ?? 0, {
      min: 0,
      integer: true,
    }),
  };
}

/**
 * Per-layout workspace of a Newton-family method: the float64 gradient and direction, the
 * oracle buffers in the layout's dtype, and the dense matrices or CG vectors.
 */
export class NewtonSystem {
  /** Dimension. */
  readonly n: number;
  /** Whether systems are solved densely. */
  readonly dense: boolean;
  /** The gradient, float64 (filled by the caller). */
  readonly gradient: Float64Array;
  /** The solution s of (H + λI)s = g after {@link NewtonSystem.solve}. */
  readonly solution: Float64Array;
  /** Trial parameters for line searches, in the layout's dtype. */
  readonly trial: FloatArray;
  private readonly vector: FloatArray;
  private readonly product: FloatArray;
  /** The assembled Hessian (row-major, symmetric) in the dense mode; empty otherwise. */
  readonly hessian: Float64Array;
  private readonly factor: Float64Array;
  private readonly cg: ConjugateGradientWorkspace;
  private readonly settings: NewtonSolverSettings;
  private operator: LinearOperator = () => undefined;

  /** Allocates the workspace for `layout`; the mode (dense or CG) follows its size. */
  constructor(layout: Layout, settings: NewtonSolverSettings) {
    const n = layout.size;
    this.n = n;
    this.settings = settings;
    this.dense = n <= settings.denseThreshold;
    this.gradient = new Float64Array(n);
    this.solution = new Float64Array(n);
    this.trial = layout.zeros();
    this.vector = layout.zeros();
    this.product = layout.zeros();
    this.hessian = new Float64Array(this.dense ? n * n : 0);
    this.factor = new Float64Array(this.dense ? n * n : 0);
    this.cg = conjugateGradientWorkspace(n);
  }

  /**
   * Binds the Hessian at `params`; in the dense mode, assembles it (n Hessian-vector products).
   * Non-finite products raise a RangeError naming `owner`.
   */
  async prepare(hvp: NonNullable<Objective["hvp"]>, params: FloatArray, owner: string) {
    const { vector, product } = this;
    this.operator = async (v, out) => {
      vector.set(v);
      await hvp(params, vector, product);
      for (let i = 0; i < out.length; i++) {
        const value = product[i];
        if (!Number.isFinite(value)) {
          throw new RangeError(
            `${owner}: the Hessian-vector product is not finite (entry ${i} = ${value}); no state was changed`,
          );
        }
        out[i] = value;
      }
    };
    if (this.dense) await operatorMatrix(this.operator, this.n, this.hessian);
  }

  /** Hessian-vector product at the prepared point, float64 in and out. */
  apply(v: Float64Array, out: Float64Array): Promise<void> | void {
    return this.operator(v, out);
  }

  /**
   * Solves (H + shift·I)s = gradient into {@link NewtonSystem.solution}.
   * @returns false when H + shift·I is not (numerically) positive definite
   */
  async solve(shift: number): Promise<boolean> {
    const { n, gradient, solution } = this;
    if (this.dense) {
      const { hessian, factor } = this;
      factor.set(hessian);
      for (let i = 0; i < n; i++) factor[i * n + i] += shift;
      if (!choleskyFactor(factor, n, factor)) return false;
      choleskySolve(factor, n, gradient, solution);
      return true;
    }
    const result = await conjugateGradient(
      this.operator,
      gradient,
      solution,
      {
        tolerance: this.settings.cgTolerance,
        maxIterations: this.settings.cgMaxIterations || 2 * n,
        shift,
      },
      this.cg,
    );
    return !result.negativeCurvature;
  }

  /**
   * Solves with damping at least `damping`, raising it (max(2λ, 10⁻³)) until the system is
   * positive definite. @returns the damping used
   */
  async solveDamped(damping: number, owner: string): Promise<number> {
    let shift = damping;
    for (let attempt = 0; attempt < 80; attempt++) {
      if (await this.solve(shift)) return shift;
      shift = Math.max(2 * shift, 1e-3);
    }
    throw new RangeError(`${owner}: no damping made the Hessian positive definite`);
  }
}

/** Slack for comparing objective values that agree up to rounding. */
export function roundingSlack(value: number): number {
  return 2 ** -50 * Math.abs(value);
}

/** Copies `u` (the gradient) into float64 and returns its Euclidean norm. */
export function loadGradient(u: FloatArray, out: Float64Array): number {
  let s = 0;
  for (let i = 0; i < u.length; i++) {
    out[i] = u[i];
    s += u[i] * u[i];
  }
  return Math.sqrt(s);
}

/** The objective of a step, or a MissingOracleError explaining how to provide one. */
export function stepObjective(ctx: StepContext, owner: string): Objective {
  if (ctx.objective === undefined) {
    throw new MissingOracleError(
      "(none given)",
      "hvp",
      `optimizer ${owner} (drive it with opt.step(objective) or opt.update(grads, objective))`,
    );
  }
  return ctx.objective;
}

/** Options of {@link scaleByDampedNewton}. */
export interface ScaleByDampedNewtonOptions extends NewtonSolverOptions {
  /** Levenberg damping λ ≥ 0 added to the Hessian's diagonal (default 0). */
  damping?: number;
  /** AICN's constant M ≥ 0 in the first trial step α₀; 0 starts from α₀ = 1 (default 0). */
  smoothness?: number;
  /** Armijo constant c in (0, 1) (default 1e-4). */
  armijo?: number;
  /** Backtracking factor ρ in (0, 1) (default 0.5). */
  backtrackFactor?: number;
  /** Most backtracking halvings per step (default 40). */
  maxBacktracks?: number;
}

/** State of {@link scaleByDampedNewton}. */
export interface DampedNewtonState extends State {
  /** Updates applied so far. */
  count: number;
  /** The step size α of the last update (0 before the first). */
  stepSize: number;
  /** The Newton decrement G = √(gᵀs) of the last update. */
  decrement: number;
}

const DAMPED_OWNER = "scaleByDampedNewton";
const DAMPED_OPTIONS = [
  "damping",
  "smoothness",
  "armijo",
  "backtrackFactor",
  "maxBacktracks",
  ...NEWTON_SOLVER_OPTIONS,
];

/**
 * Replaces the gradient by the damped Newton step α·(H + λI)⁻¹g (before `−lr`), α from AICN's
 * rule and Armijo backtracking. Needs `hvp` and `value` of the step's objective.
 */
export function scaleByDampedNewton(
  options: ScaleByDampedNewtonOptions = {},
): GradientTransform<DampedNewtonState> {
  checkKnownOptions(DAMPED_OWNER, options, DAMPED_OPTIONS);
  const damping = checkNumber(DAMPED_OWNER, "damping", options.damping ?? 0, { min: 0 });
  const smoothness = checkNumber(DAMPED_OWNER, "smoothness", options.smoothness ?? 0, { min: 0 });
  const armijo = checkNumber(DAMPED_OWNER, "armijo", options.armijo ?? 1e-4, {
    above: 0,
    below: 1,
  });
  const backtrackFactor = checkNumber(
    DAMPED_OWNER,
    "backtrackFactor",
    options.backtrackFactor ?? 0.5,
    { above: 0, below: 1 },
  );
  const maxBacktracks = checkNumber(DAMPED_OWNER, "maxBacktracks", options.maxBacktracks ?? 40, {
    min: 0,
    integer: true,
  });
  const settings = checkNewtonSolverOptions(DAMPED_OWNER, options);
  const systems = new WeakMap<Layout, NewtonSystem>();
  const systemFor = (layout: Layout): NewtonSystem => {
    let s = systems.get(layout);
    if (!s) systems.set(layout, (s = new NewtonSystem(layout, settings)));
    return s;
  };
  return {
    name: DAMPED_OWNER,
    needs: ["hvp"],
    init(layout) {
      systemFor(layout);
      return { count: 0, stepSize: 0, decrement: 0 };
    },
    async update(u, state, ctx) {
      const objective = stepObjective(ctx, DAMPED_OWNER);
      const requester = `optimizer ${DAMPED_OWNER}`;
      const hvp = requireOracle(objective, "hvp", requester);
      const value = requireOracle(objective, "value", requester);
      const system = systemFor(ctx.layout);
      const { gradient, solution, trial, n } = system;
      const params = ctx.params;
      loadGradient(u, gradient);
      const loss = ctx.loss ?? (await value(params));
      await system.prepare(hvp, params, DAMPED_OWNER);
      await system.solveDamped(damping, DAMPED_OWNER);
      let slope = 0;
      for (let i = 0; i < n; i++) slope += gradient[i] * solution[i];
      const decrement = Math.sqrt(Math.max(slope, 0));
      const mg = smoothness * decrement;
      let alpha = mg > 0 ? (Math.sqrt(1 + 2 * mg) - 1) / mg : 1;
      if (slope > 0) {
        for (let j = 0; ; j++) {
          for (let i = 0; i < n; i++) trial[i] = params[i] - alpha * solution[i];
          const f = await value(trial);
          if (f <= loss - armijo * alpha * slope + roundingSlack(loss)) break;
          if (j >= maxBacktracks) {
            alpha = 0;
            break;
          }
          alpha *= backtrackFactor;
        }
      } else alpha = 0;
      for (let i = 0; i < n; i++) u[i] = alpha * solution[i];
      state.count++;
      state.stepSize = alpha;
      state.decrement = decrement;
    },
  };
}

/** Options of {@link dampedNewton}. */
export interface DampedNewtonOptions extends ScaleByDampedNewtonOptions {
  /** Multiplier of the line-searched Newton step (constant or schedule; default 1). */
  learningRate?: Hyper;
}

/**
 * Damped Newton with AICN's step size and Armijo backtracking:
 * `θ ← θ − lr·α·(H + λI)⁻¹∇f(θ)`. The line search picks the step, so `learningRate` is a
 * multiplier that should stay 1 unless a shorter step is wanted. Needs an objective with `hvp`
 * (`opt.step(objective)`).
 */
export function dampedNewton(options: DampedNewtonOptions = {}): ChainTransform {
  const owner = "dampedNewton";
  checkKnownOptions(owner, options, ["learningRate", ...DAMPED_OPTIONS]);
  const { learningRate = 1, ...rest } = options;
  const lr = checkLearningRate(owner, learningRate);
  return chain(scaleByDampedNewton(rest), scaleByLearningRate(lr));
}
