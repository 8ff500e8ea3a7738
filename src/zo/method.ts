/**
 * What every zeroth-order update rule shares: its options (learning rate, ε, number of
 * directions, seed, estimator, perturbation, direction source and distribution, scalar
 * quantizer), their
 * validation, and the {@link ZoMethod} interface the `ZoOptimizer` drives.
 *
 * A method turns the projected gradients g_j of a step into the scalars of its records
 * (record.ts gives each method's formula) and commits them to the parameters and its state. The
 * same commit runs on a replay, from the scalars of the records, which is what makes a replay
 * bit-exact for every method.
 */
import { InvalidArgumentError } from "../errors.js";
import type { DType, FloatArray } from "../params/layout.js";
import type { Hyper } from "../optim/hyper.js";
import { checkChoice, checkHyper, checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { DirectionScratch } from "./apply.js";
import type { DirectionAddress, ZoDirectionDistribution, DirectionSource } from "./directions.js";
import {
  DIRECTIONS_PER_STEP_LIMIT,
  checkDirectionDistribution,
  checkDirectionSource,
} from "./directions.js";
import type { Estimator, Perturbation, ZoMethodName, ZoStepRecord } from "./record.js";

/** Options every zeroth-order method takes. */
export interface ZoCommonOptions {
  /** Step size, constant or schedule of the step count (default: the method's). */
  learningRate?: Hyper;
  /** Smoothing radius ε > 0, constant or schedule (default 1e-3, MeZO's `zo_eps`). */
  epsilon?: Hyper;
  /** Number n of directions per step, an integer in [1, 2^20) (default 1). */
  directions?: number;
  /** Philox seed of the run's directions, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** `"twoPoint"` (default) or `"onePoint"`. */
  estimator?: Estimator;
  /** `"virtual"` (default: θ never written, bit-exact) or `"inPlace"` (MeZO, no parameter-sized buffer). */
  perturbation?: Perturbation;
  /** `{ kind: "fresh" }` (default) or `{ kind: "pool", size: K }` (directions.ts). */
  directionSource?: DirectionSource;
  /**
   * The Gaussian sequence of the directions (directions.ts): `"normal"` (default, the float64
   * definition rounded to the layout) or `"normalFloat32"` (float32-native, four samples per
   * Philox block, |z| ≤ 5.77; far cheaper to generate with a `FastRandom` handle). Recorded in
   * every record, log and checkpoint; a replay refuses the other one.
   */
  directionDistribution?: ZoDirectionDistribution;
  /**
   * Maps each scalar (already a float32 value) to the one actually applied and recorded, e.g.
   * the nearest entry of a 1-byte code table. Its results must be finite float32 values.
   */
  quantizeScalar?: (scalar: number) => number;
}

/** The validated common options. */
export interface ZoSettings {
  /** Step size. */
  readonly learningRate: Hyper;
  /** Smoothing radius. */
  readonly epsilon: Hyper;
  /** Directions per step. */
  readonly directions: number;
  /** Philox seed. */
  readonly seed: number;
  /** Finite difference. */
  readonly estimator: Estimator;
  /** Where perturbed points live. */
  readonly perturbation: Perturbation;
  /** Where directions come from. */
  readonly directionSource: DirectionSource;
  /** Which Gaussian sequence the directions are drawn from. */
  readonly directionDistribution: ZoDirectionDistribution;
  /** Scalar quantizer, or null. */
  readonly quantizeScalar: ((scalar: number) => number) | null;
}

/** The names of {@link ZoCommonOptions}, for `checkKnownOptions`. */
export const ZO_COMMON_OPTIONS = [
  "learningRate",
  "epsilon",
  "directions",
  "seed",
  "estimator",
  "perturbation",
  "directionSource",
  "directionDistribution",
  "quantizeScalar",
] as const;

/** Validates the common options of method `owner` (`extra` lists its own option names). */
export function checkZoOptions(
  owner: string,
  options: ZoCommonOptions,
  defaultLearningRate: number,
  extra: readonly string[],
): ZoSettings {
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(owner, "options", options, "an object");
  }
  checkKnownOptions(owner, options, [...ZO_COMMON_OPTIONS, ...extra]);
  const quantize = options.quantizeScalar;
  if (quantize !== undefined && typeof quantize !== "function") {
    throw new InvalidArgumentError(
      owner,
      "quantizeScalar",
      quantize,
      "a function (scalar) => scalar",
    );
  }
  return {
    learningRate: checkHyper(owner, "learningRate", options.learningRate ?? defaultLearningRate, {
      min: 0,
    }),
    epsilon: checkHyper(owner, "epsilon", options.epsilon ?? 1e-3, { above: 0 }),
    directions: checkNumber(owner, "directions", options.directions ?? 1, {
      integer: true,
      min: 1,
      below: DIRECTIONS_PER_STEP_LIMIT,
    }),
    seed: checkNumber(owner, "seed", options.seed ?? 0, { integer: true, min: 0, below: 2 ** 53 }),
    estimator: checkChoice(owner, "estimator", options.estimator ?? "twoPoint", [
      "twoPoint",
      "onePoint",
    ]),
    perturbation: checkChoice(owner, "perturbation", options.perturbation ?? "virtual", [
      "virtual",
      "inPlace",
    ]),
    directionSource: checkDirectionSource(owner, options.directionSource ?? { kind: "fresh" }),
    directionDistribution: checkDirectionDistribution(
      owner,
      options.directionDistribution ?? "normal",
    ),
    quantizeScalar: quantize ?? null,
  };
}

/** A method's state: named buffers of the parameters' length and type. */
export type ZoState = Record<string, FloatArray>;

/** What a commit sees. */
export interface ZoCommitContext {
  /** The parameters, updated in place. */
  readonly params: FloatArray;
  /** The method's state, updated in place. */
  readonly state: ZoState;
  /** The parameters' element type. */
  readonly dtype: DType;
  /** Step t (0-based). */
  readonly step: number;
  /** Learning rate of step t. */
  readonly learningRate: number;
  /** The step's directions, in order. */
  readonly directions: readonly DirectionAddress[];
  /** How perturbed points are evaluated in this run. */
  readonly perturbation: Perturbation;
  /** Chunk buffers. */
  readonly scratch: DirectionScratch;
  /**
   * Live steps: f at `point` (θ itself or a buffer), checked finite (`where` names the point
   * in the error). Absent on replay.
   */
  readonly evaluate?: (point: FloatArray, where: string) => Promise<number>;
  /** Live steps: a parameter-sized buffer for virtual candidates. Absent on replay. */
  readonly pointBuffer?: () => FloatArray;
  /** Live steps: f(θ) at the start of the step, when the method asked for it. */
  readonly baseValue?: number;
  /** Replay: the records of the step, in direction order. */
  readonly records?: readonly ZoStepRecord[];
}

/** What a commit reports back. */
export interface ZoCommitResult {
  /** The scalars to record (the applied ones). */
  readonly scalars: ArrayLike<number>;
  /** zoCons: the trial scalars. */
  readonly trialScalars?: ArrayLike<number>;
}

/** A zeroth-order update rule, driven by a `ZoOptimizer`. */
export interface ZoMethod {
  /** The rule's name (recorded in every record). */
  readonly name: ZoMethodName;
  /** The validated common options. */
  readonly settings: ZoSettings;
  /** Whether the optimizer must evaluate f(θ) before perturbing (zoCons). */
  readonly needsBaseValue: boolean;
  /** Fresh state for parameters like `params`. */
  init(params: FloatArray): ZoState;
  /**
   * The unrounded scalar of direction j (its float32 rounding, then the quantizer, give the
   * recorded one): `projected` are the g_j, n their count.
   */
  scalar(projected: number, learningRate: number, n: number): number;
  /**
   * Applies a step given its (rounded, quantized) scalars, live or on replay (then `ctx.records`
   * holds the step's records and `scalars` their scalars).
   */
  commit(ctx: ZoCommitContext, scalars: Float64Array): Promise<ZoCommitResult> | ZoCommitResult;
  /** Method-specific checks of a step's records before a replay writes anything. */
  checkRecords?(records: readonly ZoStepRecord[]): void;
}

/** β^k by binary powering: multiplications only, so every engine gives the same bits. */
export function integerPower(base: number, exponent: number): number {
  let result = 1;
  let square = base;
  let k = exponent;
  while (k > 0) {
    if (k % 2 === 1) result *= square;
    square *= square;
    k = Math.floor(k / 2);
  }
  return result;
}
