/**
 * LARS: layer-wise adaptive rate scaling for SGD with momentum.
 *
 * You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", arXiv:1708.03888,
 * 2017.
 *
 * Update at step t, per tensor θ of the layout (g its gradient, η the trust coefficient):
 *
 *     λ = η·‖θ‖ / (‖g‖ + wd·‖θ‖ + ε)         (λ = 1 when ‖θ‖ = 0 or ‖g‖ = 0)
 *     d = λ·(g + wd·θ)
 *     b ← μ·b + (1 − dampening)·d             (b = d at the first step)
 *     θ ← θ − lr·b          or, with Nesterov, θ ← θ − lr·(d + μ·b)
 *
 * The local rate λ makes every tensor move by about lr·η times its own norm, whatever the scale
 * of its gradient, which keeps very large batches (large learning rates) stable layer by layer.
 *
 * Semantics and defaults follow kakaobrain/torchlars (`LARS` wrapping `torch.optim.SGD`), which
 * is the paper's formula plus ε: η = 0.001, ε = 1e-8, weight decay 0, dampening 0, no Nesterov.
 * Neither torchlars nor optax has a default learning rate or (torchlars) momentum; here lr = 1
 * (so each tensor moves by about η‖θ‖ per step) and μ = 0.9 (optax.lars and the paper's runs).
 * `trustRatioForm: "optax"` uses optax.lars's ratio η·‖θ‖ / (‖g + wd·θ‖ + ε) instead (it is 1
 * when either norm is 0). optax also applies the learning rate before the momentum, which is the
 * same update for a constant learning rate. Tensors outside `trustRatioMask` (often biases and
 * norms) take λ = 1, i.e. plain SGD with momentum; tensors outside `weightDecayMask` take wd = 0.
 */
import { InvalidArgumentError } from "../errors.js";
import { decayAndScale, sumOfSquares, sumOfSquaresDecayed } from "../kernels/lars.js";
import { sgdMomentum } from "../kernels/sgd.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import {
  checkBoolean,
  checkChoice,
  checkHyper,
  checkKnownOptions,
  checkNumber,
} from "./validate.js";

/** How the trust ratio's denominator combines the gradient and the weight decay. */
export type LarsTrustRatioForm = "paper" | "optax";

/** Options of {@link scaleByLars}. */
export interface ScaleByLarsOptions {
  /** η, the multiplier of the trust ratio (default 0.001). */
  trustCoefficient?: number;
  /** Added to the trust ratio's denominator (default 1e-8, torchlars). */
  eps?: number;
  /** L2 weight decay added to the gradient, g + wd·θ (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
  /** Tensors whose step is scaled by the trust ratio (default all; the others take λ = 1). */
  trustRatioMask?: Selector;
  /** `"paper"` (default): ‖g‖ + wd·‖θ‖ + ε; `"optax"`: ‖g + wd·θ‖ + ε. */
  trustRatioForm?: LarsTrustRatioForm;
  /** Heavy-ball momentum μ (default 0.9; 0 disables it and allocates no buffer). */
  momentum?: number;
  /** Dampening of the momentum, torch.optim.SGD's (default 0). */
  dampening?: number;
  /** Nesterov momentum (default false; needs momentum > 0 and no dampening). */
  nesterov?: boolean;
}

/** State of {@link scaleByLars}. */
export interface LarsState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
}

const SELECTOR_REQUIREMENT = "a glob, RegExp, list of names or predicate";

function checkSelector(owner: string, parameter: string, value: unknown): Selector | undefined {
  if (
    value === undefined ||
    typeof value === "string" ||
    typeof value === "function" ||
    value instanceof RegExp ||
    Array.isArray(value)
  ) {
    return value as Selector | undefined;
  }
  throw new InvalidArgumentError(owner, parameter, value, SELECTOR_REQUIREMENT);
}

/** Turns the gradient into LARS's trust-scaled momentum direction (before `−lr`). */
export function scaleByLars(options: ScaleByLarsOptions = {}): GradientTransform<LarsState> {
  const owner = "scaleByLars";
  checkKnownOptions(owner, options, [
    "trustCoefficient",
    "eps",
    "weightDecay",
    "weightDecayMask",
    "trustRatioMask",
    "trustRatioForm",
    "momentum",
    "dampening",
    "nesterov",
  ]);
  const trustCoefficient = checkNumber(
    owner,
    "trustCoefficient",
    options.trustCoefficient ?? 1e-3,
    {
      above: 0,
    },
  );
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const weightDecay = checkHyper(owner, "weightDecay", options.weightDecay ?? 0, { min: 0 });
  const decayMask = checkSelector(owner, "weightDecayMask", options.weightDecayMask);
  const trustMask = checkSelector(owner, "trustRatioMask", options.trustRatioMask);
  const form = checkChoice(owner, "trustRatioForm", options.trustRatioForm ?? "paper", [
    "paper",
    "optax",
  ]);
  const momentum = checkNumber(owner, "momentum", options.momentum ?? 0.9, { min: 0, below: 1 });
  const dampening = checkNumber(owner, "dampening", options.dampening ?? 0, { min: 0, max: 1 });
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  if (nesterov && (momentum === 0 || dampening !== 0)) {
    throw new InvalidArgumentError(
      owner,
      "nesterov",
      nesterov,
      `false unless momentum > 0 and dampening = 0 (momentum ${momentum}, dampening ${dampening})`,
    );
  }
  // Masks are configuration, not state: resolved once per layout this transform meets.
  const masks = new WeakMap<Layout, { decay: Uint8Array; trust: Uint8Array }>();
  const masksFor = (layout: Layout) => {
    let m = masks.get(layout);
    if (!m) {
      const all = () => new Uint8Array(layout.tensors.length).fill(1);
      m = {
        decay: decayMask === undefined ? all() : layout.mask(decayMask),
        trust: trustMask === undefined ? all() : layout.mask(trustMask),
      };
      masks.set(layout, m);
    }
    return m;
  };
  return {
    name: "scaleByLars",
    init(layout) {
      masksFor(layout);
      const state: LarsState = { count: 0 };
      if (momentum !== 0) state.momentumBuffer = layout.zeros();
      return state;
    },
    update(u, state, ctx) {
      const wd = valueAt(weightDecay, state.count);
      const p = ctx.params;
      const { decay, trust } = masksFor(ctx.layout);
      const { tensors } = ctx.layout;
      for (let k = 0; k < tensors.length; k++) {
        const { offset, size } = tensors[k];
        const end = offset + size;
        const decayHere = decay[k] ? wd : 0;
        let ratio = 1;
        if (trust[k]) {
          const weightNorm = Math.sqrt(sumOfSquares(p, offset, end));
          if (form === "paper") {
            const gradNorm = Math.sqrt(sumOfSquares(u, offset, end));
            if (weightNorm > 0 && gradNorm > 0) {
              ratio = (trustCoefficient * weightNorm) / (gradNorm + decayHere * weightNorm + eps);
            }
          } else {
            const stepNorm = Math.sqrt(sumOfSquaresDecayed(u, p, decayHere, offset, end));
            if (weightNorm > 0 && stepNorm > 0) {
              ratio = (trustCoefficient * weightNorm) / (stepNorm + eps);
            }
          }
        }
        decayAndScale(u, p, offset, end, decayHere, ratio);
      }
      if (momentum !== 0) {
        const buffer = state.momentumBuffer as FloatArray;
        sgdMomentum(u, buffer, momentum, dampening, nesterov, state.count === 0);
      }
      state.count++;
    },
  };
}

/** Options of {@link lars}. */
export interface LarsOptions extends ScaleByLarsOptions {
  /** Global step size (constant or schedule; default 1). */
  learningRate?: Hyper;
}

/** LARS: SGD with momentum on a per-tensor trust-scaled gradient. */
export function lars(options: LarsOptions = {}): ChainTransform {
  const owner = "lars";
  checkKnownOptions(owner, options, [
    "learningRate",
    "trustCoefficient",
    "eps",
    "weightDecay",
    "weightDecayMask",
    "trustRatioMask",
    "trustRatioForm",
    "momentum",
    "dampening",
    "nesterov",
  ]);
  const { learningRate = 1, ...larsOptions } = options;
  return chain(
    scaleByLars(larsOptions),
    scaleByLearningRate(checkLearningRate(owner, learningRate)),
  );
}
