/**
 * Binary logistic regression: the classic smooth, convex benchmark.
 *
 * With n examples x_i ∈ ℝ^d, labels y_i ∈ {0, 1}, weights w ∈ ℝ^d and bias b:
 *
 *     z_i = x_i · w + b,   σ(z) = 1 / (1 + e^{−z})
 *     f(w, b) = (1/n) Σ_i [log(1 + e^{z_i}) − y_i z_i] + (λ/2)‖w‖²
 *     ∇_w f = (1/n) Σ_i (σ(z_i) − y_i) x_i + λw,   ∇_b f = (1/n) Σ_i (σ(z_i) − y_i)
 *     H·(v, c) = (1/n) Σ_i σ(z_i)(1 − σ(z_i)) (x_i · v + c) (x_i, 1) + (λv, 0)
 *
 * log(1 + e^z) is evaluated as max(z, 0) + log1p(e^{−|z|}), exact for any z without overflow.
 *
 * For Gauss-Newton methods the outputs are the logits (one per example): the output Jacobian
 * has rows ∂z_i/∂(w, b) = (x_i, 1), the loss's output derivatives are σ(z_i) − y_i and
 * σ(z_i)(1 − σ(z_i)), and the L2 term is the diagonal penalty (λ on the weights, 0 on the bias).
 */
import type { Dataset } from "../../data/dataset.js";
import { InvalidArgumentError } from "../../errors.js";
import type { OutputJacobian } from "../objective.js";
import type { FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";
import type { LinearClassifier, LinearClassifierOptions } from "./softmax.js";
import { checkClassificationData, checkFeatures, classificationAccuracy } from "./softmax.js";

/** log(1 + e^z) without overflow or cancellation. */
function softplus(z: number): number {
  return Math.max(z, 0) + Math.log1p(Math.exp(-Math.abs(z)));
}

/** σ(z) = 1 / (1 + e^{−z}) without overflow. */
function sigmoid(z: number): number {
  if (z >= 0) return 1 / (1 + Math.exp(-z));
  const e = Math.exp(z);
  return e / (1 + e);
}

/** A logistic-regression objective, which also gives the output Jacobian of its logits. */
export interface LogisticClassifier extends LinearClassifier {
  /**
   * The n×(d + 1) Jacobian of the logits, rows (x_i, 1); σ(z_i) − y_i and σ(z_i)(1 − σ(z_i)) per
   * example; and the L2 penalty as a diagonal (absent when λ = 0). The arrays are reused by the
   * next call.
   */
  outputJacobian(params: FloatArray): OutputJacobian;
}

/**
 * Logistic regression on a two-class `ds` (labels 0 and 1), with value, gradient and
 * Hessian-vector product in closed form. Parameters: `weight` [cols] and `bias` [1], starting at
 * zero (where the loss is ln 2). The objective is also a {@link Classifier} (class 1 when
 * x · w + b > 0).
 */
export function logisticRegression(
  ds: Dataset,
  options: LinearClassifierOptions = {},
): LogisticClassifier {
  const owner = "logisticRegression";
  checkKnownOptions(owner, options, ["l2", "dtype"]);
  checkClassificationData(owner, ds);
  if (ds.classes !== 2) {
    throw new InvalidArgumentError(owner, "dataset.classes", ds.classes, "2 (labels 0 and 1)");
  }
  const l2 = checkNumber(owner, "l2", options.l2 ?? 0, { min: 0 });
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float64", ["float32", "float64"]);
  const { rows: n, cols: d, features: X, labels: Y } = ds;
  const layout = new Layout(
    [
      { name: "weight", shape: [d] },
      { name: "bias", shape: [1] },
    ],
    dtype,
  );
  // Sums run in float64 whatever the parameter dtype, so float32 results are rounded once.
  const acc = new Float64Array(d + 1);

  const margin = (features: Float64Array, i: number, w: FloatArray): number => {
    let z = w[d];
    for (let j = 0; j < d; j++) z += features[i * d + j] * w[j];
    return z;
  };
  const penalty = (w: FloatArray): number => {
    if (l2 === 0) return 0;
    let s = 0;
    for (let j = 0; j < d; j++) s += w[j] * w[j];
    return 0.5 * l2 * s;
  };
  // Output-Jacobian buffers, allocated on the first call: most uses never ask for them.
  let outputs: { jacobian: Float64Array; gradient: Float64Array; hessian: Float64Array } | null =
    null;
  const penaltyDiagonal = l2 > 0 ? new Float64Array(d + 1).fill(l2, 0, d) : undefined;
  const predict = (params: FloatArray, data: Dataset = ds): Int32Array => {
    layout.assertBuffer(params, `${owner}.predict params`);
    checkFeatures(`${owner}.predict`, data, d);
    const out = new Int32Array(data.rows);
    for (let i = 0; i < data.rows; i++) out[i] = margin(data.features, i, params) > 0 ? 1 : 0;
    return out;
  };

  return {
    name: "logistic-regression",
    layout,
    value(w) {
      layout.assertBuffer(w, `${owner}.value params`);
      let f = 0;
      for (let i = 0; i < n; i++) {
        const z = margin(X, i, w);
        f += softplus(z) - Y[i] * z;
      }
      return f / n + penalty(w);
    },
    valueAndGrad(w, g) {
      layout.assertBuffer(w, `${owner}.valueAndGrad params`);
      layout.assertBuffer(g, `${owner}.valueAndGrad gradOut`);
      acc.fill(0);
      let f = 0;
      for (let i = 0; i < n; i++) {
        const z = margin(X, i, w);
        f += softplus(z) - Y[i] * z;
        const r = sigmoid(z) - Y[i];
        for (let j = 0; j < d; j++) acc[j] += r * X[i * d + j];
        acc[d] += r;
      }
      for (let j = 0; j < d; j++) g[j] = acc[j] / n + l2 * w[j];
      g[d] = acc[d] / n;
      return f / n + penalty(w);
    },
    hvp(w, v, out) {
      layout.assertBuffer(w, `${owner}.hvp params`);
      layout.assertBuffer(v, `${owner}.hvp vector`);
      layout.assertBuffer(out, `${owner}.hvp out`);
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        const p = sigmoid(margin(X, i, w));
        const s = p * (1 - p) * margin(X, i, v);
        for (let j = 0; j < d; j++) acc[j] += s * X[i * d + j];
        acc[d] += s;
      }
      for (let j = 0; j < d; j++) out[j] = acc[j] / n + l2 * v[j];
      out[d] = acc[d] / n;
    },
    outputJacobian(w) {
      layout.assertBuffer(w, `${owner}.outputJacobian params`);
      if (outputs === null) {
        const jacobian = new Float64Array(n * (d + 1));
        for (let i = 0; i < n; i++) {
          jacobian.set(X.subarray(i * d, (i + 1) * d), i * (d + 1));
          jacobian[i * (d + 1) + d] = 1;
        }
        outputs = { jacobian, gradient: new Float64Array(n), hessian: new Float64Array(n) };
      }
      for (let i = 0; i < n; i++) {
        const p = sigmoid(margin(X, i, w));
        outputs.gradient[i] = p - Y[i];
        outputs.hessian[i] = p * (1 - p);
      }
      return {
        examples: n,
        outputs: 1,
        jacobian: outputs.jacobian,
        outputGradient: outputs.gradient,
        outputHessian: outputs.hessian,
        ...(penaltyDiagonal && { penalty: penaltyDiagonal }),
      };
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
