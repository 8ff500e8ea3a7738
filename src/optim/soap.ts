/**
 * SOAP: Adam run in the eigenbasis of Shampoo's preconditioner.
 *
 * Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson & Kakade, "SOAP: Improving and
 * Stabilizing Shampoo using Adam", ICLR 2025 (arXiv:2409.11321). Official implementation:
 * nikhilvyas/SOAP @ a1e5535, `soap.py` (`SOAP`).
 *
 * For each weight matrix G (r × c) the official code keeps L, R (Shampoo's statistics) and their
 * eigenbases Q_L, Q_R, and at step t:
 *
 *     G' = Q_Lᵀ·G·Q_R                                        (rotate into the eigenbasis)
 *     M ← β₁·M + (1 − β₁)·G',   V ← β₂·V + (1 − β₂)·G'²      (Adam's moments, rotated)
 *     D = Q_L·(M / (√V + ε))·Q_Rᵀ · √(1 − β₂ᵗ)/(1 − β₁ᵗ)      (rotated back)
 *     L ← β_s·L + (1 − β_s)·G·Gᵀ,   R ← β_s·R + (1 − β_s)·Gᵀ·G
 *     every f steps (f divides t), for Q_L then Q_R, with S the side's statistic:
 *         order the columns of Q by the estimated eigenvalues diag(Qᵀ·S·Q), largest first, and
 *         reorder V's rows (Q_L) or columns (Q_R) to match
 *         Q ← the Q factor of the QR decomposition of S·Q       (one power-iteration step)
 *         M is carried over to the new basis: M ← Q_Lᵀ·(Q_L,old·M·Q_R,oldᵀ)·Q_R
 *     θ ← θ − lr·(D + wd·θ)
 *
 * The first step only fills L and R and takes their exact eigenbases (eigendecomposition,
 * columns by decreasing eigenvalue); it leaves the parameters alone, so the projection never
 * sees the gradient it rotates. A side longer than `maxPreconditionerDim` keeps the identity
 * basis; vectors are not rotated unless `precondition1d` (then one basis of the vector's
 * length), so they get Adam with SOAP's bias correction. `normalizeGradients` divides D by its
 * root mean square (plus 1e-30) before the step factor. A tensor with more than two dimensions
 * is viewed as [shape[0], product of the rest] (the official code keeps one basis per dimension).
 *
 * Defaults are the official code's: lr 3e-3, β₁ = β₂ = 0.95, β_s = β₂, ε = 1e-8, weight decay
 * 0.01, f = 10, maxPreconditionerDim 10000, precondition1d false, normalizeGradients false, bias
 * correction on. Departures: the official code decays the weights after the step
 * (θ ← θ' − lr·wd·θ', θ' the stepped parameters) and skips it on the first step; here decay is
 * decoupled as AdamW's and applies on every step (a difference of lr²·wd per step). The
 * official code takes eigendecompositions and QR factors in float32 and adds 1e-30·I before the
 * first eigendecomposition; here they are float64, and the QR is Householder's (LAPACK's
 * method; column signs do not matter, since V is a sum of squares and M is carried over). It
 * also rotates M back and forth on every step; here only when the basis changes (the same up to
 * rounding).
 */
import { permuteMatrix, rootMeanSquare, rotatedAdam, writeScaled } from "../kernels/soap.js";
import { eigh } from "../linalg/eigh.js";
import type { MatrixData } from "../linalg/matmul.js";
import { gram, matmul } from "../linalg/matmul.js";
import type { FloatArray, Layout, TensorSpec } from "../params/layout.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { DECOUPLED_DECAY_OPTIONS, withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import { requireFinite, setIdentity } from "./matrices.js";
import { perLayout } from "./perLayout.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkBoolean, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleBySoap}. */
export interface ScaleBySoapOptions {
  /** Decay β₁ ∈ [0, 1) of the first moment (default 0.95). */
  beta1?: number;
  /** Decay β₂ ∈ [0, 1) of the second moment (default 0.95). */
  beta2?: number;
  /** Decay β_s ∈ [0, 1) of the statistics L and R (default β₂: the official `shampoo_beta` −1). */
  shampooBeta?: number;
  /** Added to √V (default 1e-8). */
  eps?: number;
  /** The eigenbases are refreshed every this many steps (default 10). */
  preconditionFrequency?: number;
  /** Sides longer than this keep the identity basis (integer ≥ 1 or Infinity; default 10000). */
  maxPreconditionerDim?: number;
  /** Rotate vectors too (default false: Adam for vectors). */
  precondition1d?: boolean;
  /** Divide each tensor's direction by its root mean square (default false). */
  normalizeGradients?: boolean;
  /** Scale the direction by √(1 − β₂ᵗ)/(1 − β₁ᵗ) (default true). */
  biasCorrection?: boolean;
}

/** State of {@link scaleBySoap}. */
export interface SoapState extends State {
  /** Adam steps taken (the first call, which only sets up the bases, is not one). */
  count: number;
  /** 1 once the first call has set up the statistics and bases. */
  started: number;
  /** First moment M, in each tensor's current eigenbasis. */
  mu: FloatArray;
  /** Second moment V, in each tensor's current eigenbasis. */
  nu: FloatArray;
  /**
   * Per tensor name: `left` (L) and `leftBasis` (Q_L), `right` (R) and `rightBasis` (Q_R), for
   * the sides that are rotated (row-major, float64).
   */
  factors: State;
}

const SCALE_BY_SOAP_OPTIONS = [
  "beta1",
  "beta2",
  "shampooBeta",
  "eps",
  "preconditionFrequency",
  "maxPreconditionerDim",
  "precondition1d",
  "normalizeGradients",
  "biasCorrection",
] as const;

interface SoapPlan {
  readonly spec: TensorSpec;
  readonly rows: number;
  readonly cols: number;
  readonly left: boolean;
  readonly right: boolean;
}

/** A tensor's statistics and bases in the state (null for a side that is not rotated). */
interface Sides {
  readonly left: Float64Array | null;
  readonly leftBasis: Float64Array | null;
  readonly right: Float64Array | null;
  readonly rightBasis: Float64Array | null;
}

interface SoapWorkspace {
  readonly plans: readonly SoapPlan[];
  /** Next statistics and (first call) bases, per tensor; absent sides are empty. */
  readonly next: readonly {
    left: Float64Array;
    right: Float64Array;
    leftBasis: Float64Array;
    rightBasis: Float64Array;
  }[];
  /** Tensor-sized scratch. */
  readonly scratch: readonly Float64Array[];
  /** Side-sized scratch: S·Q, eigenvalues, the ordering. */
  readonly product: Float64Array;
  readonly values: Float64Array;
  readonly order: Int32Array;
  /** Householder vectors and factors of one QR decomposition. */
  readonly reflectors: Float64Array;
}

function planTensor(spec: TensorSpec, limit: number, precondition1d: boolean): SoapPlan {
  const matrix = spec.shape.length >= 2;
  const rows = spec.shape.length === 0 ? 1 : spec.shape[0];
  const cols = rows === 0 ? 0 : spec.size / rows;
  return {
    spec,
    rows,
    cols,
    left: spec.size > 0 && rows <= limit && (matrix || precondition1d),
    right: spec.size > 0 && matrix && cols <= limit,
  };
}

function makeWorkspace(layout: Layout, limit: number, precondition1d: boolean): SoapWorkspace {
  const plans = layout.tensors.map((t) => planTensor(t, limit, precondition1d));
  let largest = 0;
  let side = 0;
  const next = plans.map((p) => {
    largest = Math.max(largest, p.spec.size);
    const r = p.left ? p.rows : 0;
    const c = p.right ? p.cols : 0;
    side = Math.max(side, r, c);
    return {
      left: new Float64Array(r * r),
      right: new Float64Array(c * c),
      leftBasis: new Float64Array(r * r),
      rightBasis: new Float64Array(c * c),
    };
  });
  return {
    plans,
    next,
    scratch: Array.from({ length: 3 }, () => new Float64Array(largest)),
    product: new Float64Array(side * side),
    values: new Float64Array(side),
    order: new Int32Array(side),
    reflectors: new Float64Array(side * side + side),
  };
}

const TRANSPOSED_A = Object.freeze({ transposeA: true });
const TRANSPOSED_B = Object.freeze({ transposeB: true });
const PLAIN = Object.freeze({});

/**
 * `out ← Q_Lᵀ·x·Q_R` (into the eigenbasis) or `out ← Q_L·x·Q_Rᵀ` (back), for the sides present;
 * `tmp` is scratch of the same size. `out` must not be `x`.
 */
function rotate(
  x: MatrixData,
  rows: number,
  cols: number,
  left: Float64Array | null,
  right: Float64Array | null,
  intoBasis: boolean,
  out: MatrixData,
  tmp: Float64Array,
): void {
  const leftOptions = intoBasis ? TRANSPOSED_A : PLAIN;
  const rightOptions = intoBasis ? PLAIN : TRANSPOSED_B;
  if (left && right) {
    matmul(left, x, rows, rows, cols, tmp, leftOptions);
    matmul(tmp, right, rows, cols, cols, out, rightOptions);
  } else if (left) {
    matmul(left, x, rows, rows, cols, out, leftOptions);
  } else if (right) {
    matmul(x, right, rows, cols, cols, out, rightOptions);
  } else {
    for (let i = 0; i < rows * cols; i++) out[i] = x[i];
  }
}

/**
 * Overwrites the n×n matrix `a` with the Q factor of its QR decomposition by Householder
 * reflections (`work` holds n² + n entries). A zero column below the diagonal leaves its
 * reflection out, so rank-deficient input still gives an orthogonal Q.
 */
function householderQ(a: Float64Array, n: number, work: Float64Array): void {
  const vectors = work.subarray(0, n * n);
  const taus = work.subarray(n * n, n * n + n);
  // Reduce a to R, keeping reflector k in row k of `vectors` (entries k … n−1).
  for (let k = 0; k < n; k++) {
    let norm = 0;
    for (let i = k; i < n; i++) norm += a[i * n + k] * a[i * n + k];
    norm = Math.sqrt(norm);
    taus[k] = 0;
    if (norm === 0) continue;
    const x0 = a[k * n + k];
    const alpha = x0 > 0 ? -norm : norm;
    let vNorm = 0;
    for (let i = k; i < n; i++) {
      const vi = i === k ? x0 - alpha : a[i * n + k];
      vectors[k * n + i] = vi;
      vNorm += vi * vi;
    }
    if (vNorm === 0) continue;
    taus[k] = 2 / vNorm;
    for (let j = k; j < n; j++) {
      let dot = 0;
      for (let i = k; i < n; i++) dot += vectors[k * n + i] * a[i * n + j];
      const f = taus[k] * dot;
      for (let i = k; i < n; i++) a[i * n + j] -= f * vectors[k * n + i];
    }
  }
  // Q = H₀·H₁·…·H_{n−1}·I, applied from the last reflector.
  setIdentity(a, n);
  for (let k = n - 1; k >= 0; k--) {
    if (taus[k] === 0) continue;
    for (let j = 0; j < n; j++) {
      let dot = 0;
      for (let i = k; i < n; i++) dot += vectors[k * n + i] * a[i * n + j];
      const f = taus[k] * dot;
      for (let i = k; i < n; i++) a[i * n + j] -= f * vectors[k * n + i];
    }
  }
}

/** Eigenvectors of `statistic` as columns, by decreasing eigenvalue, into `basis`. */
function eigenbasis(
  statistic: Float64Array,
  n: number,
  basis: Float64Array,
  w: SoapWorkspace,
): void {
  const vectors = w.product.subarray(0, n * n);
  eigh(statistic, n, w.values.subarray(0, n), vectors);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) basis[i * n + j] = vectors[i * n + (n - 1 - j)];
  }
}

/**
 * One refresh of a basis (the official `get_orthogonal_matrix_QR`): orders its columns by the
 * estimated eigenvalues, reorders V along the same side, and replaces it by the Q factor of
 * statistic·basis.
 */
function refreshBasis(
  statistic: Float64Array,
  basis: Float64Array,
  n: number,
  v: FloatArray,
  plan: SoapPlan,
  byRows: boolean,
  w: SoapWorkspace,
): void {
  const sq = w.product.subarray(0, n * n);
  matmul(statistic, basis, n, n, n, sq);
  const estimates = w.values.subarray(0, n);
  for (let j = 0; j < n; j++) {
    let s = 0;
    for (let i = 0; i < n; i++) s += basis[i * n + j] * sq[i * n + j];
    estimates[j] = s;
  }
  const order = w.order.subarray(0, n);
  for (let j = 0; j < n; j++) order[j] = j;
  // Stable, largest first.
  order.sort((a, b) => estimates[b] - estimates[a] || a - b);
  permuteMatrix(v, plan.spec.offset, plan.rows, plan.cols, order, byRows, w.scratch[2]);
  // basis ← columns of S·Q in the new order, then their Q factor.
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < n; j++) basis[i * n + j] = sq[i * n + order[j]];
  }
  householderQ(basis, n, w.reflectors);
}

/** Replaces the gradient by SOAP's direction (before `−lr`). */
export function scaleBySoap(options: ScaleBySoapOptions = {}): GradientTransform<SoapState> {
  const owner = "scaleBySoap";
  checkKnownOptions(owner, options, SCALE_BY_SOAP_OPTIONS);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.95);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.95);
  const shampooBeta = checkBeta(owner, "shampooBeta", options.shampooBeta ?? beta2);
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const frequency = checkNumber(
    owner,
    "preconditionFrequency",
    options.preconditionFrequency ?? 10,
    {
      integer: true,
      min: 1,
    },
  );
  const limit = options.maxPreconditionerDim ?? 10000;
  if (limit !== Infinity) {
    checkNumber(owner, "maxPreconditionerDim", limit, { integer: true, min: 1 });
  }
  const precondition1d = checkBoolean(owner, "precondition1d", options.precondition1d ?? false);
  const normalize = checkBoolean(owner, "normalizeGradients", options.normalizeGradients ?? false);
  const biasCorrection = checkBoolean(owner, "biasCorrection", options.biasCorrection ?? true);
  const workspaceOf = perLayout((layout) => makeWorkspace(layout, limit, precondition1d));
  const accumulate = { alpha: 1 - shampooBeta, beta: shampooBeta };
  // The per-tensor views of a state, looked up once per state object.
  const sideCache = new WeakMap<State, Map<string, Sides>>();
  const sideOf = (state: SoapState, plan: SoapPlan): Sides => {
    let perState = sideCache.get(state.factors);
    if (!perState) sideCache.set(state.factors, (perState = new Map()));
    let sides = perState.get(plan.spec.name);
    if (!sides) {
      const f = state.factors[plan.spec.name] as State;
      sides = {
        left: plan.left ? (f.left as Float64Array) : null,
        leftBasis: plan.left ? (f.leftBasis as Float64Array) : null,
        right: plan.right ? (f.right as Float64Array) : null,
        rightBasis: plan.right ? (f.rightBasis as Float64Array) : null,
      };
      perState.set(plan.spec.name, sides);
    }
    return sides;
  };

  return {
    name: "scaleBySoap",
    init(layout) {
      const w = workspaceOf(layout);
      const factors: State = {};
      for (const plan of w.plans) {
        const f: State = {};
        if (plan.left) {
          f.left = new Float64Array(plan.rows * plan.rows);
          f.leftBasis = new Float64Array(plan.rows * plan.rows);
        }
        if (plan.right) {
          f.right = new Float64Array(plan.cols * plan.cols);
          f.rightBasis = new Float64Array(plan.cols * plan.cols);
        }
        factors[plan.spec.name] = f;
      }
      return { count: 0, started: 0, mu: layout.zeros(), nu: layout.zeros(), factors };
    },
    update(u, state, ctx) {
      const w = workspaceOf(ctx.layout);
      const first = state.started === 0;
      // The statistics (and on the first call their eigenbases) go to the workspace first, so a
      // failure leaves the state as it was.
      w.plans.forEach((plan, k) => {
        const { spec, rows, cols } = plan;
        const g = u.subarray(spec.offset, spec.offset + spec.size);
        const current = sideOf(state, plan);
        const next = w.next[k];
        if (current.left) {
          next.left.set(current.left);
          gram(g, rows, cols, next.left, "left", accumulate);
          requireFinite(owner, "left statistic L", spec.name, next.left);
          if (first) eigenbasis(next.left, rows, next.leftBasis, w);
        }
        if (current.right) {
          next.right.set(current.right);
          gram(g, rows, cols, next.right, "right", accumulate);
          requireFinite(owner, "right statistic R", spec.name, next.right);
          if (first) eigenbasis(next.right, cols, next.rightBasis, w);
        }
      });
      if (first) {
        w.plans.forEach((plan, k) => {
          const current = sideOf(state, plan);
          const next = w.next[k];
          current.left?.set(next.left);
          current.leftBasis?.set(next.leftBasis);
          current.right?.set(next.right);
          current.rightBasis?.set(next.rightBasis);
        });
        u.fill(0);
        state.started = 1;
        return;
      }
      const t = state.count + 1;
      const refresh = t % frequency === 0;
      const stepFactor = biasCorrection ? Math.sqrt(1 - beta2 ** t) / (1 - beta1 ** t) : 1;
      const [s0, s1, s2] = w.scratch;
      w.plans.forEach((plan, k) => {
        const { spec, rows, cols } = plan;
        if (spec.size === 0) return;
        const size = spec.size;
        const { offset } = spec;
        const a = s0.subarray(0, size);
        const b = s1.subarray(0, size);
        const c = s2.subarray(0, size);
        const sides = sideOf(state, plan);
        rotate(
          u.subarray(offset, offset + size),
          rows,
          cols,
          sides.leftBasis,
          sides.rightBasis,
          true,
          a,
          c,
        );
        rotatedAdam(a, state.mu, state.nu, offset, beta1, beta2, eps, b);
        rotate(b, rows, cols, sides.leftBasis, sides.rightBasis, false, a, c);
        let factor = stepFactor;
        if (normalize) factor /= 1e-30 + rootMeanSquare(a);
        writeScaled(a, factor, u, offset);
        const next = w.next[k];
        sides.left?.set(next.left);
        sides.right?.set(next.right);
        if (refresh && (sides.leftBasis || sides.rightBasis)) {
          const m = state.mu.subarray(offset, offset + size);
          rotate(m, rows, cols, sides.leftBasis, sides.rightBasis, false, b, c);
          if (sides.left && sides.leftBasis) {
            refreshBasis(sides.left, sides.leftBasis, rows, state.nu, plan, true, w);
          }
          if (sides.right && sides.rightBasis) {
            refreshBasis(sides.right, sides.rightBasis, cols, state.nu, plan, false, w);
          }
          rotate(b, rows, cols, sides.leftBasis, sides.rightBasis, true, m, c);
        }
      });
      state.count = t;
    },
  };
}

/** Options of {@link soap}. */
export interface SoapOptions extends ScaleBySoapOptions, DecoupledDecayOptions {
  /** Step size (constant or schedule; default 3e-3). */
  learningRate?: Hyper;
  /** Decoupled weight decay, θ ← θ − lr·wd·θ (default 0.01). */
  weightDecay?: Hyper;
}

/** SOAP with decoupled weight decay, for whole networks (vectors get SOAP's Adam). */
export function soap(options: SoapOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "soap",
    options,
    [...DECOUPLED_DECAY_OPTIONS, ...SCALE_BY_SOAP_OPTIONS],
    { learningRate: 3e-3, weightDecay: 0.01 },
    scaleBySoap,
  );
}
