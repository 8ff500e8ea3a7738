/**
 * Uniform, Gaussian, exponential and Rademacher samples from Philox4x32-10 streams.
 *
 * Element i of every distribution is a pure function of (seed, stream, i): a fill starting at
 * index k equals the tail of a fill starting at 0, and the values are bit-identical on every
 * JavaScript engine (integer bit manipulation, IEEE arithmetic, and the portable log / sin / cos
 * of portableMath.ts instead of the engine's `Math.log/sin/cos`).
 *
 * ## Which words each element uses (fixed forever)
 *
 * With `block(b) = [x0, x1, x2, x3]` the Philox block b of stream (seed, stream) (philox.ts):
 *
 * | distribution | element i uses | value |
 * |---|---|---|
 * | uniform, float64 | block ⌊i/2⌋, words (x0, x1) for even i, (x2, x3) for odd i | {@link float64FromWords}: 53 bits, [0, 1) |
 * | uniform, float32 | the same first word of that pair | {@link float32FromWord}: its top 24 bits, [0, 1) |
 * | exponential | the same pair as uniform | −log u, u = {@link float64OpenClosedFromWords} in (0, 1] |
 * | normal | block ⌊i/2⌋: u1 from (x0, x1) in (0, 1], u2 from (x2, x3) in [0, 1) | r = √(−2 log u1); even i: r·cos 2πu2, odd i: r·sin 2πu2 (Box–Muller) |
 * | Rademacher | bit (i mod 32), least significant first, of word ⌊i/32⌋ of the stream | +1 if the bit is 0, −1 if it is 1 |
 *
 * In word terms: uniform and exponential element i read words 2i and 2i+1; normal elements 2j
 * and 2j+1 share words 4j … 4j+3. Float32 outputs of normal and exponential are the float64
 * values rounded to float32. Streams are independent of each other, but different
 * distributions drawn from the same (seed, stream) reuse the same bits: give each random
 * quantity its own stream.
 */
import { checkCounterPart, streamBlock, streamForFill } from "./philox.js";
import type { SinCos } from "./portableMath.js";
import { portableLog, sinCosTwoPi } from "./portableMath.js";

/** A flat float buffer (the element types descend computes in). */
export type FloatBuffer = Float32Array | Float64Array;

/** Buffers that can receive ±1. */
export type SignBuffer = Float32Array | Float64Array | Int8Array | Int16Array | Int32Array;

const TWO_POW_26 = 67108864;
const TWO_POW_MINUS_23 = 1 / 8388608;
const TWO_POW_MINUS_24 = 1 / 16777216;
const TWO_POW_MINUS_52 = 1 / 4503599627370496;
const TWO_POW_MINUS_53 = 1 / 9007199254740992;

/** A float64 in [0, 1) with 53 random bits: the top 27 bits of `hi` then the top 26 of `lo`. */
export function float64FromWords(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_POW_26 + (lo >>> 6)) * TWO_POW_MINUS_53;
}

/** As {@link float64FromWords} plus 2^-53: a float64 in (0, 1], safe to take the log of. */
export function float64OpenClosedFromWords(hi: number, lo: number): number {
  return ((hi >>> 5) * TWO_POW_26 + (lo >>> 6) + 1) * TWO_POW_MINUS_53;
}

/** A float64 in the open interval (0, 1) from 52 bits: (k + 1/2)·2^-52, exact. */
export function float64OpenFromWords(hi: number, lo: number): number {
  return ((hi >>> 6) * TWO_POW_26 + (lo >>> 6) + 0.5) * TWO_POW_MINUS_52;
}

/** A float32 value in [0, 1) from the top 24 bits of `word` (exact in float32). */
export function float32FromWord(word: number): number {
  return (word >>> 8) * TWO_POW_MINUS_24;
}

/** A float32 value in the open interval (0, 1) from 23 bits: (k + 1/2)·2^-23, exact in float32. */
export function float32OpenFromWord(word: number): number {
  return ((word >>> 9) + 0.5) * TWO_POW_MINUS_23;
}

/** −log u for u in (0, 1]; `0 − …` keeps log 1 = 0 from turning into −0. */
function exponentialFromWords(hi: number, lo: number): number {
  return 0 - portableLog(float64OpenClosedFromWords(hi, lo));
}

const angle: SinCos = { sin: 0, cos: 0 };

/** Box–Muller radius √(−2 log u1) for u1 in (0, 1]. */
function radiusFromWords(hi: number, lo: number): number {
  // Math.sqrt is correctly rounded on every engine in practice (the hardware instruction).
  return Math.sqrt(0 - 2 * portableLog(float64OpenClosedFromWords(hi, lo)));
}

const scratch = new Uint32Array(4);

function blockOf(seed: number, stream: number, b: number, owner: string): Uint32Array {
  checkCounterPart(owner, "seed", seed);
  checkCounterPart(owner, "stream", stream);
  return streamBlock(seed, stream, b, scratch);
}

/** Element `index` of the uniform [0, 1) float64 sequence of (seed, stream). */
export function uniform(seed: number, stream: number, index: number): number {
  checkCounterPart("uniform", "index", index);
  const w = blockOf(seed, stream, Math.floor(index / 2), "uniform");
  const p = 2 * (index % 2);
  return float64FromWords(w[p], w[p + 1]);
}

/** Element `index` of the standard normal sequence of (seed, stream). */
export function normal(seed: number, stream: number, index: number): number {
  checkCounterPart("normal", "index", index);
  const w = blockOf(seed, stream, Math.floor(index / 2), "normal");
  const r = radiusFromWords(w[0], w[1]);
  sinCosTwoPi(float64FromWords(w[2], w[3]), angle);
  return index % 2 === 0 ? r * angle.cos : r * angle.sin;
}

/** Element `index` of the exponential (rate 1, mean 1) sequence of (seed, stream). */
export function exponential(seed: number, stream: number, index: number): number {
  checkCounterPart("exponential", "index", index);
  const w = blockOf(seed, stream, Math.floor(index / 2), "exponential");
  const p = 2 * (index % 2);
  return exponentialFromWords(w[p], w[p + 1]);
}

/** Element `index` of the Rademacher (±1 with equal probability) sequence of (seed, stream). */
export function rademacher(seed: number, stream: number, index: number): number {
  checkCounterPart("rademacher", "index", index);
  const word = Math.floor(index / 32);
  const w = blockOf(seed, stream, Math.floor(word / 4), "rademacher");
  return (w[word % 4] >>> (index % 32)) & 1 ? -1 : 1;
}

/**
 * Fills `out` with uniform [0, 1) values: elements `startIndex, startIndex + 1, …`.
 * Float64 buffers get 53-bit values, float32 buffers 24-bit values (never rounded up to 1).
 * @returns `out`
 */
export function fillUniform<T extends FloatBuffer>(
  out: T,
  seed: number,
  stream: number,
  startIndex = 0,
): T {
  const s = streamForFill("fillUniform", seed, stream, startIndex, out.length);
  const single = out instanceof Float32Array;
  const n = out.length;
  let i = startIndex;
  let k = 0;
  while (k < n) {
    const w = s.block(Math.floor(i / 2));
    for (let p = 2 * (i % 2); p < 4 && k < n; p += 2, k++, i++) {
      out[k] = single ? float32FromWord(w[p]) : float64FromWords(w[p], w[p + 1]);
    }
  }
  return out;
}

/**
 * Fills `out` with exponential (rate 1) values: elements `startIndex, startIndex + 1, …`.
 * @returns `out`
 */
export function fillExponential<T extends FloatBuffer>(
  out: T,
  seed: number,
  stream: number,
  startIndex = 0,
): T {
  const s = streamForFill("fillExponential", seed, stream, startIndex, out.length);
  const n = out.length;
  let i = startIndex;
  let k = 0;
  while (k < n) {
    const w = s.block(Math.floor(i / 2));
    for (let p = 2 * (i % 2); p < 4 && k < n; p += 2, k++, i++) {
      out[k] = exponentialFromWords(w[p], w[p + 1]);
    }
  }
  return out;
}

/**
 * Fills `out` with standard normal values (Box–Muller, both outputs of each pair used):
 * elements `startIndex, startIndex + 1, …`.
 * @returns `out`
 */
export function fillNormal<T extends FloatBuffer>(
  out: T,
  seed: number,
  stream: number,
  startIndex = 0,
): T {
  const s = streamForFill("fillNormal", seed, stream, startIndex, out.length);
  const n = out.length;
  let i = startIndex;
  let k = 0;
  while (k < n) {
    const w = s.block(Math.floor(i / 2));
    const r = radiusFromWords(w[0], w[1]);
    sinCosTwoPi(float64FromWords(w[2], w[3]), angle);
    if (i % 2 === 0) {
      out[k++] = r * angle.cos;
      i++;
    }
    if (k < n) {
      out[k++] = r * angle.sin;
      i++;
    }
  }
  return out;
}

/**
 * Fills `out` with independent ±1 values, one bit each: elements `startIndex, startIndex + 1, …`.
 * @returns `out`
 */
export function fillRademacher<T extends SignBuffer>(
  out: T,
  seed: number,
  stream: number,
  startIndex = 0,
): T {
  const s = streamForFill("fillRademacher", seed, stream, startIndex, out.length);
  const n = out.length;
  let i = startIndex;
  let k = 0;
  let cachedBlock = -1;
  while (k < n) {
    const word = Math.floor(i / 32);
    const b = Math.floor(word / 4);
    if (b !== cachedBlock) {
      s.block(b);
      cachedBlock = b;
    }
    const bits = s.words[word % 4];
    for (let bit = i % 32; bit < 32 && k < n; bit++, k++, i++) {
      out[k] = (bits >>> bit) & 1 ? -1 : 1;
    }
  }
  return out;
}
