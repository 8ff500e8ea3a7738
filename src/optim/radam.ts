/**
 * RAdam: Adam with a rectified adaptive learning rate.
 *
 * Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate and
 * Beyond", ICLR 2020.
 *
 * Update at step t (g the gradient, torch.optim 1.13's form):
 *
 *     m_t = β1·m + (1−β1)·g                 v_t = β2·v + (1−β2)·g²
 *     ρ_∞ = 2/(1−β2) − 1                    ρ_t = ρ_∞ − 2t·β2^t/(1−β2^t)
 *     m̂_t = m_t/(1−β1^t)
 *     if ρ_t > 5:  r_t = √[(ρ_t−4)(ρ_t−2)ρ_∞ / ((ρ_∞−4)(ρ_∞−2)ρ_t)]
 *                  d_t = r_t·m̂_t·√(1−β2^t)/(√v_t + ε)
 *     else:        d_t = m̂_t                (variance of the adaptive rate not yet tractable)
 *     θ ← θ − lr·d_t, with L2 weight decay g ← g + wd·θ first (torch 1.13),
 *     or θ ← θ − lr·(d_t + wd·θ) with `decoupledWeightDecay` (the `decoupled_weight_decay`
 *     option of later torch releases, closer to the authors' implementation).
 *
 * ε is added to √v_t before the bias correction √(1−β2^t) is applied, as torch does. The
 * threshold 5 is torch's; the paper's Algorithm 2 rectifies once ρ_t > 4
 * (`rectificationThreshold` chooses).
 *
 * Defaults are torch.optim.RAdam's (v1.13): lr 1e-3, β = (0.9, 0.999), ε = 1e-8, weight decay
 * 0. Conformance: test/conformance against torch.optim.RAdam trajectories.
 */
import { radamDirection } from "../kernels/radam.js";
import type { FloatArray, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByRadam}. */
export interface ScaleByRadamOptions {
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to √v outside the square root (default 1e-8). */
  eps?: Hyper;
  /** Rectify (use the adaptive rate) once ρ_t exceeds this; at least 4 (default 5, torch's). */
  rectificationThreshold?: number;
}

/** State of {@link scaleByRadam}. */
export interface RadamState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** First moment m. */
  mu: FloatArray;
  /** Second moment v. */
  nu: FloatArray;
}

/** The variance rectification r_t at step `t`, or null while ρ_t ≤ `threshold`. */
export function radamRectification(beta2: number, t: number, threshold = 5): number | null {
  const rhoInf = 2 / (1 - beta2) - 1;
  const beta2t = beta2 ** t;
  const rho = rhoInf - (2 * t * beta2t) / (1 - beta2t);
  if (!(rho > threshold)) return null;
  return Math.sqrt(((rho - 4) * (rho - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rho));
}

/** Rescales the gradient by RAdam's rectified direction (before `−lr`). */
export function scaleByRadam(options: ScaleByRadamOptions = {}): GradientTransform<RadamState> {
  const owner = "scaleByRadam";
  checkKnownOptions(owner, options, ["beta1", "beta2", "eps", "rectificationThreshold"]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const eps = checkHyper(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  // Below 4 the rectification term would take the square root of a negative number.
  const threshold = checkNumber(
    owner,
    "rectificationThreshold",
    options.rectificationThreshold ?? 5,
    { min: 4 },
  );
  return {
    name: "scaleByRadam",
    init(layout) {
      return { count: 0, mu: layout.zeros(), nu: layout.zeros() };
    },
    update(u, state) {
      const t = state.count + 1;
      const e = valueAt(eps, state.count);
      const rectification = radamRectification(beta2, t, threshold);
      radamDirection(
        u,
        state.mu,
        state.nu,
        beta1,
        beta2,
        e,
        1 - beta1 ** t,
        1 - beta2 ** t,
        rectification,
      );
      state.count = t;
    },
  };
}

/** Options of {@link radam}. */
export interface RadamOptions extends ScaleByRadamOptions {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** Weight decay (default 0): L2 added to the gradient, or decoupled (see below). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
  /** Decay the weights directly, `θ ← θ − lr·wd·θ`, as AdamW (default false: torch 1.13's L2). */
  decoupledWeightDecay?: boolean;
}

/** torch.optim.RAdam (v1.13), optionally with decoupled weight decay (RAdamW). */
export function radam(options: RadamOptions = {}): ChainTransform {
  const owner = "radam";
  checkKnownOptions(owner, options, [
    "learningRate",
    "beta1",
    "beta2",
    "eps",
    "rectificationThreshold",
    "weightDecay",
    "weightDecayMask",
    "decoupledWeightDecay",
  ]);
  const {
    learningRate = 1e-3,
    weightDecay = 0,
    weightDecayMask,
    decoupledWeightDecay = false,
    ...radamOptions
  } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const decoupled = checkBoolean(owner, "decoupledWeightDecay", decoupledWeightDecay);
  const direction = scaleByRadam(radamOptions);
  if (wd === 0) return chain(direction, scaleByLearningRate(lr));
  const decay = addDecayedWeights(wd, { mask: weightDecayMask });
  return decoupled
    ? chain(direction, decay, scaleByLearningRate(lr))
    : chain(decay, direction, scaleByLearningRate(lr));
}
