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
 * Cost per step: O(d·m + m²). The paper's dynamic algorithm computes the product in
 * O(d·m + m²) but pays O(d·m + m³) to add or remove a gradient of the window, and the
 * official code re-runs an unpivoted LU of the m×m system every step. Here the Gram matrix G·Gᵀ
 * is kept in the state with only the replaced row and column recomputed (d·m), and so is the
 * Cholesky factor R of A = λ·m·I + G·Gᵀ, with rows and columns in age order (oldest gradient
 * first). Replacing the oldest gradient by g then removes A's first row and column, a rank-1
 * update of the rest of R by Givens rotations (stable: an update, never a downdate), and borders
 * A with the new last row and column (one forward substitution): O(m²), see
 * linalg/choleskyUpdate.ts. The coefficients c come from two triangular solves (O(m²)).
 *
 * Safeguards, each an O(m³) refactorization of A from the Gram matrix:
 * - every `refactorInterval` steps (default m, so the amortized cost stays O(m²)), which bounds
 *   how long rounding in the factor can accumulate;
 * - when the bordering pivot is not positive (the updated factor lost positive definiteness);
 * - when the solve's normwise backward error ‖A·c − G·g‖∞ / (‖A‖∞·‖c‖∞ + ‖G·g‖∞), checked
 *   against the Gram matrix every step (O(m²)), exceeds 1e-10 (the factor lost accuracy; a
 *   sound factor gives a few multiples of m·2⁻⁵³).
 * Updated and refactored factors agree to rounding, not bit for bit; both are deterministic, and
 * the factor is state, so a checkpoint resumes exactly.
 *
 * Defaults are the official implementation's (IST-DASLab/M-FAC @ 8116367, optim.py `MFAC`):
 * lr 1e-3, momentum 0, weight decay 0, ngrads (m) 1024, damp (λ) 1e-5. Conformance:
 * test/conformance against trajectories of that class.
 */
import { InvalidArgumentError } from "../errors.js";
import {
  dampedGramBackwardError,
  dampedGramInAgeOrder,
  momentumAverage,
  toAgeOrder,
  toSlotOrder,
  windowDots,
  woodburyCombine,
} from "../kernels/mfac.js";
import { choleskyFactor } from "../linalg/cholesky.js";
import {
  choleskyAppendLast,
  choleskyRemoveFirst,
  choleskyUpperSolve,
  choleskyLowerToUpper,
} from "../linalg/choleskyUpdate.js";
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

/** Above this backward error of the m×m solve the updated factor is replaced by a fresh one. */
const BACKWARD_ERROR_LIMIT = 1e-10;

/** Options of {@link scaleByMfac}. */
export interface ScaleByMfacOptions {
  /** Number m of gradients in the window (default 1024, the official `ngrads`). */
  numGradients?: number;
  /** Dampening λ > 0 of the Fisher (default 1e-5, the official `damp`). */
  damp?: number;
  /** Momentum μ ∈ [0, 1) applied to the preconditioned direction (default 0). */
  momentum?: number;
  /**
   * Steps between full O(m³) refactorizations of the m×m factor, which otherwise is updated in
   * O(m²) per step: an integer ≥ 1 (1 refactors every step, as the official code) or `Infinity`
   * (only when an update fails its checks). Default m.
   */
  refactorInterval?: number;
}

/** State of {@link scaleByMfac}; with momentum > 0 it also holds the buffer `velocity`. */
export interface MfacState extends State {
  /** Updates applied so far. */
  count: number;
  /** Ring buffer of the last m gradients: m rows of d entries, row-major, float64. */
  window: Float64Array;
  /** Row of {@link MfacState.window} the next gradient replaces (the oldest gradient). */
  position: number;
  /** Gram matrix G·Gᵀ of the window (m×m, row-major, rows in ring-buffer order). */
  gram: Float64Array;
  /**
   * Upper Cholesky factor R of λ·m·I + G·Gᵀ in age order (m×m, row-major): row and column i
   * belong to ring-buffer row `(position + i) mod m`.
   */
  factor: Float64Array;
  /**
   * Full O(m³) refactorizations so far: the periodic ones and those an update's checks asked
   * for. More than `count / refactorInterval` means the O(m²) update keeps failing its checks.
   */
  refactorizations: number;
}

/** Per-(m, d) work buffers; not state, since they are fully rewritten every step. */
interface Workspace {
  /** G·g in ring-buffer order, with g already in its row. */
  dots: Float64Array;
  /** G·g in age order: the right-hand side of the m×m system. */
  rhs: Float64Array;
  /** The solution c, in age order and then in ring-buffer order. */
  ageCoefficients: Float64Array;
  coefficients: Float64Array;
  /** The next factor, copied into the state once the step cannot fail any more. */
  factor: Float64Array;
  vector: Float64Array;
  accumulator: Float64Array;
}

function workspace(m: number, d: number): Workspace {
  return {
    dots: new Float64Array(m),
    rhs: new Float64Array(m),
    ageCoefficients: new Float64Array(m),
    coefficients: new Float64Array(m),
    factor: new Float64Array(m * m),
    vector: new Float64Array(m),
    accumulator: new Float64Array(d),
  };
}

function notPositiveDefinite(owner: string): RangeError {
  return new RangeError(
    `${owner}: the damped Gram matrix of the gradient window is not numerically positive definite (a gradient is too large or not finite); the step was not taken`,
  );
}

/**
 * Factors λ·m·I + G·Gᵀ from scratch in age order into `out` (upper R): O(m³).
 * @returns false when it is not numerically positive definite
 */
function refactor(
  gram: Float64Array,
  dots: Float64Array,
  replaced: number,
  m: number,
  shift: number,
  oldest: number,
  out: Float64Array,
): boolean {
  dampedGramInAgeOrder(gram, dots, replaced, m, shift, oldest, out);
  if (!choleskyFactor(out, m, out)) return false;
  choleskyLowerToUpper(out, m);
  return true;
}

function checkRefactorInterval(owner: string, value: unknown): number {
  const ok =
    value === Infinity || (typeof value === "number" && Number.isInteger(value) && value >= 1);
  if (!ok) {
    throw new InvalidArgumentError(owner, "refactorInterval", value, "an integer >= 1 or Infinity");
  }
  return value as number;
}

/**
 * Preconditions the gradient by the inverse of M-FAC's windowed empirical Fisher
 * (the direction, before `−lr`).
 */
export function scaleByMfac(options: ScaleByMfacOptions = {}): GradientTransform<MfacState> {
  const owner = "scaleByMfac";
  checkKnownOptions(owner, options, ["numGradients", "damp", "momentum", "refactorInterval"]);
  const m = checkNumber(owner, "numGradients", options.numGradients ?? 1024, {
    integer: true,
    min: 1,
  });
  // λ ≤ 0 makes F singular or indefinite (the window has rank ≤ m < d).
  const damp = checkNumber(owner, "damp", options.damp ?? 1e-5, { above: 0 });
  const momentum = checkBeta(owner, "momentum", options.momentum ?? 0);
  const refactorInterval = checkRefactorInterval(owner, options.refactorInterval ?? m);
  const shift = damp * m;
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
      // The window starts as m zero gradients, so A = λ·m·I.
      const factor = new Float64Array(m * m);
      for (let i = 0; i < m; i++) factor[i * m + i] = Math.sqrt(shift);
      const state: MfacState = {
        count: 0,
        window: new Float64Array(m * layout.size),
        position: 0,
        gram: new Float64Array(m * m),
        factor,
        refactorizations: 0,
      };
      if (momentum > 0) state.velocity = layout.zeros();
      return state;
    },
    update(u, state, ctx) {
      const d = ctx.layout.size;
      const w = workspaceFor(ctx.layout);
      const { dots, rhs, ageCoefficients, coefficients, factor, vector } = w;
      const position = state.position;
      // After g takes the oldest row, age order starts at the next row.
      const oldest = (position + 1) % m;
      windowDots(state.window, d, m, u, dots, position);
      toAgeOrder(dots, m, oldest, rhs);
      // Everything up to the commit below works on the workspace, so a failure leaves the
      // state as it was.
      let refactored = (state.count + 1) % refactorInterval === 0;
      let ok = false;
      if (!refactored) {
        choleskyRemoveFirst(state.factor, m, factor, vector);
        ok = choleskyAppendLast(factor, m, rhs, dots[position] + shift, vector);
      }
      if (!ok) {
        refactored = true;
        if (!refactor(state.gram, dots, position, m, shift, oldest, factor)) {
          throw notPositiveDefinite(owner);
        }
      }
      choleskyUpperSolve(factor, m, rhs, ageCoefficients);
      toSlotOrder(ageCoefficients, m, oldest, coefficients);
      if (!refactored) {
        const error = dampedGramBackwardError(
          state.gram,
          dots,
          position,
          m,
          shift,
          coefficients,
          dots,
        );
        // `!(≤)` also catches NaN.
        if (!(error <= BACKWARD_ERROR_LIMIT)) {
          refactored = true;
          if (!refactor(state.gram, dots, position, m, shift, oldest, factor)) {
            throw notPositiveDefinite(owner);
          }
          choleskyUpperSolve(factor, m, rhs, ageCoefficients);
          toSlotOrder(ageCoefficients, m, oldest, coefficients);
        }
      }
      state.factor.set(factor);
      if (refactored) state.refactorizations++;
      state.window.set(u, position * d);
      for (let j = 0; j < m; j++) {
        state.gram[position * m + j] = dots[j];
        state.gram[j * m + position] = dots[j];
      }
      // With g now in the window, G·g is exactly `dots`.
      woodburyCombine(u, state.window, d, m, coefficients, 1 / damp, w.accumulator);
      if (momentum > 0) momentumAverage(u, state.velocity as FloatArray, momentum);
      state.position = oldest;
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
    "refactorInterval",
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
  if (!refactor(gram, row, -1, m, damp * m, 0, factor)) throw notPositiveDefinite(owner);
  const dots = new Float64Array(m);
  windowDots(window, d, m, target, dots, -1);
  const coefficients = new Float64Array(m);
  choleskyUpperSolve(factor, m, dots, coefficients);
  woodburyCombine(target, window, d, m, coefficients, 1 / damp, new Float64Array(d));
  out.set(target);
  return out;
}
