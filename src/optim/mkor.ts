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
import type { DenseLayerStatistics } from "../oracles/denseLayers.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import { INDEX_LIMIT } from "../random/philox.js";
import type { Hyper } from "./hyper.js";
import type { DenseLayerPlan, FetchedLayerStatistics } from "./kfac.js";
import { checkLayerSelector, fetchLayerStatistics, planLayers } from "./kfac.js";
import {
  addDecayedWeights,
  checkBeta,
  checkLearningRate,
  scaleByLearningRate,
} from "./primitives.js";
import { scaleByMomentum } from "./sgd.js";
import type { ChainTransform, GradientTransform, State, StepContext } from "./transform.js";
import { chain } from "./transform.js";
import { checkChoice, checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Which update rules {@link scaleByMkor} follows (see the file header). */
export type MkorForm = "official" | "paper";

/** Options of {@link scaleByMkor}. */
export interface ScaleByMkorOptions {
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
  /** Philox seed of sampled labels, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** The weight tensors to precondition (default: every 2-D tensor); see `locateDenseLayers`. */
  layers?: Selector;
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

function setIdentity(m: Float64Array, n: number): Float64Array {
  m.fill(0);
  for (let i = 0; i < n; i++) m[i * n + i] = 1;
  return m;
}

function identity(n: number): Float64Array {
  return setIdentity(new Float64Array(n * n), n);
}

/**
 * Preconditions the gradient of every dense layer by MKOR's Sherman–Morrison-updated factor
 * inverses and rescales it to the gradient's norm (the direction, before the inner optimizer).
 * Needs the objective's layer statistics on refresh steps.
 */
export function scaleByMkor(options: ScaleByMkorOptions = {}): GradientTransform<MkorState> {
  const owner = "scaleByMkor";
  checkKnownOptions(owner, options, [
    "form",
    "inverseInterval",
    "statDecay",
    "stabilizationFactor",
    "stabilizationThreshold",
    "clippingValue",
    "warmupSteps",
    "fisher",
    "seed",
    "layers",
  ]);
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
  const fisher = checkChoice(owner, "fisher", options.fisher ?? "empirical", [
    "empirical",
    "sampled",
  ]);
  const seed = checkNumber(owner, "seed", options.seed ?? 0, {
    integer: true,
    min: 0,
    below: INDEX_LIMIT,
  });
  const selector = checkLayerSelector(owner, options.layers);
  const requester = "optimizer mkor";
  const official = form === "official";

  const plans = new WeakMap<Layout, DenseLayerPlan[]>();
  const scratches = new WeakMap<Layout, LayerScratch[]>();
  const planFor = (layout: Layout): DenseLayerPlan[] => {
    let plan = plans.get(layout);
    if (!plan) plans.set(layout, (plan = planLayers(owner, layout, selector)));
    return plan;
  };
  const scratchFor = (layout: Layout): LayerScratch[] => {
    let scratch = scratches.get(layout);
    if (!scratch) {
      scratch = planFor(layout).map((p) => ({
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
      }));
      scratches.set(layout, scratch);
    }
    return scratch;
  };

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
    plan: readonly DenseLayerPlan[],
    scratch: readonly LayerScratch[],
    layerStates: readonly MkorLayerState[],
    statistics: DenseLayerStatistics,
    indices: Int32Array,
  ): void => {
    const rows = statistics.examples;
    plan.forEach((p, l) => {
      const s = scratch[l];
      const layer = layerStates[l];
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

  const step = (
    u: FloatArray,
    state: MkorState,
    ctx: StepContext,
    fresh: FetchedLayerStatistics | undefined,
  ): void => {
    const plan = planFor(ctx.layout);
    const scratch = scratchFor(ctx.layout);
    const layerStates = plan.map((p) => state.layers[p.key] as MkorLayerState);
    if (fresh) refresh(plan, scratch, layerStates, fresh.statistics, fresh.indices);
    plan.forEach((p, l) => {
      const s = scratch[l];
      const inverseA = fresh ? s.inverseA : layerStates[l].inverseA;
      const inverseG = fresh ? s.inverseG : layerStates[l].inverseG;
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
    plan.forEach((p, l) => {
      const s = scratch[l];
      const layer = layerStates[l];
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
    state.count++;
  };

  return {
    name: "scaleByMkor",
    needs: ["layerStatistics"],
    init(layout) {
      scratchFor(layout);
      const layers: State = {};
      for (const p of planFor(layout)) {
        const layer: MkorLayerState = {
          inverseA: identity(p.sizeA),
          inverseG: identity(p.sizeG),
          resetA: official ? 1 : 0,
          resetG: official ? 1 : 0,
        };
        layers[p.key] = layer;
      }
      return { count: 0, layers };
    },
    update(u, state, ctx) {
      const t = state.count;
      const plan = planFor(ctx.layout);
      // Without a preconditioned layer there is nothing to ask the objective for.
      if ((t % inverseInterval !== 0 && t >= warmupSteps) || plan.length === 0) {
        step(u, state, ctx, undefined);
        return;
      }
      return fetchLayerStatistics(owner, requester, ctx, plan, {
        labels: fisher === "sampled" ? "sampled" : "data",
        seed,
        count: t,
      }).then((fresh) => step(u, state, ctx, fresh));
    },
  };
}

/** Options of {@link mkor}. */
export interface MkorOptions extends ScaleByMkorOptions {
  /** Step size of the inner SGD (constant or schedule; default 0.1). */
  learningRate?: Hyper;
  /** Momentum μ ∈ [0, 1) of the inner SGD (default 0.9). */
  momentum?: number;
  /** L2 weight decay of the inner SGD, added to the direction (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/**
 * MKOR as the official `MKOR` optimizer with its default inner `optimizer='sgd'`: the
 * preconditioned, norm-rescaled direction of {@link scaleByMkor}, then torch.optim.SGD's L2
 * weight decay, momentum and `−lr` on every tensor. Needs an objective with layer statistics
 * (e.g. `denseNetwork`).
 */
export function mkor(options: MkorOptions = {}): ChainTransform {
  const owner = "mkor";
  checkKnownOptions(owner, options, [
    "form",
    "inverseInterval",
    "statDecay",
    "stabilizationFactor",
    "stabilizationThreshold",
    "clippingValue",
    "warmupSteps",
    "fisher",
    "seed",
    "layers",
    "learningRate",
    "momentum",
    "weightDecay",
    "weightDecayMask",
  ]);
  const { learningRate = 0.1, momentum = 0.9, weightDecay = 0, weightDecayMask, ...rest } = options;
  const lr = checkLearningRate(owner, learningRate);
  const mu = checkBeta(owner, "momentum", momentum);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const parts: GradientTransform[] = [scaleByMkor(rest)];
  if (wd !== 0) parts.push(addDecayedWeights(wd, { mask: weightDecayMask }));
  if (mu !== 0) parts.push(scaleByMomentum({ momentum: mu }));
  parts.push(scaleByLearningRate(lr));
  return chain(...parts);
}
