/**
 * Coordinate-wise gradient estimation (CGE) over a sparse set of coordinates.
 *
 * Chen, Zhang, Jia, Diffenderfer, Liu, Parasyris, Zhang, Zhang, Kailkhura & Liu, "DeepZero:
 * Scaling up Zeroth-Order Optimization for Deep Model Training", ICLR 2024. Official code:
 * OPTML-Group/DeepZero @ 6085320, algorithm/zoo/gradient_estimate.py (`cge`) and
 * models/distributed_model.py (`calculate_grads`).
 *
 * With S the coordinates a pruning mask leaves and e_i the i-th unit vector, every coordinate of
 * S gets its own finite difference and every other coordinate 0:
 *
 *     forward (DeepZero's):  ĝ_i = (f(θ + h_i⁺·e_i) − f(θ)) / h_i⁺                     (i ∈ S)
 *     central:               ĝ_i = (f(θ + h_i⁺·e_i) − f(θ − h_i⁻·e_i)) / (h_i⁺ + h_i⁻)  (i ∈ S)
 *                            ĝ_i = 0                                                    (i ∉ S)
 *
 * h_i⁺ = fl(θ_i + μ) − θ_i and h_i⁻ = θ_i − fl(θ_i − μ) are the steps actually taken once θ_i ± μ
 * is rounded to the parameters' precision; they equal μ up to that rounding (DeepZero divides by
 * μ itself, which in float32 biases ĝ_i by the relative rounding of the step, up to ~1e-5 at
 * μ = 5e-3 and |θ_i| ≈ 1). Forward differences cost |S| + 1 evaluations, central ones 2|S| + 1
 * (f(θ) is returned as the loss), with error O(μ) and O(μ²) respectively on smooth objectives.
 * Unlike randomized estimates, CGE is deterministic and its cost does not depend on
 * the dimension but on |S|: DeepZero makes it affordable by keeping S sparse (pruning at
 * initialization, with random coordinates re-drawn inside each layer every few epochs, see
 * {@link randomCoordinateMask}).
 *
 * Evaluation. Every perturbed point differs from θ in one coordinate. With a batched objective
 * (a `valueBatch` hook, see src/zo/valueBatch.ts) up to `batchSize` points go to the model in
 * one call: DeepZero's "forward parallelization". Without one, θ itself is perturbed in place,
 * one coordinate at a time, and the coordinate is restored from a saved copy (exactly the bits it
 * held, even if the objective throws), so no copy of the parameters is made.
 *
 * Defaults are the official code's: forward differences, μ = 5e-3 (tools/misc.py,
 * `--zoo-step-size`), all coordinates when no mask is given.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import { selectorPredicate } from "../params/layout.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { fillUniform } from "../random/distributions.js";
import { INDEX_LIMIT } from "../random/philox.js";
import type { BatchedObjective, BlackBox, BlackBoxLayout, ValueBatch } from "./valueBatch.js";
import { blackBoxObjective, evaluatePoints } from "./valueBatch.js";

/** Finite-difference scheme of {@link coordinateGradientEstimator}. */
export type CoordinateDifference = "forward" | "central";

/** Options of {@link coordinateGradientEstimator} and {@link coordinateGradientObjective}. */
export interface CoordinateGradientOptions {
  /** Step μ > 0 (default 5e-3, DeepZero's). */
  stepSize?: number;
  /** `"forward"` (default, DeepZero's, |S| + 1 evaluations) or `"central"` (2|S| + 1). */
  difference?: CoordinateDifference;
  /** Tensors whose coordinates are estimated (default all); the others get 0. */
  tensors?: Selector;
  /**
   * One flag per coordinate of the layout (length `layout.size`): nonzero coordinates are
   * estimated, the others get 0. Combined with `tensors`, a coordinate must pass both.
   */
  mask?: ArrayLike<number>;
  /** Batched evaluation (default: the objective's own `valueBatch`, if it has one). */
  valueBatch?: ValueBatch;
  /** Most points per `valueBatch` call (default 32); each costs one parameter-sized buffer. */
  batchSize?: number;
  /** The parameters' layout, when the objective is a bare function (see {@link BlackBox}). */
  layout?: BlackBoxLayout;
}

/** Writes coordinate-wise estimates; created by {@link coordinateGradientEstimator}. */
export interface CoordinateGradientEstimator {
  /** The objective evaluated (a bare function comes wrapped with its layout). */
  readonly objective: BatchedObjective;
  /** The estimated coordinates S (flat indices into the layout, ascending). */
  readonly coordinates: Int32Array;
  /** Objective evaluations per estimate: |S| + 1 (forward) or 2|S| + 1 (central). */
  readonly evaluationsPerEstimate: number;
  /**
   * Writes ĝ at `params` into `out` (fully overwritten; untouched if an evaluation throws).
   * Without a batch hook `params` is perturbed in place during the call and restored bit for
   * bit. Throws an InvalidArgumentError naming `stepSize` when θ_i ± μ rounds back to θ_i.
   * @returns f(θ)
   */
  estimate(params: FloatArray, out: FloatArray): Promise<number>;
}

/** An objective whose gradient is the coordinate-wise estimate. */
export interface CoordinateGradientObjective extends BatchedObjective {
  /** f(θ), writing the coordinate-wise estimate into `gradOut`. */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): Promise<number>;
  /** The estimator behind `valueAndGrad`. */
  readonly estimator: CoordinateGradientEstimator;
}

const OWNER = "coordinateGradient";
const OPTIONS = ["stepSize", "difference", "tensors", "mask", "valueBatch", "batchSize", "layout"];

/** The flat indices kept by both the tensor selector and the per-coordinate mask. */
function selectCoordinates(
  layout: Layout,
  tensors: Selector | undefined,
  mask: ArrayLike<number> | undefined,
): Int32Array {
  if (mask !== undefined) {
    if (mask === null || typeof mask !== "object" || typeof mask.length !== "number") {
      throw new InvalidArgumentError(OWNER, "mask", mask, "an array of one flag per coordinate");
    }
    if (mask.length !== layout.size) {
      throw new ShapeMismatchError(
        `${OWNER}: mask has ${mask.length} flags, expected ${layout.size} (the layout's size)`,
      );
    }
    for (let i = 0; i < mask.length; i++) {
      if (typeof mask[i] !== "number" || Number.isNaN(mask[i])) {
        throw new InvalidArgumentError(OWNER, `mask[${i}]`, mask[i], "a number (0 = skip)");
      }
    }
  }
  const keep = tensors === undefined ? () => true : selectorPredicate(tensors);
  const chosen: number[] = [];
  for (const t of layout.tensors) {
    if (!keep(t)) continue;
    for (let i = t.offset; i < t.offset + t.size; i++) {
      if (mask === undefined || mask[i] !== 0) chosen.push(i);
    }
  }
  return Int32Array.from(chosen);
}

/** Name and element index of flat coordinate `index`, for messages. */
function describeCoordinate(layout: Layout, index: number): string {
  for (const t of layout.tensors) {
    if (index < t.offset + t.size) return `${t.name}[${index - t.offset}]`;
  }
  return `[${index}]`;
}

/**
 * A coordinate-wise gradient estimator for `objective`: any black box (only `value` is needed,
 * or a batch hook). Options are validated and the coordinate set S is fixed here.
 */
export function coordinateGradientEstimator(
  blackBox: BlackBox,
  options: CoordinateGradientOptions = {},
): CoordinateGradientEstimator {
  checkKnownOptions(OWNER, options, OPTIONS);
  const objective = blackBoxObjective(OWNER, blackBox, options.layout);
  const stepSize = checkNumber(OWNER, "stepSize", options.stepSize ?? 5e-3, { above: 0 });
  const central =
    checkChoice(OWNER, "difference", options.difference ?? "forward", ["forward", "central"]) ===
    "central";
  const batchSize = checkNumber(OWNER, "batchSize", options.batchSize ?? 32, {
    integer: true,
    min: 1,
  });
  const valueBatch = options.valueBatch ?? objective.valueBatch?.bind(objective);
  if (valueBatch !== undefined && typeof valueBatch !== "function") {
    throw new InvalidArgumentError(OWNER, "valueBatch", valueBatch, "a function (points)");
  }
  const layout = objective.layout;
  const coordinates = selectCoordinates(layout, options.tensors, options.mask);
  const count = coordinates.length;
  const perCoordinate = central ? 2 : 1;
  const points = 1 + perCoordinate * count;

  // The rounded perturbed values of the current estimate: point p > 0 sets coordinate
  // coordinates[⌊(p − 1)/m⌋] to shifted[p − 1] (m = 1 forward; m = 2 central: +, − alternating).
  const shifted = new Float64Array(perCoordinate * count);
  const values = new Float64Array(points);
  const rounder = layout.dtype === "float32" ? new Float32Array(1) : new Float64Array(1);
  let scratch: FloatArray[] | undefined;

  const prepareShifts = (params: FloatArray) => {
    for (let k = 0; k < count; k++) {
      const c = coordinates[k];
      const x = params[c];
      rounder[0] = x + stepSize;
      const plus = rounder[0];
      rounder[0] = x - stepSize;
      const minus = rounder[0];
      if (plus === x || (central && minus === x)) {
        throw new InvalidArgumentError(
          OWNER,
          "stepSize",
          stepSize,
          `large enough to change ${describeCoordinate(layout, c)} = ${x} in ${layout.dtype}`,
        );
      }
      if (central) {
        shifted[2 * k] = plus;
        shifted[2 * k + 1] = minus;
      } else shifted[k] = plus;
    }
  };

  const evaluateInPlace = async (params: FloatArray) => {
    values[0] = await objective.value(params);
    for (let p = 1; p < points; p++) {
      const c = coordinates[Math.floor((p - 1) / perCoordinate)];
      const saved = params[c];
      params[c] = shifted[p - 1];
      try {
        values[p] = await objective.value(params);
      } finally {
        params[c] = saved;
      }
    }
  };

  const evaluateBatched = async (params: FloatArray, batch: ValueBatch) => {
    const width = Math.min(batchSize, points);
    if (scratch === undefined || scratch.length !== width) {
      scratch = Array.from({ length: width }, () => layout.zeros());
    }
    const buffers = scratch;
    for (const b of buffers) b.set(params);
    for (let start = 0; start < points; start += width) {
      const chunk = Math.min(width, points - start);
      for (let j = 0; j < chunk; j++) {
        const p = start + j;
        if (p > 0) buffers[j][coordinates[Math.floor((p - 1) / perCoordinate)]] = shifted[p - 1];
      }
      try {
        await evaluatePoints(OWNER, objective, batch, buffers.slice(0, chunk), values, start);
      } finally {
        for (let j = 0; j < chunk; j++) {
          const p = start + j;
          if (p === 0) continue;
          const c = coordinates[Math.floor((p - 1) / perCoordinate)];
          buffers[j][c] = params[c];
        }
      }
    }
  };

  return {
    objective,
    coordinates,
    evaluationsPerEstimate: points,
    async estimate(params, out) {
      layout.assertBuffer(params, `${OWNER} params`);
      layout.assertBuffer(out, `${OWNER} out`);
      prepareShifts(params);
      if (valueBatch === undefined) await evaluateInPlace(params);
      else await evaluateBatched(params, valueBatch);
      const base = values[0];
      out.fill(0);
      for (let k = 0; k < count; k++) {
        const c = coordinates[k];
        const x = params[c];
        if (central) {
          const plus = shifted[2 * k];
          const minus = shifted[2 * k + 1];
          out[c] = (values[1 + 2 * k] - values[2 + 2 * k]) / (plus - minus);
        } else {
          out[c] = (values[1 + k] - base) / (shifted[k] - x);
        }
      }
      return base;
    },
  };
}

/**
 * Wraps `objective` so that `valueAndGrad` writes the coordinate-wise estimate:
 * `opt.step(coordinateGradientObjective(model, { mask }))` trains with any first-order optimizer
 * from function values alone. `value` (and `valueBatch`, when present) are the objective's own.
 */
export function coordinateGradientObjective(
  blackBox: BlackBox,
  options: CoordinateGradientOptions = {},
): CoordinateGradientObjective {
  const estimator = coordinateGradientEstimator(blackBox, options);
  const objective: BatchedObjective = estimator.objective;
  const wrapped: CoordinateGradientObjective = {
    name: `${objective.name}:cge`,
    layout: objective.layout,
    estimator,
    optimalValue: objective.optimalValue,
    value: (params) => objective.value(params),
    valueAndGrad: (params, gradOut) => estimator.estimate(params, gradOut),
  };
  const batch = options.valueBatch ?? objective.valueBatch?.bind(objective);
  if (batch !== undefined) wrapped.valueBatch = batch;
  if (objective.initialParams) wrapped.initialParams = objective.initialParams.bind(objective);
  return wrapped;
}

/** Options of {@link randomCoordinateMask}. */
export interface RandomCoordinateMaskOptions {
  /** Fraction of each pruned tensor's coordinates kept, in [0, 1]. */
  density: number;
  /** Seed of the draw (default 0). */
  seed?: number;
  /** Philox stream of the draw (default 0): use a new stream for each re-draw. */
  stream?: number;
  /**
   * Tensors that are sparsified (default: those with at least two dimensions, the weight
   * matrices and kernels, as DeepZero prunes only convolution and linear weights). The other
   * tensors keep every coordinate.
   */
  prune?: Selector;
}

/**
 * DeepZero's layer-wise random sparsity (its `layer_wise_random` score with a uniform ratio):
 * in each pruned tensor exactly round(density·size) coordinates are kept, chosen uniformly at
 * random (a partial Fisher–Yates shuffle driven by the Philox uniforms of (seed, stream), read
 * from index `offset` of the tensor on); unpruned tensors are kept whole. Returns one flag per
 * coordinate (1 = estimated), the `mask` of {@link coordinateGradientEstimator}.
 */
export function randomCoordinateMask(
  layout: Layout,
  options: RandomCoordinateMaskOptions,
): Uint8Array {
  const owner = "randomCoordinateMask";
  checkKnownOptions(owner, options, ["density", "seed", "stream", "prune"]);
  const density = checkNumber(owner, "density", options.density, { min: 0, max: 1 });
  const bounds = { integer: true, min: 0, below: INDEX_LIMIT };
  const seed = checkNumber(owner, "seed", options.seed ?? 0, bounds);
  const stream = checkNumber(owner, "stream", options.stream ?? 0, bounds);
  const prune = selectorPredicate(options.prune ?? ((t) => t.shape.length >= 2));
  const mask = new Uint8Array(layout.size);
  let largest = 0;
  for (const t of layout.tensors) largest = Math.max(largest, t.size);
  const order = new Int32Array(largest);
  const uniforms = new Float64Array(largest);
  for (const t of layout.tensors) {
    if (!prune(t)) {
      mask.fill(1, t.offset, t.offset + t.size);
      continue;
    }
    const keep = Math.round(density * t.size);
    if (keep === 0) continue;
    for (let i = 0; i < t.size; i++) order[i] = i;
    const u = fillUniform(uniforms.subarray(0, keep), seed, stream, t.offset);
    for (let i = 0; i < keep; i++) {
      // Position i takes one of the t.size − i elements not yet chosen.
      const j = i + Math.floor(u[i] * (t.size - i));
      const swap = order[i];
      order[i] = order[j];
      order[j] = swap;
      mask[t.offset + order[i]] = 1;
    }
  }
  return mask;
}
