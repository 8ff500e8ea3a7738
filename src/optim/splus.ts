/**
 * SPlus: the sign of the momentum taken in the eigenbasis of Shampoo's statistics, with a
 * shape-aware step size and an average of the iterates for evaluation.
 *
 * Frans, Levine & Abbeel, "A Stable Whitening Optimizer for Efficient Neural Network Training",
 * arXiv:2506.07254, 2025. Official implementation: kvfrans/splus @ d96bd16, `optax/splus.py`
 * (`splus`, `splus_get_eval_params`), the form implemented here; the same repository's
 * `torch/splus.py` (`SPlus`) and `experiments/optimizers/splus.py` (`make_splus`) agree on the
 * direction and differ in the details listed below.
 *
 * For each weight matrix W (r × c) with gradient G, at step t (counted from 1):
 *
 *     M ← β₁·M + (1 − β₁)·G                                   (momentum)
 *     D = Q_L·sign(Q_Lᵀ·M·Q_R)·Q_Rᵀ                          (sign in the eigenbasis, rotated back)
 *     L ← β₂·L + (1 − β₂)·G·Gᵀ,   R ← β₂·R + (1 − β₂)·Gᵀ·G
 *     if t = 1 or k divides t:  Q_L, Q_R ← eigenvectors of L + ε·I and R + ε·I
 *     W̄ ← ρ·W̄ + (1 − ρ)·W                                   (iterate average, W before the step)
 *     W ← W − lr·s·(D + wd·W),    s = 2/(r + c)
 *
 * The bases start as the identity, so the first step is the sign of M itself; D uses the bases
 * of the last refresh, and a refresh uses the statistics that include the current gradient.
 * sign(0) = 0. D does not depend on the order or the signs of the eigenvectors (a permutation
 * or sign flip of Q's columns moves and flips the entries of the rotated M and of its sign
 * alike), so the eigenvectors are stored as `eigh` returns them, by ascending eigenvalue.
 *
 * Tensors that are not exactly two-dimensional (biases, norm gains, scalars, and also tensors
 * with three or more dimensions, which the official code does not rotate) take D = sign(M), and
 * so does each side of a matrix whose length is maxPreconditionerDim or more (that side keeps
 * the identity basis and has no statistic). The step factor s is `nonstandardScale` for every
 * tensor other than a matrix with both sides rotated whose name the `nonstandard` selector does
 * not pick (by default names containing "embed" or "layernorm", any case, as the official
 * `nonstandard_strings`). Weight decay is scaled by s as well, because the official chain
 * multiplies by s after adding the decay; {@link splus} builds that chain.
 *
 * The average W̄ is kept in the state of {@link scaleBySplus} (`ema`); W̄/(1 − ρᵗ) are the
 * parameters to evaluate with ({@link splusEvaluationParams}), while training goes on from W.
 *
 * Defaults are the official ones: β₁ = 0.9, β₂ = 0.999, ρ = 0.999, ε = 1e-30, k = 100,
 * maxPreconditionerDim 10000, nonstandardScale 0.001, weight decay 0.01; the learning rate 0.1
 * is `torch/splus.py`'s default (the JAX version takes it as a required argument, and the README
 * suggests about 0.2 for transformers, or twice the hidden size times a tuned Adam rate). The
 * paper's runs warm the learning rate up linearly (`experiments/train.py`, 10,000 steps); pass a
 * schedule as the learning rate for that. Departures: eigendecompositions are taken in float64
 * (the official code uses the parameters' precision). `torch/splus.py` differs from the form
 * here in three ways: it decays the weights multiplicatively after the step,
 * W ← (W − lr·s·D)·(1 − lr·s·wd); it averages the parameters after the step instead of before;
 * and it has no `nonstandard` names. `experiments/optimizers/splus.py` divides M by 1 − β₁ᵗ
 * before the sign, which changes nothing.
 */
import { InvalidArgumentError } from "../errors.js";
import { muonMomentum, scaleRange, signRange } from "../kernels/muon.js";
import { eigh } from "../linalg/eigh.js";
import type { MatrixData } from "../linalg/matmul.js";
import { gram, matmul } from "../linalg/matmul.js";
import type { FloatArray, Layout, Selector, TensorSpec } from "../params/layout.js";
import { selectorPredicate } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import { requireFinite } from "./matrices.js";
import type { Optimizer } from "./optimizer.js";
import { perLayout } from "./perLayout.js";
import type { CountState } from "./primitives.js";
import { checkBeta, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { affineTransform, chain, isChain, partKey } from "./transform.js";
import { checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleBySplus}. */
export interface ScaleBySplusOptions {
  /** Decay β₁ ∈ [0, 1) of the momentum (default 0.9). */
  beta1?: number;
  /** Decay β₂ ∈ [0, 1) of the statistics L and R (default 0.999). */
  beta2?: number;
  /** Added to the diagonal of L and R before their eigendecomposition (default 1e-30). */
  eps?: number;
  /** The eigenbases are recomputed on the first step and every this many steps (default 100). */
  preconditionFrequency?: number;
  /**
   * A side of this length or longer keeps the identity basis (integer ≥ 1 or Infinity;
   * default 10000), and its matrix takes the step factor `nonstandardScale`.
   */
  maxPreconditionerDim?: number;
  /** Step factor of the tensors that are not standard matrices (default 0.001). */
  nonstandardScale?: number;
  /**
   * Matrices that take `nonstandardScale` instead of 2/(rows + cols) (default: names containing
   * "embed" or "layernorm" in any case). They are still rotated.
   */
  nonstandard?: Selector;
  /** Decay ρ ∈ [0, 1) of the average of the parameters (default 0.999). */
  emaRate?: number;
}

/** State of {@link scaleBySplus}. */
export interface SplusState extends State {
  /** Steps taken. */
  count: number;
  /** The decay ρ of the average (kept with it, as the official state does). */
  emaRate: number;
  /** Momentum M, per parameter. */
  mu: FloatArray;
  /**
   * Average of the parameters W̄ (before bias correction); {@link splusEvaluationParams}
   * divides it by 1 − ρ^count.
   */
  ema: FloatArray;
  /**
   * Per tensor name: `left` (L) and `leftBasis` (Q_L), `right` (R) and `rightBasis` (Q_R), for
   * the sides that are rotated (row-major, float64, eigenvectors as columns).
   */
  factors: State;
}

const SCALE_BY_SPLUS_OPTIONS = [
  "beta1",
  "beta2",
  "eps",
  "preconditionFrequency",
  "maxPreconditionerDim",
  "nonstandardScale",
  "nonstandard",
  "emaRate",
] as const;

/** Names the official code gives its own step factor (`nonstandard_strings`). */
const DEFAULT_NONSTANDARD = /embed|layernorm/i;

/** What {@link scaleBySplus} does with one tensor. */
interface SplusPlan {
  readonly spec: TensorSpec;
  readonly rows: number;
  readonly cols: number;
  readonly left: boolean;
  readonly right: boolean;
  /** The step factor s. */
  readonly scale: number;
}

/** The statistics and bases a step prepares before it changes any state. */
interface NextFactors {
  readonly left: Float64Array;
  readonly right: Float64Array;
  readonly leftBasis: Float64Array;
  readonly rightBasis: Float64Array;
}

interface SplusWorkspace {
  readonly plans: readonly SplusPlan[];
  readonly next: readonly NextFactors[];
  /** Tensor-sized scratch: the rotated momentum and an intermediate product. */
  readonly rotated: Float64Array;
  readonly product: Float64Array;
  /** Side-sized scratch for the eigendecomposition. */
  readonly shifted: Float64Array;
  readonly values: Float64Array;
}

/** How {@link scaleBySplus} treats the tensors of a layout (shared with the decay of {@link splus}). */
interface SplusShapeRules {
  readonly limit: number;
  readonly nonstandardScale: number;
  readonly isNonstandard: (tensor: TensorSpec) => boolean;
}

function planTensor(spec: TensorSpec, rules: SplusShapeRules): SplusPlan {
  const matrix = spec.shape.length === 2 && spec.size > 0;
  const rows = matrix ? spec.shape[0] : 0;
  const cols = matrix ? spec.shape[1] : 0;
  const left = matrix && rows < rules.limit;
  const right = matrix && cols < rules.limit;
  const standard = left && right && !rules.isNonstandard(spec);
  return {
    spec,
    rows,
    cols,
    left,
    right,
    scale: standard ? 2 / (rows + cols) : rules.nonstandardScale,
  };
}

function makeWorkspace(layout: Layout, rules: SplusShapeRules): SplusWorkspace {
  const plans = layout.tensors.map((t) => planTensor(t, rules));
  let largest = 0;
  let side = 0;
  const next = plans.map((p) => {
    const r = p.left ? p.rows : 0;
    const c = p.right ? p.cols : 0;
    if (p.left || p.right) largest = Math.max(largest, p.spec.size);
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
    rotated: new Float64Array(largest),
    product: new Float64Array(largest),
    shifted: new Float64Array(side * side),
    values: new Float64Array(side),
  };
}

const INTO_BASIS_LEFT = Object.freeze({ transposeA: true });
const BACK_RIGHT = Object.freeze({ transposeB: true });
const PLAIN = Object.freeze({});

/**
 * `out ← Q_Lᵀ·x·Q_R` (into the eigenbasis) or `out ← Q_L·x·Q_Rᵀ` (back) for the sides present;
 * `tmp` is scratch of x's size. `out` must not be `x` or `tmp`.
 */
function rotate(
  x: MatrixData,
  plan: SplusPlan,
  leftBasis: Float64Array | null,
  rightBasis: Float64Array | null,
  intoBasis: boolean,
  out: MatrixData,
  tmp: Float64Array,
): void {
  const { rows, cols } = plan;
  const leftOptions = intoBasis ? INTO_BASIS_LEFT : PLAIN;
  const rightOptions = intoBasis ? PLAIN : BACK_RIGHT;
  if (leftBasis && rightBasis) {
    matmul(leftBasis, x, rows, rows, cols, tmp, leftOptions);
    matmul(tmp, rightBasis, rows, cols, cols, out, rightOptions);
  } else if (leftBasis) {
    matmul(leftBasis, x, rows, rows, cols, out, leftOptions);
  } else if (rightBasis) {
    matmul(x, rightBasis, rows, cols, cols, out, rightOptions);
  }
}

/** Eigenvectors of `statistic + eps·I` as the columns of `basis` (ascending eigenvalues). */
function eigenbasis(
  statistic: Float64Array,
  n: number,
  eps: number,
  basis: Float64Array,
  w: SplusWorkspace,
): void {
  const shifted = w.shifted.subarray(0, n * n);
  shifted.set(statistic);
  for (let i = 0; i < n; i++) shifted[i * n + i] += eps;
  eigh(shifted, n, w.values.subarray(0, n), basis);
}

function checkSelectorOption(owner: string, value: unknown): Selector {
  const ok =
    typeof value === "string" ||
    typeof value === "function" ||
    value instanceof RegExp ||
    (Array.isArray(value) && value.every((s) => typeof s === "string"));
  if (!ok) {
    throw new InvalidArgumentError(
      owner,
      "nonstandard",
      value,
      "a selector (glob string, RegExp, list of names or predicate)",
    );
  }
  return value as Selector;
}

/** Checks the options that decide each tensor's step factor. */
function shapeRules(owner: string, options: ScaleBySplusOptions): SplusShapeRules {
  const limit = options.maxPreconditionerDim ?? 10000;
  if (limit !== Infinity) {
    checkNumber(owner, "maxPreconditionerDim", limit, { integer: true, min: 1 });
  }
  const nonstandardScale = checkNumber(
    owner,
    "nonstandardScale",
    options.nonstandardScale ?? 0.001,
    { min: 0 },
  );
  const selector = checkSelectorOption(owner, options.nonstandard ?? DEFAULT_NONSTANDARD);
  return { limit, nonstandardScale, isNonstandard: selectorPredicate(selector) };
}

/**
 * Replaces the gradient by SPlus's direction s·D (before `−lr`), and keeps the average of the
 * parameters for evaluation. Takes every tensor: matrices are rotated, the rest get sign descent.
 */
export function scaleBySplus(options: ScaleBySplusOptions = {}): GradientTransform<SplusState> {
  const owner = "scaleBySplus";
  checkKnownOptions(owner, options, SCALE_BY_SPLUS_OPTIONS);
  const beta1 = checkBeta(owner, "beta1", options.beta1 ?? 0.9);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const eps = checkNumber(owner, "eps", options.eps ?? 1e-30, { min: 0 });
  const frequency = checkNumber(
    owner,
    "preconditionFrequency",
    options.preconditionFrequency ?? 100,
    { integer: true, min: 1 },
  );
  const emaRate = checkBeta(owner, "emaRate", options.emaRate ?? 0.999);
  const rules = shapeRules(owner, options);
  const workspaceOf = perLayout((layout) => makeWorkspace(layout, rules));
  const accumulate = Object.freeze({ alpha: 1 - beta2, beta: beta2 });

  const factorOf = (state: SplusState, plan: SplusPlan, key: keyof NextFactors) =>
    (state.factors[plan.spec.name] as State)[key] as Float64Array;

  return {
    name: "scaleBySplus",
    init(layout) {
      const w = workspaceOf(layout);
      const factors: State = {};
      for (const plan of w.plans) {
        const f: State = {};
        if (plan.left) {
          f.left = new Float64Array(plan.rows * plan.rows);
          f.leftBasis = identity(plan.rows);
        }
        if (plan.right) {
          f.right = new Float64Array(plan.cols * plan.cols);
          f.rightBasis = identity(plan.cols);
        }
        factors[plan.spec.name] = f;
      }
      return { count: 0, emaRate, mu: layout.zeros(), ema: layout.zeros(), factors };
    },
    update(u, state, ctx) {
      const w = workspaceOf(ctx.layout);
      const t = state.count + 1;
      const refresh = t === 1 || t % frequency === 0;
      // Statistics and new bases go to the workspace first, so a failure (overflowing squares)
      // leaves the state as it was.
      w.plans.forEach((plan, k) => {
        const { spec, rows, cols } = plan;
        const g = u.subarray(spec.offset, spec.offset + spec.size);
        const next = w.next[k];
        if (plan.left) {
          next.left.set(factorOf(state, plan, "left"));
          gram(g, rows, cols, next.left, "left", accumulate);
          requireFinite(owner, "left statistic L", spec.name, next.left);
          if (refresh) eigenbasis(next.left, rows, eps, next.leftBasis, w);
        }
        if (plan.right) {
          next.right.set(factorOf(state, plan, "right"));
          gram(g, rows, cols, next.right, "right", accumulate);
          requireFinite(owner, "right statistic R", spec.name, next.right);
          if (refresh) eigenbasis(next.right, cols, eps, next.rightBasis, w);
        }
      });
      const { params } = ctx;
      const { mu, ema } = state;
      for (let i = 0; i < ema.length; i++) ema[i] = emaRate * ema[i] + (1 - emaRate) * params[i];
      w.plans.forEach((plan, k) => {
        const { spec } = plan;
        const start = spec.offset;
        const end = start + spec.size;
        muonMomentum(u, mu, beta1, false, start, end);
        if (plan.left || plan.right) {
          const m = u.subarray(start, end);
          const leftBasis = plan.left ? factorOf(state, plan, "leftBasis") : null;
          const rightBasis = plan.right ? factorOf(state, plan, "rightBasis") : null;
          const rotated = w.rotated.subarray(0, spec.size);
          const product = w.product.subarray(0, spec.size);
          rotate(m, plan, leftBasis, rightBasis, true, rotated, product);
          signRange(rotated);
          rotate(rotated, plan, leftBasis, rightBasis, false, m, product);
        } else {
          signRange(u, start, end);
        }
        scaleRange(u, plan.scale, start, end);
        const next = w.next[k];
        if (plan.left) {
          factorOf(state, plan, "left").set(next.left);
          if (refresh) factorOf(state, plan, "leftBasis").set(next.leftBasis);
        }
        if (plan.right) {
          factorOf(state, plan, "right").set(next.right);
          if (refresh) factorOf(state, plan, "rightBasis").set(next.rightBasis);
        }
      });
      state.count = t;
    },
  };
}

function identity(n: number): Float64Array {
  const out = new Float64Array(n * n);
  for (let i = 0; i < n; i++) out[i * n + i] = 1;
  return out;
}

/**
 * `u ← u + wd·s_t·p` per tensor t, with s_t the step factor {@link scaleBySplus} gives it: the
 * official order (decay added, then the step factor applied to both) as an affine transform.
 */
function addShapeScaledDecay(
  weightDecay: Hyper,
  mask: Selector | undefined,
  rules: SplusShapeRules,
): GradientTransform<CountState> {
  const factorsOf = perLayout((layout) => {
    const masked = mask === undefined ? null : layout.mask(mask);
    return Float64Array.from(layout.tensors, (t, i) =>
      masked && !masked[i] ? 0 : planTensor(t, rules).scale,
    );
  });
  const decays = perLayout((layout) => new Float64Array(layout.tensors.length));
  return affineTransform<CountState>(
    "addShapeScaledDecay",
    (layout) => {
      factorsOf(layout);
      return { count: 0 };
    },
    (state, ctx) => {
      const wd = valueAt(weightDecay, state.count);
      state.count++;
      const factors = factorsOf(ctx.layout);
      const decay = decays(ctx.layout);
      for (let i = 0; i < decay.length; i++) decay[i] = wd * factors[i];
      return { scale: 1, decay };
    },
  );
}

/** Options of {@link splus}. */
export interface SplusOptions extends ScaleBySplusOptions {
  /** Step size (constant or schedule; default 0.1). */
  learningRate?: Hyper;
  /** Decoupled weight decay, scaled like the step: θ ← θ − lr·s·wd·θ (default 0.01). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/**
 * SPlus for whole networks, as the official optax chain: `scaleBySplus`, weight decay scaled by
 * each tensor's step factor, then the learning rate. Evaluate with
 * {@link splusEvaluationParams}.
 */
export function splus(options: SplusOptions = {}): ChainTransform {
  const owner = "splus";
  checkKnownOptions(owner, options, [
    "learningRate",
    "weightDecay",
    "weightDecayMask",
    ...SCALE_BY_SPLUS_OPTIONS,
  ]);
  const { learningRate = 0.1, weightDecay = 0.01, weightDecayMask, ...rest } = options;
  const lr = checkHyper(owner, "learningRate", learningRate, { min: 0 });
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const direction = scaleBySplus(rest);
  return chain(
    direction,
    addShapeScaledDecay(wd, weightDecayMask, shapeRules(owner, rest)),
    scaleByLearningRate(lr),
  );
}

/**
 * The parameters to evaluate an SPlus run with: the bias-corrected average W̄/(1 − ρᵗ) of the
 * parameters the steps started from (`splus_get_eval_params`). Before the first step these are
 * the current parameters. Training goes on from `optimizer.params`, which this leaves alone.
 *
 * @param optimizer - an {@link Optimizer} driving {@link scaleBySplus} or a chain holding it
 *   (such as {@link splus}) over all of its parameters
 * @param out - receives the parameters (default: a new buffer of the parameters' layout)
 * @returns `out`
 */
export function splusEvaluationParams(
  optimizer: Optimizer,
  out: FloatArray = optimizer.params.layout.zeros(),
): FloatArray {
  const owner = "splusEvaluationParams";
  const { transform } = optimizer;
  let state: State | undefined;
  if (transform.name === "scaleBySplus") state = optimizer.state;
  else if (isChain(transform)) {
    const index = transform.parts.findIndex((p) => p.name === "scaleBySplus");
    if (index >= 0) state = optimizer.state[partKey(index, transform.parts[index])] as State;
  }
  if (state === undefined) {
    throw new InvalidArgumentError(
      owner,
      "optimizer",
      transform.name,
      "an optimizer whose transform is scaleBySplus or a chain holding it over all parameters (splus)",
    );
  }
  optimizer.params.layout.assertBuffer(out, `${owner} out`);
  const { count, ema, emaRate } = state as SplusState;
  if (count === 0) {
    out.set(optimizer.params.data);
    return out;
  }
  const correction = 1 / (1 - emaRate ** count);
  for (let i = 0; i < out.length; i++) out[i] = ema[i] * correction;
  return out;
}
