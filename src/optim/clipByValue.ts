/**
 * Elementwise gradient clipping: each entry is clamped to a threshold, the heuristic of Mikolov's
 * recurrent-network training that Pascanu, Mikolov & Bengio, "On the difficulty of training
 * recurrent neural networks", ICML 2013, contrast with norm clipping (see clipByGlobalNorm.ts).
 * The symmetric form is optax's `clip(max_delta)`; `[min, max]` allows asymmetric bounds.
 *
 *     u_i ← min(max(u_i, lo), hi)
 *
 * NaN entries are left as NaN, so a non-finite gradient stays visible downstream.
 */
import { InvalidArgumentError } from "../errors.js";
import type { GradientTransform, State } from "./transform.js";
import { checkKnownOptions, checkNumber } from "./validate.js";

/** Bounds of {@link clipByValue}; either may be left out (unbounded on that side). */
export interface ClipBounds {
  /** Lower bound (default −Infinity). */
  min?: number;
  /** Upper bound (default +Infinity). */
  max?: number;
}

/**
 * Clamps each element of the update to `[−limit, limit]` (`limit >= 0`) or to `[min, max]`.
 * Stateless.
 */
export function clipByValue(limitOrBounds: number | ClipBounds): GradientTransform<State> {
  const owner = "clipByValue";
  let lo: number;
  let hi: number;
  if (typeof limitOrBounds === "number") {
    hi = checkNumber(owner, "limit", limitOrBounds, { min: 0 });
    lo = -hi;
  } else {
    if (typeof limitOrBounds !== "object" || limitOrBounds === null) {
      throw new InvalidArgumentError(
        owner,
        "limit",
        limitOrBounds,
        "a number >= 0 or bounds { min, max }",
      );
    }
    checkKnownOptions(owner, limitOrBounds, ["min", "max"]);
    if (limitOrBounds.min === undefined && limitOrBounds.max === undefined) {
      throw new InvalidArgumentError(owner, "bounds", limitOrBounds, "to give min, max or both");
    }
    lo = limitOrBounds.min === undefined ? -Infinity : checkNumber(owner, "min", limitOrBounds.min);
    hi = limitOrBounds.max === undefined ? Infinity : checkNumber(owner, "max", limitOrBounds.max);
    if (lo > hi) {
      throw new InvalidArgumentError(owner, "max", hi, `>= min (${lo})`);
    }
  }
  return {
    name: "clipByValue",
    init: () => ({}),
    update(u) {
      for (let i = 0; i < u.length; i++) {
        const x = u[i];
        if (x > hi) u[i] = hi;
        else if (x < lo) u[i] = lo;
      }
    },
  };
}
