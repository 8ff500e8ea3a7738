/**
 * The layer-statistics oracle's types: what a model made of dense layers reports about one batch
 * for Kronecker-factored curvature methods (K-FAC, MKOR): each layer's inputs and the gradients of
 * every example's loss with respect to the layer's pre-activations. The factors of the layer's
 * Fisher block are averages of their outer products, E[a·aᵀ] and E[g·gᵀ].
 */
import type { FloatArray } from "../params/layout.js";

/** One dense layer of a model, as the layer-statistics oracle describes it. */
export interface DenseLayer {
  /** Name of the weight tensor, shape [inputs, outputs] (the layer computes `a·W + b`). */
  readonly weight: string;
  /** Name of the bias tensor, shape [outputs]; absent for a layer without bias. */
  readonly bias?: string;
  /** Width of the layer's input a (fanIn). */
  readonly inputs: number;
  /** Width of the layer's pre-activation s (fanOut). */
  readonly outputs: number;
}

/** The batch statistics of one dense layer (see {@link DenseLayerStatistics}). */
export interface DenseLayerBatch {
  /** The layer's inputs a, B × inputs row-major, without a 1 appended for the bias. */
  readonly inputs: FloatArray;
  /**
   * ∂ℓ_i/∂s_i for every example i, B × outputs row-major: the gradient of example i's own loss
   * with respect to the layer's pre-activation (not divided by B).
   */
  readonly outputGradients: FloatArray;
}

/** What `Objective.layerStatistics` returns. */
export interface DenseLayerStatistics {
  /** B, the number of examples of the batch (rows of every array). */
  readonly examples: number;
  /** The mean loss over the batch, on the labels the gradients were taken with. */
  readonly loss: number;
  /** One entry per layer, in the order of `Objective.denseLayers`. */
  readonly layers: readonly DenseLayerBatch[];
}

/** Which labels the layer statistics are taken with. */
export type LayerStatisticsLabels = "data" | "sampled";

/** Options of `Objective.layerStatistics`. */
export interface LayerStatisticsOptions {
  /**
   * `"data"` (default): the training labels (empirical Fisher). `"sampled"`: labels drawn from
   * the model's own predictions (true Fisher), fixed by `seed` and `count`.
   */
  labels?: LayerStatisticsLabels;
  /** Philox seed of the sampled labels, an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** Philox stream of the sampled labels, an integer in [0, 2^53) (default 0). */
  count?: number;
}
