/**
 * Philox4x32-10, the counter-based generator of Salmon, Moraes, Dror & Shaw, "Parallel Random
 * Numbers: As Easy as 1, 2, 3", SC 2011 (reference implementation: Random123's `philox.h`).
 *
 * A block maps a 128-bit counter and a 64-bit key to 128 random bits through ten rounds of
 * 32×32→64-bit multiplications, XORs and key bumps. Nothing is carried from one call to the
 * next, so any value of any stream can be computed directly, in any order, on any machine.
 * Only integer operations are used (`Math.imul` and 16-bit limbs for the high half of each
 * product), which JavaScript defines exactly, so the bits are the same on every engine.
 *
 * ## The stream mapping (fixed forever: changing it changes every seeded result)
 *
 * A stream is identified by a `seed` and a `stream` number, both integers in [0, 2^53).
 * Its 32-bit words are numbered `w = 0, 1, 2, …` (also below 2^53):
 *
 *     key     = [seed mod 2^32,  floor(seed / 2^32)]
 *     b       = floor(w / 4)                               (the block holding word w)
 *     counter = [b mod 2^32,  floor(b / 2^32),  stream mod 2^32,  floor(stream / 2^32)]
 *     word w  = output[w mod 4]  of  philox4x32_10(counter, key)
 *
 * Distributions (see distributions.ts) consume words of this sequence at fixed positions, so
 * element i of any fill is a pure function of (seed, stream, i).
 */
import { InvalidArgumentError } from "../errors.js";

/** Multipliers and Weyl key increments of Philox4x32 (Random123's PHILOX_M4x32_* and W32_*). */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

const TWO_POW_32 = 4294967296;

/**
 * High 32 bits of the 64-bit product of two unsigned 32-bit integers.
 * Splitting both factors into 16-bit limbs keeps every partial product below 2^32, so each is
 * exact in `Math.imul` once reinterpreted as unsigned.
 */
export function mulhi32(a: number, b: number): number {
  const aLo = a & 0xffff;
  const aHi = a >>> 16;
  const bLo = b & 0xffff;
  const bHi = b >>> 16;
  const loLo = Math.imul(aLo, bLo) >>> 0;
  const hiLo = Math.imul(aHi, bLo) >>> 0;
  const loHi = Math.imul(aLo, bHi) >>> 0;
  const hiHi = Math.imul(aHi, bHi) >>> 0;
  // Bits 16..47 of the product: the carry out of the low half comes from these three terms.
  const middle = (loLo >>> 16) + (hiLo & 0xffff) + (loHi & 0xffff);
  return (hiHi + (hiLo >>> 16) + (loHi >>> 16) + (middle >>> 16)) >>> 0;
}

/**
 * One Philox4x32 block on words given as numbers; writes the four output words to `out`.
 * The inner loop of every fill, kept free of allocation.
 */
export function philoxBlock(
  c0: number,
  c1: number,
  c2: number,
  c3: number,
  k0: number,
  k1: number,
  out: Uint32Array | number[],
  rounds = 10,
): void {
  let x0 = c0 >>> 0;
  let x1 = c1 >>> 0;
  let x2 = c2 >>> 0;
  let x3 = c3 >>> 0;
  let key0 = k0 >>> 0;
  let key1 = k1 >>> 0;
  for (let r = 0; r < rounds; r++) {
    if (r > 0) {
      key0 = (key0 + W0) >>> 0;
      key1 = (key1 + W1) >>> 0;
    }
    const hi0 = mulhi32(M0, x0);
    const lo0 = Math.imul(M0, x0) >>> 0;
    const hi1 = mulhi32(M1, x2);
    const lo1 = Math.imul(M1, x2) >>> 0;
    x0 = (hi1 ^ x1 ^ key0) >>> 0;
    x1 = lo1;
    x2 = (hi0 ^ x3 ^ key1) >>> 0;
    x3 = lo0;
  }
  out[0] = x0;
  out[1] = x1;
  out[2] = x2;
  out[3] = x3;
}

/**
 * The Philox4x32-R block function (R = 10 by default, the recommended and tested variant).
 * @param counter - four words `[c0, c1, c2, c3]` (taken mod 2^32)
 * @param key - two words `[k0, k1]` (taken mod 2^32)
 * @param out - where the four output words go (default: a new Uint32Array)
 * @param rounds - number of rounds R, 1 to 16 (default 10)
 * @returns `out`
 */
export function philox4x32<T extends Uint32Array | number[] = Uint32Array>(
  counter: ArrayLike<number>,
  key: ArrayLike<number>,
  out?: T,
  rounds = 10,
): T {
  if (counter.length !== 4) {
    throw new InvalidArgumentError("philox4x32", "counter", counter, "four 32-bit words");
  }
  if (key.length !== 2) {
    throw new InvalidArgumentError("philox4x32", "key", key, "two 32-bit words");
  }
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 16) {
    throw new InvalidArgumentError("philox4x32", "rounds", rounds, "an integer in [1, 16]");
  }
  const target = out ?? (new Uint32Array(4) as T);
  philoxBlock(counter[0], counter[1], counter[2], counter[3], key[0], key[1], target, rounds);
  return target;
}

/** 2^53: seeds, streams and indices are integers below it (exact in a float64). */
export const INDEX_LIMIT = 9007199254740992;

/**
 * Throws an {@link InvalidArgumentError} unless `value` is an integer in [0, 2^53).
 * @returns the value
 */
export function checkCounterPart(owner: string, parameter: string, value: unknown): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value < 0 || value >= INDEX_LIMIT) {
    throw new InvalidArgumentError(owner, parameter, value, "an integer in [0, 2^53)");
  }
  return value;
}

/** Checks that a fill of `length` elements starting at `start` stays below `limit`. */
export function checkRange(owner: string, start: number, length: number, limit: number): void {
  checkCounterPart(owner, "startIndex", start);
  // limit − start is exact; start + length may round down to 2^53 and slip through.
  if (length > limit - start) {
    throw new InvalidArgumentError(
      owner,
      "startIndex",
      start,
      `such that startIndex + length (${length}) <= ${limit}`,
    );
  }
}

/** The low 32 bits of a non-negative integer below 2^53. */
export function lowWord(value: number): number {
  return value >>> 0;
}

/** The bits of `value` above the low 32 (value below 2^53). */
export function highWord(value: number): number {
  return Math.floor(value / TWO_POW_32);
}

/**
 * A (seed, stream) pair resolved into key and stream words, with a scratch block: the form
 * the fills loop over.
 */
export class PhiloxStream {
  /** Key word 0 (low half of the seed). */
  readonly k0: number;
  /** Key word 1 (high half of the seed). */
  readonly k1: number;
  /** Counter word 2 (low half of the stream number). */
  readonly c2: number;
  /** Counter word 3 (high half of the stream number). */
  readonly c3: number;
  /** The last block computed by {@link PhiloxStream.block}. */
  readonly words = new Uint32Array(4);

  /**
   * @param seed - integer in [0, 2^53)
   * @param stream - integer in [0, 2^53)
   * @param owner - function name used in validation messages
   */
  constructor(seed: number, stream: number, owner = "PhiloxStream") {
    checkCounterPart(owner, "seed", seed);
    checkCounterPart(owner, "stream", stream);
    this.k0 = lowWord(seed);
    this.k1 = highWord(seed);
    this.c2 = lowWord(stream);
    this.c3 = highWord(stream);
  }

  /** Computes block `b` (an integer in [0, 2^53)) into {@link PhiloxStream.words}. */
  block(b: number): Uint32Array {
    philoxBlock(lowWord(b), highWord(b), this.c2, this.c3, this.k0, this.k1, this.words);
    return this.words;
  }
}

/**
 * Computes block `b` of stream (seed, stream) into `out`, for lookups of single elements.
 * Nothing is checked here: each caller checks seed, stream and index in the order its own error
 * messages follow.
 * @returns `out`
 */
export function streamBlock(
  seed: number,
  stream: number,
  b: number,
  out: Uint32Array,
): Uint32Array {
  philoxBlock(
    lowWord(b),
    highWord(b),
    lowWord(stream),
    highWord(stream),
    lowWord(seed),
    highWord(seed),
    out,
  );
  return out;
}

/**
 * Checks the arguments every fill takes (seed, stream, then `startIndex` with the `length` of
 * the output) and returns the stream the fill draws from.
 * @param owner - function name used in validation messages
 */
export function streamForFill(
  owner: string,
  seed: number,
  stream: number,
  startIndex: number,
  length: number,
): PhiloxStream {
  const s = new PhiloxStream(seed, stream, owner);
  checkRange(owner, startIndex, length, INDEX_LIMIT);
  return s;
}

const scratch = new Uint32Array(4);

/**
 * Word `index` of stream (seed, stream): an unsigned 32-bit integer, the raw material of every
 * distribution. All three arguments are integers in [0, 2^53).
 */
export function randomBits(seed: number, stream: number, index: number): number {
  checkCounterPart("randomBits", "seed", seed);
  checkCounterPart("randomBits", "stream", stream);
  checkCounterPart("randomBits", "index", index);
  return streamBlock(seed, stream, Math.floor(index / 4), scratch)[index % 4];
}

/**
 * Fills `out` with words `startIndex, startIndex + 1, …` of stream (seed, stream), so a fill
 * starting at k equals the tail of a fill starting at 0.
 * @returns `out`
 */
export function fillBits(
  out: Uint32Array,
  seed: number,
  stream: number,
  startIndex = 0,
): Uint32Array {
  const s = streamForFill("fillBits", seed, stream, startIndex, out.length);
  const n = out.length;
  let k = 0;
  let w = startIndex;
  while (k < n) {
    const words = s.block(Math.floor(w / 4));
    for (let j = w % 4; j < 4 && k < n; j++, k++, w++) out[k] = words[j];
  }
  return out;
}
