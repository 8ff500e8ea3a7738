/**
 * What the Kronecker-factored preconditioners of dense layers (K-FAC, ./kfac.ts; MKOR,
 * ./mkor.ts) share: where each preconditioned layer sits in the flat buffer, the objective's
 * layer statistics fetched on their schedule, the options that choose those statistics, and the
 * inner SGD (L2 weight decay, heavy-ball momentum, −lr) that both reference implementations run
 * after the preconditioned direction.
 */
import { InvalidArgumentError, MissingOracleError } from "../errors.js";
import type {
  DenseLayerStatistics,
  LayerStatisticsObjective,
  LocatedDenseLayer,
} from "../oracles/denseLayers.js";
import {
  checkLayerStatistics,
  locateDenseLayers,
  matchDenseLayers,
  requireLayerStatistics,
} from "../oracles/denseLayers.js";
import type { FloatArray, Layout, Selector } from "../params/layout.js";
import { INDEX_LIMIT } from "../random/philox.js";
import type { Hyper } from "./hyper.js";
import { perLayout } from "./perLayout.js";
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

// ---------------------------------------------------------------------------------------------
// The preconditioned layers

/** Where a preconditioned dense layer sits in the flat buffer, and its factors' orders. */
export interface DenseLayerPlan {
  /** The layer's tensors. */
  readonly located: LocatedDenseLayer;
  /** Its key in the transform's state: the weight's name. */
  readonly key: string;
  /** Offset of the weight in the buffer. */
  readonly weightOffset: number;
  /** Offset of the bias in the buffer, or −1 without a bias. */
  readonly biasOffset: number;
  /** Order of the input factor: inputs + 1 with a bias (homogeneous coordinate), inputs without. */
  readonly sizeA: number;
  /** Order of the output factor: outputs. */
  readonly sizeG: number;
}

/**
 * Validates the `layers` option of K-FAC and MKOR: left out, or a {@link Selector} (glob,
 * RegExp, list of names or predicate).
 */
export function checkLayerSelector(owner: string, value: unknown): Selector | undefined {
  const ok =
    value === undefined ||
    typeof value === "string" ||
    typeof value === "function" ||
    value instanceof RegExp ||
    (Array.isArray(value) && value.every((name) => typeof name === "string"));
  if (!ok) {
    throw new InvalidArgumentError(
      owner,
      "layers",
      value,
      "a selector of weight tensors (glob string, RegExp, list of names or predicate)",
    );
  }
  return value as Selector | undefined;
}

/**
 * The preconditioned dense layers of `layout` (see `locateDenseLayers`), in buffer order: the
 * plan K-FAC and MKOR share.
 */
export function planLayers(owner: string, layout: Layout, selector?: Selector): DenseLayerPlan[] {
  return locateDenseLayers(owner, layout, selector).map((located) => ({
    located,
    key: located.weight.name,
    weightOffset: located.weight.offset,
    biasOffset: located.bias ? located.bias.offset : -1,
    sizeA: located.inputs + (located.bias ? 1 : 0),
    sizeG: located.outputs,
  }));
}

// ---------------------------------------------------------------------------------------------
// Statistics

/** Layer statistics fetched for a step, as {@link fetchLayerStatistics} returns them. */
export interface FetchedLayerStatistics {
  /** What the objective returned, checked. */
  readonly statistics: DenseLayerStatistics;
  /** For each planned layer, its index in `statistics.layers`. */
  readonly indices: Int32Array;
}

/**
 * The objective's layer statistics at `ctx.params`, checked, with the index of each planned
 * layer among them (shared by K-FAC and MKOR).
 *
 * @throws `MissingOracleError` when the step has no objective or it lacks `layerStatistics`;
 *   `InvalidArgumentError` when the step sees only part of the objective's parameters;
 *   `ShapeMismatchError` / `NonFiniteError` for statistics that do not fit or are not finite
 */
export async function fetchLayerStatistics(
  owner: string,
  requester: string,
  ctx: StepContext,
  plans: readonly DenseLayerPlan[],
  labels: { labels: "data" | "sampled"; seed: number; count: number },
): Promise<FetchedLayerStatistics> {
  if (ctx.objective === undefined) {
    throw new MissingOracleError(
      "(none given)",
      "layerStatistics",
      `${requester} (drive it with opt.step(objective) or opt.update(grads, objective))`,
    );
  }
  const objective: LayerStatisticsObjective = requireLayerStatistics(ctx.objective, requester);
  if (!objective.layout.equals(ctx.layout)) {
    throw new InvalidArgumentError(
      owner,
      "parameters",
      `${ctx.layout.tensors.length} tensors of ${ctx.layout.size} values`,
      `the whole parameter vector of objective "${objective.name}" (${objective.layout.size} values): a Kronecker-factored transform must see every parameter, so put it before a partition, not inside one`,
    );
  }
  const indices = matchDenseLayers(
    owner,
    plans.map((p) => p.located),
    objective,
  );
  const statistics = await objective.layerStatistics(ctx.params, labels);
  checkLayerStatistics(owner, objective, statistics);
  return { statistics, indices };
}

/** Which Fisher a layer preconditioner estimates: labels sampled from the model, or the data's. */
export type FisherLabels = "sampled" | "empirical";

/** The options that choose a layer preconditioner's statistics. */
export interface LayerStatisticsChoice {
  /** `"sampled"` (the true Fisher) or `"empirical"` (training labels). */
  fisher?: FisherLabels;
  /** Philox seed of the sampled labels, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** The weight tensors to precondition (default: every 2-D tensor); see `locateDenseLayers`. */
  layers?: Selector;
}

/** The option names of {@link LayerStatisticsChoice}, in the order they are checked. */
export const LAYER_STATISTICS_OPTIONS: readonly string[] = ["fisher", "seed", "layers"];

/** How a layer preconditioner asks for statistics, from its checked {@link LayerStatisticsChoice}. */
export interface StatisticsRequest {
  /** The transform named in errors. */
  readonly owner: string;
  /** The optimizer named when the objective lacks the oracle. */
  readonly requester: string;
  /** The labels of the statistics: sampled from the model, or the data's. */
  readonly labels: "sampled" | "data";
  /** Philox seed of sampled labels. */
  readonly seed: number;
  /** The weight tensors to precondition (undefined: every 2-D tensor). */
  readonly layers: Selector | undefined;
}

/** Checks `fisher` (default `defaultFisher`), `seed` and `layers`; errors name `owner`. */
export function checkStatisticsRequest(
  owner: string,
  requester: string,
  options: LayerStatisticsChoice,
  defaultFisher: FisherLabels,
): StatisticsRequest {
  const other: FisherLabels = defaultFisher === "sampled" ? "empirical" : "sampled";
  const fisher = checkChoice(owner, "fisher", options.fisher ?? defaultFisher, [
    defaultFisher,
    other,
  ]);
  const seed = checkNumber(owner, "seed", options.seed ?? 0, {
    integer: true,
    min: 0,
    below: INDEX_LIMIT,
  });
  const layers = checkLayerSelector(owner, options.layers);
  return { owner, requester, labels: fisher === "sampled" ? "sampled" : "data", seed, layers };
}

// ---------------------------------------------------------------------------------------------
// The transform

/** State of a transform built by {@link layerPreconditioner}. */
export interface LayerPreconditionerState extends State {
  /** Updates applied so far (drives the statistics schedule). */
  count: number;
  /** One state per preconditioned layer, keyed by its weight's name. */
  layers: State;
}

/** What one step of a layer preconditioner works on (arrays in plan order). */
export interface LayerStep<L extends State, W> {
  /** The update buffer: the gradient in, the direction out. */
  readonly u: FloatArray;
  /** The step's context. */
  readonly ctx: StepContext;
  /** Updates applied before this one. */
  readonly count: number;
  /** The preconditioned layers. */
  readonly plans: readonly DenseLayerPlan[];
  /** Each layer's scratch (rewritten every step, not state). */
  readonly scratch: readonly W[];
  /** Each layer's state. */
  readonly states: readonly L[];
  /** The objective's statistics, on the steps that fetch them. */
  readonly fresh: FetchedLayerStatistics | undefined;
}

/** The parts that make a Kronecker-factored layer preconditioner (see {@link layerPreconditioner}). */
export interface LayerPreconditionerParts<L extends State, W> {
  /** The transform's name. */
  readonly name: string;
  /** How it asks for statistics (and which layers it preconditions). */
  readonly request: StatisticsRequest;
  /** A layer's scratch, made once per layout. */
  scratch(plan: DenseLayerPlan): W;
  /** A layer's initial state. */
  initialState(plan: DenseLayerPlan): L;
  /** Whether the step after `count` updates fetches statistics. */
  due(count: number): boolean;
  /** Rewrites the update buffer and advances the layer states; leaves them as they were when it throws. */
  step(step: LayerStep<L, W>): void;
}

/**
 * A transform that preconditions the dense layers `request.layers` chooses: plans and scratch
 * made once per layout, one state per layer, and on the steps that are `due` the objective's
 * statistics fetched (asynchronously) before `step` runs; a layout without preconditioned layers
 * never asks for them. Tensors outside the layers are left to `step` (K-FAC and MKOR pass them
 * through).
 */
export function layerPreconditioner<L extends State, W>(
  parts: LayerPreconditionerParts<L, W>,
): GradientTransform<LayerPreconditionerState> {
  const { owner, requester, labels, seed, layers } = parts.request;
  const planFor = perLayout((layout) => planLayers(owner, layout, layers));
  const scratchFor = perLayout((layout) => planFor(layout).map((p) => parts.scratch(p)));
  const run = (
    u: FloatArray,
    state: LayerPreconditionerState,
    ctx: StepContext,
    fresh: FetchedLayerStatistics | undefined,
  ): void => {
    const plans = planFor(ctx.layout);
    const scratch = scratchFor(ctx.layout);
    const states = plans.map((p) => state.layers[p.key] as L);
    parts.step({ u, ctx, count: state.count, plans, scratch, states, fresh });
    state.count++;
  };
  return {
    name: parts.name,
    needs: ["layerStatistics"],
    init(layout) {
      scratchFor(layout);
      const initial: State = {};
      for (const p of planFor(layout)) initial[p.key] = parts.initialState(p);
      return { count: 0, layers: initial };
    },
    update(u, state, ctx) {
      const plans = planFor(ctx.layout);
      if (!parts.due(state.count) || plans.length === 0) {
        run(u, state, ctx, undefined);
        return;
      }
      return fetchLayerStatistics(owner, requester, ctx, plans, {
        labels,
        seed,
        count: state.count,
      }).then((fresh) => run(u, state, ctx, fresh));
    },
  };
}

// ---------------------------------------------------------------------------------------------
// The inner SGD

/** Options of the inner SGD after a layer preconditioner (see {@link withInnerSgd}). */
export interface InnerSgdOptions {
  /** Step size (constant or schedule). */
  learningRate?: Hyper;
  /** Heavy-ball momentum μ ∈ [0, 1) (default 0.9). */
  momentum?: number;
  /** L2 weight decay added to the direction (default 0). */
  weightDecay?: Hyper;
  /** Tensors that receive weight decay (default all). */
  weightDecayMask?: Selector;
}

/** The option names of {@link InnerSgdOptions}. */
export const INNER_SGD_OPTIONS: readonly string[] = [
  "learningRate",
  "momentum",
  "weightDecay",
  "weightDecayMask",
];

/** What the `direction` callback of {@link withInnerSgd} builds. */
export interface PreconditionedDirection {
  /** The preconditioner's transform. */
  readonly transform: GradientTransform;
  /** The weight decay to apply, if not the checked `weightDecay` as it is. */
  readonly weightDecay?: Hyper;
}

/**
 * torch.optim.SGD after a preconditioner, as K-FAC's and MKOR's reference code step:
 * `chain(direction, addDecayedWeights(wd) when wd ≠ 0, scaleByMomentum(μ) when μ ≠ 0,
 * scaleByLearningRate(lr))`. `options` may hold only the names in `known`; the learning rate,
 * momentum and weight decay are checked before `direction` builds (and checks) the rest.
 */
export function withInnerSgd<O extends InnerSgdOptions>(
  owner: string,
  options: O,
  known: readonly string[],
  defaultLearningRate: Hyper,
  direction: (
    rest: Omit<O, keyof InnerSgdOptions>,
    checked: { readonly learningRate: Hyper; readonly weightDecay: Hyper },
  ) => PreconditionedDirection,
): ChainTransform {
  checkKnownOptions(owner, options, known);
  const {
    learningRate = defaultLearningRate,
    momentum = 0.9,
    weightDecay = 0,
    weightDecayMask,
    ...rest
  } = options;
  const lr = checkLearningRate(owner, learningRate);
  const mu = checkBeta(owner, "momentum", momentum);
  const wd = checkHyper(owner, "weightDecay", weightDecay, { min: 0 });
  const built = direction(rest, { learningRate: lr, weightDecay: wd });
  const parts: GradientTransform[] = [built.transform];
  if (wd !== 0) parts.push(addDecayedWeights(built.weightDecay ?? wd, { mask: weightDecayMask }));
  if (mu !== 0) parts.push(scaleByMomentum({ momentum: mu }));
  parts.push(scaleByLearningRate(lr));
  return chain(...parts);
}
