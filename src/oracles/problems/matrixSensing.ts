/**
 * Over-parameterized low-rank matrix sensing: recover a rank-r positive semidefinite matrix
 * X* = U* U*ᵀ (n × n) from m linear measurements y_i = ⟨A_i, X*⟩ by fitting a factor U of shape
 * [n, k] with k ≥ r (k = n by default, the fully over-parameterized case):
 *
 *     f(U) = (1 / 4m) Σ_i (⟨A_i, U Uᵀ⟩ − y_i)²,
 *     ∇f(U) = (1/m) Σ_i r_i A_i U,   r_i = ⟨A_i, U Uᵀ⟩ − y_i,
 *     ∇²f(U)[V] = (1/m) Σ_i (r_i A_i V + 2⟨A_i, U Vᵀ⟩ A_i U).
 *
 * The setting of Li, Ma & Zhang, "Algorithmic Regularization in Over-parameterized Matrix Sensing
 * and Neural Networks with Quadratic Activations" (COLT 2018), where gradient descent from a small
 * random initialization finds X* although many other zero-loss solutions exist, and of Xu, Shen,
 * Chi & Ma, "The Power of Preconditioning in Overparameterized Low-Rank Matrix Sensing" (ICML
 * 2023, ScaledGD(λ)), where an ill-conditioned X* slows plain gradient descent down.
 *
 * Normalization: the sensing matrices are A_i = (G_i + G_iᵀ)/2 with G_i of independent standard
 * normal entries, so ⟨A_i, S⟩ ~ N(0, ‖S‖_F²) for every symmetric S and, in expectation over the
 * A_i, f(U) = ¼‖U Uᵀ − X*‖_F² (the 1/4 of both papers' losses, with the 1/m that makes the
 * sensing operator an isometry on average).
 *
 * Ground truth: X* has eigenvalues σ_j = κ^(−j/(r−1)), j = 0 … r − 1 (from 1 down to 1/κ), on
 * orthonormal eigenvectors (Gram–Schmidt of a Gaussian n × r matrix); U* = Q diag(√σ).
 * Every random quantity is drawn from its own Philox stream of `seed`: the eigenvectors from
 * stream 0, the sensing matrices from stream 1, the initial factor from stream 2.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { DType, FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import { fillNormal } from "../../random/distributions.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";
import type { Objective } from "../objective.js";

/** Options of {@link matrixSensing}. */
export interface MatrixSensingOptions {
  /** Size n of the n × n matrix (default 20). */
  n?: number;
  /** Rank r of the ground truth (default 2). */
  rank?: number;
  /** Number of columns k ≥ r of the factor U (default n: fully over-parameterized). */
  k?: number;
  /**
   * Number of measurements m (default 5·n·r = 200 for the defaults: about five times the
   * n·r − r(r−1)/2 degrees of freedom of X*, yet fewer than the n(n+1)/2 entries of a symmetric
   * matrix, so that zero-loss solutions other than X* exist and the initialization decides).
   */
  measurements?: number;
  /** Seed of the ground truth, the sensing matrices and the initial factor (default 0). */
  seed?: number;
  /** Scale α of the initial factor U₀ = α·N(0, 1) (default 1e-3: the small initialization). */
  initScale?: number;
  /** Condition number κ = σ_max / σ_min of X* (default 10; 1 gives equal eigenvalues). */
  conditionNumber?: number;
  /** Element type of the parameters (default float64; the problem data stays float64). */
  dtype?: DType;
}

/** A matrix-sensing objective, with its ground truth for measuring recovery. */
export interface MatrixSensingObjective extends Objective {
  /** f(U) (synchronous: the problem is closed-form). */
  value(params: FloatArray): number;
  /** f(U), writing ∇f(U) into `gradOut`. */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): number;
  /** ∇²f(U)·V into `out`. */
  hvp(params: FloatArray, vector: FloatArray, out: FloatArray): void;
  /** The small random start α·N(0, 1), shape [n, k] (a fresh buffer each call). */
  initialParams(): FloatArray;
  /** The optimal value 0 (the measurements are noiseless). */
  readonly optimalValue: number;
  /** Matrix size n. */
  readonly n: number;
  /** Rank r of the ground truth. */
  readonly rank: number;
  /** Columns k of the factor. */
  readonly k: number;
  /** Number of measurements m. */
  readonly measurements: number;
  /** The ground-truth factor U*, row-major [n, rank] (a copy). */
  groundTruthFactor(): Float64Array;
  /**
   * U* padded with zero columns to the factor's shape [n, k], in the layout's dtype: a global
   * minimizer (f = 0).
   */
  groundTruthParams(): FloatArray;
  /** Relative recovery error ‖U Uᵀ − X*‖_F / ‖X*‖_F, the measure both papers plot. */
  recoveryError(params: FloatArray): number;
}

/** Eigenvectors of X* from stream 0, sensing matrices from stream 1, the start from stream 2. */
const TRUTH_STREAM = 0;
const SENSING_STREAM = 1;
const INIT_STREAM = 2;

/** Orthonormalizes the columns of the row-major n × r matrix `q` in place (modified Gram–Schmidt). */
function orthonormalizeColumns(q: Float64Array, n: number, r: number): void {
  for (let j = 0; j < r; j++) {
    for (let p = 0; p < j; p++) {
      let dot = 0;
      for (let i = 0; i < n; i++) dot += q[i * r + j] * q[i * r + p];
      for (let i = 0; i < n; i++) q[i * r + j] -= dot * q[i * r + p];
    }
    let norm = 0;
    for (let i = 0; i < n; i++) norm += q[i * r + j] * q[i * r + j];
    norm = Math.sqrt(norm);
    for (let i = 0; i < n; i++) q[i * r + j] /= norm;
  }
}

/** The n × n matrix F Fᵀ of a row-major n × c factor F, into `out`. */
function gram(f: ArrayLike<number>, n: number, c: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let s = 0;
      for (let l = 0; l < c; l++) s += f[i * c + l] * f[j * c + l];
      out[i * n + j] = s;
      out[j * n + i] = s;
    }
  }
}

/**
 * A seeded over-parameterized matrix-sensing problem with closed-form value, gradient and
 * Hessian-vector product over the factor `U` of shape [n, k].
 */
export function matrixSensing(options: MatrixSensingOptions = {}): MatrixSensingObjective {
  const owner = "matrixSensing";
  checkKnownOptions(owner, options, [
    "n",
    "rank",
    "k",
    "measurements",
    "seed",
    "initScale",
    "conditionNumber",
    "dtype",
  ]);
  const n = checkNumber(owner, "n", options.n ?? 20, { integer: true, min: 1 });
  const r = checkNumber(owner, "rank", options.rank ?? 2, { integer: true, min: 1, max: n });
  const k = checkNumber(owner, "k", options.k ?? n, { integer: true, min: 1 });
  if (k < r) throw new InvalidArgumentError(owner, "k", k, `at least the rank ${r}`);
  const m = checkNumber(owner, "measurements", options.measurements ?? 5 * n * r, {
    integer: true,
    min: 1,
  });
  const seed = checkNumber(owner, "seed", options.seed ?? 0, { integer: true, min: 0 });
  const initScale = checkNumber(owner, "initScale", options.initScale ?? 1e-3, { min: 0 });
  const kappa = checkNumber(owner, "conditionNumber", options.conditionNumber ?? 10, { min: 1 });
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float64", ["float32", "float64"]);
  const nn = n * n;

  const truth = fillNormal(new Float64Array(n * r), seed, TRUTH_STREAM);
  orthonormalizeColumns(truth, n, r);
  for (let j = 0; j < r; j++) {
    const sigma = r === 1 ? 1 : Math.pow(kappa, -j / (r - 1));
    const root = Math.sqrt(sigma);
    for (let i = 0; i < n; i++) truth[i * r + j] *= root;
  }
  const target = new Float64Array(nn);
  gram(truth, n, r, target);
  let targetNorm = 0;
  for (let i = 0; i < nn; i++) targetNorm += target[i] * target[i];
  targetNorm = Math.sqrt(targetNorm);

  // A_i = (G_i + G_iᵀ)/2 from n² consecutive normals per measurement, stored densely.
  const sensing = fillNormal(new Float64Array(m * nn), seed, SENSING_STREAM);
  for (let s = 0; s < m; s++) {
    const a = sensing.subarray(s * nn, (s + 1) * nn);
    for (let i = 0; i < n; i++) {
      for (let j = i + 1; j < n; j++) {
        const mean = 0.5 * (a[i * n + j] + a[j * n + i]);
        a[i * n + j] = mean;
        a[j * n + i] = mean;
      }
    }
  }
  const inner = (s: number, x: Float64Array): number => {
    let sum = 0;
    const offset = s * nn;
    for (let i = 0; i < nn; i++) sum += sensing[offset + i] * x[i];
    return sum;
  };
  const observed = new Float64Array(m);
  for (let s = 0; s < m; s++) observed[s] = inner(s, target);

  // Scratch, reused by every call: the problem's cost is dominated by the m·n² inner products.
  const product = new Float64Array(nn);
  const residual = new Float64Array(m);
  const weighted = new Float64Array(nn);
  const secondWeighted = new Float64Array(nn);

  /** Residuals r_i = ⟨A_i, U Uᵀ⟩ − y_i into `residual`; returns f. */
  const residuals = (u: FloatArray): number => {
    gram(u, n, k, product);
    let f = 0;
    for (let s = 0; s < m; s++) {
      const rs = inner(s, product) - observed[s];
      residual[s] = rs;
      f += rs * rs;
    }
    return f / (4 * m);
  };
  /** Σ_i c_i A_i into `out`. */
  const combine = (coefficients: Float64Array, out: Float64Array): void => {
    out.fill(0);
    for (let s = 0; s < m; s++) {
      const c = coefficients[s];
      const offset = s * nn;
      for (let i = 0; i < nn; i++) out[i] += c * sensing[offset + i];
    }
  };
  /** out = scale · S F for a symmetric n × n S and an n × k factor F (overwrites out). */
  const multiply = (s: Float64Array, f: FloatArray, scale: number, out: FloatArray): void => {
    for (let i = 0; i < n; i++) {
      for (let l = 0; l < k; l++) {
        let sum = 0;
        for (let j = 0; j < n; j++) sum += s[i * n + j] * f[j * k + l];
        out[i * k + l] = scale * sum;
      }
    }
  };

  const layout = new Layout([{ name: "U", shape: [n, k] }], dtype);
  const what = `matrix-sensing-n${n}-r${r}-k${k}`;
  const directional = new Float64Array(m);
  return {
    name: what,
    layout,
    optimalValue: 0,
    n,
    rank: r,
    k,
    measurements: m,
    value(u) {
      layout.assertBuffer(u, `${what}.value`);
      return residuals(u);
    },
    valueAndGrad(u, g) {
      layout.assertBuffer(u, `${what}.valueAndGrad`);
      layout.assertBuffer(g, `${what}.valueAndGrad gradOut`);
      const f = residuals(u);
      combine(residual, weighted);
      multiply(weighted, u, 1 / m, g);
      return f;
    },
    hvp(u, v, out) {
      layout.assertBuffer(u, `${what}.hvp`);
      layout.assertBuffer(v, `${what}.hvp vector`);
      layout.assertBuffer(out, `${what}.hvp out`);
      residuals(u);
      // ⟨A_i, U Vᵀ + V Uᵀ⟩ = 2⟨A_i, U Vᵀ⟩ for symmetric A_i; U Vᵀ is formed in full (not symmetric).
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < n; j++) {
          let sum = 0;
          for (let l = 0; l < k; l++) sum += u[i * k + l] * v[j * k + l];
          product[i * n + j] = sum;
        }
      }
      for (let s = 0; s < m; s++) directional[s] = 2 * inner(s, product);
      combine(residual, weighted);
      combine(directional, secondWeighted);
      multiply(weighted, v, 1 / m, out);
      for (let i = 0; i < n; i++) {
        for (let l = 0; l < k; l++) {
          let sum = 0;
          for (let j = 0; j < n; j++) sum += secondWeighted[i * n + j] * u[j * k + l];
          out[i * k + l] += sum / m;
        }
      }
    },
    initialParams() {
      const u = fillNormal(layout.zeros(), seed, INIT_STREAM);
      for (let i = 0; i < u.length; i++) u[i] *= initScale;
      return u;
    },
    groundTruthFactor() {
      return truth.slice();
    },
    groundTruthParams() {
      const u = layout.zeros();
      for (let i = 0; i < n; i++) {
        for (let j = 0; j < r; j++) u[i * k + j] = truth[i * r + j];
      }
      return u;
    },
    recoveryError(u) {
      layout.assertBuffer(u, `${what}.recoveryError`);
      gram(u, n, k, product);
      let error = 0;
      for (let i = 0; i < nn; i++) {
        const d = product[i] - target[i];
        error += d * d;
      }
      return Math.sqrt(error) / targetNorm;
    },
  };
}
