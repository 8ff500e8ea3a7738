/**
 * Gradient accumulation over k micro-steps, with the semantics of optax's `MultiSteps`
 * (google-deepmind/optax, `optax/transforms/_accumulation.py`): on calls 1..k−1 of each cycle the
 * gradient is added to an accumulator and the emitted update is zero; on call k the inner
 * transform runs once on the mean
 *
 *     ḡ = (g_1 + … + g_k) / k
 *
 * and its update is emitted, after which the accumulator is cleared. The inner transform's state
 * advances only on those k-th calls, so `accumulate(4, adamw(...))` is AdamW with a batch four
 * times larger. optax keeps a running mean (Welford's update); we keep the sum in float64
 * whatever the layout's type and divide once at the end.
 *
 * `accumulate` wraps the whole inner transform and is not a chain, so the `Optimizer`
 * applies its output as is: a learning rate or weight decay inside the inner chain cannot leak
 * into the zero updates of the micro-steps. Wrap the complete optimizer, not a part of a chain.
 * The Optimizer's own `count` still counts every micro-step.
 */
import { InvalidArgumentError } from "../errors.js";
import type { FloatArray } from "../params/layout.js";
import type { GradientTransform, State } from "./transform.js";
import { checkNumber } from "./validate.js";

/** State of {@link accumulate}. */
export interface AccumulateState extends State {
  /** Micro-steps accumulated in the current cycle (0 ≤ miniStep < k). */
  miniStep: number;
  /** Inner updates applied so far (completed cycles). */
  gradientStep: number;
  /** Sum of the gradients of the current cycle (float64, parameter layout). */
  sum: FloatArray;
  /** The inner transform's state. */
  inner: State;
}

/** A transform built by {@link accumulate}; its inner state lives under `inner`. */
export interface AccumulateTransform extends GradientTransform<AccumulateState> {
  /** Number of micro-steps per inner update. */
  readonly every: number;
  /** The wrapped transform. */
  readonly inner: GradientTransform;
}

/**
 * Runs `inner` every `every`-th call on the mean of the gradients since its last run, emitting a
 * zero update (parameters unchanged) on the calls in between.
 *
 * @param every - micro-steps per update (integer >= 1; 1 is `inner` itself)
 * @param inner - the complete optimizer, e.g. `adamw({ learningRate: 1e-3 })`
 */
export function accumulate(every: number, inner: GradientTransform): AccumulateTransform {
  const owner = "accumulate";
  const k = checkNumber(owner, "every", every, { integer: true, min: 1 });
  if (
    typeof inner !== "object" ||
    inner === null ||
    typeof inner.init !== "function" ||
    typeof inner.update !== "function"
  ) {
    throw new InvalidArgumentError(owner, "inner", inner, "a gradient transform");
  }
  const finish = (state: AccumulateState): void => {
    state.sum.fill(0);
    state.miniStep = 0;
    state.gradientStep++;
  };
  return {
    name: "accumulate",
    every: k,
    inner,
    needs: inner.needs,
    init(layout) {
      return {
        miniStep: 0,
        gradientStep: 0,
        sum: layout.allocate("float64", layout.size),
        inner: inner.init(layout),
      };
    },
    update(u, state, ctx) {
      const sum = state.sum;
      const n = u.length;
      if (state.miniStep + 1 < k) {
        for (let i = 0; i < n; i++) {
          sum[i] += u[i];
          u[i] = 0;
        }
        state.miniStep++;
        return;
      }
      for (let i = 0; i < n; i++) u[i] = (sum[i] + u[i]) / k;
      // The accumulator is cleared only once the inner update has succeeded, so a throwing inner
      // transform leaves this state as it was.
      const pending = inner.update(u, state.inner, ctx);
      if (pending instanceof Promise) return pending.then(() => finish(state));
      finish(state);
    },
  };
}
