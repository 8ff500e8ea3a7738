/**
 * AdaGrad: per-coordinate step sizes from the sum of squared gradients.
 *
 * Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic
 * Optimization", Journal of Machine Learning Research 12, 2011 (the diagonal variant).
 *
 * Update at step t (g the gradient, torch.optim 1.13's form):
 *
 *     g ← g + wd·θ                                  (L2 weight decay, when wd ≠ 0)
 *     s_t = s_{t−1} + g²       (s_0 = initial accumulator value)
 *     lr_t = lr / (1 + (t−1)·lr_decay)            (`learningRateDecay`)
 *     θ ← θ − lr_t · g / (√s_t + ε)
 *
 * Defaults are torch.optim.Adagrad's (v1.13): lr 1e-2, lr_decay 0, weight decay 0, initial
 * accumulator value 0, ε = 1e-10. Conformance: test/conformance against torch.optim.Adagrad
 * trajectories.
 */
import { adagradDirection } from "../kernels/adagrad.js";
import type { FloatArray, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { addDecayedWeights, checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByAdagrad}. */
export interface ScaleByAdagradOptions {
  /** Starting value of every accumulator s_0 (default 0). */
  initialAccumulatorValue?: number;
  /** Added to √s outside the square root (default 1e-10). */
  eps?: Hyper;
}

/** State of {@link scaleByAdagrad}. */
export interface AdagradState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** Running sum of squared gradients s (torch's `sum`). */
  sumOfSquares: FloatArray;
}

/** Divides the gradient by the root of the accumulated squared gradients (before `−lr`). */
export function scaleByAdagrad(
  options: ScaleByAdagradOptions = {},
): GradientTransform<AdagradState> {
  const owner = "scaleByAdagrad";
  checkKnownOptions(owner, options, ["initialAccumulatorValue", "eps"]);
  const initial = checkNumber(
    owner,
    "initialAccumulatorValue",
    options.initialAccumulatorValue ?? 0,
    { min: 0 },
  );
  const eps = checkHyper(owner, "eps", options.eps ?? 1e-10, { min: 0 });
  return {
    name: "scaleByAdagrad",
    init(layout) {
      const sumOfSquares = layout.zeros();
      if (initial !== 0) sumOfSquares.fill(initial);
      return { count: 0, sumOfSquares };
    },
    update(u, state) {
      adagradDirection(u, state.sumOfSquares, valueAt(eps, state.count));
      state.count++;
    },
  };
}

/** Options of {@link adagrad}. */
export interface AdagradOptions extends ScaleByAdagradOptions {
  /** Step size (constant or schedule; default 1e-2). */
  learningRate?: Hyper;
  /** Learning-rate decay: step t uses lr / (1 + (t−1)·learningRateDecay) (default 0). */
  learningRateDecay?: number;
  /** L2 penalty added to the gradient, `g ← g + wd·θ` (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** torch.optim.Adagrad (v1.13). */
export function adagrad(options: AdagradOptions = {}): ChainTransform {
  const owner = "adagrad";
  checkKnownOptions(owner, options, [
    "learningRate",
    "learningRateDecay",
    "weightDecay",
    "weightDecayMask",
    "initialAccumulatorValue",
    "eps",
  ]);
  const {
    learningRate = 1e-2,
    learningRateDecay = 0,
    weightDecay = 0,
    weightDecayMask,
    ...adagradOptions
  } = options;
  const lr = checkLearningRate(owner, learningRate);
  const decay = checkNumber(owner, "learningRateDecay", learningRateDecay, { min: 0 });
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  // Schedules see count = t − 1, which is exactly torch's (t − 1) in the decay factor.
  const decayed: Hyper =
    decay === 0 ? lr : (count: number) => valueAt(lr, count) / (1 + count * decay);
  const parts: GradientTransform[] = [];
  if (wd !== 0) parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  parts.push(scaleByAdagrad(adagradOptions), scaleByLearningRate(decayed));
  return chain(...parts);
}
