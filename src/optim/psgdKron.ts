/**
 * PSGD Kron: preconditioned SGD whose preconditioner P = QᵀQ is a Kronecker product of one
 * small factor per tensor dimension, fitted online on a Lie group either to whiten the gradient
 * or from Hessian-vector products (Newton).
 *
 * Li, "Preconditioned Stochastic Gradient Descent", IEEE Transactions on Neural Networks and
 * Learning Systems 29(5), 2018; Li, "Stochastic Hessian Fittings with Lie Groups",
 * arXiv:2402.11858, 2024. Official implementation: lixilinx/psgd_torch @ a8616f1, `psgd.py`
 * (`KronWhiten`, `KronNewton`, `init_kron`, the `update_precond_kron_*` functions,
 * `norm_lower_bound_spd/skh`, `procrustes_step2/3`, `balance_kron_precond`).
 *
 * Each tensor (dimensions of size 1 squeezed out, N entries, dimension i of size nᵢ) gets one
 * factor Qᵢ per dimension: dense nᵢ×nᵢ when 1 < nᵢ ≤ maxDenseSize and nᵢ² ≤ maxSkew·N,
 * diagonal otherwise; P = ⊗ᵢ QᵢᵀQᵢ acts on the tensor mode by mode. P is fitted to minimise
 *
 *     whitening:  E[gᵀP·g + vᵀP⁻¹v]    g the gradient, v ~ N(0, I)   ⇒  P = E[g·gᵀ]^(−1/2)
 *     Newton:     E[hᵀP·h + vᵀP⁻¹v]    h = H·v, v ~ N(0, I)          ⇒  P·H²·P = I, P = |H|⁻¹
 *
 * One fit of the factors (μ the preconditioner learning rate, β the Lipschitz decay, ε the
 * dtype's machine epsilon; ×ᵢ applies a matrix along dimension i; Gramᵢ(x) = x₍ᵢ₎x₍ᵢ₎ᵀ of the
 * mode-i unfolding, its diagonal for a diagonal factor):
 *
 *     x  ← x + (damping + ε·|x|)⊙n,  n ~ N(0, I)              x = g (whitening), H·v (Newton)
 *     y  = P·x
 *     for each factor i:
 *       T₁ = Gramᵢ(y);  T₂ = (N/nᵢ)·I (whitening) or Gramᵢ(v) (Newton)
 *       ℓ  = ‖T₁‖ + N/nᵢ (whitening) or ‖T₁ + T₂‖ (Newton)     ‖·‖ a cheap spectral-norm
 *       Lᵢ ← max(β·Lᵢ + (1 − β)·ℓ, ℓ)                          lower bound (max for diagonals)
 *       E  = T₁ − T₂
 *       Qᵢ ← Qᵢ − (μ/Lᵢ)·E·Qᵢ, then one Procrustes rotation Qᵢ ← exp(aR)·Qᵢ, R = Qᵢᵀ − Qᵢ,
 *            that keeps Qᵢ near symmetric                       (dense, dQ = Q^0.5·E·Q^1.5)
 *       Qᵢ ← Qᵢ⊙(1 − (μ/Lᵢ)·E)                                  (diagonal)
 *     with probability 0.01: rescale the factors to equal largest magnitudes
 *
 * The other geometries of the official code (`geometry`): `"QUAD"` (Qᵢ ← sym((I − μE/2L)·Qᵢ·
 * (I − μE/2L)), Qᵢ stays SPD), `"QEQ"` (dQ = Q·E·Q), `"EQ"` (dQ = E·Q with upper triangular
 * Qᵢ, the 2018 paper's form; fitted against Q^−T·v and Q·x, so it needs triangular solves),
 * `"QEP"` (dQ = Q·E·P, factors balanced before every fit), and the two that fit P directly,
 * `"PRO4P"` (dP = P^0.5·E·P with up to ten third-order Procrustes steps) and `"QUAD4P"`.
 *
 * Step (whitening): the preconditioner is fitted with probability `updateProbability`, before
 * (default) or after the direction is computed; with momentum μₘ > 0 the direction
 * preconditions m ← βₜ·m + (1 − βₜ)·g, βₜ = min(t/(t + 1), μₘ) (t counting from 0), and the
 * fit whitens either g (default) or m. The direction d = P·g (or P·m) is clipped per tensor to
 * a root-mean-square amplitude of at most `maxAverageAmplitude` and to ±`maxElementAmplitude`
 * per entry; then θ ← θ − lr·d. Step (Newton): with probability `updateProbability` (always on
 * the first step) draw v per tensor, ask the objective for H·v at θ and fit; d = P·g (or P·m),
 * scaled down to a global norm of at most `maxNorm`; θ ← θ − lr·d.
 *
 * Without `initialScale` the factors start on the first step at s^(1/order)·I with
 * s = (max over tensors of mean(g⁴) + damping⁴)^(−1/8) (whitening) or
 * s = mean(v²)^(1/4)·(max over tensors of mean((H·v)⁴) + damping⁴)^(−1/8) (Newton); s² for the
 * geometries that fit P.
 *
 * Randomness (the update coin, the probes v, the damping noise, the 32 Gaussian vectors of each
 * spectral-norm bound and the balancing coin) comes from `random`, in the official code's call
 * order; by default from Philox (seed, 2·step) for Gaussians and (seed, 2·step + 1) for
 * uniforms, so a resumed run draws what an uninterrupted one would.
 *
 * Defaults are the official code's: preconditioner learning rate 0.1, β = 0.9, damping 1e-9,
 * momentum 0, max dense size ∞, max skew 1, update probability 1, geometry Q0.5EQ1.5, initial
 * scale from the first step; whitening: lr 0.001, clipping (2, 10), preconditioner updated
 * first, gradient whitened; Newton: lr 0.01, no norm clipping. Arithmetic is float64 whatever
 * the parameters' dtype (the reference computes in the parameters' dtype); ε of the damping is
 * the parameters' dtype's. The official Newton class can also approximate H·v by finite
 * differences; here the objective's `hvp` oracle decides how H·v is computed.
 */
import { InvalidArgumentError, MissingOracleError } from "../errors.js";
import {
  addDampingNoise,
  clipAmplitudes,
  copyToFloat64,
  differenceInto,
  lieFactorStep,
  maxAbs,
  maxOfSum,
  meanFourthPower,
  momentumAverage,
  quadraticFactorStep,
  scaleAlongMode,
  scaleFactorStep,
  squareInto,
  squaresAlongMode,
  sumOfSquares,
  writeScaled,
} from "../kernels/psgdKron.js";
import { gram, matmul } from "../linalg/matmul.js";
import { solveTriangular } from "../linalg/triangular.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray, Layout, TensorSpec } from "../params/layout.js";
import { fillNormal, uniform } from "../random/index.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { DECOUPLED_DECAY_OPTIONS, withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { TensorMode } from "./matrices.js";
import { modeGram, modeProduct, tensorModes } from "./matrices.js";
import { perLayout } from "./perLayout.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import {
  checkBoolean,
  checkChoice,
  checkHyper,
  checkKnownOptions,
  checkNumber,
} from "./validate.js";

/** How the preconditioner is fitted: to whiten the gradient, or from Hessian-vector products. */
export type PsgdKronFit = "whitening" | "newton";

/**
 * The local coordinates in which the factors are updated (the official `dQ`); see the file
 * header. `"Q0.5EQ1.5"` is the official default.
 */
export type PsgdKronGeometry = "Q0.5EQ1.5" | "QUAD" | "QEQ" | "EQ" | "QEP" | "PRO4P" | "QUAD4P";

/** The random numbers of one update, consumed in the official code's call order. */
export interface PsgdKronDraws {
  /** One uniform number in [0, 1): the update coin, then each tensor's balancing coin. */
  uniform(): number;
  /**
   * Fills `out` with independent standard normal numbers. `shape` is the shape the reference
   * draws with: a tensor's shape for a probe v, its squeezed shape for damping noise, `[32, n]`
   * for the subspace of a spectral-norm bound.
   */
  normal(out: Float64Array, shape: readonly number[]): void;
}

/** The random numbers of update `step` (0-based count of updates already applied). */
export type PsgdKronRandom = (step: number) => PsgdKronDraws;

/**
 * The default randomness: Gaussians from Philox stream (seed, 2·step) and uniforms from stream
 * (seed, 2·step + 1), each read from index 0 in call order.
 */
export function philoxPsgdKronRandom(seed: number): PsgdKronRandom {
  checkNumber("philoxPsgdKronRandom", "seed", seed, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  return (step) => {
    let normals = 0;
    let uniforms = 0;
    return {
      uniform: () => uniform(seed, 2 * step + 1, uniforms++),
      normal(out) {
        fillNormal(out, seed, 2 * step, normals);
        normals += out.length;
      },
    };
  };
}

/** Options of {@link scaleByPsgdKron}. */
export interface ScaleByPsgdKronOptions {
  /** `"whitening"` (default, the official `KronWhiten`) or `"newton"` (`KronNewton`). */
  fit?: PsgdKronFit;
  /** Update geometry of the factors (default `"Q0.5EQ1.5"`). */
  geometry?: PsgdKronGeometry;
  /** Normalized step μ of the factor updates (constant or schedule; default 0.1). */
  preconditionerLearningRate?: Hyper;
  /** Decay β ∈ [0, 1) of the Lipschitz-constant estimates (default 0.9). */
  lipschitzDecay?: number;
  /** Damping added to the fitting input, bounding P ≤ I/damping (default 1e-9). */
  damping?: number;
  /** Momentum μₘ ∈ [0, 1) of the preconditioned quantity (default 0: the gradient). */
  momentum?: number;
  /** Dimensions larger than this get a diagonal factor (default Infinity). */
  maxDenseSize?: number;
  /** A dimension of size n gets a diagonal factor when n² > maxSkew·(tensor size) (default 1). */
  maxSkew?: number;
  /** Initial factors s^(1/order)·I; left out, s is set from the first step (official default). */
  initialScale?: number;
  /** Probability of fitting the preconditioner at a step (constant or schedule; default 1). */
  updateProbability?: Hyper;
  /** Whitening: fit before (default true) or after computing the direction. */
  updatePreconditionerFirst?: boolean;
  /** Whitening: whiten the `"gradient"` (default) or the `"momentum"` (needs momentum > 0). */
  whiten?: "gradient" | "momentum";
  /** Whitening: largest root-mean-square amplitude of a tensor's direction (default 2). */
  maxAverageAmplitude?: number;
  /** Whitening: largest magnitude of one entry of the direction (default 10). */
  maxElementAmplitude?: number;
  /** Newton: largest global norm of the direction (default Infinity: no clipping). */
  maxNorm?: number;
  /** Seed of the default Philox randomness: an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** Replaces the default randomness (e.g. to replay recorded draws). */
  random?: PsgdKronRandom;
}

/**
 * State of {@link scaleByPsgdKron}. With momentum > 0 it also holds `momentum`, a float64
 * buffer of the layout's size.
 */
export interface PsgdKronState extends State {
  /** Updates applied so far (addresses the default random streams and the schedules). */
  count: number;
  /** 1 once the factors hold a preconditioner (0 until the first step sets the scale). */
  initialized: number;
  /** Momentum updates so far (the official `_counter_m`, drives βₜ). */
  momentumCount: number;
  /**
   * Per tensor name: the factors `q0`, `q1`, … (row-major n×n for dense, n entries for
   * diagonal ones) and `lipschitz`, their Lipschitz-constant estimates.
   */
  factors: State;
}

const WHITENING_ONLY = [
  "updatePreconditionerFirst",
  "whiten",
  "maxAverageAmplitude",
  "maxElementAmplitude",
] as const;
const NEWTON_ONLY = ["maxNorm"] as const;
const SCALE_OPTIONS = [
  "fit",
  "geometry",
  "preconditionerLearningRate",
  "lipschitzDecay",
  "damping",
  "momentum",
  "maxDenseSize",
  "maxSkew",
  "initialScale",
  "updateProbability",
  ...WHITENING_ONLY,
  ...NEWTON_ONLY,
  "seed",
  "random",
];
const GEOMETRIES: readonly PsgdKronGeometry[] = [
  "Q0.5EQ1.5",
  "QUAD",
  "QEQ",
  "EQ",
  "QEP",
  "PRO4P",
  "QUAD4P",
];

/** Gaussian vectors of the subspace iteration in the spectral-norm bounds (official `k`). */
const SUBSPACE_VECTORS = 32;
/** Half the number of subspace iterations (official `half_iters`). */
const HALF_ITERATIONS = 2;
/** Smallest positive normal float64 (torch.finfo(float64).smallest_normal). */
const SMALLEST_NORMAL = 2.2250738585072014e-308;
/** Probability of rebalancing the factors after a fit. */
const BALANCE_PROBABILITY = 0.01;
/** Step limits of the second- and third-order Procrustes rotations. */
const PROCRUSTES2_MAX_STEP = 1 / 8;
const PROCRUSTES3_MAX_STEP = 1 / 3;
/** PRO4P repeats the rotation until max|Qᵀ − Q| < this × max|Q|, at most ten times. */
const SYMMETRY_TOLERANCE = 0.001;
const PROCRUSTES3_ROUNDS = 10;

/** A positive limit where Infinity means "no limit". */
function checkLimit(owner: string, parameter: string, value: unknown, min: number): number {
  if (value === Infinity) return Infinity;
  if (typeof value !== "number" || Number.isNaN(value) || !(value >= min)) {
    throw new InvalidArgumentError(
      owner,
      parameter,
      value,
      `a number >= ${min}, or Infinity for no limit`,
    );
  }
  return value;
}

// ---------------------------------------------------------------------------------------------
// How each tensor is factored

/** One factor: its dimension nᵢ (`size`) among the squeezed dimensions, dense or diagonal. */
interface FactorPlan extends TensorMode {
  readonly dense: boolean;
}

interface TensorPlan {
  readonly spec: TensorSpec;
  /** The shape with dimensions of size 1 removed (`[]` for a scalar). */
  readonly squeezed: readonly number[];
  /** One factor per squeezed dimension; a scalar has one factor of size 1. */
  readonly factors: readonly FactorPlan[];
}

function planTensor(spec: TensorSpec, maxDenseSize: number, maxSkew: number): TensorPlan | null {
  if (spec.size === 0) return null;
  const squeezed = spec.shape.filter((d) => d !== 1);
  const dims = squeezed.length === 0 ? [1] : squeezed;
  const factors = tensorModes(dims).map((mode) => {
    const { size } = mode;
    const diagonal = size <= 1 || size > maxDenseSize || size * size > maxSkew * spec.size;
    return { ...mode, dense: !diagonal };
  });
  return { spec, squeezed, factors };
}

/** The factor state of one tensor. */
interface TensorFactors {
  readonly q: Float64Array[];
  readonly lipschitz: Float64Array;
}

function factorsOf(state: PsgdKronState, plan: TensorPlan): TensorFactors {
  const s = state.factors[plan.spec.name] as State;
  return {
    q: plan.factors.map((_, i) => s[`q${i}`] as Float64Array),
    lipschitz: s.lipschitz as Float64Array,
  };
}

// ---------------------------------------------------------------------------------------------
// Work buffers (rewritten every step, so not state)

interface Workspace {
  readonly plans: readonly (TensorPlan | null)[];
  /** Float64 copy of the gradient, layout-sized. */
  readonly gradient: Float64Array;
  /** The direction before it is written to the update buffer, layout-sized. */
  readonly direction: Float64Array;
  /** Tensor-sized scratch. */
  readonly tensors: Float64Array[];
  /** Matrix scratch, each as large as the largest dense factor squared. */
  readonly matrices: Float64Array[];
  /** Vector scratch, each as long as the largest dimension. */
  readonly vectors: Float64Array[];
  /** The subspaces of the spectral-norm bounds: 32 × largest dense dimension. */
  readonly subspaces: Float64Array[];
  /** Newton: probes and products, float64 and in the layout's dtype. */
  readonly probes: Float64Array;
  readonly products: Float64Array;
  readonly probeBuffer: FloatArray;
  readonly productBuffer: FloatArray;
}

function makeWorkspace(
  layout: Layout,
  maxDenseSize: number,
  maxSkew: number,
  newton: boolean,
): Workspace {
  const plans = layout.tensors.map((t) => planTensor(t, maxDenseSize, maxSkew));
  let largest = 0;
  let largestDense = 0;
  let largestDim = 1;
  for (const plan of plans) {
    if (!plan) continue;
    largest = Math.max(largest, plan.spec.size);
    for (const f of plan.factors) {
      largestDim = Math.max(largestDim, f.size);
      if (f.dense) largestDense = Math.max(largestDense, f.size);
    }
  }
  const many = (count: number, length: number) =>
    Array.from({ length: count }, () => new Float64Array(length));
  return {
    plans,
    gradient: new Float64Array(layout.size),
    direction: new Float64Array(layout.size),
    tensors: many(6, largest),
    matrices: many(largestDense > 0 ? 7 : 0, largestDense * largestDense),
    vectors: many(3, largestDim),
    subspaces: many(largestDense > 0 ? 2 : 0, SUBSPACE_VECTORS * largestDense),
    probes: new Float64Array(newton ? layout.size : 0),
    products: new Float64Array(newton ? layout.size : 0),
    probeBuffer: newton ? layout.zeros() : new Float64Array(0),
    productBuffer: newton ? layout.zeros() : new Float64Array(0),
  };
}

function take(buffer: Float64Array, length: number): Float64Array {
  return buffer.length === length ? buffer : buffer.subarray(0, length);
}

// ---------------------------------------------------------------------------------------------
// Dense linear algebra along one mode of a tensor

/** `out[b, :, a] ← Q⁻ᵀ·x[b, :, a]` for an upper triangular Q. */
function modeSolveTransposed(q: Float64Array, x: Float64Array, f: FactorPlan, out: Float64Array) {
  const { size: n, before, after } = f;
  if (after === 1) {
    // Rows: y = Q⁻ᵀx ⇔ yᵀ·Q = xᵀ.
    solveTriangular(q, n, x, before, out, { side: "right" });
  } else {
    const block = n * after;
    for (let b = 0; b < before; b++) {
      solveTriangular(
        q,
        n,
        x.subarray(b * block, (b + 1) * block),
        after,
        out.subarray(b * block, (b + 1) * block),
        { transpose: true },
      );
    }
  }
}

/** How {@link applyAlongEveryMode} uses each factor. */
type FactorUse = "preconditioner" | "factor" | "inverseTranspose";

/**
 * Applies, mode by mode, QᵢᵀQᵢ (`"preconditioner"`), Qᵢ (`"factor"`) or Qᵢ⁻ᵀ
 * (`"inverseTranspose"`) to `x`, ping-ponging between `bufferA` and `bufferB`; returns the buffer
 * holding the result. `x` is not written.
 */
function applyAlongEveryMode(
  plan: TensorPlan,
  factors: TensorFactors,
  use: FactorUse,
  x: Float64Array,
  bufferA: Float64Array,
  bufferB: Float64Array,
  ws: Workspace,
): Float64Array {
  const n = plan.spec.size;
  const a = take(bufferA, n);
  const b = take(bufferB, n);
  let source = x;
  plan.factors.forEach((f, i) => {
    const target = source === a ? b : a;
    const q = factors.q[i];
    if (f.dense) {
      if (use === "inverseTranspose") modeSolveTransposed(q, source, f, target);
      else if (use === "factor") modeProduct(q, false, source, f, target);
      else {
        const power = take(ws.matrices[0], f.size * f.size);
        gram(q, f.size, f.size, power, "right");
        modeProduct(power, false, source, f, target);
      }
    } else {
      let d = q;
      if (use === "preconditioner") {
        d = take(ws.vectors[0], f.size);
        squareInto(q, f.size, d);
      } else if (use === "inverseTranspose") {
        d = take(ws.vectors[0], f.size);
        for (let j = 0; j < f.size; j++) d[j] = 1 / q[j];
      }
      scaleAlongMode(d, source, f.before, f.size, f.after, target);
    }
    source = target;
  });
  return source;
}

/**
 * A cheap lower bound of the spectral norm of a symmetric positive semidefinite (`skew` false)
 * or skew-symmetric (`skew` true) n×n matrix: two rounds of a 32-vector subspace iteration
 * started from Gaussian vectors rotated toward the largest row (official
 * `norm_lower_bound_spd/skh`, k = 32, half_iters = 2).
 */
function normLowerBound(
  a: Float64Array,
  n: number,
  skew: boolean,
  draws: PsgdKronDraws,
  ws: Workspace,
): number {
  let normalizer = 0;
  if (skew) normalizer = maxAbs(a, n * n);
  else {
    normalizer = -Infinity;
    for (let i = 0; i < n; i++) normalizer = Math.max(normalizer, a[i * n + i]);
  }
  normalizer += SMALLEST_NORMAL;
  const scaled = take(ws.matrices[6], n * n);
  for (let i = 0; i < n * n; i++) scaled[i] = a[i] / normalizer;
  let largestRow = 0;
  let largestNorm = -1;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += scaled[i * n + j] * scaled[i * n + j];
    if (s > largestNorm) {
      largestNorm = s;
      largestRow = i;
    }
  }
  const k = SUBSPACE_VECTORS;
  const v = take(ws.subspaces[0], k * n);
  const w = take(ws.subspaces[1], k * n);
  draws.normal(v, [k, n]);
  const row = largestRow * n;
  for (let r = 0; r < k; r++) {
    let dot = 0;
    for (let j = 0; j < n; j++) dot += scaled[row + j] * v[r * n + j];
    const sign = Math.sign(dot);
    for (let j = 0; j < n; j++) v[r * n + j] = scaled[row + j] + sign * v[r * n + j];
  }
  for (let iteration = 0; iteration < HALF_ITERATIONS; iteration++) {
    matmul(v, scaled, k, n, n, w);
    for (let r = 0; r < k; r++) {
      let s = 0;
      for (let j = 0; j < n; j++) s += w[r * n + j] * w[r * n + j];
      const divisor = Math.sqrt(s) + SMALLEST_NORMAL;
      for (let j = 0; j < n; j++) w[r * n + j] /= divisor;
    }
    matmul(w, scaled, k, n, n, v);
  }
  let best = 0;
  for (let r = 0; r < k; r++) {
    let s = 0;
    for (let j = 0; j < n; j++) s += v[r * n + j] * v[r * n + j];
    best = Math.max(best, Math.sqrt(s));
  }
  return normalizer * best;
}

function trace(m: Float64Array, n: number): number {
  let t = 0;
  for (let i = 0; i < n; i++) t += m[i * n + i];
  return t;
}

/**
 * One online step toward the orthogonal Procrustes solution min_U ‖U·Q − I‖: rotates Q by
 * exp(a·R) with R = Qᵀ − Q normalized, expanded to second (`order` 2) or third order (official
 * `procrustes_step2/3`), so that Q drifts toward symmetric positive definite.
 */
function procrustesStep(
  q: Float64Array,
  n: number,
  order: 2 | 3,
  draws: PsgdKronDraws,
  ws: Workspace,
): void {
  const nn = n * n;
  const r = take(ws.matrices[2], nn);
  const rq = take(ws.matrices[3], nn);
  const rrq = take(ws.matrices[4], nn);
  for (let i = 0; i < n; i++)
    for (let j = 0; j < n; j++) r[i * n + j] = q[j * n + i] - q[i * n + j];
  const norm = normLowerBound(r, n, true, draws, ws) + SMALLEST_NORMAL;
  for (let i = 0; i < nn; i++) r[i] /= norm;
  matmul(r, q, n, n, n, rq);
  matmul(r, rq, n, n, n, rrq);
  const trRQ = trace(rq, n);
  const trRRQ = trace(rrq, n);
  if (order === 2) {
    const a = trRRQ < 0 ? Math.min(-trRQ / trRRQ, PROCRUSTES2_MAX_STEP) : PROCRUSTES2_MAX_STEP;
    for (let i = 0; i < nn; i++) q[i] += a * (rq[i] + 0.5 * a * rrq[i]);
    return;
  }
  const rrrq = take(ws.matrices[5], nn);
  matmul(r, rrq, n, n, n, rrrq);
  const trRRRQ = trace(rrrq, n);
  // Otherwise Q is symmetric to machine precision.
  if (trRQ > 0 && trRRRQ < 0) {
    // The larger root of tr(RQ) + a·tr(RRQ) + (3/8)·a²·tr(RRRQ) = 0.
    let a = (-trRRQ - Math.sqrt(trRRQ * trRRQ - 1.5 * trRQ * trRRRQ)) / (0.75 * trRRRQ);
    a = Math.min(a, PROCRUSTES3_MAX_STEP);
    for (let i = 0; i < nn; i++) q[i] += a * (rq[i] + 0.5 * a * (rrq[i] + 0.25 * a * rrrq[i]));
  }
}

/** Rescales the factors to a common largest magnitude (their geometric mean). */
function balance(factors: TensorFactors): void {
  const order = factors.q.length;
  if (order < 2) return;
  const norms = factors.q.map((q) => maxAbs(q, q.length));
  let product = 1;
  for (const norm of norms) product *= norm;
  const mean = product ** (1 / order);
  factors.q.forEach((q, i) => {
    const factor = mean / norms[i];
    for (let j = 0; j < q.length; j++) q[j] *= factor;
  });
}

// ---------------------------------------------------------------------------------------------
// Fitting

interface FitSettings {
  readonly newton: boolean;
  readonly geometry: PsgdKronGeometry;
  readonly lipschitzDecay: number;
  readonly damping: number;
  /** Machine epsilon of the parameters' dtype: the relative part of the damping. */
  readonly relativeDamping: number;
}

/** Whether the geometry fits P itself (its factors are P's, applied once). */
function fitsP(geometry: PsgdKronGeometry): boolean {
  return geometry === "PRO4P" || geometry === "QUAD4P";
}

/**
 * One fit of a tensor's factors from `input` (the gradient or momentum for whitening, H·v for
 * Newton) and, for Newton, the probe `probe`.
 */
function fitTensor(
  settings: FitSettings,
  plan: TensorPlan,
  factors: TensorFactors,
  input: Float64Array,
  probe: Float64Array | null,
  learningRate: number,
  draws: PsgdKronDraws,
  ws: Workspace,
): void {
  const { geometry, newton } = settings;
  const size = plan.spec.size;
  if (geometry === "QEP") balance(factors);
  const noisy = take(ws.tensors[0], size);
  let v = probe;
  const noise = take(ws.tensors[1], size);
  draws.normal(noise, plan.squeezed);
  // Whitening with dQ = E·Q uses one Gaussian as both the damping noise and the probe.
  if (geometry === "EQ" && !newton) v = noise;
  addDampingNoise(input, noise, settings.damping, settings.relativeDamping, noisy);

  let fitted: Float64Array;
  let inverse: Float64Array | null = null;
  if (geometry === "EQ") {
    fitted = applyAlongEveryMode(plan, factors, "factor", noisy, ws.tensors[2], ws.tensors[3], ws);
    inverse = applyAlongEveryMode(
      plan,
      factors,
      "inverseTranspose",
      v!,
      ws.tensors[4],
      ws.tensors[5],
      ws,
    );
  } else {
    const use = fitsP(geometry) ? "factor" : "preconditioner";
    fitted = applyAlongEveryMode(plan, factors, use, noisy, ws.tensors[2], ws.tensors[3], ws);
  }
  // Whitening outside dQ = E·Q and Q·E·P integrates v out: T₂ = (N/nᵢ)·I.
  const scalarTerm2 = !newton && geometry !== "EQ" && geometry !== "QEP";

  plan.factors.forEach((f, i) => {
    const q = factors.q[i];
    const n = f.size;
    let source = fitted;
    let secondSource: Float64Array | null = geometry === "EQ" ? inverse : newton ? v : null;
    if (geometry === "QEP") {
      source = take(ws.tensors[4], size);
      if (f.dense) modeProduct(q, false, fitted, f, source);
      else scaleAlongMode(q, fitted, f.before, n, f.after, source);
      if (newton) {
        secondSource = take(ws.tensors[5], size);
        if (f.dense) modeProduct(q, false, v!, f, secondSource);
        else scaleAlongMode(q, v!, f.before, n, f.after, secondSource);
      }
    }
    const c = size / n;
    let ell: number;
    let error: Float64Array;
    if (f.dense) {
      const nn = n * n;
      const term1 = take(ws.matrices[0], nn);
      const term2 = take(ws.matrices[1], nn);
      modeGram(source, f, term1);
      error = take(ws.matrices[2], nn);
      if (scalarTerm2) {
        ell = normLowerBound(term1, n, false, draws, ws) + c;
        error.set(term1);
        for (let j = 0; j < n; j++) error[j * n + j] -= c;
      } else {
        if (secondSource) modeGram(secondSource, f, term2);
        else {
          // Whitening with dQ = Q·E·P: T₂ = (N/nᵢ)·Q·Qᵀ.
          gram(q, n, n, term2, "left");
          for (let j = 0; j < nn; j++) term2[j] *= c;
        }
        for (let j = 0; j < nn; j++) error[j] = term1[j] + term2[j];
        ell = normLowerBound(error, n, false, draws, ws);
        for (let j = 0; j < nn; j++) error[j] = term1[j] - term2[j];
      }
    } else {
      const term1 = take(ws.vectors[1], n);
      const term2 = take(ws.vectors[2], n);
      squaresAlongMode(source, f.before, n, f.after, term1);
      error = take(ws.vectors[0], n);
      if (scalarTerm2) {
        ell = maxOfSum(term1, undefined, n) + c;
        differenceInto(term1, undefined, c, n, error);
      } else {
        if (secondSource) squaresAlongMode(secondSource, f.before, n, f.after, term2);
        else for (let j = 0; j < n; j++) term2[j] = c * q[j] * q[j];
        ell = maxOfSum(term1, term2, n);
        differenceInto(term1, term2, 0, n, error);
      }
    }
    const beta = settings.lipschitzDecay;
    const lipschitz = Math.max(beta * factors.lipschitz[i] + (1 - beta) * ell, ell);
    factors.lipschitz[i] = lipschitz;
    const step = learningRate / lipschitz;
    if (f.dense)
      updateDenseFactor(geometry, q, n, error, step, learningRate / 2 / lipschitz, draws, ws);
    else updateDiagonalFactor(geometry, q, error, step, learningRate / 2 / lipschitz);
  });
  if (geometry !== "QEP" && draws.uniform() < BALANCE_PROBABILITY) balance(factors);
}

function updateDiagonalFactor(
  geometry: PsgdKronGeometry,
  q: Float64Array,
  error: Float64Array,
  step: number,
  halfStep: number,
): void {
  switch (geometry) {
    case "EQ":
      lieFactorStep(q, error, step);
      return;
    case "QUAD":
      quadraticFactorStep(q, error, halfStep);
      return;
    case "QUAD4P":
      quadraticFactorStep(q, error, step);
      return;
    default:
      scaleFactorStep(q, error, step);
  }
}

function updateDenseFactor(
  geometry: PsgdKronGeometry,
  q: Float64Array,
  n: number,
  error: Float64Array,
  step: number,
  halfStep: number,
  draws: PsgdKronDraws,
  ws: Workspace,
): void {
  const nn = n * n;
  const product = take(ws.matrices[3], nn);
  switch (geometry) {
    case "QEQ":
      matmul(q, error, n, n, n, product);
      break;
    case "EQ":
      // Keep only the upper triangle of E, so Q stays upper triangular.
      for (let i = 1; i < n; i++) for (let j = 0; j < i; j++) error[i * n + j] = 0;
      matmul(error, q, n, n, n, product);
      break;
    case "QUAD":
    case "QUAD4P": {
      const h = geometry === "QUAD" ? halfStep : step;
      // p = q − h·E·q;  p ← p − h·p·E;  q = (p + pᵀ)/2
      const p = take(ws.matrices[4], nn);
      matmul(error, q, n, n, n, product);
      for (let i = 0; i < nn; i++) p[i] = q[i] - h * product[i];
      matmul(p, error, n, n, n, product);
      for (let i = 0; i < nn; i++) p[i] -= h * product[i];
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) q[i * n + j] = (p[i * n + j] + p[j * n + i]) / 2;
      }
      return;
    }
    default:
      matmul(error, q, n, n, n, product);
  }
  for (let i = 0; i < nn; i++) q[i] -= step * product[i];
  if (geometry === "Q0.5EQ1.5") procrustesStep(q, n, 2, draws, ws);
  else if (geometry === "PRO4P") {
    for (let round = 0; round < PROCRUSTES3_ROUNDS; round++) {
      procrustesStep(q, n, 3, draws, ws);
      let asymmetry = 0;
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          asymmetry = Math.max(asymmetry, Math.abs(q[j * n + i] - q[i * n + j]));
        }
      }
      if (asymmetry < SYMMETRY_TOLERANCE * maxAbs(q, nn)) break;
    }
  }
}

/** Sets every factor to scale^(1/order)·I (scale² for the geometries that fit P). */
function initializeFactors(
  state: PsgdKronState,
  plans: readonly (TensorPlan | null)[],
  scale: number,
  geometry: PsgdKronGeometry,
): void {
  const s = fitsP(geometry) ? scale * scale : scale;
  for (const plan of plans) {
    if (!plan) continue;
    const order = plan.squeezed.length;
    const value = order === 0 ? s : s ** (1 / order);
    const { q, lipschitz } = factorsOf(state, plan);
    plan.factors.forEach((f, i) => {
      if (f.dense) {
        q[i].fill(0);
        for (let j = 0; j < f.size; j++) q[i][j * f.size + j] = value;
      } else q[i].fill(value);
    });
    lipschitz.fill(0);
  }
  state.initialized = 1;
}

// ---------------------------------------------------------------------------------------------
// The transform

/**
 * PSGD Kron's direction (before `−lr`): the gradient (or its momentum) preconditioned by the
 * Kronecker-factored P = QᵀQ, clipped, with the factors fitted from gradient whitening or from
 * Hessian-vector products (`fit: "newton"`, which asks the step's objective for `hvp`).
 */
export function scaleByPsgdKron(
  options: ScaleByPsgdKronOptions = {},
): GradientTransform<PsgdKronState> {
  const owner = "scaleByPsgdKron";
  checkKnownOptions(owner, options, SCALE_OPTIONS);
  const fit = checkChoice(owner, "fit", options.fit ?? "whitening", ["whitening", "newton"]);
  const newton = fit === "newton";
  for (const key of newton ? WHITENING_ONLY : NEWTON_ONLY) {
    if (options[key] !== undefined) {
      throw new InvalidArgumentError(
        owner,
        key,
        options[key],
        `left out: it applies to fit "${newton ? "whitening" : "newton"}" only`,
      );
    }
  }
  const geometry = checkChoice(owner, "geometry", options.geometry ?? "Q0.5EQ1.5", GEOMETRIES);
  const preconditionerLearningRate = checkHyper(
    owner,
    "preconditionerLearningRate",
    options.preconditionerLearningRate ?? 0.1,
    { min: 0 },
  );
  const lipschitzDecay = checkNumber(owner, "lipschitzDecay", options.lipschitzDecay ?? 0.9, {
    min: 0,
    below: 1,
  });
  const damping = checkNumber(owner, "damping", options.damping ?? 1e-9, { min: 0 });
  const momentum = checkNumber(owner, "momentum", options.momentum ?? 0, { min: 0, below: 1 });
  const maxDenseSize = checkLimit(owner, "maxDenseSize", options.maxDenseSize ?? Infinity, 0);
  const maxSkew = checkLimit(owner, "maxSkew", options.maxSkew ?? 1, 0);
  const initialScale =
    options.initialScale === undefined
      ? undefined
      : checkNumber(owner, "initialScale", options.initialScale, { above: 0 });
  const updateProbability = checkHyper(owner, "updateProbability", options.updateProbability ?? 1, {
    min: 0,
    max: 1,
  });
  const updateFirst = checkBoolean(
    owner,
    "updatePreconditionerFirst",
    options.updatePreconditionerFirst ?? true,
  );
  const whiten = checkChoice(owner, "whiten", options.whiten ?? "gradient", [
    "gradient",
    "momentum",
  ]);
  if (whiten === "momentum" && momentum === 0) {
    throw new InvalidArgumentError(
      owner,
      "momentum",
      momentum,
      'in (0, 1) when whiten is "momentum"',
    );
  }
  const maxAverageAmplitude = checkLimit(
    owner,
    "maxAverageAmplitude",
    options.maxAverageAmplitude ?? 2,
    0,
  );
  const maxElementAmplitude = checkLimit(
    owner,
    "maxElementAmplitude",
    options.maxElementAmplitude ?? 10,
    0,
  );
  const maxNorm = checkLimit(owner, "maxNorm", options.maxNorm ?? Infinity, 0);
  const seed = checkNumber(owner, "seed", options.seed ?? 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  if (options.random !== undefined && typeof options.random !== "function") {
    throw new InvalidArgumentError(owner, "random", options.random, "a function of the step");
  }
  const random = options.random ?? philoxPsgdKronRandom(seed);
  const name = newton ? "scaleByPsgdKronNewton" : "scaleByPsgdKronWhitening";
  const requester = `optimizer ${name}`;

  const workspaceFor = perLayout((layout) => makeWorkspace(layout, maxDenseSize, maxSkew, newton));
  const settingsFor = (layout: Layout): FitSettings => ({
    newton,
    geometry,
    lipschitzDecay,
    damping,
    relativeDamping: layout.dtype === "float32" ? 2 ** -23 : 2 ** -52,
  });

  /** Momentum (when on), the preconditioned direction of every tensor, clipping, into `u`. */
  const finish = (u: FloatArray, state: PsgdKronState, ws: Workspace) => {
    const preconditioned = momentum > 0 ? (state.momentum as Float64Array) : ws.gradient;
    const { direction } = ws;
    direction.fill(0);
    for (const plan of ws.plans) {
      if (!plan) continue;
      const { offset, size } = plan.spec;
      const result = applyAlongEveryMode(
        plan,
        factorsOf(state, plan),
        fitsP(geometry) ? "factor" : "preconditioner",
        preconditioned.subarray(offset, offset + size),
        ws.tensors[2],
        ws.tensors[3],
        ws,
      );
      const d = direction.subarray(offset, offset + size);
      d.set(result);
      if (!newton) clipAmplitudes(d, maxAverageAmplitude, maxElementAmplitude);
    }
    let factor = 1;
    if (newton && maxNorm < Infinity) {
      const norm = Math.sqrt(sumOfSquares(direction));
      if (norm > maxNorm) factor = maxNorm / norm;
    }
    writeScaled(direction, factor, u, 0);
  };

  const loadGradient = (u: FloatArray, ws: Workspace) => copyToFloat64(u, 0, ws.gradient);

  const advanceMomentum = (state: PsgdKronState, ws: Workspace) => {
    if (momentum === 0) return;
    const counter = state.momentumCount;
    const beta = Math.min(counter / (1 + counter), momentum);
    state.momentumCount = counter + 1;
    momentumAverage(state.momentum as Float64Array, ws.gradient, beta);
  };

  const fitAll = (
    state: PsgdKronState,
    ws: Workspace,
    settings: FitSettings,
    inputs: Float64Array,
    probes: Float64Array | null,
    draws: PsgdKronDraws,
  ) => {
    const lr = valueAt(preconditionerLearningRate, state.count);
    for (const plan of ws.plans) {
      if (!plan) continue;
      const { offset, size } = plan.spec;
      fitTensor(
        settings,
        plan,
        factorsOf(state, plan),
        inputs.subarray(offset, offset + size),
        probes ? probes.subarray(offset, offset + size) : null,
        lr,
        draws,
        ws,
      );
    }
  };

  const whiteningUpdate = (u: FloatArray, state: PsgdKronState, ctx: StepContext) => {
    const ws = workspaceFor(ctx.layout);
    const settings = settingsFor(ctx.layout);
    const draws = random(state.count);
    loadGradient(u, ws);
    if (!state.initialized) {
      let largest = -Infinity;
      for (const plan of ws.plans) {
        if (!plan) continue;
        const { offset, size } = plan.spec;
        largest = Math.max(largest, meanFourthPower(ws.gradient.subarray(offset, offset + size)));
      }
      initializeFactors(state, ws.plans, (largest + damping ** 4) ** (-1 / 8), geometry);
    }
    advanceMomentum(state, ws);
    const coin = draws.uniform() < valueAt(updateProbability, state.count);
    const whitened = whiten === "momentum" ? (state.momentum as Float64Array) : ws.gradient;
    if (coin && updateFirst) fitAll(state, ws, settings, whitened, null, draws);
    finish(u, state, ws);
    // Fitting last leaves this step's direction to the factors before the fit.
    if (coin && !updateFirst) fitAll(state, ws, settings, whitened, null, draws);
    state.count++;
  };

  const newtonUpdate = (
    u: FloatArray,
    state: PsgdKronState,
    ctx: StepContext,
  ): void | Promise<void> => {
    const ws = workspaceFor(ctx.layout);
    const draws = random(state.count);
    const coin = draws.uniform() < valueAt(updateProbability, state.count) || !state.initialized;
    if (!coin) {
      loadGradient(u, ws);
      advanceMomentum(state, ws);
      finish(u, state, ws);
      state.count++;
      return;
    }
    if (ctx.objective === undefined) {
      throw new MissingOracleError(
        "(none given)",
        "hvp",
        `${requester} (drive it with opt.step(objective) or opt.update(grads, objective))`,
      );
    }
    const hvp = requireOracle(ctx.objective, "hvp", requester);
    const { probes, products, probeBuffer, productBuffer } = ws;
    for (const t of ctx.layout.tensors) {
      if (t.size > 0) draws.normal(probes.subarray(t.offset, t.offset + t.size), t.shape);
    }
    // The product is taken at the probe as stored in the parameters' dtype; fit with that one.
    probeBuffer.set(probes);
    probes.set(probeBuffer);
    return (async () => {
      await hvp(ctx.params, probeBuffer, productBuffer);
      for (let j = 0; j < productBuffer.length; j++) {
        if (!Number.isFinite(productBuffer[j])) {
          const t = ctx.layout.tensors.find((s) => j < s.offset + s.size)!;
          throw new RangeError(
            `${name}: the Hessian-vector product is not finite at update ${state.count + 1}: ` +
              `${t.name}[${j - t.offset}] = ${productBuffer[j]}; no state was changed`,
          );
        }
      }
      products.set(productBuffer);
      if (!state.initialized) {
        let largest = -Infinity;
        for (const plan of ws.plans) {
          if (!plan) continue;
          const { offset, size } = plan.spec;
          largest = Math.max(largest, meanFourthPower(products.subarray(offset, offset + size)));
        }
        const meanSquare = sumOfSquares(probes) / ctx.layout.size;
        const scale = meanSquare ** (1 / 4) * (largest + damping ** 4) ** (-1 / 8);
        initializeFactors(state, ws.plans, scale, geometry);
      }
      fitAll(state, ws, settingsFor(ctx.layout), products, probes, draws);
      loadGradient(u, ws);
      advanceMomentum(state, ws);
      finish(u, state, ws);
      state.count++;
    })();
  };

  return {
    name,
    needs: newton ? ["hvp"] : [],
    init(layout) {
      const ws = workspaceFor(layout);
      const factors: State = {};
      for (const plan of ws.plans) {
        if (!plan) continue;
        const entry: State = { lipschitz: new Float64Array(plan.factors.length) };
        plan.factors.forEach((f, i) => {
          entry[`q${i}`] = new Float64Array(f.dense ? f.size * f.size : f.size);
        });
        factors[plan.spec.name] = entry;
      }
      const state: PsgdKronState = { count: 0, initialized: 0, momentumCount: 0, factors };
      if (momentum > 0) state.momentum = new Float64Array(layout.size);
      if (initialScale !== undefined) {
        initializeFactors(state, ws.plans, initialScale, geometry);
      }
      return state;
    },
    update(u, state, ctx) {
      return newton ? newtonUpdate(u, state, ctx) : whiteningUpdate(u, state, ctx);
    },
  };
}

/** Options of {@link psgdKron}. */
export interface PsgdKronOptions extends ScaleByPsgdKronOptions, DecoupledDecayOptions {
  /** Step size (constant or schedule; default 0.001 for whitening, 0.01 for Newton). */
  learningRate?: Hyper;
  /** Decoupled weight decay `θ ← θ·(1 − lr·wd)` (default 0). */
  weightDecay?: Hyper;
}

/**
 * PSGD Kron as the official `KronWhiten` (`fit: "whitening"`, default) or `KronNewton`
 * (`fit: "newton"`, needs an objective with `hvp`): the Kronecker-preconditioned, clipped
 * direction, optional decoupled weight decay, then `−lr`.
 */
export function psgdKron(options: PsgdKronOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "psgdKron",
    options,
    [...SCALE_OPTIONS, ...DECOUPLED_DECAY_OPTIONS],
    {
      learningRate: options.fit === "newton" ? 0.01 : 0.001,
      weightDecay: 0,
      omitZeroDecay: true,
    },
    scaleByPsgdKron,
  );
}
