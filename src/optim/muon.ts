/**
 * Muon: momentum orthogonalized by Newton–Schulz, for the weight matrices of a network.
 *
 * Jordan, Jin, Boza, You, Cesista, Newhouse & Bernstein, "Muon: An optimizer for hidden layers
 * in neural networks", 2024 (kellerjordan.github.io/posts/muon). Reference implementation:
 * KellerJordan/Muon @ 857d1ad, `muon.py` (`SingleDeviceMuon`, `SingleDeviceMuonWithAuxAdam`,
 * `muon_update`, `zeropower_via_newtonschulz5`).
 *
 * Update of each matrix W (rows × cols) at step t, with G its gradient:
 *
 *     M ← μ·M + (1−μ)·G                                  (momentum, an EMA)
 *     U = (1−μ)·G + μ·M  (Nesterov, default)   or   U = M
 *     O = NS₅(U)                ≈ polar factor of U (src/linalg/newtonSchulz.ts, quintic)
 *     W ← W − lr·(s·O + wd·W)   s = √max(1, rows/cols)    (decoupled weight decay)
 *
 * The scale s is the reference code's. `updateScale: "matchAdamW"` takes instead
 * s = 0.2·√max(rows, cols) (Liu, Su, Lu et al., "Muon is Scalable for LLM Training", Moonshot
 * AI, arXiv:2502.16982, 2025; MoonshotAI/Moonlight @ c2ad5b2, examples/toy_train.py,
 * `adjust_lr_for_muon`), which gives the update the RMS of a typical AdamW update so that
 * AdamW's learning rate and weight decay carry over; there weight decay stays `lr·wd`, as here.
 * (Moonlight keeps the momentum as a sum, M ← μ·M + G, which is (1−μ)⁻¹ times the EMA above;
 * the orthogonalization removes the factor, up to the ε of its normalization.)
 *
 * Tensors with more than two dimensions (convolution filters) are viewed as [shape[0],
 * product of the rest], as the reference code does for 4-D filters, and the scale s uses that
 * view (the reference code takes the ratio of the last two dimensions of a 4-D filter instead).
 * Vectors and scalars are not matrices: a layout holding one is rejected when the state is
 * created, naming the tensor. Route them to an element-wise optimizer with
 * {@link muonWithAdamw}, which pairs Muon with AdamW as the reference `…WithAuxAdam` classes do.
 *
 * Defaults are `SingleDeviceMuon`'s: lr 0.02, momentum 0.95, Nesterov, weight decay 0, 5
 * Newton–Schulz steps with (a, b, c) = (3.4445, −4.7750, 2.0315) and ε = 1e-7. The reference
 * runs Newton–Schulz in bfloat16; here it runs in the parameters' precision (float32 or
 * float64). Conformance: test/conformance/muon.test.ts replays that implementation's
 * trajectories.
 */
import { muonMomentum, scaleRange } from "../kernels/muon.js";
import type { NewtonSchulz, NewtonSchulzCoefficients } from "../linalg/newtonSchulz.js";
import { checkCoefficients, createNewtonSchulz } from "../linalg/newtonSchulz.js";
import type { FloatArray, Selector, TensorSpec } from "../params/layout.js";
import { selectorPredicate } from "../params/layout.js";
import type { AdamOptions } from "./adam.js";
import { adamw } from "./adam.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { DECOUPLED_DECAY_OPTIONS, withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import type { MatrixShape } from "./matrices.js";
import { matrixShapes, tensorViews } from "./matrices.js";
import type { PartitionTransform } from "./partition.js";
import { partition } from "./partition.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

// ---------------------------------------------------------------------------------------------
// What the orthogonalizing transforms share

// The matrix views are defined in ./matrices.ts and remain part of this module's exports.
export type { MatrixShape } from "./matrices.js";
export { matrixShape, tensorViews } from "./matrices.js";

/** How the orthogonalized update of a rows × cols matrix is scaled. */
export type MuonUpdateScale = "aspectRatio" | "matchAdamW" | "none";

const UPDATE_SCALES: readonly MuonUpdateScale[] = ["aspectRatio", "matchAdamW", "none"];

/** Validates an `updateScale` option: one of the {@link MuonUpdateScale} names. */
export function checkUpdateScale(owner: string, value: unknown): MuonUpdateScale {
  return checkChoice(owner, "updateScale", value, UPDATE_SCALES);
}

/** The factor {@link MuonUpdateScale} gives a rows × cols matrix. */
export function muonScaleFactor(scale: MuonUpdateScale, { rows, cols }: MatrixShape): number {
  if (scale === "aspectRatio") return Math.sqrt(Math.max(1, rows / cols));
  if (scale === "matchAdamW") return 0.2 * Math.sqrt(Math.max(rows, cols));
  return 1;
}

/** Options of Newton–Schulz as the orthogonalizing transforms name them. */
export interface OrthogonalizationOptions {
  /** Newton–Schulz iterations (default 5). */
  nsSteps?: number;
  /** Newton–Schulz coefficients: `"quintic"` (Muon's, default), `"cubic"` or [a, b, c]. */
  nsCoefficients?: "quintic" | "cubic" | NewtonSchulzCoefficients;
  /** ε added to the Frobenius norm before Newton–Schulz (default 1e-7). */
  nsEps?: number;
}

/** The option names of {@link OrthogonalizationOptions}. */
export const ORTHOGONALIZATION_OPTIONS: readonly string[] = ["nsSteps", "nsCoefficients", "nsEps"];

/** Builds the orthogonalizer of {@link OrthogonalizationOptions}; errors name `owner`. */
export function orthogonalizer(owner: string, options: OrthogonalizationOptions): NewtonSchulz {
  return createNewtonSchulz({
    steps: checkNumber(owner, "nsSteps", options.nsSteps ?? 5, { integer: true, min: 0 }),
    coefficients: checkCoefficients(owner, "nsCoefficients", options.nsCoefficients ?? "quintic"),
    eps: checkNumber(owner, "nsEps", options.nsEps ?? 1e-7, { min: 0 }),
  });
}

// ---------------------------------------------------------------------------------------------
// Muon

/** Options of {@link scaleByMuon}. */
export interface ScaleByMuonOptions extends OrthogonalizationOptions {
  /** Momentum μ ∈ [0, 1) of the gradient EMA (default 0.95). */
  momentum?: number;
  /** Orthogonalize the Nesterov look-ahead (1−μ)·G + μ·M instead of M (default true). */
  nesterov?: boolean;
  /**
   * Scale of the orthogonalized update: `"aspectRatio"` √max(1, rows/cols) (default, the
   * reference code's), `"matchAdamW"` 0.2·√max(rows, cols) (Moonshot's) or `"none"`.
   */
  updateScale?: MuonUpdateScale;
}

/** State of {@link scaleByMuon}. */
export interface MuonState extends State {
  /** Updates applied so far. */
  count: number;
  /** Momentum buffer M, per parameter. */
  mu: FloatArray;
}

const SCALE_BY_MUON_OPTIONS = ["momentum", "nesterov", "updateScale", ...ORTHOGONALIZATION_OPTIONS];

/**
 * Replaces each matrix's gradient by Muon's orthogonalized (Nesterov) momentum, scaled by its
 * shape (the direction, before `−lr`). Every tensor must have two or more dimensions.
 */
export function scaleByMuon(options: ScaleByMuonOptions = {}): GradientTransform<MuonState> {
  const owner = "scaleByMuon";
  checkKnownOptions(owner, options, SCALE_BY_MUON_OPTIONS);
  const beta = checkBeta(owner, "momentum", options.momentum ?? 0.95);
  const nesterov = checkBoolean(owner, "nesterov", options.nesterov ?? true);
  const updateScale = checkUpdateScale(owner, options.updateScale ?? "aspectRatio");
  const orthogonalize = orthogonalizer(owner, options);
  const shapesOf = matrixShapes(owner);
  return {
    name: "scaleByMuon",
    init(layout) {
      shapesOf(layout);
      return { count: 0, mu: layout.zeros() };
    },
    update(u, state, ctx) {
      const { layout } = ctx;
      const matrices = shapesOf(layout);
      const views = tensorViews(u, layout);
      for (let k = 0; k < matrices.length; k++) {
        const { offset, size } = layout.tensors[k];
        if (size === 0) continue;
        const shape = matrices[k];
        muonMomentum(u, state.mu, beta, nesterov, offset, offset + size);
        orthogonalize(views[k], shape.rows, shape.cols, views[k]);
        scaleRange(u, muonScaleFactor(updateScale, shape), offset, offset + size);
      }
      state.count++;
    },
  };
}

/** Options of {@link muon}. */
export interface MuonOptions extends ScaleByMuonOptions, DecoupledDecayOptions {
  /** Step size (constant or schedule; default 0.02). */
  learningRate?: Hyper;
  /** Decoupled weight decay, W ← W − lr·wd·W (default 0). */
  weightDecay?: Hyper;
}

/** Muon for layouts made only of matrices; see {@link muonWithAdamw} for whole networks. */
export function muon(options: MuonOptions = {}): ChainTransform {
  return withDecoupledDecay(
    "muon",
    options,
    [...DECOUPLED_DECAY_OPTIONS, ...SCALE_BY_MUON_OPTIONS],
    { learningRate: 0.02, weightDecay: 0 },
    scaleByMuon,
  );
}

// ---------------------------------------------------------------------------------------------
// Matrices to one optimizer, everything else to another

/** Which tensors count as the matrices of a network by default: two or more dimensions. */
export const isMatrix = (tensor: TensorSpec): boolean => tensor.shape.length >= 2;

/** Options of {@link routeMatrices}. */
export interface RouteMatricesOptions {
  /** The transform of the matrices (group `"matrices"`). */
  matrices: GradientTransform;
  /** The transform of every other tensor (group `"rest"`). */
  rest: GradientTransform;
  /**
   * Which tensors go to `matrices` (default: those with two or more dimensions). Embeddings
   * and output layers are matrices that the Muon authors give to AdamW: exclude them here.
   */
  select?: Selector;
}

/**
 * A {@link partition} into the groups `"matrices"` and `"rest"`: the tensors chosen by
 * `select` (default {@link isMatrix}) and all the others.
 */
export function routeMatrices(options: RouteMatricesOptions): PartitionTransform {
  checkKnownOptions("routeMatrices", options, ["matrices", "rest", "select"]);
  const chosen = selectorPredicate(options.select ?? isMatrix);
  return partition(
    { matrices: chosen, rest: (t: TensorSpec) => !chosen(t) },
    { matrices: options.matrices, rest: options.rest },
  );
}

/** Options of {@link muonWithAdamw}. */
export interface MuonWithAdamwOptions {
  /** Options of the Muon group (defaults those of {@link muon}). */
  muon?: MuonOptions;
  /**
   * Options of the AdamW group. Defaults are the reference auxiliary Adam's: lr 3e-4,
   * β = (0.9, 0.95), ε = 1e-10, weight decay 0.
   */
  adamw?: AdamOptions;
  /** Which tensors Muon optimizes (default: those with two or more dimensions). */
  matrices?: Selector;
}

/**
 * Muon for the matrices and AdamW for everything else (biases, norm scales, and whatever
 * `matrices` leaves out, such as embeddings and the output layer), as the reference
 * `SingleDeviceMuonWithAuxAdam`. The state has the groups `"matrices"` and `"rest"`.
 */
export function muonWithAdamw(options: MuonWithAdamwOptions = {}): PartitionTransform {
  checkKnownOptions("muonWithAdamw", options, ["muon", "adamw", "matrices"]);
  return routeMatrices({
    matrices: muon(options.muon),
    rest: adamw({
      learningRate: 3e-4,
      beta1: 0.9,
      beta2: 0.95,
      eps: 1e-10,
      weightDecay: 0,
      ...options.adamw,
    }),
    select: options.matrices,
  });
}
