/**
 * The optimizer around a direction: `chain(direction, addDecayedWeights(wd), scaleByLearningRate(lr))`,
 * the form AdamW gave decoupled weight decay (Loshchilov & Hutter, "Decoupled Weight Decay
 * Regularization", ICLR 2019), θ ← θ − lr·(d + wd·θ), which the matrix-aware optimizers (Muon,
 * AdaGO, FISMO, LMO, SOAP, AdaMuon, PSGD Kron) share.
 */
import type { Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { addDecayedWeights, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform } from "./transform.js";
import { chain } from "./transform.js";
import { checkHyper, checkKnownOptions } from "./validate.js";

/** The options {@link withDecoupledDecay} takes for itself. */
export interface DecoupledDecayOptions {
  /** Step size (constant or schedule). */
  learningRate?: Hyper;
  /** Decoupled weight decay, θ ← θ − lr·wd·θ. */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** The option names of {@link DecoupledDecayOptions}. */
export const DECOUPLED_DECAY_OPTIONS: readonly string[] = [
  "learningRate",
  "weightDecay",
  "weightDecayMask",
];

/** Defaults and variations of {@link withDecoupledDecay}. */
export interface DecoupledDecaySettings {
  /** The default learning rate. */
  readonly learningRate: Hyper;
  /** The default weight decay. */
  readonly weightDecay: Hyper;
  /** Leave the decay out of the chain (and of its state) when it is 0 (default false). */
  readonly omitZeroDecay?: boolean;
}

/**
 * `chain(...direction(rest, lr), addDecayedWeights(wd, mask), scaleByLearningRate(lr))`.
 * `options` may hold only the names in `known`; the learning rate and weight decay are checked
 * before `direction` builds (and checks) the transforms of the direction from the other options.
 */
export function withDecoupledDecay<O extends DecoupledDecayOptions>(
  owner: string,
  options: O,
  known: readonly string[],
  settings: DecoupledDecaySettings,
  direction: (
    rest: Omit<O, keyof DecoupledDecayOptions>,
    learningRate: Hyper,
  ) => GradientTransform | readonly GradientTransform[],
): ChainTransform {
  checkKnownOptions(owner, options, known);
  const {
    learningRate = settings.learningRate,
    weightDecay = settings.weightDecay,
    weightDecayMask,
    ...rest
  } = options;
  const lr = checkHyper(owner, "learningRate", learningRate, { min: 0 });
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const parts = [direction(rest, lr)].flat();
  if (wd !== 0 || !settings.omitZeroDecay) {
    parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  }
  parts.push(scaleByLearningRate(lr));
  return chain(...parts);
}
