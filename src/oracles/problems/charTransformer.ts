/**
 * A small character-level decoder-only transformer written in jax-js: the language-model benchmark
 * (Radford, Wu, Child, Luan, Amodei & Sutskever, "Language Models are Unsupervised Multitask
 * Learners", OpenAI 2019, the GPT-2 architecture; Vaswani et al., "Attention Is All You Need",
 * NeurIPS 2017, for the attention itself). For a window of characters c_1 … c_T:
 *
 *     x_0 = E[c_t] + P[t]                                    (token and position embeddings)
 *     x ← x + Attn(LN₁(x)),   x ← x + MLP(LN₂(x))            (L pre-norm blocks)
 *     Attn(h) = concat_heads softmax(Q Kᵀ / √d_h + causal mask) V · W_o + b_o,  [Q K V] = h W_qkv + b_qkv
 *     MLP(h) = GELU(h W_1 + b_1) W_2 + b_2                   (hidden width 4·d, GELU tanh form)
 *     logits_t = LN_f(x)_t Eᵀ                                 (output head tied to E)
 *     f = −(1/BT) Σ_{b,t} log softmax(logits_{b,t})[c_{b,t+1}]
 *
 * Initialization follows GPT-2: every weight matrix and both embeddings N(0, 0.02²), the two
 * projections that write into the residual stream (attention output, MLP output) N(0, (0.02/√(2L))²),
 * biases 0, layer-norm gains 1. Each tensor draws from its own Philox stream (seed, tensor index);
 * the mini-batch windows from another, so a seed fixes the whole run on every platform.
 *
 * Browser-safe: it takes the text as an argument (see `shakespeareTransformer` for the bundled
 * corpus in Node.js).
 */
import { jit, tree as jaxTree, nn, numpy as np } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import type { CharVocabulary } from "../../data/charVocab.js";
import { charVocabulary } from "../../data/charVocab.js";
import { InvalidArgumentError } from "../../errors.js";
import type { DType, FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import { ParamSet } from "../../params/paramset.js";
import { fillNormal, fillUniform } from "../../random/distributions.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";
import type { HvpOptions, JaxObjective } from "../jax.js";
import { checkHvpOptions, jaxArray, jaxObjective } from "../jax.js";

/** A dense layer's parameters as the loss sees them. */
export type LinearParams = {
  /** Weight, shape [inputs, outputs]. */
  weight: JaxArray;
  /** Bias, shape [outputs]. */
  bias: JaxArray;
};

/** A layer norm's gain and bias, shape [dModel] each. */
export type LayerNormParams = {
  /** Gain (starts at 1). */
  weight: JaxArray;
  /** Bias (starts at 0). */
  bias: JaxArray;
};

/** One pre-norm transformer block. */
export type TransformerBlockParams = {
  /** Layer norm before the attention. */
  norm1: LayerNormParams;
  /** Causal multi-head self-attention. */
  attention: {
    /** Queries, keys and values in one projection, [dModel, 3·dModel]. */
    qkv: LinearParams;
    /** Output projection into the residual stream, [dModel, dModel]. */
    output: LinearParams;
  };
  /** Layer norm before the MLP. */
  norm2: LayerNormParams;
  /** Two-layer GELU perceptron. */
  mlp: {
    /** Expansion, [dModel, 4·dModel]. */
    hidden: LinearParams;
    /** Projection back into the residual stream, [4·dModel, dModel]. */
    output: LinearParams;
  };
};

/** The transformer's parameters as the loss sees them. */
export type CharTransformerParams = {
  /** Token embedding [vocab, dModel], also the output head (tied weights). */
  tokenEmbedding: JaxArray;
  /** Learned position embedding [context, dModel]. */
  positionEmbedding: JaxArray;
  /** The L blocks. */
  blocks: TransformerBlockParams[];
  /** Layer norm before the output head. */
  finalNorm: LayerNormParams;
};

/** One batch of windows: one-hot characters and one-hot next characters, [batch, context, vocab]. */
export type CharTransformerBatch = {
  /** The input characters, one-hot. */
  inputs: JaxArray;
  /** The character following each input, one-hot. */
  targets: JaxArray;
};

/**
 * Options of {@link charTransformer}; `hvpMode` and `hvpEpsilon` are those of {@link jaxObjective}.
 */
export interface CharTransformerOptions extends HvpOptions {
  /** Number of transformer blocks L (default 2). */
  layers?: number;
  /** Width of the residual stream (default 64). */
  dModel?: number;
  /** Attention heads; must divide `dModel` (default 4). */
  heads?: number;
  /** Window length in characters, also the number of position embeddings (default 48). */
  context?: number;
  /** Windows per mini-batch (default 16). */
  batchSize?: number;
  /** Seed of the initial weights and of the mini-batch windows (default 0). */
  seed?: number;
  /** Leading fraction of the text used for training; the rest is held out (default 0.9). */
  trainFraction?: number;
  /** Held-out windows evaluated by `validationLoss`, evenly spaced (default 4 · batchSize). */
  validationWindows?: number;
  /** Element type of parameters and data (default float32, compiled with jax-js `jit`). */
  dtype?: DType;
  /** Name in messages and reports (default `char-transformer-l<L>-d<dModel>`). */
  name?: string;
}

/** The transformer objective: a jax-js objective over mini-batches of the training text. */
export type CharTransformerObjective = JaxObjective<CharTransformerParams, CharTransformerBatch> & {
  /** The characters of the text and their ids. */
  readonly vocabulary: CharVocabulary;
  /** The resolved configuration. */
  readonly config: Readonly<
    Required<Omit<CharTransformerOptions, "name" | "hvpMode" | "hvpEpsilon">>
  >;
  /** Characters in the training split and in the held-out split. */
  readonly splitSizes: {
    /** Characters in the training split. */
    readonly train: number;
    /** Characters in the held-out split. */
    readonly validation: number;
  };
  /**
   * Start offsets (into the training split) of the `batchSize` windows of step `step`: window b
   * starts at ⌊u_b·(N − context)⌋ for uniforms u_b drawn from Philox (seed, 2³²) at indices
   * step·batchSize + b, N the training split's length. `setBatch(step)` trains on these windows.
   */
  batchStarts(step: number): Int32Array;
  /**
   * The mean cross-entropy of the current batch on next characters drawn from the model's own
   * predictions (position i inverts its cumulative distribution at element i of the Philox
   * uniforms (seed, count), positions in row-major [batch, context] order), with its gradient in
   * `gradOut`: the Gauss-Newton-Bartlett input of SophiaG (see {@link jaxObjective}).
   */
  sampledLabelGrad(
    params: FloatArray,
    gradOut: FloatArray,
    seed: number,
    count: number,
  ): Promise<number>;
  /**
   * B = batchSize · context, the number of predicted characters the loss is a mean over: the
   * `batchScale` of `gnbDiagonal` and the `batchSize` of SophiaG.
   */
  readonly batchScale: number;
  /** Mean cross-entropy (nats per character) on the fixed held-out windows. */
  validationLoss(params: FloatArray): Promise<number>;
  /**
   * Next-character logits for every prefix of `ids` (1 … context ids): row t, of vocabulary
   * length, scores the character after ids[0 … t]. Row-major [ids.length, vocab].
   */
  logits(params: FloatArray, ids: ArrayLike<number>): Promise<FloatArray>;
};

const OPTIONS = [
  "layers",
  "dModel",
  "heads",
  "context",
  "batchSize",
  "seed",
  "trainFraction",
  "validationWindows",
  "dtype",
  "name",
  "hvpMode",
  "hvpEpsilon",
];

/** Philox stream of the mini-batch windows; tensors use streams 0, 1, 2, … (their index). */
const BATCH_STREAM = 2 ** 32;
/** Standard deviation of GPT-2's initial weights. */
const INIT_STD = 0.02;
/** Layer-norm ε (PyTorch's and GPT-2's). */
const NORM_EPS = 1e-5;
const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

/** A tensor of the model and how it starts: N(0, 0.02²), N(0, (0.02/√(2L))²), ones or zeros. */
interface TensorPlan {
  name: string;
  shape: number[];
  init: "normal" | "residual" | "ones" | "zeros";
}

/** The tensors of the model in packing order. */
function transformerSpecs(vocab: number, context: number, d: number, layers: number): TensorPlan[] {
  const specs: TensorPlan[] = [
    { name: "tokenEmbedding", shape: [vocab, d], init: "normal" },
    { name: "positionEmbedding", shape: [context, d], init: "normal" },
  ];
  const norm = (prefix: string): void => {
    specs.push({ name: `${prefix}.weight`, shape: [d], init: "ones" });
    specs.push({ name: `${prefix}.bias`, shape: [d], init: "zeros" });
  };
  const linear = (prefix: string, inputs: number, outputs: number, residual: boolean): void => {
    specs.push({
      name: `${prefix}.weight`,
      shape: [inputs, outputs],
      init: residual ? "residual" : "normal",
    });
    specs.push({ name: `${prefix}.bias`, shape: [outputs], init: "zeros" });
  };
  for (let l = 0; l < layers; l++) {
    const block = `blocks.${l}`;
    norm(`${block}.norm1`);
    linear(`${block}.attention.qkv`, d, 3 * d, false);
    linear(`${block}.attention.output`, d, d, true);
    norm(`${block}.norm2`);
    linear(`${block}.mlp.hidden`, d, 4 * d, false);
    linear(`${block}.mlp.output`, 4 * d, d, true);
  }
  norm("finalNorm");
  return specs;
}

function layerNorm(x: JaxArray, norm: LayerNormParams): JaxArray {
  const mean = np.mean(x.ref, -1, { keepdims: true });
  const centered = np.subtract(x, mean);
  const variance = np.mean(np.square(centered.ref), -1, { keepdims: true });
  const normalized = np.divide(centered, np.sqrt(np.add(variance, NORM_EPS)));
  return np.add(np.multiply(normalized, norm.weight), norm.bias);
}

function linear(x: JaxArray, layer: LinearParams): JaxArray {
  return np.add(np.matmul(x, layer.weight), layer.bias);
}

/** GELU, tanh form (GPT-2's): ½x(1 + tanh(√(2/π)(x + 0.044715x³))). */
function gelu(x: JaxArray): JaxArray {
  const inner = np.multiply(x.ref, np.add(np.multiply(np.square(x.ref), 0.044715), 1));
  return np.multiply(np.multiply(x, 0.5), np.add(np.tanh(np.multiply(inner, SQRT_2_OVER_PI)), 1));
}

/**
 * Causal multi-head self-attention of `h` [batch, context, d]: per head softmax(Q Kᵀ/√d_h) V with
 * the scores of later positions set to −∞, so position t sees positions 0 … t only.
 */
function attention(
  h: JaxArray,
  layer: TransformerBlockParams["attention"],
  heads: number,
): JaxArray {
  const [batch, context, d] = h.shape;
  const headSize = d / heads;
  const [q, k, v] = np.split(linear(h, layer.qkv), 3, -1);
  const perHead = (t: JaxArray, order: number[]): JaxArray =>
    np.transpose(np.reshape(t, [batch, context, heads, headSize]), order);
  const scores = np.multiply(
    np.matmul(perHead(q, [0, 2, 1, 3]), perHead(k, [0, 2, 3, 1])),
    1 / Math.sqrt(headSize),
  );
  const visible = np.tri(context, context, 0, { dtype: np.bool });
  const weights = nn.softmax(np.where(visible, scores, -Infinity), -1);
  const mixed = np.matmul(weights, perHead(v, [0, 2, 1, 3]));
  const merged = np.reshape(np.transpose(mixed, [0, 2, 1, 3]), [batch, context, d]);
  return linear(merged, layer.output);
}

/** Logits [batch, context, vocab] of one-hot `inputs` [batch, context, vocab]. */
function forward(p: CharTransformerParams, inputs: JaxArray, heads: number): JaxArray {
  let x = np.add(np.matmul(inputs, p.tokenEmbedding.ref), p.positionEmbedding);
  for (const block of p.blocks) {
    x = np.add(x.ref, attention(layerNorm(x, block.norm1), block.attention, heads));
    const hidden = gelu(linear(layerNorm(x.ref, block.norm2), block.mlp.hidden));
    x = np.add(x, linear(hidden, block.mlp.output));
  }
  return np.matmul(layerNorm(x, p.finalNorm), np.transpose(p.tokenEmbedding));
}

function crossEntropy(logits: JaxArray, targets: JaxArray): JaxArray {
  return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits, -1), targets), -1)));
}

/**
 * A decoder-only transformer trained on next-character prediction over `text`, wrapped by
 * {@link jaxObjective}: value, gradient, JVP and HVP by jax-js autodiff, and the sampled-label
 * gradient of SophiaG (pass `batchScale` as its `batchSize`). Call `setBatch(step)`
 * before each step to train on that step's seeded windows (the oracles use step 0's until then),
 * and `dispose()` when done.
 *
 * @example
 * ```ts
 * const model = await charTransformer(text, { seed: 1 });
 * const optimizer = new Optimizer(model.paramSet(), adamw({ learningRate: 3e-3 }));
 * for (let step = 0; step < 200; step++) {
 *   model.setBatch(step);
 *   await optimizer.step(model);
 * }
 * console.log(await model.validationLoss(optimizer.params.data));
 * model.dispose();
 * ```
 */
export async function charTransformer(
  text: string,
  options: CharTransformerOptions = {},
): Promise<CharTransformerObjective> {
  const owner = "charTransformer";
  checkKnownOptions(owner, options, OPTIONS);
  const layers = checkNumber(owner, "layers", options.layers ?? 2, { integer: true, min: 1 });
  const dModel = checkNumber(owner, "dModel", options.dModel ?? 64, { integer: true, min: 1 });
  const heads = checkNumber(owner, "heads", options.heads ?? 4, { integer: true, min: 1 });
  if (dModel % heads !== 0) {
    throw new InvalidArgumentError(owner, "heads", heads, `a divisor of dModel (${dModel})`);
  }
  const context = checkNumber(owner, "context", options.context ?? 48, { integer: true, min: 1 });
  const batchSize = checkNumber(owner, "batchSize", options.batchSize ?? 16, {
    integer: true,
    min: 1,
  });
  const seed = checkNumber(owner, "seed", options.seed ?? 0, { integer: true, min: 0 });
  const trainFraction = checkNumber(owner, "trainFraction", options.trainFraction ?? 0.9, {
    above: 0,
    below: 1,
  });
  const validationWindows = checkNumber(
    owner,
    "validationWindows",
    options.validationWindows ?? 4 * batchSize,
    { integer: true, min: 1 },
  );
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float32", ["float32", "float64"]);
  const { hvpMode, hvpEpsilon } = checkHvpOptions(owner, options);
  const name = options.name ?? `char-transformer-l${layers}-d${dModel}`;
  if (typeof name !== "string") throw new InvalidArgumentError(owner, "name", name, "a string");
  if (typeof text !== "string") throw new InvalidArgumentError(owner, "text", text, "a string");

  const vocabulary = charVocabulary(text);
  const vocab = vocabulary.chars.length;
  const ids = vocabulary.encode(text);
  const trainLength = Math.floor(ids.length * trainFraction);
  const train = ids.subarray(0, trainLength);
  const held = ids.subarray(trainLength);
  // A window needs context + 1 characters: the inputs and, shifted by one, their targets.
  if (train.length < context + 1 || held.length < context + 1) {
    throw new InvalidArgumentError(
      owner,
      "text",
      `${ids.length} characters`,
      `long enough for windows of ${context} + 1 characters in both splits (trainFraction ${trainFraction})`,
    );
  }

  const specs = transformerSpecs(vocab, context, dModel, layers);
  const layout = new Layout(specs, dtype);
  const initial = new ParamSet(layout);
  const residualStd = INIT_STD / Math.sqrt(2 * layers);
  specs.forEach((spec, stream) => {
    const view = initial.view(spec.name);
    if (spec.init === "ones") view.fill(1);
    if (spec.init !== "normal" && spec.init !== "residual") return;
    fillNormal(view, seed, stream);
    const std = spec.init === "normal" ? INIT_STD : residualStd;
    for (let i = 0; i < view.length; i++) view[i] *= std;
  });

  const oneHotBatch = (source: Int32Array, starts: ArrayLike<number>): CharTransformerBatch => {
    const windows = starts.length;
    const inputs =
      dtype === "float32"
        ? new Float32Array(windows * context * vocab)
        : new Float64Array(windows * context * vocab);
    const targets =
      dtype === "float32" ? new Float32Array(inputs.length) : new Float64Array(inputs.length);
    for (let b = 0; b < windows; b++) {
      for (let t = 0; t < context; t++) {
        const row = (b * context + t) * vocab;
        inputs[row + source[starts[b] + t]] = 1;
        targets[row + source[starts[b] + t + 1]] = 1;
      }
    }
    const shape = [windows, context, vocab];
    return { inputs: jaxArray(inputs, shape), targets: jaxArray(targets, shape) };
  };

  const draws = new Float64Array(batchSize);
  const batchStarts = (step: number): Int32Array => {
    checkNumber(`${name}.batchStarts`, "step", step, { integer: true, min: 0 });
    fillUniform(draws, seed, BATCH_STREAM, step * batchSize);
    const starts = new Int32Array(batchSize);
    const positions = train.length - context;
    for (let b = 0; b < batchSize; b++) starts[b] = Math.floor(draws[b] * positions);
    return starts;
  };
  const validationStarts = new Int32Array(validationWindows);
  const lastStart = held.length - context - 1;
  for (let j = 0; j < validationWindows; j++) {
    validationStarts[j] =
      validationWindows === 1 ? 0 : Math.round((j * lastStart) / (validationWindows - 1));
  }

  const loss = (p: CharTransformerParams, d: CharTransformerBatch): JaxArray =>
    crossEntropy(forward(p, d.inputs, heads), d.targets);
  const objective = await jaxObjective<CharTransformerParams, CharTransformerBatch>({
    name,
    params: initial,
    data: (step) => oneHotBatch(train, batchStarts(step)),
    loss,
    logits: (p, d) => forward(p, d.inputs, heads),
    hvpMode,
    hvpEpsilon,
  });
  const sampledLabelGrad = objective.sampledLabelGrad!;
  let validation: JaxObjective<CharTransformerParams, CharTransformerBatch>;
  try {
    validation = await jaxObjective<CharTransformerParams, CharTransformerBatch>({
      name: `${name} (validation)`,
      params: initial,
      data: oneHotBatch(held, validationStarts),
      loss,
    });
  } catch (error) {
    objective.dispose();
    throw error;
  }

  // The forward pass alone, compiled like the objective's oracles (float32 only: jax-js compiles
  // float64 constants as float32).
  const run = (p: CharTransformerParams, inputs: JaxArray): JaxArray => forward(p, inputs, heads);
  const compiledForward = dtype === "float32" ? jit(run) : undefined;
  const logits = async (params: FloatArray, sequence: ArrayLike<number>): Promise<FloatArray> => {
    const what = `${name}.logits`;
    layout.assertBuffer(params, what);
    const length = sequence.length;
    if (length < 1 || length > context) {
      throw new InvalidArgumentError(what, "ids", `${length} ids`, `1 … ${context} ids`);
    }
    // Causal attention lets the padding after the sequence change nothing before it.
    const padded = new Int32Array(context + 1);
    for (let t = 0; t < length; t++) {
      const id = sequence[t];
      if (!Number.isInteger(id) || id < 0 || id >= vocab) {
        throw new InvalidArgumentError(what, `ids[${t}]`, id, `an id in [0, ${vocab})`);
      }
      padded[t] = id;
    }
    const paramTree = objective.toTree(params);
    const batch = oneHotBatch(padded, [0]);
    batch.targets.dispose();
    let out: JaxArray;
    try {
      out = (compiledForward ?? run)(paramTree, batch.inputs);
    } catch (error) {
      // The arrays the failed pass did not consume are ours alone.
      for (const array of [batch.inputs, ...jaxTree.leaves<JaxArray>(paramTree)]) {
        if (array.refCount > 0) array.dispose();
      }
      throw error;
    }
    const values = await out.data();
    return (values as FloatArray).slice(0, length * vocab);
  };

  const dispose = objective.dispose.bind(objective);
  let disposed = false;
  return Object.assign(objective, {
    vocabulary,
    config: Object.freeze({
      layers,
      dModel,
      heads,
      context,
      batchSize,
      seed,
      trainFraction,
      validationWindows,
      dtype,
    }),
    splitSizes: Object.freeze({ train: train.length, validation: held.length }),
    batchStarts,
    sampledLabelGrad,
    batchScale: batchSize * context,
    validationLoss: (params: FloatArray) => validation.value(params),
    logits,
    dispose() {
      if (disposed) return;
      disposed = true;
      dispose();
      validation.dispose();
      compiledForward?.dispose();
    },
  });
}
