/**
 * Reading option values on the command line: every command reports a mistake the same way, with
 * the option and the text it was given.
 */

/** Exit status of a command-line mistake (bad option, unknown name). */
export const EXIT_USAGE = 2;

/** Exit status after an interruption (as for SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** A mistake on the command line; its message is shown with a pointer to `--help`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/** `text` as an integer in [min, max], or a {@link UsageError} naming `--option`. */
export function parseInteger(option: string, text: string, min: number, max: number): number {
  const trimmed = text.trim();
  const value = /^-?\d+$/.test(trimmed) ? Number(trimmed) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${option} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/**
 * `text` as a positive finite number, written as a decimal (`0.01`, `3e-4`) or a fraction
 * (`1/3`), or a {@link UsageError} naming `--option`.
 */
export function parsePositive(option: string, text: string): number {
  const parts = text.trim().split("/");
  const numbers = parts.map((p) => (/^\d*\.?\d+(e[+-]?\d+)?$/i.test(p.trim()) ? Number(p) : NaN));
  const value =
    parts.length === 1 ? numbers[0] : parts.length === 2 ? numbers[0] / numbers[1] : NaN;
  if (!Number.isFinite(value) || value <= 0) {
    throw new UsageError(`--${option} needs positive numbers, got ${JSON.stringify(text)}`);
  }
  return value;
}

/** `text` if it is one of `choices`, or a {@link UsageError} naming `--option` and the choices. */
export function parseChoice<T extends string>(
  option: string,
  text: string,
  choices: readonly T[],
): T {
  const found = choices.find((c) => c === text.trim());
  if (found === undefined) {
    const listed = choices.length === 2 ? choices.join(" or ") : choices.join(", ");
    throw new UsageError(`--${option} must be ${listed}, got ${JSON.stringify(text)}`);
  }
  return found;
}

/** The message of a thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
