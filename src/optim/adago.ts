/**
 * AdaGO: Muon's orthogonalized momentum with an AdaGrad-Norm step size.
 *
 * Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates",
 * arXiv:2509.02981, 2025.
 *
 * Update of each matrix W at step t, with G its gradient (one accumulator v per matrix):
 *
 *     M ← μ·M + (1−μ)·G
 *     v² ← v² + min(‖G‖_F², γ²)                  (v starts at v₀ > 0)
 *     O = Orth(M)                                (Newton–Schulz, src/linalg/newtonSchulz.ts)
 *     α = max(ε, η·min(‖G‖_F, γ) / v)
 *     W ← W − α·O
 *
 * The clamp γ keeps a few large early gradients from freezing the step size (AdaGrad's
 * weakness), and the floor ε keeps it from vanishing. Over T steps with gradients above γ,
 * α falls like η/√t; a run that reaches small gradients slows further, as AdaGrad-Norm does.
 * The paper's algorithm orthogonalizes the plain momentum; `nesterov: true` uses Muon's
 * look-ahead (1−μ)·G + μ·M instead, and `updateScale` Muon's shape scale, both off by default.
 * Decoupled weight decay, W ← W − η·wd·W, is an addition (default 0).
 *
 * In a chain the step is split as `−η·(max(ε/η, min(‖G‖, γ)/v)·O)`: {@link scaleByAdago}
 * produces the direction, the learning-rate transform multiplies by −η, and the product is the
 * paper's `−α·O` for η > 0; at η = 0 (a warm-up's first step) there is no step.
 *
 * Defaults. The paper requires only v₀, γ, ε > 0 and publishes no code; the defaults here are
 * chosen, not the authors': η = 0.1 (the first step has length η in the spectral norm, five
 * times Muon's 0.02, and later steps shrink), μ = 0.95 and 5 Newton–Schulz steps (Muon's),
 * γ = 1, ε = 1e-6 and v₀ = 1e-6 (small enough that the first step is η whatever the scale of
 * the gradient).
 */
import { dotRange, muonMomentum, scaleRange } from "../kernels/muon.js";
import type { FloatArray } from "../params/layout.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { matrixShapes, tensorViews } from "./matrices.js";
import type { MuonUpdateScale, OrthogonalizationOptions } from "./muon.js";
import {
  ORTHOGONALIZATION_OPTIONS,
  checkUpdateScale,
  muonScaleFactor,
  orthogonalizer,
} from "./muon.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByAdago}. */
export interface ScaleByAdagoOptions extends OrthogonalizationOptions {
  /** η ≥ 0, the same learning rate as the chain's (constant or schedule; default 0.1). */
  learningRate?: Hyper;
  /** Momentum μ ∈ [0, 1) (default 0.95). */
  momentum?: number;
  /** Clamp γ > 0 of the gradient norm (default 1). */
  gamma?: number;
  /** Floor ε ≥ 0 of the step size α (default 1e-6). */
  eps?: number;
  /** Initial accumulator v₀ > 0 (default 1e-6). */
  v0?: number;
  /** Orthogonalize Muon's Nesterov look-ahead instead of the momentum (default false). */
  nesterov?: boolean;
  /** Muon's shape scale of the orthogonalized update (default `"none"`, the paper's). */
  updateScale?: MuonUpdateScale;
}

/** State of {@link scaleByAdago}. */
export interface AdagoState extends State {
  /** Updates applied so far (drives a scheduled η). */
  count: number;
  /** Momentum buffer M, per parameter. */
  mu: FloatArray;
  /** v², one per tensor: v₀² plus the clamped squared gradient norms. */
  vSquared: Float64Array;
}

const SCALE_OPTIONS = [
  "learningRate",
  "momentum",
  "gamma",
  "eps",
  "v0",
  "nesterov",
  "updateScale",
  ...ORTHOGONALIZATION_OPTIONS,
];

/**
 * AdaGO's direction for each matrix, `max(ε/η, min(‖G‖, γ)/v)·Orth(M)`, to be followed by the
 * learning rate η (see the file header). Every tensor must have two or more dimensions.
 */
export function scaleByAdago(options: ScaleByAdagoOptions = {}): GradientTransform<AdagoState> {
  const owner = "scaleByAdago";
  checkKnownOptions(owner, options, SCALE_OPTIONS);
  const learningRate = checkHyper(owner, "learningRate", options.learningRate ?? 0.1, {
    min: 0,
  });
  const beta = checkBeta(owner, "momentum", options.momentum ?? 0.95);
  const gamma = checkNumber(owner, "gamma", options.gamma ?? 1, { above: 0 });
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-6, { min: 0 });
  const v0 = checkNumber(owner, "v0", options.v0 ?? 1e-6, { above: 0 });
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  const updateScale = checkUpdateScale(owner, options.updateScale ?? "none");
  const orthogonalize = orthogonalizer(owner, options);
  const shapesOf = matrixShapes(owner);
  return {
    name: "scaleByAdago",
    init(layout) {
      shapesOf(layout);
      const vSquared = new Float64Array(layout.tensors.length).fill(v0 * v0);
      return { count: 0, mu: layout.zeros(), vSquared };
    },
    update(u, state, ctx) {
      const { layout } = ctx;
      const matrices = shapesOf(layout);
      const eta = valueAt(learningRate, state.count);
      const views = tensorViews(u, layout);
      const momentumViews = tensorViews(state.mu, layout);
      for (let k = 0; k < matrices.length; k++) {
        const { offset, size } = layout.tensors[k];
        if (size === 0) continue;
        const shape = matrices[k];
        const clamped = Math.min(Math.sqrt(dotRange(u, u, offset, offset + size)), gamma);
        const vSquared = state.vSquared[k] + clamped * clamped;
        state.vSquared[k] = vSquared;
        muonMomentum(u, state.mu, beta, nesterov, offset, offset + size);
        orthogonalize(nesterov ? views[k] : momentumViews[k], shape.rows, shape.cols, views[k]);
        // A schedule may reach η = 0, where the whole step is 0 whatever the floor.
        const floor = eta > 0 ? eps / eta : 0;
        const relativeStep = Math.max(floor, clamped / Math.sqrt(vSquared));
        scaleRange(u, relativeStep * muonScaleFactor(updateScale, shape), offset, offset + size);
      }
      state.count++;
    },
  };
}

/** Options of {@link adago}. */
export interface AdagoOptions extends ScaleByAdagoOptions, DecoupledDecayOptions {
  /** Decoupled weight decay, W ← W − η·wd·W (default 0; not in the paper). */
  weightDecay?: Hyper;
}

/** AdaGO for layouts made only of matrices; pair it with an element-wise optimizer with `routeMatrices`. */
export function adago(options: AdagoOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "adago",
    options,
    [...SCALE_OPTIONS, "weightDecay", "weightDecayMask"],
    { learningRate: 0.1, weightDecay: 0 },
    // The step size of the direction is the chain's own learning rate (see the file header).
    (scaleOptions, learningRate) => scaleByAdago({ ...scaleOptions, learningRate }),
  );
}
