/**
 * Composable handling of NaN and ±Infinity in the update, after optax's `zero_nans` (which
 * zeroes NaN only; we zero ±Infinity too) and `apply_if_finite` (google-deepmind/optax,
 * `optax/transforms/_conditionality.py`).
 *
 * - {@link zeroNonFinite}: `u_i ← 0` wherever `u_i` is NaN or ±Infinity.
 * - {@link applyIfFinite}: when any entry of the incoming update is non-finite, emit a zero update
 *   and leave the inner transform's state untouched (the step is skipped and counted); otherwise
 *   run the inner transform.
 *
 * The `Optimizer` has the same three choices as a whole-step policy (`nonFinite: "throw" |
 * "skip" | "zero"`), checked on the gradient before any transform runs; these transforms are the
 * versions that can sit anywhere in a composition (inside one `partition` group, after a
 * transform that may produce non-finite values, or when driving transforms directly).
 *
 * Where optax's `apply_if_finite` gives up after `max_consecutive_errors` skips and applies the
 * non-finite update, ours throws a {@link NonFiniteError} instead (state untouched), so a run
 * never continues on corrupted parameters.
 */
import { InvalidArgumentError, NonFiniteError } from "../errors.js";
import { firstNonFinite, zeroNonFinite as zeroNonFiniteKernel } from "../kernels/apply.js";
import type { Layout } from "../params/layout.js";
import type { GradientTransform, State } from "./transform.js";
import { checkKnownOptions, checkNumber } from "./validate.js";

/** State of {@link zeroNonFinite}. */
export interface ZeroNonFiniteState extends State {
  /** Total number of entries replaced by 0 so far. */
  replaced: number;
}

/** Replaces NaN and ±Infinity in the update by 0 (counting the replaced entries in state). */
export function zeroNonFinite(): GradientTransform<ZeroNonFiniteState> {
  return {
    name: "zeroNonFinite",
    init: () => ({ replaced: 0 }),
    update(u, state) {
      state.replaced += zeroNonFiniteKernel(u);
    },
  };
}

/** Options of {@link applyIfFinite}. */
export interface ApplyIfFiniteOptions {
  /**
   * Consecutive non-finite updates to skip before throwing a {@link NonFiniteError} (integer
   * >= 0, or Infinity; default Infinity: always skip).
   */
  maxConsecutiveErrors?: number;
}

/** State of {@link applyIfFinite}. */
export interface ApplyIfFiniteState extends State {
  /** Non-finite updates skipped in a row (reset by a finite one). */
  consecutiveErrors: number;
  /** Non-finite updates skipped in total. */
  skippedSteps: number;
  /** The inner transform's state. */
  inner: State;
}

/** A transform built by {@link applyIfFinite}; its inner state lives under `inner`. */
export interface ApplyIfFiniteTransform extends GradientTransform<ApplyIfFiniteState> {
  /** The wrapped transform. */
  readonly inner: GradientTransform;
}

function tensorAt(layout: Layout, index: number): { name: string; offset: number } {
  for (const t of layout.tensors) if (index < t.offset + t.size) return t;
  return { name: "(update)", offset: 0 };
}

/**
 * Runs `inner` only on finite updates. A non-finite update is replaced by zeros (parameters
 * unchanged), `inner`'s state is left exactly as it was, and the skip is counted.
 */
export function applyIfFinite(
  inner: GradientTransform,
  options: ApplyIfFiniteOptions = {},
): ApplyIfFiniteTransform {
  const owner = "applyIfFinite";
  if (
    typeof inner !== "object" ||
    inner === null ||
    typeof inner.init !== "function" ||
    typeof inner.update !== "function"
  ) {
    throw new InvalidArgumentError(owner, "inner", inner, "a gradient transform");
  }
  checkKnownOptions(owner, options, ["maxConsecutiveErrors"]);
  const limit = options.maxConsecutiveErrors ?? Infinity;
  if (limit !== Infinity) {
    checkNumber(owner, "maxConsecutiveErrors", limit, { integer: true, min: 0 });
  }
  return {
    name: "applyIfFinite",
    inner,
    needs: inner.needs,
    init(layout) {
      return { consecutiveErrors: 0, skippedSteps: 0, inner: inner.init(layout) };
    },
    update(u, state, ctx) {
      const bad = firstNonFinite(u);
      if (bad >= 0) {
        if (state.consecutiveErrors >= limit) {
          const t = tensorAt(ctx.layout, bad);
          const error = new NonFiniteError("update", t.name, bad - t.offset, u[bad]);
          error.message =
            `applyIfFinite: update is not finite: ${t.name}[${bad - t.offset}] = ${u[bad]}, ` +
            `after ${state.consecutiveErrors} consecutive skipped steps (maxConsecutiveErrors ${limit})`;
          throw error;
        }
        u.fill(0);
        state.consecutiveErrors++;
        state.skippedSteps++;
        return;
      }
      const pending = inner.update(u, state.inner, ctx);
      if (pending instanceof Promise) {
        return pending.then(() => {
          state.consecutiveErrors = 0;
        });
      }
      state.consecutiveErrors = 0;
    },
  };
}
