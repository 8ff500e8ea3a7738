/**
 * MKOR: Kronecker-factored preconditioning whose factor inverses are kept up to date by rank-1
 * Sherman–Morrison updates from batch-mean statistics, O(n²) per factor instead of an O(n³)
 * inversion.
 *
 * Mozaffari, Li, Zhang & Dehnavi, "MKOR: Momentum-Enabled Kronecker-Factor-Based Optimizer
 * Using Rank-1 Updates", NeurIPS 2023 (Algorithm 1). Official implementation:
 * Mohammad-Mozaffari/mkor @ 3a0e3bb, `mkor/mkor.py` (class `MKOR`) and `mkor/utils/factors.py`
 * (`ComputeI`, `ComputeG`, `sm_inverse`).
 *
 * For a dense layer s = a·W + b (W stored [inputs, outputs], augmented weight W̄ = [W; b]), at
 * every refresh step (t mod T_inv = 0, or t < warmup) the objective's layer statistics give the
 * batch means of the clamped augmented inputs and per-example pre-activation gradients,
 *
 *     ā = (1/B) Σ_i clamp([a_i, 1], ±c),     ḡ = (1/B) Σ_i clamp(∂ℓ_i/∂s_i, ±c)
 *
 * and each factor inverse P (P_A for the inputs, P_G for the outputs, identity at the start) is
 * updated with its vector v (ā or ḡ) in one of two forms:
 *
 *   official (default, as `mkor.py`):
 *     reset flag set:   P ← I, clear the flag                    (set at the start)
 *     otherwise:        P' = γ·P + (1 − γ)·I,   P ← (P'⁻¹ + v·vᵀ)⁻¹ = P' − P'v·vᵀP' / (1 + vᵀP'v)
 *     after an update:  max|P| > ε  ⇒  set the reset flags of both factors of the layer
 *   paper (Algorithm 1, the factor F = P⁻¹ a moving average of v·vᵀ):
 *     P̂ = (1 − ζ)·P + ζ·I if max|P| > ε, else P                 (norm-based stabilization)
 *     F ← γ·F̂ + (1 − γ)·v·vᵀ,   P ← (P̂/γ) − (1 − γ)·(P̂v)(P̂v)ᵀ / (γ² + γ(1 − γ)·vᵀP̂v)
 *
 * (The official code blends the inverse with I using a fixed 0.95, which equals its default
 * `stat_decay`; here γ = `statDecay` in both forms. Its `stabilization_factor` branch never runs:
 * a reset always restores I. The paper's Algorithm 1 prints the Sherman–Morrison step with a
 * sign and γ placement that do not invert its own factor update; the form above is the exact
 * inverse of F ← γ·F̂ + (1 − γ)·v·vᵀ.) The inputs side is updated before the outputs side, so a
 * reset triggered by P_A already replaces P_G's update at the same refresh, as in the reference.
 *
 * The gradient of every preconditioned layer is then
 *
 *     V = P_A · W̄ · P_G,   W̄ ← ρ·V                    (the reference's G⁻¹·∇W·A⁻¹ in torch's layout)
 *     official: ρ = (‖∇W‖ + ‖∇b‖) / (‖V_W‖ + ‖V_b‖)      (norms of weight and bias added)
 *     paper:    ρ = ‖W̄‖ / ‖V‖
 *
 * and the raw gradient is kept where ρ is not finite (a zero gradient). Tensors outside the
 * preconditioned layers pass through unchanged, and {@link mkor} hands every tensor to the inner
 * optimizer, SGD with momentum and L2 weight decay (the reference's default `optimizer='sgd'`).
 *
 * Defaults are the official `MKOR` class's: stat_decay γ = 0.95, inv_freq T_inv = 10,
 * stabilization threshold ε = 2 (its max-abs test), stabilization factor ζ = 0.1 (paper form),
 * clipping value c = 100, warmup 0 steps, statistics from the training labels (its hooks read the
 * training backward pass). The inner SGD's learning rate 0.1 and momentum 0.9 are those of the
 * repository's CIFAR-10 ResNet example (examples/resnet50/examples/torch_cifar10_resnet.py); the
 * reference computes in float16 by default, here everything is float64.
 */
import { gatherLayer, scatterLayer } from "../kernels/kfac.js";
import {
  blendWithIdentity,
  clampedColumnMean,
  euclideanNorm,
  maxAbs,
  shermanMorrisonUpdate,
} from "../kernels/mkor.js";
import { matmul } from "../linalg/matmul.js";
import type { Hyper } from "./hyper.js";
import type {
  FetchedLayerStatistics,
  InnerSgdOptions,
  LayerStatisticsChoice,
  LayerStep,
} from "./kroneckerLayers.js";
import {
  INNER_SGD_OPTIONS,
  LAYER_STATISTICS_OPTIONS,
  checkStatisticsRequest,
  layerPreconditioner,
  withInnerSgd,
} from "./kroneckerLayers.js";
import { identityMatrix, setIdentity } from "./matrices.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

/** Which update rules {@link scaleByMkor} follows (see the file header). */
export type MkorForm = "official" | "paper";

/** Options of {@link scaleByMkor}. */
export interface ScaleByMkorOptions extends LayerStatisticsChoice {
  /** `"official"` (default, the reference code) or `"paper"` (Algorithm 1). */
  form?: MkorForm;
  /** Steps between refreshes of the inverses, T_inv (integer ≥ 1, default 10). */
  inverseInterval?: number;
  /** Decay γ of the factors (default 0.95); in (0, 1) for the paper form, [0, 1) otherwise. */
  statDecay?: number;
  /** Stabilization blend ζ ∈ [0, 1] of the paper form (default 0.1). */
  stabilizationFactor?: number;
  /** Threshold ε > 0 on the largest |entry| of an inverse that triggers stabilization (default 2). */
  stabilizationThreshold?: number;
  /** Bound c > 0 of the per-example statistics before averaging (default 100). */
  clippingValue?: number;
  /** Steps at the start that refresh every step (integer ≥ 0, default 0). */
  warmupSteps?: number;
  /** `"empirical"` (default, training labels) or `"sampled"` (labels drawn from the model). */
  fisher?: "empirical" | "sampled";
}

/** State of one preconditioned layer of {@link scaleByMkor} (float64 buffers). */
export interface MkorLayerState extends State {
  /** P_A, the inverse of the input factor: (inputs + 1)² with a bias, inputs² without. */
  inverseA: Float64Array;
  /** P_G, the inverse of the output factor: outputs². */
  inverseG: Float64Array;
  /** 1 when the next refresh resets P_A to I (official form). */
  resetA: number;
  /** 1 when the next refresh resets P_G to I (official form). */
  resetG: number;
}

/** State of {@link scaleByMkor}. */
export interface MkorState extends State {
  /** Updates applied so far (drives the refresh schedule). */
  count: number;
  /** One {@link MkorLayerState} per preconditioned layer, keyed by its weight's name. */
  layers: State;
}

/** What one step works on (see `layerPreconditioner`). */
type MkorStep = LayerStep<MkorLayerState, LayerScratch>;

interface LayerScratch {
  readonly meanA: Float64Array;
  readonly meanG: Float64Array;
  readonly inverseA: Float64Array;
  readonly inverseG: Float64Array;
  resetA: number;
  resetG: number;
  readonly work: Float64Array;
  readonly gradient: Float64Array;
  readonly product: Float64Array;
  readonly direction: Float64Array;
  scale: number;
}

const SCALE_BY_MKOR_OPTIONS = [
  "form",
  "inverseInterval",
  "statDecay",
  "stabilizationFactor",
  "stabilizationThreshold",
  "clippingValue",
  "warmupSteps",
  ...LAYER_STATISTICS_OPTIONS,
];

/**
 * Preconditions the gradient of every dense layer by MKOR's Sherman–Morrison-updated factor
 * inverses and rescales it to the gradient's norm (the direction, before the inner optimizer).
 * Needs the objective's layer statistics on refresh steps.
 */
export function scaleByMkor(options: ScaleByMkorOptions = {}): GradientTransform<MkorState> {
  const owner = "scaleByMkor";
  checkKnownOptions(owner, options, SCALE_BY_MKOR_OPTIONS);
  const form = checkChoice(owner, "form", options.form ?? "official", ["official", "paper"]);
  const inverseInterval = checkNumber(owner, "inverseInterval", options.inverseInterval ?? 10, {
    integer: true,
    min: 1,
  });
  const statDecay =
    form === "paper"
      ? checkNumber(owner, "statDecay", options.statDecay ?? 0.95, { above: 0, below: 1 })
      : checkBeta(owner, "statDecay", options.statDecay ?? 0.95);
  const stabilizationFactor = checkNumber(
    owner,
    "stabilizationFactor",
    options.stabilizationFactor ?? 0.1,
    { min: 0, max: 1 },
  );
  const threshold = checkNumber(
    owner,
    "stabilizationThreshold",
    options.stabilizationThreshold ?? 2,
    { above: 0 },
  );
  const clip = checkNumber(owner, "clippingValue", options.clippingValue ?? 100, { above: 0 });
  const warmupSteps = checkNumber(owner, "warmupSteps", options.warmupSteps ?? 0, {
    integer: true,
    min: 0,
  });
  const request = checkStatisticsRequest(owner, "optimizer mkor", options, "empirical");
  const official = form === "official";

  /**
   * One factor's refresh into `target` (from `source`, the state's inverse): returns whether the
   * update stayed positive definite.
   */
  const updateInverse = (
    source: Float64Array,
    n: number,
    v: Float64Array,
    work: Float64Array,
    target: Float64Array,
  ): boolean => {
    if (official) {
      const d = shermanMorrisonUpdate(source, n, v, statDecay, 1 - statDecay, 1, work, target);
      return d > 0 && d < Infinity;
    }
    target.set(source);
    if (maxAbs(target) > threshold) blendWithIdentity(target, n, stabilizationFactor);
    const d = shermanMorrisonUpdate(target, n, v, 1 / statDecay, 0, 1 - statDecay, work, target);
    return d > 0 && d < Infinity;
  };

  const refresh = (
    { plans, scratch, states }: MkorStep,
    { statistics, indices }: FetchedLayerStatistics,
  ): void => {
    const rows = statistics.examples;
    plans.forEach((p, l) => {
      const s = scratch[l];
      const layer = states[l];
      const { inputs, outputGradients } = statistics.layers[indices[l]];
      const withBias = p.located.bias !== undefined;
      clampedColumnMean(inputs, rows, p.located.inputs, clip, withBias, s.meanA);
      clampedColumnMean(outputGradients, rows, p.sizeG, clip, false, s.meanG);
      s.resetA = layer.resetA;
      s.resetG = layer.resetG;
      const sides = [
        { source: layer.inverseA, target: s.inverseA, n: p.sizeA, v: s.meanA, side: "A" },
        { source: layer.inverseG, target: s.inverseG, n: p.sizeG, v: s.meanG, side: "G" },
      ] as const;
      for (const { source, target, n, v, side } of sides) {
        const flag = side === "A" ? "resetA" : "resetG";
        if (official && s[flag] === 1) {
          setIdentity(target, n);
          s[flag] = 0;
          continue;
        }
        if (!updateInverse(source, n, v, s.work, target)) {
          throw new RangeError(
            `${owner}: the rank-1 update of the ${side === "A" ? "input" : "output"} factor of ${p.key} is not positive definite (its statistics are too large); the parameters and the optimizer state were left unchanged`,
          );
        }
        if (official && !(maxAbs(target) <= threshold)) {
          s.resetA = 1;
          s.resetG = 1;
        }
      }
    });
  };

  const step = (layers: MkorStep): void => {
    const { u, plans, scratch, states, fresh } = layers;
    if (fresh) refresh(layers, fresh);
    plans.forEach((p, l) => {
      const s = scratch[l];
      const inverseA = fresh ? s.inverseA : states[l].inverseA;
      const inverseG = fresh ? s.inverseG : states[l].inverseG;
      const rows = p.sizeA;
      const cols = p.sizeG;
      const weightSize = p.located.inputs * cols;
      gatherLayer(u, p.weightOffset, p.biasOffset, p.located.inputs, cols, s.gradient);
      matmul(inverseA, s.gradient, rows, rows, cols, s.product);
      matmul(s.product, inverseG, rows, cols, cols, s.direction);
      const total = rows * cols;
      const ratio = official
        ? (euclideanNorm(s.gradient, 0, weightSize) +
            euclideanNorm(s.gradient, weightSize, total)) /
          (euclideanNorm(s.direction, 0, weightSize) +
            euclideanNorm(s.direction, weightSize, total))
        : euclideanNorm(s.gradient, 0, total) / euclideanNorm(s.direction, 0, total);
      s.scale = ratio;
    });
    // Nothing below can fail: commit.
    plans.forEach((p, l) => {
      const s = scratch[l];
      const layer = states[l];
      if (fresh) {
        layer.inverseA.set(s.inverseA);
        layer.inverseG.set(s.inverseG);
        layer.resetA = s.resetA;
        layer.resetG = s.resetG;
      }
      if (Number.isFinite(s.scale)) {
        scatterLayer(
          s.direction,
          s.scale,
          u,
          p.weightOffset,
          p.biasOffset,
          p.located.inputs,
          p.sizeG,
        );
      }
    });
  };

  return layerPreconditioner<MkorLayerState, LayerScratch>({
    name: "scaleByMkor",
    request,
    scratch: (p) => ({
      meanA: new Float64Array(p.sizeA),
      meanG: new Float64Array(p.sizeG),
      inverseA: new Float64Array(p.sizeA * p.sizeA),
      inverseG: new Float64Array(p.sizeG * p.sizeG),
      resetA: 0,
      resetG: 0,
      work: new Float64Array(Math.max(p.sizeA, p.sizeG)),
      gradient: new Float64Array(p.sizeA * p.sizeG),
      product: new Float64Array(p.sizeA * p.sizeG),
      direction: new Float64Array(p.sizeA * p.sizeG),
      scale: 1,
    }),
    initialState: (p) => ({
      inverseA: identityMatrix(p.sizeA),
      inverseG: identityMatrix(p.sizeG),
      resetA: official ? 1 : 0,
      resetG: official ? 1 : 0,
    }),
    due: (count) => count % inverseInterval === 0 || count < warmupSteps,
    step,
  });
}

/** Options of {@link mkor}: those of {@link scaleByMkor} and of the inner SGD. */
export interface MkorOptions extends ScaleByMkorOptions, InnerSgdOptions {
  /** Step size of the inner SGD (constant or schedule; default 0.1). */
  learningRate?: Hyper;
}

/**
 * MKOR as the official `MKOR` optimizer with its default inner `optimizer='sgd'`: the
 * preconditioned, norm-rescaled direction of {@link scaleByMkor}, then torch.optim.SGD's L2
 * weight decay, momentum and `−lr` on every tensor. Needs an objective with layer statistics
 * (e.g. `denseNetwork`).
 */
export function mkor(options: MkorOptions = {}): ChainTransform {
  return withInnerSgd(
    "mkor",
    options,
    [...SCALE_BY_MKOR_OPTIONS, ...INNER_SGD_OPTIONS],
    0.1,
    (rest) => ({ transform: scaleByMkor(rest) }),
  );
}
