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
import type { FloatArray, TensorSpec } from "../params/layout.js";
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

const NORMS: readonly LmoNorm[] = ["spectral", "linf", "l2", "l1"];

/** The default norm choice: spectral for matrices (two or more dimensions), ℓ∞ otherwise. */
export const spectralForMatrices = (tensor: TensorSpec): LmoNorm =>
  tensor.shape.length >= 2 ? "spectral" : "linf";

/** Options of {@link scaleByLmo}. */
export interface ScaleByLmoOptions extends OrthogonalizationOptions {
  /** The norm, for all tensors or per tensor (default {@link spectralForMatrices}). */
  norm?: LmoNorm | ((tensor: TensorSpec) => LmoNorm);
  /** Radius ρ > 0 of the norm ball, for all tensors or per tensor (default 1). */
  radius?: number | ((tensor: TensorSpec) => number);
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

/** What {@link scaleByLmo} does with one tensor, resolved once per layout. */
interface TensorPlan {
  readonly norm: LmoNorm;
  readonly radius: number;
  /** The matrix view, for the spectral norm. */
  readonly matrix: MatrixShape | null;
}

const SCALE_OPTIONS = [
  "norm",
  "radius",
  "momentum",
  "nesterov",
  "steepest",
  ...ORTHOGONALIZATION_OPTIONS,
];

/**
 * Replaces each tensor's gradient (or momentum) by ρ times the LMO of the chosen norm's unit
 * ball, optionally times its dual norm (the direction, before `−lr`).
 */
export function scaleByLmo(options: ScaleByLmoOptions = {}): GradientTransform<LmoState> {
  const owner = "scaleByLmo";
  checkKnownOptions(owner, options, SCALE_OPTIONS);
  const norm = options.norm ?? spectralForMatrices;
  if (typeof norm !== "function") checkChoice(owner, "norm", norm, NORMS);
  const radius = options.radius ?? 1;
  if (typeof radius !== "function") checkNumber(owner, "radius", radius, { above: 0 });
  const beta = checkBeta(owner, "momentum", options.momentum ?? 0);
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  const steepest = checkBoolean(owner, "steepest", options.steepest ?? false);
  const orthogonalize = orthogonalizer(owner, options);

  const planFor = perLayout((layout): TensorPlan[] =>
    layout.tensors.map((t) => {
      const chosen =
        typeof norm === "function" ? checkChoice(owner, `norm of ${t.name}`, norm(t), NORMS) : norm;
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
  // The spectral step with `steepest` needs the LMO's input after Newton–Schulz has run.
  const scratchFor = perLayout((layout): FloatArray => layout.zeros());

  return {
    name: "scaleByLmo",
    init(layout) {
      planFor(layout);
      const state: LmoState = { count: 0 };
      if (beta > 0) state.mu = layout.zeros();
      return state;
    },
    update(u, state, ctx) {
      const { layout } = ctx;
      const plan = planFor(layout);
      const mu = beta > 0 ? (state.mu as FloatArray) : null;
      const views = tensorViews(u, layout);
      for (let k = 0; k < plan.length; k++) {
        const { offset, size } = layout.tensors[k];
        if (size === 0) continue;
        const end = offset + size;
        if (mu) muonMomentum(u, mu, beta, nesterov, offset, end);
        const { norm: chosen, radius: rho, matrix } = plan[k];
        let dual = 1;
        if (chosen === "linf") {
          if (steepest) dual = l1Norm(u, offset, end);
          signRange(u, offset, end);
        } else if (chosen === "l2") {
          const length = Math.sqrt(dotRange(u, u, offset, end));
          if (steepest) dual = length;
          scaleRange(u, length > 0 ? 1 / length : 0, offset, end);
        } else if (chosen === "l1") {
          if (steepest) dual = maxNorm(u, offset, end);
          largestCoordinateRange(u, offset, end);
        } else {
          if (steepest) {
            const polar = tensorViews(scratchFor(layout), layout)[k];
            orthogonalize(views[k], matrix!.rows, matrix!.cols, polar);
            dual = dotRange(views[k], polar);
            views[k].set(polar);
          } else {
            orthogonalize(views[k], matrix!.rows, matrix!.cols, views[k]);
          }
        }
        scaleRange(u, rho * dual, offset, end);
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
