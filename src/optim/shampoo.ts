/**
 * Shampoo: each weight matrix is preconditioned from the left and from the right by inverse
 * roots of the accumulated Gram matrices of its gradients.
 *
 * - Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018.
 * - Shi, Lee, Iwasaki, Gallego-Posada, Li, Rangadurai, Mudigere & Rabbat, "A Distributed
 *   Data-Parallel PyTorch Implementation of the Distributed Shampoo Optimizer for Training Neural
 *   Networks At-Scale", arXiv:2309.06497, 2023. Official code: facebookresearch/optimizers @
 *   f606606, distributed_shampoo/ (`distributed_shampoo.py`, `shampoo_types.py`,
 *   `preconditioner/shampoo_preconditioner_list.py`,
 *   `preconditioner/adagrad_preconditioner_list.py`, `utils/shampoo_utils.py`).
 * - Grafting: Agarwal, Anil, Hazan, Koren & Zhang, "Disentangling Adaptive Gradient Methods from
 *   Learning Rates", arXiv:2002.11803, 2020.
 *
 * Paper form (the default), per block G (r × c) of a weight matrix at step t, as Distributed
 * Shampoo orders it:
 *
 *     L ← β₂·L + w·G·Gᵀ,   R ← β₂·R + w·Gᵀ·G            w = 1 if β₂ = 1, else 1 − β₂
 *     when t = s, or t > s and f divides t     (s = startPreconditioningStep, f = frequency):
 *         L̃ = (L/b₂ + εI)^(−1/4),  R̃ = (R/b₂ + εI)^(−1/4)   b₂ = 1 − β₂ᵗ (1 when β₂ = 1)
 *     M ← β₁·M + (1 − β₁)·G,  M̂ = M/(1 − β₁ᵗ)              (the filtered gradient)
 *     D_g = graft(M̂):  Adam  M̂/(√(V/(1 − β₂ᵍᵗ)) + ε_g),  V ← β₂ᵍ·V + (1 − β₂ᵍ)·G²
 *                      AdaGrad  M̂/(√V + ε_g),  V ← V + G²;   SGD  M̂
 *     t < s:  D = D_g (with grafting; M̂ without, as L̃ = R̃ = I until the first root)
 *     else:   P = L̃·M̂·R̃,   D = P·‖D_g‖/(‖P‖ + 10⁻¹⁶) (with grafting) or P
 *
 * The norms are Frobenius norms per block. A tensor with more than two dimensions is viewed as
 * [shape[0], product of the rest], as Muon here does (Distributed Shampoo instead keeps one factor
 * per dimension after merging small ones); vectors and scalars are rejected with an error naming
 * the tensor: route them to an element-wise optimizer (`routeMatrices`). A side longer than
 * `maxPreconditionerDim` is cut into blocks of that size (the last one shorter), and each block
 * of the resulting grid is a Shampoo problem of its own with its own L, R and graft norm, as
 * Distributed Shampoo's `multi_dim_split`. The roots use the symmetric eigendecomposition
 * (`rootMethod: "eigen"`, the official default: ε added before, the spectrum shifted up to ε
 * when rounding leaves it below) or the coupled Newton iteration (`"newton"`), both from
 * src/linalg/inverseRoot.ts.
 *
 * Defaults (Distributed Shampoo's constructor and `shampoo_types.py`): β₁ = 0.9, β₂ = 1 (sums, the
 * paper's AdaGrad-style statistics), ε = 1e-12, f = 1, s = f, blocks of 1024, bias correction on,
 * learning rate 0.01, decoupled weight decay 0. Grafting defaults to Adam with β₂ᵍ = 0.999 and
 * ε_g = 1e-10 (`AdamPreconditionerConfig`; the constructor's own default is no grafting, the
 * README's examples graft Adam). The statistics are float64 whatever the parameters' dtype (the
 * official code keeps them in float32 by default).
 *
 * `compatibility: "pytorch-optimizer"` reproduces kozistr/pytorch_optimizer @ 7a076d2 (v3.9.0),
 * `optimizer/shampoo.py` and `shampoo_utils.py` (`compute_power_svd`), a popular port whose update
 * departs from the paper. For a tensor of order k (any rank, vectors included), with g the
 * gradient:
 *
 *     g ← (1 − μ)·g + μ·buf       (μ > 0; buf starts as the first raw gradient)
 *     g ← g + wd·p                (weightDecay: L2 after the momentum mix)
 *     for each dimension i = 0 … k − 1 in order, with Gᵢ the mode-i unfolding of the current g:
 *         Sᵢ ← Sᵢ + Gᵢ·Gᵢᵀ                      (Sᵢ starts at matrixEps·I)
 *         every f steps (f divides t): Rᵢ = Sᵢ^(−1/k)   (Rᵢ starts at 0)
 *         g ← Rᵢ applied along dimension i
 *     buf ← g
 *
 * So a matrix gets L^(−1/2)·G·R^(−1/2), with R accumulated from the already left-preconditioned
 * gradient, and a vector the full inverse (matrixEps·I + Σ g·gᵀ)⁻¹·g. Defaults are the port's:
 * learning rate 1e-3, μ = 0, matrixEps = 1e-6, f = 1, L2 weight decay 0. The port computes the
 * roots by an SVD in float32; here they are eigendecompositions in float64 (the port's float32
 * rounding moves its trajectories by about 1e-5 of the largest entry; see
 * test/conformance/shampoo.test.ts).
 */
import { InvalidArgumentError } from "../errors.js";
import { adagradDirection } from "../kernels/adagrad.js";
import { adamDirection } from "../kernels/adam.js";
import {
  adagradGraft,
  addScaledRange,
  blockSumOfSquares,
  correctedMoment,
  filteredGradient,
  gatherBlock,
  portMomentum,
  scaledCopy,
  scatterBlock,
} from "../kernels/shampoo.js";
import type { InverseRootMethod } from "../linalg/inverseRoot.js";
import { inverseRoot } from "../linalg/inverseRoot.js";
import { gram, matmul } from "../linalg/matmul.js";
import type { FloatArray, Layout, Selector, TensorSpec } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { TensorMode } from "./matrices.js";
import {
  identityMatrix,
  matrixShape,
  modeGram,
  modeProduct,
  requireFinite,
  tensorModes,
} from "./matrices.js";
import { perLayout } from "./perLayout.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import {
  checkBoolean,
  checkChoice,
  checkHyper,
  checkKnownOptions,
  checkNumber,
} from "./validate.js";

/** Which implementation {@link scaleByShampoo} follows. */
export type ShampooCompatibility = "paper" | "pytorch-optimizer";

/** The diagonal method whose step size Shampoo's direction takes (per block). */
export type ShampooGrafting = "adam" | "adagrad" | "sgd" | "none";

/** Options of {@link scaleByShampoo}. */
export interface ScaleByShampooOptions {
  /**
   * `"paper"` (default): the paper's inverse fourth roots with grafting, as Distributed Shampoo.
   * `"pytorch-optimizer"`: the port described in the file header (its options are `momentum`,
   * `matrixEps`, `preconditionFrequency`, `weightDecay` and `weightDecayMask`).
   */
  compatibility?: ShampooCompatibility;
  /** Paper: decay β₁ ∈ [0, 1) of the filtered gradient (default 0.9; 0 uses the gradient). */
  beta1?: number;
  /** Paper: decay β₂ ∈ [0, 1] of the statistics L and R (default 1: plain sums). */
  beta2?: number;
  /** Paper: ε > 0 added to L and R before their roots (default 1e-12). */
  epsilon?: number;
  /** Both: the roots are recomputed every this many steps (default 1). */
  preconditionFrequency?: number;
  /**
   * Paper: first step that uses Shampoo's direction; earlier steps take the grafted one. An
   * integer ≥ `preconditionFrequency`, or Infinity to never precondition (default
   * `preconditionFrequency`).
   */
  startPreconditioningStep?: number;
  /**
   * Paper: sides longer than this are split into blocks (an integer ≥ 1, or Infinity; default
   * 1024).
   */
  maxPreconditionerDim?: number;
  /** Paper: the grafted method (default `"adam"`). */
  grafting?: ShampooGrafting;
  /** Paper: β₂ ∈ [0, 1) of the Adam graft's second moment (default 0.999). */
  graftingBeta2?: number;
  /** Paper: ε ≥ 0 of the Adam or AdaGrad graft (default 1e-10). */
  graftingEps?: number;
  /**
   * Paper: divide the filtered gradient and the β₂ < 1 statistics by their bias corrections
   * (default true).
   */
  biasCorrection?: boolean;
  /** Paper: how the inverse roots are computed (default `"eigen"`). */
  rootMethod?: InverseRootMethod;
  /** pytorch-optimizer: momentum μ ∈ [0, 1) (default 0). */
  momentum?: number;
  /** pytorch-optimizer: starting value matrixEps·I of every statistic, > 0 (default 1e-6). */
  matrixEps?: number;
  /** pytorch-optimizer: L2 penalty added after the momentum mix, as the port (default 0). */
  weightDecay?: Hyper;
  /** pytorch-optimizer: tensors that receive the L2 penalty (default all). */
  weightDecayMask?: Selector;
}

const PAPER_OPTIONS = [
  "compatibility",
  "beta1",
  "beta2",
  "epsilon",
  "preconditionFrequency",
  "startPreconditioningStep",
  "maxPreconditionerDim",
  "grafting",
  "graftingBeta2",
  "graftingEps",
  "biasCorrection",
  "rootMethod",
] as const;
const PORT_OPTIONS = [
  "compatibility",
  "momentum",
  "matrixEps",
  "preconditionFrequency",
  "weightDecay",
  "weightDecayMask",
] as const;

/** Graft norms are divided by the Shampoo norm plus this (Distributed Shampoo's constant). */
const NORM_GUARD = 1e-16;

/** Rejects options that belong to the other form, saying which form takes them. */
function checkFormOptions(
  owner: string,
  options: object,
  form: ShampooCompatibility,
  known: readonly string[],
): void {
  const all: readonly string[] = [...PAPER_OPTIONS, ...PORT_OPTIONS];
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue;
    const value = (options as Record<string, unknown>)[key];
    if (all.includes(key)) {
      const other = form === "paper" ? '"pytorch-optimizer"' : '"paper"';
      throw new InvalidArgumentError(
        owner,
        key,
        value,
        `left out with compatibility ${JSON.stringify(form)} (it belongs to the ${other} form; this form's options are ${known.join(", ")})`,
      );
    }
    checkKnownOptions(owner, { [key]: value }, known);
  }
}

/** An integer ≥ min, or Infinity where "no limit" makes sense. */
function checkCount(owner: string, parameter: string, value: unknown, min: number): number {
  if (value === Infinity) return Infinity;
  if (typeof value !== "number" || !Number.isInteger(value) || value < min) {
    throw new InvalidArgumentError(owner, parameter, value, `an integer >= ${min}, or Infinity`);
  }
  return value;
}

/** Writes `(a·scale + εI)^(−1/root)` into `out`, going through `scratch` when scale ≠ 1. */
function rootInto(
  a: Float64Array,
  n: number,
  root: number,
  scale: number,
  out: Float64Array,
  scratch: Float64Array,
  method: InverseRootMethod,
  epsilon: number,
): void {
  let input = a;
  if (scale !== 1) {
    input = scratch.subarray(0, n * n);
    scaledCopy(a, scale, input);
  }
  inverseRoot(input, n, root, out, { method, epsilon });
}

// ---------------------------------------------------------------------------------------------
// Paper form

/** One block of a matrix view: rows [row0, row0 + rows) × columns [col0, col0 + cols). */
interface BlockPlan {
  readonly row0: number;
  readonly col0: number;
  readonly rows: number;
  readonly cols: number;
}

interface MatrixPlan {
  readonly spec: TensorSpec;
  /** Columns of the matrix view (rows are shape[0]). */
  readonly stride: number;
  readonly blocks: readonly BlockPlan[];
  /** Whether the single block is the whole tensor (no copies needed). */
  readonly whole: boolean;
}

/** The preconditioner of one block, as stored in the state. */
interface BlockFactors {
  left: Float64Array;
  right: Float64Array;
  leftRoot: Float64Array;
  rightRoot: Float64Array;
}

/** State of {@link scaleByShampoo} in the paper form. */
export interface ShampooState extends State {
  /** Updates applied so far. */
  count: number;
  /** First moment M of the gradient (the filtered gradient before bias correction). */
  mu: FloatArray;
  /** Second moment V of the Adam or AdaGrad graft (zeros and unused for SGD or no grafting). */
  nu: FloatArray;
  /**
   * Per tensor name, per block index (`"0"`, `"1"`, … in row-major block order): the statistics
   * `left` (L), `right` (R) and their inverse roots `leftRoot`, `rightRoot` (row-major, float64).
   */
  preconditioners: State;
}

function splitSide(length: number, blockSize: number): [number, number][] {
  const parts: [number, number][] = [];
  for (let start = 0; start < length; start += blockSize) {
    parts.push([start, Math.min(blockSize, length - start)]);
  }
  return parts;
}

const PRECONDITION_BOTH_SIDES =
  'a matrix (two or more dimensions): the paper form preconditions each matrix from both sides; route vectors and scalars to an element-wise optimizer (routeMatrices), or use compatibility "pytorch-optimizer"';

function planMatrix(owner: string, spec: TensorSpec, blockSize: number): MatrixPlan {
  const { rows, cols } = matrixShape(owner, spec, PRECONDITION_BOTH_SIDES);
  const blocks: BlockPlan[] = [];
  if (spec.size > 0) {
    for (const [row0, r] of splitSide(rows, blockSize)) {
      for (const [col0, c] of splitSide(cols, blockSize)) {
        blocks.push({ row0, col0, rows: r, cols: c });
      }
    }
  }
  return { spec, stride: cols, blocks, whole: blocks.length === 1 };
}

// The block views of a state, looked up once per state object rather than on every step.
const blockFactorCache = new WeakMap<State, Map<string, BlockFactors[]>>();

function blockFactorsOf(state: ShampooState, plan: MatrixPlan): BlockFactors[] {
  let perState = blockFactorCache.get(state.preconditioners);
  if (!perState) blockFactorCache.set(state.preconditioners, (perState = new Map()));
  let blocks = perState.get(plan.spec.name);
  if (!blocks) {
    const perTensor = state.preconditioners[plan.spec.name] as State;
    blocks = plan.blocks.map((_, b) => perTensor[String(b)] as unknown as BlockFactors);
    perState.set(plan.spec.name, blocks);
  }
  return blocks;
}

/** Buffers rewritten every step (not state), one set per layout. */
interface PaperWorkspace {
  readonly plans: readonly MatrixPlan[];
  /** The filtered gradient M̂, layout-sized. */
  readonly filtered: Float64Array;
  /** Next statistics and roots, per tensor and block, committed once every block succeeded. */
  readonly next: readonly (readonly BlockFactors[])[];
  /** Block-sized scratch: the gathered input, L̃·X, and P. */
  readonly input: Float64Array;
  readonly half: Float64Array;
  readonly direction: Float64Array;
  /** Statistic-sized scratch for the bias-corrected copy. */
  readonly corrected: Float64Array;
}

function makePaperWorkspace(owner: string, layout: Layout, blockSize: number): PaperWorkspace {
  const plans = layout.tensors.map((t) => planMatrix(owner, t, blockSize));
  let largestBlock = 0;
  let largestSide = 0;
  const next = plans.map((plan) =>
    plan.blocks.map((b) => {
      largestBlock = Math.max(largestBlock, b.rows * b.cols);
      largestSide = Math.max(largestSide, b.rows, b.cols);
      return {
        left: new Float64Array(b.rows * b.rows),
        right: new Float64Array(b.cols * b.cols),
        leftRoot: new Float64Array(b.rows * b.rows),
        rightRoot: new Float64Array(b.cols * b.cols),
      };
    }),
  );
  return {
    plans,
    filtered: new Float64Array(layout.size),
    next,
    input: new Float64Array(largestBlock),
    half: new Float64Array(largestBlock),
    direction: new Float64Array(largestBlock),
    corrected: new Float64Array(largestSide * largestSide),
  };
}

interface PaperSettings {
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: number;
  readonly frequency: number;
  readonly start: number;
  readonly blockSize: number;
  readonly grafting: ShampooGrafting;
  readonly graftingBeta2: number;
  readonly graftingEps: number;
  readonly biasCorrection: boolean;
  readonly rootMethod: InverseRootMethod;
}

function paperSettings(owner: string, options: ScaleByShampooOptions): PaperSettings {
  checkFormOptions(owner, options, "paper", PAPER_OPTIONS);
  const frequency = checkNumber(
    owner,
    "preconditionFrequency",
    options.preconditionFrequency ?? 1,
    {
      integer: true,
      min: 1,
    },
  );
  const start = checkCount(
    owner,
    "startPreconditioningStep",
    options.startPreconditioningStep ?? frequency,
    frequency,
  );
  return {
    beta1: checkBeta(owner, "beta1", options.beta1 ?? 0.9),
    beta2: checkNumber(owner, "beta2", options.beta2 ?? 1, { min: 0, max: 1 }),
    epsilon: checkNumber(owner, "epsilon", options.epsilon ?? 1e-12, { above: 0 }),
    frequency,
    start,
    blockSize: checkCount(owner, "maxPreconditionerDim", options.maxPreconditionerDim ?? 1024, 1),
    grafting: checkChoice(owner, "grafting", options.grafting ?? "adam", [
      "adam",
      "adagrad",
      "sgd",
      "none",
    ]),
    graftingBeta2: checkBeta(owner, "graftingBeta2", options.graftingBeta2 ?? 0.999),
    graftingEps: checkNumber(owner, "graftingEps", options.graftingEps ?? 1e-10, { min: 0 }),
    biasCorrection: checkBoolean(owner, "biasCorrection", options.biasCorrection ?? true),
    rootMethod: checkChoice(owner, "rootMethod", options.rootMethod ?? "eigen", [
      "eigen",
      "newton",
    ]),
  };
}

function paperShampoo(owner: string, s: PaperSettings): GradientTransform<ShampooState> {
  const workspaceOf = perLayout((layout) => makePaperWorkspace(owner, layout, s.blockSize));
  const statisticWeight = s.beta2 === 1 ? 1 : 1 - s.beta2;
  const accumulate = { alpha: statisticWeight, beta: s.beta2 };
  // The paper's exponent −1/(2·order) for the two sides of a matrix.
  const root = 4;

  /** Statistics and (when due) roots of every block, into the workspace; may throw. */
  const prepare = (u: FloatArray, state: ShampooState, w: PaperWorkspace, t: number): boolean => {
    const rootsDue = (t % s.frequency === 0 && t > s.start) || t === s.start;
    const correction = s.biasCorrection && s.beta2 < 1 ? 1 - s.beta2 ** t : 1;
    w.plans.forEach((plan, k) => {
      const current = blockFactorsOf(state, plan);
      plan.blocks.forEach((block, b) => {
        const { rows, cols } = block;
        const next = w.next[k][b];
        let x: FloatArray;
        if (plan.whole) {
          x = u.subarray(plan.spec.offset, plan.spec.offset + plan.spec.size);
        } else {
          x = w.input.subarray(0, rows * cols);
          gatherBlock(u, plan.spec.offset, plan.stride, block.row0, block.col0, rows, cols, x);
        }
        next.left.set(current[b].left);
        gram(x, rows, cols, next.left, "left", accumulate);
        requireFinite(owner, `left statistic L of block ${b}`, plan.spec.name, next.left);
        next.right.set(current[b].right);
        gram(x, rows, cols, next.right, "right", accumulate);
        requireFinite(owner, `right statistic R of block ${b}`, plan.spec.name, next.right);
        if (rootsDue) {
          const scale = 1 / correction;
          rootInto(
            next.left,
            rows,
            root,
            scale,
            next.leftRoot,
            w.corrected,
            s.rootMethod,
            s.epsilon,
          );
          requireFinite(owner, `inverse root of L of block ${b}`, plan.spec.name, next.leftRoot);
          rootInto(
            next.right,
            cols,
            root,
            scale,
            next.rightRoot,
            w.corrected,
            s.rootMethod,
            s.epsilon,
          );
          requireFinite(owner, `inverse root of R of block ${b}`, plan.spec.name, next.rightRoot);
        }
      });
    });
    return rootsDue;
  };

  /** Replaces u (the gradient) by the grafted direction D_g and fills `w.filtered` with M̂. */
  const graft = (u: FloatArray, state: ShampooState, w: PaperWorkspace, t: number): void => {
    const correction1 = s.biasCorrection ? 1 - s.beta1 ** t : 1;
    const inverse1 = 1 / correction1;
    switch (s.grafting) {
      case "adam":
        // Adam's own kernel, so that without preconditioning the step is Adam's to the bit.
        adamDirection(
          u,
          state.mu,
          state.nu,
          null,
          s.beta1,
          s.graftingBeta2,
          s.graftingEps,
          0,
          correction1,
          1 - s.graftingBeta2 ** t,
        );
        correctedMoment(state.mu, inverse1, w.filtered);
        return;
      case "adagrad":
        if (s.beta1 === 0) {
          w.filtered.set(u);
          adagradDirection(u, state.nu, s.graftingEps);
        } else {
          filteredGradient(u, state.mu, s.beta1, inverse1, w.filtered);
          adagradGraft(u, state.nu, w.filtered, s.graftingEps);
        }
        return;
      default:
        if (s.beta1 === 0) {
          w.filtered.set(u);
        } else {
          filteredGradient(u, state.mu, s.beta1, inverse1, w.filtered);
          u.set(w.filtered);
        }
    }
  };

  /** u ← L̃·M̂·R̃ per block, rescaled to the graft's norm. */
  const precondition = (u: FloatArray, state: ShampooState, w: PaperWorkspace): void => {
    for (const plan of w.plans) {
      const factors = blockFactorsOf(state, plan);
      plan.blocks.forEach((block, b) => {
        const { rows, cols, row0, col0 } = block;
        const size = rows * cols;
        const { offset } = plan.spec;
        let x: Float64Array;
        if (plan.whole) {
          x = w.filtered.subarray(offset, offset + size);
        } else {
          x = w.input.subarray(0, size);
          gatherBlock(w.filtered, offset, plan.stride, row0, col0, rows, cols, x);
        }
        const half = w.half.subarray(0, size);
        const direction = w.direction.subarray(0, size);
        matmul(factors[b].leftRoot, x, rows, rows, cols, half);
        matmul(half, factors[b].rightRoot, rows, cols, cols, direction);
        let factor = 1;
        if (s.grafting !== "none") {
          const graftNorm = Math.sqrt(
            blockSumOfSquares(u, offset, plan.stride, row0, col0, rows, cols),
          );
          let squares = 0;
          for (let i = 0; i < size; i++) squares += direction[i] * direction[i];
          factor = graftNorm / (Math.sqrt(squares) + NORM_GUARD);
        }
        scatterBlock(direction, factor, u, offset, plan.stride, row0, col0, rows, cols);
      });
    }
  };

  return {
    name: "scaleByShampoo",
    init(layout) {
      const w = workspaceOf(layout);
      const preconditioners: State = {};
      for (const plan of w.plans) {
        const perTensor: State = {};
        plan.blocks.forEach((b, i) => {
          perTensor[String(i)] = {
            left: new Float64Array(b.rows * b.rows),
            right: new Float64Array(b.cols * b.cols),
            leftRoot: identityMatrix(b.rows),
            rightRoot: identityMatrix(b.cols),
          };
        });
        preconditioners[plan.spec.name] = perTensor;
      }
      return { count: 0, mu: layout.zeros(), nu: layout.zeros(), preconditioners };
    },
    update(u, state, ctx) {
      const w = workspaceOf(ctx.layout);
      const t = state.count + 1;
      const rootsDue = prepare(u, state, w, t);
      // Nothing below can throw: commit the statistics, then form the direction.
      w.plans.forEach((plan, k) => {
        blockFactorsOf(state, plan).forEach((current, b) => {
          const next = w.next[k][b];
          current.left.set(next.left);
          current.right.set(next.right);
          if (rootsDue) {
            current.leftRoot.set(next.leftRoot);
            current.rightRoot.set(next.rightRoot);
          }
        });
      });
      graft(u, state, w, t);
      if (t >= s.start) precondition(u, state, w);
      state.count = t;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The pytorch-optimizer port

/** State of {@link scaleByShampoo} with compatibility `"pytorch-optimizer"`. */
export interface ShampooPortState extends State {
  /** Updates applied so far. */
  count: number;
  /** The port's momentum buffer: the first raw gradient, then the last preconditioned one. */
  momentum: FloatArray;
  /**
   * Per tensor name: `statistic0`, `root0`, `statistic1`, `root1`, … for each dimension
   * (row-major, float64; a scalar has one 1×1 pair).
   */
  factors: State;
}

interface PortPlan {
  readonly spec: TensorSpec;
  /** The dimensions (a scalar counts as one dimension of size 1). */
  readonly dims: readonly number[];
  /** The tensor seen along each dimension. */
  readonly modes: readonly TensorMode[];
  /** State keys of each dimension's statistic and root. */
  readonly statisticKeys: readonly string[];
  readonly rootKeys: readonly string[];
}

interface PortWorkspace {
  readonly plans: readonly PortPlan[];
  /** The preconditioned gradient of every tensor, layout-sized, committed at the end. */
  readonly result: Float64Array;
  /** Tensor-sized scratch for the mode products. */
  readonly spare: Float64Array;
  /** Next statistics and roots per tensor and dimension. */
  readonly statistics: readonly (readonly Float64Array[])[];
  readonly roots: readonly (readonly Float64Array[])[];
  /** L2 mask, one flag per tensor. */
  readonly decayed: Uint8Array;
}

function portDims(spec: TensorSpec): number[] {
  return spec.shape.length === 0 ? [1] : [...spec.shape];
}

interface PortSettings {
  readonly momentum: number;
  readonly matrixEps: number;
  readonly frequency: number;
  readonly weightDecay: Hyper;
  readonly weightDecayMask: Selector | undefined;
}

function portSettings(owner: string, options: ScaleByShampooOptions): PortSettings {
  checkFormOptions(owner, options, "pytorch-optimizer", PORT_OPTIONS);
  return {
    momentum: checkBeta(owner, "momentum", options.momentum ?? 0),
    matrixEps: checkNumber(owner, "matrixEps", options.matrixEps ?? 1e-6, { above: 0 }),
    frequency: checkNumber(owner, "preconditionFrequency", options.preconditionFrequency ?? 1, {
      integer: true,
      min: 1,
    }),
    weightDecay: checkHyper(owner, "weightDecay", options.weightDecay ?? 0, { min: 0 }),
    weightDecayMask: options.weightDecayMask,
  };
}

function portShampoo(owner: string, s: PortSettings): GradientTransform<ShampooPortState> {
  const workspaceOf = perLayout((layout): PortWorkspace => {
    const plans = layout.tensors.map((spec) => {
      const dims = portDims(spec);
      return {
        spec,
        dims,
        modes: tensorModes(dims),
        statisticKeys: dims.map((_, i) => `statistic${i}`),
        rootKeys: dims.map((_, i) => `root${i}`),
      };
    });
    let largest = 0;
    for (const p of plans) largest = Math.max(largest, p.spec.size);
    return {
      plans,
      result: new Float64Array(layout.size),
      spare: new Float64Array(largest),
      statistics: plans.map((p) => p.dims.map((d) => new Float64Array(d * d))),
      roots: plans.map((p) => p.dims.map((d) => new Float64Array(d * d))),
      decayed:
        s.weightDecayMask === undefined
          ? new Uint8Array(layout.tensors.length).fill(1)
          : layout.mask(s.weightDecayMask),
    };
  });
  const factorsOf = (state: ShampooPortState, spec: TensorSpec) =>
    state.factors[spec.name] as State;

  return {
    name: "scaleByShampooPytorchOptimizer",
    init(layout) {
      const w = workspaceOf(layout);
      const factors: State = {};
      for (const plan of w.plans) {
        const perTensor: State = {};
        plan.dims.forEach((d, i) => {
          perTensor[plan.statisticKeys[i]] = identityMatrix(d, s.matrixEps);
          perTensor[plan.rootKeys[i]] = new Float64Array(d * d);
        });
        factors[plan.spec.name] = perTensor;
      }
      return { count: 0, momentum: layout.zeros(), factors };
    },
    update(u, state, ctx) {
      const w = workspaceOf(ctx.layout);
      const t = state.count + 1;
      const rootsDue = t % s.frequency === 0;
      const weightDecay = valueAt(s.weightDecay, state.count);
      // Everything goes to the workspace first, so a failure leaves the state as it was.
      w.plans.forEach((plan, k) => {
        const { spec, dims, modes } = plan;
        if (spec.size === 0) return;
        const start = spec.offset;
        const end = start + spec.size;
        const result = w.result.subarray(start, end);
        if (s.momentum > 0) {
          // The buffer starts as the first gradient itself.
          portMomentum(u, t === 1 ? u : state.momentum, s.momentum, result, start, end);
        } else {
          for (let i = start; i < end; i++) result[i - start] = u[i];
        }
        if (weightDecay !== 0 && w.decayed[k]) {
          addScaledRange(result, ctx.params, weightDecay, start, end);
        }
        const factors = factorsOf(state, spec);
        let g = result;
        let other = w.spare.subarray(0, spec.size);
        dims.forEach((n, mode) => {
          const statistic = w.statistics[k][mode];
          statistic.set(factors[plan.statisticKeys[mode]] as Float64Array);
          modeGram(g, modes[mode], statistic, true);
          requireFinite(owner, `statistic of dimension ${mode}`, spec.name, statistic);
          const rootOfMode = w.roots[k][mode];
          if (rootsDue) {
            inverseRoot(statistic, n, dims.length, rootOfMode, { epsilon: 0 });
            requireFinite(owner, `inverse root of dimension ${mode}`, spec.name, rootOfMode);
          } else {
            rootOfMode.set(factors[plan.rootKeys[mode]] as Float64Array);
          }
          modeProduct(rootOfMode, false, g, modes[mode], other);
          [g, other] = [other, g];
        });
        if (g !== result) result.set(g);
      });
      w.plans.forEach((plan, k) => {
        const factors = factorsOf(state, plan.spec);
        plan.dims.forEach((_, mode) => {
          (factors[plan.statisticKeys[mode]] as Float64Array).set(w.statistics[k][mode]);
          if (rootsDue) (factors[plan.rootKeys[mode]] as Float64Array).set(w.roots[k][mode]);
        });
      });
      state.momentum.set(w.result);
      u.set(w.result);
      state.count = t;
    },
  };
}

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * Replaces each matrix's gradient by Shampoo's direction (before `−lr`): the paper form with
 * grafting by default, or the pytorch-optimizer port with `compatibility: "pytorch-optimizer"`
 * (see the file header). The paper form needs every tensor to have two or more dimensions.
 */
export function scaleByShampoo(
  options: ScaleByShampooOptions = {},
): GradientTransform<ShampooState> | GradientTransform<ShampooPortState> {
  const owner = "scaleByShampoo";
  const compatibility = checkChoice(owner, "compatibility", options.compatibility ?? "paper", [
    "paper",
    "pytorch-optimizer",
  ]);
  return compatibility === "paper"
    ? paperShampoo(owner, paperSettings(owner, options))
    : portShampoo(owner, portSettings(owner, options));
}

/** How {@link shampoo} applies weight decay. */
export type ShampooWeightDecayType = "decoupled" | "l2";

/** Options of {@link shampoo}. */
export interface ShampooOptions extends Omit<
  ScaleByShampooOptions,
  "weightDecay" | "weightDecayMask"
> {
  /** Step size (constant or schedule; default 0.01, or 1e-3 for the pytorch-optimizer form). */
  learningRate?: Hyper;
  /** Weight decay coefficient (default 0). */
  weightDecay?: Hyper;
  /**
   * `"decoupled"`: θ ← θ − lr·(D + wd·θ) (the paper form's default, Distributed Shampoo's
   * DECOUPLED). `"l2"`: wd·θ added to the gradient (the pytorch-optimizer form's default; there
   * after the momentum mix, as the port).
   */
  weightDecayType?: ShampooWeightDecayType;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/**
 * Shampoo for layouts made only of matrices (or any tensors with the pytorch-optimizer form);
 * for whole networks route vectors elsewhere with `routeMatrices` (e.g. to AdamW).
 */
export function shampoo(options: ShampooOptions = {}): ChainTransform {
  const owner = "shampoo";
  checkKnownOptions(owner, options, [
    ...new Set<string>([...PAPER_OPTIONS, ...PORT_OPTIONS]),
    "learningRate",
    "weightDecayType",
  ]);
  const {
    learningRate,
    weightDecay = 0,
    weightDecayType,
    weightDecayMask,
    ...shampooOptions
  } = options;
  const compatibility = checkChoice(owner, "compatibility", options.compatibility ?? "paper", [
    "paper",
    "pytorch-optimizer",
  ]);
  const port = compatibility === "pytorch-optimizer";
  const lr = checkLearningRate(owner, learningRate ?? (port ? 1e-3 : 1e-2));
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const type = checkChoice(
    owner,
    "weightDecayType",
    weightDecayType ?? (port ? "l2" : "decoupled"),
    ["decoupled", "l2"],
  );
  const decayed = wd !== 0;
  const parts: GradientTransform[] = [];
  if (port && type === "l2") {
    parts.push(
      scaleByShampoo({
        ...shampooOptions,
        ...(decayed ? { weightDecay: wd } : {}),
        ...(decayed && weightDecayMask !== undefined ? { weightDecayMask } : {}),
      }),
    );
  } else {
    if (decayed && type === "l2") parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
    parts.push(scaleByShampoo(shampooOptions));
    if (decayed && type === "decoupled") {
      parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
    }
  }
  parts.push(scaleByLearningRate(lr));
  return chain(...parts);
}
