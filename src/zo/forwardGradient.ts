/**
 * Forward gradients: gradient estimates from forward-mode directional derivatives, no backward
 * pass.
 *
 * Baydin, Pearlmutter, Syme, Wood & Torr, "Gradients without Backpropagation", arXiv:2202.08587,
 * 2022. With v a random direction whose entries are independent with mean 0 and variance 1, the
 * forward gradient
 *
 *     g̃ = (∇f(θ)·v)·v,        E[g̃] = E[v·vᵀ]·∇f(θ) = ∇f(θ)
 *
 * is unbiased and costs one JVP (a forward pass carrying a tangent; the objective's `jvp`
 * oracle). Averaging n independent directions,
 *
 *     g̃ = (1/n)·Σ_k (∇f(θ)·v_k)·v_k,
 *
 * divides its covariance by n: per coordinate Var g̃_i = (‖∇f‖² + ∇f_i²)/n for v ~ N(0, I)
 * (the paper's choice) and (‖∇f‖² − ∇f_i²)/n for Rademacher v, so E‖g̃ − ∇f‖² grows like
 * d·‖∇f‖²/n with the dimension d.
 *
 * Guessed directions: Fournier, Rivaud, Belilovsky, Eickenberg & Oyallon, "Can Forward Gradient
 * Match Backpropagation?", ICML 2023, replace the random v by a guess U of the gradient (e.g. the
 * gradient of a local, layer-wise loss) and take the projection of the gradient onto it:
 *
 *     g̃ = (∇f(θ)·U / ‖U‖²)·U,
 *
 * the orthogonal projection of ∇f onto span{U}, the estimator of the authors' code
 * (streethagore/ForwardLocalGradient @ e262989, trainer/estimators.py, `compute_projection`,
 * which adds 1e-16 to ‖U‖²; here a zero guess gives a zero estimate and any other the exact
 * quotient). It is biased unless U is parallel to ∇f, and its quality is the alignment
 * cos(U, ∇f). Their code projects each layer's weight and bias separately (one coefficient per
 * module); `projection: "tensor"` does the same per tensor of the layout, at one JVP per tensor:
 *
 *     g̃_t = (∇f(θ)·U_t / ‖U_t‖²)·U_t,     U_t = U restricted to tensor t (zero elsewhere).
 *
 * Randomness: direction k of step t is elements k·d … k·d + d − 1 of the Philox stream
 * (seed, t) (normal or Rademacher, see src/random/distributions.ts), so an estimate is a pure
 * function of (θ, seed, t) and resuming at step t redraws the same directions.
 *
 * Defaults: one direction, v ~ N(0, I) (Baydin et al., Section 3; there is no official code),
 * seed 0, the loss f(θ) evaluated alongside (one more forward pass, as the objective's `jvp`
 * returns only the derivative).
 *
 * Use: {@link forwardGradientObjective} wraps an objective so that its `valueAndGrad` returns
 * the estimate, which any first-order optimizer consumes (`opt.step(forwardGradientObjective(
 * model))`); {@link forwardGradientEstimator} writes an estimate for an explicit step into any
 * buffer.
 */
import { InvalidArgumentError, NonFiniteError } from "../errors.js";
import { firstNonFinite } from "../kernels/apply.js";
import type { Awaitable, Objective } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout } from "../params/layout.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { INDEX_LIMIT } from "../random/philox.js";
import { fillNormal, fillRademacher } from "../random/distributions.js";

/**
 * Writes a guess U of the gradient at `params` into `out` (the layout of the objective, fully
 * overwritten; it arrives zeroed). `step` is the estimate's step index.
 */
export type GuessSource = (params: FloatArray, out: FloatArray, step: number) => Awaitable<void>;

/** Distribution of the random directions. */
export type DirectionDistribution = "normal" | "rademacher";

/** Which projection a guessed direction gets (see the module comment). */
export type GuessProjection = "whole" | "tensor";

/** Options of {@link forwardGradientEstimator} and {@link forwardGradientObjective}. */
export interface ForwardGradientOptions {
  /** Number n ≥ 1 of random directions averaged (default 1). Not allowed with `guess`. */
  directions?: number;
  /** `"normal"` (default, the paper's) or `"rademacher"` (±1 entries). */
  distribution?: DirectionDistribution;
  /** Seed of the directions' Philox streams (default 0). */
  seed?: number;
  /** A guessed direction replacing the random ones (Fournier et al.); see {@link GuessSource}. */
  guess?: GuessSource;
  /** With `guess`: one projection (`"whole"`, default, one JVP) or one per tensor (`"tensor"`). */
  projection?: GuessProjection;
  /** Evaluate f(θ) too (default true); when false the estimate reports NaN as the loss. */
  evaluateLoss?: boolean;
}

/** Writes forward-gradient estimates; created by {@link forwardGradientEstimator}. */
export interface ForwardGradientEstimator {
  /** The objective whose `jvp` (and `value`) the estimator calls. */
  readonly objective: Objective;
  /**
   * Writes the estimate at `params` for step `step` (an integer in [0, 2^53), which selects the
   * random directions or is handed to the guess) into `out` (fully overwritten; untouched if an
   * oracle or the guess throws).
   * @returns f(θ), or NaN when `evaluateLoss` is false
   */
  estimate(params: FloatArray, out: FloatArray, step: number): Promise<number>;
}

/** An objective whose gradient is a forward-gradient estimate. */
export interface ForwardGradientObjective extends Objective {
  /** f(θ) (or NaN, see `evaluateLoss`), writing the estimate for step {@link ForwardGradientObjective.step} into
   * `gradOut`. */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): Promise<number>;
  /**
   * Index of the next estimate's step; each `valueAndGrad` that returns advances it by one. To
   * resume a run bit-exactly, save it with the optimizer's state and set it back.
   */
  step: number;
  /** The estimator behind `valueAndGrad`. */
  readonly estimator: ForwardGradientEstimator;
}

const OWNER = "forwardGradient";
const OPTIONS = ["directions", "distribution", "seed", "guess", "projection", "evaluateLoss"];

function tensorAt(layout: Layout, index: number): { name: string; offset: number } {
  for (const t of layout.tensors) {
    if (index < t.offset + t.size) return { name: t.name, offset: t.offset };
  }
  return { name: "?", offset: 0 };
}

function squaredNorm(u: FloatArray, start: number, end: number): number {
  let s = 0;
  for (let i = start; i < end; i++) s += u[i] * u[i];
  return s;
}

/**
 * A forward-gradient estimator for `objective`, which must provide `jvp` (a MissingOracleError
 * naming both otherwise). Options are validated here, before any estimate.
 */
export function forwardGradientEstimator(
  objective: Objective,
  options: ForwardGradientOptions = {},
): ForwardGradientEstimator {
  checkKnownOptions(OWNER, options, OPTIONS);
  const jvp = requireOracle(objective, "jvp", "forwardGradient");
  const guess = options.guess;
  if (guess !== undefined && typeof guess !== "function") {
    throw new InvalidArgumentError(OWNER, "guess", guess, "a function (params, out, step)");
  }
  const directions = checkNumber(OWNER, "directions", options.directions ?? 1, {
    integer: true,
    min: 1,
  });
  if (guess !== undefined && directions !== 1) {
    throw new InvalidArgumentError(OWNER, "directions", directions, "1 (or omitted) with a guess");
  }
  if (guess === undefined && options.projection !== undefined) {
    throw new InvalidArgumentError(
      OWNER,
      "projection",
      options.projection,
      "given only with a guess",
    );
  }
  const distribution = checkChoice(OWNER, "distribution", options.distribution ?? "normal", [
    "normal",
    "rademacher",
  ]);
  const seed = checkNumber(OWNER, "seed", options.seed ?? 0, {
    integer: true,
    min: 0,
    below: INDEX_LIMIT,
  });
  const projection = checkChoice(OWNER, "projection", options.projection ?? "whole", [
    "whole",
    "tensor",
  ]);
  const evaluateLoss = checkBoolean(OWNER, "evaluateLoss", options.evaluateLoss ?? true);
  const layout = objective.layout;
  const size = layout.size;
  if (guess === undefined && directions * size > INDEX_LIMIT) {
    throw new InvalidArgumentError(
      OWNER,
      "directions",
      directions,
      `at most 2^53 / ${size} (the directions of one step share a Philox stream)`,
    );
  }
  let direction: FloatArray | undefined;
  let guessed: FloatArray | undefined;

  const fillDirection = (out: FloatArray, step: number, k: number) => {
    if (distribution === "normal") fillNormal(out, seed, step, k * size);
    else fillRademacher(out, seed, step, k * size);
  };

  // Slopes first, writes after: `out` stays untouched if a JVP throws. Regenerating a
  // direction costs far less than the JVP along it, and needs no second parameter-sized buffer.
  const slopes = new Float64Array(guess === undefined ? directions : layout.tensors.length);

  const randomEstimate = async (params: FloatArray, out: FloatArray, step: number) => {
    direction ??= layout.zeros();
    const v = direction;
    for (let k = 0; k < directions; k++) {
      fillDirection(v, step, k);
      slopes[k] = (await jvp(params, v)) / directions;
    }
    for (let k = 0; k < directions; k++) {
      if (directions > 1) fillDirection(v, step, k);
      const slope = slopes[k];
      if (k === 0) for (let i = 0; i < size; i++) out[i] = slope * v[i];
      else for (let i = 0; i < size; i++) out[i] += slope * v[i];
    }
  };

  const guessedEstimate = async (
    params: FloatArray,
    out: FloatArray,
    step: number,
    source: GuessSource,
  ) => {
    guessed ??= layout.zeros();
    const u = guessed;
    u.fill(0);
    await source(params, u, step);
    const bad = firstNonFinite(u);
    if (bad >= 0) {
      const t = tensorAt(layout, bad);
      throw new NonFiniteError(
        "forwardGradient: the guessed direction",
        t.name,
        bad - t.offset,
        u[bad],
      );
    }
    if (projection === "whole") {
      const norm2 = squaredNorm(u, 0, size);
      if (norm2 === 0) {
        out.fill(0);
        return;
      }
      const coefficient = (await jvp(params, u)) / norm2;
      for (let i = 0; i < size; i++) out[i] = coefficient * u[i];
      return;
    }
    direction ??= layout.zeros();
    const v = direction;
    v.fill(0);
    const tensors = layout.tensors;
    for (let t = 0; t < tensors.length; t++) {
      const { offset, size: length } = tensors[t];
      const norm2 = squaredNorm(u, offset, offset + length);
      if (norm2 === 0) {
        slopes[t] = 0;
        continue;
      }
      v.set(u.subarray(offset, offset + length), offset);
      try {
        slopes[t] = (await jvp(params, v)) / norm2;
      } finally {
        v.fill(0, offset, offset + length);
      }
    }
    for (let t = 0; t < tensors.length; t++) {
      const { offset, size: length } = tensors[t];
      const coefficient = slopes[t];
      for (let i = offset; i < offset + length; i++) out[i] = coefficient * u[i];
    }
  };

  return {
    objective,
    async estimate(params, out, step) {
      layout.assertBuffer(params, `${OWNER} params`);
      layout.assertBuffer(out, `${OWNER} out`);
      checkNumber(OWNER, "step", step, { integer: true, min: 0, below: INDEX_LIMIT });
      const loss = evaluateLoss ? await objective.value(params) : NaN;
      if (guess === undefined) await randomEstimate(params, out, step);
      else await guessedEstimate(params, out, step, guess);
      return loss;
    },
  };
}

/**
 * Wraps `objective` (which must provide `jvp`) so that `valueAndGrad` writes a forward-gradient
 * estimate: `opt.step(forwardGradientObjective(model))` trains with any first-order optimizer
 * and no backward pass. Each call uses the next step index ({@link ForwardGradientObjective.step},
 * starting at 0). `value` and `jvp` are the objective's own.
 */
export function forwardGradientObjective(
  objective: Objective,
  options: ForwardGradientOptions = {},
): ForwardGradientObjective {
  const estimator = forwardGradientEstimator(objective, options);
  const jvp = requireOracle(objective, "jvp", "forwardGradient");
  const wrapped: ForwardGradientObjective = {
    name: `${objective.name}:forward-gradient`,
    layout: objective.layout,
    estimator,
    step: 0,
    optimalValue: objective.optimalValue,
    value: (params) => objective.value(params),
    jvp: (params, vector) => jvp(params, vector),
    async valueAndGrad(params, gradOut) {
      const loss = await estimator.estimate(params, gradOut, wrapped.step);
      wrapped.step++;
      return loss;
    },
  };
  if (objective.initialParams) wrapped.initialParams = objective.initialParams.bind(objective);
  return wrapped;
}
