/**
 * Errors raised by descend. Every message names the offending parameter (or oracle) and the
 * value it received, so a failing call can be fixed without reading the library's source.
 */

/** A hyperparameter or argument outside its valid range, or of the wrong kind. */
export class InvalidArgumentError extends RangeError {
  /** Name of the offending parameter, e.g. `"beta1"`. */
  readonly parameter: string;
  /** The value that was rejected. */
  readonly value: unknown;

  /**
   * @param owner - who validated the value (an optimizer or function name), e.g. `"adam"`
   * @param parameter - the parameter's name
   * @param value - the rejected value
   * @param requirement - what the value must satisfy, e.g. `"in [0, 1)"`
   */
  constructor(owner: string, parameter: string, value: unknown, requirement: string) {
    super(`${owner}: ${parameter} must be ${requirement}, got ${formatValue(value)}`);
    this.name = "InvalidArgumentError";
    this.parameter = parameter;
    this.value = value;
  }
}

/** Two shapes or layouts that must agree do not. */
export class ShapeMismatchError extends RangeError {
  constructor(message: string) {
    super(message);
    this.name = "ShapeMismatchError";
  }
}

/** A gradient or update held NaN or ±Infinity under the `"throw"` policy. */
export class NonFiniteError extends RangeError {
  /** Parameter tensor holding the first non-finite value. */
  readonly tensor: string;
  /** Flat index of that value inside the tensor. */
  readonly index: number;
  /** The non-finite value. */
  readonly value: number;

  constructor(what: string, tensor: string, index: number, value: number) {
    super(
      `${what} is not finite: ${tensor}[${index}] = ${value} (choose nonFinite: "skip" or "zero" to continue past such steps)`,
    );
    this.name = "NonFiniteError";
    this.tensor = tensor;
    this.index = index;
    this.value = value;
  }
}

/** An objective was asked for an oracle it does not provide. */
export class MissingOracleError extends TypeError {
  /** The oracle that was asked for, e.g. `"hvp"`. */
  readonly oracle: string;
  /** Name of the objective that lacks it. */
  readonly objective: string;

  constructor(objective: string, oracle: string, requester: string) {
    super(
      `objective "${objective}" has no "${oracle}" oracle, which ${requester} needs; ` +
        `use an objective that provides it (e.g. a jax-js objective for "hvp"/"jvp")`,
    );
    this.name = "MissingOracleError";
    this.oracle = oracle;
    this.objective = objective;
  }
}

/** Renders a value for an error message (short, unambiguous for numbers and strings). */
export function formatValue(value: unknown): string {
  if (typeof value === "string") return JSON.stringify(value);
  if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") {
    return String(value);
  }
  if (value === undefined || value === null) return String(value);
  if (typeof value === "function") return "a function";
  if (Array.isArray(value)) return `[${value.map(formatValue).join(", ")}]`;
  try {
    return JSON.stringify(value);
  } catch {
    return Object.prototype.toString.call(value);
  }
}
