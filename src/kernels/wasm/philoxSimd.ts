/**
 * Philox4x32-10 in WebAssembly SIMD: four blocks side by side, one per 32-bit lane, for the
 * random-number kernels (the JavaScript definition is src/random/philox.ts).
 *
 * Salmon, Moraes, Dror & Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011.
 * One round on the words (x0, x1, x2, x3) with round key (k0, k1):
 *
 *     (hi0, lo0) = M0 · x0,   (hi1, lo1) = M1 · x2          (32×32 → 64-bit products)
 *     (x0, x1, x2, x3) ← (hi1 ⊕ x1 ⊕ k0,  lo1,  hi0 ⊕ x3 ⊕ k1,  lo0)
 *     (k0, k1) ← (k0 + W0, k1 + W1) mod 2^32                 (before every round but the first)
 *
 * Constants M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85, ten rounds:
 * Random123 (DEShawResearch/random123 @ 9545ff6, include/Random123/philox.h). The counter of a
 * block is (b mod 2^32, ⌊b/2^32⌋, c2, c3) and its key (k0, k1).
 */
import { op } from "./encoder.js";
import type { Emitter, Expr, Vectors } from "./simdEmitter.js";
import { V, each, same, wordBytes, zip } from "./simdEmitter.js";

// Philox4x32 multipliers and Weyl key increments (Random123's PHILOX_M4x32_* and W32_*).
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** The loop-invariant part of the blocks: stream words and the ten round keys, splatted. */
export interface PhiloxKeys {
  /** Counter word 2 in every lane. */
  readonly stream2: Expr;
  /** Counter word 3 in every lane. */
  readonly stream3: Expr;
  /** Key word 0 of each round. */
  readonly keys0: readonly Expr[];
  /** Key word 1 of each round. */
  readonly keys1: readonly Expr[];
}

/** Four 32-bit lanes per vector: the output words of a block per lane. */
export interface PhiloxWords {
  /** Output word 0 of each lane's block. */
  x0: Vectors;
  /** Output word 1. */
  x1: Vectors;
  /** Output word 2. */
  x2: Vectors;
  /** Output word 3. */
  x3: Vectors;
}

/** The i32 local `local` (plus the constant `add`, if given) in every lane. */
function splat(e: Emitter, local: number, add?: number): Expr {
  return e.bind(() => {
    e.f.get(local);
    if (add !== undefined) e.f.i32(add).emit(op.i32Add);
    e.f.simd(V.i32x4Splat);
  });
}

/**
 * Emits, where called (before the kernel's loop), the splatted stream words and round keys from
 * the i32 parameters `c2`, `c3` (stream) and `k0`, `k1` (key).
 */
export function philoxKeys(e: Emitter, c2: number, c3: number, k0: number, k1: number): PhiloxKeys {
  const stream2 = splat(e, c2);
  const stream3 = splat(e, c3);
  const keys0: Expr[] = [];
  const keys1: Expr[] = [];
  for (let round = 0; round < 10; round++) {
    keys0.push(splat(e, k0, Math.imul(round, W0)));
    keys1.push(splat(e, k1, Math.imul(round, W1)));
  }
  return { stream2, stream3, keys0, keys1 };
}

/**
 * Emits the 64-bit counter of the iteration's first block, `base + 4·group`, into the i32 locals
 * `first0` (low word) and `first1` (high word), carrying where the low word wraps.
 */
export function firstBlock(
  e: Emitter,
  base0: number,
  base1: number,
  group: number,
  first0: number,
  first1: number,
): void {
  const f = e.f;
  f.get(base0).get(group).i32(2).emit(op.i32Shl, op.i32Add).set(first0);
  f.get(base1).get(first0).get(base0).emit(op.i32LtU, op.i32Add).set(first1);
}

/**
 * Emits `count` vectors of four Philox4x32-10 blocks: lane l of vector j is the block
 * first + 4j + l, with `first` held in the i32 locals `first0`, `first1` (see
 * {@link firstBlock}). The low counter word carries into the high one lane by lane.
 */
export function philoxRounds(
  e: Emitter,
  keys: PhiloxKeys,
  first0: number,
  first1: number,
  count: number,
): PhiloxWords {
  const n = count;
  const start0 = splat(e, first0);
  const start1 = splat(e, first1);
  const offsets = Array.from({ length: n }, (_, j) =>
    e.constant(wordBytes([4 * j, 4 * j + 1, 4 * j + 2, 4 * j + 3])),
  );
  let x0 = each(e, offsets, (offset) => e.apply(V.i32x4Add, start0, offset));
  let x1 = each(e, x0, (low) => e.apply(V.i32x4Sub, start1, e.apply(V.i32x4LtU, low, start0)));
  let x2 = same(keys.stream2, n);
  let x3 = same(keys.stream3, n);

  // The four 64-bit products x·m of each vector: high words and low words, each gathered.
  const highLanes = [4, 5, 6, 7, 12, 13, 14, 15, 20, 21, 22, 23, 28, 29, 30, 31];
  const lowLanes = [0, 1, 2, 3, 8, 9, 10, 11, 16, 17, 18, 19, 24, 25, 26, 27];
  const products = (x: Vectors, m: Expr): [Vectors, Vectors] => {
    const low = each(e, x, (v) => e.apply(V.i64x2ExtmulLowI32x4U, v, m));
    const high = each(e, x, (v) => e.apply(V.i64x2ExtmulHighI32x4U, v, m));
    return [
      e.bindAll(low.map((l, i) => e.shuffle(l, high[i], highLanes))),
      e.bindAll(low.map((l, i) => e.shuffle(l, high[i], lowLanes))),
    ];
  };
  const m0 = e.word(M0);
  const m1 = e.word(M1);
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = products(x0, m0);
    const [hi1, lo1] = products(x2, m1);
    x0 = zip(e, V.xor, zip(e, V.xor, hi1, x1), same(keys.keys0[round], n));
    x1 = lo1;
    x2 = zip(e, V.xor, zip(e, V.xor, hi0, x3), same(keys.keys1[round], n));
    x3 = lo0;
  }
  return { x0, x1, x2, x3 };
}
