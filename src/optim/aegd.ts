/**
 * AEGD: adaptive gradient descent with energy.
 *
 * Liu & Tian, "AEGD: Adaptive Gradient Descent with Energy", arXiv:2010.05109, 2020.
 *
 * AEGD descends on g(θ) = √(f(θ) + c), which needs f + c > 0, and scales each coordinate's step
 * by an "energy" r that can only decrease, which makes the method unconditionally energy
 * stable. Step t (from 1), with f and ∇f evaluated at θ_{t−1}:
 *
 *     v_t = ∇f(θ_{t−1}) / (2·√(f(θ_{t−1}) + c))          (= ∇g, elementwise)
 *     r_0 = √(f(θ_0) + c)                               (every coordinate, at the first step)
 *     r_t = r_{t−1} / (1 + 2η·v_t²)                       (elementwise)
 *     θ_t = θ_{t−1} − 2η·r_t·v_t
 *
 * Weight decay as in the official code: L2 adds wd·θ to v_t (after the division by 2√(f + c));
 * the decoupled variant (AEGDW) shrinks θ by (1 − η·wd) before the step.
 *
 * Defaults from the official implementation (txping/AEGD, `aegd.py`): η = 0.1, c = 1, weight
 * decay 0, L2 (not decoupled).
 *
 * AEGD needs f(θ), not only the gradient: it reads the loss from the step context, which the
 * {@link Optimizer} fills when driven by `opt.step(objective)`.
 */
import { InvalidArgumentError } from "../errors.js";
import { aegdDirection } from "../kernels/aegd.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import {
  addDecayedWeights,
  checkLearningRate,
  requireLoss,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByAegd}. */
export interface ScaleByAegdOptions {
  /** η, which also sets how fast the energy decays (constant or schedule; default 0.1). */
  learningRate?: Hyper;
  /** Added to f so that √(f + c) exists; f(θ) + c must stay positive (default 1). */
  c?: number;
  /** L2 coefficient added to v = ∇√(f + c) (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive the L2 term (default all). */
  weightDecayMask?: Selector;
}

/** State of {@link scaleByAegd}. */
export interface AegdState extends State {
  /** Steps taken. */
  count: number;
  /** r, the energy per coordinate (set to √(f(θ_0) + c) at the first step). */
  energy: FloatArray;
}

/**
 * Rescales the gradient into AEGD's direction 2·r_t·v_t (before `−lr`); updates the energy.
 * Needs `ctx.loss`.
 */
export function scaleByAegd(options: ScaleByAegdOptions = {}): GradientTransform<AegdState> {
  const owner = "scaleByAegd";
  checkKnownOptions(owner, options, ["learningRate", "c", "weightDecay", "weightDecayMask"]);
  const learningRate = checkLearningRate(owner, options.learningRate ?? 0.1);
  const c = checkNumber(owner, "c", options.c ?? 1);
  const weightDecay = checkHyper(owner, "weightDecay", options.weightDecay ?? 0, { min: 0 });
  const selector = options.weightDecayMask;
  const masks = new WeakMap<Layout, Uint8Array>();
  const maskFor = (layout: Layout): Uint8Array | null => {
    if (selector === undefined) return null;
    let mask = masks.get(layout);
    if (!mask) {
      mask = layout.mask(selector);
      masks.set(layout, mask);
    }
    return mask;
  };
  return {
    name: "scaleByAegd",
    init(layout) {
      maskFor(layout);
      return { count: 0, energy: layout.zeros() };
    },
    update(u, state, ctx) {
      const loss = requireLoss(owner, ctx);
      const shifted = loss + c;
      if (!(shifted > 0)) {
        throw new InvalidArgumentError(owner, "c", c, `such that f(θ) + c > 0 (f(θ) = ${loss})`);
      }
      const root = Math.sqrt(shifted);
      if (state.count === 0) state.energy.fill(root);
      const eta = valueAt(learningRate, state.count);
      const wd = valueAt(weightDecay, state.count);
      const scale = 1 / (2 * root);
      const mask = maskFor(ctx.layout);
      if (wd === 0 || mask === null) {
        aegdDirection(u, state.energy, ctx.params, scale, 2 * eta, wd);
      } else {
        for (let t = 0; t < ctx.layout.tensors.length; t++) {
          const { offset, size } = ctx.layout.tensors[t];
          const tensorDecay = mask[t] ? wd : 0;
          aegdDirection(
            u,
            state.energy,
            ctx.params,
            scale,
            2 * eta,
            tensorDecay,
            offset,
            offset + size,
          );
        }
      }
      state.count++;
    },
  };
}

/** Options of {@link aegd}. */
export interface AegdOptions extends ScaleByAegdOptions {
  /** Shrink θ by (1 − η·wd) instead of adding wd·θ to v (AEGDW; default false). */
  decoupledWeightDecay?: boolean;
}

/**
 * AEGD (Liu & Tian, 2020); with `decoupledWeightDecay: true`, AEGDW.
 * @example `await new Optimizer(params, aegd({ learningRate: 0.1 })).step(objective)`
 */
export function aegd(options: AegdOptions = {}): ChainTransform {
  const owner = "aegd";
  checkKnownOptions(owner, options, [
    "learningRate",
    "c",
    "weightDecay",
    "weightDecayMask",
    "decoupledWeightDecay",
  ]);
  const { decoupledWeightDecay = false, weightDecay = 0, weightDecayMask, ...rest } = options;
  const decoupled = checkBoolean(owner, "decoupledWeightDecay", decoupledWeightDecay);
  const learningRate = checkLearningRate(owner, rest.learningRate ?? 0.1);
  checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  if (!decoupled) {
    return chain(
      scaleByAegd({ ...rest, learningRate, weightDecay, weightDecayMask }),
      scaleByLearningRate(learningRate),
    );
  }
  return chain(
    scaleByAegd({ ...rest, learningRate }),
    addDecayedWeights(weightDecay, { mask: weightDecayMask }),
    scaleByLearningRate(learningRate),
  );
}
