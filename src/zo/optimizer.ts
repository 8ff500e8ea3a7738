/**
 * The zeroth-order training loop: `new ZoOptimizer(params, zoSgd({ … }))`, then
 * `await opt.step(objective)` with any objective that returns a number, and `opt.replay(records)`
 * to rerun a recorded step without evaluating anything.
 *
 * A step t:
 *  1. evaluates lr_t and ε_t from their schedules and the addresses of the n directions, and
 *     checks them (an error here changes nothing);
 *  2. (zoCons) evaluates f(θ);
 *  3. estimates the projected gradients g_j (spsa.ts) on the chosen perturbation path; a
 *     non-finite value from the objective throws after θ is restored (bit-identical on the
 *     virtual path, up to the documented drift in place), with the step count and the method's
 *     state untouched;
 *  4. rounds each method's scalar to float32, passes it through the quantizer and checks it;
 *  5. commits the step (the method's update; zoCons evaluates its candidates here), counts it,
 *     and hands one {@link ZoStepRecord} per direction to `onRecord` and to the caller.
 *
 * Directions are drawn from the method's `directionDistribution` (directions.ts); a
 * `FastRandom` handle in the options generates them with WebAssembly SIMD, the same bits.
 *
 * `replay(records)` runs steps 1 and 5 from the records of one step: the in-place perturbation
 * writes when the step used them (perturb.ts), then the same commit with the recorded scalars,
 * learning rate and ε. Starting from the base weights and a fresh optimizer with the same method,
 * replaying a run's records step by step rebuilds θ and the method's state bit for bit.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { valueAt } from "../optim/hyper.js";
import { checkKnownOptions } from "../optim/validate.js";
import type { DType, FloatArray } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import type { FastRandom } from "../random/index.js";
import type { DirectionAddress } from "./directions.js";
import { FRESH_STEP_LIMIT, checkFastRandom, directionAddress } from "./directions.js";
import type { ZoCommitContext, ZoMethod, ZoState } from "./method.js";
import type { ZoObjective } from "./perturb.js";
import { evaluateAt, repeatInPlaceWrites, zoEvaluator } from "./perturb.js";
import type { ZoStepRecord } from "./record.js";
import { isFloat32Value } from "./record.js";
import { SpsaWorkspace, spsa } from "./spsa.js";

/** Options of a {@link ZoOptimizer}. */
export interface ZoOptimizerOptions {
  /** Called with every record, in order, once its step has been applied. */
  onRecord?: (record: ZoStepRecord) => void;
  /**
   * A handle from `useFastRandom`: directions are then generated with WebAssembly SIMD, the
   * same bits as without it (default: the JavaScript definitions). The caller keeps it and
   * closes it when done; one handle may serve several optimizers.
   */
  random?: FastRandom;
}

/** The outcome of one zeroth-order step. */
export interface ZoStepResult {
  /**
   * The loss at θ before the step: f(θ) where it was evaluated (one-point estimator, zoCons),
   * otherwise the mean of (f(θ+εz_j) + f(θ−εz_j))/2, which is f(θ) + O(ε²).
   */
  readonly loss: number;
  /** One record per direction, in direction order. */
  readonly records: readonly ZoStepRecord[];
}

/** Drives a zeroth-order {@link ZoMethod} over a flat parameter buffer. */
export class ZoOptimizer {
  /** The parameters, updated in place. */
  readonly params: FloatArray;
  /** The update rule. */
  readonly method: ZoMethod;
  /** The method's state (named parameter-sized buffers; empty for the stateless rules). */
  readonly state: ZoState;
  /** Steps applied so far (the next step's t). */
  count = 0;
  private readonly dtype: DType;
  private readonly workspace: SpsaWorkspace;
  private readonly onRecord: ((record: ZoStepRecord) => void) | null;

  /**
   * @param params - a {@link ParamSet} or a flat Float32Array / Float64Array (updated in place)
   * @param method - the update rule, e.g. `zoSgd({ learningRate: 1e-3 })`
   * @param options - see {@link ZoOptimizerOptions}
   */
  constructor(params: ParamSet | FloatArray, method: ZoMethod, options: ZoOptimizerOptions = {}) {
    checkKnownOptions("ZoOptimizer", options, ["onRecord", "random"]);
    const data = params instanceof ParamSet ? params.data : params;
    if (!(data instanceof Float32Array || data instanceof Float64Array)) {
      throw new InvalidArgumentError(
        "ZoOptimizer",
        "params",
        params,
        "a ParamSet, Float32Array or Float64Array",
      );
    }
    if (typeof method !== "object" || method === null || typeof method.commit !== "function") {
      throw new InvalidArgumentError(
        "ZoOptimizer",
        "method",
        method,
        "a zeroth-order method such as zoSgd()",
      );
    }
    if (options.onRecord !== undefined && typeof options.onRecord !== "function") {
      throw new InvalidArgumentError("ZoOptimizer", "onRecord", options.onRecord, "a function");
    }
    const random =
      options.random === undefined ? null : checkFastRandom("ZoOptimizer", options.random);
    this.params = data;
    this.method = method;
    this.dtype = data instanceof Float32Array ? "float32" : "float64";
    this.state = method.init(data);
    this.workspace = new SpsaWorkspace(data, random);
    this.onRecord = options.onRecord ?? null;
  }

  private hyperparameters(step: number): { learningRate: number; epsilon: number } {
    const name = this.method.name;
    const s = this.method.settings;
    const learningRate = valueAt(s.learningRate, step);
    if (typeof learningRate !== "number" || !Number.isFinite(learningRate) || learningRate < 0) {
      throw new InvalidArgumentError(
        name,
        `learningRate at step ${step}`,
        learningRate,
        "a finite number >= 0",
      );
    }
    const epsilon = valueAt(s.epsilon, step);
    if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon <= 0) {
      throw new InvalidArgumentError(
        name,
        `epsilon at step ${step}`,
        epsilon,
        "a finite number > 0",
      );
    }
    return { learningRate, epsilon };
  }

  private addresses(step: number): DirectionAddress[] {
    const s = this.method.settings;
    if (step >= FRESH_STEP_LIMIT) {
      throw new InvalidArgumentError(
        this.method.name,
        "step",
        step,
        "below 2^32 (the direction streams run out)",
      );
    }
    return Array.from({ length: s.directions }, (_, j) =>
      directionAddress(s.seed, step, j, s.directionSource, s.directionDistribution),
    );
  }

  private context(
    step: number,
    learningRate: number,
    directions: readonly DirectionAddress[],
  ): ZoCommitContext {
    return {
      params: this.params,
      state: this.state,
      dtype: this.dtype,
      step,
      learningRate,
      directions,
      perturbation: this.method.settings.perturbation,
      scratch: this.workspace.scratch,
    };
  }

  /**
   * One step on `objective`: a function `(params) => number`, an `Objective` (only `value` is
   * used), an object with `valueBatch` or one with `valueOfView` (perturb.ts).
   * @returns the loss and the step's records
   */
  async step(objective: ZoObjective): Promise<ZoStepResult> {
    const method = this.method;
    const owner = method.name;
    const s = method.settings;
    const t = this.count;
    const { learningRate, epsilon } = this.hyperparameters(t);
    const directions = this.addresses(t);
    const evaluator = zoEvaluator(owner, objective);
    const n = directions.length;

    let baseValue: number | undefined;
    if (method.needsBaseValue && s.estimator === "twoPoint") {
      baseValue = await evaluateAt(owner, evaluator, this.params, "θ");
    }
    const estimate = await spsa(objective, this.params, directions, {
      epsilon,
      estimator: s.estimator,
      perturbation: s.perturbation,
      workspace: this.workspace,
      owner,
    });
    if (method.needsBaseValue && s.estimator === "onePoint") baseValue = estimate.base;
    const g = estimate.projectedGradients;

    const scalars = new Float64Array(n);
    for (let j = 0; j < n; j++) {
      let scalar = Math.fround(method.scalar(g[j], learningRate, n));
      if (s.quantizeScalar !== null) scalar = s.quantizeScalar(scalar);
      if (typeof scalar !== "number" || !isFloat32Value(scalar)) {
        throw new InvalidArgumentError(
          owner,
          `scalar of direction ${j} at step ${t} (projected gradient ${g[j]})`,
          scalar,
          "a finite float32 value (lower the learning rate or check the quantizer)",
        );
      }
      scalars[j] = scalar;
    }

    const ctx: ZoCommitContext = {
      ...this.context(t, learningRate, directions),
      evaluate: (point, where) => evaluateAt(owner, evaluator, point, where),
      pointBuffer: () => this.workspace.pointLike(this.params),
      baseValue,
    };
    const result = await method.commit(ctx, scalars);

    const records: ZoStepRecord[] = directions.map((d, j) => {
      const record: ZoStepRecord = {
        step: t,
        direction: j,
        directions: n,
        seed: d.seed,
        stream: d.stream,
        ...(d.seedIndex !== undefined ? { seedIndex: d.seedIndex } : {}),
        ...(d.directionDistribution !== undefined
          ? { directionDistribution: d.directionDistribution }
          : {}),
        scalar: result.scalars[j],
        learningRate,
        epsilon,
        projectedGradient: g[j],
        method: owner,
        estimator: s.estimator,
        perturbation: s.perturbation,
        ...(result.trialScalars !== undefined ? { trialScalar: result.trialScalars[j] } : {}),
      };
      return Object.freeze(record);
    });
    this.count = t + 1;
    if (this.onRecord !== null) for (const r of records) this.onRecord(r);
    const loss = baseValue !== undefined ? baseValue : estimate.loss;
    return { loss, records };
  }

  /**
   * Reruns the step the optimizer is at (t = {@link ZoOptimizer.count}) from its records,
   * evaluating nothing. The records must be the n records of step t of a run of the same method
   * and options (seed, directions, direction source and distribution, estimator, perturbation);
   * the learning rate and ε are taken from the records. A mismatch throws before anything
   * changes, naming the record's value and this run's.
   */
  replay(records: readonly ZoStepRecord[]): void {
    const method = this.method;
    const owner = `${method.name} replay`;
    const s = method.settings;
    const t = this.count;
    const directions = this.addresses(t);
    const n = directions.length;
    if (!Array.isArray(records) || records.length !== n) {
      throw new ShapeMismatchError(
        `${owner}: step ${t} has ${n} directions, got ${Array.isArray(records) ? records.length : "no array"} records`,
      );
    }
    const first = records[0];
    const learningRate = first.learningRate;
    const epsilon = first.epsilon;
    if (typeof learningRate !== "number" || !Number.isFinite(learningRate) || learningRate < 0) {
      throw new InvalidArgumentError(
        owner,
        "learningRate of record 0",
        learningRate,
        "a finite number >= 0",
      );
    }
    if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || epsilon <= 0) {
      throw new InvalidArgumentError(owner, "epsilon of record 0", epsilon, "a finite number > 0");
    }
    const scalars = new Float64Array(n);
    records.forEach((r, j) => {
      const expect = (field: string, actual: unknown, wanted: unknown) => {
        if (actual !== wanted) {
          throw new InvalidArgumentError(
            owner,
            `${field} of record ${j}`,
            actual,
            `${String(wanted)} (this run's step ${t})`,
          );
        }
      };
      expect("step", r.step, t);
      expect("direction", r.direction, j);
      expect("directions", r.directions, n);
      expect("method", r.method, method.name);
      expect("seed", r.seed, directions[j].seed);
      expect("stream", r.stream, directions[j].stream);
      // A record without the field was drawn from "normal", the only distribution there was.
      expect("directionDistribution", r.directionDistribution ?? "normal", s.directionDistribution);
      expect("estimator", r.estimator, s.estimator);
      expect("perturbation", r.perturbation, s.perturbation);
      expect("learningRate", r.learningRate, learningRate);
      expect("epsilon", r.epsilon, epsilon);
      if (typeof r.scalar !== "number" || !isFloat32Value(r.scalar)) {
        throw new InvalidArgumentError(
          owner,
          `scalar of record ${j}`,
          r.scalar,
          "a finite float32 value",
        );
      }
      scalars[j] = r.scalar;
    });
    method.checkRecords?.(records);
    if (s.perturbation === "inPlace") {
      for (const d of directions)
        repeatInPlaceWrites(this.params, d, epsilon, s.estimator, this.workspace.scratch);
    }
    const result = method.commit(
      { ...this.context(t, learningRate, directions), records },
      scalars,
    );
    if (result instanceof Promise) {
      throw new InvalidArgumentError(
        owner,
        "method",
        method.name,
        "a method whose replay needs no evaluation",
      );
    }
    this.count = t + 1;
  }
}
