/**
 * Stochastic gradient descent with heavy-ball or Nesterov momentum.
 *
 * - SGD: Robbins & Monro, "A Stochastic Approximation Method", Annals of Mathematical
 *   Statistics, 1951.
 * - Momentum: Polyak, "Some methods of speeding up the convergence of iteration methods",
 *   USSR Computational Mathematics and Mathematical Physics, 1964.
 * - Nesterov momentum in this form: Sutskever, Martens, Dahl & Hinton, "On the importance of
 *   initialization and momentum in deep learning", ICML 2013.
 *
 * Update at step t (g the gradient, torch.optim 1.13's form):
 *
 *     g ← g + wd·θ                                  (L2 weight decay, when wd ≠ 0)
 *     b_1 = g_1;   b_t = μ·b_{t−1} + (1 − dampening)·g_t   (t > 1)
 *     d_t = g_t + μ·b_t (Nesterov)  or  d_t = b_t
 *     θ ← θ − lr·d_t
 *
 * The buffer starts as the first gradient itself, without dampening, as torch does. Without
 * momentum the step is `θ ← θ − lr·g` and no buffer is allocated.
 *
 * Defaults are torch.optim.SGD's (v1.13): momentum 0, dampening 0, weight decay 0, Nesterov off;
 * torch has no default learning rate and neither does {@link sgd}. Nesterov needs momentum > 0
 * and dampening 0, as torch enforces. Conformance: test/conformance against torch.optim.SGD
 * trajectories.
 */
import { InvalidArgumentError } from "../errors.js";
import { sgdMomentum, sgdMomentumStep } from "../kernels/sgd.js";
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

/** Options of {@link scaleByMomentum}. */
export interface ScaleByMomentumOptions {
  /** Decay μ of the momentum buffer, in [0, 1) (default 0.9). */
  momentum?: number;
  /** Fraction of the gradient withheld from the buffer after the first step, in [0, 1] (default 0). */
  dampening?: number;
  /** Use Nesterov's look-ahead `g + μ·b` (default false; needs momentum > 0, dampening 0). */
  nesterov?: boolean;
}

/** State of {@link scaleByMomentum}. */
export interface MomentumState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** The momentum buffer b (torch's `momentum_buffer`). */
  momentumBuffer: FloatArray;
}

function checkMomentumOptions(owner: string, options: ScaleByMomentumOptions, fallback: number) {
  const momentum = checkBeta(owner, "momentum", options.momentum ?? fallback);
  const dampening = checkNumber(owner, "dampening", options.dampening ?? 0, { min: 0, max: 1 });
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  if (nesterov && momentum <= 0) {
    throw new InvalidArgumentError(owner, "momentum", momentum, "> 0 when nesterov is true");
  }
  if (nesterov && dampening !== 0) {
    throw new InvalidArgumentError(owner, "dampening", dampening, "0 when nesterov is true");
  }
  return { momentum, dampening, nesterov };
}

/**
 * Replaces the gradient by torch.optim's momentum direction (heavy ball or Nesterov), before
 * `−lr`. The first update copies the gradient into the buffer.
 */
export function scaleByMomentum(
  options: ScaleByMomentumOptions = {},
): GradientTransform<MomentumState> {
  const owner = "scaleByMomentum";
  checkKnownOptions(owner, options, ["momentum", "dampening", "nesterov"]);
  const { momentum, dampening, nesterov } = checkMomentumOptions(owner, options, 0.9);
  return {
    name: nesterov ? "scaleByNesterovMomentum" : "scaleByMomentum",
    init(layout) {
      return { count: 0, momentumBuffer: layout.zeros() };
    },
    update(u, state) {
      sgdMomentum(u, state.momentumBuffer, momentum, dampening, nesterov, state.count === 0);
      state.count++;
    },
    fusedApply(u, state, _ctx, write) {
      sgdMomentumStep(
        write.params,
        u,
        state.momentumBuffer,
        momentum,
        dampening,
        nesterov,
        state.count === 0,
        write.scale,
        write.runs,
      );
      state.count++;
    },
  };
}

/** Options of {@link sgd}. */
export interface SgdOptions extends ScaleByMomentumOptions {
  /** Step size (constant or schedule); required, as in torch. */
  learningRate: Hyper;
  /** L2 penalty added to the gradient, `g ← g + wd·θ` (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/**
 * torch.optim.SGD: plain, heavy-ball or Nesterov momentum, with L2 weight decay. `momentum`
 * defaults to 0 here (plain SGD, no buffer), unlike {@link scaleByMomentum}.
 */
export function sgd(options: SgdOptions): ChainTransform {
  const owner = "sgd";
  checkKnownOptions(owner, options, [
    "learningRate",
    "momentum",
    "dampening",
    "nesterov",
    "weightDecay",
    "weightDecayMask",
  ]);
  const learningRate = checkLearningRate(owner, options.learningRate);
  const weightDecay = checkHyper(owner, "weightDecay", options.weightDecay ?? 0, { min: 0 });
  const { momentum, dampening, nesterov } = checkMomentumOptions(owner, options, 0);
  const parts: GradientTransform[] = [];
  if (weightDecay !== 0) {
    parts.push(addDecayedWeights(weightDecay, { mask: options.weightDecayMask }));
  }
  if (momentum !== 0) parts.push(scaleByMomentum({ momentum, dampening, nesterov }));
  parts.push(scaleByLearningRate(learningRate));
  return chain(...parts);
}
