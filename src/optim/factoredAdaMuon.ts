/**
 * AdaMuon with a factored (low-rank) second moment: Muon's orthogonalized momentum divided by
 * the root of an Adafactor-style rank-one estimate of its running second moment, which keeps
 * rows + cols numbers per matrix instead of rows·cols.
 *
 * - Frans, Abbeel & Levine, "What Really Matters in Matrix-Whitening Optimizers?",
 *   arXiv:2510.25000, 2025: variance adaptation is what makes matrix whitening beat sign
 *   descent, and a low-rank variance estimate keeps the gain at a fraction of the memory. Code:
 *   kvfrans/matrix-whitening @ 71a03e9, `optimizers/adamuon.py` (`make_adamuon` with
 *   `v_adafactor=True`; the same estimator is in `optimizers/adam.py`, and the repository does
 *   not wire it into SOAP or SPlus).
 * - Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML
 *   2018, the factorization: with R and C the row and column sums of the second moment V,
 *   V ≈ R·Cᵀ / (1ᵀ·R), the rank-one matrix with V's row and column sums.
 *
 * Per matrix G (r × c) at step t:
 *
 *     M ← β₁·M + (1 − β₁)·G
 *     O = NS₅(M)                               (the Newton–Schulz polar factor, as in AdaMuon)
 *     ρ ← β₂·ρ + (1 − β₂)·mean over columns of O²     (r numbers, one per row)
 *     γ ← β₂·γ + (1 − β₂)·mean over rows of O²        (c numbers, one per column)
 *     V̂ = ρ·γᵀ / mean(ρ)                        (= R·Cᵀ/(1ᵀR) with R = c·ρ, C = r·γ)
 *     D = O / (√(V̂/(1 − β₂ᵗ)) + ε)
 *     θ ← θ − lr·(D + wd·θ)
 *
 * V̂ is exact (equal to the full running second moment) whenever that moment has rank one, and
 * always has the same row and column sums. The reference code writes V̂ = c·ρ·γᵀ/Σρ, which is
 * (c/r)·V̂: for a non-square matrix its estimate is off by the aspect ratio, so its steps are
 * √(r/c) times these (wide matrices step less, tall ones more; ε aside). `compatibility:
 * "matrix-whitening"` reproduces that form. V̂ is 0 where mean(ρ) is 0 (then O is 0 too).
 * Adafactor adds 10⁻³⁰ to the squares before averaging; the reference code does not, nor does
 * this file.
 *
 * As a chain: {@link scaleByMuon} without Nesterov and without shape scaling, then
 * {@link scaleByFactoredVariance}. As in {@link adaMuon}, the reference code's bias correction
 * of M and its √max(1, cols/rows) scale of O are constant factors that the division removes.
 * Tensors with more than two dimensions are seen as [shape[0], product of the rest] by both
 * parts; {@link scaleByFactoredVariance} keeps a full second moment for vectors and scalars, as
 * the reference code does for tensors that are not matrices.
 *
 * Defaults are `make_adamuon`'s: β₁ = 0.9, β₂ = 0.95, ε = 1e-8, 5 Newton–Schulz steps; the
 * learning rate 1e-3 and weight decay 0 are chosen here, as for {@link adaMuon}. Matrices only:
 * route vectors to an element-wise optimizer with `routeMatrices`.
 */
import type { FloatArray, Layout, TensorSpec } from "../params/layout.js";
import type { AdaMuonOptions } from "./adaMuon.js";
import { withDecoupledDecay } from "./decoupledDecay.js";
import { requireFinite } from "./matrices.js";
import { ORTHOGONALIZATION_OPTIONS, scaleByMuon } from "./muon.js";
import { perLayout } from "./perLayout.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

/**
 * The form of the factored estimate: `"adafactor"` V̂ = ρ·γᵀ/mean(ρ) (Shazeer & Stern's), or
 * `"matrix-whitening"` V̂ = c·ρ·γᵀ/Σρ (kvfrans/matrix-whitening's code, (c/r) times the former).
 */
export type FactoredVarianceCompatibility = "adafactor" | "matrix-whitening";

/** Options of {@link scaleByFactoredVariance}. */
export interface ScaleByFactoredVarianceOptions {
  /** Decay β₂ ∈ [0, 1) of the second moment (default 0.95, `make_adamuon`'s). */
  beta2?: number;
  /** Added to the root of the bias-corrected estimate (default 1e-8). */
  eps?: number;
  /** Form of the estimate (default `"adafactor"`). */
  compatibility?: FactoredVarianceCompatibility;
}

/** State of {@link scaleByFactoredVariance}. */
export interface FactoredVarianceState extends State {
  /** Updates applied so far (drives bias correction). */
  count: number;
  /**
   * Per tensor name: `rowMeans` (ρ, one per row) and `columnMeans` (γ, one per column) of the
   * running second moment for tensors with two or more dimensions, or `full` (the running
   * second moment itself) for the others; float64.
   */
  factors: State;
}

const SCALE_BY_FACTORED_VARIANCE_OPTIONS = ["beta2", "eps", "compatibility"] as const;

/** A tensor as the factored estimate sees it. */
interface FactoredPlan {
  readonly spec: TensorSpec;
  /** Whether the second moment is factored (two or more dimensions, not empty). */
  readonly factored: boolean;
  readonly rows: number;
  readonly cols: number;
  /** The next running moments, written before any state changes. */
  readonly nextRows: Float64Array;
  readonly nextColumns: Float64Array;
  readonly nextFull: Float64Array;
  /** Per-row factor of the root of the estimate, scratch. */
  readonly rowRoots: Float64Array;
}

function planTensor(spec: TensorSpec): FactoredPlan {
  const factored = spec.shape.length >= 2 && spec.size > 0;
  const rows = factored ? spec.shape[0] : 0;
  const cols = factored ? spec.size / rows : 0;
  return {
    spec,
    factored,
    rows,
    cols,
    nextRows: new Float64Array(rows),
    nextColumns: new Float64Array(cols),
    nextFull: new Float64Array(factored ? 0 : spec.size),
    rowRoots: new Float64Array(rows),
  };
}

/**
 * Divides the update by the root of an Adafactor-style factored estimate of its running second
 * moment (bias-corrected), per tensor: the variance adaptation of {@link factoredAdaMuon}.
 * Tensors with two or more dimensions (seen as [shape[0], rest]) keep one number per row and
 * one per column; the others keep a full second moment (Adam with β₁ = 0).
 */
export function scaleByFactoredVariance(
  options: ScaleByFactoredVarianceOptions = {},
): GradientTransform<FactoredVarianceState> {
  const owner = "scaleByFactoredVariance";
  checkKnownOptions(owner, options, SCALE_BY_FACTORED_VARIANCE_OPTIONS);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.95);
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-8, { min: 0 });
  const compatibility = checkChoice(owner, "compatibility", options.compatibility ?? "adafactor", [
    "adafactor",
    "matrix-whitening",
  ] as const);
  const plansOf = perLayout((layout: Layout) => layout.tensors.map(planTensor));
  const fresh = 1 - beta2;

  return {
    name: "scaleByFactoredVariance",
    init(layout) {
      const factors: State = {};
      for (const plan of plansOf(layout)) {
        factors[plan.spec.name] = plan.factored
          ? { rowMeans: new Float64Array(plan.rows), columnMeans: new Float64Array(plan.cols) }
          : { full: new Float64Array(plan.spec.size) };
      }
      return { count: 0, factors };
    },
    update(u, state, ctx) {
      const plans = plansOf(ctx.layout);
      // The next moments go to the plans' buffers first, so a failure (overflowing squares)
      // leaves the state as it was.
      for (const plan of plans) {
        const f = state.factors[plan.spec.name] as State;
        if (plan.factored) {
          nextFactoredMoments(u, plan, f.rowMeans as Float64Array, f.columnMeans as Float64Array);
          requireFinite(owner, "row means of the second moment", plan.spec.name, plan.nextRows);
          requireFinite(
            owner,
            "column means of the second moment",
            plan.spec.name,
            plan.nextColumns,
          );
        } else {
          const { offset } = plan.spec;
          const full = f.full as Float64Array;
          for (let i = 0; i < full.length; i++) {
            const g = u[offset + i];
            plan.nextFull[i] = beta2 * full[i] + fresh * g * g;
          }
          requireFinite(owner, "second moment", plan.spec.name, plan.nextFull);
        }
      }
      const t = state.count + 1;
      const correction = 1 - beta2 ** t;
      for (const plan of plans) {
        const f = state.factors[plan.spec.name] as State;
        if (plan.factored) {
          (f.rowMeans as Float64Array).set(plan.nextRows);
          (f.columnMeans as Float64Array).set(plan.nextColumns);
          divideByFactoredRoot(u, plan, correction, eps, compatibility);
        } else {
          (f.full as Float64Array).set(plan.nextFull);
          const { offset } = plan.spec;
          for (let i = 0; i < plan.nextFull.length; i++) {
            u[offset + i] /= Math.sqrt(plan.nextFull[i] / correction) + eps;
          }
        }
      }
      state.count = t;
    },
  };

  /** ρ and γ of the next step into `plan.nextRows` and `plan.nextColumns`. */
  function nextFactoredMoments(
    u: FloatArray,
    plan: FactoredPlan,
    rowMeans: Float64Array,
    columnMeans: Float64Array,
  ): void {
    const { rows, cols, nextRows, nextColumns } = plan;
    const { offset } = plan.spec;
    nextColumns.fill(0);
    for (let i = 0; i < rows; i++) {
      let rowSum = 0;
      const base = offset + i * cols;
      for (let j = 0; j < cols; j++) {
        const square = u[base + j] * u[base + j];
        rowSum += square;
        nextColumns[j] += square;
      }
      nextRows[i] = beta2 * rowMeans[i] + fresh * (rowSum / cols);
    }
    for (let j = 0; j < cols; j++) {
      nextColumns[j] = beta2 * columnMeans[j] + fresh * (nextColumns[j] / rows);
    }
  }
}

/**
 * `u ← u / (√(V̂/correction) + eps)` over one factored tensor, with V̂ = κ·ρ·γᵀ/mean(ρ) taken
 * from `plan.nextRows` (ρ) and `plan.nextColumns` (γ); κ is 1, or cols/rows in the reference
 * code's form. √V̂ is split into a per-row and a per-column root so the loop takes one product.
 */
function divideByFactoredRoot(
  u: FloatArray,
  plan: FactoredPlan,
  correction: number,
  eps: number,
  compatibility: FactoredVarianceCompatibility,
): void {
  const { rows, cols, nextRows, nextColumns, rowRoots } = plan;
  const { offset } = plan.spec;
  let total = 0;
  for (let i = 0; i < rows; i++) total += nextRows[i];
  const meanOfRows = total / rows;
  const aspect = compatibility === "matrix-whitening" ? cols / rows : 1;
  // mean(ρ) = 0 means ρ = 0 (a sum of squares), and then V̂ = 0.
  const rowFactor = meanOfRows > 0 ? aspect / (meanOfRows * correction) : 0;
  for (let i = 0; i < rows; i++) rowRoots[i] = Math.sqrt(nextRows[i] * rowFactor);
  for (let i = 0; i < rows; i++) {
    const base = offset + i * cols;
    const rowRoot = rowRoots[i];
    for (let j = 0; j < cols; j++) {
      u[base + j] /= rowRoot * Math.sqrt(nextColumns[j]) + eps;
    }
  }
}

/** Options of {@link factoredAdaMuon}. */
export interface FactoredAdaMuonOptions extends AdaMuonOptions {
  /** Form of the factored estimate (default `"adafactor"`; see {@link FactoredVarianceCompatibility}). */
  compatibility?: FactoredVarianceCompatibility;
}

/**
 * AdaMuon with the matrix-whitening paper's low-rank (factored) second moment, for layouts made
 * only of matrices.
 */
export function factoredAdaMuon(options: FactoredAdaMuonOptions = {}): ChainTransform {
  const owner = "factoredAdaMuon";
  return withDecoupledDecay(
    owner,
    options,
    [
      "learningRate",
      "beta1",
      "beta2",
      "eps",
      "compatibility",
      "weightDecay",
      "weightDecayMask",
      ...ORTHOGONALIZATION_OPTIONS,
    ],
    { learningRate: 1e-3, weightDecay: 0 },
    ({
      beta1 = 0.9,
      beta2 = 0.95,
      eps = 1e-8,
      compatibility = "adafactor",
      ...orthogonalization
    }) => [
      scaleByMuon({
        momentum: checkBeta(owner, "beta1", beta1),
        nesterov: false,
        updateScale: "none",
        ...orthogonalization,
      }),
      scaleByFactoredVariance({
        beta2: checkBeta(owner, "beta2", beta2),
        eps: checkNumber(owner, "eps", eps, { min: 0 }),
        compatibility: checkChoice(owner, "compatibility", compatibility, [
          "adafactor",
          "matrix-whitening",
        ] as const),
      }),
    ],
  );
}
