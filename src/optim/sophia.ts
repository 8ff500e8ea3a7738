/**
 * Sophia: clipped momentum preconditioned by a cheap, periodically refreshed diagonal Hessian
 * estimate.
 *
 * Liu, Li, Hall, Liang & Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language
 * Model Pre-training", ICLR 2024. Official implementation: Liuhong99/Sophia @ a7e1572,
 * `sophia.py` (class `SophiaG`, `step(bs)` and `update_hessian()`).
 *
 * Update at step t (g the gradient, k the Hessian interval, B the batch-size factor):
 *
 *     if t > 1 and (t − 1) mod k = 0:        (refresh at θ_{t−1}, before the step)
 *         ĥ = Hessian diagonal estimate at θ_{t−1}
 *         h ← β2·h + (1−β2)·ĥ
 *     m ← β1·m + (1−β1)·g
 *     official: d = sign(m)·min(|m| / (ρ·B·h + ε), 1)
 *     paper:    d = clip(m / max(ρ·B·h, ε), 1)       (clip to [−1, 1] elementwise)
 *     θ ← θ·(1 − lr·wd) − lr·d                       (decoupled weight decay)
 *
 * h starts at 0, so the first k steps are sign steps of length lr.
 *
 * Timing. The official training loop calls `update_hessian()` right after `step()` of every
 * step t with t mod k = 0, at the new parameters θ_t. Here the refresh runs at the start of step
 * t + 1, before its update, at the same parameters θ_t: the same numbers in the same order
 * (nothing reads h between the two), and the refresh stays inside the transform, which never
 * sees the parameters after the write. A run stopped right after such a step t has not refreshed
 * yet; a checkpoint taken there resumes exactly, because the refresh is owed to step t + 1.
 *
 * The two clip forms. The official code (`clipForm: "official"`) divides by `ρ·B·h + 1e-15`
 * and multiplies the clipped magnitude by sign(m); its `lr` plays the paper's ρ·η and its `rho`
 * the paper's γ, while the batch size B multiplies the Hessian EMA (the repository README). The
 * paper writes `η·clip(m / max(γ·h, ε), 1)` (`clipForm: "paper"`). The two agree while ρ·B·h is
 * well above ε. They differ where the estimate is not positive: with h ≤ −ε/(ρ·B) the official
 * denominator is negative, so the step turns against sign(m) and is no longer bounded by lr; the
 * paper form floors the curvature at ε and takes a sign step. The Gauss-Newton-Bartlett
 * estimate is a square, so SophiaG never meets that case; Hutchinson estimates can be negative,
 * hence {@link sophiaH} defaults to the paper form.
 *
 * Hessian estimates (the `hessian` option, see {@link HessianSource}):
 * - `"gnb"` (Gauss-Newton-Bartlett, SophiaG): ĥ = ĝ⊙ĝ with ĝ the gradient, at the current
 *   parameters, of the loss on labels sampled from the model's own predictions (the objective's
 *   `sampledLabelGrad`). The paper's estimator is B·ĝ⊙ĝ for a loss averaged over B examples;
 *   as in the official code, the factor B is applied in the clip (`batchSize`), not to ĥ.
 * - `"hutchinson"` (SophiaH): ĥ = v⊙(∇²f·v) with v a Rademacher vector (the objective's `hvp`),
 *   drawn from the Philox stream (seed, refresh index), so resuming draws the same probes.
 * - a function, for estimates computed elsewhere (recorded inputs, other estimators).
 *
 * Defaults are the official code's: lr 1e-4, β = (0.965, 0.99), ρ = 0.04, weight decay 0.1,
 * ε = 1e-15, and k = 10 (the repository README's training loop). The official `step(bs)` default
 * of 5120 is the GPT-2 token batch of its experiments, not a property of the method, so
 * `batchSize` defaults here to the number of predictions the sampled loss averages over when the
 * objective declares it (`batchScale`, as descend's jax-js classifiers do) with the
 * Gauss-Newton-Bartlett estimate, and to 1 otherwise (Hutchinson estimates the Hessian of the
 * mean loss itself, so no factor is owed).
 */
import { firstNonFinite } from "../kernels/apply.js";
import { sophiaDirection, sophiaHessianEma } from "../kernels/sophia.js";
import type { Awaitable, OracleName } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import { fillRademacher, uniform } from "../random/index.js";
import type { Hyper } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import { chain } from "./transform.js";
import { checkChoice, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/**
 * Writes a diagonal Hessian estimate ĥ into `out` (the parameters' layout, fully overwritten)
 * at `ctx.params`. `refreshIndex` counts the refreshes (0 for the first), so a source can draw
 * its randomness, or pick a recorded input, deterministically.
 */
export type HessianSource = (
  ctx: StepContext,
  out: FloatArray,
  refreshIndex: number,
) => Awaitable<void>;

/** Which Hessian estimate {@link scaleBySophia} uses. */
export type SophiaHessian = "gnb" | "hutchinson" | HessianSource;

/** Clip form of {@link scaleBySophia}: the official code's or the paper's (see the file header). */
export type SophiaClipForm = "official" | "paper";

/** Options of {@link scaleBySophia}. */
export interface ScaleBySophiaOptions {
  /** Decay of the gradient momentum (default 0.965). */
  beta1?: number;
  /** Decay of the Hessian EMA, applied on refresh steps only (default 0.99). */
  beta2?: number;
  /** Clipping threshold ρ (the paper's γ; default 0.04). */
  rho?: number;
  /**
   * Factor B multiplying the Hessian EMA in the clip (the official `bs`). Default: with the
   * Gauss-Newton-Bartlett estimate, the objective's `batchScale` when it has one; otherwise 1.
   */
  batchSize?: number;
  /** Refresh the Hessian EMA every k steps (default 10). */
  hessianInterval?: number;
  /** ε of the clip (default 1e-15). */
  eps?: number;
  /** `"official"` (default) or `"paper"`. */
  clipForm?: SophiaClipForm;
  /** The Hessian estimate (default `"gnb"`). */
  hessian?: SophiaHessian;
  /** Seed of the estimators' randomness (default 0). */
  seed?: number;
}

/** State of {@link scaleBySophia}. */
export interface SophiaState extends State {
  /** Updates applied so far (drives the refresh schedule and the random streams). */
  count: number;
  /** Momentum of the gradient, per parameter. */
  mu: FloatArray;
  /** EMA of the diagonal Hessian estimate, per parameter (0 until the first refresh). */
  hessian: FloatArray;
}

const OWNER = "scaleBySophia";
const SCALE_OPTIONS = [
  "beta1",
  "beta2",
  "rho",
  "batchSize",
  "hessianInterval",
  "eps",
  "clipForm",
  "hessian",
  "seed",
];

function objectiveOf(ctx: StepContext, oracle: OracleName, requester: string) {
  if (ctx.objective === undefined) {
    throw new TypeError(
      `${requester} needs the objective's "${oracle}" oracle to refresh its Hessian estimate; ` +
        `drive it with opt.step(objective) or opt.update(grads, objective)`,
    );
  }
  return ctx.objective;
}

/**
 * Gauss-Newton-Bartlett source: ĥ = ĝ⊙ĝ with ĝ the objective's `sampledLabelGrad` at the
 * current parameters (one label sample per example), its seed drawn from Philox (seed, refresh).
 */
function gnbSource(seed: number, requester: string): HessianSource {
  return async (ctx, out, refreshIndex) => {
    const objective = objectiveOf(ctx, "sampledLabelGrad", requester);
    const sampledLabelGrad = requireOracle(objective, "sampledLabelGrad", requester);
    const labelSeed = uniform(seed, refreshIndex, 0) * 2 ** 53;
    await sampledLabelGrad(ctx.params, out, labelSeed, 1);
    for (let i = 0; i < out.length; i++) out[i] *= out[i];
  };
}

/** Hutchinson source: ĥ = v⊙(∇²f·v) with v Rademacher from Philox (seed, refresh index). */
function hutchinsonSource(seed: number, requester: string): HessianSource {
  const probes = new WeakMap<Layout, FloatArray>();
  return async (ctx, out, refreshIndex) => {
    const objective = objectiveOf(ctx, "hvp", requester);
    const hvp = requireOracle(objective, "hvp", requester);
    let v = probes.get(ctx.layout);
    if (!v) probes.set(ctx.layout, (v = ctx.layout.zeros()));
    fillRademacher(v, seed, refreshIndex, 0);
    await hvp(ctx.params, v, out);
    for (let i = 0; i < out.length; i++) out[i] *= v[i];
  };
}

/**
 * Sophia's direction: the momentum divided by the curvature-scaled Hessian EMA, clipped to
 * [−1, 1] (before `−lr`). Refreshes the Hessian EMA every `hessianInterval` steps from
 * `hessian`; that refresh may call the objective and makes `update` asynchronous on those steps.
 */
export function scaleBySophia(options: ScaleBySophiaOptions = {}): GradientTransform<SophiaState> {
  checkKnownOptions(OWNER, options, SCALE_OPTIONS);
  const beta1 = checkBeta(OWNER, "beta1", options.beta1 ?? 0.965);
  const beta2 = checkBeta(OWNER, "beta2", options.beta2 ?? 0.99);
  const rho = checkNumber(OWNER, "rho", options.rho ?? 0.04, { min: 0 });
  const batchSize =
    options.batchSize === undefined
      ? undefined
      : checkNumber(OWNER, "batchSize", options.batchSize, { above: 0 });
  const interval = checkNumber(OWNER, "hessianInterval", options.hessianInterval ?? 10, {
    min: 1,
    integer: true,
  });
  const eps = checkNumber(OWNER, "eps", options.eps ?? 1e-15, { above: 0 });
  const clipForm = checkChoice(OWNER, "clipForm", options.clipForm ?? "official", [
    "official",
    "paper",
  ]);
  const seed = checkNumber(OWNER, "seed", options.seed ?? 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  const hessian = options.hessian ?? "gnb";
  let source: HessianSource;
  let needs: OracleName[];
  let name: string;
  if (typeof hessian === "function") {
    source = hessian;
    needs = [];
    name = "scaleBySophia";
  } else {
    const kind = checkChoice(OWNER, "hessian", hessian, ["gnb", "hutchinson"]);
    name = kind === "gnb" ? "scaleBySophiaG" : "scaleBySophiaH";
    const requester = `optimizer ${kind === "gnb" ? "sophiaG" : "sophiaH"}`;
    source = kind === "gnb" ? gnbSource(seed, requester) : hutchinsonSource(seed, requester);
    needs = kind === "gnb" ? ["sampledLabelGrad"] : ["hvp"];
  }
  const fromObjective = batchSize === undefined && needs.includes("sampledLabelGrad");
  const curvatureScaleOf = (ctx: StepContext): number => {
    if (!fromObjective) return rho * (batchSize ?? 1);
    const declared = ctx.objective?.batchScale;
    if (declared === undefined) return rho;
    return rho * checkNumber(name, "batchScale of the objective", declared, { above: 0 });
  };
  const paperForm = clipForm === "paper";
  const estimates = new WeakMap<Layout, FloatArray>();

  const direction = (u: FloatArray, state: SophiaState, curvatureScale: number): void => {
    sophiaDirection(u, state.mu, state.hessian, beta1, curvatureScale, eps, paperForm);
    state.count++;
  };
  const refreshThenStep = (
    u: FloatArray,
    state: SophiaState,
    ctx: StepContext,
    estimate: FloatArray,
    refreshIndex: number,
    curvatureScale: number,
  ): void => {
    const bad = firstNonFinite(estimate);
    if (bad >= 0) {
      const t = ctx.layout.tensors.find((s) => bad < s.offset + s.size)!;
      throw new RangeError(
        `${name}: the Hessian estimate is not finite: ${t.name}[${bad - t.offset}] = ` +
          `${estimate[bad]} (refresh ${refreshIndex}, at step ${state.count + 1}); ` +
          `the parameters and the optimizer state were left unchanged`,
      );
    }
    sophiaHessianEma(state.hessian, estimate, beta2);
    direction(u, state, curvatureScale);
  };

  return {
    name,
    needs,
    init(layout) {
      return { count: 0, mu: layout.zeros(), hessian: layout.zeros() };
    },
    update(u, state, ctx) {
      const t = state.count;
      // Read (and check) B before anything changes.
      const curvatureScale = curvatureScaleOf(ctx);
      if (t === 0 || t % interval !== 0) {
        direction(u, state, curvatureScale);
        return;
      }
      let estimate = estimates.get(ctx.layout);
      if (!estimate) estimates.set(ctx.layout, (estimate = ctx.layout.zeros()));
      const refreshIndex = t / interval - 1;
      const pending = source(ctx, estimate, refreshIndex);
      const out = estimate;
      if (pending instanceof Promise) {
        return pending.then(() =>
          refreshThenStep(u, state, ctx, out, refreshIndex, curvatureScale),
        );
      }
      refreshThenStep(u, state, ctx, out, refreshIndex, curvatureScale);
    },
  };
}

/** Options of {@link sophiaG} and {@link sophiaH}. */
export interface SophiaOptions extends ScaleBySophiaOptions {
  /** Step size (constant or schedule; default 1e-4, the paper's ρ·η). */
  learningRate?: Hyper;
  /** Decoupled weight decay `θ ← θ·(1 − lr·wd)` (default 0.1). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

const SOPHIA_OPTIONS = [...SCALE_OPTIONS, "learningRate", "weightDecay", "weightDecayMask"];

function sophia(owner: string, options: SophiaOptions, defaults: ScaleBySophiaOptions) {
  checkKnownOptions(owner, options, SOPHIA_OPTIONS);
  const { learningRate = 1e-4, weightDecay = 0.1, weightDecayMask, ...rest } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  return chain(
    scaleBySophia({ ...defaults, ...rest }),
    addDecayedWeights(wd, { mask: weightDecayMask }),
    scaleByLearningRate(lr),
  );
}

/**
 * SophiaG: Sophia with the Gauss-Newton-Bartlett estimate (needs the objective's
 * `sampledLabelGrad`) and the official clip, exactly as Liuhong99/Sophia's `SophiaG`.
 */
export function sophiaG(options: SophiaOptions = {}): ChainTransform {
  return sophia("sophiaG", options, { hessian: "gnb", clipForm: "official" });
}

/**
 * SophiaH: Sophia with Hutchinson's estimate v⊙(∇²f·v) (needs the objective's `hvp`) and, by
 * default, the paper's clip, which stays a bounded sign step where the estimate is negative.
 */
export function sophiaH(options: SophiaOptions = {}): ChainTransform {
  return sophia("sophiaH", options, { hessian: "hutchinson", clipForm: "paper" });
}
