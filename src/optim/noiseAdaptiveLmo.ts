/**
 * Noise-adaptive layer-wise learning rates on an LMO optimizer: each tensor (layer) steps along
 * the linear minimization oracle of its norm with its own AdaGrad-Norm learning rate, fed by the
 * gradient measured in the dual of that norm.
 *
 * - Ward, Wu & Bottou, "AdaGrad Stepsizes: Sharp Convergence Over Nonconvex Landscapes",
 *   ICML 2019 (JMLR 21, 2020): the step size η/b_t with b_t² = b_0² + Σ_s ‖g_s‖² converges on
 *   smooth nonconvex problems without knowing the noise level σ or the smoothness, and adapts
 *   to σ: under noise b_t grows like σ·√t, so the rate falls like η/(σ·√t).
 * - Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates"
 *   (AdaGO), arXiv:2509.02981, 2025: the same accumulator per matrix, with the Frobenius norm
 *   clamped at γ, sizes Muon's orthogonalized momentum, α = max(ε, η·min(‖G‖_F, γ)/v).
 * - The LMO step of src/optim/lmo.ts (Bernstein & Newhouse, arXiv:2409.20325; Pethick et al.,
 *   ICML 2025): steepest descent under a norm ‖·‖ is ‖g‖_†·LMO(g), with ‖·‖_† the dual norm.
 *
 * Here AdaGO's step size is carried over to every norm of lmo.ts, measuring each gradient in the
 * dual norm of its tensor's LMO, which is how the steepest-descent step and its analysis measure
 * it. For each tensor with gradient G, momentum m, norm ‖·‖ and radius ρ:
 *
 *     n = ‖G‖_†                       nuclear (spectral), ℓ1 (linf), ℓ2 (l2), ℓ∞ (l1)
 *       = ‖G‖_F                       with `measure: "frobenius"`
 *     v² ← v² + min(n, γ)²            (v starts at v₀ > 0)
 *     η_layer = η / v                 the layer's learning rate (AdaGrad-Norm's η/b_t)
 *     m ← μ·m + (1−μ)·G               (Nesterov: the LMO gets (1−μ)·G + μ·m)
 *     X ← X − max(ε, η_layer·min(n, γ))·ρ·LMO(m)
 *
 * Without momentum, clamp and floor the step is η_layer·ρ·‖G‖_†·LMO(G): AdaGrad-Norm's rate applied
 * to the steepest-descent step of each layer's norm. For ℓ2 that is AdaGrad-Norm per tensor. With
 * the spectral norm, `measure: "frobenius"`, radius 1 and AdaGO's η, μ, γ, ε and v₀, the update is
 * AdaGO's (src/optim/adago.ts, whose shape scale is off by default), bit for bit. A layer whose
 * gradients carry more noise accumulates a larger v and so takes smaller steps than a quiet layer
 * of the same group.
 *
 * The spectral dual norm is ⟨G, NS(G)⟩ with the Newton–Schulz iteration of the LMO: the nuclear
 * norm when the iteration converges (the cubic one with enough steps), an approximation of it
 * with Muon's quintic. With momentum this costs a second orthogonalization per matrix and step
 * (the LMO's input is m, not G); without momentum the LMO's own result serves.
 *
 * This is not LANTON (Hao, Gong, Xu, Wang & Liu, "Noise-Adaptive Layerwise Learning Rates:
 * Accelerating Geometry-Aware Optimization for Deep Neural Network Training", arXiv:2510.14009),
 * which also sets layer-wise rates for LMO optimizers from the gradient noise in the dual norm,
 * by a rule of its own.
 *
 * In a chain the step is split as `−η·(max(ε/η, min(n, γ)/v)·ρ·LMO(m))`, as in AdaGO: this
 * transform gives the direction and the learning-rate transform multiplies by −η; at η = 0 (a
 * warm-up's first step) there is no step.
 *
 * Defaults, chosen here (no source fixes them for this combination): η = 0.1, μ = 0.95,
 * ε = 1e-6 and v₀ = 1e-6 as src/optim/adago.ts chose them (the first step then has length
 * ≈ η·ρ in the norm, whatever the gradient's scale); the norm, radius and Newton–Schulz
 * settings of src/optim/lmo.ts; and no clamp, γ = ∞, as in Ward et al.'s AdaGrad-Norm. AdaGO
 * clamps at γ = 1 so that a few large early gradients do not freeze the step size, but a clamp
 * also caps the measured noise: layers whose gradients all exceed γ get the same rate, and dual
 * norms grow with the size of a layer (the ℓ1 norm of a vector with its length), so no single γ
 * suits every layer. Set γ to recover AdaGO's safeguard.
 */
import { dotRange, muonMomentum, scaleRange } from "../kernels/muon.js";
import { InvalidArgumentError } from "../errors.js";
import type { FloatArray } from "../params/layout.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { LmoNormOptions } from "./lmo.js";
import { LMO_NORM_OPTIONS, lmoOracle } from "./lmo.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import {
  checkBoolean,
  checkChoice,
  checkHyper,
  checkKnownOptions,
  checkNumber,
} from "./validate.js";

/** How {@link scaleByNoiseAdaptiveLmo} measures each gradient. */
export type GradientMeasure = "dual" | "frobenius";

const MEASURES: readonly GradientMeasure[] = ["dual", "frobenius"];

/** Options of {@link scaleByNoiseAdaptiveLmo}. */
export interface ScaleByNoiseAdaptiveLmoOptions extends LmoNormOptions {
  /** η ≥ 0, the same learning rate as the chain's (constant or schedule; default 0.1). */
  learningRate?: Hyper;
  /** Momentum μ ∈ [0, 1) of the gradient EMA fed to the LMO (default 0.95). */
  momentum?: number;
  /** Feed the LMO Muon's Nesterov look-ahead (1−μ)·G + μ·m (default false). */
  nesterov?: boolean;
  /**
   * The gradient's size in the accumulator: `"dual"`, the dual norm of the tensor's LMO norm
   * (default), or `"frobenius"`, its ℓ2 norm whatever the LMO (AdaGO's).
   */
  measure?: GradientMeasure;
  /** Clamp γ > 0 of the measured norm (default Infinity, no clamp; AdaGO uses 1). */
  gamma?: number;
  /** Floor ε ≥ 0 of the step size (default 1e-6). */
  eps?: number;
  /** Initial accumulator v₀ > 0 (default 1e-6). */
  v0?: number;
}

/** State of {@link scaleByNoiseAdaptiveLmo}; with momentum > 0 it also holds the buffer `mu`. */
export interface NoiseAdaptiveLmoState extends State {
  /** Updates applied so far (drives a scheduled η). */
  count: number;
  /**
   * v², one per tensor: v₀² plus the clamped squared gradient norms. The layer's learning rate
   * is η/√v².
   */
  vSquared: Float64Array;
}

const SCALE_OPTIONS = [
  "learningRate",
  "momentum",
  "nesterov",
  "measure",
  "gamma",
  "eps",
  "v0",
  ...LMO_NORM_OPTIONS,
];

/**
 * Each tensor's LMO direction sized by its own AdaGrad-Norm rate,
 * `max(ε/η, min(n, γ)/v)·ρ·LMO(m)`, to be followed by the learning rate η (see the file header).
 */
export function scaleByNoiseAdaptiveLmo(
  options: ScaleByNoiseAdaptiveLmoOptions = {},
): GradientTransform<NoiseAdaptiveLmoState> {
  const owner = "scaleByNoiseAdaptiveLmo";
  checkKnownOptions(owner, options, SCALE_OPTIONS);
  const learningRate = checkHyper(owner, "learningRate", options.learningRate ?? 0.1, {
    min: 0,
  });
  const beta = checkBeta(owner, "momentum", options.momentum ?? 0.95);
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  const measure = checkChoice(owner, "measure", options.measure ?? "dual", MEASURES);
  const gamma = checkClamp(owner, options.gamma ?? Infinity);
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-6, { min: 0 });
  const v0 = checkNumber(owner, "v0", options.v0 ?? 1e-6, { above: 0 });
  const oracle = lmoOracle(owner, options);
  // Without momentum the LMO's input is the gradient, so the LMO yields its dual norm as well.
  const dualFromLmo = measure === "dual" && beta === 0;

  return {
    name: "scaleByNoiseAdaptiveLmo",
    init(layout) {
      oracle.plans(layout);
      const state: NoiseAdaptiveLmoState = {
        count: 0,
        vSquared: new Float64Array(layout.tensors.length).fill(v0 * v0),
      };
      if (beta > 0) state.mu = layout.zeros();
      return state;
    },
    update(u, state, ctx) {
      const { layout } = ctx;
      const plans = oracle.plans(layout);
      const eta = valueAt(learningRate, state.count);
      // A schedule may reach η = 0, where the whole step is 0 whatever the floor.
      const floor = eta > 0 ? eps / eta : 0;
      const mu = beta > 0 ? (state.mu as FloatArray) : null;
      for (let k = 0; k < plans.length; k++) {
        const { offset, size } = layout.tensors[k];
        if (size === 0) continue;
        const end = offset + size;
        let measured = 0;
        if (measure === "frobenius") measured = Math.sqrt(dotRange(u, u, offset, end));
        else if (!dualFromLmo) measured = oracle.dualNorm(u, layout, k);
        if (mu) muonMomentum(u, mu, beta, nesterov, offset, end);
        const inputDual = oracle.replace(u, layout, k, dualFromLmo);
        if (dualFromLmo) measured = inputDual;
        const clamped = Math.min(measured, gamma);
        const vSquared = state.vSquared[k] + clamped * clamped;
        state.vSquared[k] = vSquared;
        const relativeStep = Math.max(floor, clamped / Math.sqrt(vSquared));
        scaleRange(u, relativeStep * plans[k].radius, offset, end);
      }
      state.count++;
    },
  };
}

/** γ: a positive number, or Infinity for no clamp. */
function checkClamp(owner: string, gamma: unknown): number {
  if (gamma === Infinity) return gamma;
  if (typeof gamma === "number" && Number.isFinite(gamma) && gamma > 0) return gamma;
  throw new InvalidArgumentError(owner, "gamma", gamma, "a number > 0 (Infinity for no clamp)");
}

/** Options of {@link noiseAdaptiveLmo}. */
export interface NoiseAdaptiveLmoOptions
  extends ScaleByNoiseAdaptiveLmoOptions, DecoupledDecayOptions {
  /** Decoupled weight decay, X ← X − η·wd·X (default 0). */
  weightDecay?: Hyper;
}

/**
 * Descent along the LMO of a chosen norm per tensor, each tensor with its own noise-adaptive
 * (AdaGrad-Norm) learning rate measured in the dual norm; decoupled weight decay.
 */
export function noiseAdaptiveLmo(options: NoiseAdaptiveLmoOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "noiseAdaptiveLmo",
    options,
    [...SCALE_OPTIONS, "weightDecay", "weightDecayMask"],
    { learningRate: 0.1, weightDecay: 0 },
    // The step size of the direction is the chain's own learning rate (see the file header).
    (scaleOptions, learningRate) => scaleByNoiseAdaptiveLmo({ ...scaleOptions, learningRate }),
  );
}
