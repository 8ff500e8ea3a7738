/**
 * Evaluating f at θ ± εz: MeZO's in-place perturb–evaluate–restore, and the virtual path that
 * never writes θ.
 *
 * Malladi, Gao, Nichani, Damian, Lee, Chen & Arora, "Fine-Tuning Language Models with Just
 * Forward Passes", NeurIPS 2023. Official implementation: princeton-nlp/MeZO @ 552cb1b,
 * `large_models/trainer.py` (`zo_perturb_parameters`, `zo_step`): the perturbation is written
 * over the parameters with scaling factors +1, −2, +1, so f(θ+εz) and f(θ−εz) cost no memory
 * beyond the model, and z is regenerated from its seed each time instead of being stored.
 *
 * ## In place (`"inPlace"`), for one direction z (fl = rounding to the layout's dtype)
 *
 *     two-point:  θ ← fl(θ + ε·z);  f+ = f(θ);  θ ← fl(θ + (−2ε)·z);  f− = f(θ);  θ ← fl(θ + ε·z)
 *     one-point:  θ ← fl(θ + ε·z);  f+ = f(θ);  θ ← fl(θ + (−ε)·z)
 *
 * Extra memory: one chunk of z (apply.ts, `directionChunkLength`: at most 5% of the parameter
 * count from 5,120 parameters on, about 1/64 of it from 16,384 on, never more than 8192
 * elements), nothing parameter-sized. The price is restore drift: each write rounds, so the
 * restored θ differs from the original in the last bits. The products c·z are the same float64
 * numbers in every write (−2ε·z is exactly twice ε·z), so they cancel; what remains are the
 * roundings of the sums, at most half an ulp of each stored result (and a float64 rounding 2^-29
 * times smaller before it). In float32, element by element,
 *
 *     two-point: |θ_restored − θ| ≤ 2^-24·(|θ1| + |θ2| + |θ_restored|)·(1 + 2^-28)
 *     one-point: |θ_restored − θ| ≤ 2^-24·(|θ1| + |θ_restored|)·(1 + 2^-28)
 *
 * with θ1 = fl(θ + εz) and θ2 = fl(θ1 − 2εz) the values stored on the way (normal numbers;
 * float64 layouts: 2^-53 in place of 2^-24). Measured with θ ~ N(0, 1), ε = 10^-3 and
 * d = 10^5 (test/zo/perturb.test.ts checks the bound and these figures): one two-point
 * perturb/restore leaves about half of the elements changed; after 100 of them along fresh
 * directions the RMS drift is 6.2·10^-7 in float32 (1.2·10^-15 in float64), growing like the
 * square root of the count, a random walk of roundings: in float32 that is comparable to a
 * MeZO step at lr = 10^-6 with projected gradients of order one, not negligible. The writes
 * are deterministic, so a replay repeats them and stays bit-exact (`ZoOptimizer.replay`), but a
 * peer that applies only the scalars of the records does not see the drift.
 *
 * ## Virtual (`"virtual"`)
 *
 * θ is never written. f is evaluated at a separate point `p = fl(θ ± ε·z)` (one element of p
 * per element of θ, both signs written into the same buffer in turn), or, for an objective that
 * reads its parameters through a {@link PerturbedView}, at nothing at all: the view computes
 * any slice of θ ± εz on demand. Extra memory: one parameter-sized buffer for plain objectives
 * (reused across directions and steps) besides the chunk, one chunk for view objectives, 2n (+1)
 * buffers for a batched objective that takes all points of a step at once. θ afterwards is
 * bit-identical.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Awaitable, Objective } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import type { DirectionRef } from "./apply.js";
import { DirectionScratch, addDirection, writeShifted } from "./apply.js";
import type { Estimator } from "./record.js";
import type { ValueBatch } from "./valueBatch.js";

/** A black-box objective: f(θ) from the flat parameter buffer (which it must not modify). */
export type ValueFunction = (params: FloatArray) => Awaitable<number>;

/**
 * An objective that evaluates several parameter vectors in one call (e.g. one batched forward;
 * the same hook as valueBatch.ts).
 */
export interface BatchedValueObjective {
  /** f at each point, in order (the points must not be modified). */
  valueBatch: ValueBatch;
}

/**
 * Read access to θ + c·z without materializing it: {@link PerturbedView.read} writes any slice.
 * A model that loads its weights tensor by tensor can evaluate a perturbed point with one
 * tensor-sized buffer instead of a parameter-sized one.
 */
export class PerturbedView {
  private readonly scratch: DirectionScratch;

  /**
   * @param base - θ (not modified)
   * @param direction - Philox address of z (and its distribution)
   * @param coefficient - c, e.g. ±ε
   * @param scratch - chunk buffers to work in (one sized for `base` is made when absent or of
   *   another element type); views read one at a time may share one
   */
  constructor(
    readonly base: FloatArray,
    readonly direction: DirectionRef,
    readonly coefficient: number,
    scratch?: DirectionScratch,
  ) {
    const dtype = base instanceof Float32Array ? "float32" : "float64";
    this.scratch =
      scratch !== undefined && scratch.dtype === dtype
        ? scratch
        : DirectionScratch.for(base, scratch?.random ?? null);
  }

  /** Number of parameters. */
  get length(): number {
    return this.base.length;
  }

  /**
   * Writes elements [start, start + out.length) of fl(θ + c·z) into `out` (which must have the
   * parameters' element type for the values to be the ones the in-memory paths evaluate).
   * @returns `out`
   */
  read<T extends FloatArray>(out: T, start = 0): T {
    if (!Number.isInteger(start) || start < 0 || start + out.length > this.base.length) {
      throw new InvalidArgumentError(
        "PerturbedView.read",
        "start",
        start,
        `an integer with start + out.length (${out.length}) <= ${this.base.length}`,
      );
    }
    const c = this.coefficient;
    const z = this.scratch.z;
    for (let k = 0; k < out.length; k += z.length) {
      const n = Math.min(z.length, out.length - k);
      const zPart = z.subarray(0, n);
      this.scratch.fill(zPart, this.direction, start + k);
      for (let i = 0; i < n; i++) out[k + i] = this.base[start + k + i] + c * zPart[i];
    }
    return out;
  }
}

/** An objective that reads its parameters through a {@link PerturbedView}. */
export interface ViewObjective {
  /** f at the point the view describes (θ itself is passed as a view with coefficient 0). */
  valueOfView(view: PerturbedView): Awaitable<number>;
}

/**
 * Anything a zeroth-order method can evaluate: a function `(params) => number`, an
 * {@link Objective} (only `value` is used), a {@link BatchedValueObjective} or a
 * {@link ViewObjective}.
 */
export type ZoObjective =
  ValueFunction | Pick<Objective, "value"> | BatchedValueObjective | ViewObjective;

/** An objective evaluated one point at a time. */
export interface SingleEvaluator {
  /** The kind. */
  readonly kind: "single";
  /** f(θ). */
  readonly f: ValueFunction;
}

/** An objective evaluated in batches. */
export interface BatchEvaluator {
  /** The kind. */
  readonly kind: "batch";
  /** The objective. */
  readonly objective: BatchedValueObjective;
}

/** An objective that reads its parameters through views. */
export interface ViewEvaluator {
  /** The kind. */
  readonly kind: "view";
  /** The objective. */
  readonly objective: ViewObjective;
}

/** How an objective is evaluated: one point at a time, in batches, or through views. */
export type ZoEvaluator = SingleEvaluator | BatchEvaluator | ViewEvaluator;

/** Classifies `objective` (throws naming `owner` if it is none of the accepted kinds). */
export function zoEvaluator(owner: string, objective: ZoObjective): ZoEvaluator {
  if (typeof objective === "function") return { kind: "single", f: objective };
  if (typeof objective === "object" && objective !== null) {
    if ("valueOfView" in objective && typeof objective.valueOfView === "function") {
      return { kind: "view", objective };
    }
    if ("valueBatch" in objective && typeof objective.valueBatch === "function") {
      return { kind: "batch", objective };
    }
    const f = singleValue(objective);
    if (f !== null) return { kind: "single", f };
  }
  throw new InvalidArgumentError(
    owner,
    "objective",
    objective,
    "a function (params) => number, or an object with value, valueBatch or valueOfView",
  );
}

/** Calls `valueBatch` and checks that it answered one value per point. */
export async function batchValues(
  owner: string,
  objective: BatchedValueObjective,
  points: readonly FloatArray[],
): Promise<ArrayLike<number>> {
  const values = await objective.valueBatch(points);
  if (values === null || typeof values !== "object" || values.length !== points.length) {
    throw new InvalidArgumentError(
      owner,
      "valueBatch's result",
      values,
      `${points.length} values, one per point`,
    );
  }
  return values;
}

/** The single-point evaluation of `objective`, or null for a batched-only objective. */
export function singleValue(objective: ZoObjective): ValueFunction | null {
  if (typeof objective === "function") return objective;
  if ("value" in objective && typeof objective.value === "function") {
    return (p) => (objective as Pick<Objective, "value">).value(p);
  }
  return null;
}

/** Checks a value returned by the objective; `where` says at which point. */
export function checkObjectiveValue(owner: string, where: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isFinite(value)) {
    throw new InvalidArgumentError(
      owner,
      `the objective's value at ${where}`,
      value,
      "a finite number",
    );
  }
  return value;
}

/** f(θ+εz) and, for the two-point estimator, f(θ−εz). */
export interface PerturbedValues {
  /** f(θ + εz). */
  plus: number;
  /** f(θ − εz), or NaN for the one-point estimator. */
  minus: number;
}

/**
 * The in-place evaluation of one direction (the writes in this file's header). If the objective
 * throws, θ is restored (up to the drift) before the error propagates. Values are returned as
 * given, unchecked.
 */
export async function evaluateInPlace(
  f: ValueFunction,
  params: FloatArray,
  direction: DirectionRef,
  epsilon: number,
  estimator: Estimator,
  scratch?: DirectionScratch,
): Promise<PerturbedValues> {
  const s = scratch ?? DirectionScratch.for(params);
  addDirection(params, direction, epsilon, s);
  let plus: number;
  try {
    plus = await f(params);
  } catch (error) {
    addDirection(params, direction, -epsilon, s);
    throw error;
  }
  if (estimator === "onePoint") {
    addDirection(params, direction, -epsilon, s);
    return { plus, minus: Number.NaN };
  }
  addDirection(params, direction, -2 * epsilon, s);
  let minus: number;
  try {
    minus = await f(params);
  } finally {
    addDirection(params, direction, epsilon, s);
  }
  return { plus, minus };
}

/**
 * The writes of {@link evaluateInPlace} without the evaluations: what a replay repeats to
 * reproduce the restore drift of an in-place step bit for bit.
 */
export function repeatInPlaceWrites(
  params: FloatArray,
  direction: DirectionRef,
  epsilon: number,
  estimator: Estimator,
  scratch?: DirectionScratch,
): void {
  const s = scratch ?? DirectionScratch.for(params);
  addDirection(params, direction, epsilon, s);
  if (estimator === "onePoint") {
    addDirection(params, direction, -epsilon, s);
    return;
  }
  addDirection(params, direction, -2 * epsilon, s);
  addDirection(params, direction, epsilon, s);
}

/**
 * The virtual evaluation of one direction: f at fl(θ ± ε·z) written into `point` (a buffer of
 * θ's length and type), θ untouched.
 */
export async function evaluateVirtual(
  f: ValueFunction,
  params: FloatArray,
  point: FloatArray,
  direction: DirectionRef,
  epsilon: number,
  estimator: Estimator,
  scratch?: DirectionScratch,
): Promise<PerturbedValues> {
  const s = scratch ?? DirectionScratch.for(params);
  writeShifted(point, params, direction, epsilon, s);
  const plus = await f(point);
  if (estimator === "onePoint") return { plus, minus: Number.NaN };
  writeShifted(point, params, direction, -epsilon, s);
  const minus = await f(point);
  return { plus, minus };
}

/** The virtual evaluation through a {@link PerturbedView}: no parameter-sized buffer. */
export async function evaluateView(
  objective: ViewObjective,
  params: FloatArray,
  direction: DirectionRef,
  epsilon: number,
  estimator: Estimator,
  scratch?: DirectionScratch,
): Promise<PerturbedValues> {
  const s = scratch ?? DirectionScratch.for(params);
  const plus = await objective.valueOfView(new PerturbedView(params, direction, epsilon, s));
  if (estimator === "onePoint") return { plus, minus: Number.NaN };
  const minus = await objective.valueOfView(new PerturbedView(params, direction, -epsilon, s));
  return { plus, minus };
}

/**
 * f at `point` (θ or a buffer of its length and type) for any kind of objective, checked finite
 * (`where` names the point in the error).
 */
export async function evaluateAt(
  owner: string,
  evaluator: ZoEvaluator,
  point: FloatArray,
  where: string,
): Promise<number> {
  let value: number;
  if (evaluator.kind === "single") value = await evaluator.f(point);
  else if (evaluator.kind === "batch")
    value = (await batchValues(owner, evaluator.objective, [point]))[0];
  else
    value = await evaluator.objective.valueOfView(
      new PerturbedView(point, { seed: 0, stream: 0 }, 0),
    );
  return checkObjectiveValue(owner, where, value);
}
