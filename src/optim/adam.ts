/**
 * Adam, AdamW and AMSGrad.
 *
 * - Adam: Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015.
 * - AdamW: Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019.
 * - AMSGrad: Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018.
 *
 * Update at step t (g the gradient, torch.optim's form):
 *
 *     m_t = β1·m + (1−β1)·g                 v_t = β2·v + (1−β2)·g²
 *     v̂_t = max(v̂_{t−1}, v_t) (AMSGrad) or v_t
 *     d_t = (m_t / (1−β1^t)) / (√(v̂_t / (1−β2^t)) + ε)
 *     Adam:  θ ← θ − lr·d_t, with L2 weight decay g ← g + wd·θ first
 *     AdamW: θ ← θ − lr·(d_t + wd·θ)          (decoupled)
 *
 * Defaults are torch.optim's (v1.13): lr 1e-3, β = (0.9, 0.999), ε = 1e-8; AdamW weight decay
 * 0.01. Conformance: test/conformance against torch.optim.Adam / AdamW trajectories.
 */
import type { FloatArray } from "../params/layout.js";
import { adamDirection, adamStep } from "../kernels/adam.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { Selector } from "../params/layout.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByAdam}. */
export interface ScaleByAdamOptions {
  /** Decay of the first moment (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the denominator outside the square root (default 1e-8). */
  eps?: Hyper;
  /** Added inside the square root (default 0, as torch; optax exposes it as `eps_root`). */
  epsRoot?: number;
  /** Use the running maximum of the second moment (AMSGrad; default false). */
  amsgrad?: boolean;
}

/** State of {@link scaleByAdam}. */
export interface AdamState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** First-moment (mean) estimate of the gradient, per parameter. */
  mu: FloatArray;
  /** Second-moment (uncentered variance) estimate of the gradient, per parameter. */
  nu: FloatArray;
}

/** Rescales the gradient by Adam's bias-corrected moment ratio (the direction, before `−lr`). */
export function scaleByAdam(options: ScaleByAdamOptions = {}): GradientTransform<AdamState> {
  const owner = "scaleByAdam";
  checkKnownOptions(owner, options, ["beta1", "beta2", "eps", "epsRoot", "amsgrad"]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const eps = checkHyper(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const epsRoot = checkNumber(owner, "epsRoot", options.epsRoot ?? 0, { min: 0 });
  const amsgrad = checkBoolean(owner, "amsgrad", options.amsgrad ?? false);
  return {
    name: amsgrad ? "scaleByAmsgrad" : "scaleByAdam",
    init(layout) {
      const state: AdamState = { count: 0, mu: layout.zeros(), nu: layout.zeros() };
      if (amsgrad) state.nuMax = layout.zeros();
      return state;
    },
    update(u, state) {
      const t = state.count + 1;
      const e = valueAt(eps, state.count);
      const vMax = amsgrad ? (state.nuMax as FloatArray) : null;
      adamDirection(
        u,
        state.mu,
        state.nu,
        vMax,
        beta1,
        beta2,
        e,
        epsRoot,
        1 - beta1 ** t,
        1 - beta2 ** t,
      );
      state.count = t;
    },
    fusedApply(u, state, _ctx, write) {
      const t = state.count + 1;
      const e = valueAt(eps, state.count);
      const vMax = amsgrad ? (state.nuMax as FloatArray) : null;
      const bc1 = 1 - beta1 ** t;
      const bc2 = 1 - beta2 ** t;
      adamStep(
        write.params,
        u,
        state.mu,
        state.nu,
        vMax,
        beta1,
        beta2,
        e,
        epsRoot,
        bc1,
        bc2,
        write.scale,
        write.runs,
      );
      state.count = t;
    },
  };
}

/** Options of {@link adam}, {@link adamw} and {@link amsgrad}. */
export interface AdamOptions extends Omit<ScaleByAdamOptions, "amsgrad"> {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** Weight decay: L2 added to the gradient for `adam`, decoupled for `adamw`. */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
  /** Use the AMSGrad maximum (default false; `amsgrad()` sets it). */
  amsgrad?: boolean;
}

const ADAM_OPTIONS = [
  "learningRate",
  "beta1",
  "beta2",
  "eps",
  "epsRoot",
  "weightDecay",
  "weightDecayMask",
  "amsgrad",
];

function split(owner: string, options: AdamOptions, defaultDecay: number) {
  checkKnownOptions(owner, options, ADAM_OPTIONS);
  const {
    learningRate = 1e-3,
    weightDecay = defaultDecay,
    weightDecayMask,
    ...adamOptions
  } = options;
  return {
    learningRate: checkLearningRate(owner, learningRate),
    weightDecay: checkHyper(owner, "weightDecay", weightDecay, { min: 0 }),
    mask: weightDecayMask,
    adamOptions,
  };
}

/** Adam with torch.optim's L2 weight decay (added to the gradient). */
export function adam(options: AdamOptions = {}): ChainTransform {
  const o = split("adam", options, 0);
  const parts: GradientTransform[] = [];
  if (o.weightDecay !== 0) parts.push(addDecayedWeights(o.weightDecay, { mask: o.mask }));
  parts.push(scaleByAdam(o.adamOptions), scaleByLearningRate(o.learningRate));
  return chain(...parts);
}

/** AdamW: Adam with decoupled weight decay (default 0.01, as torch.optim.AdamW). */
export function adamw(options: AdamOptions = {}): ChainTransform {
  const o = split("adamw", options, 0.01);
  return chain(
    scaleByAdam(o.adamOptions),
    addDecayedWeights(o.weightDecay, { mask: o.mask }),
    scaleByLearningRate(o.learningRate),
  );
}

/** AMSGrad: Adam with the running maximum of the second moment. */
export function amsgrad(options: AdamOptions = {}): ChainTransform {
  return adam({ ...options, amsgrad: true });
}
