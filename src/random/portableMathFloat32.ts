/**
 * Logarithm, sine and cosine evaluated in float32 arithmetic, giving the same bits on every
 * JavaScript engine and in WebAssembly's f32x4 lanes.
 *
 * Every rounded operation is a single IEEE 754 binary32 +, −, ×, ÷ or square root. JavaScript
 * has no float32 arithmetic, so each one is computed in float64 and rounded with `Math.fround`:
 * for these five operations on float32 operands the float64 result rounded again to float32 is
 * the correctly rounded float32 result (double rounding is innocuous because 53 ≥ 2·24 + 2;
 * Figueroa, "When is double rounding innocuous?", SIGNUM Newsletter 1995). A WebAssembly kernel
 * that performs the same float32 operations in the same order therefore computes the same bits.
 * Exact steps (reading the exponent, halving, removing quarter turns) may be done by any exact
 * means.
 *
 * The formulas follow portableMath.ts with series cut to float32 accuracy:
 *
 *     log x = k·ln2_hi + (f − (f²/2 − (s·(f²/2 + R) + k·ln2_lo))),   x = 2^k·(1 + f), √2/2 ≤ 1 + f < √2,
 *     s = f / (2 + f),  z = s²,  R = z·(2/3 + z·(2/5 + z·(2/7 + z·2/9)))
 *
 * (log(1 + f) = 2s + 2s³/3 + 2s⁵/5 + …; with |s| ≤ 0.1716 the first omitted term, 2s·z⁵/11, is
 * below 3·10⁻⁹ of the result), and for an angle of u turns, q = round(4u), a = 2π·(u − q/4),
 * |a| ≤ π/4:
 *
 *     sin a = a + a·z·(−1/6 + z·(1/120 + z·(−1/5040 + z·1/362880))),   z = a²
 *     cos a = w + ((1 − w) − z/2 + z²·(1/24 + z·(−1/720 + z·(1/40320 − z/3628800)))),   w = 1 − z/2
 *
 * (first omitted terms a¹¹/11! and a¹²/12!, below 2.2·10⁻⁹ and 1.2·10⁻¹⁰), then the quadrant q
 * swaps and negates them. Coefficients are the float32 values nearest the quotients written.
 *
 * Measured accuracy against float64 `Math.log`, `Math.sin`, `Math.cos`, in float32 ulps of the
 * result: the logarithm is within 0.86 ulp on every float32 j·2^-24 in (0, 1] (the inputs of the
 * Gaussian draw) and within 0.75 ulp over 4·10⁶ random float32 values of all binades; sin 2πu and
 * cos 2πu are within 1.93 ulp (where the result is at least 2^-20) and 1.31·2^-24 absolute for
 * every u = j·2^-24 in [0, 1). test/random/portableMathFloat32.test.ts holds them to 1 ulp,
 * 2 ulps and 1.5·2^-24.
 */
import { turnByQuarters } from "./portableMath.js";

const fround = Math.fround;

// The bit pattern of a float32, read through a shared buffer (byte order does not matter: the
// two views share the platform's order).
const single = new Float32Array(1);
const singleBits = new Uint32Array(single.buffer);

/** ln 2 with its low 16 bits cleared (45426·2^-16): k·LN2_HIGH is exact for |k| < 2^8. */
const LN2_HIGH_FLOAT32 = 45426 / 65536;
/** ln 2 − LN2_HIGH_FLOAT32, to float32. */
const LN2_LOW_FLOAT32 = fround(0.6931471805599453 - 45426 / 65536);
/** The float32 threshold above which the mantissa is halved (fround(√2) = 1.41421354). */
const SQRT2_FLOAT32 = fround(1.4142135623730951);
/** 2π to float32. */
const TWO_PI_FLOAT32 = fround(6.283185307179586);

/** Coefficients of R = z·(L[0] + z·(L[1] + …)) in the logarithm. */
const LOG_SERIES_FLOAT32 = [2 / 3, 2 / 5, 2 / 7, 2 / 9].map(fround);
/** Coefficients of the sine series after a + a·z·(…). */
const SIN_SERIES_FLOAT32 = [-1 / 6, 1 / 120, -1 / 5040, 1 / 362880].map(fround);
/** Coefficients of the cosine series after 1 − z/2 + z²·(…). */
const COS_SERIES_FLOAT32 = [1 / 24, -1 / 720, 1 / 40320, -1 / 3628800].map(fround);

const [L1, L2, L3, L4] = LOG_SERIES_FLOAT32;
const [S1, S2, S3, S4] = SIN_SERIES_FLOAT32;
const [C2, C3, C4, C5] = COS_SERIES_FLOAT32;

/** 2^24, to lift subnormals into the normal range before reading the exponent. */
const TWO_POW_24 = 16777216;
const SMALLEST_NORMAL_FLOAT32 = 1.1754943508222875e-38;

/**
 * Natural logarithm of a float32 value, computed in float32 arithmetic (bit-identical on every
 * engine). The argument is rounded to float32 first. log(0) = −∞, log(x < 0) = NaN,
 * log(∞) = ∞, log(NaN) = NaN.
 * @returns a float32 value (as a number)
 */
export function portableLogFloat32(x: number): number {
  x = fround(x);
  if (!(x > 0)) return x === 0 ? -Infinity : NaN;
  if (x === Infinity) return Infinity;
  let k = 0;
  if (x < SMALLEST_NORMAL_FLOAT32) {
    x *= TWO_POW_24;
    k = -24;
  }
  // x = 2^k·m with m in [1, 2): read the biased exponent, then force it to zero.
  single[0] = x;
  const bits = singleBits[0];
  k += (bits >>> 23) - 127;
  singleBits[0] = (bits & 0x007fffff) | 0x3f800000;
  let m = single[0];
  if (m > SQRT2_FLOAT32) {
    m *= 0.5;
    k += 1;
  }
  const f = m - 1; // exact (Sterbenz), and a float32
  const s = fround(f / fround(2 + f));
  const z = fround(s * s);
  const r = fround(
    z * fround(L1 + fround(z * fround(L2 + fround(z * fround(L3 + fround(z * L4)))))),
  );
  const halfSquare = fround(fround(0.5 * f) * f);
  // k and k·LN2_HIGH are exact float32 values.
  const tail = fround(fround(s * fround(halfSquare + r)) + fround(k * LN2_LOW_FLOAT32));
  return fround(k * LN2_HIGH_FLOAT32 + fround(f - fround(halfSquare - tail)));
}

/** sin a for |a| ≤ π/4, float32 arithmetic. */
function sinKernelFloat32(a: number): number {
  const z = fround(a * a);
  const p = fround(S1 + fround(z * fround(S2 + fround(z * fround(S3 + fround(z * S4))))));
  return fround(a + fround(fround(a * z) * p));
}

/** cos a for |a| ≤ π/4, float32 arithmetic. */
function cosKernelFloat32(a: number): number {
  const z = fround(a * a);
  const half = fround(0.5 * z);
  const w = fround(1 - half);
  // (1 − w) − half recovers the rounding error of w exactly (w ≥ 0.69).
  const p = fround(C2 + fround(z * fround(C3 + fround(z * fround(C4 + fround(z * C5))))));
  const tail = fround(fround(z * z) * p);
  return fround(w + fround(fround(fround(1 - w) - half) + tail));
}

/** Result of {@link sinCosTwoPiFloat32}: reused to avoid allocation. */
export interface SinCosFloat32 {
  /** sin(2πu), a float32 value. */
  sin: number;
  /** cos(2πu), a float32 value. */
  cos: number;
}

/**
 * sin(2πu) and cos(2πu) for u in [0, 1] turns, computed in float32 arithmetic (bit-identical on
 * every engine). `u` is rounded to float32 first. Removing the nearest quarter turn q/4 is exact,
 * so the multiplication by 2π and the series are the only rounding steps.
 * @param u - angle in turns, in [0, 1]
 * @param out - receives the pair
 * @returns `out`
 */
export function sinCosTwoPiFloat32(u: number, out: SinCosFloat32): SinCosFloat32 {
  u = fround(u);
  const quarter = Math.round(4 * u);
  const a = fround((u - quarter * 0.25) * TWO_PI_FLOAT32);
  return turnByQuarters(quarter, sinKernelFloat32(a), cosKernelFloat32(a), out);
}
