/**
 * The float32 Gaussian draw of the random layer (src/random/normalFloat32.ts) as one WebAssembly
 * SIMD kernel: Philox4x32-10 then Box–Muller in f32x4 lanes, bit-identical to the JavaScript
 * `fillNormalFloat32`.
 *
 * Philox4x32-10 comes from philoxSimd.ts (Salmon, Moraes, Dror & Shaw, SC 2011): lane l of a
 * vector is block first + l. Each block (x0, x1, x2, x3) gives two Box–Muller pairs (Box &
 * Muller, Ann. Math. Statist. 1958), (a, c) = (x0, x1) and (x2, x3):
 *
 *     u1 = ((a >>> 8) + 1)·2^-24 ∈ (0, 1],   u2 = (c >>> 8)·2^-24 ∈ [0, 1)
 *     r = √(0 − 2·log u1),   z[4b + 2p] = r·cos 2πu2,   z[4b + 2p + 1] = r·sin 2πu2
 *
 * with log, sin and cos the float32 formulas of src/random/portableMathFloat32.ts:
 *
 *     log u1 = k·ln2_hi + (f − (f²/2 − (s·(f²/2 + R) + k·ln2_lo))),  u1 = 2^k (1 + f), s = f/(2 + f),
 *              R = z·(L1 + z·(L2 + z·(L3 + z·L4))), z = s²
 *     a = 2π·(u2 − q/4), q = round(4·u2);  sin a, cos a by their Taylor series; the quadrant q
 *     then swaps and negates them.
 *
 * Every rounded float32 operation of the JavaScript definition appears here in the same order on
 * the same operands; WebAssembly never fuses a multiply and an add, and its f32x4 `div` and `sqrt`
 * are correctly rounded, so each lane computes exactly what JavaScript computes with
 * `Math.fround` after every operation. Exact steps are computed another way: u1's exponent and
 * mantissa come from the bit pattern of (a >>> 8) + 1 converted to float32 (exact below 2^24 + 1),
 * q from the top three bits of c, and u2 − q/4 from integers. The branch `m > √2` (halve m, add 1
 * to k) and the quadrant become selections.
 *
 * Sixteen samples per group of four blocks; the Box–Muller stage works on the (x0, x1) pairs and
 * the (x2, x3) pairs of every group at once, and a 4×4 transpose puts each block's four samples
 * next to each other for the stores.
 */
import type { FunctionBody } from "./encoder.js";
import { I32, op } from "./encoder.js";
import { firstBlock, philoxKeys, philoxRounds } from "./philoxSimd.js";
import type { Vectors } from "./simdEmitter.js";
import { Emitter, V, each, horner, same, zip } from "./simdEmitter.js";

/** Samples written per group (four Philox blocks of four samples each). */
export const NORMAL_FLOAT32_GROUP = 16;

/** Export name of the kernel. */
export const NORMAL_FLOAT32_KERNEL_NAME = "philoxNormalFloat32";

/** Groups handled per loop iteration, their steps interleaved. */
const INTERLEAVE = 2;

/** Groups the kernel advances per iteration: call ranges are multiples of this. */
export const NORMAL_FLOAT32_STEP = INTERLEAVE;

// The constants of the float32 log / sin / cos, written as the same expressions so that they
// are the same float32 values.
const fround = Math.fround;
const LN2_HIGH = 45426 / 65536;
const LN2_LOW = fround(0.6931471805599453 - 45426 / 65536);
const SQRT2 = fround(1.4142135623730951);
const TWO_PI = fround(6.283185307179586);
const LOG_SERIES = [2 / 3, 2 / 5, 2 / 7, 2 / 9].map(fround);
const SIN_SERIES = [-1 / 6, 1 / 120, -1 / 5040, 1 / 362880].map(fround);
const COS_SERIES = [1 / 24, -1 / 720, 1 / 40320, -1 / 3628800].map(fround);
const TWO_POW_MINUS_24 = 1 / 16777216;
/** Bias of the float32 exponent plus 24: the exponent of u1 = j·2^-24 from the bits of j. */
const EXPONENT_OFFSET = 127 + 24;

/**
 * Box–Muller on pairs of 32-bit word vectors: lane l of `first[j]`, `second[j]` are the words
 * (a, c) of one pair. Returns r·cos 2πu2 and r·sin 2πu2 per lane.
 */
function boxMullerFloat32(
  e: Emitter,
  first: Vectors,
  second: Vectors,
): { even: Vectors; odd: Vectors } {
  const n = first.length;
  const k = (x: number) => same(e.single(x), n);
  const words = (value: number) => same(e.word(value), n);
  const add = (x: Vectors, y: Vectors) => zip(e, V.f32x4Add, x, y);
  const sub = (x: Vectors, y: Vectors) => zip(e, V.f32x4Sub, x, y);
  const mul = (x: Vectors, y: Vectors) => zip(e, V.f32x4Mul, x, y);
  const shift = (opcode: number, x: Vectors, count: number) =>
    each(e, x, (v) => e.shift(opcode, v, count));
  const int = (opcode: number, x: Vectors, y: Vectors) => zip(e, opcode, x, y);
  // Integers below 2^24 + 1 in magnitude: the conversion is exact.
  const convert = (x: Vectors) => each(e, x, (v) => e.apply(V.f32x4ConvertI32x4S, v));
  const one = k(1);
  const half = k(0.5);

  // log u1 with u1 = j·2^-24, j = (a >>> 8) + 1 in [1, 2^24]: the float32 j = 2^e·m, m in
  // [1, 2), read from its bit pattern; then k = e − 24, and m > √2 moves to m/2, k + 1.
  const j = int(V.i32x4Add, shift(V.i32x4ShrU, first, 8), words(1));
  const jBits = convert(j);
  const mantissa = int(V.or, int(V.and, jBits, words(0x007fffff)), words(0x3f800000));
  const above = zip(e, V.f32x4Gt, mantissa, k(SQRT2));
  const halved = mul(mantissa, half);
  const m = e.bindAll(mantissa.map((x, i) => e.apply(V.bitselect, halved[i], x, above[i])));
  // `above` is −1 where true: subtracting it adds one to the exponent.
  const exponent = convert(
    int(V.i32x4Sub, int(V.i32x4Sub, shift(V.i32x4ShrU, jBits, 23), words(EXPONENT_OFFSET)), above),
  );
  const f = sub(m, one);
  const s = zip(e, V.f32x4Div, f, add(k(2), f));
  const z = mul(s, s);
  const r = mul(z, horner(e, z, LOG_SERIES, "f32x4"));
  const halfSquare = mul(mul(half, f), f);
  const tail = add(mul(s, add(halfSquare, r)), mul(exponent, k(LN2_LOW)));
  const log = add(mul(exponent, k(LN2_HIGH)), sub(f, sub(halfSquare, tail)));
  const radius = each(e, sub(k(0), mul(k(2), log)), (v) => e.apply(V.f32x4Sqrt, v));

  // q = round(4·u2) = top two bits of c plus the next one (ties up, as Math.round does); the
  // reduced turn u2 − q/4 = ((c >>> 8) − q·2^22)·2^-24, exact.
  const quarter = int(
    V.i32x4Add,
    shift(V.i32x4ShrU, second, 30),
    int(V.and, shift(V.i32x4ShrU, second, 29), words(1)),
  );
  const reduced = int(V.i32x4Sub, shift(V.i32x4ShrU, second, 8), shift(V.i32x4Shl, quarter, 22));
  const turns = mul(convert(reduced), k(TWO_POW_MINUS_24));
  const angle = mul(turns, k(TWO_PI));
  const squared = mul(angle, angle);
  const sine = add(angle, mul(mul(angle, squared), horner(e, squared, SIN_SERIES, "f32x4")));
  const halfSquared = mul(half, squared);
  const w = sub(one, halfSquared);
  const cosTail = mul(mul(squared, squared), horner(e, squared, COS_SERIES, "f32x4"));
  const cosine = add(w, add(sub(sub(one, w), halfSquared), cosTail));

  // Odd quadrants swap sine and cosine; sin is negated for q mod 4 ∈ {2, 3}, cos for {1, 2}.
  const swap = int(V.i32x4Sub, words(0), int(V.and, quarter, words(1)));
  const sinSign = shift(V.i32x4Shl, int(V.and, quarter, words(2)), 30);
  const cosSign = shift(V.i32x4Shl, int(V.and, int(V.i32x4Add, quarter, words(1)), words(2)), 30);
  const select = (x: Vectors, y: Vectors) =>
    e.bindAll(x.map((v, i) => e.apply(V.bitselect, v, y[i], swap[i])));
  const sinTurn = int(V.xor, select(cosine, sine), sinSign);
  const cosTurn = int(V.xor, select(sine, cosine), cosSign);
  return { even: mul(radius, cosTurn), odd: mul(radius, sinTurn) };
}

/** Byte selectors of `i8x16.shuffle` picking 32-bit lanes (0–3 of a, 4–7 of b). */
function lanes32(lanes: readonly number[]): number[] {
  return lanes.flatMap((l) => [4 * l, 4 * l + 1, 4 * l + 2, 4 * l + 3]);
}

/**
 * `philoxNormalFloat32(out, lo, hi, base0, base1, c2, c3, k0, k1)`: for every group g in
 * [lo, hi), the sixteen float32 samples of Philox blocks base + 4g … base + 4g + 3 (base =
 * base0 + 2^32·base1, words c2, c3 the stream, k0, k1 the key) written at element 16g of the
 * Float32Array at byte address `out`. Requires 4·hi < 2^32 and hi − lo a multiple of
 * {@link NORMAL_FLOAT32_STEP}.
 */
export function normalFloat32Kernel(): FunctionBody {
  const e = new Emitter([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const n = INTERLEAVE;
  const f = e.f;
  const [out, lo, hi, base0, base1, c2, c3, k0, k1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const group = f.local(I32);
  const pointer = f.local(I32);
  const first0 = f.local(I32);
  const first1 = f.local(I32);
  const keys = philoxKeys(e, c2, c3, k0, k1);

  f.get(lo).set(group);
  f.get(out)
    .get(lo)
    .i32(NORMAL_FLOAT32_GROUP * 4)
    .emit(op.i32Mul, op.i32Add)
    .set(pointer);
  f.block().loop();
  f.get(group).get(hi).emit(op.i32GeU).brIf(1);

  firstBlock(e, base0, base1, group, first0, first1);
  const { x0, x1, x2, x3 } = philoxRounds(e, keys, first0, first1, n);
  // Vectors 0 … n−1 hold the (x0, x1) pairs of the groups, n … 2n−1 their (x2, x3) pairs.
  const { even, odd } = boxMullerFloat32(e, [...x0, ...x2], [...x1, ...x3]);

  for (let g = 0; g < n; g++) {
    // Lane l of each: block l of group g. Rows of the transpose are blocks: [z0, z1, z2, z3].
    const [evenA, oddA, evenB, oddB] = [even[g], odd[g], even[n + g], odd[n + g]];
    const [lowA, highA, lowB, highB] = e.bindAll([
      e.shuffle(evenA, oddA, lanes32([0, 4, 1, 5])),
      e.shuffle(evenA, oddA, lanes32([2, 6, 3, 7])),
      e.shuffle(evenB, oddB, lanes32([0, 4, 1, 5])),
      e.shuffle(evenB, oddB, lanes32([2, 6, 3, 7])),
    ]);
    const rows = [
      e.shuffle(lowA, lowB, lanes32([0, 1, 4, 5])),
      e.shuffle(lowA, lowB, lanes32([2, 3, 6, 7])),
      e.shuffle(highA, highB, lanes32([0, 1, 4, 5])),
      e.shuffle(highA, highB, lanes32([2, 3, 6, 7])),
    ];
    for (let l = 0; l < 4; l++) {
      f.get(pointer);
      rows[l]();
      f.simdMem(V.store, 2, (g * NORMAL_FLOAT32_GROUP + 4 * l) * 4);
    }
  }

  f.get(pointer)
    .i32(n * NORMAL_FLOAT32_GROUP * 4)
    .emit(op.i32Add)
    .set(pointer);
  f.get(group).i32(n).emit(op.i32Add).set(group);
  f.br(0).end().end();
  return e.finish();
}
