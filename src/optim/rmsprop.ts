/**
 * RMSprop: divide the gradient by a running root mean square of recent gradients.
 *
 * - Tieleman & Hinton, "Lecture 6e — rmsprop: Divide the gradient by a running average of its
 *   recent magnitude", COURSERA: Neural Networks for Machine Learning, 2012.
 * - Centered variant: Graves, "Generating Sequences With Recurrent Neural Networks",
 *   arXiv:1308.0850, 2013 (its RMSprop subtracts the squared running mean of the gradient).
 *
 * Update at step t (g the gradient, torch.optim 1.13's form):
 *
 *     g ← g + wd·θ                                  (L2 weight decay, when wd ≠ 0)
 *     s_t = α·s + (1−α)·g²
 *     centered:  ḡ_t = α·ḡ + (1−α)·g,  d_t = √(s_t − ḡ_t²) + ε
 *     otherwise: d_t = √s_t + ε                     (ε outside the square root)
 *     momentum μ > 0:  b_t = μ·b + g/d_t,  θ ← θ − lr·b_t
 *     otherwise:       θ ← θ − lr·g/d_t
 *
 * Defaults are torch.optim.RMSprop's (v1.13): lr 1e-2, α = 0.99, ε = 1e-8, weight decay 0,
 * momentum 0, centered off. Conformance: test/conformance against torch.optim.RMSprop
 * trajectories.
 */
import { rmspropDirection } from "../kernels/rmsprop.js";
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
import { checkBoolean, checkHyper, checkKnownOptions } from "./validate.js";

/** Options of {@link scaleByRmsprop}. */
export interface ScaleByRmspropOptions {
  /** Decay α of the running mean square, in [0, 1) (default 0.99). */
  alpha?: number;
  /** Added to the root mean square outside the square root (default 1e-8). */
  eps?: Hyper;
  /** Subtract the squared running mean of the gradient, estimating its variance (default false). */
  centered?: boolean;
  /** Momentum μ applied to the normalized gradient, in [0, 1) (default 0: no buffer). */
  momentum?: number;
}

/** State of {@link scaleByRmsprop}; the optional buffers exist only when their option is on. */
export interface RmspropState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** Running mean square s (torch's `square_avg`). */
  nu: FloatArray;
}

/** Rescales the gradient by RMSprop's direction (before `−lr`). */
export function scaleByRmsprop(
  options: ScaleByRmspropOptions = {},
): GradientTransform<RmspropState> {
  const owner = "scaleByRmsprop";
  checkKnownOptions(owner, options, ["alpha", "eps", "centered", "momentum"]);
  const alpha = checkBeta(owner, "alpha", options.alpha ?? 0.99);
  const eps = checkHyper(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const centered = checkBoolean(owner, "centered", options.centered ?? false);
  const momentum = checkBeta(owner, "momentum", options.momentum ?? 0);
  return {
    name: centered ? "scaleByCenteredRmsprop" : "scaleByRmsprop",
    init(layout) {
      const state: RmspropState = { count: 0, nu: layout.zeros() };
      // Named as torch's `grad_avg` and `momentum_buffer`.
      if (centered) state.gradAvg = layout.zeros();
      if (momentum > 0) state.momentumBuffer = layout.zeros();
      return state;
    },
    update(u, state) {
      rmspropDirection(
        u,
        state.nu,
        centered ? (state.gradAvg as FloatArray) : null,
        momentum > 0 ? (state.momentumBuffer as FloatArray) : null,
        alpha,
        valueAt(eps, state.count),
        momentum,
      );
      state.count++;
    },
  };
}

/** Options of {@link rmsprop}. */
export interface RmspropOptions extends ScaleByRmspropOptions {
  /** Step size (constant or schedule; default 1e-2). */
  learningRate?: Hyper;
  /** L2 penalty added to the gradient, `g ← g + wd·θ` (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** torch.optim.RMSprop (v1.13): plain, centered, with or without momentum. */
export function rmsprop(options: RmspropOptions = {}): ChainTransform {
  const owner = "rmsprop";
  checkKnownOptions(owner, options, [
    "learningRate",
    "alpha",
    "eps",
    "centered",
    "momentum",
    "weightDecay",
    "weightDecayMask",
  ]);
  const { learningRate = 1e-2, weightDecay = 0, weightDecayMask, ...rmsOptions } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const parts: GradientTransform[] = [];
  if (wd !== 0) parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  parts.push(scaleByRmsprop(rmsOptions), scaleByLearningRate(lr));
  return chain(...parts);
}
