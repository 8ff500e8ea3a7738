/**
 * The oracle interface: what an optimizer may ask of the problem it minimizes. Parameters are
 * passed as flat buffers in the objective's {@link Layout}. Oracles may return promises (a model
 * on an asynchronous device); the synchronous closed-form problems return plain values.
 */
import { MissingOracleError } from "../errors.js";
import type { FloatArray, Layout } from "../params/layout.js";

/** A value or a promise of one. */
export type Awaitable<T> = T | Promise<T>;

/** Names of the oracles an {@link Objective} may provide. */
export type OracleName = "value" | "valueAndGrad" | "hvp" | "jvp" | "sampledLabelGrad";

/**
 * A differentiable (or black-box) scalar objective f(θ).
 *
 * Only `value` is required (enough for zeroth-order methods). First-order optimizers need
 * `valueAndGrad`; curvature-aware ones need `hvp`; forward-gradient methods need `jvp`.
 * Use {@link requireOracle} to check before use: it names both the objective and the oracle.
 */
export interface Objective {
  /** Short name, used in messages and reports. */
  readonly name: string;
  /** Layout of the parameter vector this objective takes. */
  readonly layout: Layout;
  /** f(θ). */
  value(params: FloatArray): Awaitable<number>;
  /** f(θ), writing ∇f(θ) into `gradOut` (same layout, fully overwritten). */
  valueAndGrad?(params: FloatArray, gradOut: FloatArray): Awaitable<number>;
  /** Hessian-vector product ∇²f(θ)·v into `out`. */
  hvp?(params: FloatArray, vector: FloatArray, out: FloatArray): Awaitable<void>;
  /** Directional derivative ∇f(θ)·v (forward mode). */
  jvp?(params: FloatArray, vector: FloatArray): Awaitable<number>;
  /**
   * Gradient of the loss on labels sampled from the model's own predictions (the
   * Gauss-Newton-Bartlett estimator input of Sophia). `seed` and `count` fix the sample.
   */
  sampledLabelGrad?(
    params: FloatArray,
    gradOut: FloatArray,
    seed: number,
    count: number,
  ): Awaitable<number>;
  /** A suggested starting point (a fresh buffer each call), when the problem has one. */
  initialParams?(): FloatArray;
  /** The optimal value f*, when known (for Polyak step sizes and reports). */
  readonly optimalValue?: number;
}

/** An {@link Objective} known to provide `valueAndGrad`. */
export type DifferentiableObjective = Objective & Required<Pick<Objective, "valueAndGrad">>;

/**
 * Returns the oracle `oracle` of `objective` bound to it, or throws a {@link MissingOracleError}
 * naming the objective, the oracle and `requester` (e.g. `"optimizer sophiaH"`).
 */
export function requireOracle<K extends OracleName>(
  objective: Objective,
  oracle: K,
  requester: string,
): NonNullable<Objective[K]> {
  const fn = objective[oracle];
  if (typeof fn !== "function") throw new MissingOracleError(objective.name, oracle, requester);
  return (fn as (...args: never[]) => unknown).bind(objective) as NonNullable<Objective[K]>;
}

/** The oracles `objective` provides. */
export function oraclesOf(objective: Objective): OracleName[] {
  const all: OracleName[] = ["value", "valueAndGrad", "hvp", "jvp", "sampledLabelGrad"];
  return all.filter((name) => typeof objective[name] === "function");
}
