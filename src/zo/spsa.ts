/**
 * SPSA with Gaussian directions: the two-point and one-point zeroth-order gradient estimators,
 * returned as projected scalars g_j (one per direction), never as a d-vector unless asked.
 *
 * Spall, "Multivariate Stochastic Approximation Using a Simultaneous Perturbation Gradient
 * Approximation", IEEE Transactions on Automatic Control, 1992; with Gaussian directions as in
 * Nesterov & Spokoiny, "Random Gradient-Free Minimization of Convex Functions", Foundations of
 * Computational Mathematics, 2017, and MeZO (Malladi et al., NeurIPS 2023; princeton-nlp/MeZO
 * @ 552cb1b, `large_models/trainer.py`, `zo_step`). With z_1 … z_n ~ N(0, I):
 *
 *     two-point:  g_j = (f(θ + ε·z_j) − f(θ − ε·z_j)) / (2ε)
 *     one-point:  g_j = (f(θ + ε·z_j) − f(θ)) / ε              (f(θ) evaluated once per step)
 *     estimate:   ĝ = (1/n) Σ_j g_j·z_j
 *
 * Both are unbiased for the gradient of the Gaussian smoothing f_ε(θ) = E_u[f(θ + ε·u)],
 * u ~ N(0, I): E[ĝ] = ∇f_ε(θ). For a quadratic ∇f_ε = ∇f, and the two-point difference is
 * exactly 2ε·z_jᵀ∇f(θ). The one-point form needs n + 1 evaluations instead of 2n and has a
 * larger variance (its difference carries the (ε/2)·zᵀ∇²f·z term).
 *
 * Defaults: ε = 10^-3 (MeZO's `zo_eps`), two-point, virtual perturbation (see perturb.ts for
 * the in-place one and the memory each costs).
 */
import { InvalidArgumentError } from "../errors.js";
import type { FloatArray } from "../params/layout.js";
import type { FastRandom } from "../random/index.js";
import type { DirectionRef } from "./apply.js";
import { DirectionScratch, forEachEstimateChunk, writeShifted } from "./apply.js";
import type { PerturbedValues, ValueFunction, ZoObjective } from "./perturb.js";
import {
  batchValues,
  checkObjectiveValue,
  evaluateAt,
  evaluateInPlace,
  evaluateView,
  evaluateVirtual,
  zoEvaluator,
} from "./perturb.js";
import type { Estimator, Perturbation } from "./record.js";

/** Buffers an estimator reuses from step to step. */
export class SpsaWorkspace {
  /** Chunk buffers for z and ĝ. */
  readonly scratch: DirectionScratch;
  private point: FloatArray | null = null;
  private batch: FloatArray[] = [];

  /**
   * @param params - the parameter buffer the workspace will serve
   * @param random - a handle from `useFastRandom` to generate directions with (same bits), or
   *   null for the JavaScript definitions
   */
  constructor(params: FloatArray, random: FastRandom | null = null) {
    this.scratch = DirectionScratch.for(params, random);
  }

  /** The one parameter-sized buffer of the virtual path, allocated on first use. */
  pointLike(params: FloatArray): FloatArray {
    if (
      this.point === null ||
      this.point.length !== params.length ||
      !sameType(this.point, params)
    ) {
      this.point =
        params instanceof Float32Array
          ? new Float32Array(params.length)
          : new Float64Array(params.length);
    }
    return this.point;
  }

  /** `count` parameter-sized buffers for a batched objective. */
  pointsLike(params: FloatArray, count: number): FloatArray[] {
    if (
      this.batch.length > 0 &&
      (this.batch[0].length !== params.length || !sameType(this.batch[0], params))
    ) {
      this.batch = [];
    }
    while (this.batch.length < count) {
      this.batch.push(
        params instanceof Float32Array
          ? new Float32Array(params.length)
          : new Float64Array(params.length),
      );
    }
    return this.batch.slice(0, count);
  }
}

function sameType(a: FloatArray, b: FloatArray): boolean {
  return a instanceof Float32Array === b instanceof Float32Array;
}

/** Settings of one estimate. */
export interface SpsaOptions {
  /** ε > 0, the smoothing radius. */
  epsilon: number;
  /** `"twoPoint"` (default) or `"onePoint"`. */
  estimator?: Estimator;
  /** `"virtual"` (default) or `"inPlace"` (perturb.ts). */
  perturbation?: Perturbation;
  /** Buffers to reuse (one is made when absent). */
  workspace?: SpsaWorkspace;
  /** Name used in error messages (default `"spsa"`). */
  owner?: string;
}

/** The outcome of one estimate. */
export interface SpsaEstimate {
  /** g_j, one per direction. */
  readonly projectedGradients: Float64Array;
  /** f(θ + ε·z_j). */
  readonly plus: Float64Array;
  /** f(θ − ε·z_j) (two-point), or null. */
  readonly minus: Float64Array | null;
  /** f(θ) (one-point), or NaN. */
  readonly base: number;
  /**
   * The loss to report: f(θ) for the one-point estimator, otherwise the mean over directions
   * of (f(θ+εz_j) + f(θ−εz_j))/2, which is f(θ) + O(ε²).
   */
  readonly loss: number;
}

/**
 * Estimates the projected gradients of `objective` at `params` along `directions`.
 *
 * Every value the objective returns is checked: a non-finite one throws an
 * {@link InvalidArgumentError} naming the point, after θ is restored (bit-identical on the
 * virtual path, up to the documented drift in place).
 */
export async function spsa(
  objective: ZoObjective,
  params: FloatArray,
  directions: readonly DirectionRef[],
  options: SpsaOptions,
): Promise<SpsaEstimate> {
  const owner = options.owner ?? "spsa";
  const epsilon = options.epsilon;
  if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon <= 0) {
    throw new InvalidArgumentError(owner, "epsilon", epsilon, "a finite number > 0");
  }
  const estimator = options.estimator ?? "twoPoint";
  const perturbation = options.perturbation ?? "virtual";
  const evaluator = zoEvaluator(owner, objective);
  if (evaluator.kind === "view" && perturbation === "inPlace") {
    throw new InvalidArgumentError(
      owner,
      "perturbation",
      perturbation,
      '"virtual" for an objective read through views',
    );
  }
  const workspace = options.workspace ?? new SpsaWorkspace(params);
  const n = directions.length;
  const plus = new Float64Array(n);
  const minus = estimator === "twoPoint" ? new Float64Array(n) : null;
  let base = Number.NaN;

  if (evaluator.kind === "batch" && perturbation === "virtual") {
    const offset = estimator === "onePoint" ? 1 : 0;
    const perDirection = estimator === "onePoint" ? 1 : 2;
    const points = workspace.pointsLike(params, n * perDirection);
    for (let j = 0; j < n; j++) {
      writeShifted(points[perDirection * j], params, directions[j], epsilon, workspace.scratch);
      if (minus !== null)
        writeShifted(points[2 * j + 1], params, directions[j], -epsilon, workspace.scratch);
    }
    const all = offset === 1 ? [params, ...points] : points;
    const values = await batchValues(owner, evaluator.objective, all);
    if (offset === 1) base = checkObjectiveValue(owner, "θ", values[0]);
    for (let j = 0; j < n; j++) {
      plus[j] = checkObjectiveValue(
        owner,
        `θ + εz (direction ${j})`,
        values[offset + perDirection * j],
      );
      if (minus !== null)
        minus[j] = checkObjectiveValue(owner, `θ − εz (direction ${j})`, values[2 * j + 1]);
    }
  } else {
    const single: ValueFunction | null =
      evaluator.kind === "single"
        ? evaluator.f
        : evaluator.kind === "batch"
          ? async (p) => (await batchValues(owner, evaluator.objective, [p]))[0]
          : null;
    if (estimator === "onePoint") base = await evaluateAt(owner, evaluator, params, "θ");
    for (let j = 0; j < n; j++) {
      let values: PerturbedValues;
      if (evaluator.kind === "view") {
        values = await evaluateView(
          evaluator.objective,
          params,
          directions[j],
          epsilon,
          estimator,
          workspace.scratch,
        );
      } else if (perturbation === "inPlace") {
        values = await evaluateInPlace(
          single as ValueFunction,
          params,
          directions[j],
          epsilon,
          estimator,
          workspace.scratch,
        );
      } else {
        const point = workspace.pointLike(params);
        values = await evaluateVirtual(
          single as ValueFunction,
          params,
          point,
          directions[j],
          epsilon,
          estimator,
          workspace.scratch,
        );
      }
      plus[j] = checkObjectiveValue(owner, `θ + εz (direction ${j})`, values.plus);
      if (minus !== null)
        minus[j] = checkObjectiveValue(owner, `θ − εz (direction ${j})`, values.minus);
    }
  }

  const projectedGradients = new Float64Array(n);
  let loss = 0;
  for (let j = 0; j < n; j++) {
    if (minus !== null) {
      projectedGradients[j] = (plus[j] - minus[j]) / (2 * epsilon);
      loss += (plus[j] + minus[j]) / 2;
    } else projectedGradients[j] = (plus[j] - base) / epsilon;
  }
  loss = minus !== null ? loss / n : base;
  return { projectedGradients, plus, minus, base, loss };
}

/**
 * Writes the estimate ĝ = (1/n) Σ_j g_j·z_j into `out` (θ's length): only when a d-vector is
 * really wanted (tests, diagnostics); the optimizers apply the scalars chunk by chunk instead.
 * ĝ_i is summed in float64 over j in order with coefficients g_j/n, then rounded to `out`'s type.
 * @returns `out`
 */
export function writeEstimate<T extends FloatArray>(
  out: T,
  directions: readonly DirectionRef[],
  projectedGradients: ArrayLike<number>,
): T {
  const n = directions.length;
  const coefficients = Array.from({ length: n }, (_, j) => projectedGradients[j] / n);
  const dtype = out instanceof Float32Array ? "float32" : "float64";
  forEachEstimateChunk(out.length, dtype, directions, coefficients, (start, end, estimate) => {
    for (let i = start; i < end; i++) out[i] = estimate[i - start];
  });
  return out;
}
