/**
 * Hyperparameters that may vary over training. Any numeric hyperparameter of a transform accepts
 * either a constant or a {@link Schedule}; the transform evaluates it at its own step count.
 */

/**
 * A schedule maps the number of updates already applied (0 for the first update) to a value.
 * It must be a pure function: the same count always gives the same value, so that resuming from
 * saved state reproduces training exactly.
 */
export type Schedule = (count: number) => number;

/** A hyperparameter: a constant or a {@link Schedule}. */
export type Hyper = number | Schedule;

/** Value of a hyperparameter at update `count` (0-based). */
export function valueAt(h: Hyper, count: number): number {
  return typeof h === "function" ? h(count) : h;
}
