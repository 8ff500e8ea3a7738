/**
 * AdaHessian: Adam with the squared gradient replaced by a squared Hutchinson estimate of the
 * Hessian diagonal.
 *
 * Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, "ADAHESSIAN: An Adaptive Second Order
 * Optimizer for Machine Learning", AAAI 2021.
 *
 * Step t (from 1), g the gradient, one Rademacher probe z per parameter tensor (entries ±1):
 *
 *     Hz    = ∇²f(θ)·z                      one Hessian-vector product for all tensors at once
 *     D     = |Hz|, then averaged over blocks (spatial averaging, below)
 *     m_t   = β1·m + (1−β1)·g
 *     v_t   = β2·v + (1−β2)·D²
 *     d_t   = (m_t / (1−β1^t)) / ((√v_t)^k / (√(1−β2^t))^k + ε)      k the Hessian power
 *     θ_t   = θ − lr·(d_t + wd·θ)                                    decoupled weight decay
 *
 * `|Hz|` is the magnitude of the Hutchinson sample `z ⊙ Hz` (|z| = 1); the two differ only once
 * blocks are averaged, where the reference averages `|Hz|`.
 *
 * Spatial averaging (`spatialAveraging`): `"kernels"` (default, the reference's image
 * classification optimizer) replaces D of 4-D tensors by its mean over the last two dimensions
 * (one value per convolution kernel); `"rows"` (the reference's instruction optimizer) also
 * averages 2-D tensors over their last dimension (one value per row) and 3-D tensors over their
 * last dimension; `"none"` averages nothing. Other ranks are never averaged.
 *
 * The probe source is injectable (`probes`); by default tensor i at step count c (0-based) gets
 * elements `offset_i, …, offset_i + size_i − 1` of the Rademacher sequence of stream c of
 * `seed` (src/random), so the probes depend only on (seed, step, layout) and a resumed run draws
 * exactly what an uninterrupted one would.
 *
 * Defaults are those of the official code (amirgholami/adahessian,
 * `image_classification/optim_adahessian.py`): lr 0.15, β = (0.9, 0.999), ε = 1e-4, weight
 * decay 0, Hessian power 1 (validated in [0, 1] as there).
 */
import { InvalidArgumentError, MissingOracleError } from "../errors.js";
import { adahessianDirection, hutchinsonDiagonal } from "../kernels/adahessian.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout, Selector, TensorSpec } from "../params/layout.js";
import { fillRademacher } from "../random/distributions.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import { chain } from "./transform.js";
import { checkChoice, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Which blocks of the Hessian diagonal estimate are averaged (see {@link scaleByAdaHessian}). */
export type SpatialAveraging = "kernels" | "rows" | "none";

/**
 * Fills `out` (the view of tensor `tensorIndex` of the probe vector) with the Hutchinson probe
 * for update `step` (0-based count of updates already applied).
 */
export type ProbeSource = (
  ctx: StepContext,
  tensorIndex: number,
  out: FloatArray,
  step: number,
) => void;

/** Options of {@link scaleByAdaHessian}. */
export interface ScaleByAdaHessianOptions {
  /** Decay of the gradient average (default 0.9). */
  beta1?: number;
  /** Decay of the squared Hessian-diagonal average (default 0.999). */
  beta2?: number;
  /** Added to the denominator (default 1e-4). */
  eps?: Hyper;
  /** Exponent k in [0, 1] applied to the root of the second moment (default 1). */
  hessianPower?: number;
  /** Block averaging of the diagonal estimate (default `"kernels"`). */
  spatialAveraging?: SpatialAveraging;
  /** Seed of the default Rademacher probes: an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** Replaces the default Rademacher probes (e.g. to replay recorded ones). */
  probes?: ProbeSource;
}

/** State of {@link scaleByAdaHessian}. */
export interface AdaHessianState extends State {
  /** Updates applied so far (drives bias correction and the probe stream). */
  count: number;
  /** Average of the gradient, per parameter. */
  mu: FloatArray;
  /** Average of the squared Hessian-diagonal estimate, per parameter. */
  nu: FloatArray;
}

interface Scratch {
  probe: FloatArray;
  hv: FloatArray;
  blocks: Int32Array;
}

/** Length of the trailing block averaged for `tensor` under `mode` (1: no averaging). */
function blockLength(tensor: TensorSpec, mode: SpatialAveraging): number {
  const s = tensor.shape;
  if (mode === "none") return 1;
  if (s.length === 4) return s[2] * s[3];
  if (mode === "rows" && (s.length === 2 || s.length === 3)) return s[s.length - 1];
  return 1;
}

const OWNER = "scaleByAdaHessian";

/**
 * Rescales the gradient by AdaHessian's bias-corrected ratio of the gradient average to the
 * root of the averaged squared Hutchinson diagonal (the direction, before `−lr`). Asks the
 * step's objective for one Hessian-vector product per update.
 */
export function scaleByAdaHessian(
  options: ScaleByAdaHessianOptions = {},
): GradientTransform<AdaHessianState> {
  checkKnownOptions(OWNER, options, [
    "beta1",
    "beta2",
    "eps",
    "hessianPower",
    "spatialAveraging",
    "seed",
    "probes",
  ]);
  const beta1 = checkBeta(OWNER, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(OWNER, "beta2", options.beta2 ?? 0.999);
  const eps = checkHyper(OWNER, "eps", options.eps ?? 1e-4, { min: 0 });
  const hessianPower = checkNumber(OWNER, "hessianPower", options.hessianPower ?? 1, {
    min: 0,
    max: 1,
  });
  const averaging = checkChoice(OWNER, "spatialAveraging", options.spatialAveraging ?? "kernels", [
    "kernels",
    "rows",
    "none",
  ]);
  const seed = checkNumber(OWNER, "seed", options.seed ?? 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  if (options.probes !== undefined && typeof options.probes !== "function") {
    throw new InvalidArgumentError(OWNER, "probes", options.probes, "a function");
  }
  const probes: ProbeSource =
    options.probes ??
    ((ctx, tensorIndex, out, step) => {
      fillRademacher(out, seed, step, ctx.layout.tensors[tensorIndex].offset);
    });

  // Probe and product buffers are workspace, not state: allocated once per layout.
  const scratches = new WeakMap<Layout, Scratch>();
  const scratchFor = (layout: Layout): Scratch => {
    let s = scratches.get(layout);
    if (!s) {
      s = {
        probe: layout.zeros(),
        hv: layout.zeros(),
        blocks: Int32Array.from(layout.tensors, (t) => blockLength(t, averaging)),
      };
      scratches.set(layout, s);
    }
    return s;
  };

  return {
    name: OWNER,
    needs: ["hvp"],
    init(layout) {
      scratchFor(layout);
      return { count: 0, mu: layout.zeros(), nu: layout.zeros() };
    },
    async update(u, state, ctx) {
      if (ctx.objective === undefined) {
        throw new MissingOracleError(
          "(none given)",
          "hvp",
          `optimizer ${OWNER} (drive it with opt.step(objective) or opt.update(grads, objective))`,
        );
      }
      const hvp = requireOracle(ctx.objective, "hvp", `optimizer ${OWNER}`);
      const { layout } = ctx;
      const { probe, hv, blocks } = scratchFor(layout);
      const tensors = layout.tensors;
      for (let i = 0; i < tensors.length; i++) {
        const { offset, size } = tensors[i];
        probes(ctx, i, probe.subarray(offset, offset + size), state.count);
      }
      await hvp(ctx.params, probe, hv);
      for (let j = 0; j < hv.length; j++) {
        if (!Number.isFinite(hv[j])) {
          const t = tensors.find((s) => j < s.offset + s.size)!;
          throw new RangeError(
            `${OWNER}: the Hessian-vector product is not finite at update ${state.count + 1}: ` +
              `${t.name}[${j - t.offset}] = ${hv[j]}; no state was changed`,
          );
        }
      }
      for (let i = 0; i < tensors.length; i++) {
        hutchinsonDiagonal(hv, hv, tensors[i].offset, tensors[i].size, blocks[i]);
      }
      const t = state.count + 1;
      adahessianDirection(
        u,
        state.mu,
        state.nu,
        hv,
        beta1,
        beta2,
        valueAt(eps, state.count),
        hessianPower,
        1 - beta1 ** t,
        1 - beta2 ** t,
      );
      state.count = t;
    },
  };
}

/** Options of {@link adahessian}. */
export interface AdaHessianOptions extends ScaleByAdaHessianOptions {
  /** Step size (constant or schedule; default 0.15). */
  learningRate?: Hyper;
  /** Decoupled weight decay `θ ← θ − lr·wd·θ` (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/**
 * AdaHessian with decoupled weight decay, as the official implementation:
 * `θ ← θ − lr·(d + wd·θ)`. Needs an objective with an `hvp` oracle (`opt.step(objective)`).
 */
export function adahessian(options: AdaHessianOptions = {}): ChainTransform {
  const owner = "adahessian";
  checkKnownOptions(owner, options, [
    "learningRate",
    "weightDecay",
    "weightDecayMask",
    "beta1",
    "beta2",
    "eps",
    "hessianPower",
    "spatialAveraging",
    "seed",
    "probes",
  ]);
  const { learningRate = 0.15, weightDecay = 0, weightDecayMask, ...rest } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const parts: GradientTransform[] = [scaleByAdaHessian(rest)];
  if (wd !== 0) parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  parts.push(scaleByLearningRate(lr));
  return chain(...parts);
}
