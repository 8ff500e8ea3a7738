/**
 * AdEMAMix: Adam with a mixture of a fast and a slow exponential moving average.
 *
 * Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", ICLR 2025.
 *
 * Update at step t (g the gradient):
 *
 *     m1 ← β1·m1 + (1−β1)·g            (m1 = g when β1 = 0)
 *     m2 ← β3(t)·m2 + (1−β3(t))·g      (the slow EMA, not bias-corrected)
 *     v  ← β2·v + (1−β2)·g²
 *     θ  ← θ − lr·[ (m1/(1−β1^t) + α(t)·m2) / (√v/√(1−β2^t) + ε) + wd·θ ]
 *
 * A slow EMA with β3 = 0.9999 remembers gradients from ~10⁴ steps ago; mixing it in with weight
 * α lets old gradients keep contributing while m1 tracks the current landscape. Because a large
 * β3 early in training destabilizes it, both α and β3 can be warmed up over the first steps:
 *
 *     α(t)  = (t / T_α)·α                              for t < T_α, then α
 *     β3(t) = 0.5^(1/(f(t)+1)),  f(t) = (1 − t/T_β3)·f(β1) + (t/T_β3)·f(β3)   for t < T_β3, then β3
 *     f(β)  = ln(0.5) / ln(β + 1e-8) − 1                 (the half-life of an EMA with decay β)
 *
 * so the half-life of the slow EMA grows linearly from that of the fast one. These schedules are
 * driven by the step counter t (1-based), as in the reference code, and are exported as
 * {@link alphaWarmupSchedule} and {@link beta3WarmupSchedule}.
 *
 * Defaults are the reference implementation's (apple/ml-ademamix, pytorch/ademamix.py): lr 1e-3,
 * β = (0.9, 0.999, 0.9999), α = 2, no warmups, ε = 1e-8, weight decay 0. The paper's β3
 * scheduler is the same interpolation written without the 1e-8 inside the logarithms; pass
 * `logEps = 0` to {@link beta3WarmupSchedule} for that form (it differs noticeably only when
 * β1 = 0, where ln(β1) = −∞ makes the warmup start at β3(0) = 0).
 * Conformance: test/conformance/ademamix.test.ts replays the reference trajectories.
 */
import { InvalidArgumentError } from "../errors.js";
import { ademamixDirection } from "../kernels/ademamix.js";
import type { FloatArray, Selector } from "../params/layout.js";
import type { Hyper, Schedule } from "./hyper.js";
import { valueAt } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

function checkWarmupSteps(owner: string, parameter: string, value: unknown): number {
  return checkNumber(owner, parameter, value, { min: 1, integer: true });
}

/**
 * AdEMAMix's linear warmup of α as a {@link Schedule}: at update `count` (step t = count + 1)
 * it is `(1 − t/T)·alphaStart + (t/T)·alpha` while t < T, then `alpha`.
 * @param alpha - final value
 * @param warmupSteps - T, the step at which `alpha` is reached
 * @param alphaStart - value the interpolation starts from (default 0)
 */
export function alphaWarmupSchedule(alpha: number, warmupSteps: number, alphaStart = 0): Schedule {
  const owner = "alphaWarmupSchedule";
  checkNumber(owner, "alpha", alpha, { min: 0 });
  checkWarmupSteps(owner, "warmupSteps", warmupSteps);
  checkNumber(owner, "alphaStart", alphaStart, { min: 0 });
  return (count) => {
    const t = count + 1;
    if (t >= warmupSteps) return alpha;
    const a = t / warmupSteps;
    return (1 - a) * alphaStart + a * alpha;
  };
}

/**
 * AdEMAMix's β3 warmup as a {@link Schedule}: the half-life `f(β) = ln(0.5)/ln(β + logEps) − 1`
 * is interpolated linearly from `f(beta3Start)` to `f(beta3)` over `warmupSteps` steps and mapped
 * back by `β = 0.5^(1/(f+1))`; from step T on it is `beta3`. Driven by step t = count + 1.
 * @param beta3 - final value, in [0, 1)
 * @param warmupSteps - T, the step at which `beta3` is reached
 * @param beta3Start - starting value; the reference code uses β1
 * @param logEps - added to β inside the logarithm (default 1e-8, the reference code; 0 gives the
 *   paper's formula)
 */
export function beta3WarmupSchedule(
  beta3: number,
  warmupSteps: number,
  beta3Start: number,
  logEps = 1e-8,
): Schedule {
  const owner = "beta3WarmupSchedule";
  checkBeta(owner, "beta3", beta3);
  checkWarmupSteps(owner, "warmupSteps", warmupSteps);
  checkBeta(owner, "beta3Start", beta3Start);
  checkNumber(owner, "logEps", logEps, { min: 0 });
  const halfLife = (beta: number) => Math.log(0.5) / Math.log(beta + logEps) - 1;
  const start = halfLife(beta3Start);
  const end = halfLife(beta3);
  return (count) => {
    const t = count + 1;
    if (t >= warmupSteps) return beta3;
    const a = t / warmupSteps;
    return Math.pow(0.5, 1 / ((1 - a) * start + a * end + 1));
  };
}

/** Options of {@link scaleByAdemamix}. */
export interface ScaleByAdemamixOptions {
  /** Decay of the fast EMA (default 0.9; 0 uses the raw gradient and allocates no buffer). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Decay of the slow EMA, constant or schedule (default 0.9999). */
  beta3?: Hyper;
  /** Weight of the slow EMA, constant or schedule (default 2). */
  alpha?: Hyper;
  /** Warm α up linearly over this many steps ({@link alphaWarmupSchedule}; default none). */
  alphaWarmup?: number;
  /** Warm β3 up over this many steps from β1 ({@link beta3WarmupSchedule}; default none). */
  beta3Warmup?: number;
  /** Added to the bias-corrected √v (default 1e-8). */
  eps?: number;
}

/** State of {@link scaleByAdemamix}. */
export interface AdemamixState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** Slow EMA of the gradient (decay β3). */
  slow: FloatArray;
  /** EMA of the squared gradient (decay β2). */
  nu: FloatArray;
}

/** Rescales the gradient by AdEMAMix's mixed-EMA ratio (the direction, before `−lr`). */
export function scaleByAdemamix(
  options: ScaleByAdemamixOptions = {},
): GradientTransform<AdemamixState> {
  const owner = "scaleByAdemamix";
  checkKnownOptions(owner, options, [
    "beta1",
    "beta2",
    "beta3",
    "alpha",
    "alphaWarmup",
    "beta3Warmup",
    "eps",
  ]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  let beta3 = checkHyper(owner, "beta3", options.beta3 ?? 0.9999, { min: 0, below: 1 });
  let alpha = checkHyper(owner, "alpha", options.alpha ?? 2, { min: 0 });
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  if (options.alphaWarmup !== undefined) {
    const steps = checkWarmupSteps(owner, "alphaWarmup", options.alphaWarmup);
    if (typeof alpha !== "number") {
      throw new InvalidArgumentError(owner, "alphaWarmup", steps, "unset when alpha is a schedule");
    }
    alpha = alphaWarmupSchedule(alpha, steps);
  }
  if (options.beta3Warmup !== undefined) {
    const steps = checkWarmupSteps(owner, "beta3Warmup", options.beta3Warmup);
    if (typeof beta3 !== "number") {
      throw new InvalidArgumentError(owner, "beta3Warmup", steps, "unset when beta3 is a schedule");
    }
    beta3 = beta3WarmupSchedule(beta3, steps, beta1);
  }
  return {
    name: "scaleByAdemamix",
    init(layout) {
      const state: AdemamixState = { count: 0, slow: layout.zeros(), nu: layout.zeros() };
      if (beta1 !== 0) state.fast = layout.zeros();
      return state;
    },
    update(u, state) {
      const t = state.count + 1;
      const fast = beta1 !== 0 ? (state.fast as FloatArray) : null;
      ademamixDirection(
        u,
        fast,
        state.slow,
        state.nu,
        beta1,
        beta2,
        valueAt(beta3, state.count),
        valueAt(alpha, state.count),
        eps,
        1 - beta1 ** t,
        1 - beta2 ** t,
      );
      state.count = t;
    },
  };
}

/** Options of {@link ademamix}. */
export interface AdemamixOptions extends ScaleByAdemamixOptions {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** Decoupled weight decay, as AdamW (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** AdEMAMix with decoupled weight decay, as the reference `AdEMAMix` optimizer. */
export function ademamix(options: AdemamixOptions = {}): ChainTransform {
  const owner = "ademamix";
  checkKnownOptions(owner, options, [
    "learningRate",
    "beta1",
    "beta2",
    "beta3",
    "alpha",
    "alphaWarmup",
    "beta3Warmup",
    "eps",
    "weightDecay",
    "weightDecayMask",
  ]);
  const { learningRate = 1e-3, weightDecay = 0, weightDecayMask, ...mixOptions } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  return chain(
    scaleByAdemamix(mixOptions),
    addDecayedWeights(wd, { mask: weightDecayMask }),
    scaleByLearningRate(lr),
  );
}
