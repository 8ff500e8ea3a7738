/**
 * Hyperparameter validation shared by every transform. Checks run when a transform is built,
 * so a bad value is reported before any state exists or changes.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Hyper } from "./hyper.js";

/** Bounds for {@link checkNumber}; each bound is optional. */
export interface NumberBounds {
  /** Smallest allowed value (inclusive). */
  min?: number;
  /** Largest allowed value (inclusive). */
  max?: number;
  /** Values must be strictly greater than this. */
  above?: number;
  /** Values must be strictly less than this. */
  below?: number;
  /** Whether the value must be an integer. */
  integer?: boolean;
}

function describe(bounds: NumberBounds): string {
  const parts: string[] = [];
  if (bounds.integer) parts.push("an integer");
  else parts.push("a finite number");
  const lower =
    bounds.above !== undefined
      ? `> ${bounds.above}`
      : bounds.min !== undefined
        ? `>= ${bounds.min}`
        : undefined;
  const upper =
    bounds.below !== undefined
      ? `< ${bounds.below}`
      : bounds.max !== undefined
        ? `<= ${bounds.max}`
        : undefined;
  if (lower && upper) {
    const lo = bounds.above !== undefined ? `(${bounds.above}` : `[${bounds.min}`;
    const hi = bounds.below !== undefined ? `${bounds.below})` : `${bounds.max}]`;
    parts.push(`in ${lo}, ${hi}`);
  } else if (lower) parts.push(lower);
  else if (upper) parts.push(upper);
  return parts.join(" ");
}

/**
 * Throws an {@link InvalidArgumentError} unless `value` is a finite number within `bounds`.
 * @returns the value, for chaining in constructors
 */
export function checkNumber(
  owner: string,
  parameter: string,
  value: unknown,
  bounds: NumberBounds = {},
): number {
  const ok =
    typeof value === "number" &&
    Number.isFinite(value) &&
    (!bounds.integer || Number.isInteger(value)) &&
    (bounds.min === undefined || value >= bounds.min) &&
    (bounds.max === undefined || value <= bounds.max) &&
    (bounds.above === undefined || value > bounds.above) &&
    (bounds.below === undefined || value < bounds.below);
  if (!ok) throw new InvalidArgumentError(owner, parameter, value, describe(bounds));
  return value as number;
}

/**
 * Validates a hyperparameter that may be a constant or a schedule. Constants are checked against
 * `bounds`; schedules are probed at a few steps (0, 1, 10, 1000) so that an obviously bad schedule
 * (negative learning rate, β ≥ 1) fails at construction rather than mid-training.
 */
export function checkHyper(
  owner: string,
  parameter: string,
  value: unknown,
  bounds: NumberBounds = {},
): Hyper {
  if (typeof value === "function") {
    for (const step of [0, 1, 10, 1000]) {
      const v: unknown = (value as (count: number) => unknown)(step);
      checkNumber(owner, `${parameter} (schedule at step ${step})`, v, bounds);
    }
    return value as Hyper;
  }
  return checkNumber(owner, parameter, value, bounds);
}

/** Throws unless `value` is a boolean. */
export function checkBoolean(owner: string, parameter: string, value: unknown): boolean {
  if (typeof value !== "boolean") {
    throw new InvalidArgumentError(owner, parameter, value, "true or false");
  }
  return value;
}

/** Throws unless `value` is one of `choices`. */
export function checkChoice<T extends string>(
  owner: string,
  parameter: string,
  value: unknown,
  choices: readonly T[],
): T {
  if (typeof value !== "string" || !(choices as readonly string[]).includes(value)) {
    throw new InvalidArgumentError(
      owner,
      parameter,
      value,
      `one of ${choices.map((c) => JSON.stringify(c)).join(", ")}`,
    );
  }
  return value as T;
}

/** Throws if `options` has keys outside `known` (catches misspelled options such as `betas1`). */
export function checkKnownOptions(owner: string, options: object, known: readonly string[]): void {
  for (const key of Object.keys(options)) {
    if (!known.includes(key)) {
      throw new InvalidArgumentError(
        owner,
        key,
        (options as Record<string, unknown>)[key],
        `a known option (one of ${known.join(", ")})`,
      );
    }
  }
}
