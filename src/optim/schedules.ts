/**
 * Schedules: pure functions from the update count (0 for the first update) to a hyperparameter
 * value. Any `Hyper` option accepts one, so the same builders serve learning rates, weight
 * decay, momentum or clipping thresholds.
 *
 * Conventions follow optax (google-deepmind/optax, `optax/schedules/_schedule.py` and
 * `_join.py`): durations count updates, a schedule holds its final value once its transition is
 * over, `begin` delays a transition by holding the initial value, and {@link joinSchedules}
 * hands each later piece the count since its boundary. Endpoints are exact: every interpolation
 * is written as `w·a + (1 − w)·b`, so `w = 1` gives `a` and `w = 0` gives `b` bit for bit.
 *
 * - Cosine decay: Loshchilov & Hutter, "SGDR: Stochastic Gradient Descent with Warm Restarts",
 *   ICLR 2017 (optax `cosine_decay_schedule`, `warmup_cosine_decay_schedule`).
 * - Warmup-stable-decay: Hu et al., "MiniCPM: Unveiling the Potential of Small Language Models
 *   with Scalable Training Strategies", 2024; the `"1-sqrt"` tail is from Hägele et al., "Scaling
 *   Laws and Compute-Optimal Training beyond Fixed Training Durations", NeurIPS 2024.
 * - Exponential and polynomial decay: optax `exponential_decay`, `polynomial_schedule`.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Schedule } from "./hyper.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

function checkOptions(owner: string, options: unknown, known: readonly string[]): void {
  if (typeof options !== "object" || options === null || Array.isArray(options)) {
    throw new InvalidArgumentError(owner, "options", options, "an options object");
  }
  checkKnownOptions(owner, options, known);
}

function checkSteps(owner: string, parameter: string, value: unknown, min: number): number {
  return checkNumber(owner, parameter, value, { integer: true, min });
}

/** Position in [0, 1] of `count` along a transition of `steps` updates starting at `begin`. */
function progress(count: number, begin: number, steps: number): number {
  const elapsed = count - begin;
  if (elapsed <= 0) return 0;
  if (elapsed >= steps) return 1;
  return elapsed / steps;
}

/** `w·a + (1 − w)·b`, exact at w = 0 and w = 1. */
function mix(w: number, a: number, b: number): number {
  return w * a + (1 - w) * b;
}

/** Half-cosine weight: 1 at x = 0, 0 at x = 1. */
function cosineWeight(x: number): number {
  return 0.5 * (1 + Math.cos(Math.PI * x));
}

/** The same value at every count (optax `constant_schedule`). */
export function constantSchedule(value: number): Schedule {
  const v = checkNumber("constantSchedule", "value", value);
  return () => v;
}

/** Options of {@link linearSchedule}. */
export interface LinearScheduleOptions {
  /** Value up to count `begin`. */
  start: number;
  /** Value from count `begin + steps` on. */
  end: number;
  /** Length of the transition, in updates (integer >= 1). */
  steps: number;
  /** Count at which the transition starts (default 0). */
  begin?: number;
}

/**
 * Linear interpolation from `start` to `end` over `steps` updates, then held at `end`
 * (optax `linear_schedule`): `start + (end − start)·clip((t − begin)/steps, 0, 1)`.
 */
export function linearSchedule(options: LinearScheduleOptions): Schedule {
  const owner = "linearSchedule";
  checkOptions(owner, options, ["start", "end", "steps", "begin"]);
  const start = checkNumber(owner, "start", options.start);
  const end = checkNumber(owner, "end", options.end);
  const steps = checkSteps(owner, "steps", options.steps, 1);
  const begin = checkSteps(owner, "begin", options.begin ?? 0, 0);
  return (count) => mix(progress(count, begin, steps), end, start);
}

/** Options of {@link polynomialSchedule}. */
export interface PolynomialScheduleOptions extends LinearScheduleOptions {
  /** Exponent p > 0 of the remaining fraction (1 is {@link linearSchedule}). */
  power: number;
}

/**
 * Polynomial decay (optax `polynomial_schedule`):
 * `end + (start − end)·(1 − clip((t − begin)/steps, 0, 1))^p`.
 */
export function polynomialSchedule(options: PolynomialScheduleOptions): Schedule {
  const owner = "polynomialSchedule";
  checkOptions(owner, options, ["start", "end", "steps", "begin", "power"]);
  const start = checkNumber(owner, "start", options.start);
  const end = checkNumber(owner, "end", options.end);
  const steps = checkSteps(owner, "steps", options.steps, 1);
  const begin = checkSteps(owner, "begin", options.begin ?? 0, 0);
  const power = checkNumber(owner, "power", options.power, { above: 0 });
  return (count) => mix((1 - progress(count, begin, steps)) ** power, start, end);
}

/** Options of {@link cosineDecay}. */
export interface CosineDecayOptions {
  /** Value at count 0. */
  start: number;
  /** Length of the decay, in updates (integer >= 1); the value is held afterwards. */
  steps: number;
  /** Final value as a fraction of `start` (optax's `alpha`, in [0, 1]; default 0). */
  alpha?: number;
  /** Final value, instead of `alpha` (any finite number; may exceed `start`). */
  end?: number;
  /** Exponent p > 0 applied to the cosine weight (default 1). */
  exponent?: number;
}

/**
 * Cosine decay (Loshchilov & Hutter, SGDR, 2017; optax `cosine_decay_schedule`):
 * `w = (½(1 + cos(π·min(t, T)/T)))^p`, value `w·start + (1 − w)·end` with `end = alpha·start`
 * unless `end` is given.
 */
export function cosineDecay(options: CosineDecayOptions): Schedule {
  const owner = "cosineDecay";
  checkOptions(owner, options, ["start", "steps", "alpha", "end", "exponent"]);
  const start = checkNumber(owner, "start", options.start);
  const steps = checkSteps(owner, "steps", options.steps, 1);
  if (options.alpha !== undefined && options.end !== undefined) {
    throw new InvalidArgumentError(
      owner,
      "alpha",
      options.alpha,
      "left out when end is given (alpha is end / start)",
    );
  }
  const alpha = checkNumber(owner, "alpha", options.alpha ?? 0, { min: 0, max: 1 });
  const end = options.end === undefined ? alpha * start : checkNumber(owner, "end", options.end);
  const exponent = checkNumber(owner, "exponent", options.exponent ?? 1, { above: 0 });
  return (count) => mix(cosineWeight(progress(count, 0, steps)) ** exponent, start, end);
}

/** Options of {@link warmupCosine}. */
export interface WarmupCosineOptions {
  /** Value reached at the end of warmup. */
  peak: number;
  /** Length of the linear warmup (integer >= 0; 0 starts at `peak`). */
  warmupSteps: number;
  /** Total length including warmup (integer > warmupSteps); `end` is held afterwards. */
  totalSteps: number;
  /** Value at count `totalSteps` and after (default 0). */
  end?: number;
  /** Value at count 0 (default 0). */
  start?: number;
  /** Exponent p > 0 of the cosine weight (default 1). */
  exponent?: number;
}

/**
 * Linear warmup from `start` to `peak` over `warmupSteps`, then cosine decay from `peak` to `end`
 * over the remaining `totalSteps − warmupSteps` updates (optax `warmup_cosine_decay_schedule`,
 * whose `decay_steps` likewise includes the warmup).
 */
export function warmupCosine(options: WarmupCosineOptions): Schedule {
  const owner = "warmupCosine";
  checkOptions(owner, options, ["peak", "warmupSteps", "totalSteps", "end", "start", "exponent"]);
  const peak = checkNumber(owner, "peak", options.peak);
  const warmupSteps = checkSteps(owner, "warmupSteps", options.warmupSteps, 0);
  const totalSteps = checkSteps(owner, "totalSteps", options.totalSteps, warmupSteps + 1);
  const end = checkNumber(owner, "end", options.end ?? 0);
  const start = checkNumber(owner, "start", options.start ?? 0);
  const exponent = checkNumber(owner, "exponent", options.exponent ?? 1, { above: 0 });
  const decaySteps = totalSteps - warmupSteps;
  return (count) => {
    if (count < warmupSteps) return mix(progress(count, 0, warmupSteps), peak, start);
    const w = cosineWeight(progress(count, warmupSteps, decaySteps)) ** exponent;
    return mix(w, peak, end);
  };
}

/** Shape of the final phase of {@link warmupStableDecay}. */
export type DecayShape = "linear" | "cosine" | "1-sqrt";

/** Options of {@link warmupStableDecay}. */
export interface WarmupStableDecayOptions {
  /** Value of the stable phase. */
  peak: number;
  /** Length of the linear warmup (integer >= 0). */
  warmupSteps: number;
  /** Length of the decay tail (integer >= 1). */
  decaySteps: number;
  /** Total length (integer >= warmupSteps + decaySteps); the stable phase fills the rest. */
  totalSteps: number;
  /** Value at count 0 (default 0). */
  start?: number;
  /** Value at count `totalSteps` and after (default 0). */
  end?: number;
  /** Decay tail: `"linear"` (default), `"cosine"` or `"1-sqrt"`. */
  decayShape?: DecayShape;
}

/**
 * Warmup-stable-decay (WSD; Hu et al., MiniCPM, 2024): linear warmup from `start` to `peak`,
 * constant `peak`, then a tail of `decaySteps` updates ending at `totalSteps`. With x the
 * fraction of the tail elapsed, the weight of `peak` is `1 − x` (linear), `½(1 + cos πx)`
 * (cosine) or `1 − √x` (1-sqrt, Hägele et al., 2024); `end` is held afterwards.
 */
export function warmupStableDecay(options: WarmupStableDecayOptions): Schedule {
  const owner = "warmupStableDecay";
  checkOptions(owner, options, [
    "peak",
    "warmupSteps",
    "decaySteps",
    "totalSteps",
    "start",
    "end",
    "decayShape",
  ]);
  const peak = checkNumber(owner, "peak", options.peak);
  const warmupSteps = checkSteps(owner, "warmupSteps", options.warmupSteps, 0);
  const decaySteps = checkSteps(owner, "decaySteps", options.decaySteps, 1);
  const totalSteps = checkSteps(owner, "totalSteps", options.totalSteps, warmupSteps + decaySteps);
  const start = checkNumber(owner, "start", options.start ?? 0);
  const end = checkNumber(owner, "end", options.end ?? 0);
  const shape = checkChoice(owner, "decayShape", options.decayShape ?? "linear", [
    "linear",
    "cosine",
    "1-sqrt",
  ]);
  const decayBegin = totalSteps - decaySteps;
  const weight =
    shape === "linear"
      ? (x: number) => 1 - x
      : shape === "cosine"
        ? cosineWeight
        : (x: number) => 1 - Math.sqrt(x);
  return (count) => {
    if (count < warmupSteps) return mix(progress(count, 0, warmupSteps), peak, start);
    if (count < decayBegin) return peak;
    return mix(weight(progress(count, decayBegin, decaySteps)), peak, end);
  };
}

/** Options of {@link exponentialDecay}. */
export interface ExponentialDecayOptions {
  /** Value up to count `begin`. */
  start: number;
  /** Factor applied every `transitionSteps` updates (> 0; < 1 decays, > 1 grows). */
  rate: number;
  /** Updates over which the value is multiplied by `rate` (integer >= 1). */
  transitionSteps: number;
  /** Count at which the decay starts (default 0). */
  begin?: number;
  /** Multiply by `rate` in whole steps (`floor` of the exponent; default false). */
  staircase?: boolean;
  /** Bound the value stops at: a floor when `rate < 1`, a ceiling otherwise (default none). */
  end?: number;
}

/**
 * Exponential decay (optax `exponential_decay`): `start·rate^((t − begin)/transitionSteps)` for
 * t > begin, `start` before, the exponent floored when `staircase`, clipped at `end`.
 */
export function exponentialDecay(options: ExponentialDecayOptions): Schedule {
  const owner = "exponentialDecay";
  checkOptions(owner, options, ["start", "rate", "transitionSteps", "begin", "staircase", "end"]);
  const start = checkNumber(owner, "start", options.start);
  const rate = checkNumber(owner, "rate", options.rate, { above: 0 });
  const transitionSteps = checkSteps(owner, "transitionSteps", options.transitionSteps, 1);
  const begin = checkSteps(owner, "begin", options.begin ?? 0, 0);
  const staircase = checkBoolean(owner, "staircase", options.staircase ?? false);
  const end = options.end === undefined ? undefined : checkNumber(owner, "end", options.end);
  return (count) => {
    const elapsed = count - begin;
    let value = start;
    if (elapsed > 0) {
      let p = elapsed / transitionSteps;
      if (staircase) p = Math.floor(p);
      value = start * rate ** p;
    }
    if (end !== undefined) value = rate < 1 ? Math.max(value, end) : Math.min(value, end);
    return value;
  };
}

/**
 * Runs `schedules[0]` until `boundaries[0]`, then `schedules[1]` on `count − boundaries[0]`, and
 * so on (optax `join_schedules`). Boundaries are strictly increasing non-negative integers, one
 * fewer than the schedules. A join is continuous when each piece starts where the previous one
 * ended, e.g. a warmup ending at the peak a decay starts from.
 */
export function joinSchedules(
  schedules: readonly Schedule[],
  boundaries: readonly number[],
): Schedule {
  const owner = "joinSchedules";
  if (!Array.isArray(schedules) || schedules.length === 0) {
    throw new InvalidArgumentError(owner, "schedules", schedules, "a non-empty array of schedules");
  }
  schedules.forEach((s, i) => {
    if (typeof s !== "function") {
      throw new InvalidArgumentError(owner, `schedules[${i}]`, s, "a schedule (count => value)");
    }
  });
  if (!Array.isArray(boundaries) || boundaries.length !== schedules.length - 1) {
    throw new InvalidArgumentError(
      owner,
      "boundaries",
      boundaries,
      `an array of ${schedules.length - 1} boundaries (one fewer than the schedules)`,
    );
  }
  boundaries.forEach((b, i) => {
    const min = i === 0 ? 0 : boundaries[i - 1] + 1;
    checkNumber(owner, `boundaries[${i}]`, b, { integer: true, min });
  });
  const pieces = [...schedules];
  const bounds = [...boundaries];
  return (count) => {
    let i = bounds.length - 1;
    while (i >= 0 && count < bounds[i]) i--;
    return i < 0 ? pieces[0](count) : pieces[i + 1](count - bounds[i]);
  };
}
