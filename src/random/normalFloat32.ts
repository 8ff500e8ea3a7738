/**
 * A float32-native standard normal sequence: four Gaussian samples per Philox4x32-10 block,
 * Box–Muller evaluated entirely in float32 arithmetic.
 *
 * Box & Muller, "A Note on the Generation of Random Normal Deviates", Ann. Math. Statist. 29
 * (1958): for independent u1 in (0, 1] and u2 in [0, 1), r·cos 2πu2 and r·sin 2πu2 with
 * r = √(−2 log u1) are independent standard normal values.
 *
 * ## Which words each element uses (fixed forever)
 *
 * With `block(b) = [x0, x1, x2, x3]` the Philox block b of stream (seed, stream) (philox.ts),
 * element i uses block b = ⌊i/4⌋ and the pair p = ⌊(i mod 4)/2⌋ of its words, (a, c) =
 * (x_{2p}, x_{2p+1}):
 *
 *     u1 = ((a >>> 8) + 1)·2^-24 ∈ (0, 1],     u2 = (c >>> 8)·2^-24 ∈ [0, 1)    (both exact in float32)
 *     r  = √(0 − 2·log u1)
 *     z[4b + 2p] = r·cos 2πu2,     z[4b + 2p + 1] = r·sin 2πu2
 *
 * where log, sin and cos are {@link portableLogFloat32} and {@link sinCosTwoPiFloat32} and every
 * +, −, ×, ÷ and √ is rounded to float32 (portableMathFloat32.ts explains why JavaScript's
 * `Math.fround` after each float64 operation gives the same bits as float32 hardware).
 * This is a sequence of its own: its values are not the float32 roundings of `fillNormal`'s
 * float64 sequence, which uses two samples per block.
 *
 * ## Range and accuracy
 *
 * u1 ≥ 2^-24 bounds the radius: |z| ≤ √(48 ln 2) ≈ 5.768. An exact normal exceeds that with
 * probability about 8·10⁻⁹, so the truncation is invisible below some 10⁸ samples but real
 * beyond; use the float64 `fillNormal` where far tails matter. u2 on a grid of 2^24 angles
 * and u1 on a grid of 2^24 radii resolve the distribution to about 6·10⁻⁸ in probability.
 * Against Box–Muller evaluated in float64 with `Math.log/cos/sin` from the same u1, u2, the
 * float32 arithmetic costs at most 2.82·2^-24·r (measured over 4·10⁶ samples; the tests hold
 * 4·2^-24·r).
 */
import { PhiloxStream, checkCounterPart, streamForFill } from "./philox.js";
import type { FloatBuffer } from "./distributions.js";
import type { SinCosFloat32 } from "./portableMathFloat32.js";
import { portableLogFloat32, sinCosTwoPiFloat32 } from "./portableMathFloat32.js";

const TWO_POW_MINUS_24 = 1 / 16777216;

/** The Box–Muller radius √(−2 log u1) of the pair whose first word is `word`, in float32. */
function radiusFloat32FromWord(word: number): number {
  const u1 = ((word >>> 8) + 1) * TWO_POW_MINUS_24;
  // 2·log u1 is exact and ≤ 0; `0 − …` keeps log 1 = 0 from giving a radius of −0.
  return Math.fround(Math.sqrt(0 - 2 * portableLogFloat32(u1)));
}

const angle: SinCosFloat32 = { sin: 0, cos: 0 };

/** Fills `out[k], out[k+1]` (as far as `end` allows) with the pair of words (a, c), from `first`. */
function writePair(
  out: FloatBuffer,
  k: number,
  end: number,
  a: number,
  c: number,
  first: number,
): number {
  const r = radiusFloat32FromWord(a);
  sinCosTwoPiFloat32((c >>> 8) * TWO_POW_MINUS_24, angle);
  if (first === 0) out[k++] = Math.fround(r * angle.cos);
  if (k < end) out[k++] = Math.fround(r * angle.sin);
  return k;
}

/**
 * Element `index` of the float32 standard normal sequence of (seed, stream): a float32 value
 * (returned as a number), four per Philox block.
 */
export function normalFloat32(seed: number, stream: number, index: number): number {
  const s = new PhiloxStream(seed, stream, "normalFloat32");
  checkCounterPart("normalFloat32", "index", index);
  const w = s.block(Math.floor(index / 4));
  const p = 2 * (Math.floor(index / 2) % 2);
  const r = radiusFloat32FromWord(w[p]);
  sinCosTwoPiFloat32((w[p + 1] >>> 8) * TWO_POW_MINUS_24, angle);
  return Math.fround(r * (index % 2 === 0 ? angle.cos : angle.sin));
}

/**
 * Fills `out` with elements `startIndex, startIndex + 1, …` of the float32 standard normal
 * sequence of (seed, stream) (Box–Muller in float32 arithmetic, four samples per Philox block,
 * |z| ≤ 5.768). A Float64Array receives the same float32 values, widened exactly.
 * @returns `out`
 */
export function fillNormalFloat32<T extends FloatBuffer>(
  out: T,
  seed: number,
  stream: number,
  startIndex = 0,
): T {
  const s = streamForFill("fillNormalFloat32", seed, stream, startIndex, out.length);
  const n = out.length;
  let i = startIndex;
  let k = 0;
  while (k < n) {
    const w = s.block(Math.floor(i / 4));
    const within = i % 4;
    const before = k;
    if (within < 2) k = writePair(out, k, n, w[0], w[1], within);
    if (k < n) k = writePair(out, k, n, w[2], w[3], Math.max(0, within - 2));
    i += k - before;
  }
  return out;
}
