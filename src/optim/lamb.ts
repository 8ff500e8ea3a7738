/**
 * LAMB: layer-wise adaptive moments for large-batch training.
 *
 * You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer & Hsieh, "Large Batch
 * Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020.
 *
 * Update at step t, per tensor θ of the layout (g its gradient):
 *
 *     m ← β1·m + (1−β1)·g        v ← β2·v + (1−β2)·g²
 *     r = m̂ / (√v̂ + ε) + wd·θ    with m̂ = m, v̂ = v (default) or m̂ = m/(1−β1^t), v̂ = v/(1−β2^t)
 *     w = min(‖θ‖, maxWeightNorm)
 *     θ ← θ − lr · (w / ‖r‖) · r          (ratio taken as 1 when w = 0 or ‖r‖ = 0)
 *
 * The trust ratio w/‖r‖ makes every tensor move by lr times its own norm whatever the scale of
 * its gradient, which keeps very large batches (large learning rates) stable layer by layer.
 *
 * Defaults are the reference implementation's (cybertronai/pytorch-lamb, `Lamb`): lr 1e-3,
 * β = (0.9, 0.999), ε = 1e-6, weight decay 0, weight norm clamped to [0, 10], no bias
 * correction. That code deviates from the paper, which bias-corrects both moments (its
 * Algorithm 2); `biasCorrection: true` gives the paper's form. The paper's scaling function φ
 * is left generic there; the reference clamps at 10, here `maxWeightNorm` (Infinity: no clamp).
 * Weight decay is part of r, so it is scaled by the trust ratio (not decoupled as in AdamW).
 * Conformance: test/conformance/lamb.test.ts replays the reference trajectories.
 */
import { InvalidArgumentError } from "../errors.js";
import { lambDirection, scaleRange } from "../kernels/lamb.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { checkBeta, checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByLamb}. */
export interface ScaleByLambOptions {
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to √v̂ (default 1e-6, the reference's). */
  eps?: number;
  /** Added to the Adam step before the trust ratio, `r += wd·θ` (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
  /** Bias-correct both moments, as the paper (default false, as the reference code). */
  biasCorrection?: boolean;
  /** Upper clamp of ‖θ‖ in the trust ratio (default 10; `Infinity` disables it). */
  maxWeightNorm?: number;
}

/** State of {@link scaleByLamb}. */
export interface LambState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** First-moment (mean) estimate of the gradient, per parameter. */
  mu: FloatArray;
  /** Second-moment (uncentered variance) estimate of the gradient, per parameter. */
  nu: FloatArray;
}

/**
 * Turns the gradient into LAMB's trust-scaled Adam step (the direction, before `−lr`).
 * Norms are per tensor of the layout.
 */
export function scaleByLamb(options: ScaleByLambOptions = {}): GradientTransform<LambState> {
  const owner = "scaleByLamb";
  checkKnownOptions(owner, options, [
    "beta1",
    "beta2",
    "eps",
    "weightDecay",
    "weightDecayMask",
    "biasCorrection",
    "maxWeightNorm",
  ]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-6, { min: 0 });
  const weightDecay = checkHyper(owner, "weightDecay", options.weightDecay ?? 0, { min: 0 });
  const biasCorrection = checkBoolean(owner, "biasCorrection", options.biasCorrection ?? false);
  const maxWeightNorm = options.maxWeightNorm ?? 10;
  if (maxWeightNorm !== Infinity) {
    checkNumber(owner, "maxWeightNorm", maxWeightNorm, { above: 0 });
  }
  const { weightDecayMask } = options;
  if (
    weightDecayMask !== undefined &&
    !(
      typeof weightDecayMask === "string" ||
      typeof weightDecayMask === "function" ||
      weightDecayMask instanceof RegExp ||
      Array.isArray(weightDecayMask)
    )
  ) {
    throw new InvalidArgumentError(
      owner,
      "weightDecayMask",
      weightDecayMask,
      "a glob, RegExp, list of names or predicate",
    );
  }
  // Masks are configuration, not state: resolved once per layout this transform meets.
  const masks = new WeakMap<Layout, Uint8Array>();
  const maskFor = (layout: Layout): Uint8Array => {
    let mask = masks.get(layout);
    if (!mask) {
      mask =
        weightDecayMask === undefined
          ? new Uint8Array(layout.tensors.length).fill(1)
          : layout.mask(weightDecayMask);
      masks.set(layout, mask);
    }
    return mask;
  };
  const sums = new Float64Array(2);
  return {
    name: "scaleByLamb",
    init(layout) {
      maskFor(layout);
      return { count: 0, mu: layout.zeros(), nu: layout.zeros() };
    },
    update(u, state, ctx) {
      const t = state.count + 1;
      const wd = valueAt(weightDecay, state.count);
      const bc1 = biasCorrection ? 1 - beta1 ** t : 1;
      const bc2 = biasCorrection ? 1 - beta2 ** t : 1;
      const mask = maskFor(ctx.layout);
      const { tensors } = ctx.layout;
      for (let k = 0; k < tensors.length; k++) {
        const { offset, size } = tensors[k];
        const end = offset + size;
        const decay = mask[k] ? wd : 0;
        lambDirection(
          u,
          state.mu,
          state.nu,
          ctx.params,
          offset,
          end,
          beta1,
          beta2,
          eps,
          decay,
          bc1,
          bc2,
          sums,
        );
        const weightNorm = Math.min(Math.sqrt(sums[0]), maxWeightNorm);
        const stepNorm = Math.sqrt(sums[1]);
        const trust = weightNorm > 0 && stepNorm > 0 ? weightNorm / stepNorm : 1;
        scaleRange(u, offset, end, trust);
      }
      state.count = t;
    },
  };
}

/** Options of {@link lamb}. */
export interface LambOptions extends ScaleByLambOptions {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
}

/** LAMB as the reference `Lamb` optimizer (pass `biasCorrection: true` for the paper's form). */
export function lamb(options: LambOptions = {}): ChainTransform {
  const owner = "lamb";
  checkKnownOptions(owner, options, [
    "learningRate",
    "beta1",
    "beta2",
    "eps",
    "weightDecay",
    "weightDecayMask",
    "biasCorrection",
    "maxWeightNorm",
  ]);
  const { learningRate = 1e-3, ...lambOptions } = options;
  return chain(
    scaleByLamb(lambOptions),
    scaleByLearningRate(checkLearningRate(owner, learningRate)),
  );
}
