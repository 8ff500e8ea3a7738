/**
 * The record of a zeroth-order step: what a log stores, what a federated peer sends, and what a
 * replay reads to rebuild the parameters bit for bit from the base weights.
 *
 * A step t with n directions yields n records, one per direction j, in direction order. The
 * direction is the Gaussian vector z of the Philox stream (seed, stream) in the run's direction
 * distribution, rounded to the layout's dtype (directions.ts fixes the mapping from (t, j) to the
 * stream, and both distributions). Below, fl(x) rounds a
 * float64 to the layout's dtype (identity for float64), all other arithmetic is float64 (the
 * JavaScript number; the language forbids fused multiply-add, so every engine gives the same
 * bits), g_j is the projected gradient, lr and ε the learning rate and smoothing radius of step t,
 * and q the scalar quantizer (identity unless one is given; its outputs are float32 values, e.g.
 * the entries of a 1-byte code table).
 *
 * ## What `scalar` means
 *
 * | method | scalar s_j | update of step t |
 * | --- | --- | --- |
 * | `zoSgd` (MeZO) | q(fround(lr·g_j / n)) | for j = 0…n−1: θ_i ← fl(θ_i − s_j·z_j,i) |
 * | `zoSign` (`signOf: "projected"`) | q(fround(lr·sign(g_j) / n)) | as zoSgd |
 * | `zoCons` | ±q(fround(lr·g_j / n)) or 0 | as zoSgd (the sign or zero encodes the accepted candidate) |
 * | `zoSignEstimate` (`zoSign({ signOf: "estimate" })`) | q(fround(g_j / n)) | ĝ_i = Σ_j s_j·z_j,i (float64, j ascending); θ_i ← fl(θ_i − lr·sign(ĝ_i)) |
 * | `zoMomentum` | q(fround(g_j / n)) | ĝ as above; m_i ← fl(μ·m_i + ĝ_i); θ_i ← fl(θ_i − lr·m_i) |
 * | `zoAdam` | q(fround(g_j / n)) | ĝ as above; Adam's moments and step (zoAdam.ts) |
 *
 * `(lr·g_j)/n` is evaluated in that order. A record whose scalar is 0 changes nothing and is
 * skipped by every applier (so a −0 parameter stays −0).
 *
 * ## Replay
 *
 * The first three rows are replayable from the records alone: applying them in order to the
 * base weights rebuilds θ bit for bit ({@link applyRecord} in apply.ts). The other three carry
 * state (momentum, Adam's moments) or a sign of a sum: replay reruns the same update from the
 * records, which is just as deterministic (`ZoOptimizer.replay`, starting from fresh state and
 * the base weights).
 *
 * With `perturbation: "inPlace"` the step also wrote θ + εz and restored it, and float32
 * restoration is inexact (θ + εz − εz ≠ θ in general): the records then also carry what a
 * replay needs to repeat that arithmetic (ε, the estimator, and for zoCons the trial scalar).
 * With `perturbation: "virtual"` θ is only ever written by the update, and the scalars suffice.
 */
import type { ZoDirectionDistribution } from "./directions.js";

/** The zeroth-order update rules. */
export type ZoMethodName =
  "zoSgd" | "zoMomentum" | "zoAdam" | "zoSign" | "zoCons" | "zoSignEstimate";

/**
 * How perturbed parameters are evaluated: `"virtual"` writes θ ± εz into a separate buffer and
 * never touches θ; `"inPlace"` writes θ ± εz over θ and restores it afterwards (MeZO, no
 * parameter-sized memory, restoration inexact in float32).
 */
export type Perturbation = "virtual" | "inPlace";

/**
 * The finite difference: `"twoPoint"` g = (f(θ+εz) − f(θ−εz)) / (2ε), `"onePoint"`
 * g = (f(θ+εz) − f(θ)) / ε with f(θ) evaluated once per step.
 */
export type Estimator = "twoPoint" | "onePoint";

/** One direction of one zeroth-order step. */
export interface ZoStepRecord {
  /** Step t, 0-based: the number of steps taken before this one. */
  readonly step: number;
  /** Direction j within the step, 0-based. */
  readonly direction: number;
  /** Number n of directions the step used. */
  readonly directions: number;
  /** Philox key of z (the run's seed). */
  readonly seed: number;
  /** Philox stream of z. */
  readonly stream: number;
  /** Member of the seed pool z was drawn from; absent for fresh directions. */
  readonly seedIndex?: number;
  /**
   * The Gaussian sequence z was drawn from (directions.ts): `"normalFloat32"`, or absent for
   * `"normal"` (records of every run before the choice existed read the same).
   */
  readonly directionDistribution?: ZoDirectionDistribution;
  /** The float32 scalar the update applied (see the table above for its meaning). */
  readonly scalar: number;
  /** Learning rate of step t (the schedule's value), as used. */
  readonly learningRate: number;
  /** Smoothing radius ε of step t, as used. */
  readonly epsilon: number;
  /** g_j, the projected gradient (float64), before any rounding. */
  readonly projectedGradient: number;
  /** The update rule that produced the record. */
  readonly method: ZoMethodName;
  /** The finite difference used. */
  readonly estimator: Estimator;
  /** How the perturbed parameters were evaluated. */
  readonly perturbation: Perturbation;
  /**
   * zoCons only: q(fround(lr·g_j / n)), the scalar of the θ − Δ candidate, whatever was
   * accepted (an in-place replay needs it to repeat the trial writes).
   */
  readonly trialScalar?: number;
}

/** Whether `x` is a finite float32 value (equal to its own float32 rounding), the form scalars take. */
export function isFloat32Value(x: number): boolean {
  return Number.isFinite(x) && Math.fround(x) === x;
}
