/**
 * Nonlinear least squares: a one-hidden-layer tanh network (the student) fitted to the outputs
 * of a smaller random tanh network (the teacher) on random inputs, with closed-form Jacobian.
 *
 * With inputs x_i ∈ ℝ^m, hidden width H and c outputs, the student is
 *
 *     h_i = tanh(W x_i + a),   z_i = V h_i + β,   f(θ) = (1/n) Σ_i ½‖z_i − y_i‖²,
 *
 * θ = (W [H, m], a [H], V [c, H], β [c]), and its output Jacobian is
 *
 *     ∂z_ik/∂V_kh = h_ih,   ∂z_ik/∂β_k = 1,
 *     ∂z_ik/∂W_hj = V_kh (1 − h_ih²) x_ij,   ∂z_ik/∂a_h = V_kh (1 − h_ih²).
 *
 * Each example's loss ½‖z − y‖² has output gradient z_i − y_i and output Hessian I_c, so
 * ∇f = (1/n)·Jᵀ(z − y) and the Gauss-Newton matrix is (1/n)·JᵀJ: the residual setting
 * Gauss-Newton was made for. The targets are y_i = teacher(x_i) (+ noise), so without noise the
 * student (at least as wide as the teacher) can reach f* = 0.
 *
 * Every random quantity comes from its own Philox stream of `seed` (src/random): the inputs
 * (standard normal) from stream 0, the teacher's parameters (standard normal) from stream 1,
 * the noise from stream 2 and the student's starting point (normal, scale `initScale`) from
 * stream 3.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../../errors.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";
import type { DType, FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import { fillNormal } from "../../random/distributions.js";
import type { Objective, OutputJacobian } from "../objective.js";

/** Options of {@link nonlinearRegression}. */
export interface NonlinearRegressionOptions {
  /** Number n of examples (default 32). */
  examples?: number;
  /** Input dimension m (default 2). */
  inputs?: number;
  /** Hidden width H of the student network (default 6). */
  hidden?: number;
  /** Hidden width of the teacher network (default 3). */
  teacherHidden?: number;
  /** Number c of outputs per example (default 2). */
  outputs?: number;
  /** Standard deviation of Gaussian noise added to the targets (default 0). */
  noise?: number;
  /** Scale of the student's random starting point (default 0.5). */
  initScale?: number;
  /** Seed of the inputs, the teacher, the noise and the starting point (default 0). */
  seed?: number;
  /** Element type of the parameters (default float64; the data stays float64). */
  dtype?: DType;
}

/** A nonlinear least-squares objective with its output Jacobian and data. */
export interface NonlinearRegression extends Objective {
  /** f(θ). */
  value(params: FloatArray): number;
  /** f(θ), writing ∇f(θ) into `gradOut`. */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): number;
  /**
   * The n·c × d Jacobian of the outputs, the residuals z − y (the output gradients) and the
   * identity output Hessians. The arrays are reused by the next call.
   */
  outputJacobian(params: FloatArray): OutputJacobian;
  /** The stacked outputs z (n·c, row i·c + k) at `params`, into `out` (a fresh array if absent). */
  predict(params: FloatArray, out?: Float64Array): Float64Array;
  /** A fresh copy of the starting point (the same every call). */
  initialParams(): FloatArray;
  /**
   * The teacher as student parameters (its hidden units first, the others idle with zero
   * weights), a fresh buffer; a zero-loss point when there is no noise. Undefined when the
   * student is narrower than the teacher.
   */
  teacherParams(): FloatArray | undefined;
  /** The inputs, n × m row-major. */
  readonly inputs: Float64Array;
  /** The targets, n × c row-major. */
  readonly targets: Float64Array;
}

/**
 * A teacher-student tanh regression with closed-form value, gradient and output Jacobian (see the
 * file header). `optimalValue` is 0 when there is no noise and the student is at least as wide
 * as the teacher.
 */
export function nonlinearRegression(options: NonlinearRegressionOptions = {}): NonlinearRegression {
  const owner = "nonlinearRegression";
  checkKnownOptions(owner, options, [
    "examples",
    "inputs",
    "hidden",
    "teacherHidden",
    "outputs",
    "noise",
    "initScale",
    "seed",
    "dtype",
  ]);
  const positive = { min: 1, integer: true, max: 1e6 };
  const n = checkNumber(owner, "examples", options.examples ?? 32, positive);
  const m = checkNumber(owner, "inputs", options.inputs ?? 2, positive);
  const H = checkNumber(owner, "hidden", options.hidden ?? 6, positive);
  const teacherH = checkNumber(owner, "teacherHidden", options.teacherHidden ?? 3, positive);
  const c = checkNumber(owner, "outputs", options.outputs ?? 2, positive);
  const noise = checkNumber(owner, "noise", options.noise ?? 0, { min: 0 });
  const initScale = checkNumber(owner, "initScale", options.initScale ?? 0.5, { min: 0 });
  const seed = checkNumber(owner, "seed", options.seed ?? 0, {
    min: 0,
    max: Number.MAX_SAFE_INTEGER,
    integer: true,
  });
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float64", ["float32", "float64"]);
  if (n * c * (H * (m + 1) + c * (H + 1)) > 2 ** 27) {
    throw new InvalidArgumentError(owner, "examples", n, "small enough for a dense Jacobian");
  }

  const layout = new Layout(
    [
      { name: "hidden.weight", shape: [H, m] },
      { name: "hidden.bias", shape: [H] },
      { name: "output.weight", shape: [c, H] },
      { name: "output.bias", shape: [c] },
    ],
    dtype,
  );
  const d = layout.size;
  const offW = 0;
  const offA = H * m;
  const offV = offA + H;
  const offB = offV + c * H;

  const X = fillNormal(new Float64Array(n * m), seed, 0);
  const teacher = fillNormal(new Float64Array(teacherH * (m + 1) + c * (teacherH + 1)), seed, 1);
  const Y = new Float64Array(n * c);
  const noiseDraws = noise > 0 ? fillNormal(new Float64Array(n * c), seed, 2) : null;
  const teacherHidden = new Float64Array(teacherH);
  for (let i = 0; i < n; i++) {
    for (let h = 0; h < teacherH; h++) {
      let pre = teacher[teacherH * m + h];
      for (let j = 0; j < m; j++) pre += teacher[h * m + j] * X[i * m + j];
      teacherHidden[h] = Math.tanh(pre);
    }
    const vOffset = teacherH * (m + 1);
    const bOffset = vOffset + c * teacherH;
    for (let k = 0; k < c; k++) {
      let z = teacher[bOffset + k];
      for (let h = 0; h < teacherH; h++)
        z += teacher[vOffset + k * teacherH + h] * teacherHidden[h];
      Y[i * c + k] = z + (noiseDraws ? noise * noiseDraws[i * c + k] : 0);
    }
  }
  const start = fillNormal(new Float64Array(d), seed, 3);
  for (let j = 0; j < d; j++) start[j] *= initScale;

  const hiddenActivations = new Float64Array(n * H);
  const outputs = new Float64Array(n * c);
  const jacobian = new Float64Array(n * c * d);
  const residuals = new Float64Array(n * c);
  const identity = new Float64Array(n * c * c);
  for (let i = 0; i < n; i++) for (let k = 0; k < c; k++) identity[i * c * c + k * c + k] = 1;
  const acc = new Float64Array(d);

  /** Fills the hidden activations and the outputs at `p`; returns f. */
  const forward = (p: FloatArray, z: Float64Array): number => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      for (let h = 0; h < H; h++) {
        let pre = p[offA + h];
        for (let j = 0; j < m; j++) pre += p[offW + h * m + j] * X[i * m + j];
        hiddenActivations[i * H + h] = Math.tanh(pre);
      }
      for (let k = 0; k < c; k++) {
        let out = p[offB + k];
        for (let h = 0; h < H; h++) out += p[offV + k * H + h] * hiddenActivations[i * H + h];
        z[i * c + k] = out;
        const r = out - Y[i * c + k];
        residuals[i * c + k] = r;
        f += 0.5 * r * r;
      }
    }
    return f / n;
  };

  /** Writes ∂z_ik/∂θ for one output row into `row` (length d), or adds `weight` times it. */
  const jacobianRow = (
    p: FloatArray,
    i: number,
    k: number,
    target: Float64Array,
    base: number,
    weight: number,
  ) => {
    for (let h = 0; h < H; h++) {
      const a = hiddenActivations[i * H + h];
      const slope = weight * p[offV + k * H + h] * (1 - a * a);
      for (let j = 0; j < m; j++) target[base + offW + h * m + j] += slope * X[i * m + j];
      target[base + offA + h] += slope;
      target[base + offV + k * H + h] += weight * a;
    }
    target[base + offB + k] += weight;
  };

  return {
    name: "nonlinear-regression",
    layout,
    ...(noise === 0 && H >= teacherH ? { optimalValue: 0 } : {}),
    inputs: X,
    targets: Y,
    value(p) {
      layout.assertBuffer(p, `${owner}.value params`);
      return forward(p, outputs);
    },
    valueAndGrad(p, g) {
      layout.assertBuffer(p, `${owner}.valueAndGrad params`);
      layout.assertBuffer(g, `${owner}.valueAndGrad gradOut`);
      const f = forward(p, outputs);
      acc.fill(0);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < c; k++) jacobianRow(p, i, k, acc, 0, residuals[i * c + k] / n);
      }
      g.set(acc);
      return f;
    },
    outputJacobian(p) {
      layout.assertBuffer(p, `${owner}.outputJacobian params`);
      forward(p, outputs);
      jacobian.fill(0);
      for (let i = 0; i < n; i++) {
        for (let k = 0; k < c; k++) jacobianRow(p, i, k, jacobian, (i * c + k) * d, 1);
      }
      return {
        examples: n,
        outputs: c,
        jacobian,
        outputGradient: residuals,
        outputHessian: identity,
      };
    },
    predict(p, out = new Float64Array(n * c)) {
      layout.assertBuffer(p, `${owner}.predict params`);
      if (out.length !== n * c) {
        throw new ShapeMismatchError(
          `${owner}.predict: out has ${out.length} entries, expected ${n * c} (${n} examples × ${c} outputs)`,
        );
      }
      forward(p, out);
      return out;
    },
    initialParams() {
      const p = layout.zeros();
      p.set(start);
      return p;
    },
    teacherParams() {
      if (H < teacherH) return undefined;
      const p = layout.zeros();
      const vOffset = teacherH * (m + 1);
      const bOffset = vOffset + c * teacherH;
      for (let h = 0; h < teacherH; h++) {
        for (let j = 0; j < m; j++) p[offW + h * m + j] = teacher[h * m + j];
        p[offA + h] = teacher[teacherH * m + h];
        for (let k = 0; k < c; k++) p[offV + k * H + h] = teacher[vOffset + k * teacherH + h];
      }
      for (let k = 0; k < c; k++) p[offB + k] = teacher[bOffset + k];
      return p;
    },
  };
}
