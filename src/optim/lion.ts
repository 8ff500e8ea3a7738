/**
 * Lion (EvoLved Sign Momentum).
 *
 * Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le, "Symbolic Discovery of
 * Optimization Algorithms", NeurIPS 2023.
 *
 * Update at step t (g the gradient, m the momentum, sign(0) = 0):
 *
 *     c   = β1·m + (1−β1)·g
 *     θ  ← θ − lr·(sign(c) + wd·θ)        i.e. θ ← (1 − lr·wd)·θ − lr·sign(c)
 *     m  ← β2·m + (1−β2)·g
 *
 * Every coordinate moves by exactly ±lr (before decay), so Lion wants a learning rate 3–10×
 * smaller than AdamW's and a weight decay 3–10× larger to keep lr·wd comparable.
 *
 * Defaults are the reference implementation's (lucidrains/lion-pytorch, `Lion`): lr 1e-4,
 * β = (0.9, 0.99), weight decay 0; the same β as the paper. Its `decoupled_weight_decay=True`
 * (θ ← (1 − wd)·θ, i.e. wd divided by the initial lr) is `weightDecay: wd / lr` here.
 * Conformance: test/conformance/lion.test.ts replays that implementation's trajectories.
 */
import { lionDirection } from "../kernels/lion.js";
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
import { checkHyper, checkKnownOptions } from "./validate.js";

/** Options of {@link scaleByLion}. */
export interface ScaleByLionOptions {
  /** Interpolation weight of the momentum in the sign's argument (default 0.9). */
  beta1?: number;
  /** Decay of the stored momentum (default 0.99). */
  beta2?: number;
}

/** State of {@link scaleByLion}. */
export interface LionState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** Exponential moving average of the gradient (decay β2). */
  mu: FloatArray;
}

/** Replaces the gradient by Lion's sign direction (before `−lr` and weight decay). */
export function scaleByLion(options: ScaleByLionOptions = {}): GradientTransform<LionState> {
  const owner = "scaleByLion";
  checkKnownOptions(owner, options, ["beta1", "beta2"]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.99);
  return {
    name: "scaleByLion",
    init: (layout) => ({ count: 0, mu: layout.zeros() }),
    update(u, state) {
      lionDirection(u, state.mu, beta1, beta2);
      state.count++;
    },
  };
}

/** Options of {@link lion}. */
export interface LionOptions extends ScaleByLionOptions {
  /** Step size (constant or schedule; default 1e-4). */
  learningRate?: Hyper;
  /** Decoupled weight decay, θ ← (1 − lr·wd)·θ (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** Lion: sign of an interpolated momentum, with decoupled weight decay. */
export function lion(options: LionOptions = {}): ChainTransform {
  const owner = "lion";
  checkKnownOptions(owner, options, [
    "learningRate",
    "beta1",
    "beta2",
    "weightDecay",
    "weightDecayMask",
  ]);
  const { learningRate = 1e-4, weightDecay = 0, weightDecayMask, ...lionOptions } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  return chain(
    scaleByLion(lionOptions),
    addDecayedWeights(wd, { mask: weightDecayMask }),
    scaleByLearningRate(lr),
  );
}
