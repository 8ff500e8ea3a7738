/**
 * Multinomial logistic (softmax) regression: the convex classification benchmark.
 *
 * With n examples x_i ∈ ℝ^d, labels y_i ∈ {0 … K−1}, weights W ∈ ℝ^{d×K} and bias b ∈ ℝ^K:
 *
 *     z_i = x_i W + b,   p_i = softmax(z_i)
 *     f(W, b) = (1/n) Σ_i [logsumexp(z_i) − z_{i,y_i}] + (λ/2)‖W‖²
 *     ∇_W f = (1/n) Xᵀ(P − Y) + λW,   ∇_b f = (1/n) Σ_i (p_i − e_{y_i})
 *
 * For a direction (V, c), with dz_i = x_i V + c, the Hessian of the log-sum-exp gives
 * r_i = p_i ⊙ dz_i − p_i (p_i · dz_i), and H·(V, c) = ((1/n) XᵀR + λV, (1/n) Σ_i r_i).
 * The log-sum-exp subtracts the row maximum first, so large logits cannot overflow.
 *
 * `sampledLabelGrad` (the Gauss-Newton-Bartlett input of Sophia) replaces every label by one
 * drawn from the model's own prediction, ŷ_i ~ Categorical(p_i), and returns the unpenalized
 * mean loss on those labels with its gradient ((1/n) Xᵀ(P − Ŷ), (1/n) Σ_i (p_i − e_{ŷ_i})).
 * Because E[(p_i − e_ŷ)(p_i − e_ŷ)ᵀ] = diag(p_i) − p_i p_iᵀ, n times the squared gradient has
 * expectation (1/n) Σ_i x_ij² p_ic (1 − p_ic) at weight (j, c): the Gauss-Newton diagonal.
 */
import type { Dataset } from "../../data/dataset.js";
import { fillUniform } from "../../random/index.js";
import { InvalidArgumentError, ShapeMismatchError } from "../../errors.js";
import type { DType, FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";
import type { Awaitable, Objective } from "../objective.js";

/** An objective that is a classifier: it predicts a class per example from the parameters. */
export interface Classifier extends Objective {
  /** The predicted class of every row of `dataset` (default: the training data). */
  predict(params: FloatArray, dataset?: Dataset): Awaitable<Int32Array>;
  /** The fraction of rows of `dataset` (default: the training data) predicted correctly. */
  accuracy(params: FloatArray, dataset?: Dataset): Awaitable<number>;
}

/** Fraction of positions where `predicted` equals `labels`. */
export function classificationAccuracy(predicted: Int32Array, labels: Int32Array): number {
  if (predicted.length !== labels.length) {
    throw new ShapeMismatchError(
      `classificationAccuracy: ${predicted.length} predictions for ${labels.length} labels`,
    );
  }
  if (labels.length === 0) return NaN;
  let correct = 0;
  for (let i = 0; i < labels.length; i++) if (predicted[i] === labels[i]) correct++;
  return correct / labels.length;
}

/**
 * Accuracy of `classifier` at `params` on `dataset` (default: the data it was built on), as a
 * promise so that classifiers evaluated on a device (jax-js models) work the same way.
 */
export async function accuracy(
  classifier: Classifier,
  params: FloatArray,
  dataset?: Dataset,
): Promise<number> {
  return classifier.accuracy(params, dataset);
}

/**
 * A classifier objective computed synchronously in plain TypeScript (closed-form derivatives):
 * every oracle returns its result directly.
 */
export interface LinearClassifier extends Classifier {
  /** f(θ). */
  value(params: FloatArray): number;
  /** f(θ), writing ∇f(θ) into `gradOut`. */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): number;
  /** ∇²f(θ)·v into `out`. */
  hvp(params: FloatArray, vector: FloatArray, out: FloatArray): void;
  /** Zeros (a fresh buffer each call). */
  initialParams(): FloatArray;
  /** The predicted class of every row of `dataset` (default: the training data). */
  predict(params: FloatArray, dataset?: Dataset): Int32Array;
  /** The fraction of rows of `dataset` (default: the training data) predicted correctly. */
  accuracy(params: FloatArray, dataset?: Dataset): number;
}

/** A {@link LinearClassifier} that can also resample its labels from its own predictions. */
export interface SoftmaxClassifier extends LinearClassifier {
  /**
   * Draws ŷ_i ~ Categorical(softmax(z_i)) for every row i and writes the gradient of the mean
   * loss on ŷ (without the L2 penalty) into `gradOut`; returns that loss. Row i uses the uniform
   * u_i, element i of the Philox sequence (seed, count) of src/random, and takes the first class
   * whose cumulative probability exceeds u_i, so (seed, count) fix the sample.
   */
  sampledLabelGrad(params: FloatArray, gradOut: FloatArray, seed: number, count: number): number;
  /** The number of rows n the sampled-label loss averages over (SophiaG's batch factor). */
  readonly batchScale: number;
}

/** Options of {@link softmaxRegression} and `logisticRegression`. */
export interface LinearClassifierOptions {
  /** L2 penalty λ on the weights (not the bias); default 0. */
  l2?: number;
  /** Element type of the parameters (default float64). */
  dtype?: DType;
}

/** Validates a data set used to build a classifier objective. */
export function checkClassificationData(owner: string, ds: Dataset): void {
  if (
    typeof ds !== "object" ||
    ds === null ||
    !(ds.features instanceof Float64Array) ||
    !(ds.labels instanceof Int32Array)
  ) {
    throw new InvalidArgumentError(
      owner,
      "dataset",
      ds,
      "a Dataset (Float64Array features, Int32Array labels)",
    );
  }
  if (ds.rows < 1 || ds.features.length !== ds.rows * ds.cols || ds.labels.length !== ds.rows) {
    throw new ShapeMismatchError(
      `${owner}: dataset has ${ds.rows} rows × ${ds.cols} cols but ${ds.features.length} features and ${ds.labels.length} labels`,
    );
  }
  for (let i = 0; i < ds.rows; i++) {
    const y = ds.labels[i];
    if (y < 0 || y >= ds.classes) {
      throw new InvalidArgumentError(owner, `labels[${i}]`, y, `a class in [0, ${ds.classes})`);
    }
  }
}

/** Checks that an evaluation data set fits a model trained with `cols` features. */
export function checkFeatures(owner: string, ds: Dataset, cols: number): void {
  if (ds.cols !== cols || ds.features.length !== ds.rows * ds.cols) {
    throw new ShapeMismatchError(
      `${owner}: the model takes ${cols} features, the dataset has ${ds.cols}`,
    );
  }
}

/**
 * Softmax regression on `ds` with value, gradient and Hessian-vector product in closed form.
 * Parameters: `weight` [cols, classes] and `bias` [classes], starting at zero (where the loss is
 * ln K). The objective is also a {@link Classifier} (argmax of the logits).
 */
export function softmaxRegression(
  ds: Dataset,
  options: LinearClassifierOptions = {},
): SoftmaxClassifier {
  const owner = "softmaxRegression";
  checkKnownOptions(owner, options, ["l2", "dtype"]);
  checkClassificationData(owner, ds);
  const l2 = checkNumber(owner, "l2", options.l2 ?? 0, { min: 0 });
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float64", ["float32", "float64"]);
  if (ds.classes < 2) {
    throw new InvalidArgumentError(owner, "dataset.classes", ds.classes, "at least 2");
  }
  const { rows: n, cols: d, classes: K, features: X, labels: Y } = ds;
  const layout = new Layout(
    [
      { name: "weight", shape: [d, K] },
      { name: "bias", shape: [K] },
    ],
    dtype,
  );
  const biasOffset = d * K;
  const z = new Float64Array(K);
  const dz = new Float64Array(K);
  // Sums run in float64 whatever the parameter dtype, so float32 results are rounded once.
  const acc = new Float64Array(layout.size);
  const labelUniforms = new Float64Array(n);

  /** Logits of row i of `features` into `out`. */
  const logits = (features: Float64Array, i: number, w: FloatArray, out: Float64Array): void => {
    for (let k = 0; k < K; k++) out[k] = w[biasOffset + k];
    for (let j = 0; j < d; j++) {
      const x = features[i * d + j];
      if (x === 0) continue;
      const row = j * K;
      for (let k = 0; k < K; k++) out[k] += x * w[row + k];
    }
  };
  /** Replaces logits by probabilities; returns logsumexp. */
  const softmaxInPlace = (v: Float64Array): number => {
    let max = -Infinity;
    for (let k = 0; k < K; k++) max = Math.max(max, v[k]);
    let sum = 0;
    for (let k = 0; k < K; k++) {
      v[k] = Math.exp(v[k] - max);
      sum += v[k];
    }
    for (let k = 0; k < K; k++) v[k] /= sum;
    return max + Math.log(sum);
  };
  const penalty = (w: FloatArray): number => {
    if (l2 === 0) return 0;
    let s = 0;
    for (let i = 0; i < biasOffset; i++) s += w[i] * w[i];
    return 0.5 * l2 * s;
  };

  const predict = (params: FloatArray, data: Dataset = ds): Int32Array => {
    layout.assertBuffer(params, `${owner}.predict params`);
    checkFeatures(`${owner}.predict`, data, d);
    const out = new Int32Array(data.rows);
    const scores = new Float64Array(K);
    for (let i = 0; i < data.rows; i++) {
      logits(data.features, i, params, scores);
      let best = 0;
      for (let k = 1; k < K; k++) if (scores[k] > scores[best]) best = k;
      out[i] = best;
    }
    return out;
  };

  return {
    name: "softmax-regression",
    layout,
    value(w) {
      layout.assertBuffer(w, `${owner}.value params`);
      let f = 0;
      for (let i = 0; i < n; i++) {
        logits(X, i, w, z);
        const target = z[Y[i]];
        f += softmaxInPlace(z) - target;
      }
      return f / n + penalty(w);
    },
    valueAndGrad(w, g) {
      layout.assertBuffer(w, `${owner}.valueAndGrad params`);
      layout.assertBuffer(g, `${owner}.valueAndGrad gradOut`);
      acc.fill(0);
      let f = 0;
      for (let i = 0; i < n; i++) {
        logits(X, i, w, z);
        const target = z[Y[i]];
        f += softmaxInPlace(z) - target;
        z[Y[i]] -= 1;
        for (let j = 0; j < d; j++) {
          const x = X[i * d + j];
          if (x === 0) continue;
          const row = j * K;
          for (let k = 0; k < K; k++) acc[row + k] += x * z[k];
        }
        for (let k = 0; k < K; k++) acc[biasOffset + k] += z[k];
      }
      for (let i = 0; i < biasOffset; i++) g[i] = acc[i] / n + l2 * w[i];
      for (let i = biasOffset; i < layout.size; i++) g[i] = acc[i] / n;
      return f / n + penalty(w);
    },
    hvp(w, v, out) {
      layout.assertBuffer(w, `${owner}.hvp params`);
      layout.assertBuffer(v, `${owner}.hvp vector`);
      layout.assertBuffer(out, `${owner}.hvp out`);
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        logits(X, i, w, z);
        softmaxInPlace(z);
        logits(X, i, v, dz);
        let mean = 0;
        for (let k = 0; k < K; k++) mean += z[k] * dz[k];
        for (let k = 0; k < K; k++) dz[k] = z[k] * (dz[k] - mean);
        for (let j = 0; j < d; j++) {
          const x = X[i * d + j];
          if (x === 0) continue;
          const row = j * K;
          for (let k = 0; k < K; k++) acc[row + k] += x * dz[k];
        }
        for (let k = 0; k < K; k++) acc[biasOffset + k] += dz[k];
      }
      for (let i = 0; i < biasOffset; i++) out[i] = acc[i] / n + l2 * v[i];
      for (let i = biasOffset; i < layout.size; i++) out[i] = acc[i] / n;
    },
    batchScale: n,
    sampledLabelGrad(w, g, seed, count) {
      layout.assertBuffer(w, `${owner}.sampledLabelGrad params`);
      layout.assertBuffer(g, `${owner}.sampledLabelGrad gradOut`);
      fillUniform(labelUniforms, seed, count);
      acc.fill(0);
      let f = 0;
      for (let i = 0; i < n; i++) {
        logits(X, i, w, z);
        dz.set(z);
        const logSumExp = softmaxInPlace(z);
        // Rounding can leave the cumulative sum just below u; the last class then takes it.
        let label = K - 1;
        let cumulative = 0;
        for (let k = 0; k < K - 1; k++) {
          cumulative += z[k];
          if (labelUniforms[i] < cumulative) {
            label = k;
            break;
          }
        }
        f += logSumExp - dz[label];
        z[label] -= 1;
        for (let j = 0; j < d; j++) {
          const x = X[i * d + j];
          if (x === 0) continue;
          const row = j * K;
          for (let k = 0; k < K; k++) acc[row + k] += x * z[k];
        }
        for (let k = 0; k < K; k++) acc[biasOffset + k] += z[k];
      }
      for (let i = 0; i < layout.size; i++) g[i] = acc[i] / n;
      return f / n;
    },
    initialParams() {
      return layout.zeros();
    },
    predict,
    accuracy(params, data = ds) {
      return classificationAccuracy(predict(params, data), data.labels);
    },
  };
}
