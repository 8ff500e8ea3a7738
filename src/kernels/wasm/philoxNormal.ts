/**
 * Philox4x32-10 and the Box–Muller transform as one WebAssembly SIMD kernel: standard normal
 * samples, bit-identical to the JavaScript `fillNormal` of the random layer.
 *
 * Philox: Salmon, Moraes, Dror & Shaw, "Parallel Random Numbers: As Easy as 1, 2, 3", SC 2011.
 * One round on the words (x0, x1, x2, x3) with round key (k0, k1):
 *
 *     (hi0, lo0) = M0 · x0,   (hi1, lo1) = M1 · x2          (32×32 → 64-bit products)
 *     (x0, x1, x2, x3) ← (hi1 ⊕ x1 ⊕ k0,  lo1,  hi0 ⊕ x3 ⊕ k1,  lo0)
 *     (k0, k1) ← (k0 + W0, k1 + W1) mod 2^32                 (before every round but the first)
 *
 * Constants M0 = 0xD2511F53, M1 = 0xCD9E8D57, W0 = 0x9E3779B9, W1 = 0xBB67AE85, ten rounds:
 * Random123 (DEShawResearch/random123 @ 9545ff6, include/Random123/philox.h).
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
import type { ValType } from "./encoder.js";
import { FunctionBody, I32, ModuleBuilder, V128, op, unsignedLeb } from "./encoder.js";

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

// Philox4x32 multipliers and Weyl key increments (Random123's PHILOX_M4x32_* and W32_*).
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

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

// The SIMD opcodes used (after the 0xfd prefix), from the WebAssembly SIMD specification.
const V = {
  store: 0x0b,
  const: 0x0c,
  i32x4Splat: 0x11,
  i32x4LtU: 0x3a,
  f64x2Gt: 0x4a,
  and: 0x4e,
  or: 0x50,
  xor: 0x51,
  bitselect: 0x52,
  f32x4DemoteF64x2Zero: 0x5e,
  i32x4Shl: 0xab,
  i32x4ShrU: 0xad,
  i32x4Add: 0xae,
  i32x4Sub: 0xb1,
  i64x2ShrU: 0xcd,
  i64x2ExtmulLowI32x4U: 0xde,
  i64x2ExtmulHighI32x4U: 0xdf,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f64x2ConvertLowI32x4S: 0xfe,
} as const;

/** A value computed onto the stack. */
type Expr = () => void;

/** Little-endian bytes of four 32-bit words. */
function wordBytes(words: readonly number[]): number[] {
  const bytes: number[] = [];
  for (const w of words) bytes.push(w & 0xff, (w >>> 8) & 0xff, (w >>> 16) & 0xff, w >>> 24);
  return bytes;
}

/** Little-endian bytes of a float64 repeated in both lanes. */
function doubleBytes(value: number): number[] {
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, value, true);
  const lane = Array.from(new Uint8Array(view.buffer));
  return [...lane, ...lane];
}

/** The kernel's function body with helpers that keep the emitted code readable. */
class Emitter {
  readonly f: FunctionBody;
  private readonly constants = new Map<string, number>();
  private readonly prologue: number[] = [];

  constructor(params: readonly ValType[]) {
    this.f = new FunctionBody(params);
  }

  /**
   * A v128 constant, set once into a local at the start of the function (the compiler may still
   * rematerialise it where used, which costs less than keeping forty constants in registers).
   */
  constant(bytes: number[]): Expr {
    const key = bytes.join(",");
    let local = this.constants.get(key);
    if (local === undefined) {
      local = this.f.local(V128);
      this.constants.set(key, local);
      this.prologue.push(0xfd, V.const, ...bytes, op.localSet);
      unsignedLeb(this.prologue, local);
    }
    const index = local;
    return () => this.f.get(index);
  }

  /** The same float64 in both lanes. */
  double(value: number): Expr {
    return this.constant(doubleBytes(value));
  }

  /** The same 64-bit integer (given as its high and low words) in both lanes. */
  long(high: number, low: number): Expr {
    return this.constant(wordBytes([low, high, low, high]));
  }

  /** The same 32-bit integer in four lanes. */
  word(value: number): Expr {
    return this.constant(wordBytes([value, value, value, value]));
  }

  /** A SIMD instruction applied to the given operands. */
  apply(opcode: number, ...operands: Expr[]): Expr {
    return () => {
      for (const operand of operands) operand();
      this.f.simd(opcode);
    };
  }

  /** `i8x16.shuffle a b lanes`. */
  shuffle(a: Expr, b: Expr, lanes: readonly number[]): Expr {
    return () => {
      a();
      b();
      this.f.shuffle(lanes);
    };
  }

  /** A shift of every lane by a constant count. */
  shift(opcode: number, a: Expr, count: number): Expr {
    return () => {
      a();
      this.f.i32(count);
      this.f.simd(opcode);
    };
  }

  /** Evaluates `value` into a new v128 local; returns the local's reader. */
  bind(value: Expr): Expr {
    const local = this.f.local(V128);
    value();
    this.f.set(local);
    return () => this.f.get(local);
  }

  /** Evaluates each value into a new v128 local, in order. */
  bindAll(values: readonly Expr[]): Expr[] {
    return values.map((value) => this.bind(value));
  }

  /** Puts the constants' initialisation in front of the code emitted so far. */
  finish(): FunctionBody {
    this.f.code.unshift(...this.prologue);
    return this.f;
  }
}

/**
 * Several independent vectors of the same quantity. Each step is emitted for all of them before
 * the next step, so the processor finds independent instructions next to each other: the
 * kernel's long dependency chains (ten Philox rounds, the series) would otherwise leave most of
 * its execution units idle.
 */
type Vectors = Expr[];

/** Binary operation on matching vectors, each result bound to a local. */
function zip(e: Emitter, opcode: number, a: Vectors, b: Vectors): Vectors {
  return e.bindAll(a.map((x, i) => e.apply(opcode, x, b[i])));
}

/** Unary operation (or shift by a constant count), each result bound to a local. */
function each(e: Emitter, a: Vectors, value: (x: Expr) => Expr): Vectors {
  return e.bindAll(a.map(value));
}

/** A constant used with `count` vectors. */
function same(x: Expr, count: number): Vectors {
  return Array.from({ length: count }, () => x);
}

/** Horner's rule `c[0] + z·(c[1] + z·(… + z·c[n−1]))`, innermost product first. */
function horner(e: Emitter, z: Vectors, coefficients: readonly number[]): Vectors {
  const n = coefficients.length;
  const constant = (c: number) => same(e.double(c), z.length);
  let acc = zip(e, V.f64x2Mul, z, constant(coefficients[n - 1]));
  for (let i = n - 2; i >= 1; i--) {
    acc = zip(e, V.f64x2Mul, z, zip(e, V.f64x2Add, constant(coefficients[i]), acc));
  }
  return zip(e, V.f64x2Add, constant(coefficients[0]), acc);
}

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
function normalKernel(type: NormalElementType): FunctionBody {
  const e = new Emitter([I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const n = INTERLEAVE;
  const f = e.f;
  const [out, lo, hi, base0, base1, c2, c3, k0, k1] = [0, 1, 2, 3, 4, 5, 6, 7, 8];
  const size = type === "f32" ? 4 : 8;
  const group = f.local(I32);
  const pointer = f.local(I32);
  const first0 = f.local(I32);
  const first1 = f.local(I32);

  const splat = (scalar: () => void) =>
    e.bind(() => {
      scalar();
      f.simd(V.i32x4Splat);
    });
  // Round keys and the stream words, the same for every group.
  const stream2 = splat(() => f.get(c2));
  const stream3 = splat(() => f.get(c3));
  const keys0: Expr[] = [];
  const keys1: Expr[] = [];
  for (let round = 0; round < 10; round++) {
    keys0.push(splat(() => f.get(k0).i32(Math.imul(round, W0)).emit(op.i32Add)));
    keys1.push(splat(() => f.get(k1).i32(Math.imul(round, W1)).emit(op.i32Add)));
  }

  f.get(lo).set(group);
  f.get(out)
    .get(lo)
    .i32(NORMAL_GROUP * size)
    .emit(op.i32Mul, op.i32Add)
    .set(pointer);
  f.block().loop();
  f.get(group).get(hi).emit(op.i32GeU).brIf(1);

  // Counters of the iteration's blocks, carrying into the high word where the low one wraps.
  f.get(base0).get(group).i32(2).emit(op.i32Shl, op.i32Add).set(first0);
  f.get(base1).get(first0).get(base0).emit(op.i32LtU, op.i32Add).set(first1);
  const start0 = splat(() => f.get(first0));
  const start1 = splat(() => f.get(first1));
  const offsets = Array.from({ length: n }, (_, j) =>
    e.constant(wordBytes([4 * j, 4 * j + 1, 4 * j + 2, 4 * j + 3])),
  );
  let x0 = each(e, offsets, (offset) => e.apply(V.i32x4Add, start0, offset));
  let x1 = each(e, x0, (low) => e.apply(V.i32x4Sub, start1, e.apply(V.i32x4LtU, low, start0)));
  let x2 = same(stream2, n);
  let x3 = same(stream3, n);

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
    x0 = zip(e, V.xor, zip(e, V.xor, hi1, x1), same(keys0[round], n));
    x1 = lo1;
    x2 = zip(e, V.xor, zip(e, V.xor, hi0, x3), same(keys1[round], n));
    x3 = lo0;
  }

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
