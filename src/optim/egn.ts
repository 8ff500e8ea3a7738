/**
 * Exact Gauss-Newton (EGN): the regularized generalized Gauss-Newton (Levenberg-Marquardt)
 * direction of a mini-batch loss, computed exactly by factoring a matrix the size of the batch's
 * outputs rather than of the parameters.
 *
 * Korbit, Adeoye, Bemporad & Zanon, "Exact Gauss-Newton Optimization for Training Deep Neural
 * Networks", arXiv:2405.14402, 2024. Official implementation: cor3bit/somax
 * @ 7c107c5a94ce4447c08bc596e9c89ed5c95bb82b, `src/somax/gn/egn.py` (class `EGN`).
 *
 * The loss averages b examples with c outputs each, f(θ) = (1/b) Σ_i ℓ_i(z_i(θ)) (+ an optional
 * diagonal penalty ½Σ_j π_j θ_j², see {@link OutputJacobian}). With J the (b·c)×d Jacobian of
 * the stacked outputs, Q the block diagonal of the output Hessians ∇²ℓ_i and g = ∇f(θ) (the
 * gradient the update buffer brings in), step k is
 *
 *     G       = (1/b)·JᵀQJ + diag(π)                    generalized Gauss-Newton matrix
 *     p       = (G + λ_k·I)⁻¹ g                          the direction (θ moves along −p)
 *     m       = β·m + (1 − β)·p,  p ← m / (1 − β^{k+1})   momentum β (bias-corrected), if β > 0
 *     θ      ← θ − α_k·p                                  α_k = lr, or from the line search
 *
 * Push-through. The paper solves in the b·c-sized space: with π = 0 and g = (1/b)Jᵀ∇_zℓ,
 * (JᵀQJ + bλI)⁻¹Jᵀ = Jᵀ(QJJᵀ + bλI)⁻¹ (the Duncan-Guttman identity) gives
 * p = Jᵀ(QJJᵀ + bλI)⁻¹∇_zℓ. QJJᵀ is not symmetric and Q is singular for cross-entropy, so here
 * each block is factored Q_i = F_i·F_iᵀ (Cholesky with diagonal pivoting, which stops at the
 * blocks' null space) and Ĵ = FᵀJ gives JᵀQJ = ĴᵀĴ. With A = λI + diag(π), the Woodbury form
 *
 *     p = A⁻¹g − A⁻¹Ĵᵀ (b·I + Ĵ A⁻¹ Ĵᵀ)⁻¹ Ĵ A⁻¹g
 *
 * needs one Cholesky factorization of a symmetric positive definite (b·c)×(b·c) matrix, for any
 * positive semidefinite Q, with or without a penalty. It is the same direction: for π = 0 it
 * reduces to the paper's formula. When b·c ≥ d the d×d system (ĴᵀĴ/b + A)·p = g is smaller and
 * is factored instead (`solveSpace: "auto"`); both give the same p up to rounding.
 *
 * Rounding. The output-space form subtracts two terms of size up to ‖ĴA⁻¹Ĵᵀ‖/b times the
 * result, so its relative error grows like ε·‖ĴĴᵀ‖/(b·λ): about 10⁻¹⁰ for ‖ĴĴᵀ‖/b = 10⁴ and
 * λ = 10⁻². The rounding error of g itself outside the row space of J is amplified by 1/λ in any
 * form that starts from g, so λ → 0 with fewer outputs than parameters is the one regime where
 * the paper's formula, which starts from ∇_zℓ, is more accurate.
 *
 * Line search (`lineSearch: true`; the reference's stochastic Armijo search after Vaswani,
 * Mishkin, Laradji, Schmidt, Gidel & Lacoste-Julien, "Painless Stochastic Gradient:
 * Interpolation, Line-Search, and Convergence Rates", NeurIPS 2019), along the direction p after
 * momentum, on the step's batch: the trial step starts at
 * α = min(γ·α_{k−1}, lr) (`reset: "increase"`; α_{k−1} itself for "conservative" and
 * "goldstein"; lr on the first step), and each of at most `maxBacktracks` rounds
 *
 *     if f(θ − α·p) > f(θ) − c·α·gᵀp + ε:   α ← min(ρ·α, lr), evaluate f(θ − α·p)
 *     "goldstein" only: if f(θ) − f(θ − α·p) > (1 − c)·α·gᵀp:   α ← min(γ·α, lr), evaluate
 *
 * stops at the first round whose trial passes; when the rounds run out the last trial is taken
 * unchecked, as in the reference. ε is the machine epsilon of the parameters' dtype (the reference
 * adds that of the loss). A trial whose value is not finite counts as violating the condition
 * (the reference would accept it: comparisons with NaN are false there).
 *
 * Adaptive regularization (`adaptiveDamping: true`; Kiros, "Training Neural Networks with
 * Stochastic Hessian-Free Optimization", ICLR 2013, after Martens, ICML 2010): with Δ the step
 * taken and the Gauss-Newton model's predicted change gᵀΔ + ½·ΔᵀGΔ,
 *
 *     ρ = (f(θ + Δ) − f(θ)) / (gᵀΔ + ½·ΔᵀGΔ)
 *     λ_{k+1} = ω_inc·λ_k if ρ < ρ_low;  ω_dec·λ_k if ρ > ρ_high;  λ_k otherwise
 *
 * on the same batch (the line search's last value when there is one; otherwise one more value).
 * A ratio that is not a number (a zero step) leaves λ unchanged.
 *
 * Defaults are the reference's: λ₀ = 1 (`regularizer`), β = 0 (`momentum`), no line search; its
 * search constants c = 1 − 0.9 (`aggressiveness`), ρ = 0.8 (`decrease_factor`), γ = 1.5
 * (`increase_factor`), reset "increase", 15 rounds (`maxls`); and its adaptive-regularization
 * constants ω_dec = 0.99, ω_inc = 1.01 (`lambda_decrease_factor`, `lambda_increase_factor`) with
 * ρ_low = 0.25, ρ_high = 0.75. The reference's `learning_rate` (the fixed α, or the largest α of
 * the line search) has no default; `learningRate` defaults to 1 here, the full Levenberg-
 * Marquardt step. The reference has the adaptive rule switched off (its constructor rejects
 * `adaptive_lambda=True` and the update is commented out); this file implements that commented
 * code's rule, whose predicted change uses the undamped G.
 */
import { InvalidArgumentError, MissingOracleError, ShapeMismatchError } from "../errors.js";
import {
  factorSemidefiniteBlocks,
  factorTimesJacobian,
  rowGram,
  rowsTimes,
  rowsTransposeTimes,
  transposeRows,
} from "../kernels/egn.js";
import { choleskyFactor, choleskySolve } from "../linalg/cholesky.js";
import type { Objective, OutputJacobian } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { checkBeta, checkLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

/** How the line search picks its first trial step (see the file header). */
export type EgnReset = "increase" | "conservative" | "goldstein";

/**
 * Which linear system gives the direction: the (b·c)-sized one of the push-through identity
 * (`"outputs"`), the d×d one (`"parameters"`), or the smaller of the two (`"auto"`).
 */
export type EgnSolveSpace = "auto" | "outputs" | "parameters";

/** Options of {@link scaleByEgn} and {@link egn}. */
export interface EgnOptions {
  /**
   * Step size α (constant or schedule; default 1); with `lineSearch`, the largest step and the
   * first trial (the reference's `learning_rate` in both roles).
   */
  learningRate?: Hyper;
  /** Initial regularization λ₀ > 0 added to the Gauss-Newton matrix (default 1). */
  damping?: number;
  /** Momentum β ∈ [0, 1) on the direction, bias-corrected (default 0: none). */
  momentum?: number;
  /** Choose α by the stochastic Armijo line search (default false). */
  lineSearch?: boolean;
  /** Armijo constant c ∈ (0, 1) (default 0.1, the reference's 1 − aggressiveness 0.9). */
  armijo?: number;
  /** Factor ρ ∈ (0, 1) shrinking a rejected trial step (default 0.8). */
  backtrackFactor?: number;
  /** Factor γ ≥ 1 growing the step at the reset and in the Goldstein test (default 1.5). */
  increaseFactor?: number;
  /** First trial step of each search (default `"increase"`). */
  reset?: EgnReset;
  /** Most rounds of the line search per step (default 15). */
  maxBacktracks?: number;
  /** Adapt λ from the ratio of actual to predicted decrease (default false). */
  adaptiveDamping?: boolean;
  /** Factor ω_inc ≥ 1 applied to λ when ρ < ρ_low (default 1.01). */
  dampingIncrease?: number;
  /** Factor ω_dec ∈ (0, 1] applied to λ when ρ > ρ_high (default 0.99). */
  dampingDecrease?: number;
  /** Threshold ρ_low (default 0.25). */
  ratioLow?: number;
  /** Threshold ρ_high ≥ ρ_low (default 0.75). */
  ratioHigh?: number;
  /** Which linear system to factor (default `"auto"`: the smaller). */
  solveSpace?: EgnSolveSpace;
}

/** State of {@link scaleByEgn}; with momentum > 0 it also holds `velocity` (float64, length d). */
export interface EgnState extends State {
  /** Updates applied so far. */
  count: number;
  /** The step size α of the last update (0 before the first). */
  stepSize: number;
  /** The regularization λ the next update uses. */
  damping: number;
}

const OWNER = "egn";
const OPTIONS = [
  "learningRate",
  "damping",
  "momentum",
  "lineSearch",
  "armijo",
  "backtrackFactor",
  "increaseFactor",
  "reset",
  "maxBacktracks",
  "adaptiveDamping",
  "dampingIncrease",
  "dampingDecrease",
  "ratioLow",
  "ratioHigh",
  "solveSpace",
];

/** Pivots of an output-Hessian block below this fraction of its largest diagonal entry are 0. */
const SEMIDEFINITE_TOLERANCE = 1e-12;

interface Settings {
  learningRate: Hyper;
  damping: number;
  momentum: number;
  lineSearch: boolean;
  armijo: number;
  backtrackFactor: number;
  increaseFactor: number;
  reset: EgnReset;
  maxBacktracks: number;
  adaptiveDamping: boolean;
  dampingIncrease: number;
  dampingDecrease: number;
  ratioLow: number;
  ratioHigh: number;
  solveSpace: EgnSolveSpace;
}

function resolve(options: EgnOptions): Settings {
  checkKnownOptions(OWNER, options, OPTIONS);
  const ratioLow = checkNumber(OWNER, "ratioLow", options.ratioLow ?? 0.25);
  return {
    learningRate: checkLearningRate(OWNER, options.learningRate ?? 1),
    damping: checkNumber(OWNER, "damping", options.damping ?? 1, { above: 0 }),
    momentum: checkBeta(OWNER, "momentum", options.momentum ?? 0),
    lineSearch: checkBoolean(OWNER, "lineSearch", options.lineSearch ?? false),
    armijo: checkNumber(OWNER, "armijo", options.armijo ?? 0.1, { above: 0, below: 1 }),
    backtrackFactor: checkNumber(OWNER, "backtrackFactor", options.backtrackFactor ?? 0.8, {
      above: 0,
      below: 1,
    }),
    increaseFactor: checkNumber(OWNER, "increaseFactor", options.increaseFactor ?? 1.5, {
      min: 1,
    }),
    reset: checkChoice(OWNER, "reset", options.reset ?? "increase", [
      "increase",
      "conservative",
      "goldstein",
    ]),
    maxBacktracks: checkNumber(OWNER, "maxBacktracks", options.maxBacktracks ?? 15, {
      min: 0,
      integer: true,
    }),
    adaptiveDamping: checkBoolean(OWNER, "adaptiveDamping", options.adaptiveDamping ?? false),
    dampingIncrease: checkNumber(OWNER, "dampingIncrease", options.dampingIncrease ?? 1.01, {
      min: 1,
    }),
    dampingDecrease: checkNumber(OWNER, "dampingDecrease", options.dampingDecrease ?? 0.99, {
      above: 0,
      max: 1,
    }),
    ratioLow,
    ratioHigh: checkNumber(OWNER, "ratioHigh", options.ratioHigh ?? 0.75, { min: ratioLow }),
    solveSpace: checkChoice(OWNER, "solveSpace", options.solveSpace ?? "auto", [
      "auto",
      "outputs",
      "parameters",
    ]),
  };
}

/** Per-layout buffers, rewritten every step (not state). */
class Workspace {
  readonly gradient: Float64Array;
  readonly inverseDiagonal: Float64Array;
  readonly rootInverse: Float64Array;
  readonly diagonal: Float64Array;
  readonly penalty: Float64Array;
  readonly scaledGradient: Float64Array;
  readonly direction: Float64Array;
  readonly velocity: Float64Array;
  readonly step: FloatArray;
  readonly trial: FloatArray;
  factor = new Float64Array(0);
  factorScratch = new Float64Array(0);
  rows = new Float64Array(0);
  transposed = new Float64Array(0);
  system = new Float64Array(0);
  right = new Float64Array(0);
  solution = new Float64Array(0);
  projected = new Float64Array(0);

  constructor(layout: Layout) {
    const d = layout.size;
    this.gradient = new Float64Array(d);
    this.inverseDiagonal = new Float64Array(d);
    this.rootInverse = new Float64Array(d);
    this.diagonal = new Float64Array(d);
    this.penalty = new Float64Array(d);
    this.scaledGradient = new Float64Array(d);
    this.direction = new Float64Array(d);
    this.velocity = new Float64Array(d);
    this.step = layout.zeros();
    this.trial = layout.zeros();
  }

  /** Grows the size-dependent buffers for n = b·c rows, in the output or the parameter space. */
  reserve(examples: number, outputs: number, d: number, fromOutputs: boolean): void {
    const order = fromOutputs ? examples * outputs : d;
    const n = examples * outputs;
    if (this.factor.length < examples * outputs * outputs) {
      this.factor = new Float64Array(examples * outputs * outputs);
    }
    if (this.factorScratch.length < outputs * outputs + outputs) {
      this.factorScratch = new Float64Array(outputs * outputs + outputs);
    }
    if (this.rows.length < n * d) this.rows = new Float64Array(n * d);
    if (!fromOutputs && this.transposed.length < n * d) this.transposed = new Float64Array(n * d);
    if (this.system.length < order * order) this.system = new Float64Array(order * order);
    if (this.right.length < order) this.right = new Float64Array(order);
    if (this.solution.length < order) this.solution = new Float64Array(order);
    if (this.projected.length < Math.max(n, d)) this.projected = new Float64Array(Math.max(n, d));
  }
}

function unchanged(what: string): string {
  return `${OWNER}: ${what}; the parameters and the optimizer state were left unchanged`;
}

function checkCount(value: unknown, field: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 1) {
    throw new InvalidArgumentError(OWNER, `outputJacobian().${field}`, value, "a positive integer");
  }
  return value;
}

function checkArray(value: unknown, field: string, length: number, shape: string): Float64Array {
  if (!(value instanceof Float64Array)) {
    throw new InvalidArgumentError(OWNER, `outputJacobian().${field}`, value, "a Float64Array");
  }
  if (value.length !== length) {
    throw new ShapeMismatchError(
      `${OWNER}: outputJacobian().${field} has ${value.length} entries, expected ${length} (${shape})`,
    );
  }
  return value;
}

/** Validates what the oracle returned; returns its arrays. */
function checkOutputJacobian(result: OutputJacobian, layout: Layout) {
  if (typeof result !== "object" || result === null) {
    throw new InvalidArgumentError(OWNER, "outputJacobian()", result, "an OutputJacobian object");
  }
  const d = layout.size;
  const b = checkCount(result.examples, "examples");
  const c = checkCount(result.outputs, "outputs");
  const n = b * c;
  const jacobian = checkArray(result.jacobian, "jacobian", n * d, `${b}·${c} rows × ${d} columns`);
  checkArray(result.outputGradient, "outputGradient", n, `${b} examples × ${c} outputs`);
  const hessian = checkArray(result.outputHessian, "outputHessian", n * c, `${b} blocks ${c}×${c}`);
  const penalty =
    result.penalty === undefined
      ? undefined
      : checkArray(result.penalty, "penalty", d, `one per parameter`);
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      const v = jacobian[r * d + j];
      if (!Number.isFinite(v)) {
        const t = layout.tensors.find((s) => j < s.offset + s.size)!;
        throw new RangeError(
          unchanged(
            `the output Jacobian is not finite: row ${r} (example ${Math.floor(r / c)}, output ${r % c}), ` +
              `${t.name}[${j - t.offset}] = ${v}`,
          ),
        );
      }
    }
  }
  if (penalty) {
    for (let j = 0; j < d; j++) {
      if (!(penalty[j] >= 0) || penalty[j] === Infinity) {
        throw new InvalidArgumentError(
          OWNER,
          `outputJacobian().penalty[${j}]`,
          penalty[j],
          "a finite number >= 0",
        );
      }
    }
  }
  return { b, c, n, jacobian, hessian, penalty };
}

/** f at the current parameters: the step context's loss, else one evaluation. */
async function currentValue(ctx: StepContext, value: (p: FloatArray) => unknown): Promise<number> {
  const f = ctx.loss ?? (await value(ctx.params));
  if (typeof f !== "number" || !Number.isFinite(f)) {
    throw new RangeError(unchanged(`f(θ) at the current parameters is not finite (${String(f)})`));
  }
  return f;
}

/**
 * EGN's step: the regularized Gauss-Newton direction from the objective's `outputJacobian`,
 * with optional momentum, line search and adaptive regularization (see the file header). The
 * update buffer comes in holding ∇f(θ) and leaves holding the signed step −α·p: chain nothing
 * after it that expects a direction. Needs `outputJacobian` (and `value` for the line search or
 * the adaptive regularization) of the step's objective.
 */
export function scaleByEgn(options: EgnOptions = {}): GradientTransform<EgnState> {
  const s = resolve(options);
  const requester = `optimizer ${OWNER}`;
  const workspaces = new WeakMap<Layout, Workspace>();
  const workspaceFor = (layout: Layout): Workspace => {
    let w = workspaces.get(layout);
    if (!w) workspaces.set(layout, (w = new Workspace(layout)));
    return w;
  };
  const needsValue = s.lineSearch || s.adaptiveDamping;

  return {
    name: "scaleByEgn",
    needs: needsValue ? ["outputJacobian", "value"] : ["outputJacobian"],
    init(layout) {
      workspaceFor(layout);
      const state: EgnState = { count: 0, stepSize: 0, damping: s.damping };
      if (s.momentum > 0) state.velocity = new Float64Array(layout.size);
      return state;
    },
    async update(u, state, ctx) {
      const objective: Objective | undefined = ctx.objective;
      if (objective === undefined) {
        throw new MissingOracleError(
          "(none given)",
          "outputJacobian",
          `${requester} (drive it with opt.step(objective) or opt.update(grads, objective))`,
        );
      }
      const outputJacobian = requireOracle(objective, "outputJacobian", requester);
      const value = needsValue ? requireOracle(objective, "value", requester) : undefined;
      const { layout, params } = ctx;
      const d = layout.size;
      const w = workspaceFor(layout);
      const lr = checkNumber(
        OWNER,
        `learningRate (at step ${state.count})`,
        valueAt(s.learningRate, state.count),
        { min: 0 },
      );

      const { b, c, n, jacobian, hessian, penalty } = checkOutputJacobian(
        await outputJacobian(params),
        layout,
      );
      const fromOutputs = s.solveSpace === "outputs" || (s.solveSpace === "auto" && n < d);
      w.reserve(b, c, d, fromOutputs);
      const { gradient, inverseDiagonal, rootInverse, diagonal, scaledGradient, direction, rows } =
        w;
      const lambda = state.damping;
      // The oracle's arrays may be overwritten by the line search's value calls: keep π.
      if (penalty) w.penalty.set(penalty);
      for (let j = 0; j < d; j++) {
        gradient[j] = u[j];
        diagonal[j] = lambda + (penalty ? penalty[j] : 0);
        inverseDiagonal[j] = 1 / diagonal[j];
        rootInverse[j] = Math.sqrt(inverseDiagonal[j]);
      }
      const bad = factorSemidefiniteBlocks(
        hessian,
        b,
        c,
        SEMIDEFINITE_TOLERANCE,
        w.factor,
        w.factorScratch,
      );
      if (bad >= 0) {
        throw new RangeError(
          unchanged(
            `the output Hessian of example ${bad} is not a finite positive semidefinite ${c}×${c} matrix`,
          ),
        );
      }
      if (fromOutputs) {
        // With R = Ĵ·A^{−1/2}: p = A⁻¹g − A^{−1/2}·Rᵀ (b·I + R·Rᵀ)⁻¹ R·A^{−1/2}g.
        factorTimesJacobian(w.factor, jacobian, b, c, d, rootInverse, rows);
        for (let j = 0; j < d; j++) scaledGradient[j] = rootInverse[j] * gradient[j];
        rowsTimes(rows, n, d, scaledGradient, w.right);
        rowGram(rows, n, d, b, w.system);
        if (!choleskyFactor(w.system, n, w.system)) {
          throw new RangeError(
            unchanged("the push-through system is not numerically positive definite"),
          );
        }
        choleskySolve(w.system, n, w.right, w.solution);
        rowsTransposeTimes(rows, n, d, w.solution, w.projected);
        for (let j = 0; j < d; j++) {
          direction[j] = inverseDiagonal[j] * gradient[j] - rootInverse[j] * w.projected[j];
        }
      } else {
        // (ĴᵀĴ/b + A)·p = g, ĴᵀĴ as the Gram matrix of Ĵ's columns.
        factorTimesJacobian(w.factor, jacobian, b, c, d, null, rows);
        transposeRows(rows, n, d, w.transposed);
        const system = w.system;
        rowGram(w.transposed, d, n, 0, system);
        for (let i = 0; i < d; i++) {
          for (let j = 0; j < i; j++) system[i * d + j] /= b;
          system[i * d + i] = system[i * d + i] / b + diagonal[i];
        }
        if (!choleskyFactor(system, d, system)) {
          throw new RangeError(
            unchanged("the Gauss-Newton system is not numerically positive definite"),
          );
        }
        choleskySolve(system, d, gradient, direction);
      }

      const velocity = state.velocity as Float64Array | undefined;
      if (velocity) {
        const beta = s.momentum;
        const correction = 1 - beta ** (state.count + 1);
        for (let j = 0; j < d; j++) {
          const v = beta * velocity[j] + (1 - beta) * direction[j];
          w.velocity[j] = v;
          direction[j] = v / correction;
        }
      }
      let slope = 0;
      for (let j = 0; j < d; j++) slope += gradient[j] * direction[j];

      const { step, trial } = w;
      const setStep = (alpha: number): void => {
        for (let j = 0; j < d; j++) step[j] = -alpha * direction[j];
      };
      const trialValue = async (alpha: number): Promise<number> => {
        setStep(alpha);
        for (let j = 0; j < d; j++) trial[j] = params[j] + step[j];
        return await value!(trial);
      };

      let alpha = lr;
      let before = NaN;
      let after = NaN;
      if (s.lineSearch) {
        before = await currentValue(ctx, value!);
        const eps = layout.dtype === "float32" ? 2 ** -23 : 2 ** -52;
        const previous = state.count === 0 ? lr : state.stepSize;
        alpha =
          s.reset === "increase"
            ? Math.min(previous * s.increaseFactor, lr)
            : Math.min(previous, lr);
        after = await trialValue(alpha);
        for (let round = 0; round < s.maxBacktracks; round++) {
          let violated = !(before - after + eps >= s.armijo * alpha * slope);
          if (violated) {
            alpha = Math.min(alpha * s.backtrackFactor, lr);
            after = await trialValue(alpha);
          }
          if (s.reset === "goldstein" && before - after > (1 - s.armijo) * alpha * slope) {
            alpha = Math.min(alpha * s.increaseFactor, lr);
            after = await trialValue(alpha);
            violated = true;
          }
          if (!violated) break;
        }
      } else {
        setStep(alpha);
      }

      let nextDamping = lambda;
      if (s.adaptiveDamping) {
        if (Number.isNaN(before)) before = await currentValue(ctx, value!);
        if (Number.isNaN(after)) after = await trialValue(alpha);
        // Ĵ·p, from the rows as stored (scaled by A^{−1/2} in the output space).
        if (fromOutputs) {
          for (let j = 0; j < d; j++) scaledGradient[j] = direction[j] / rootInverse[j];
          rowsTimes(rows, n, d, scaledGradient, w.projected);
        } else rowsTimes(rows, n, d, direction, w.projected);
        let curvature = 0;
        for (let r = 0; r < n; r++) curvature += w.projected[r] * w.projected[r];
        curvature /= b;
        if (penalty) for (let j = 0; j < d; j++) curvature += w.penalty[j] * direction[j] ** 2;
        const predicted = -alpha * slope + 0.5 * alpha * alpha * curvature;
        const ratio = (after - before) / predicted;
        if (ratio < s.ratioLow) nextDamping = lambda * s.dampingIncrease;
        else if (ratio > s.ratioHigh) nextDamping = lambda * s.dampingDecrease;
      }

      for (let j = 0; j < d; j++) u[j] = step[j];
      if (velocity) velocity.set(w.velocity);
      state.stepSize = alpha;
      state.damping = nextDamping;
      state.count++;
    },
  };
}

/**
 * Exact Gauss-Newton (Korbit, Adeoye, Bemporad & Zanon, 2024): `θ ← θ − α·(G + λI)⁻¹∇f(θ)`
 * with G the generalized Gauss-Newton matrix of the batch, solved in the batch's output space.
 * Needs an objective with `outputJacobian` (`opt.step(objective)`).
 * @example `new Optimizer(params, egn({ damping: 1, lineSearch: true }))`
 */
export function egn(options: EgnOptions = {}): ChainTransform {
  return chain(scaleByEgn(options));
}
