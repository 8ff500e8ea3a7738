/**
 * FISMO: momentum orthogonalized in the geometry of a Kronecker-factored Fisher metric, for the
 * weight matrices of a network.
 *
 * Xu, Yan & Zhang, "FISMO: Fisher-Structured Momentum-Orthogonalized Optimizer", ICML 2026
 * (arXiv:2601.21750), Algorithm 1. No code from the authors was found; this follows the paper.
 *
 * Muon's step solves min ⟨G, Δ⟩ subject to ‖Δ‖₂ ≤ η, whose solution −η·Polar(G) has all its
 * singular values equal. FISMO measures the step in a metric F ≈ Q ⊗ P instead,
 * ‖P^(1/2)·Δ·Q^(1/2)‖₂ ≤ η, whose solution −η·P^(−1/2)·Polar(P^(−1/2)·G·Q^(−1/2))·Q^(−1/2) keeps
 * curvature information the isotropic step discards. Update of each matrix W (m × n) at step t,
 * with G its gradient, P₀ = I_m, Q₀ = I_n and M₀ = 0:
 *
 *     L   = (1/n)·G·Q_{t−1}⁻¹·Gᵀ + μ·(tr P_{t−1} / m)·I_m
 *     P_t = sym((m / tr P̃)·P̃),   P̃ = γ·P_{t−1} + (1 − γ)·L        sym(A) = (A + Aᵀ)/2
 *     R   = (1/m)·Gᵀ·P_t⁻¹·G + μ·(tr Q_{t−1} / n)·I_n                (Gauss–Seidel: uses P_t)
 *     Q_t = sym((n / tr Q̃)·Q̃),   Q̃ = γ·Q_{t−1} + (1 − γ)·R
 *     G̃   = P_t^(−1/2)·G·Q_t^(−1/2)                                   (whitened gradient)
 *     M   ← β·M + (1 − β)·G̃                                           (momentum, whitened)
 *     W   ← W − η·P_t^(−1/2)·Polar(M)·Q_t^(−1/2)
 *
 * The damping μ keeps both factors positive definite; the trace normalization removes the scale
 * the Kronecker product leaves free (P ⊗ Q = cP ⊗ Q/c), so after the first step tr P = m,
 * tr Q = n and the damping term is μ·I. Polar is Muon's Newton–Schulz iteration
 * (src/linalg/newtonSchulz.ts).
 *
 * How it is computed: the Gram terms are formed as (1/n)·A·Aᵀ with A = G·Q_{t−1}^(−1/2) and
 * (1/m)·BᵀB with B = P_t^(−1/2)·G, which makes them exactly symmetric and reuses B for
 * G̃ = B·Q_t^(−1/2). Inverse square roots come from eigendecompositions
 * (src/linalg/inverseRoot.ts). Besides P, Q and M the state keeps Q^(−1/2) of the last step, so
 * each step decomposes each factor once. Factor arithmetic is float64; M and the update are in
 * the parameters' precision. A step that cannot be completed (a non-finite factor from an
 * overflowing gradient) throws before any state changes.
 *
 * Special cases. γ = 1 keeps P = Q = I, and FISMO is then Muon with plain momentum and no shape
 * scale, `muon({ nesterov: false, updateScale: "none" })`: the isotropic limit the paper starts
 * from. With β = 0 and an exact polar factor, every step satisfies
 * ‖P_t^(1/2)·ΔW·Q_t^(1/2)‖₂ = η with all singular values equal to η.
 *
 * Tensors with more than two dimensions are viewed as [shape[0], product of the rest], as Muon
 * does. Vectors and scalars are rejected when the state is created, naming the tensor: route
 * them to an element-wise optimizer with `routeMatrices`.
 *
 * Additions, off by default: Muon's Nesterov look-ahead (`nesterov`), Muon's shape scale of the
 * update (`updateScale`), decoupled weight decay.
 *
 * Defaults. The paper's hyperparameter values were not available; these are chosen here:
 * η = 0.02 and β = 0.95 (Muon's, whose steps FISMO's equal at γ = 1), γ = 0.95, μ = 1e-3, and
 * Newton–Schulz as in Muon (5 quintic steps, ε = 1e-7). μ is absolute: it competes with the
 * eigenvalues of (1/n)·G·Q⁻¹·Gᵀ, so for gradients of a very different scale it should be scaled
 * with their square.
 */
import { NonFiniteError } from "../errors.js";
import { firstNonFinite } from "../kernels/apply.js";
import { fisherFactorStep } from "../kernels/fismo.js";
import { muonMomentum, scaleRange } from "../kernels/muon.js";
import { inverseRoot } from "../linalg/inverseRoot.js";
import { gram, matmul } from "../linalg/matmul.js";
import type { FloatArray } from "../params/layout.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { DECOUPLED_DECAY_OPTIONS, withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import { identityMatrix, matrixShape, tensorViews } from "./matrices.js";
import type { MuonUpdateScale, OrthogonalizationOptions } from "./muon.js";
import {
  ORTHOGONALIZATION_OPTIONS,
  checkUpdateScale,
  muonScaleFactor,
  orthogonalizer,
} from "./muon.js";
import { perLayout } from "./perLayout.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkBoolean, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByFismo}. */
export interface ScaleByFismoOptions extends OrthogonalizationOptions {
  /** Momentum β ∈ [0, 1) of the whitened gradient (default 0.95). */
  momentum?: number;
  /**
   * Decay γ ∈ [0, 1] of the moving averages of the Fisher factors P and Q (default 0.95);
   * 1 freezes them at the identity (Muon's isotropic step).
   */
  factorDecay?: number;
  /** Damping μ > 0 added to each factor's curvature estimate, times its mean eigenvalue (default 1e-3). */
  damping?: number;
  /** Orthogonalize Muon's look-ahead (1−β)·G̃ + β·M instead of M (default false, the paper's). */
  nesterov?: boolean;
  /** Muon's shape scale of the update (default `"none"`, the paper's). */
  updateScale?: MuonUpdateScale;
}

/** State of {@link scaleByFismo}. */
export interface FismoState extends State {
  /** Updates applied so far. */
  count: number;
  /** Momentum M of the whitened gradient, per parameter. */
  mu: FloatArray;
  /**
   * Per tensor name (tensors with entries only): `p` (m×m) and `q` (n×n), the Fisher factors,
   * and `qInverseRoot`, Q^(−1/2) of the last step; row-major float64.
   */
  factors: State;
}

/** One matrix of the layout and the scratch its step uses, made once per layout. */
interface MatrixPlan {
  readonly name: string;
  /** Position of the tensor in the layout. */
  readonly index: number;
  readonly offset: number;
  readonly rows: number;
  readonly cols: number;
  /** The gradient in float64. */
  readonly gradient: Float64Array;
  /** G·Q_{t−1}^(−1/2), later P_t^(−1/2)·Polar(M). */
  readonly product: Float64Array;
  /** B = P_t^(−1/2)·G. */
  readonly whitenedLeft: Float64Array;
  /** The next P and Q, written to the state only once every matrix of the step succeeded. */
  readonly nextP: Float64Array;
  readonly nextQ: Float64Array;
  /** P_t^(−1/2) and Q_t^(−1/2). */
  readonly pInverseRoot: Float64Array;
  readonly qInverseRoot: Float64Array;
  /** The curvature estimates (1/n)·A·Aᵀ and (1/m)·BᵀB. */
  readonly leftCurvature: Float64Array;
  readonly rightCurvature: Float64Array;
}

const SCALE_OPTIONS = [
  "momentum",
  "factorDecay",
  "damping",
  "nesterov",
  "updateScale",
  ...ORTHOGONALIZATION_OPTIONS,
];

/** Throws a {@link NonFiniteError} naming the tensor when a new factor is not finite. */
function checkFactor(factor: Float64Array, tensor: string, which: "P" | "Q"): void {
  const index = firstNonFinite(factor);
  if (index >= 0) {
    throw new NonFiniteError(
      `scaleByFismo: the Fisher factor ${which} of ${tensor} (its gradient's products overflowed)`,
      `${which}(${tensor})`,
      index,
      factor[index],
    );
  }
}

/**
 * Replaces each matrix's gradient by FISMO's direction P^(−1/2)·Polar(M)·Q^(−1/2) (before
 * `−lr`). Every tensor must have two or more dimensions.
 */
export function scaleByFismo(options: ScaleByFismoOptions = {}): GradientTransform<FismoState> {
  const owner = "scaleByFismo";
  checkKnownOptions(owner, options, SCALE_OPTIONS);
  const beta = checkBeta(owner, "momentum", options.momentum ?? 0.95);
  const decay = checkNumber(owner, "factorDecay", options.factorDecay ?? 0.95, { min: 0, max: 1 });
  const damping = checkNumber(owner, "damping", options.damping ?? 1e-3, { above: 0 });
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? false);
  const updateScale = checkUpdateScale(owner, options.updateScale ?? "none");
  const orthogonalize = orthogonalizer(owner, options);

  const planFor = perLayout((layout): MatrixPlan[] => {
    const shapes = layout.tensors.map((t) => matrixShape(owner, t));
    const gradient = new Float64Array(layout.size);
    const product = new Float64Array(layout.size);
    const whitenedLeft = new Float64Array(layout.size);
    let largestSide = 0;
    for (const { rows, cols } of shapes) largestSide = Math.max(largestSide, rows, cols);
    // Curvature estimates are consumed before the next matrix needs them, so one buffer serves all.
    const curvature = new Float64Array(largestSide * largestSide);
    const plan: MatrixPlan[] = [];
    layout.tensors.forEach((t, k) => {
      if (t.size === 0) return;
      const { rows, cols } = shapes[k];
      const range = (buffer: Float64Array) => buffer.subarray(t.offset, t.offset + t.size);
      plan.push({
        name: t.name,
        index: k,
        offset: t.offset,
        rows,
        cols,
        gradient: range(gradient),
        product: range(product),
        whitenedLeft: range(whitenedLeft),
        nextP: new Float64Array(rows * rows),
        nextQ: new Float64Array(cols * cols),
        pInverseRoot: new Float64Array(rows * rows),
        qInverseRoot: new Float64Array(cols * cols),
        leftCurvature: curvature.subarray(0, rows * rows),
        rightCurvature: curvature.subarray(0, cols * cols),
      });
    });
    return plan;
  });

  return {
    name: "scaleByFismo",
    init(layout) {
      const factors: State = {};
      for (const m of planFor(layout)) {
        factors[m.name] = {
          p: identityMatrix(m.rows),
          q: identityMatrix(m.cols),
          qInverseRoot: identityMatrix(m.cols),
        };
      }
      return { count: 0, mu: layout.zeros(), factors };
    },
    update(u, state, ctx) {
      const { layout } = ctx;
      const plan = planFor(layout);
      const views = tensorViews(u, layout);
      // Everything that can fail (the eigendecompositions) runs before the state is touched.
      for (const m of plan) {
        const { rows, cols } = m;
        const factors = state.factors[m.name] as State;
        m.gradient.set(views[m.index]);
        matmul(m.gradient, factors.qInverseRoot as Float64Array, rows, cols, cols, m.product);
        gram(m.product, rows, cols, m.leftCurvature, "left", { alpha: 1 / cols });
        fisherFactorStep(factors.p as Float64Array, m.leftCurvature, rows, decay, damping, m.nextP);
        checkFactor(m.nextP, m.name, "P");
        inverseRoot(m.nextP, rows, 2, m.pInverseRoot);
        matmul(m.pInverseRoot, m.gradient, rows, rows, cols, m.whitenedLeft);
        gram(m.whitenedLeft, rows, cols, m.rightCurvature, "right", { alpha: 1 / rows });
        fisherFactorStep(
          factors.q as Float64Array,
          m.rightCurvature,
          cols,
          decay,
          damping,
          m.nextQ,
        );
        checkFactor(m.nextQ, m.name, "Q");
        inverseRoot(m.nextQ, cols, 2, m.qInverseRoot);
      }
      for (const m of plan) {
        const { rows, cols } = m;
        const factors = state.factors[m.name] as State;
        (factors.p as Float64Array).set(m.nextP);
        (factors.q as Float64Array).set(m.nextQ);
        (factors.qInverseRoot as Float64Array).set(m.qInverseRoot);
        const direction = views[m.index];
        matmul(m.whitenedLeft, m.qInverseRoot, rows, cols, cols, direction);
        muonMomentum(u, state.mu, beta, nesterov, m.offset, m.offset + rows * cols);
        orthogonalize(direction, rows, cols, direction);
        matmul(m.pInverseRoot, direction, rows, rows, cols, m.product);
        matmul(m.product, m.qInverseRoot, rows, cols, cols, direction);
        scaleRange(
          u,
          muonScaleFactor(updateScale, { rows, cols }),
          m.offset,
          m.offset + rows * cols,
        );
      }
      state.count++;
    },
  };
}

/** Options of {@link fismo}. */
export interface FismoOptions extends ScaleByFismoOptions, DecoupledDecayOptions {
  /** Step size η (constant or schedule; default 0.02). */
  learningRate?: Hyper;
  /** Decoupled weight decay, W ← W − η·wd·W (default 0; not in the paper). */
  weightDecay?: Hyper;
}

/**
 * FISMO for layouts made only of matrices; pair it with an element-wise optimizer for the other
 * tensors with `routeMatrices`.
 */
export function fismo(options: FismoOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "fismo",
    options,
    [...DECOUPLED_DECAY_OPTIONS, ...SCALE_OPTIONS],
    { learningRate: 0.02, weightDecay: 0 },
    scaleByFismo,
  );
}
