/**
 * Logarithm, sine and cosine that give the same bits on every JavaScript engine.
 *
 * ECMAScript lets `Math.log`, `Math.sin` and `Math.cos` be implementation-approximated, so two
 * browsers may disagree in the last bit, and a Gaussian sample built on them would not be
 * reproducible everywhere. These versions use only +, −, ×, ÷ (exactly rounded by IEEE 754),
 * integer operations on the bit pattern, and `Math.sqrt` where needed by callers (the spec does
 * not promise correct rounding for it, but every engine in use computes it with the hardware's
 * correctly rounded square root). The logarithm is within one ulp of the exact value, sine and
 * cosine within two.
 *
 * Constants written as quotients such as `1 / 120` are exactly rounded divisions, evaluated the
 * same way by every engine.
 */

// A float64 and its two 32-bit halves share this buffer; which half holds the sign and exponent
// depends on the platform's byte order, detected once.
const float64 = new Float64Array(1);
const words = new Uint32Array(float64.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** ln 2 split so that k·LN2_HIGH is exact for every exponent k (32 significant bits). */
const LN2_HIGH = 2977044471 / 4294967296;
/** ln 2 − LN2_HIGH, rounded. */
const LN2_LOW = 1.9082149292705877e-10;
const SQRT2 = 1.4142135623730951;
/** 2^54, to lift subnormals into the normal range before reading the exponent. */
const TWO_POW_54 = 18014398509481984;
const SMALLEST_NORMAL = 2.2250738585072014e-308;

// Coefficients of log((1+s)/(1−s)) = 2s + s·(2z/3 + 2z²/5 + …), z = s²; with |s| ≤ 0.1716
// the terms past z^11 are below 1e-18 of the result.
const L1 = 2 / 3;
const L2 = 2 / 5;
const L3 = 2 / 7;
const L4 = 2 / 9;
const L5 = 2 / 11;
const L6 = 2 / 13;
const L7 = 2 / 15;
const L8 = 2 / 17;
const L9 = 2 / 19;
const L10 = 2 / 21;
const L11 = 2 / 23;

/**
 * Natural logarithm, bit-identical on every engine, within about one ulp of the exact value.
 * log(0) = −∞, log(x < 0) = NaN, log(∞) = ∞, log(NaN) = NaN.
 */
export function portableLog(x: number): number {
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return Infinity;
  let k = 0;
  if (x < SMALLEST_NORMAL) {
    x *= TWO_POW_54;
    k = -54;
  }
  // x = 2^k · m with m in [1, 2): read the biased exponent, then force it to zero.
  float64[0] = x;
  const high = words[HIGH];
  k += (high >>> 20) - 1023;
  words[HIGH] = (high & 0x000fffff) | 0x3ff00000;
  let m = float64[0];
  // Centre m on 1 (m in [√2/2, √2)) so that the series variable s stays small.
  if (m > SQRT2) {
    m *= 0.5;
    k += 1;
  }
  const f = m - 1; // exact (Sterbenz)
  const s = f / (2 + f);
  const z = s * s;
  let r = L10 + z * L11;
  r = L9 + z * r;
  r = L8 + z * r;
  r = L7 + z * r;
  r = L6 + z * r;
  r = L5 + z * r;
  r = L4 + z * r;
  r = L3 + z * r;
  r = L2 + z * r;
  r = z * (L1 + z * r);
  // log(1+f) = 2s + s·r = f − f²/2 + s·(f²/2 + r): f is exact, so only the small correction
  // carries rounding error.
  const halfSquare = 0.5 * f * f;
  return k * LN2_HIGH + (f - (halfSquare - (s * (halfSquare + r) + k * LN2_LOW)));
}

// Taylor coefficients of sin and cos; |a| ≤ π/4 after reduction, where the first omitted terms
// (a^19/19!, a^18/18!) are below 1e-19.
const S1 = -1 / 6;
const S2 = 1 / 120;
const S3 = -1 / 5040;
const S4 = 1 / 362880;
const S5 = -1 / 39916800;
const S6 = 1 / 6227020800;
const S7 = -1 / 1307674368000;
const S8 = 1 / 355687428096000;
const C2 = 1 / 24;
const C3 = -1 / 720;
const C4 = 1 / 40320;
const C5 = -1 / 3628800;
const C6 = 1 / 479001600;
const C7 = -1 / 87178291200;
const C8 = 1 / 20922789888000;
const TWO_PI = 6.283185307179586;

function sinKernel(a: number): number {
  const z = a * a;
  return (
    a + a * z * (S1 + z * (S2 + z * (S3 + z * (S4 + z * (S5 + z * (S6 + z * (S7 + z * S8)))))))
  );
}

function cosKernel(a: number): number {
  const z = a * a;
  const half = 0.5 * z;
  const w = 1 - half;
  // (1 − w) − half recovers the rounding error of w exactly (w ≥ 0.69).
  const tail = z * z * (C2 + z * (C3 + z * (C4 + z * (C5 + z * (C6 + z * (C7 + z * C8))))));
  return w + (1 - w - half + tail);
}

/** Result of {@link sinCosTwoPi}: reused to avoid allocation. */
export interface SinCos {
  /** sin(2πu). */
  sin: number;
  /** cos(2πu). */
  cos: number;
}

/**
 * sin(2πu) and cos(2πu) for u in [0, 1] given in turns, bit-identical on every engine and within
 * two ulp of the exact values.
 * Reducing in turns is exact (u − q/4 for the nearest quarter q/4 is exact by Sterbenz's lemma
 * when u is in [0, 1]), so only the final multiplication by 2π and the series round.
 * @param u - angle in turns, in [0, 1]
 * @param out - receives the pair
 * @returns `out`
 */
export function sinCosTwoPi(u: number, out: SinCos): SinCos {
  const quarter = Math.round(4 * u);
  const a = (u - quarter * 0.25) * TWO_PI;
  return turnByQuarters(quarter, sinKernel(a), cosKernel(a), out);
}

/**
 * Writes sin and cos of θ + q·π/2 into `out` from s = sin θ and c = cos θ: the quadrant
 * identities, exact (they only swap and negate).
 * @param quarter - q, an integer (only q mod 4 matters)
 * @returns `out`
 */
export function turnByQuarters<T extends SinCos>(quarter: number, s: number, c: number, out: T): T {
  switch (quarter & 3) {
    case 0:
      out.sin = s;
      out.cos = c;
      break;
    case 1:
      out.sin = c;
      out.cos = -s;
      break;
    case 2:
      out.sin = -s;
      out.cos = -c;
      break;
    default:
      out.sin = -c;
      out.cos = s;
  }
  return out;
}
