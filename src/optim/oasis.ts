/**
 * OASIS: gradient steps preconditioned by an exponential average of Hutchinson samples of the
 * Hessian diagonal, with a step size adapted from local smoothness.
 *
 * Jahani, Rusakov, Shi, Richtárik, Mahoney & Takáč, "Doubly Adaptive Scaled Algorithm for
 * Machine Learning Using Second-Order Information", ICLR 2022 (Algorithm 1).
 *
 * With z a Rademacher probe, H = ∇²f, g_k = ∇f(w_k) and |D|_α = max(|D|, α) elementwise:
 *
 *     D_0 = (1/m) Σ_s z_s ⊙ H(w_0) z_s                      warm start, m probes at w_0
 *     w_1 = w_0 − η_0·|D_0|_α⁻¹ g_0
 *     k ≥ 1:
 *     D_k = β·D_{k−1} + (1−β)·z ⊙ H(w_k) z
 *     η_k = min( √(1+θ_{k−1})·η_{k−1},  ‖w_k − w_{k−1}‖_{D̂} / (2‖g_k − g_{k−1}‖*_{D̂}) ),  D̂ = |D_k|_α
 *     θ_k = η_k / η_{k−1}
 *     w_{k+1} = w_k − η_k·D̂⁻¹ g_k
 *
 * where ‖x‖_{D̂} = √(xᵀD̂x), ‖x‖*_{D̂} = √(xᵀD̂⁻¹x) and θ_0 = +∞. When both candidates are
 * infinite (the gradient did not change) η keeps its previous value. With `adaptive: false`
 * the step size is the `learningRate` (constant or schedule) at every step, the paper's
 * fixed-learning-rate variant; the curvature average is the same.
 *
 * The paper's average is kept unsigned and truncated only where it is used (as written here);
 * the authors' code stores the truncated |D| back into the average. Both agree while the
 * average stays above α.
 *
 * Probes: probe s of update k (0-based count) is block s of the Rademacher sequence of stream k
 * of `seed` (src/random), so a resumed run draws what an uninterrupted one would; `probes`
 * replaces them. The transform returns the signed step, like the Polyak step size: chain
 * nothing after it that expects a direction.
 *
 * Defaults from the authors' experiment code for OASIS: η_0 = 1, β = 0.99, α = 1e-5, 10
 * warm-start probes.
 */
import { InvalidArgumentError, MissingOracleError } from "../errors.js";
import { drawProbe } from "../curvature/hutchinson.js";
import {
  oasisAddSample,
  oasisAverageSample,
  oasisDualSquaredNorm,
  oasisPrimalSquaredNorm,
  oasisStep,
} from "../kernels/oasis.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { checkBeta, checkLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkKnownOptions, checkNumber } from "./validate.js";

/**
 * Fills `out` (a whole flat buffer) with probe `probeIndex` of update `step` (0-based count of
 * updates already applied).
 */
export type FlatProbeSource = (out: FloatArray, step: number, probeIndex: number) => void;

/** Options of {@link oasis} and {@link scaleByOasis}. */
export interface OasisOptions {
  /**
   * Adaptive: η_0, a positive number (default 1). Fixed (`adaptive: false`): the step size,
   * constant or schedule (default 1).
   */
  learningRate?: Hyper;
  /** Adapt the step size from local smoothness (default true). */
  adaptive?: boolean;
  /** Decay β of the Hessian-diagonal average (default 0.99). */
  beta2?: number;
  /** Truncation floor α > 0 of the preconditioner (default 1e-5). */
  alpha?: number;
  /** Probes averaged into D_0 at the first update (default 10). */
  warmStartProbes?: number;
  /** Seed of the default Rademacher probes: an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** Replaces the default Rademacher probes (e.g. to inject known ones). */
  probes?: FlatProbeSource;
}

/** State of {@link scaleByOasis}. */
export interface OasisState extends State {
  /** Updates applied so far (the probe stream). */
  count: number;
  /** The Hessian-diagonal average D (untruncated). */
  diag: FloatArray;
  /** w_{k−1}, the parameters of the previous update. */
  prevParams: FloatArray;
  /** g_{k−1}, the gradient of the previous update. */
  prevGrad: FloatArray;
  /** η of the last update. */
  stepSize: number;
  /** θ of the last update (+∞ before the second). */
  theta: number;
}

const OPTIONS = ["learningRate", "adaptive", "beta2", "alpha", "warmStartProbes", "seed", "probes"];

function resolve(owner: string, options: OasisOptions) {
  checkKnownOptions(owner, options, OPTIONS);
  const adaptive = checkBoolean(owner, "adaptive", options.adaptive ?? true);
  const learningRate = adaptive
    ? checkNumber(owner, "learningRate", options.learningRate ?? 1, { above: 0 })
    : checkLearningRate(owner, options.learningRate ?? 1);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.99);
  const alpha = checkNumber(owner, "alpha", options.alpha ?? 1e-5, { above: 0 });
  const warmStartProbes = checkNumber(owner, "warmStartProbes", options.warmStartProbes ?? 10, {
    min: 1,
    integer: true,
  });
  const probes = resolveProbeSource(owner, options);
  return { adaptive, learningRate, beta2, alpha, warmStartProbes, probes };
}

/**
 * The probes of a Hutchinson-preconditioned optimizer: the user's `probes`, or Rademacher probes
 * of the seed `seed` (an integer in [0, 2^53), default 0) addressed by (step, probe index).
 */
export function resolveProbeSource(
  owner: string,
  options: { readonly seed?: number; readonly probes?: FlatProbeSource },
): FlatProbeSource {
  const seed = checkNumber(owner, "seed", options.seed ?? 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  if (options.probes !== undefined && typeof options.probes !== "function") {
    throw new InvalidArgumentError(owner, "probes", options.probes, "a function");
  }
  return options.probes ?? ((out, step, index) => drawProbe(out, "rademacher", seed, step, index));
}

interface Scratch {
  probe: FloatArray;
  hv: FloatArray;
  sample: FloatArray;
}

/** Throws when a Hessian-vector product has a non-finite entry, naming the tensor and index. */
export function assertFiniteHvp(owner: string, layout: Layout, hv: FloatArray, step: number): void {
  for (let j = 0; j < hv.length; j++) {
    if (Number.isFinite(hv[j])) continue;
    const t = layout.tensors.find((s) => j < s.offset + s.size)!;
    throw new RangeError(
      `${owner}: the Hessian-vector product is not finite at update ${step + 1}: ` +
        `${t.name}[${j - t.offset}] = ${hv[j]}; no state was changed`,
    );
  }
}

/** The `hvp` oracle of the step's objective, or a {@link MissingOracleError}. */
export function stepHvp(owner: string, ctx: StepContext) {
  if (ctx.objective === undefined) {
    throw new MissingOracleError(
      "(none given)",
      "hvp",
      `optimizer ${owner} (drive it with opt.step(objective) or opt.update(grads, objective))`,
    );
  }
  return requireOracle(ctx.objective, "hvp", `optimizer ${owner}`);
}

/**
 * Turns the gradient into the signed OASIS step `−η_k·|D_k|_α⁻¹ g_k`. Asks the step's objective
 * for `warmStartProbes` Hessian-vector products at the first update and one at every later one.
 */
export function scaleByOasis(options: OasisOptions = {}): GradientTransform<OasisState> {
  const owner = "scaleByOasis";
  const { adaptive, learningRate, beta2, alpha, warmStartProbes, probes } = resolve(owner, options);
  const scratches = new WeakMap<Layout, Scratch>();
  const scratchFor = (layout: Layout): Scratch => {
    let s = scratches.get(layout);
    if (!s) {
      s = { probe: layout.zeros(), hv: layout.zeros(), sample: layout.zeros() };
      scratches.set(layout, s);
    }
    return s;
  };
  return {
    name: owner,
    needs: ["hvp"],
    init(layout) {
      scratchFor(layout);
      return {
        count: 0,
        diag: layout.zeros(),
        prevParams: layout.zeros(),
        prevGrad: layout.zeros(),
        stepSize: 0,
        theta: Infinity,
      };
    },
    async update(u, state, ctx) {
      const hvp = stepHvp(owner, ctx);
      const { layout, params } = ctx;
      const { probe, hv, sample } = scratchFor(layout);
      const k = state.count;
      if (k === 0) {
        // The warm start is built aside so that a failing product leaves the state untouched.
        sample.fill(0);
        for (let s = 0; s < warmStartProbes; s++) {
          probes(probe, 0, s);
          await hvp(params, probe, hv);
          assertFiniteHvp(owner, layout, hv, k);
          oasisAddSample(sample, probe, hv, 1 / warmStartProbes);
        }
        state.diag.set(sample);
      } else {
        probes(probe, k, 0);
        await hvp(params, probe, hv);
        assertFiniteHvp(owner, layout, hv, k);
        oasisAverageSample(state.diag, probe, hv, beta2);
      }
      let eta: number;
      if (!adaptive) {
        eta = valueAt(learningRate, k);
      } else if (k === 0) {
        eta = learningRate as number;
      } else {
        const previous = state.stepSize;
        const primal = Math.sqrt(
          oasisPrimalSquaredNorm(params, state.prevParams, state.diag, alpha),
        );
        const dual = Math.sqrt(oasisDualSquaredNorm(u, state.prevGrad, state.diag, alpha));
        const estimate = primal / (2 * dual);
        eta = Math.min(Math.sqrt(1 + state.theta) * previous, estimate);
        if (!Number.isFinite(eta)) eta = previous;
        state.theta = eta / previous;
      }
      if (adaptive) {
        state.prevParams.set(params);
        state.prevGrad.set(u);
      }
      oasisStep(u, state.diag, alpha, eta);
      state.stepSize = eta;
      state.count = k + 1;
    },
  };
}

/**
 * OASIS (Jahani et al., ICLR 2022): adaptive step size by default, the fixed-learning-rate
 * variant with `adaptive: false`. Needs an objective with an `hvp` oracle
 * (`opt.step(objective)`).
 */
export function oasis(options: OasisOptions = {}): ChainTransform {
  resolve("oasis", options);
  return chain(scaleByOasis(options));
}
