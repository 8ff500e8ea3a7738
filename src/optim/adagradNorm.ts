/**
 * AdaGrad-Norm: one AdaGrad step size for the whole parameter vector.
 *
 * Ward, Wu & Bottou, "AdaGrad Stepsizes: Sharp Convergence Over Nonconvex Landscapes", ICML 2019
 * (extended version in the Journal of Machine Learning Research 21, 2020).
 *
 * Update at step t (g_t the gradient at x_t):
 *
 *     b_{t+1}² = b_t² + ‖g_t‖²
 *     x_{t+1} = x_t − η · g_t / b_{t+1}
 *
 * One scalar b for all tensors, as in the paper; with `perTensor` every tensor keeps its own b
 * and uses the norm of its own gradient block. The paper requires only b_0 > 0 and η > 0 and
 * proves convergence for any such choice (without knowing the smoothness constant), so there is
 * no canonical default; ours are those of the second author's PyTorch implementation
 * (github.com/xwuShirley/pytorch, torch/optim/adagradnorm.py: lr = 1 and an initial accumulator
 * b_0² = 1e-2), i.e. η = 1, b_0 = 0.1.
 */
import { divideRange, sumOfSquares } from "../kernels/adagrad.js";
import type { Hyper } from "./hyper.js";
import { checkLearningRate, scaleByLearningRate } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkBoolean, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link scaleByAdagradNorm}. */
export interface ScaleByAdagradNormOptions {
  /** Initial value b_0 > 0 of the accumulated norm (default 0.1). */
  b0?: number;
  /** Keep one accumulator per tensor instead of one for all (default false, as the paper). */
  perTensor?: boolean;
}

/** State of {@link scaleByAdagradNorm}. */
export interface AdagradNormState extends State {
  /** Updates applied so far (drives bias correction and schedules). */
  count: number;
  /** b² = b_0² + Σ‖g‖²: one entry, or one per tensor with `perTensor`. */
  bSquared: Float64Array;
}

/** Divides the gradient by b_{t+1} = √(b_t² + ‖g_t‖²) (before `−η`). */
export function scaleByAdagradNorm(
  options: ScaleByAdagradNormOptions = {},
): GradientTransform<AdagradNormState> {
  const owner = "scaleByAdagradNorm";
  checkKnownOptions(owner, options, ["b0", "perTensor"]);
  const b0 = checkNumber(owner, "b0", options.b0 ?? 0.1, { above: 0 });
  const perTensor = checkBoolean(owner, "perTensor", options.perTensor ?? false);
  return {
    name: perTensor ? "scaleByAdagradNormPerTensor" : "scaleByAdagradNorm",
    init(layout) {
      const bSquared = new Float64Array(perTensor ? layout.tensors.length : 1);
      bSquared.fill(b0 * b0);
      return { count: 0, bSquared };
    },
    update(u, state, ctx) {
      const b2 = state.bSquared;
      if (perTensor) {
        const tensors = ctx.layout.tensors;
        for (let k = 0; k < tensors.length; k++) {
          const { offset, size } = tensors[k];
          b2[k] += sumOfSquares(u, offset, offset + size);
          divideRange(u, Math.sqrt(b2[k]), offset, offset + size);
        }
      } else {
        b2[0] += sumOfSquares(u);
        divideRange(u, Math.sqrt(b2[0]));
      }
      state.count++;
    },
  };
}

/** Options of {@link adagradNorm}. */
export interface AdagradNormOptions extends ScaleByAdagradNormOptions {
  /** η (constant or schedule; default 1). */
  learningRate?: Hyper;
}

/** AdaGrad-Norm (Ward, Wu & Bottou): x ← x − η·g/b with b² accumulating ‖g‖². */
export function adagradNorm(options: AdagradNormOptions = {}): ChainTransform {
  const owner = "adagradNorm";
  checkKnownOptions(owner, options, ["learningRate", "b0", "perTensor"]);
  const { learningRate = 1, ...normOptions } = options;
  return chain(
    scaleByAdagradNorm(normOptions),
    scaleByLearningRate(checkLearningRate(owner, learningRate)),
  );
}
