/**
 * NAdam: Adam with Nesterov momentum.
 *
 * Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop track.
 *
 * Update at step t (g the gradient, torch.optim's form of the paper's momentum schedule μ_t and
 * its running product Π_t):
 *
 *     μ_t   = β1·(1 − ½·0.96^(t·ψ))             μ_{t+1} = β1·(1 − ½·0.96^((t+1)·ψ))
 *     Π_t   = Π_{t−1}·μ_t   (Π_0 = 1)            Π_{t+1} = Π_t·μ_{t+1}
 *     m_t   = β1·m + (1−β1)·g                    v_t = β2·v + (1−β2)·g²
 *     d_t   = [ (1−μ_t)/(1−Π_t)·g + μ_{t+1}/(1−Π_{t+1})·m_t ] / (√(v_t/(1−β2^t)) + ε)
 *     θ ← θ − lr·d_t, with L2 weight decay g ← g + wd·θ first (torch 1.13),
 *     or θ ← θ − lr·(d_t + wd·θ) with `decoupledWeightDecay` (the `decoupled_weight_decay`
 *     option of later torch releases).
 *
 * Π_{t+1} is the paper's product, also used by torch ≥ 2.0. torch ≤ 1.13 multiplied μ_t in a
 * second time, Π_{t+1} = Π_t·μ_t·μ_{t+1}, a bug fixed upstream in pytorch/pytorch#92699;
 * `legacyMomentumProduct: true` reproduces it, and with it torch 1.13's trajectories.
 *
 * ψ is the momentum decay; ψ = 4e-3 = 1/250 gives the paper's schedule 0.96^(t/250). As in
 * torch, the first moment decays with the constant β1 and the schedule μ only weights the
 * Nesterov combination of gradient and momentum.
 *
 * Defaults are torch.optim.NAdam's (v1.13, unchanged since): lr 2e-3, β = (0.9, 0.999),
 * ε = 1e-8, weight decay 0, momentum decay ψ = 4e-3. Conformance: test/conformance against
 * torch.optim.NAdam 1.13 trajectories (with `legacyMomentumProduct`).
 */
import { nadamDirection } from "../kernels/nadam.js";
import type { FloatArray, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByNadam}. */
export interface ScaleByNadamOptions {
  /** Decay of the first moment, the base of the momentum schedule (default 0.9). */
  beta1?: number;
  /** Decay of the second moment (default 0.999). */
  beta2?: number;
  /** Added to the denominator outside the square root (default 1e-8). */
  eps?: Hyper;
  /** Momentum decay ψ of the schedule μ_t = β1·(1 − ½·0.96^(t·ψ)) (default 4e-3). */
  momentumDecay?: number;
  /**
   * Use torch ≤ 1.13's momentum-term product Π_t·μ_t·μ_{t+1} instead of Π_t·μ_{t+1}
   * (default false).
   */
  legacyMomentumProduct?: boolean;
}

/** State of {@link scaleByNadam}. */
export interface NadamState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** First moment m. */
  mu: FloatArray;
  /** Second moment v. */
  nu: FloatArray;
  /** Π_t, the product of the momentum schedule μ_1···μ_t (torch's `mu_product`). */
  muProduct: number;
}

/** Rescales the gradient by NAdam's direction (before `−lr`). */
export function scaleByNadam(options: ScaleByNadamOptions = {}): GradientTransform<NadamState> {
  const owner = "scaleByNadam";
  checkKnownOptions(owner, options, [
    "beta1",
    "beta2",
    "eps",
    "momentumDecay",
    "legacyMomentumProduct",
  ]);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const eps = checkHyper(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const momentumDecay = checkNumber(owner, "momentumDecay", options.momentumDecay ?? 4e-3, {
    min: 0,
  });
  const legacy = checkBoolean(
    owner,
    "legacyMomentumProduct",
    options.legacyMomentumProduct ?? false,
  );
  return {
    name: "scaleByNadam",
    init(layout) {
      return { count: 0, mu: layout.zeros(), nu: layout.zeros(), muProduct: 1 };
    },
    update(u, state) {
      const t = state.count + 1;
      const e = valueAt(eps, state.count);
      const muNow = beta1 * (1 - 0.5 * 0.96 ** (t * momentumDecay));
      const muNext = beta1 * (1 - 0.5 * 0.96 ** ((t + 1) * momentumDecay));
      const product = state.muProduct * muNow;
      const productNext = legacy ? product * muNow * muNext : product * muNext;
      nadamDirection(
        u,
        state.mu,
        state.nu,
        beta1,
        beta2,
        e,
        (1 - muNow) / (1 - product),
        muNext / (1 - productNext),
        1 - beta2 ** t,
      );
      state.muProduct = product;
      state.count = t;
    },
  };
}

/** Options of {@link nadam}. */
export interface NadamOptions extends ScaleByNadamOptions {
  /** Step size (constant or schedule; default 2e-3). */
  learningRate?: Hyper;
  /** Weight decay (default 0): L2 added to the gradient, or decoupled (see below). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
  /** Decay the weights directly, `θ ← θ − lr·wd·θ`, as AdamW (default false: torch 1.13's L2). */
  decoupledWeightDecay?: boolean;
}

/** torch.optim.NAdam (v1.13), optionally with decoupled weight decay. */
export function nadam(options: NadamOptions = {}): ChainTransform {
  const owner = "nadam";
  checkKnownOptions(owner, options, [
    "learningRate",
    "beta1",
    "beta2",
    "eps",
    "momentumDecay",
    "legacyMomentumProduct",
    "weightDecay",
    "weightDecayMask",
    "decoupledWeightDecay",
  ]);
  const {
    learningRate = 2e-3,
    weightDecay = 0,
    weightDecayMask,
    decoupledWeightDecay = false,
    ...nadamOptions
  } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const decoupled = checkBoolean(owner, "decoupledWeightDecay", decoupledWeightDecay);
  const direction = scaleByNadam(nadamOptions);
  if (wd === 0) return chain(direction, scaleByLearningRate(lr));
  const decay = addDecayedWeights(wd, { mask: weightDecayMask });
  return decoupled
    ? chain(direction, decay, scaleByLearningRate(lr))
    : chain(decay, direction, scaleByLearningRate(lr));
}
