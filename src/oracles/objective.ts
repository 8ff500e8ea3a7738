/**
 * The oracle interface: what an optimizer may ask of the problem it minimizes. Parameters are
 * passed as flat buffers in the objective's {@link Layout}. Oracles may return promises (a model
 * on an asynchronous device); the synchronous closed-form problems return plain values.
 */
import { MissingOracleError } from "../errors.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type {
  DenseLayer,
  DenseLayerStatistics,
  LayerStatisticsOptions,
} from "./layerStatistics.js";

/** A value or a promise of one. */
export type Awaitable<T> = T | Promise<T>;

/** Names of the oracles an {@link Objective} may provide. */
export type OracleName =
  | "value"
  | "valueAndGrad"
  | "hvp"
  | "jvp"
  | "sampledLabelGrad"
  | "outputJacobian"
  | "layerStatistics";

/**
 * What a Gauss-Newton method needs of a loss that averages per-example terms of the model's
 * outputs: the objective is
 *
 *     f(θ) = (1/b) Σ_i ℓ_i(z_i(θ)) + ½ Σ_j π_j θ_j²,     z_i(θ) ∈ ℝ^c,  i = 1 … b,
 *
 * with b {@link OutputJacobian.examples} (the examples of the current batch), c
 * {@link OutputJacobian.outputs} and π the optional {@link OutputJacobian.penalty}. Stacking
 * the outputs z = (z_1, …, z_b) ∈ ℝ^{b·c}, with J = ∂z/∂θ, ∇_z ℓ the stacked per-example output
 * gradients and Q = blockdiag(∇²ℓ_1, …, ∇²ℓ_b):
 *
 *     ∇f(θ)  = (1/b)·Jᵀ ∇_z ℓ + π ⊙ θ
 *     G(θ)   = (1/b)·Jᵀ Q J + diag(π)       (the generalized Gauss-Newton matrix)
 *
 * None of the arrays is divided by b: the 1/b of the mean is applied by whoever uses them. The
 * arrays may be buffers the objective reuses: they are valid until its next oracle call.
 */
export interface OutputJacobian {
  /** Number b ≥ 1 of examples the loss averages over. */
  readonly examples: number;
  /** Number c ≥ 1 of outputs per example. */
  readonly outputs: number;
  /**
   * J, (b·c) × d row-major with d the layout's size: row i·c + k is the gradient of output k of
   * example i with respect to the parameters.
   */
  readonly jacobian: Float64Array;
  /** ∂ℓ_i/∂z_{i,k} at index i·c + k (length b·c). */
  readonly outputGradient: Float64Array;
  /**
   * ∇²ℓ_i as b consecutive c×c row-major blocks (length b·c²), each symmetric positive
   * semidefinite (ℓ_i convex in its outputs). Squared error ½‖z − y‖² gives I; softmax
   * cross-entropy gives diag(p) − p·pᵀ, p = softmax(z), which is singular (its null space is the
   * all-ones vector); the logistic loss of one logit gives σ(z)(1 − σ(z)).
   */
  readonly outputHessian: Float64Array;
  /**
   * Coefficients π_j ≥ 0 of a diagonal quadratic penalty ½ Σ_j π_j θ_j² included in f (an L2
   * penalty, zero on the tensors it spares), length d; absent when f has none.
   */
  readonly penalty?: Float64Array;
}

/**
 * A differentiable (or black-box) scalar objective f(θ).
 *
 * Only `value` is required (enough for zeroth-order methods). First-order optimizers need
 * `valueAndGrad`; curvature-aware ones need `hvp`; forward-gradient methods need `jvp`;
 * Gauss-Newton methods need `outputJacobian`; Kronecker-factored ones (K-FAC, MKOR) need
 * `layerStatistics`.
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
  /**
   * B, the number of predictions the loss of `sampledLabelGrad` averages over (rows of a batch,
   * or tokens), when the objective knows it: the Gauss-Newton-Bartlett estimate of the Hessian
   * diagonal is B·ĝ⊙ĝ, so Sophia's `batchSize` defaults to it.
   */
  readonly batchScale?: number;
  /**
   * The model's output Jacobian and the loss's derivatives with respect to the outputs, for a
   * loss that averages per-example terms of the outputs (see {@link OutputJacobian}, which also
   * fixes the scaling conventions). Gauss-Newton methods (EGN) build their curvature from it.
   */
  outputJacobian?(params: FloatArray): Awaitable<OutputJacobian>;
  /** The dense layers whose statistics `layerStatistics` reports, in forward order. */
  readonly denseLayers?: readonly DenseLayer[];
  /**
   * Each dense layer's inputs and per-example pre-activation gradients at `params`, for the
   * current batch (see {@link DenseLayerStatistics}); the arrays may be buffers the objective
   * reuses, valid until its next call.
   */
  layerStatistics?(
    params: FloatArray,
    options?: LayerStatisticsOptions,
  ): Awaitable<DenseLayerStatistics>;
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
  const all: OracleName[] = [
    "value",
    "valueAndGrad",
    "hvp",
    "jvp",
    "sampledLabelGrad",
    "outputJacobian",
    "layerStatistics",
  ];
  return all.filter((name) => typeof objective[name] === "function");
}
