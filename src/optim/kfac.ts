/**
 * K-FAC: natural-gradient steps with the Fisher of each dense layer approximated by a Kronecker
 * product of two small factors.
 *
 * Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored Approximate
 * Curvature", ICML 2015. Reference implementation: alecwangcq/KFAC-Pytorch @ 25e6dbe,
 * `optimizers/kfac.py` (`KFACOptimizer`) and `utils/kfac_utils.py`; the eigenbasis form of the
 * damped inverse is the one George, Laurent, Bouthillier, Ballas & Vincent describe in
 * "Fast Approximate Natural Gradient Descent in a Kronecker-factored Eigenbasis", NeurIPS 2018.
 *
 * For a dense layer s = a·W + b (W stored [inputs, outputs]) with augmented input ā = [a, 1] and
 * per-example pre-activation gradient g = ∂ℓ_i/∂s (the objective's layer statistics, see
 * oracles/denseLayers.ts), the layer's Fisher block is approximated by A ⊗ G with
 *
 *     Â = (1/B) Σ_i ā_i ā_iᵀ,   Ĝ = (1/B) Σ_i g_i g_iᵀ           (one batch of B examples)
 *     A ← β·A + (1 − β)·Â,   G ← β·G + (1 − β)·Ĝ             (every T_cov steps; A = G = I at start)
 *     A = Q_A diag(α) Q_Aᵀ,   G = Q_G diag(γ) Q_Gᵀ          (every T_inv steps; α, γ ≤ 1e-10 → 0)
 *
 * and the augmented gradient W̄ = [∇W; ∇b] ((inputs + 1) × outputs) is preconditioned by
 *
 *     eigen (default):  V = Q_A [(Q_Aᵀ W̄ Q_G) ⊘ (α γᵀ + λ)] Q_Gᵀ  = mat((A ⊗ G + λI)⁻¹ vec(W̄))
 *     factored:         V = (A + π√λ·I)⁻¹ W̄ (G + √λ/π·I)⁻¹,   π² = (tr A / dim A) / (tr G / dim G)
 *
 * the second being Martens & Grosse's π-corrected factored Tikhonov damping (§6.3; π = 1 when a
 * trace is 0), computed in the same eigenbasis. (KFAC-Pytorch stores W as [outputs, inputs] and
 * writes G⁻¹·∇W·A⁻¹; with descend's [inputs, outputs] layout the factors trade sides.) Then the
 * KL clip scales every preconditioned layer by one factor,
 *
 *     ν = min(1, √(κ / (η²·Σ_layers ⟨V, W̄⟩)))             (ν = 1 when the sum is not positive)
 *
 * with η the learning rate. Tensors that are not part of a preconditioned layer pass through
 * unchanged, so the rest of the chain treats them with their plain gradient, as the reference
 * does. {@link kfac} ends the chain as KFAC-Pytorch's `_step`: L2 weight decay added to the
 * direction (only from step 20·T_cov on, as there), heavy-ball momentum with the buffer starting
 * at the first direction, then −η.
 *
 * Statistics. At every step t with t mod T_cov = 0 (t counting from 0) the transform asks the
 * objective for its layer statistics at the current parameters: on labels sampled from the model
 * (`fisher: "sampled"`, the true Fisher, as KFAC-Pytorch's training loop) with Philox seed
 * `seed` and stream t, or on the training labels (`fisher: "empirical"`). The inverse is
 * refreshed at t mod T_inv = 0, after the statistics of that step.
 *
 * Defaults are KFAC-Pytorch's `KFACOptimizer`: lr 1e-3, momentum 0.9, stat_decay 0.95, damping
 * 1e-3, kl_clip 1e-3, weight_decay 0, TCov 10, TInv 100. Arithmetic is float64 whatever the
 * parameters' dtype.
 */
import { InvalidArgumentError } from "../errors.js";
import {
  appendOnes,
  divideByEigenvalueProducts,
  dot,
  floorEigenvalues,
  gatherLayer,
  scatterLayer,
  trace,
} from "../kernels/kfac.js";
import { eigh } from "../linalg/eigh.js";
import { gram, matmul } from "../linalg/matmul.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type {
  FetchedLayerStatistics,
  InnerSgdOptions,
  LayerStatisticsChoice,
  LayerStep,
} from "./kroneckerLayers.js";
import {
  LAYER_STATISTICS_OPTIONS,
  checkStatisticsRequest,
  layerPreconditioner,
  withInnerSgd,
} from "./kroneckerLayers.js";
import { identityMatrix } from "./matrices.js";
import { checkBeta, checkLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

// The layer plumbing shared with MKOR is defined in ./kroneckerLayers.ts and remains part of
// this module's exports.
export type { DenseLayerPlan, FetchedLayerStatistics } from "./kroneckerLayers.js";
export { checkLayerSelector, fetchLayerStatistics, planLayers } from "./kroneckerLayers.js";

/** Eigenvalues at or below this are set to 0, as KFAC-Pytorch's `_update_inv`. */
const EIGENVALUE_FLOOR = 1e-10;

/** How {@link scaleByKfac} damps the Kronecker-factored Fisher (see the file header). */
export type KfacDamping = "eigen" | "factored";

/** Which Fisher {@link scaleByKfac} estimates: labels sampled from the model, or the data's. */
export type KfacFisher = "sampled" | "empirical";

/** Options of {@link scaleByKfac}. */
export interface ScaleByKfacOptions extends LayerStatisticsChoice {
  /** Damping λ > 0 (default 1e-3). */
  damping?: number;
  /** `"eigen"` (default, λ added to A ⊗ G) or `"factored"` (π-corrected Tikhonov). */
  dampingForm?: KfacDamping;
  /** Decay β ∈ [0, 1) of the factors' moving averages (default 0.95). */
  statDecay?: number;
  /** Steps between statistics updates, T_cov (integer ≥ 1, default 10). */
  covarianceInterval?: number;
  /** Steps between eigendecompositions of the factors, T_inv (integer ≥ 1, default 100). */
  inverseInterval?: number;
  /** KL clip κ > 0, or `Infinity` for no clipping (default 1e-3). */
  klClip?: number;
  /** The learning rate η the KL clip assumes (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** `"sampled"` (default, true Fisher) or `"empirical"` (training labels). */
  fisher?: KfacFisher;
}

/** State of one preconditioned layer of {@link scaleByKfac} (float64 buffers). */
export interface KfacLayerState extends State {
  /** The input factor A, (inputs + 1)² with a bias, inputs² without. */
  factorA: Float64Array;
  /** The output factor G, outputs². */
  factorG: Float64Array;
  /** Eigenvectors of A (as columns) at the last refresh. */
  vectorsA: Float64Array;
  /** Eigenvalues of A at the last refresh, floored. */
  valuesA: Float64Array;
  /** Eigenvectors of G (as columns) at the last refresh. */
  vectorsG: Float64Array;
  /** Eigenvalues of G at the last refresh, floored. */
  valuesG: Float64Array;
  /** Shift added to A's eigenvalues (factored damping; 0 for eigen damping). */
  shiftA: number;
  /** Shift added to G's eigenvalues (factored damping; 0 for eigen damping). */
  shiftG: number;
}

/** State of {@link scaleByKfac}. */
export interface KfacState extends State {
  /** Updates applied so far (drives the statistics and inverse schedules). */
  count: number;
  /** One {@link KfacLayerState} per preconditioned layer, keyed by its weight's name. */
  layers: State;
}

/** What one step works on (see `layerPreconditioner`). */
type KfacStep = LayerStep<KfacLayerState, LayerScratch>;

/** Scratch of one layer: the next factors and eigensystems, the gradient and the direction. */
interface LayerScratch {
  readonly factorA: Float64Array;
  readonly factorG: Float64Array;
  readonly vectorsA: Float64Array;
  readonly valuesA: Float64Array;
  readonly vectorsG: Float64Array;
  readonly valuesG: Float64Array;
  shiftA: number;
  shiftG: number;
  readonly gradient: Float64Array;
  readonly direction: Float64Array;
  readonly product: Float64Array;
  augmented: Float64Array;
}

const SCALE_BY_KFAC_OPTIONS = [
  "damping",
  "dampingForm",
  "statDecay",
  "covarianceInterval",
  "inverseInterval",
  "klClip",
  "learningRate",
  ...LAYER_STATISTICS_OPTIONS,
];

/**
 * Preconditions the gradient of every dense layer by its damped Kronecker-factored Fisher
 * inverse and applies the KL clip (the direction, before momentum and `−lr`). Needs the
 * objective's layer statistics every `covarianceInterval` steps.
 */
export function scaleByKfac(options: ScaleByKfacOptions = {}): GradientTransform<KfacState> {
  const owner = "scaleByKfac";
  checkKnownOptions(owner, options, SCALE_BY_KFAC_OPTIONS);
  const damping = checkNumber(owner, "damping", options.damping ?? 1e-3, { above: 0 });
  const dampingForm = checkChoice(owner, "dampingForm", options.dampingForm ?? "eigen", [
    "eigen",
    "factored",
  ]);
  const statDecay = checkBeta(owner, "statDecay", options.statDecay ?? 0.95);
  const interval = { integer: true, min: 1 };
  const covarianceInterval = checkNumber(
    owner,
    "covarianceInterval",
    options.covarianceInterval ?? 10,
    interval,
  );
  const inverseInterval = checkNumber(
    owner,
    "inverseInterval",
    options.inverseInterval ?? 100,
    interval,
  );
  const klClip = options.klClip ?? 1e-3;
  if (!(klClip === Infinity || (typeof klClip === "number" && klClip > 0 && klClip < Infinity))) {
    throw new InvalidArgumentError(owner, "klClip", klClip, "a number > 0, or Infinity for none");
  }
  const learningRate = checkLearningRate(owner, options.learningRate ?? 1e-3);
  const request = checkStatisticsRequest(owner, "optimizer kfac", options, "sampled");

  /** The next factors from the statistics, into the scratch (the state is only read). */
  const accumulate = (
    { plans, scratch, states }: KfacStep,
    { statistics, indices }: FetchedLayerStatistics,
  ): void => {
    const rows = statistics.examples;
    plans.forEach((p, l) => {
      const s = scratch[l];
      const { inputs, outputGradients } = statistics.layers[indices[l]];
      s.factorA.set(states[l].factorA);
      s.factorG.set(states[l].factorG);
      const scale = { alpha: (1 - statDecay) / rows, beta: statDecay };
      if (p.located.bias) {
        if (s.augmented.length < rows * p.sizeA) s.augmented = new Float64Array(rows * p.sizeA);
        const augmented = s.augmented.subarray(0, rows * p.sizeA);
        appendOnes(inputs, rows, p.located.inputs, augmented);
        gram(augmented, rows, p.sizeA, s.factorA, "right", scale);
      } else {
        gram(inputs, rows, p.sizeA, s.factorA, "right", scale);
      }
      gram(outputGradients, rows, p.sizeG, s.factorG, "right", scale);
    });
  };

  /** Eigendecompositions (and damping shifts) of the factors in `factorA` / `factorG`. */
  const decompose = ({ plans, scratch }: KfacStep): void => {
    plans.forEach((p, l) => {
      const s = scratch[l];
      eigh(s.factorA, p.sizeA, s.valuesA, s.vectorsA);
      eigh(s.factorG, p.sizeG, s.valuesG, s.vectorsG);
      floorEigenvalues(s.valuesA, EIGENVALUE_FLOOR);
      floorEigenvalues(s.valuesG, EIGENVALUE_FLOOR);
      if (dampingForm === "factored") {
        const meanA = trace(s.factorA, p.sizeA) / p.sizeA;
        const meanG = trace(s.factorG, p.sizeG) / p.sizeG;
        const pi = meanA > 0 && meanG > 0 ? Math.sqrt(meanA / meanG) : 1;
        const gamma = Math.sqrt(damping);
        s.shiftA = pi * gamma;
        s.shiftG = gamma / pi;
      } else {
        s.shiftA = 0;
        s.shiftG = 0;
      }
    });
  };

  const step = (layers: KfacStep): void => {
    const { u, count, plans, scratch, states, fresh } = layers;
    const refresh = count % inverseInterval === 0;
    if (fresh) accumulate(layers, fresh);
    else if (refresh) {
      plans.forEach((_, l) => {
        scratch[l].factorA.set(states[l].factorA);
        scratch[l].factorG.set(states[l].factorG);
      });
    }
    if (refresh) decompose(layers);
    const lambda = dampingForm === "eigen" ? damping : 0;
    let inner = 0;
    plans.forEach((p, l) => {
      const s = scratch[l];
      const eigen = refresh ? s : states[l];
      const rows = p.sizeA;
      const cols = p.sizeG;
      gatherLayer(u, p.weightOffset, p.biasOffset, p.located.inputs, cols, s.gradient);
      // V = Q_A [(Q_Aᵀ W̄ Q_G) ⊘ D] Q_Gᵀ, through `product` and `direction`.
      matmul(eigen.vectorsA, s.gradient, rows, rows, cols, s.product, { transposeA: true });
      matmul(s.product, eigen.vectorsG, rows, cols, cols, s.direction);
      divideByEigenvalueProducts(
        s.direction,
        rows,
        cols,
        eigen.valuesA,
        eigen.valuesG,
        eigen.shiftA,
        eigen.shiftG,
        lambda,
      );
      matmul(s.direction, eigen.vectorsG, rows, cols, cols, s.product, { transposeB: true });
      matmul(eigen.vectorsA, s.product, rows, rows, cols, s.direction);
      inner += dot(s.direction, s.gradient, rows * cols);
    });
    const lr = valueAt(learningRate, count);
    const quadratic = lr * lr * inner;
    const nu =
      klClip === Infinity || !(quadratic > 0) ? 1 : Math.min(1, Math.sqrt(klClip / quadratic));
    // Nothing below can fail: commit.
    plans.forEach((p, l) => {
      const s = scratch[l];
      const target = states[l];
      if (fresh) {
        target.factorA.set(s.factorA);
        target.factorG.set(s.factorG);
      }
      if (refresh) {
        target.vectorsA.set(s.vectorsA);
        target.valuesA.set(s.valuesA);
        target.vectorsG.set(s.vectorsG);
        target.valuesG.set(s.valuesG);
        target.shiftA = s.shiftA;
        target.shiftG = s.shiftG;
      }
      scatterLayer(s.direction, nu, u, p.weightOffset, p.biasOffset, p.located.inputs, p.sizeG);
    });
  };

  return layerPreconditioner<KfacLayerState, LayerScratch>({
    name: "scaleByKfac",
    request,
    scratch: (p) => ({
      factorA: new Float64Array(p.sizeA * p.sizeA),
      factorG: new Float64Array(p.sizeG * p.sizeG),
      vectorsA: new Float64Array(p.sizeA * p.sizeA),
      valuesA: new Float64Array(p.sizeA),
      vectorsG: new Float64Array(p.sizeG * p.sizeG),
      valuesG: new Float64Array(p.sizeG),
      shiftA: 0,
      shiftG: 0,
      gradient: new Float64Array(p.sizeA * p.sizeG),
      direction: new Float64Array(p.sizeA * p.sizeG),
      product: new Float64Array(p.sizeA * p.sizeG),
      augmented: new Float64Array(0),
    }),
    initialState: (p) => ({
      factorA: identityMatrix(p.sizeA),
      factorG: identityMatrix(p.sizeG),
      vectorsA: identityMatrix(p.sizeA),
      valuesA: new Float64Array(p.sizeA).fill(1),
      vectorsG: identityMatrix(p.sizeG),
      valuesG: new Float64Array(p.sizeG).fill(1),
      shiftA: 0,
      shiftG: 0,
    }),
    due: (count) => count % covarianceInterval === 0,
    step,
  });
}

/** Options of {@link kfac}. */
export interface KfacOptions extends Omit<ScaleByKfacOptions, "learningRate">, InnerSgdOptions {
  /** Step size η (constant or schedule; default 1e-3), also used by the KL clip. */
  learningRate?: Hyper;
  /** Step from which weight decay applies (default 20·covarianceInterval, as the reference). */
  weightDecayStart?: number;
}

/**
 * K-FAC as KFAC-Pytorch's `KFACOptimizer`: the preconditioned, KL-clipped direction of
 * {@link scaleByKfac}, L2 weight decay from step `weightDecayStart`, heavy-ball momentum, `−lr`.
 * Needs an objective with layer statistics (e.g. `denseNetwork`).
 */
export function kfac(options: KfacOptions = {}): ChainTransform {
  const owner = "kfac";
  return withInnerSgd(
    owner,
    options,
    [...SCALE_BY_KFAC_OPTIONS, "momentum", "weightDecay", "weightDecayStart", "weightDecayMask"],
    1e-3,
    ({ weightDecayStart, ...rest }, { learningRate, weightDecay }) => {
      const start = checkNumber(
        owner,
        "weightDecayStart",
        weightDecayStart ?? 20 * (rest.covarianceInterval ?? 10),
        { integer: true, min: 0 },
      );
      return {
        transform: scaleByKfac({ ...rest, learningRate }),
        weightDecay: (count) => (count >= start ? valueAt(weightDecay, count) : 0),
      };
    },
  );
}
