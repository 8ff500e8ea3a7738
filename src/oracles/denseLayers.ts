/**
 * Dense networks in jax-js that expose what Kronecker-factored optimizers (K-FAC, MKOR) need:
 * per layer, the batch of layer inputs and the gradients of the loss with respect to the layer's
 * pre-activations.
 *
 * The network is a stack of dense layers ℓ = 1 … L (the weight stored [fanIn, fanOut], as
 * `x·W`):
 *
 *     a_1 = x,   s_ℓ = a_ℓ·W_ℓ + b_ℓ,   a_{ℓ+1} = act(s_ℓ) (ℓ < L),   z = s_L
 *     f(θ) = (1/B) Σ_i ℓ_i(z_i)
 *       softmax cross-entropy:  ℓ_i(z) = −Σ_k y_ik·log softmax(z)_k
 *       squared error:          ℓ_i(z) = ½‖z − y_i‖²
 *
 * with B the rows of the current batch. The layer-statistics oracle returns, for every layer,
 *
 *     inputs           a_ℓ,             B × fanIn    (row i: example i; no 1 appended for the bias)
 *     outputGradients  ∂ℓ_i/∂s_ℓ,i,     B × fanOut   (per example: not divided by B)
 *
 * so that ∇_{W_ℓ} f = (1/B)·a_ℓᵀ·g_ℓ and ∇_{b_ℓ} f = (1/B)·Σ_i g_ℓ,i. A consumer that folds the
 * bias into the weight (K-FAC's homogeneous coordinate) appends the 1 itself: the augmented
 * weight is [W; b], (fanIn + 1) × fanOut, with the bias as its last row.
 *
 * How the gradients are obtained: the statistics function adds a zero perturbation ε_ℓ
 * (B × fanOut) to every pre-activation and differentiates the summed loss Σ_i ℓ_i with respect
 * to the perturbations; ∂(Σ_i ℓ_i)/∂ε_ℓ,i = ∂ℓ_i/∂s_ℓ,i exactly. The inputs of the hidden layers
 * come back as auxiliary outputs of the same pass, so one forward and one backward pass give
 * every layer's statistics.
 *
 * Labels. With `labels: "data"` the loss is the training loss (the empirical Fisher's
 * statistics). With `labels: "sampled"` the targets are drawn from the model's own predictive
 * distribution with the gradient stopped through the draw, as for the true Fisher of K-FAC
 * (Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored Approximate
 * Curvature", ICML 2015, §5; alecwangcq/KFAC-Pytorch samples `torch.multinomial(softmax(z))`):
 *
 *     cross-entropy:  ŷ_i = the first class whose cumulative probability exceeds u_i
 *                     (the last class if rounding leaves the total below u_i),
 *                     u_i element i of the Philox uniforms (seed, count)
 *     squared error:  ŷ_i = z_i + n_i,  n_i ~ N(0, I) from the Philox normals (seed, count)
 *
 * The class rule is that of `jaxObjective`'s `sampledLabelGrad`, so both draw the same labels
 * for the same seed.
 *
 * Initial weights are Glorot-uniform (Glorot & Bengio, "Understanding the difficulty of training
 * deep feedforward neural networks", AISTATS 2010), W ~ U(−r, r) with r = √(6 / (fanIn +
 * fanOut)), tensor t of the layout drawn from Philox stream (seed, t); biases 0. Mini-batches
 * are slices of one Philox permutation per epoch (stream 1024 + epoch), the remainder of each
 * epoch left out. Both rules are those of `mlpClassifier`, so a network with sizes
 * [inputs, hidden, classes] and the same seed starts at the same weights and visits the same
 * batches.
 */
import { nn, numpy as np, jit, lax, valueAndGrad } from "@jax-js/jax";
import type { Array as JaxArray, OwnedFunction } from "@jax-js/jax";
import type { Dataset } from "../data/dataset.js";
import { permutation } from "../data/dataset.js";
import {
  InvalidArgumentError,
  MissingOracleError,
  NonFiniteError,
  ShapeMismatchError,
} from "../errors.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { DType, FloatArray, Selector, TensorSpec } from "../params/layout.js";
import { Layout } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import { fillNormal, fillUniform } from "../random/distributions.js";
import { INDEX_LIMIT, randomBits } from "../random/philox.js";
import type { HvpOptions, JaxObjective } from "./jax.js";
import { checkHvpOptions, jaxArray, jaxObjective } from "./jax.js";
import type {
  DenseLayer,
  DenseLayerBatch,
  DenseLayerStatistics,
  LayerStatisticsLabels,
  LayerStatisticsOptions,
} from "./layerStatistics.js";
import type { Objective } from "./objective.js";

export type {
  DenseLayer,
  DenseLayerBatch,
  DenseLayerStatistics,
  LayerStatisticsLabels,
  LayerStatisticsOptions,
};
import { checkClassificationData } from "./problems/softmax.js";

/**
 * The layer-statistics oracle: an {@link Objective} whose loss is a mean over the examples of a
 * batch, computed by dense layers, and which reports each layer's inputs and pre-activation
 * gradients (`denseLayers` and `layerStatistics` of {@link Objective}, both present).
 */
export type LayerStatisticsOracle = Required<Pick<Objective, "denseLayers" | "layerStatistics">>;

/** An {@link Objective} with the layer-statistics oracle. */
export type LayerStatisticsObjective = Objective & LayerStatisticsOracle;

/** Whether `objective` provides {@link Objective.layerStatistics}. */
export function hasLayerStatistics(objective: Objective): objective is LayerStatisticsObjective {
  const candidate = objective as Partial<LayerStatisticsOracle>;
  return typeof candidate.layerStatistics === "function" && Array.isArray(candidate.denseLayers);
}

/**
 * Returns `objective` as a {@link LayerStatisticsObjective}, or throws a
 * {@link MissingOracleError} naming the objective, the `"layerStatistics"` oracle and
 * `requester`.
 */
export function requireLayerStatistics(
  objective: Objective,
  requester: string,
): LayerStatisticsObjective {
  if (!hasLayerStatistics(objective)) {
    throw new MissingOracleError(objective.name, "layerStatistics", requester);
  }
  return objective;
}

/** A dense layer found in a parameter layout by {@link locateDenseLayers}. */
export interface LocatedDenseLayer {
  /** The weight tensor, shape [inputs, outputs]. */
  readonly weight: TensorSpec;
  /** Its bias tensor, shape [outputs], when the layout has one. */
  readonly bias?: TensorSpec;
  /** Width of the layer's input (the weight's rows). */
  readonly inputs: number;
  /** Width of the layer's pre-activation (the weight's columns). */
  readonly outputs: number;
}

/**
 * The dense layers of `layout` as a Kronecker-factored optimizer sees them: every tensor chosen
 * by `selector` (default: every 2-D tensor) is a weight [inputs, outputs]; its bias is the 1-D
 * tensor of `outputs` entries whose name is the weight's with a final `weight` replaced by `bias`
 * (`layer1.weight` → `layer1.bias`), when there is one.
 *
 * @throws `InvalidArgumentError` (naming `owner`) when the selector picks a tensor that is not 2-D
 */
export function locateDenseLayers(
  owner: string,
  layout: Layout,
  selector?: Selector,
): LocatedDenseLayer[] {
  const chosen =
    selector === undefined
      ? layout.tensors.filter((t) => t.shape.length === 2)
      : layout.select(selector);
  return chosen.map((weight) => {
    if (weight.shape.length !== 2) {
      throw new InvalidArgumentError(
        owner,
        "layers",
        `${weight.name} [${weight.shape.join(", ")}]`,
        "a selector of 2-D weight tensors [inputs, outputs]",
      );
    }
    const [inputs, outputs] = weight.shape;
    const biasName = weight.name.endsWith("weight") ? `${weight.name.slice(0, -6)}bias` : undefined;
    const candidate =
      biasName !== undefined && layout.has(biasName) ? layout.tensor(biasName) : undefined;
    const bias =
      candidate && candidate.shape.length === 1 && candidate.shape[0] === outputs
        ? candidate
        : undefined;
    return bias ? { weight, bias, inputs, outputs } : { weight, inputs, outputs };
  });
}

/**
 * For each located layer, the index of the same layer in the objective's
 * {@link Objective.denseLayers}, checking that both agree on the weight's shape
 * and on the bias.
 *
 * @throws `ShapeMismatchError` (naming `owner` and the objective) when a layer is not one of the
 *   objective's dense layers or is described differently
 */
export function matchDenseLayers(
  owner: string,
  located: readonly LocatedDenseLayer[],
  objective: LayerStatisticsObjective,
): Int32Array {
  const declared = objective.denseLayers;
  return Int32Array.from(located, (layer) => {
    const index = declared.findIndex((d) => d.weight === layer.weight.name);
    const found = index >= 0 ? declared[index] : undefined;
    if (found === undefined) {
      throw new ShapeMismatchError(
        `${owner}: ${layer.weight.name} is not a dense layer of objective "${objective.name}" (its layers: ${declared.map((d) => d.weight).join(", ") || "none"}); choose the preconditioned tensors with the \`layers\` option`,
      );
    }
    if (found.inputs !== layer.inputs || found.outputs !== layer.outputs) {
      throw new ShapeMismatchError(
        `${owner}: objective "${objective.name}" describes ${found.weight} as ${found.inputs} → ${found.outputs}, the parameters hold [${layer.weight.shape.join(", ")}]`,
      );
    }
    if (found.bias !== layer.bias?.name) {
      throw new ShapeMismatchError(
        `${owner}: objective "${objective.name}" gives ${found.weight} the bias ${found.bias ?? "none"}, the parameters pair it with ${layer.bias?.name ?? "none"}`,
      );
    }
    return index;
  });
}

/**
 * Checks what a layer-statistics oracle returned against the layers it declares: the number of
 * examples, one entry per layer, each array's length, and that every value is finite.
 *
 * @throws `ShapeMismatchError` for a wrong count or length, `NonFiniteError` for NaN or ±Infinity
 */
export function checkLayerStatistics(
  owner: string,
  objective: LayerStatisticsObjective,
  statistics: DenseLayerStatistics,
): void {
  const declared = objective.denseLayers;
  const what = `${owner}: objective "${objective.name}" layerStatistics`;
  const rows = statistics?.examples;
  if (typeof rows !== "number" || !Number.isInteger(rows) || rows < 1) {
    throw new ShapeMismatchError(`${what}: examples must be an integer ≥ 1, got ${String(rows)}`);
  }
  if (!Array.isArray(statistics.layers) || statistics.layers.length !== declared.length) {
    throw new ShapeMismatchError(
      `${what}: expected ${declared.length} layers, got ${Array.isArray(statistics.layers) ? statistics.layers.length : String(statistics.layers)}`,
    );
  }
  declared.forEach((layer, l) => {
    const entry = statistics.layers[l];
    const pieces: [string, FloatArray | undefined, number][] = [
      ["inputs", entry?.inputs, rows * layer.inputs],
      ["outputGradients", entry?.outputGradients, rows * layer.outputs],
    ];
    for (const [field, array, length] of pieces) {
      if (
        !(array instanceof Float32Array || array instanceof Float64Array) ||
        array.length !== length
      ) {
        throw new ShapeMismatchError(
          `${what}: layers[${l}].${field} (${layer.weight}) must hold ${length} values (${rows} examples), got ${array instanceof Float32Array || array instanceof Float64Array ? array.length : String(array)}`,
        );
      }
      for (let k = 0; k < array.length; k++) {
        if (!Number.isFinite(array[k])) {
          throw new NonFiniteError(
            `${what} (${field} of ${layer.weight})`,
            `layers[${l}].${field}`,
            k,
            array[k],
          );
        }
      }
    }
  });
}

/** Hidden activation of {@link denseNetwork}. */
export type DenseActivation = "tanh" | "relu" | "sigmoid" | "identity";

/** Loss of {@link denseNetwork}. */
export type DenseLoss = "softmax-cross-entropy" | "squared-error";

/** Examples as typed arrays: features x (rows × inputs) and targets y (rows × outputs). */
export interface DenseExamples {
  /** Features, row-major. */
  readonly x: FloatArray;
  /** Targets, row-major: one-hot (or probability) rows for cross-entropy, values for squared error. */
  readonly y: FloatArray;
}

/** Options of {@link denseNetwork}; `hvpMode` and `hvpEpsilon` are those of `jaxObjective`. */
export interface DenseNetworkOptions extends HvpOptions {
  /** Layer widths [inputs, hidden₁, …, outputs]: at least two positive integers. */
  sizes: readonly number[];
  /**
   * The examples: typed arrays, or a classification {@link Dataset} (its labels become one-hot
   * targets; only with cross-entropy).
   */
  data: DenseExamples | Dataset;
  /** Loss averaged over the batch (default `"softmax-cross-entropy"`). */
  loss?: DenseLoss;
  /** Activation between layers (default `"tanh"`). */
  activation?: DenseActivation;
  /** Give every layer a bias (default true). */
  bias?: boolean;
  /** Element type of the parameters and data (default float32, which jax-js compiles). */
  dtype?: DType;
  /** Seed of the initial weights and of the mini-batch order, an integer ≥ 0 (default 0). */
  seed?: number;
  /** Rows per mini-batch (select batch k with `setBatch(k)`); omit for full-batch training. */
  batchSize?: number;
  /** Name used in messages and reports (default `dense-<sizes joined by '-'>`). */
  name?: string;
}

/** Parameters of a dense network as its loss sees them: `layer1`, `layer2`, …. */
export type DenseParams = {
  readonly [layer: string]: {
    /** The layer's weight, [inputs, outputs]. */
    readonly weight: JaxArray;
    /** The layer's bias, [outputs]; absent for a network without biases. */
    readonly bias?: JaxArray;
  };
};

/** One batch: features [rows, inputs] and targets [rows, outputs], in the model dtype. */
export type DenseBatch = {
  /** Features. */
  readonly x: JaxArray;
  /** Targets. */
  readonly y: JaxArray;
};

/** The objective {@link denseNetwork} returns. */
export interface DenseNetworkObjective extends JaxObjective<DenseParams, DenseBatch> {
  /** The dense layers, in forward order. */
  readonly denseLayers: readonly DenseLayer[];
  /** B, the number of rows the loss is a mean over (`batchSize`, or every row). */
  readonly batchScale: number;
  /** The widths the network was built with. */
  readonly sizes: readonly number[];
  /** The layer statistics at `params` (see the module comment). */
  layerStatistics(
    params: FloatArray,
    options?: LayerStatisticsOptions,
  ): Promise<DenseLayerStatistics>;
}

/** Philox stream of the permutation of epoch e is BATCH_STREAM + e (tensors use the first ones). */
const BATCH_STREAM = 1024;

const OPTIONS = [
  "sizes",
  "data",
  "loss",
  "activation",
  "bias",
  "dtype",
  "seed",
  "batchSize",
  "name",
  "hvpMode",
  "hvpEpsilon",
];

function isDataset(data: DenseExamples | Dataset): data is Dataset {
  return typeof data === "object" && data !== null && "labels" in data;
}

function checkSizes(owner: string, sizes: unknown): number[] {
  if (!Array.isArray(sizes) || sizes.length < 2) {
    throw new InvalidArgumentError(
      owner,
      "sizes",
      sizes,
      "an array [inputs, hidden…, outputs] of at least two widths",
    );
  }
  return sizes.map((width: unknown, i) =>
    checkNumber(owner, `sizes[${i}]`, width, { integer: true, min: 1 }),
  );
}

/** The examples as float64 features and targets, checked against the widths. */
function examplesOf(
  owner: string,
  data: DenseExamples | Dataset,
  sizes: readonly number[],
  loss: DenseLoss,
): { x: Float64Array; y: Float64Array; rows: number } {
  const inputs = sizes[0];
  const outputs = sizes[sizes.length - 1];
  if (typeof data !== "object" || data === null) {
    throw new InvalidArgumentError(owner, "data", data, "{ x, y } typed arrays or a Dataset");
  }
  if (isDataset(data)) {
    checkClassificationData(owner, data);
    if (loss !== "softmax-cross-entropy") {
      throw new InvalidArgumentError(
        owner,
        "data",
        "a Dataset",
        'typed { x, y } arrays for the "squared-error" loss (a Dataset gives class labels)',
      );
    }
    if (data.cols !== inputs || data.classes !== outputs) {
      throw new ShapeMismatchError(
        `${owner}: sizes [${sizes.join(", ")}] need ${inputs} features and ${outputs} classes, the dataset has ${data.cols} and ${data.classes}`,
      );
    }
    const y = new Float64Array(data.rows * outputs);
    for (let i = 0; i < data.rows; i++) y[i * outputs + data.labels[i]] = 1;
    return { x: Float64Array.from(data.features), y, rows: data.rows };
  }
  const { x, y } = data;
  for (const [name, array] of [
    ["x", x],
    ["y", y],
  ] as const) {
    if (!(array instanceof Float32Array || array instanceof Float64Array)) {
      throw new InvalidArgumentError(
        owner,
        `data.${name}`,
        array,
        "a Float32Array or Float64Array",
      );
    }
  }
  const rows = x.length / inputs;
  if (!Number.isInteger(rows) || rows < 1 || y.length !== rows * outputs) {
    throw new ShapeMismatchError(
      `${owner}: data.x (${x.length} values) and data.y (${y.length} values) must hold rows × ${inputs} and rows × ${outputs} values for some rows ≥ 1`,
    );
  }
  return { x: Float64Array.from(x), y: Float64Array.from(y), rows };
}

function glorotParams(layout: Layout, seed: number): ParamSet {
  const params = new ParamSet(layout);
  layout.tensors.forEach((t, stream) => {
    if (t.shape.length !== 2) return;
    const limit = Math.sqrt(6 / (t.shape[0] + t.shape[1]));
    for (let i = 0; i < t.size; i++) {
      const u = randomBits(seed, stream, i) / 4294967296;
      params.data[t.offset + i] = limit * (2 * u - 1);
    }
  });
  return params;
}

/** Copies rows `rows` (all rows when undefined) of a row-major matrix into the model dtype. */
function gatherRows(
  source: Float64Array,
  width: number,
  rows: Int32Array | undefined,
  dtype: DType,
): FloatArray {
  const count = rows ? rows.length : source.length / width;
  const out =
    dtype === "float64" ? new Float64Array(count * width) : new Float32Array(count * width);
  if (!rows) {
    out.set(source);
    return out;
  }
  for (let k = 0; k < count; k++) {
    out.set(source.subarray(rows[k] * width, (rows[k] + 1) * width), k * width);
  }
  return out;
}

/** Drops every reference to an array this module created, whatever a failed call left behind. */
function releaseAll(array: JaxArray): void {
  while (array.refCount > 0) array.dispose();
}

// jax-js types its transforms by mapping argument trees to other trees; on these loosely typed
// trees that mapping does not terminate in the type checker, so the transforms are seen through
// plain signatures (the runtime functions are jax-js's own).
type StatisticsOutput = [[JaxArray, JaxArray[]], JaxArray[]];
type StatisticsFunction = (
  params: DenseParams,
  perturbations: JaxArray[],
  x: JaxArray,
  targets: JaxArray,
) => StatisticsOutput;
const perturbationGradient = valueAndGrad as unknown as (
  f: (
    params: DenseParams,
    perturbations: JaxArray[],
    x: JaxArray,
    targets: JaxArray,
  ) => [JaxArray, JaxArray[]],
  options: { argnums: 1; hasAux: true },
) => StatisticsFunction;
const compileStatistics = jit as unknown as (
  f: StatisticsFunction,
) => OwnedFunction<StatisticsFunction>;

/**
 * A dense network (multilayer perceptron) in jax-js with the layer-statistics oracle of K-FAC
 * and MKOR, built on `jaxObjective`: value, gradient, JVP and HVP by autodiff, `sampledLabelGrad`
 * for cross-entropy, mini-batches through `setBatch`, and
 * {@link Objective.layerStatistics}. Tensors are named `layer1.weight`
 * ([inputs, hidden₁]), `layer1.bias`, `layer2.weight`, …. Call `dispose()` when done.
 *
 * @example
 * ```ts
 * const net = await denseNetwork({ sizes: [64, 32, 10], data: loadDigits() });
 * const stats = await net.layerStatistics(net.initialParams(), { labels: "sampled", seed: 1 });
 * stats.layers[0].inputs; // 1797 × 64: the pixels
 * stats.layers[1].outputGradients; // 1797 × 10: softmax(z_i) − e_ŷi
 * net.dispose();
 * ```
 */
export async function denseNetwork(options: DenseNetworkOptions): Promise<DenseNetworkObjective> {
  const owner = "denseNetwork";
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(owner, "options", options, "an options object");
  }
  checkKnownOptions(owner, options, OPTIONS);
  const sizes = checkSizes(owner, options.sizes);
  const loss = checkChoice(owner, "loss", options.loss ?? "softmax-cross-entropy", [
    "softmax-cross-entropy",
    "squared-error",
  ]);
  const activation = checkChoice(owner, "activation", options.activation ?? "tanh", [
    "tanh",
    "relu",
    "sigmoid",
    "identity",
  ]);
  const withBias = checkBoolean(owner, "bias", options.bias ?? true);
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float32", ["float32", "float64"]);
  const seed = checkNumber(owner, "seed", options.seed ?? 0, { integer: true, min: 0 });
  const { hvpMode, hvpEpsilon } = checkHvpOptions(owner, options);
  const name = options.name ?? `dense-${sizes.join("-")}`;
  if (typeof name !== "string") throw new InvalidArgumentError(owner, "name", name, "a string");
  const examples = examplesOf(owner, options.data, sizes, loss);
  const batchSize =
    options.batchSize === undefined
      ? examples.rows
      : checkNumber(owner, "batchSize", options.batchSize, { integer: true, min: 1 });
  if (batchSize > examples.rows) {
    throw new InvalidArgumentError(
      owner,
      "batchSize",
      batchSize,
      `at most the ${examples.rows} rows`,
    );
  }

  const depth = sizes.length - 1;
  const inputs = sizes[0];
  const outputs = sizes[depth];
  const layers: DenseLayer[] = [];
  const specs: { name: string; shape: number[] }[] = [];
  for (let l = 0; l < depth; l++) {
    const prefix = `layer${l + 1}`;
    specs.push({ name: `${prefix}.weight`, shape: [sizes[l], sizes[l + 1]] });
    if (withBias) specs.push({ name: `${prefix}.bias`, shape: [sizes[l + 1]] });
    layers.push(
      withBias
        ? {
            weight: `${prefix}.weight`,
            bias: `${prefix}.bias`,
            inputs: sizes[l],
            outputs: sizes[l + 1],
          }
        : { weight: `${prefix}.weight`, inputs: sizes[l], outputs: sizes[l + 1] },
    );
  }
  const layout = new Layout(specs, dtype);
  layers.forEach((layer) => Object.freeze(layer));
  const jaxType = dtype === "float64" ? np.float64 : np.float32;

  const act = {
    tanh: (s: JaxArray) => np.tanh(s),
    relu: (s: JaxArray) => nn.relu(s),
    sigmoid: (s: JaxArray) => nn.sigmoid(s),
    identity: (s: JaxArray) => s,
  }[activation];
  /**
   * The network's outputs z. With `perturbations`, ε_ℓ is added to every pre-activation; with
   * `kept`, the inputs of layers 2 … L are pushed there (layer 1's input is x itself).
   */
  const forward = (
    p: DenseParams,
    x: JaxArray,
    perturbations?: JaxArray[],
    kept?: JaxArray[],
  ): JaxArray => {
    let h = x;
    for (let l = 0; l < depth; l++) {
      const layer = p[`layer${l + 1}`];
      if (kept && l > 0) kept.push(h.ref);
      let s = np.matmul(h, layer.weight);
      if (layer.bias) s = np.add(s, layer.bias);
      if (perturbations) s = np.add(s, perturbations[l]);
      h = l < depth - 1 ? act(s) : s;
    }
    return h;
  };
  /** Σ_i ℓ_i(z_i) against the targets y (one-hot or probabilities, or values). */
  const summedLoss = (z: JaxArray, y: JaxArray): JaxArray => {
    if (loss === "softmax-cross-entropy") {
      return np.negative(np.sum(np.multiply(nn.logSoftmax(z, -1), y)));
    }
    const residual = np.subtract(z, y);
    return np.multiply(np.sum(np.multiply(residual.ref, residual)), 0.5);
  };
  /** (1/B) Σ_i ℓ_i(z_i), written as the mean over rows of the per-row losses. */
  const meanLoss = (z: JaxArray, y: JaxArray): JaxArray => {
    if (loss === "softmax-cross-entropy") {
      return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(z, -1), y), -1)));
    }
    const residual = np.subtract(z, y);
    return np.multiply(np.mean(np.sum(np.multiply(residual.ref, residual), -1)), 0.5);
  };
  /**
   * Targets drawn from the model itself, with the gradient stopped through the draw: the class
   * whose cumulative probability first exceeds the row's uniform, or z + n for squared error.
   */
  const sampledTargets = (z: JaxArray, draws: JaxArray): JaxArray => {
    const fixed = lax.stopGradient(z);
    if (loss === "squared-error") return np.add(fixed, draws);
    const classes = fixed.shape[fixed.shape.length - 1];
    // exp(logSoftmax) rather than softmax, as jaxObjective's sampled loss (same labels).
    const probabilities = np.exp(nn.logSoftmax(fixed, -1));
    const below = np.lessEqual(np.cumsum(probabilities, -1), draws);
    const label = np.minimum(np.sum(np.astype(below, np.int32), -1), classes - 1);
    return np.astype(nn.oneHot(label, classes), z.dtype);
  };
  const dataStatistics = (
    p: DenseParams,
    perturbations: JaxArray[],
    x: JaxArray,
    y: JaxArray,
  ): [JaxArray, JaxArray[]] => {
    const kept: JaxArray[] = [];
    const z = forward(p, x, perturbations, kept);
    return [summedLoss(z, y), kept];
  };
  const sampledStatistics = (
    p: DenseParams,
    perturbations: JaxArray[],
    x: JaxArray,
    draws: JaxArray,
  ): [JaxArray, JaxArray[]] => {
    const kept: JaxArray[] = [];
    const z = forward(p, x, perturbations, kept);
    const targets = sampledTargets(z.ref, draws);
    return [summedLoss(z, targets), kept];
  };
  const compiled = dtype === "float32";
  const owned: OwnedFunction<StatisticsFunction>[] = [];
  const prepare = (fn: StatisticsFunction): StatisticsFunction => {
    if (!compiled) return fn;
    const traced = compileStatistics(fn);
    owned.push(traced);
    return traced;
  };
  const statisticsOf = {
    data: prepare(perturbationGradient(dataStatistics, { argnums: 1, hasAux: true })),
    sampled: prepare(perturbationGradient(sampledStatistics, { argnums: 1, hasAux: true })),
  };

  const batchesPerEpoch = Math.floor(examples.rows / batchSize);
  let epochOrder: { epoch: number; order: Int32Array } | undefined;
  const rowsOfBatch = (k: number): Int32Array => {
    const epoch = Math.floor(k / batchesPerEpoch);
    if (epochOrder?.epoch !== epoch) {
      epochOrder = { epoch, order: permutation(examples.rows, seed, BATCH_STREAM + epoch) };
    }
    const start = (k % batchesPerEpoch) * batchSize;
    return epochOrder.order.slice(start, start + batchSize);
  };
  /** The current batch as typed arrays in the model dtype (set when jax-js loads a batch). */
  let current: { x: FloatArray; y: FloatArray } | undefined;
  const load = (rows: Int32Array | undefined): DenseBatch => {
    const x = gatherRows(examples.x, inputs, rows, dtype);
    const y = gatherRows(examples.y, outputs, rows, dtype);
    current = { x, y };
    return { x: jaxArray(x, [-1, inputs]), y: jaxArray(y, [-1, outputs]) };
  };
  const fullBatch = batchSize === examples.rows;

  const objective = await jaxObjective<DenseParams, DenseBatch>({
    name,
    params: glorotParams(layout, seed),
    data: fullBatch ? load(undefined) : (k: number) => load(rowsOfBatch(k)),
    loss: (p, d) => meanLoss(forward(p, d.x), d.y),
    ...(loss === "softmax-cross-entropy" ? { logits: (p, d) => forward(p, d.x) } : {}),
    hvpMode,
    ...(hvpEpsilon === undefined ? {} : { hvpEpsilon }),
  });
  const disposeModel = objective.dispose.bind(objective);
  let disposed = false;

  const layerStatistics = async (
    params: FloatArray,
    statisticsOptions: LayerStatisticsOptions = {},
  ): Promise<DenseLayerStatistics> => {
    const what = `${name}.layerStatistics`;
    if (disposed) throw new Error(`${what}: the objective has been disposed`);
    checkKnownOptions(what, statisticsOptions, ["labels", "seed", "count"]);
    const labels = checkChoice(what, "labels", statisticsOptions.labels ?? "data", [
      "data",
      "sampled",
    ]);
    const bounds = { integer: true, min: 0, below: INDEX_LIMIT };
    const drawSeed = checkNumber(what, "seed", statisticsOptions.seed ?? 0, bounds);
    const drawStream = checkNumber(what, "count", statisticsOptions.count ?? 0, bounds);
    layout.assertBuffer(params, what);
    if (current === undefined) objective.setBatch(0);
    const batch = current!;
    const rows = batch.x.length / inputs;

    let draws: JaxArray;
    if (labels === "data") {
      draws = jaxArray(batch.y, [rows, outputs]);
    } else if (loss === "softmax-cross-entropy") {
      const u = dtype === "float64" ? new Float64Array(rows) : new Float32Array(rows);
      draws = jaxArray(fillUniform(u, drawSeed, drawStream), [rows, 1]);
    } else {
      const n =
        dtype === "float64" ? new Float64Array(rows * outputs) : new Float32Array(rows * outputs);
      draws = jaxArray(fillNormal(n, drawSeed, drawStream), [rows, outputs]);
    }
    const tree = objective.toTree(params);
    const perturbations = layers.map((layer) =>
      np.zeros([rows, layer.outputs], { dtype: jaxType }),
    );
    const x = jaxArray(batch.x, [rows, inputs]);
    const lent: JaxArray[] = [x, draws, ...perturbations];
    for (const layer of Object.values(tree)) {
      lent.push(layer.weight);
      if (layer.bias) lent.push(layer.bias);
    }
    let output: StatisticsOutput;
    try {
      output = statisticsOf[labels](tree, perturbations, x, draws);
    } finally {
      for (const array of lent) releaseAll(array);
    }
    const [[summed, kept], gradients] = output;
    const pending = [summed, ...kept, ...gradients];
    try {
      const total = Number((await summed.data())[0]);
      pending.shift();
      const layerInputs: FloatArray[] = [batch.x];
      for (let l = 0; l < kept.length; l++) {
        layerInputs.push((await kept[l].data()) as FloatArray);
        pending.shift();
      }
      const result: DenseLayerBatch[] = [];
      for (let l = 0; l < depth; l++) {
        const outputGradients = (await gradients[l].data()) as FloatArray;
        pending.shift();
        result.push({ inputs: layerInputs[l], outputGradients });
      }
      return { examples: rows, loss: total / rows, layers: result };
    } finally {
      for (const array of pending) releaseAll(array);
    }
  };

  return Object.assign(objective, {
    denseLayers: layers,
    sizes: Object.freeze([...sizes]),
    batchScale: batchSize,
    layerStatistics,
    setData(): void {
      throw new TypeError(
        `${name}.setData: a dense network keeps the examples it was built with (they feed its layer statistics); build a new one for other data`,
      );
    },
    dispose(): void {
      if (disposed) return;
      disposed = true;
      disposeModel();
      for (const fn of owned) fn.dispose();
    },
  });
}

/**
 * `model` with the layer-statistics oracle of `network`, a {@link denseNetwork} of the same
 * architecture (same tensor names, shapes, dtype and batches: built with the same widths, data,
 * seed and batch size). Everything else, accuracy and `sampledLabelGrad` included, is the
 * model's own. `setBatch` and `dispose` act on both. The model is not changed: the result
 * inherits from it.
 *
 * @throws `ShapeMismatchError` when the two layouts differ
 */
export function withLayerStatistics<T extends Objective>(
  model: T,
  network: DenseNetworkObjective,
): T & LayerStatisticsOracle {
  const a = model.layout;
  const b = network.layout;
  const same =
    a.dtype === b.dtype &&
    a.tensors.length === b.tensors.length &&
    a.tensors.every(
      (t, i) =>
        t.name === b.tensors[i].name &&
        t.shape.length === b.tensors[i].shape.length &&
        t.shape.every((n, j) => n === b.tensors[i].shape[j]),
    );
  if (!same) {
    throw new ShapeMismatchError(
      `withLayerStatistics: ${model.name} and ${network.name} have different layouts`,
    );
  }
  const hooks = model as T & { setBatch?: (batch: number) => void; dispose?: () => void };
  const combined = Object.create(model) as T & LayerStatisticsOracle;
  Object.defineProperties(combined, {
    denseLayers: { value: network.denseLayers, enumerable: true },
    layerStatistics: {
      value: (params: FloatArray, options?: LayerStatisticsOptions) =>
        network.layerStatistics(params, options),
      enumerable: true,
    },
    setBatch: {
      value: (batch: number) => {
        hooks.setBatch?.call(model, batch);
        network.setBatch(batch);
      },
      enumerable: true,
    },
    dispose: {
      value: () => {
        hooks.dispose?.call(model);
        network.dispose();
      },
      enumerable: true,
    },
  });
  return combined;
}
