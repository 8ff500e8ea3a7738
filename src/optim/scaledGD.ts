/**
 * ScaledGD(λ), damped preconditioned gradient descent on matrix factors.
 *
 * Xu, Shen, Chi & Ma, "The Power of Preconditioning in Overparameterized Low-Rank Matrix
 * Sensing", ICML 2023.
 *
 * Every 2-D parameter U of shape [n, k] is updated through the k×k damped Gram matrix of its
 * own columns, evaluated at the current iterate:
 *
 *     P = UᵀU + λ·I                     (k×k, symmetric positive definite for λ > 0)
 *     U ← U − η·∇f(U)·P⁻¹
 *
 * Row i of ∇f(U)·P⁻¹ is P⁻¹·(row i of ∇f(U)) since P is symmetric, so one Cholesky factorization
 * and n small solves per matrix give the direction. The damping λ keeps P invertible when U is
 * rank deficient (small random start, over-parameterized k > rank), which is what separates
 * ScaledGD(λ) from ScaledGD. Parameters that are not matrices (biases, scalars, 3-D tensors) have
 * no factor structure, so they pass through unchanged: plain gradient descent with the same η.
 *
 * Defaults: the paper's analysis asks for a constant step η ≤ c_η and a damping λ between
 * c_λ·σ_min(X*)/100 and c_λ·σ_min(X*), with unspecified constants c_η, c_λ. We take η = 0.5 and
 * λ = 1e-3 as a starting point; both are problem dependent. The ratio η/λ sets the growth of a
 * small start (U grows like (I + (η/λ)·X*)·U while UᵀU ≪ λ), so too small a damping overshoots,
 * most of all when k is much larger than the rank and the measurements are few; too large a
 * damping slows the final phase, whose contraction is about 1 − η·σ_min/(σ_min + λ).
 */
import type { FloatArray, Layout } from "../params/layout.js";
import { choleskyFactor, choleskySolve } from "../linalg/cholesky.js";
import { InvalidArgumentError } from "../errors.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkHyper, checkKnownOptions } from "./validate.js";

/** Options of {@link scaleByScaledGD}. */
export interface ScaleByScaledGDOptions {
  /** Damping λ > 0 added to the diagonal of UᵀU (constant or schedule; default 1e-3). */
  damping?: Hyper;
}

/** State of {@link scaleByScaledGD}: only the step count (the preconditioner is recomputed). */
export interface ScaledGDState extends State {
  /** Updates applied so far (drives a damping schedule). */
  count: number;
}

/** Scratch sized for the widest matrix of a layout; rewritten every step, so not state. */
interface Workspace {
  gram: Float64Array;
  factor: Float64Array;
  row: Float64Array;
}

function widestColumns(layout: Layout): number {
  let k = 0;
  for (const t of layout.tensors) if (t.shape.length === 2) k = Math.max(k, t.shape[1]);
  return k;
}

/**
 * `out[:, :] = Uᵀ·U + λ·I` for the row-major n×k factor `u` starting at `offset` of `params`.
 * Only the lower triangle is written: that is all the Cholesky factorization reads.
 */
function dampedGram(
  params: FloatArray,
  offset: number,
  n: number,
  k: number,
  damping: number,
  out: Float64Array,
): void {
  for (let a = 0; a < k; a++) {
    for (let b = 0; b <= a; b++) {
      let sum = 0;
      for (let i = 0; i < n; i++) sum += params[offset + i * k + a] * params[offset + i * k + b];
      out[a * k + b] = a === b ? sum + damping : sum;
    }
  }
}

/**
 * Right-multiplies the gradient of every 2-D parameter by (UᵀU + λI)⁻¹ at the current
 * parameters (the ScaledGD(λ) direction, before `−η`). Other tensors are left unchanged.
 */
export function scaleByScaledGD(
  options: ScaleByScaledGDOptions = {},
): GradientTransform<ScaledGDState> {
  const owner = "scaleByScaledGD";
  checkKnownOptions(owner, options, ["damping"]);
  const damping = checkHyper(owner, "damping", options.damping ?? 1e-3, { above: 0 });
  const workspaces = new WeakMap<Layout, Workspace>();
  const workspaceFor = (layout: Layout): Workspace => {
    let w = workspaces.get(layout);
    if (w === undefined) {
      const k = widestColumns(layout);
      w = {
        gram: new Float64Array(k * k),
        factor: new Float64Array(k * k),
        row: new Float64Array(k),
      };
      workspaces.set(layout, w);
    }
    return w;
  };
  return {
    name: "scaleByScaledGD",
    init(layout) {
      workspaceFor(layout);
      return { count: 0 };
    },
    update(u, state, ctx) {
      const lambda = valueAt(damping, state.count);
      const { layout, params } = ctx;
      const w = workspaceFor(layout);
      for (const t of layout.tensors) {
        if (t.shape.length !== 2 || t.size === 0) continue;
        const [n, k] = t.shape;
        dampedGram(params, t.offset, n, k, lambda, w.gram);
        if (!choleskyFactor(w.gram, k, w.factor)) {
          throw new InvalidArgumentError(
            owner,
            `damping (preconditioner of ${t.name})`,
            lambda,
            "large enough for UᵀU + λI to be positive definite (parameters must be finite)",
          );
        }
        for (let i = 0; i < n; i++) {
          const start = t.offset + i * k;
          for (let j = 0; j < k; j++) w.row[j] = u[start + j];
          choleskySolve(w.factor, k, w.row, w.row);
          for (let j = 0; j < k; j++) u[start + j] = w.row[j];
        }
      }
      state.count++;
    },
  };
}

/** Options of {@link scaledGD}. */
export interface ScaledGDOptions extends ScaleByScaledGDOptions {
  /** Step size η (constant or schedule; default 0.5). */
  learningRate?: Hyper;
}

/** ScaledGD(λ): `U ← U − η·∇f(U)·(UᵀU + λI)⁻¹` per matrix, plain gradient descent elsewhere. */
export function scaledGD(options: ScaledGDOptions = {}): ChainTransform {
  const owner = "scaledGD";
  checkKnownOptions(owner, options, ["learningRate", "damping"]);
  const { learningRate = 0.5, ...rest } = options;
  return chain(scaleByScaledGD(rest), scaleByLearningRate(checkLearningRate(owner, learningRate)));
}
