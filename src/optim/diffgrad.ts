/**
 * diffGrad: Adam with a friction coefficient from the change of the gradient.
 *
 * Dubey, Chakraborty, Roy, Mukherjee, Singh & Chaudhuri, "diffGrad: An Optimization Method for
 * Convolutional Neural Networks", IEEE Transactions on Neural Networks and Learning Systems,
 * 2020.
 *
 * Update at step t (g the gradient, with L2 weight decay g ← g + wd·θ first):
 *
 *     m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
 *     ξ = 1 / (1 + exp(−|g_prev − g|))       g_prev ← g   (g_prev = 0 at t = 1)
 *     θ ← θ − lr · √(1−β2^t)/(1−β1^t) · ξ·m / (√v + ε)           (reference code)
 *     θ ← θ − lr · ξ·m̂ / (√v̂ + ε),  m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)  (paper)
 *
 * ξ lies in [½, 1): where the gradient barely changes (a flat region or near an optimum) the step
 * is damped towards half of Adam's, where it changes fast the full Adam step is taken.
 *
 * Defaults are the reference implementation's (shivram1987/diffGrad, diffGrad_v2.py, the version
 * its README recommends: diffGrad.py aliases the previous gradient to the current one, so ξ is
 * stuck at ½ there): lr 1e-3, β = (0.9, 0.999), ε = 1e-8, weight decay 0. That code adds ε to
 * the uncorrected √v (the older Adam form); the paper adds it to the bias-corrected √v̂, which
 * `epsAfterBiasCorrection: true` selects. The two differ only while √v is comparable to ε.
 * g_prev stores the gradient including weight decay, as the reference does.
 * Conformance: test/conformance/diffgrad.test.ts replays the reference trajectories.
 */
import { diffGradDirection } from "../kernels/diffgrad.js";
import type { FloatArray, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByDiffGrad}. */
export interface ScaleByDiffGradOptions {
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-8). */
  eps?: number;
  /** Add ε to the bias-corrected √v̂ as the paper (default false: to √v, as the reference code). */
  epsAfterBiasCorrection?: boolean;
}

/** State of {@link scaleByDiffGrad}. */
export interface DiffGradState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** First-moment (mean) estimate of the gradient, per parameter. */
  mu: FloatArray;
  /** Second-moment (uncentered variance) estimate of the gradient, per parameter. */
  nu: FloatArray;
  /** The gradient of the previous step (zeros before the first). */
  previousGrad: FloatArray;
}

/** Rescales the gradient by diffGrad's friction-damped Adam ratio (before `−lr`). */
export function scaleByDiffGrad(
  options: ScaleByDiffGradOptions = {},
): GradientTransform<DiffGradState> {
  const owner = "scaleByDiffGrad";
  checkKnownOptions(owner, options, ["beta1", "beta2", "eps", "epsAfterBiasCorrection"]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const paperEps = checkBoolean(
    owner,
    "epsAfterBiasCorrection",
    options.epsAfterBiasCorrection ?? false,
  );
  return {
    name: "scaleByDiffGrad",
    init: (layout) => ({
      count: 0,
      mu: layout.zeros(),
      nu: layout.zeros(),
      previousGrad: layout.zeros(),
    }),
    update(u, state) {
      const t = state.count + 1;
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      if (paperEps) {
        diffGradDirection(
          u,
          state.mu,
          state.nu,
          state.previousGrad,
          beta1,
          beta2,
          eps,
          bc2,
          1 / bc1,
        );
      } else {
        const scale = Math.sqrt(bc2) / bc1;
        diffGradDirection(u, state.mu, state.nu, state.previousGrad, beta1, beta2, eps, 1, scale);
      }
      state.count = t;
    },
  };
}

/** Options of {@link diffGrad}. */
export interface DiffGradOptions extends ScaleByDiffGradOptions {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** L2 weight decay added to the gradient, g + wd·θ (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** diffGrad as the reference `diffgrad` optimizer (diffGrad_v2.py). */
export function diffGrad(options: DiffGradOptions = {}): ChainTransform {
  const owner = "diffGrad";
  checkKnownOptions(owner, options, [
    "learningRate",
    "beta1",
    "beta2",
    "eps",
    "epsAfterBiasCorrection",
    "weightDecay",
    "weightDecayMask",
  ]);
  const { learningRate = 1e-3, weightDecay = 0, weightDecayMask, ...diffGradOptions } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const parts: GradientTransform[] = [];
  if (wd !== 0) parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  parts.push(scaleByDiffGrad(diffGradOptions), scaleByLearningRate(lr));
  return chain(...parts);
}
