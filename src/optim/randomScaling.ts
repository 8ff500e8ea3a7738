/**
 * SGD with momentum and random exponential scaling ("Exponentiated O2NC" with online gradient
 * descent as the online learner).
 *
 * Zhang & Cutkosky, "Random Scaling and Momentum for Non-smooth Non-convex Optimization",
 * ICML 2024 (PMLR 235:58780–58799).
 *
 * The method runs an online learner whose point Δ is the next displacement of the parameters,
 * and moves the parameters by Δ times an exponentially distributed random scalar. With online
 * mirror descent on the paper's exponentiated, regularized linear losses the learner is
 * momentum, so the whole method is SGDM whose every update is multiplied by s ~ Exp(1).
 * Step t (from 1), with x_0 the starting point and Δ_0 = 0:
 *
 *     g_t = ∇f(x_{t−1})                              gradient at the current iterate
 *     Δ_t = β / (1 + η_t·μ) · (Δ_{t−1} − η_t·g_t)    the online learner (momentum)
 *     s_t ~ Exp(1)                                    mean 1, drawn fresh each step
 *     x_t = x_{t−1} + s_t·Δ_t
 *
 * The gradient is taken at the randomly scaled iterate itself: there is no second, unscaled
 * sequence (unlike the earlier O2NC of Cutkosky, Mehta & Orabona, which queries the gradient at
 * x_{t−1} + s·Δ_t with s uniform and moves by Δ_t). The iterates returned are these x_t, as in
 * the authors' training code; the paper's stationarity guarantee is stated for averages of the
 * iterates, which that code (and this one) leaves to the caller. Since E[s_t] = 1 the expected
 * displacement is the SGDM step; momentum constant β/(1 + ημ), step size βη/(1 + ημ).
 *
 * Randomness: s_t = `exponential(seed, 0, t − 1)` from the counter-based generator, i.e.
 * element t − 1 of stream 0 of `seed` (src/random). The step counter lives in the state, so
 * k steps, save, load, n − k steps reproduce n uninterrupted steps bit for bit, and the draws
 * are identical on every JavaScript engine.
 *
 * Defaults follow the authors' code (ZQZCalin/jaxoptimizers, `optimizers/online_learners.py`
 * and `conf/config_gpt2.yaml`): β = 0.99 (their `unconstrained_ogd`), μ = 0 (their
 * `ogd_mirror_descent` and training configuration), learning rate 1e-4 (training
 * configuration), seed 0.
 */
import type { FloatArray } from "../params/layout.js";
import { randomScalingStep } from "../kernels/randomScaling.js";
import { exponential } from "../random/distributions.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { checkLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkKnownOptions, checkNumber } from "./validate.js";

/** Stream of the seed's generator that the scaling factors s_t come from. */
export const RANDOM_SCALING_STREAM = 0;

/** Options of {@link randomScaling} and {@link scaleByRandomScaling}. */
export interface RandomScalingOptions {
  /** η: step size of the online learner (constant or schedule; default 1e-4). */
  learningRate?: Hyper;
  /** β in [0, 1]: decay of Δ, the momentum constant when μ = 0 (default 0.99). */
  beta?: number;
  /** μ ≥ 0: regularization of the online learner, shrinking Δ by 1/(1 + ημ) (default 0). */
  mu?: number;
  /** Seed of the exponential draws: an integer in [0, 2^53) (default 0). */
  seed?: number;
}

/** State of {@link scaleByRandomScaling}. */
export interface RandomScalingState extends State {
  /** Steps taken; step t draws element t − 1 of the scaling stream. */
  count: number;
  /** Δ, the online learner's point (the unscaled displacement). */
  delta: FloatArray;
}

const OPTIONS = ["learningRate", "beta", "mu", "seed"];

function resolve(owner: string, options: RandomScalingOptions) {
  checkKnownOptions(owner, options, OPTIONS);
  return {
    learningRate: checkLearningRate(owner, options.learningRate ?? 1e-4),
    beta: checkNumber(owner, "beta", options.beta ?? 0.99, { min: 0, max: 1 }),
    mu: checkNumber(owner, "mu", options.mu ?? 0, { min: 0 }),
    seed: checkNumber(owner, "seed", options.seed ?? 0, {
      min: 0,
      max: Number.MAX_SAFE_INTEGER,
      integer: true,
    }),
  };
}

/**
 * The whole update of Zhang & Cutkosky's method: turns the gradient into the step
 * `s_t·Δ_t` (already signed and scaled; chain nothing after it that expects a direction).
 */
export function scaleByRandomScaling(
  options: RandomScalingOptions = {},
): GradientTransform<RandomScalingState> {
  const { learningRate, beta, mu, seed } = resolve("scaleByRandomScaling", options);
  return {
    name: "scaleByRandomScaling",
    init(layout) {
      return { count: 0, delta: layout.zeros() };
    },
    update(u, state) {
      const eta = valueAt(learningRate, state.count);
      const s = exponential(seed, RANDOM_SCALING_STREAM, state.count);
      randomScalingStep(u, state.delta, beta / (1 + eta * mu), eta, s);
      state.count++;
    },
  };
}

/**
 * SGDM with random exponential scaling (Zhang & Cutkosky, ICML 2024).
 * @example `new Optimizer(params, randomScaling({ learningRate: 1e-3, seed: 7 }))`
 */
export function randomScaling(options: RandomScalingOptions = {}): ChainTransform {
  resolve("randomScaling", options);
  return chain(scaleByRandomScaling(options));
}
