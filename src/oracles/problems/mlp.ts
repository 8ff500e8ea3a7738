/**
 * A small multilayer perceptron classifier written in jax-js: the non-convex benchmark, and the
 * showcase of the jax-js adapter (autodiff gradients, Hessian-vector products, mini-batches).
 *
 *     h = act(x W₁ + b₁),   z = h W₂ + b₂,   f = −(1/n) Σ_i log softmax(z_i)_{y_i}
 *
 * with act = tanh (default) or ReLU. Weights start from Glorot & Bengio's uniform initialisation
 * ("Understanding the difficulty of training deep feedforward neural networks", AISTATS 2010):
 * W ~ U(−a, a) with a = √(6 / (fan_in + fan_out)), biases 0. The uniforms are Philox words, so
 * a seed gives the same network everywhere.
 */
import { nn, numpy as np } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import type { Dataset } from "../../data/dataset.js";
import { permutation } from "../../data/dataset.js";
import { InvalidArgumentError } from "../../errors.js";
import type { DType, FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import { ParamSet } from "../../params/paramset.js";
import { randomBits } from "../../random/philox.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";
import type { HvpOptions, JaxObjective } from "../jax.js";
import { checkHvpOptions, jaxArray, jaxObjective } from "../jax.js";
import type { Classifier } from "./softmax.js";
import { checkClassificationData, checkFeatures, classificationAccuracy } from "./softmax.js";

/** Parameters of the two-layer perceptron, as the loss sees them. */
export type MlpParams = {
  /** Input → hidden layer. */
  layer1: {
    /** Weight, shape [inputs, hidden]. */
    weight: JaxArray;
    /** Bias, shape [hidden]. */
    bias: JaxArray;
  };
  /** Hidden → classes layer. */
  layer2: {
    /** Weight, shape [hidden, classes]. */
    weight: JaxArray;
    /** Bias, shape [classes]. */
    bias: JaxArray;
  };
};

/** One batch: features [rows, inputs] and one-hot labels [rows, classes], in the model dtype. */
export type MlpBatch = {
  /** Features. */
  x: JaxArray;
  /** One-hot labels. */
  y: JaxArray;
};

/** The perceptron objective: a jax-js objective that is also a {@link Classifier}. */
export type MlpObjective = JaxObjective<MlpParams, MlpBatch> &
  Classifier & {
    /**
     * The mean cross-entropy of the current batch on labels drawn from the network's own
     * predictions, ŷ_i ~ softmax(z_i) (row i inverts its cumulative distribution at element i of
     * the Philox uniforms (seed, count)), with its gradient in `gradOut`: the Gauss-Newton-Bartlett
     * input of SophiaG (see {@link jaxObjective}).
     */
    sampledLabelGrad(
      params: FloatArray,
      gradOut: FloatArray,
      seed: number,
      count: number,
    ): Promise<number>;
    /**
     * B, the number of rows the loss is a mean over (`batchSize`, or every row for full-batch
     * training): the `batchScale` of `gnbDiagonal` and the `batchSize` of SophiaG.
     */
    readonly batchScale: number;
    /** Predicted classes, computed by the jax-js forward pass. */
    predict(params: FloatArray, dataset?: Dataset): Promise<Int32Array>;
    /** Fraction of rows predicted correctly. */
    accuracy(params: FloatArray, dataset?: Dataset): Promise<number>;
  };

/** Options of {@link mlpClassifier}; `hvpMode` and `hvpEpsilon` are those of {@link jaxObjective}. */
export interface MlpOptions extends HvpOptions {
  /** Width of the hidden layer (default 32). */
  hidden?: number;
  /** Seed of the initial weights and of the mini-batch order (default 0). */
  seed?: number;
  /** Element type of the parameters and data (default float32, which jax-js compiles). */
  dtype?: DType;
  /**
   * Rows per mini-batch; omit for full-batch training. Batch k is slice k mod m of a fresh
   * permutation per epoch (m = ⌊rows / batchSize⌋ batches; the remainder of each epoch is left
   * out so every batch has the same shape). Select it with `objective.setBatch(k)`.
   */
  batchSize?: number;
  /** Hidden activation (default `"tanh"`, smooth, so Hessian-vector products are informative). */
  activation?: "tanh" | "relu";
}

/** Philox stream of the permutation of epoch e is BATCH_STREAM + e (tensors use streams 0 … 3). */
const BATCH_STREAM = 1024;

function typedFor(dtype: DType, values: Float64Array): Float32Array | Float64Array {
  return dtype === "float64" ? values : Float32Array.from(values);
}

/** Options of {@link classificationArrays}. */
export interface ClassificationArraysOptions {
  /** Element type of both arrays (default float32). */
  dtype?: DType;
  /** Rows to take, in this order (default all rows). */
  rows?: ArrayLike<number>;
}

/**
 * A data set as the batch a jax-js classifier trains on: features [rows, cols] and one-hot
 * labels [rows, classes], new arrays the caller owns (hand them to `jaxObjective` as `data`).
 */
export function classificationArrays(
  ds: Dataset,
  options: ClassificationArraysOptions = {},
): MlpBatch {
  const owner = "classificationArrays";
  checkKnownOptions(owner, options, ["dtype", "rows"]);
  checkClassificationData(owner, ds);
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float32", ["float32", "float64"]);
  const { cols, classes } = ds;
  const rows = options.rows;
  const count = rows ? rows.length : ds.rows;
  const x = new Float64Array(count * cols);
  const y = new Float64Array(count * classes);
  for (let k = 0; k < count; k++) {
    const row = rows ? rows[k] : k;
    if (!Number.isInteger(row) || row < 0 || row >= ds.rows) {
      throw new InvalidArgumentError(owner, `rows[${k}]`, row, `a row index in [0, ${ds.rows})`);
    }
    x.set(ds.features.subarray(row * cols, (row + 1) * cols), k * cols);
    y[k * classes + ds.labels[row]] = 1;
  }
  return {
    x: jaxArray(typedFor(dtype, x), [count, cols]),
    y: jaxArray(typedFor(dtype, y), [count, classes]),
  };
}

/** Glorot-uniform weights and zero biases, tensor t drawn from Philox stream (seed, t). */
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

/**
 * A one-hidden-layer perceptron classifier on `ds`, written in jax-js and wrapped by
 * {@link jaxObjective}: value, gradient, JVP and HVP by autodiff, the sampled-label gradient of
 * SophiaG (pass `batchScale` as its `batchSize`), mini-batches through `setBatch`. Call
 * `dispose()` when done to free its jax-js arrays.
 */
export async function mlpClassifier(ds: Dataset, options: MlpOptions = {}): Promise<MlpObjective> {
  const owner = "mlpClassifier";
  checkKnownOptions(owner, options, [
    "hidden",
    "seed",
    "dtype",
    "batchSize",
    "activation",
    "hvpMode",
    "hvpEpsilon",
  ]);
  checkClassificationData(owner, ds);
  const { hvpMode, hvpEpsilon } = checkHvpOptions(owner, options);
  const hidden = checkNumber(owner, "hidden", options.hidden ?? 32, { integer: true, min: 1 });
  const seed = checkNumber(owner, "seed", options.seed ?? 0, { integer: true, min: 0 });
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float32", ["float32", "float64"]);
  const activation = checkChoice(owner, "activation", options.activation ?? "tanh", [
    "tanh",
    "relu",
  ]);
  const batchSize =
    options.batchSize === undefined
      ? ds.rows
      : checkNumber(owner, "batchSize", options.batchSize, { integer: true, min: 1 });
  if (batchSize > ds.rows) {
    throw new InvalidArgumentError(owner, "batchSize", batchSize, `at most the ${ds.rows} rows`);
  }
  const { cols, classes } = ds;
  const layout = new Layout(
    [
      { name: "layer1.weight", shape: [cols, hidden] },
      { name: "layer1.bias", shape: [hidden] },
      { name: "layer2.weight", shape: [hidden, classes] },
      { name: "layer2.bias", shape: [classes] },
    ],
    dtype,
  );

  const batchOf = (rows?: Int32Array): MlpBatch => classificationArrays(ds, { dtype, rows });
  const batchesPerEpoch = Math.floor(ds.rows / batchSize);
  let epochOrder: { epoch: number; order: Int32Array } | undefined;
  const batch = (k: number): MlpBatch => {
    const epoch = Math.floor(k / batchesPerEpoch);
    if (epochOrder?.epoch !== epoch) {
      epochOrder = { epoch, order: permutation(ds.rows, seed, BATCH_STREAM + epoch) };
    }
    const start = (k % batchesPerEpoch) * batchSize;
    return batchOf(epochOrder.order.subarray(start, start + batchSize));
  };

  const act = activation === "tanh" ? np.tanh : nn.relu;
  const logits = (p: MlpParams, x: JaxArray): JaxArray => {
    const h = act(np.add(np.matmul(x, p.layer1.weight), p.layer1.bias));
    return np.add(np.matmul(h, p.layer2.weight), p.layer2.bias);
  };
  const objective = await jaxObjective<MlpParams, MlpBatch>({
    name: `mlp-${cols}-${hidden}-${classes}`,
    params: glorotParams(layout, seed),
    data: batchSize === ds.rows ? batchOf() : batch,
    loss: (p, d) =>
      np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits(p, d.x), -1), d.y), -1))),
    logits: (p, d) => logits(p, d.x),
    hvpMode,
    hvpEpsilon,
  });
  const sampledLabelGrad = objective.sampledLabelGrad!;

  const predict = async (params: FloatArray, data: Dataset = ds): Promise<Int32Array> => {
    checkFeatures(`${objective.name}.predict`, data, cols);
    const tree = objective.toTree(params);
    const x = jaxArray(typedFor(dtype, data.features), [data.rows, cols]);
    const classOf = np.argmax(logits(tree, x), -1);
    return Int32Array.from(await classOf.data());
  };
  return Object.assign(objective, {
    sampledLabelGrad,
    batchScale: batchSize,
    predict,
    async accuracy(params: FloatArray, data: Dataset = ds): Promise<number> {
      return classificationAccuracy(await predict(params, data), data.labels);
    },
  });
}
