/**
 * One-byte scalar codes: a fixed table of 254 values that a zeroth-order step's scalar can be
 * rounded to, so a seed log (or a federated message) carries one byte per direction instead of
 * four, and the sender and every replayer apply the very same number.
 *
 * ## The table
 *
 * Code c (a byte) is read as an 8-bit float in the E4M3 layout of the OCP "8-bit Floating Point
 * Specification (OFP8)", revision 1.0, 2023 (Micikevicius et al., "FP8 Formats for Deep
 * Learning", arXiv:2209.05433, 2022): sign s = bit 7, exponent e = bits 6…3 (bias 7),
 * mantissa m = bits 2…0, and
 *
 *     e = 0:            T[c] = (−1)^s · (m / 8) · 2^−6              (zero and subnormals)
 *     e ≥ 1:            T[c] = (−1)^s · (1 + m / 8) · 2^(e − 7)
 *     e = 15, m = 7:    not a number: codes 0x7f and 0xff are invalid here
 *
 * so |T| runs over 0, 2^−9 … 448, 3 significant bits, 16 values per power of two for
 * e ≥ 1. A log chooses a power-of-two scale 2^p, p an integer in [−100, 100], and code c stands
 * for the scalar
 *
 *     decode(c) = T[c] · 2^p
 *
 * which is exact in float32 (a 4-bit significand times a power of two, far from float32's
 * underflow and overflow for these p), so a decoded scalar is a float32 value as record.ts
 * requires. Codes 0x00 and 0x80 are +0 and −0.
 *
 * ## The quantization rule
 *
 * quantize(x) for a finite x: y = x / 2^p (exact), then the table value nearest to y; ties go
 * to the code with an even mantissa (round half to even, the IEEE rule); |y| above 448 saturates
 * to ±448 (the OFP8 "saturating" conversion); the sign of x is kept, so tiny values become ±0,
 * and a step whose scalar is 0 changes nothing (record.ts). Rounding to nearest is
 * deterministic; it is not unbiased, and with 3 significant bits the relative error is at most
 * 1/16 for |y| ≥ 2^−6 (an absolute error of at most 2^−10 below).
 *
 * The scale is the log's choice: pick p so that the largest scalar expected fits below
 * 448·2^p (e.g. lr = 1e−6 and projected gradients up to 100 give scalars up to 1e−4,
 * p = −22 covers up to 1.07e−4 with resolution down to 4.7e−10).
 *
 * A sender must apply `quantize(x)`, the decoded value, never x itself: that is the only way the
 * replayer, which knows nothing but the code, rebuilds the same parameters.
 */
import { InvalidArgumentError } from "../errors.js";

/** Smallest scale exponent p a code table may use. */
export const SCALE_EXPONENT_MIN = -100;

/** Largest scale exponent p a code table may use. */
export const SCALE_EXPONENT_MAX = 100;

/** Largest magnitude of the unscaled table (code 0x7e). */
export const CODE_MAX_MAGNITUDE = 448;

/** The unscaled table T[c]; NaN at the two invalid codes. */
const TABLE: Float64Array = (() => {
  const table = new Float64Array(256);
  for (let c = 0; c < 256; c++) {
    const sign = c & 0x80 ? -1 : 1;
    const e = (c >>> 3) & 0xf;
    const m = c & 0x7;
    if (e === 15 && m === 7) table[c] = NaN;
    else if (e === 0) table[c] = sign * (m / 8) * 2 ** -6;
    else table[c] = sign * (1 + m / 8) * 2 ** (e - 7);
  }
  return table;
})();

/** Index of the largest positive code (0x7e); codes 0 … 0x7e increase with their value. */
const LARGEST_POSITIVE_CODE = 0x7e;

/** Throws unless `p` is an integer scale exponent in [−100, 100]. */
export function checkScaleExponent(owner: string, p: unknown): number {
  if (
    typeof p !== "number" ||
    !Number.isInteger(p) ||
    p < SCALE_EXPONENT_MIN ||
    p > SCALE_EXPONENT_MAX
  ) {
    throw new InvalidArgumentError(
      owner,
      "scaleExponent",
      p,
      `an integer in [${SCALE_EXPONENT_MIN}, ${SCALE_EXPONENT_MAX}]`,
    );
  }
  return p;
}

/** Whether `code` is a byte that stands for a number (every byte but 0x7f and 0xff). */
export function isValidScalarCode(code: number): boolean {
  return Number.isInteger(code) && code >= 0 && code <= 255 && (code & 0x7f) !== 0x7f;
}

/**
 * The scalar that `code` stands for at scale 2^`scaleExponent`: T[code]·2^p, a float32 value.
 * @throws InvalidArgumentError for a byte outside the table (0x7f, 0xff, or not a byte)
 */
export function decodeScalarCode(code: number, scaleExponent: number): number {
  checkScaleExponent("decodeScalarCode", scaleExponent);
  if (!isValidScalarCode(code)) {
    throw new InvalidArgumentError(
      "decodeScalarCode",
      "code",
      code,
      "a byte other than 0x7f and 0xff",
    );
  }
  return TABLE[code] * 2 ** scaleExponent;
}

/** Code of the table value nearest to |y| (y finite), ties to an even mantissa, saturating. */
function nearestMagnitudeCode(magnitude: number): number {
  if (magnitude >= CODE_MAX_MAGNITUDE) return LARGEST_POSITIVE_CODE;
  // Binary search for the last code whose value is ≤ magnitude.
  let lo = 0;
  let hi = LARGEST_POSITIVE_CODE;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (TABLE[mid] <= magnitude) lo = mid;
    else hi = mid - 1;
  }
  if (TABLE[lo] === magnitude) return lo;
  const below = TABLE[lo];
  const above = TABLE[lo + 1];
  // Both differences are exact (Sterbenz's lemma: neighbouring table values are within a
  // factor 2); next to zero a rounded difference can only be far from a tie.
  const down = magnitude - below;
  const up = above - magnitude;
  if (down < up) return lo;
  if (up < down) return lo + 1;
  return (lo & 1) === 0 ? lo : lo + 1;
}

/**
 * The code of the table value nearest to `x` at scale 2^`scaleExponent` (the rule in the file
 * header: round half to even, saturate at ±448·2^p, keep the sign).
 * @throws InvalidArgumentError when `x` is not a finite number
 */
export function encodeScalarCode(x: number, scaleExponent: number): number {
  checkScaleExponent("encodeScalarCode", scaleExponent);
  if (typeof x !== "number" || !Number.isFinite(x)) {
    throw new InvalidArgumentError("encodeScalarCode", "x", x, "a finite number");
  }
  const y = x * 2 ** -scaleExponent;
  const sign = y < 0 || Object.is(y, -0) ? 0x80 : 0;
  return sign | nearestMagnitudeCode(Math.abs(y));
}

/**
 * The code standing for exactly `x` at scale 2^`scaleExponent`, or −1 when `x` is not a
 * value of the scaled table (the check a log runs on every scalar it is given).
 */
export function exactScalarCode(x: number, scaleExponent: number): number {
  if (typeof x !== "number" || !Number.isFinite(x)) return -1;
  const code = encodeScalarCode(x, scaleExponent);
  return Object.is(TABLE[code] * 2 ** scaleExponent, x) ? code : -1;
}

/**
 * `decodeScalarCode(encodeScalarCode(x, p), p)`: the scalar a sender applies and records.
 * @throws InvalidArgumentError when `x` is not a finite number
 */
export function quantizeScalar(x: number, scaleExponent: number): number {
  return TABLE[encodeScalarCode(x, scaleExponent)] * 2 ** scaleExponent;
}

/**
 * The quantizer q of record.ts for a log with one-byte codes at scale 2^`scaleExponent`: give
 * it to the optimizer so that every scalar it applies is a table value.
 */
export function scalarCodeQuantizer(scaleExponent: number): (x: number) => number {
  checkScaleExponent("scalarCodeQuantizer", scaleExponent);
  return (x) => quantizeScalar(x, scaleExponent);
}
