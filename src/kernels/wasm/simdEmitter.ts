/**
 * Helpers for writing long WebAssembly SIMD kernels as expressions: v128 constants hoisted into
 * locals, every intermediate bound to a local, and several independent vectors of the same
 * quantity advanced step by step together. Shared by the random-number kernels.
 */
import type { ValType } from "./encoder.js";
import { FunctionBody, V128, op, unsignedLeb } from "./encoder.js";

/** The SIMD opcodes used (after the 0xfd prefix), from the WebAssembly SIMD specification. */
export const V = {
  store: 0x0b,
  const: 0x0c,
  i32x4Splat: 0x11,
  i32x4LtU: 0x3a,
  f32x4Gt: 0x44,
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
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f32x4ConvertI32x4S: 0xfa,
  f64x2ConvertLowI32x4S: 0xfe,
} as const;

/** A value computed onto the stack. */
export type Expr = () => void;

/**
 * Several independent vectors of the same quantity. Each step is emitted for all of them before
 * the next step, so the processor finds independent instructions next to each other: long
 * dependency chains (ten Philox rounds, series) would otherwise leave most of its execution
 * units idle.
 */
export type Vectors = Expr[];

/** Little-endian bytes of four 32-bit words. */
export function wordBytes(words: readonly number[]): number[] {
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

/** Little-endian bytes of a float32 repeated in four lanes. */
function singleBytes(value: number): number[] {
  const view = new DataView(new ArrayBuffer(4));
  view.setFloat32(0, value, true);
  const lane = Array.from(new Uint8Array(view.buffer));
  return [...lane, ...lane, ...lane, ...lane];
}

/** A kernel's function body with helpers that keep the emitted code readable. */
export class Emitter {
  /** The function under construction. */
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

  /** The same float32 in four lanes (`value` must be a float32 value). */
  single(value: number): Expr {
    if (Math.fround(value) !== value) throw new RangeError(`${value} is not a float32 value`);
    return this.constant(singleBytes(value));
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

/** Binary operation on matching vectors, each result bound to a local. */
export function zip(e: Emitter, opcode: number, a: Vectors, b: Vectors): Vectors {
  return e.bindAll(a.map((x, i) => e.apply(opcode, x, b[i])));
}

/** Unary operation (or shift by a constant count), each result bound to a local. */
export function each(e: Emitter, a: Vectors, value: (x: Expr) => Expr): Vectors {
  return e.bindAll(a.map(value));
}

/** A constant used with `count` vectors. */
export function same(x: Expr, count: number): Vectors {
  return Array.from({ length: count }, () => x);
}

/** The floating-point lane shape of a {@link horner} evaluation. */
export type FloatLanes = "f64x2" | "f32x4";

/**
 * Horner's rule `c[0] + z·(c[1] + z·(… + z·c[n−1]))`, innermost product first, in float64 or
 * float32 lanes (float32 coefficients must be float32 values).
 */
export function horner(
  e: Emitter,
  z: Vectors,
  coefficients: readonly number[],
  lanes: FloatLanes = "f64x2",
): Vectors {
  const n = coefficients.length;
  const [add, mul] = lanes === "f64x2" ? [V.f64x2Add, V.f64x2Mul] : [V.f32x4Add, V.f32x4Mul];
  const constant = (c: number) => same(lanes === "f64x2" ? e.double(c) : e.single(c), z.length);
  let acc = zip(e, mul, z, constant(coefficients[n - 1]));
  for (let i = n - 2; i >= 1; i--) {
    acc = zip(e, mul, z, zip(e, add, constant(coefficients[i]), acc));
  }
  return zip(e, add, constant(coefficients[0]), acc);
}
