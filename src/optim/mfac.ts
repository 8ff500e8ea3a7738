/**
 * M-FAC, the matrix-free inverse empirical Fisher optimizer.
 *
 * Frantar, Kurtic & Alistarh, "M-FAC: Efficient Matrix-Free Approximations of Second-Order
 * Information", NeurIPS 2021.
 *
 * All parameters form one vector of length d. A window of the last m gradients G (m×d, a ring
 * buffer that starts as m zero rows) defines the damped empirical Fisher
 *
 *     F = λ·I + (1/m)·Σ_j G_j·G_jᵀ          (divided by m even before m gradients were seen)
 *
 * Each step (g the gradient, optionally with L2 weight decay g ← g + wd·θ added first):
 *
 *     G_{pos} ← g,  pos ← (pos + 1) mod m
 *     u = F⁻¹·g = (1/λ)·(g − Gᵀ·c),  (λ·m·I + G·Gᵀ)·c = G·g          (Woodbury identity)
 *     momentum μ > 0:  v ← μ·v + (1 − μ)·u,  u ← v
 *     θ ← θ − lr·u
 *
 * The m×m Gram matrix G·Gᵀ is kept in the state and only the replaced row and column are
 * recomputed (d·m work); the m×m system is refactored by Cholesky every step (m³/3 flops, as
 * the official code refactors it by an unpivoted LU), small next to d·m while m ≪ d. This is the
 * paper's dynamic algorithm in an equivalent factorization; the two agree to rounding.
 *
 * Defaults are the official implementation's (IST-DASLab/M-FAC, optim.py `MFAC`): lr 1e-3,
 * momentum 0, weight decay 0, ngrads (m) 1024, damp (λ) 1e-5. Conformance: test/conformance
 * against trajectories of that class.
 */
import { InvalidArgumentError } from "../errors.js";
import { momentumAverage, windowDots, woodburyCombine } from "../kernels/mfac.js";
import { choleskyFactor, choleskySolve } from "../linalg/cholesky.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByMfac}. */
export interface ScaleByMfacOptions {
  /** Number m of gradients in the window (default 1024, the official `ngrads`). */
  numGradients?: number;
  /** Dampening λ > 0 of the Fisher (default 1e-5, the official `damp`). */
  damp?: number;
  /** Momentum μ ∈ [0, 1) applied to the preconditioned direction (default 0). */
  momentum?: number;
}

/** State of {@link scaleByMfac}; with momentum > 0 it also holds the buffer `velocity`. */
export interface MfacState extends State {
  /** Updates applied so far. */
  count: number;
  /** Ring buffer of the last m gradients: m rows of d entries, row-major, float64. */
  window: Float64Array;
  /** Row of {@link MfacState.window} the next gradient replaces. */
  position: number;
  /** Gram matrix G·Gᵀ of the window (m×m, row-major). */
  gram: Float64Array;
}

/** Per-(m, d) work buffers; not state, since they are fully rewritten every step. */
interface Workspace {
  dots: Float64Array;
  factor: Float64Array;
  coefficients: Float64Array;
  accumulator: Float64Array;
}

function workspace(m: number, d: number): Workspace {
  return {
    dots: new Float64Array(m),
    factor: new Float64Array(m * m),
    coefficients: new Float64Array(m),
    accumulator: new Float64Array(d),
  };
}

/**
 * Writes `λ·m·I + gram` into `out`, with row and column `replaced` of `gram` taken from `dots`
 * (only the lower triangle, which is all {@link choleskyFactor} reads).
 */
function dampedGram(
  gram: Float64Array,
  dots: Float64Array,
  replaced: number,
  m: number,
  shift: number,
  out: Float64Array,
): void {
  for (let i = 0; i < m; i++) {
    for (let j = 0; j <= i; j++) {
      const value = i === replaced ? dots[j] : j === replaced ? dots[i] : gram[i * m + j];
      out[i * m + j] = i === j ? value + shift : value;
    }
  }
}

function notPositiveDefinite(owner: string): RangeError {
  return new RangeError(
    `${owner}: the damped Gram matrix of the gradient window is not numerically positive definite (a gradient is too large or not finite); the step was not taken`,
  );
}

/**
 * Preconditions the gradient by the inverse of M-FAC's windowed empirical Fisher
 * (the direction, before `−lr`).
 */
export function scaleByMfac(options: ScaleByMfacOptions = {}): GradientTransform<MfacState> {
  const owner = "scaleByMfac";
  checkKnownOptions(owner, options, ["numGradients", "damp", "momentum"]);
  const m = checkNumber(owner, "numGradients", options.numGradients ?? 1024, {
    integer: true,
    min: 1,
  });
  // λ ≤ 0 makes F singular or indefinite (the window has rank ≤ m < d).
  const damp = checkNumber(owner, "damp", options.damp ?? 1e-5, { above: 0 });
  const momentum = checkBeta(owner, "momentum", options.momentum ?? 0);
  const workspaces = new WeakMap<Layout, Workspace>();
  const workspaceFor = (layout: Layout): Workspace => {
    let w = workspaces.get(layout);
    if (!w) workspaces.set(layout, (w = workspace(m, layout.size)));
    return w;
  };
  return {
    name: "scaleByMfac",
    init(layout) {
      workspaceFor(layout);
      const state: MfacState = {
        count: 0,
        window: new Float64Array(m * layout.size),
        position: 0,
        gram: new Float64Array(m * m),
      };
      if (momentum > 0) state.velocity = layout.zeros();
      return state;
    },
    update(u, state, ctx) {
      const d = ctx.layout.size;
      const { dots, factor, coefficients, accumulator } = workspaceFor(ctx.layout);
      const position = state.position;
      windowDots(state.window, d, m, u, dots, position);
      dampedGram(state.gram, dots, position, m, damp * m, factor);
      // Factor before touching the state, so a failure leaves it as it was.
      if (!choleskyFactor(factor, m, factor)) throw notPositiveDefinite(owner);
      state.window.set(u, position * d);
      for (let j = 0; j < m; j++) {
        state.gram[position * m + j] = dots[j];
        state.gram[j * m + position] = dots[j];
      }
      // With g now in the window, G·g is exactly `dots`.
      choleskySolve(factor, m, dots, coefficients);
      woodburyCombine(u, state.window, d, m, coefficients, 1 / damp, accumulator);
      if (momentum > 0) momentumAverage(u, state.velocity as FloatArray, momentum);
      state.position = (position + 1) % m;
      state.count++;
    },
  };
}

/** Options of {@link mfac}. */
export interface MfacOptions extends ScaleByMfacOptions {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** L2 weight decay added to the gradient before it enters the window (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all, as the official code). */
  weightDecayMask?: Selector;
}

/**
 * M-FAC as the official `MFAC` optimizer: L2 weight decay, the windowed inverse-Fisher
 * direction (with optional momentum), then `−lr`.
 */
export function mfac(options: MfacOptions = {}): ChainTransform {
  const owner = "mfac";
  checkKnownOptions(owner, options, [
    "learningRate",
    "weightDecay",
    "weightDecayMask",
    "numGradients",
    "damp",
    "momentum",
  ]);
  const { learningRate = 1e-3, weightDecay = 0, weightDecayMask, ...mfacOptions } = options;
  const lr = checkLearningRate(owner, learningRate);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const parts: GradientTransform[] = [];
  if (wd !== 0) parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  parts.push(scaleByMfac(mfacOptions), scaleByLearningRate(lr));
  return chain(...parts);
}

/**
 * The inverse-Hessian-vector product of M-FAC for a given window of gradients (e.g. for
 * pruning or compression scores): `out = (λ·I + (1/m)·Σ_j g_j·g_jᵀ)⁻¹·v` with m =
 * `gradients.length`, computed in O(d·m² + m³) without forming a d×d matrix.
 *
 * @param gradients - the m ≥ 1 gradients g_j, each of length d
 * @param damp - the dampening λ > 0
 * @param v - the vector to multiply, length d
 * @param out - receives the product (length d; may be `v`)
 * @returns `out`
 */
export function mfacInverseHessianVectorProduct(
  gradients: readonly ArrayLike<number>[],
  damp: number,
  v: ArrayLike<number>,
  out: FloatArray,
): FloatArray {
  const owner = "mfacInverseHessianVectorProduct";
  checkNumber(owner, "damp", damp, { above: 0 });
  const m = gradients.length;
  if (m === 0) throw new InvalidArgumentError(owner, "gradients", [], "at least one gradient");
  const d = v.length;
  if (out.length !== d) {
    throw new InvalidArgumentError(owner, "out.length", out.length, `equal to v.length (${d})`);
  }
  gradients.forEach((g, j) => {
    if (g.length !== d) {
      throw new InvalidArgumentError(
        owner,
        `gradients[${j}].length`,
        g.length,
        `equal to v.length (${d})`,
      );
    }
  });
  const window = new Float64Array(m * d);
  gradients.forEach((g, j) => window.set(Array.from(g), j * d));
  const target = Float64Array.from(v);
  const gram = new Float64Array(m * m);
  const row = new Float64Array(m);
  for (let j = 0; j < m; j++) {
    windowDots(window, d, m, window.subarray(j * d, (j + 1) * d), row, -1);
    gram.set(row, j * m);
  }
  const factor = new Float64Array(m * m);
  dampedGram(gram, row, -1, m, damp * m, factor);
  if (!choleskyFactor(factor, m, factor)) throw notPositiveDefinite(owner);
  const dots = new Float64Array(m);
  windowDots(window, d, m, target, dots, -1);
  const coefficients = new Float64Array(m);
  choleskySolve(factor, m, dots, coefficients);
  woodburyCombine(target, window, d, m, coefficients, 1 / damp, new Float64Array(d));
  out.set(target);
  return out;
}
