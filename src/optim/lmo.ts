/**
 * Steepest descent under a chosen norm, through the linear minimization oracle (LMO) of its
 * unit ball, per tensor.
 *
 * - Bernstein & Newhouse, "Old Optimizer, New Norm: An Anthology", OPT 2024 workshop
 *   (arXiv:2409.20325): steepest descent under a norm ‖·‖ is
 *   `Δ = −(‖g‖_†/λ)·argmax_{‖t‖≤1} ⟨g, t⟩`, so sign descent is steepest descent under ℓ∞,
 *   gradient descent under ℓ2, and orthogonalized updates under the spectral norm.
 * - Kovalev, "Understanding Gradient Orthogonalization for Deep Learning via Non-Euclidean
 *   Trust-Region Optimization", arXiv:2503.12645, 2025: the normalized step `Δ = −η·LMO(m)`
 *   on a momentum m is a trust-region method in that norm, and with the spectral norm it is Muon.
 * - Pethick, Xie, Erdogan, Antonakopoulos, Silveti-Falls & Cevher, "Training Deep Learning
 *   Models with Norm-Constrained LMOs", ICML 2025: the same step with one norm and radius per
 *   layer.
 *
 * For each tensor X with gradient G (m the LMO's input, d the direction before `−lr`):
 *
 *     m ← μ·m + (1−μ)·G  (momentum μ, default 0: m = G);  Nesterov: m' = (1−μ)·G + μ·m
 *     u = argmax_{‖t‖≤1} ⟨m, t⟩              the unit ball's LMO (up to its sign)
 *       spectral: U·Vᵀ of m = U·Σ·Vᵀ        (Newton–Schulz; Muon's quintic by default)
 *       linf:     sign(m)                   (sign descent)
 *       l2:       m / ‖m‖₂                  (normalized gradient descent, per tensor)
 *       l1:       sign(m_k)·e_k, k = argmax |m_k|   (greedy coordinate descent)
 *     d = ρ·u                                (normalized step of length ρ in the norm)
 *     d = ρ·‖m‖_†·u,  ‖m‖_† = ⟨m, u⟩          (`steepest: true`: Bernstein & Newhouse's step)
 *
 * The dual norms ‖·‖_† are the nuclear norm, ℓ1, ℓ2 and ℓ∞. With `steepest`, ℓ2 gives plain
 * gradient descent and ℓ∞ gives ‖m‖₁·sign(m). For spectral the dual is ⟨m, NS(m)⟩, the nuclear
 * norm up to the Newton–Schulz approximation (exact with the converged cubic iteration).
 *
 * The norm and the radius ρ are chosen per tensor (a name or a function of the tensor); the
 * default norm is spectral for tensors with two or more dimensions (viewed as [shape[0], rest],
 * as Muon does) and ℓ∞ for the others. A spectral norm chosen for a vector is rejected when the
 * state is created, naming the tensor. The LMO of the zero vector is taken as 0.
 *
 * Defaults, chosen here (the papers fix none that carries over): lr 0.02 (Muon's, whose steps
 * have the same spectral length), radius 1, momentum 0, Newton–Schulz as in Muon.
 */
import {
  dotRange,
  largestCoordinateRange,
  muonMomentum,
  scaleRange,
  signRange,
} from "../kernels/muon.js";
import type { FloatArray, Layout, TensorSpec } from "../params/layout.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { DECOUPLED_DECAY_OPTIONS, withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import type { MatrixShape } from "./matrices.js";
import { matrixShape, tensorViews } from "./matrices.js";
import type { OrthogonalizationOptions } from "./muon.js";
import { ORTHOGONALIZATION_OPTIONS, orthogonalizer } from "./muon.js";
import { perLayout } from "./perLayout.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

/** The norms whose unit-ball LMO {@link scaleByLmo} takes. */
export type LmoNorm = "spectral" | "linf" | "l2" | "l1";

/** Every {@link LmoNorm}, in the order error messages list them. */
export const LMO_NORMS: readonly LmoNorm[] = ["spectral", "linf", "l2", "l1"];

/** The default norm choice: spectral for matrices (two or more dimensions), ℓ∞ otherwise. */
export const spectralForMatrices = (tensor: TensorSpec): LmoNorm =>
  tensor.shape.length >= 2 ? "spectral" : "linf";

/** The norm, radius and Newton–Schulz settings of the LMO transforms. */
export interface LmoNormOptions extends OrthogonalizationOptions {
  /** The norm, for all tensors or per tensor (default {@link spectralForMatrices}). */
  norm?: LmoNorm | ((tensor: TensorSpec) => LmoNorm);
  /** Radius ρ > 0 of the norm ball, for all tensors or per tensor (default 1). */
  radius?: number | ((tensor: TensorSpec) => number);
}

/** The option names of {@link LmoNormOptions}. */
export const LMO_NORM_OPTIONS: readonly string[] = ["norm", "radius", ...ORTHOGONALIZATION_OPTIONS];

/** Options of {@link scaleByLmo}. */
export interface ScaleByLmoOptions extends LmoNormOptions {
  /** Momentum μ ∈ [0, 1) of the gradient EMA fed to the LMO (default 0). */
  momentum?: number;
  /** Feed the LMO Muon's Nesterov look-ahead (1−μ)·G + μ·m (default false). */
  nesterov?: boolean;
  /** Multiply the step by the dual norm of the LMO's input (default false; see the file header). */
  steepest?: boolean;
}

/** State of {@link scaleByLmo}; with momentum > 0 it also holds the buffer `mu`. */
export interface LmoState extends State {
  /** Updates applied so far. */
  count: number;
}

/** The norm and radius of one tensor, resolved once per layout. */
export interface LmoTensorPlan {
  /** The tensor's norm. */
  readonly norm: LmoNorm;
  /** The radius ρ of its ball. */
  readonly radius: number;
  /** The matrix view, for the spectral norm (null for the others). */
  readonly matrix: MatrixShape | null;
}

/**
 * The per-tensor LMO of {@link LmoNormOptions}, shared by the transforms that step along it.
 * Tensors are addressed by their index in the layout; the buffer is any buffer of the layout.
 */
export interface LmoOracle {
  /**
   * The plan of every tensor of `layout`, made (and checked: a norm or radius function's
   * result, a spectral norm on a vector) when first asked for that layout.
   */
  plans(layout: Layout): readonly LmoTensorPlan[];
  /**
   * Replaces tensor `k` of `u` by the LMO of its unit ball at it (radius not applied). Returns
   * ⟨input, LMO⟩, the dual norm of the input, when `withDual`; otherwise 1.
   */
  replace(u: FloatArray, layout: Layout, k: number, withDual: boolean): number;
  /** The dual norm of tensor `k` of `u` (⟨u, NS(u)⟩ for spectral), leaving `u` as it is. */
  dualNorm(u: FloatArray, layout: Layout, k: number): number;
}

/**
 * Checks the norm, radius and Newton–Schulz options (errors name `owner`) and builds their
 * per-tensor LMO.
 */
export function lmoOracle(owner: string, options: LmoNormOptions): LmoOracle {
  const norm = options.norm ?? spectralForMatrices;
  if (typeof norm !== "function") checkChoice(owner, "norm", norm, LMO_NORMS);
  const radius = options.radius ?? 1;
  if (typeof radius !== "function") checkNumber(owner, "radius", radius, { above: 0 });
  const orthogonalize = orthogonalizer(owner, options);

  const plans = perLayout((layout): LmoTensorPlan[] =>
    layout.tensors.map((t) => {
      const chosen =
        typeof norm === "function"
          ? checkChoice(owner, `norm of ${t.name}`, norm(t), LMO_NORMS)
          : norm;
      const rho =
        typeof radius === "function"
          ? checkNumber(owner, `radius of ${t.name}`, radius(t), { above: 0 })
          : radius;
      return {
        norm: chosen,
        radius: rho,
        matrix: chosen === "spectral" ? matrixShape(owner, t) : null,
      };
    }),
  );
  // The spectral dual norm needs the polar factor beside the matrix it came from.
  const scratchFor = perLayout((layout): FloatArray => layout.zeros());
  const polarOf = (u: FloatArray, layout: Layout, k: number): FloatArray => {
    const { rows, cols } = plans(layout)[k].matrix!;
    const polar = tensorViews(scratchFor(layout), layout)[k];
    orthogonalize(tensorViews(u, layout)[k], rows, cols, polar);
    return polar;
  };

  return {
    plans,
    replace(u, layout, k, withDual) {
      const { offset, size } = layout.tensors[k];
      const end = offset + size;
      const plan = plans(layout)[k];
      let dual = 1;
      if (plan.norm === "linf") {
        if (withDual) dual = l1Norm(u, offset, end);
        signRange(u, offset, end);
      } else if (plan.norm === "l2") {
        const length = Math.sqrt(dotRange(u, u, offset, end));
        if (withDual) dual = length;
        scaleRange(u, length > 0 ? 1 / length : 0, offset, end);
      } else if (plan.norm === "l1") {
        if (withDual) dual = maxNorm(u, offset, end);
        largestCoordinateRange(u, offset, end);
      } else {
        const view = tensorViews(u, layout)[k];
        if (withDual) {
          const polar = polarOf(u, layout, k);
          dual = dotRange(view, polar);
          view.set(polar);
        } else {
          orthogonalize(view, plan.matrix!.rows, plan.matrix!.cols, view);
        }
      }
      return dual;
    },
    dualNorm(u, layout, k) {
      const { offset, size } = layout.tensors[k];
      const end = offset + size;
      const plan = plans(layout)[k];
      if (plan.norm === "linf") return l1Norm(u, offset, end);
      if (plan.norm === "l2") return Math.sqrt(dotRange(u, u, offset, end));
      if (plan.norm === "l1") return maxNorm(u, offset, end);
      return dotRange(tensorViews(u, layout)[k], polarOf(u, layout, k));
    },
  };
}

const SCALE_OPTIONS = ["momentum", "nesterov", "steepest", ...LMO_NORM_OPTIONS];

/**
 * Replaces each tensor's gradient (or momentum) by ρ times the LMO of the chosen norm's unit
 * ball, optionally times its dual norm (the direction, before `−lr`).
 */
export function scaleByLmo(options: ScaleByLmoOptions = {}): GradientTransform<LmoState> {
  const owner = "scaleByLmo";
  checkKnownOptions(owner, options, SCALE_OPTIONS);
  const oracle = lmoOracle(owner, options);
  const beta = checkBeta(owner, "momentum", options.momentum ?? 0);
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  const steepest = checkBoolean(owner, "steepest", options.steepest ?? false);

  return {
    name: "scaleByLmo",
    init(layout) {
      oracle.plans(layout);
      const state: LmoState = { count: 0 };
      if (beta > 0) state.mu = layout.zeros();
      return state;
    },
    update(u, state, ctx) {
      const { layout } = ctx;
      const plans = oracle.plans(layout);
      const mu = beta > 0 ? (state.mu as FloatArray) : null;
      for (let k = 0; k < plans.length; k++) {
        const { offset, size } = layout.tensors[k];
        if (size === 0) continue;
        const end = offset + size;
        if (mu) muonMomentum(u, mu, beta, nesterov, offset, end);
        const dual = oracle.replace(u, layout, k, steepest);
        scaleRange(u, plans[k].radius * dual, offset, end);
      }
      state.count++;
    },
  };
}

function l1Norm(u: FloatArray, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += Math.abs(u[i]);
  return s;
}

function maxNorm(u: FloatArray, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s = Math.max(s, Math.abs(u[i]));
  return s;
}

/** Options of {@link lmo}. */
export interface LmoOptions extends ScaleByLmoOptions, DecoupledDecayOptions {
  /** Step size (constant or schedule; default 0.02). */
  learningRate?: Hyper;
  /** Decoupled weight decay, X ← X − lr·wd·X (default 0). */
  weightDecay?: Hyper;
}

/** Descent along the LMO of a chosen norm per tensor, with decoupled weight decay. */
export function lmo(options: LmoOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "lmo",
    options,
    [...SCALE_OPTIONS, ...DECOUPLED_DECAY_OPTIONS],
    { learningRate: 0.02, weightDecay: 0 },
    scaleByLmo,
  );
}
