/**
 * Philox4x32-10 and the Box–Muller transform as one WebAssembly SIMD kernel: standard normal
 * samples, bit-identical to the JavaScript `fillNormal` of the random layer.
 *
 * Philox4x32-10 comes from philoxSimd.ts (Salmon, Moraes, Dror & Shaw, SC 2011), four blocks per
 * vector of 32-bit lanes.
 *
 * Box–Muller (Box & Muller, "A Note on the Generation of Random Normal Deviates", Ann. Math.
 * Statist. 1958) on block b = (x0, x1, x2, x3):
 *
 *     u1 = ((x0 >>> 5)·2^26 + (x1 >>> 6) + 1)·2^-53 ∈ (0, 1],   u2 = ((x2 >>> 5)·2^26 + (x3 >>> 6))·2^-53
 *     r = √(−2 log u1),   z[2b] = r·cos 2πu2,   z[2b + 1] = r·sin 2πu2
 *
 * with log, sin and cos evaluated by the portable formulas of the random layer (a series in
 * s = f / (2 + f) for the logarithm; for sine and cosine, the angle left after removing the
 * nearest quarter turn q/4, q = round(4·u2), and Taylor series). Every rounded floating-point
 * operation of those formulas appears here in the same order on the same operands; WebAssembly
 * never fuses a multiply and an add and its `div` and `sqrt` are correctly rounded, so each lane
 * computes exactly what the JavaScript code computes. Exact steps may be computed another way:
 * q comes from the top three bits of x2, and u2 − q/4 (exact in JavaScript too) from integers.
 * Data-dependent branches become selections: `m > √2` (halve m, add 1 to the exponent) and
 * the quadrant of the angle.
 *
 * Four Philox blocks go through the rounds side by side (one per 32-bit lane); their Gaussian
 * pairs are then computed two blocks at a time in float64 lanes. A group is four blocks, eight
 * samples.
 */
import type { FunctionBody } from "./encoder.js";
import { I32, ModuleBuilder, op } from "./encoder.js";
import { firstBlock, philoxKeys, philoxRounds } from "./philoxSimd.js";
import type { Expr, Vectors } from "./simdEmitter.js";
import { Emitter, V, each, horner, same, zip } from "./simdEmitter.js";

/** Samples written per group (four Philox blocks of two samples each). */
export const NORMAL_GROUP = 8;

/** Element types the kernel is compiled for. */
export type NormalElementType = "f32" | "f64";

/** Export name of the kernel for an element type. */
export function normalKernelName(type: NormalElementType): string {
  return `philoxNormal_${type}`;
}

/** Names of the module's exports, in the order of its functions. */
export const NORMAL_KERNEL_NAMES: readonly string[] = [
  normalKernelName("f32"),
  normalKernelName("f64"),
];

// The constants of the portable log / sin / cos, written as the same expressions so that they
// are the same doubles.
const LN2_HIGH = 2977044471 / 4294967296;
const LN2_LOW = 1.9082149292705877e-10;
const SQRT2 = 1.4142135623730951;
const LOG_SERIES = [
  2 / 3,
  2 / 5,
  2 / 7,
  2 / 9,
  2 / 11,
  2 / 13,
  2 / 15,
  2 / 17,
  2 / 19,
  2 / 21,
  2 / 23,
];
const SIN_SERIES = [
  -1 / 6,
  1 / 120,
  -1 / 5040,
  1 / 362880,
  -1 / 39916800,
  1 / 6227020800,
  -1 / 1307674368000,
  1 / 355687428096000,
];
const COS_SERIES = [
  1 / 24,
  -1 / 720,
  1 / 40320,
  -1 / 3628800,
  1 / 479001600,
  -1 / 87178291200,
  1 / 20922789888000,
];
const TWO_PI = 6.283185307179586;
const TWO_POW_26 = 67108864;
const TWO_POW_MINUS_53 = 1 / 9007199254740992;
/** 2^52: a 32-bit integer e placed in the low mantissa bits of 2^52 reads as 2^52 + e. */
const TWO_POW_52 = 4503599627370496;

/** Inputs of {@link boxMuller}: per vector, two blocks in lanes 0 and 1 of 32-bit vectors. */
interface BlockPairs {
  /** x0 >>> 5. */
  a: Vectors;
  /** x1 >>> 6. */
  b: Vectors;
  /** (x2 >>> 5) − q·2^25 with q = round(4·u2): the top bits of u2 − q/4 (signed). */
  reduced: Vectors;
  /** x3 >>> 6. */
  d: Vectors;
  /** All ones in the 64-bit lanes whose quadrant q is odd (sine and cosine swap). */
  swap: Vectors;
  /** The sign bit of each 64-bit lane where sin 2πu2 = −(series), that is q ∈ {2, 3}. */
  sinSign: Vectors;
  /** The sign bit where cos 2πu2 = −(series), that is q ∈ {1, 2}. */
  cosSign: Vectors;
}

/**
 * Gaussian pairs of two blocks per vector. Returns, per vector, the samples in element order:
 * `first` = [z(2b), z(2b+1)] of the lane-0 block, `second` the same for the lane-1 block.
 */
function boxMuller(e: Emitter, blocks: BlockPairs): { first: Vectors; second: Vectors } {
  const { a, b, reduced, d, swap, sinSign, cosSign } = blocks;
  const n = a.length;
  const k = (x: number) => same(e.double(x), n);
  const bits = (high: number, low: number) => same(e.long(high, low), n);
  const add = (x: Vectors, y: Vectors) => zip(e, V.f64x2Add, x, y);
  const sub = (x: Vectors, y: Vectors) => zip(e, V.f64x2Sub, x, y);
  const mul = (x: Vectors, y: Vectors) => zip(e, V.f64x2Mul, x, y);
  const one = k(1);
  const half = k(0.5);
  // Every 32-bit input is below 2^27 in magnitude: the signed conversion is exact.
  const convert = (x: Vectors) => each(e, x, (v) => e.apply(V.f64x2ConvertLowI32x4S, v));

  // u1 in (0, 1] and u2 − q/4 in [−1/8, 1/8]: integer-valued sums, exact in any order, so
  // equal to what JavaScript computes from u2 (whose subtraction of q/4 is exact too).
  const u1 = mul(add(add(mul(convert(a), k(TWO_POW_26)), convert(b)), one), k(TWO_POW_MINUS_53));
  const turns = mul(add(mul(convert(reduced), k(TWO_POW_26)), convert(d)), k(TWO_POW_MINUS_53));

  // log u1: u1 = 2^k·m with m in [1, 2), read from the bit pattern; u1 ≥ 2^-53 is normal.
  // The biased exponent e placed in the mantissa of 2^52 reads as 2^52 + e.
  const exponentAsDouble = zip(
    e,
    V.or,
    each(e, u1, (v) => e.shift(V.i64x2ShrU, v, 52)),
    bits(0x43300000, 0),
  );
  let exponent = sub(exponentAsDouble, k(TWO_POW_52 + 1023));
  const mantissa = zip(
    e,
    V.or,
    zip(e, V.and, u1, bits(0x000fffff, 0xffffffff)),
    bits(0x3ff00000, 0),
  );
  const above = zip(e, V.f64x2Gt, mantissa, k(SQRT2));
  const halved = mul(mantissa, half);
  const m = e.bindAll(mantissa.map((x, i) => e.apply(V.bitselect, halved[i], x, above[i])));
  exponent = add(exponent, zip(e, V.and, above, one));
  const f = sub(m, one);
  const s = zip(e, V.f64x2Div, f, add(k(2), f));
  const z = mul(s, s);
  const r = mul(z, horner(e, z, LOG_SERIES));
  const halfSquare = mul(mul(half, f), f);
  const log = add(
    mul(exponent, k(LN2_HIGH)),
    sub(f, sub(halfSquare, add(mul(s, add(halfSquare, r)), mul(exponent, k(LN2_LOW))))),
  );
  // 0 − x, not −x: keeps log 1 = 0 from becoming −0 (and the radius √−0 = −0).
  const radius = each(e, sub(k(0), mul(k(2), log)), (v) => e.apply(V.f64x2Sqrt, v));

  // sin and cos of 2πu2 from the angle left after removing the nearest quarter turn.
  const angle = mul(turns, k(TWO_PI));
  const squared = mul(angle, angle);
  const sine = add(angle, mul(mul(angle, squared), horner(e, squared, SIN_SERIES)));
  const halfSquared = mul(half, squared);
  const w = sub(one, halfSquared);
  const tail = mul(mul(squared, squared), horner(e, squared, COS_SERIES));
  const cosine = add(w, add(sub(sub(one, w), halfSquared), tail));

  const select = (x: Vectors, y: Vectors) =>
    e.bindAll(x.map((v, i) => e.apply(V.bitselect, v, y[i], swap[i])));
  const sinTurn = zip(e, V.xor, select(cosine, sine), sinSign);
  const cosTurn = zip(e, V.xor, select(sine, cosine), cosSign);
  const even = mul(radius, cosTurn);
  const odd = mul(radius, sinTurn);
  const lanes = (from: number) => [
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((l) => from + l),
    ...[0, 1, 2, 3, 4, 5, 6, 7].map((l) => 16 + from + l),
  ];
  return {
    first: e.bindAll(even.map((x, i) => e.shuffle(x, odd[i], lanes(0)))),
    second: e.bindAll(even.map((x, i) => e.shuffle(x, odd[i], lanes(8)))),
  };
}

/**
 * Groups handled per loop iteration, their steps interleaved: measured 20% faster than one
 * group; four run out of vector registers and are slower again.
 */
const INTERLEAVE = 2;

/**
 * `philoxNormal_<type>(out, lo, hi, base0, base1, c2, c3, k0, k1)`: for every group g in
 * [lo, hi), the eight samples of Philox blocks base + 4g … base + 4g + 3 (base = base0 +
 * 2^32·base1, words c2, c3 the stream, k0, k1 the key) written at element 8g of the array at
 * byte address `out`. Requires 4·hi < 2^32 and hi − lo a multiple of {@link NORMAL_STEP}.
 */
export function normalKernel(type: NormalElementType): FunctionBody {
  const e = new Emitter([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const n = INTERLEAVE;
  const f = e.f;
  const [out, lo, hi, base0, base1, c2, c3, k0, k1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const size = type === "f32" ? 4 : 8;
  const group = f.local(I32);
  const pointer = f.local(I32);
  const first0 = f.local(I32);
  const first1 = f.local(I32);

  // Round keys and the stream words, the same for every group.
  const keys = philoxKeys(e, c2, c3, k0, k1);

  f.get(lo).set(group);
  f.get(out)
    .get(lo)
    .i32(NORMAL_GROUP * size)
    .emit(op.i32Mul, op.i32Add)
    .set(pointer);
  f.block().loop();
  f.get(group).get(hi).emit(op.i32GeU).brIf(1);

  firstBlock(e, base0, base1, group, first0, first1);
  const { x0, x1, x2, x3 } = philoxRounds(e, keys, first0, first1, n);

  const shift = (x: Vectors, count: number) => each(e, x, (v) => e.shift(V.i32x4ShrU, v, count));
  const int = (opcode: number, x: Vectors, y: Vectors) => zip(e, opcode, x, y);
  const words = (value: number) => same(e.word(value), n);
  // q = round(4·u2) = top two bits of x2 plus the next bit (ties round up, as Math.round does).
  const quarter = int(V.i32x4Add, shift(x2, 30), int(V.and, shift(x2, 29), words(1)));
  const reduced = int(
    V.i32x4Sub,
    shift(x2, 5),
    each(e, quarter, (v) => e.shift(V.i32x4Shl, v, 25)),
  );
  const oddMask = int(V.i32x4Sub, words(0), int(V.and, quarter, words(1)));
  const sinSign = each(e, int(V.and, quarter, words(2)), (v) => e.shift(V.i32x4Shl, v, 30));
  const cosSign = each(e, int(V.and, int(V.i32x4Add, quarter, words(1)), words(2)), (v) =>
    e.shift(V.i32x4Shl, v, 30),
  );
  // Vector j of the Box–Muller stage: blocks 2j, 2j + 1 of the iteration, i.e. lanes 0, 1
  // (j even) or 2, 3 (j odd) of 32-bit vector ⌊j/2⌋, moved to lanes 0, 1 or spread over the
  // 64-bit lanes (masks: a lane's word in both halves; sign bits in the high half).
  const pick = (x: Vectors, lanesLow: number[], lanesHigh: number[], other?: Expr) =>
    e.bindAll(
      Array.from({ length: 2 * n }, (_, j) =>
        e.shuffle(other ?? x[j >> 1], x[j >> 1], j % 2 === 0 ? lanesLow : lanesHigh),
      ),
    );
  const dwords = (l: number[]) =>
    l.flatMap((lane) => [4 * lane, 4 * lane + 1, 4 * lane + 2, 4 * lane + 3]);
  const low = (x: Vectors) => pick(x, dwords([4, 5, 6, 7]), dwords([6, 7, 6, 7]));
  const spread = (x: Vectors) => pick(x, dwords([4, 4, 5, 5]), dwords([6, 6, 7, 7]));
  const zero = e.word(0);
  const signs = (x: Vectors) => pick(x, dwords([0, 4, 0, 5]), dwords([0, 6, 0, 7]), zero);
  const { first, second } = boxMuller(e, {
    a: low(shift(x0, 5)),
    b: low(shift(x1, 6)),
    reduced: low(reduced),
    d: low(shift(x3, 6)),
    swap: spread(oddMask),
    sinSign: signs(sinSign),
    cosSign: signs(cosSign),
  });
  for (let j = 0; j < 2 * n; j++) {
    // Vector j holds elements 4j … 4j + 3 of the iteration.
    if (type === "f64") {
      f.get(pointer);
      first[j]();
      f.simdMem(V.store, 3, j * 32);
      f.get(pointer);
      second[j]();
      f.simdMem(V.store, 3, j * 32 + 16);
    } else {
      f.get(pointer);
      e.shuffle(
        e.apply(V.f32x4DemoteF64x2Zero, first[j]),
        e.apply(V.f32x4DemoteF64x2Zero, second[j]),
        [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23],
      )();
      f.simdMem(V.store, 2, j * 16);
    }
  }

  f.get(pointer)
    .i32(n * NORMAL_GROUP * size)
    .emit(op.i32Add)
    .set(pointer);
  f.get(group).i32(n).emit(op.i32Add).set(group);
  f.br(0).end().end();
  return e.finish();
}

/** Groups the kernel advances per iteration: call ranges are multiples of this. */
export const NORMAL_STEP = INTERLEAVE;

/** The module's bytes: both kernels, importing a shared or an ordinary `env.memory`. */
export function normalModuleBytes(shared: boolean): Uint8Array {
  const module = new ModuleBuilder();
  module.add(normalKernelName("f32"), normalKernel("f32"));
  module.add(normalKernelName("f64"), normalKernel("f64"));
  return module.encode(
    shared
      ? { shared: true, minimumPages: 0, maximumPages: 65536 }
      : { shared: false, minimumPages: 0 },
  );
}
