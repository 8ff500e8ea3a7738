/**
 * Small transforms most optimizers end with: learning-rate scaling, decoupled weight decay,
 * constant scaling and sign flip for maximization. The affine ones are fused by the
 * {@link Optimizer} into the parameter write.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { Layout, Selector } from "../params/layout.js";
import type { GradientTransform, State, StepContext } from "./transform.js";
import { affineTransform } from "./transform.js";
import { checkHyper, checkNumber } from "./validate.js";

// Affine coefficients are read at once by the Optimizer (or applyAffine), so per-layout buffers
// are reused instead of allocating on every step.
const zeroDecays = new WeakMap<Layout, Float64Array>();

/** All-zero per-tensor decay for `layout` (shared; never written). */
function noDecay(layout: Layout): Float64Array {
  let zeros = zeroDecays.get(layout);
  if (!zeros) zeroDecays.set(layout, (zeros = new Float64Array(layout.tensors.length)));
  return zeros;
}

/** State of transforms that only count their updates (for schedules). */
export interface CountState extends State {
  /** Updates applied so far. */
  count: number;
}

/**
 * `u ← −lr(t)·u`: turns a descent direction into a step. `lr` may be a schedule of the step
 * count; the count lives in this transform's state so resuming reproduces the schedule.
 */
export function scaleByLearningRate(learningRate: Hyper): GradientTransform<CountState> {
  checkHyper("scaleByLearningRate", "learningRate", learningRate, { min: 0 });
  return affineTransform<CountState>(
    "scaleByLearningRate",
    () => ({ count: 0 }),
    (state, ctx) => {
      const lr = valueAt(learningRate, state.count);
      state.count++;
      return { scale: -lr, decay: noDecay(ctx.layout) };
    },
  );
}

/** `u ← factor·u` with a constant or scheduled factor. */
export function scale(factor: Hyper): GradientTransform<CountState> {
  checkHyper("scale", "factor", factor);
  return affineTransform<CountState>(
    "scale",
    () => ({ count: 0 }),
    (state, ctx) => {
      const f = valueAt(factor, state.count);
      state.count++;
      return { scale: f, decay: noDecay(ctx.layout) };
    },
  );
}

/** Options of {@link addDecayedWeights}. */
export interface WeightDecayOptions {
  /**
   * Tensors to decay (default: all). A common choice excludes biases and norms:
   * `(t) => t.shape.length >= 2`.
   */
  mask?: Selector;
}

/**
 * `u ← u + wd·p` on the masked tensors. Placed after a preconditioner and before
 * {@link scaleByLearningRate} it is decoupled weight decay (Loshchilov & Hutter, "Decoupled
 * Weight Decay Regularization", 2019): `p ← p − lr·(step + wd·p)`. Placed first it is the L2
 * penalty of torch.optim's `weight_decay` (added to the gradient).
 */
export function addDecayedWeights(
  weightDecay: Hyper,
  options: WeightDecayOptions = {},
): GradientTransform<CountState> {
  checkHyper("addDecayedWeights", "weightDecay", weightDecay, { min: 0 });
  // Masks are configuration, not state: resolved once per layout this transform meets.
  const masks = new WeakMap<Layout, Uint8Array>();
  const decays = new WeakMap<Layout, Float64Array>();
  const maskFor = (layout: Layout): Uint8Array => {
    let mask = masks.get(layout);
    if (!mask) {
      mask =
        options.mask === undefined
          ? new Uint8Array(layout.tensors.length).fill(1)
          : layout.mask(options.mask);
      masks.set(layout, mask);
    }
    return mask;
  };
  return affineTransform<CountState>(
    "addDecayedWeights",
    (layout) => {
      maskFor(layout);
      return { count: 0 };
    },
    (state, ctx) => {
      const wd = valueAt(weightDecay, state.count);
      state.count++;
      const mask = maskFor(ctx.layout);
      let decay = decays.get(ctx.layout);
      if (!decay) decays.set(ctx.layout, (decay = new Float64Array(mask.length)));
      for (let t = 0; t < decay.length; t++) decay[t] = mask[t] ? wd : 0;
      return { scale: 1, decay };
    },
  );
}

/** `u ← −u`: put first in a chain to maximize instead of minimize. */
export function maximize(): GradientTransform<State> {
  return affineTransform(
    "maximize",
    () => ({}),
    (_state, ctx) => ({ scale: -1, decay: noDecay(ctx.layout) }),
  );
}

/** Validates a learning rate shared by the named optimizers. */
export function checkLearningRate(owner: string, learningRate: unknown): Hyper {
  return checkHyper(owner, "learningRate", learningRate, { min: 0 });
}

/** Validates an exponential-decay rate β ∈ [0, 1). */
export function checkBeta(owner: string, parameter: string, beta: unknown): number {
  return checkNumber(owner, parameter, beta, { min: 0, below: 1 });
}

/** Reads and checks the loss a step needs; throws before any state changes. */
export function requireLoss(owner: string, ctx: StepContext): number {
  const loss = ctx.loss;
  if (typeof loss !== "number" || !Number.isFinite(loss)) {
    throw new InvalidArgumentError(
      owner,
      "loss",
      loss,
      "the finite value f(θ) at the current parameters, which this optimizer needs besides the gradient; drive it with opt.step(objective), or put the loss in the step context",
    );
  }
  return loss;
}
