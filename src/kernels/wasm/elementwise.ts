/**
 * Elementwise kernels described once as expressions and compiled to WebAssembly: a SIMD loop
 * over whole vectors followed by a scalar loop over the tail.
 *
 * float32 data is widened to float64 for the arithmetic and rounded once when stored, the same
 * evaluation a JavaScript loop over a Float32Array performs (JavaScript numbers are doubles and
 * WebAssembly never contracts a multiply and an add into one rounding), so the compiled kernel
 * and the JavaScript kernel agree bit for bit on every element type.
 */
import type { ValType } from "./encoder.js";
import type { ModuleBuilder } from "./encoder.js";
import { F64, FunctionBody, I32, V128, op, simd } from "./encoder.js";

/** An expression over one element of each array. */
export type Expr =
  | { readonly kind: "load"; readonly array: string }
  | { readonly kind: "scalar"; readonly name: string }
  | { readonly kind: "const"; readonly value: number }
  | { readonly kind: "ref"; readonly id: number }
  | { readonly kind: "unary"; readonly op: UnaryOp; readonly a: Expr }
  | { readonly kind: "binary"; readonly op: BinaryOp; readonly a: Expr; readonly b: Expr };

/** Unary operations: square root, negation, absolute value, rounding to the element type. */
export type UnaryOp = "sqrt" | "neg" | "abs" | "round";
/** Binary operations; `pmax(a, b)` is `a < b ? b : a` (JavaScript's `if (b > a) a = b`). */
export type BinaryOp = "add" | "sub" | "mul" | "div" | "pmax" | "pmin";

type Statement =
  | { readonly kind: "let"; readonly id: number; readonly value: Expr }
  | { readonly kind: "store"; readonly array: string; readonly value: Expr };

/** Builds the statements of a kernel body. */
export class BodyBuilder {
  /** Statements in program order. */
  readonly statements: Statement[] = [];
  private lets = 0;
  private readonly stored = new Set<string>();

  /** The current element of `array`. */
  load(array: string): Expr {
    if (this.stored.has(array)) throw new Error(`kernel body loads ${array} after storing it`);
    return { kind: "load", array };
  }

  /** A per-call scalar argument. */
  scalar(name: string): Expr {
    return { kind: "scalar", name };
  }

  /** A constant. */
  constant(value: number): Expr {
    return { kind: "const", value };
  }

  /** Evaluates `value` once; the result may be used several times. */
  let(value: Expr): Expr {
    const id = this.lets++;
    this.statements.push({ kind: "let", id, value });
    return { kind: "ref", id };
  }

  /** Writes `value` (rounded to the element type) to the current element of `array`. */
  store(array: string, value: Expr): void {
    this.stored.add(array);
    this.statements.push({ kind: "store", array, value });
  }

  /** Number of `let` bindings. */
  get bindings(): number {
    return this.lets;
  }
}

/** `a + b`. */
export const add = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "add", a, b });
/** `a − b`. */
export const sub = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "sub", a, b });
/** `a · b`. */
export const mul = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "mul", a, b });
/** `a / b`. */
export const div = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "div", a, b });
/** `a < b ? b : a`. */
export const pmax = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "pmax", a, b });
/** `b < a ? b : a`. */
export const pmin = (a: Expr, b: Expr): Expr => ({ kind: "binary", op: "pmin", a, b });
/** `√a`. */
export const sqrt = (a: Expr): Expr => ({ kind: "unary", op: "sqrt", a });
/** `−a`. */
export const neg = (a: Expr): Expr => ({ kind: "unary", op: "neg", a });
/** `|a|`. */
export const abs = (a: Expr): Expr => ({ kind: "unary", op: "abs", a });
/** `a` rounded to the element type (what storing and reloading it would give). */
export const round = (a: Expr): Expr => ({ kind: "unary", op: "round", a });

/** An elementwise kernel. */
export interface KernelSpec {
  /** Export name (the element type is appended: `adam_f32`). */
  readonly name: string;
  /** Arrays of the element type, passed as byte addresses in this order. */
  readonly arrays: readonly string[];
  /** float64 scalar arguments in this order. */
  readonly scalars: readonly string[];
  /**
   * A scalar that varies along the buffer (one value per run of elements, e.g. per tensor).
   * The export then takes `(arrays…, table, runs, lo, hi, scalars…)` where `table` holds `runs`
   * entries of 16 bytes: start index (i32), end index (i32), value (f64).
   */
  readonly perRun?: string;
  /** Writes the body for one element. */
  body(k: BodyBuilder): void;
}

/** Element types the kernels are compiled for. */
export type ElementType = "f32" | "f64";

const UNARY_V: Record<Exclude<UnaryOp, "round">, number> = {
  sqrt: simd.f64x2Sqrt,
  neg: simd.f64x2Neg,
  abs: simd.f64x2Abs,
};
const UNARY_S: Record<Exclude<UnaryOp, "round">, number> = {
  sqrt: op.f64Sqrt,
  neg: op.f64Neg,
  abs: op.f64Abs,
};
const BINARY_V: Record<BinaryOp, number> = {
  add: simd.f64x2Add,
  sub: simd.f64x2Sub,
  mul: simd.f64x2Mul,
  div: simd.f64x2Div,
  pmax: simd.f64x2Pmax,
  pmin: simd.f64x2Pmin,
};
const BINARY_S: Partial<Record<BinaryOp, number>> = {
  add: op.f64Add,
  sub: op.f64Sub,
  mul: op.f64Mul,
  div: op.f64Div,
};

/** Elements handled per SIMD iteration (a multiple of both vector widths). */
const UNROLL_ELEMENTS = 8;

interface Emitter {
  readonly f: FunctionBody;
  readonly type: ElementType;
  readonly arrayParam: Map<string, number>;
  readonly offset: number;
  readonly refs: number[];
  readonly scalarLocal: Map<string, number>;
}

/** Emits a (vector or scalar) value of `e` for the elements at `byteShift` past the cursor. */
function emitExpr(e: Emitter, x: Expr, vector: boolean, byteShift: number): void {
  const { f } = e;
  switch (x.kind) {
    case "load": {
      f.get(e.arrayParam.get(x.array)!).get(e.offset).emit(op.i32Add);
      if (!vector) {
        if (e.type === "f32") f.mem(op.f32Load, 2, byteShift).emit(op.f64PromoteF32);
        else f.mem(op.f64Load, 3, byteShift);
      } else if (e.type === "f32") {
        f.simdMem(simd.load64Zero, 2, byteShift).simd(simd.f64x2PromoteLowF32x4);
      } else {
        f.simdMem(simd.load, 3, byteShift);
      }
      return;
    }
    case "scalar": {
      const local = e.scalarLocal.get(x.name);
      if (local === undefined) throw new Error(`unknown scalar ${x.name}`);
      f.get(local);
      return;
    }
    case "const":
      f.f64(x.value);
      if (vector) f.simd(simd.f64x2Splat);
      return;
    case "ref":
      f.get(e.refs[x.id]);
      return;
    case "unary":
      emitExpr(e, x.a, vector, byteShift);
      if (x.op === "round") {
        if (e.type === "f64") return;
        if (vector) f.simd(simd.f32x4DemoteF64x2Zero).simd(simd.f64x2PromoteLowF32x4);
        else f.emit(op.f32DemoteF64, op.f64PromoteF32);
        return;
      }
      if (vector) f.simd(UNARY_V[x.op]);
      else f.emit(UNARY_S[x.op]);
      return;
    case "binary": {
      emitExpr(e, x.a, vector, byteShift);
      emitExpr(e, x.b, vector, byteShift);
      if (vector) {
        f.simd(BINARY_V[x.op]);
        return;
      }
      const code = BINARY_S[x.op];
      if (code !== undefined) {
        f.emit(code);
        return;
      }
      // Scalar pmax/pmin: select between the operands kept in two scratch locals.
      const b = f.local(F64);
      const a = f.local(F64);
      f.set(b).set(a);
      if (x.op === "pmax") f.get(b).get(a).get(a).get(b).emit(op.f64Lt);
      else f.get(b).get(a).get(b).get(a).emit(op.f64Lt);
      f.emit(op.select);
      return;
    }
  }
}

/** Emits the body for the elements at `byteShift` past the cursor (one vector or one scalar). */
function emitBody(
  e: Emitter,
  statements: readonly Statement[],
  vector: boolean,
  byteShift: number,
) {
  const { f } = e;
  for (const s of statements) {
    if (s.kind === "let") {
      emitExpr(e, s.value, vector, byteShift);
      f.set(e.refs[s.id]);
      continue;
    }
    // Address first, then the value.
    f.get(e.arrayParam.get(s.array)!).get(e.offset).emit(op.i32Add);
    emitExpr(e, s.value, vector, byteShift);
    if (!vector) {
      if (e.type === "f32") f.emit(op.f32DemoteF64).mem(op.f32Store, 2, byteShift);
      else f.mem(op.f64Store, 3, byteShift);
    } else if (e.type === "f32") {
      f.simd(simd.f32x4DemoteF64x2Zero);
      f.simdMem(simd.store64Lane, 2, byteShift);
      f.code.push(0);
    } else {
      f.simdMem(simd.store, 3, byteShift);
    }
  }
}

/** Compiles the loop over `[lo, hi)`; parameters are `(arrays…, lo, hi, scalars…)`. */
function compileLoop(spec: KernelSpec, type: ElementType, scalars: readonly string[]) {
  const k = new BodyBuilder();
  spec.body(k);
  const params: ValType[] = [
    ...spec.arrays.map((): ValType => I32),
    I32,
    I32,
    ...scalars.map((): ValType => F64),
  ];
  const f = new FunctionBody(params);
  const arrayParam = new Map(spec.arrays.map((name, i) => [name, i]));
  const lo = spec.arrays.length;
  const hi = lo + 1;
  const scalarLocal = new Map(scalars.map((name, i) => [name, hi + 1 + i]));
  const offset = f.local(I32);
  const vectorEnd = f.local(I32);
  const end = f.local(I32);
  const shift = type === "f32" ? 2 : 3;
  const size = 1 << shift;
  const vrefs = Array.from({ length: k.bindings }, () => f.local(V128));
  const srefs = Array.from({ length: k.bindings }, () => f.local(F64));

  f.get(lo).i32(shift).emit(op.i32Shl).set(offset);
  f.get(hi).i32(shift).emit(op.i32Shl).set(end);
  f.get(hi).get(lo).emit(op.i32Sub).i32(-UNROLL_ELEMENTS).emit(op.i32And);
  f.i32(shift).emit(op.i32Shl).get(offset).emit(op.i32Add).set(vectorEnd);

  // Scalars are broadcast to vectors once, before the loop.
  const splatted = new Map<string, number>();
  for (const [name, param] of scalarLocal) {
    const local = f.local(V128);
    f.get(param).simd(simd.f64x2Splat).set(local);
    splatted.set(name, local);
  }
  const vector: Emitter = { f, type, arrayParam, offset, refs: vrefs, scalarLocal: splatted };
  f.block().loop();
  f.get(offset).get(vectorEnd).emit(op.i32GeU).brIf(1);
  // Each f64x2 vector covers two elements, whatever their storage type.
  for (let pair = 0; pair < UNROLL_ELEMENTS / 2; pair++) {
    emitBody(vector, k.statements, true, pair * 2 * size);
  }
  f.get(offset)
    .i32(UNROLL_ELEMENTS * size)
    .emit(op.i32Add)
    .set(offset);
  f.br(0).end().end();

  const scalar: Emitter = { ...vector, refs: srefs, scalarLocal };
  f.block().loop();
  f.get(offset).get(end).emit(op.i32GeU).brIf(1);
  emitBody(scalar, k.statements, false, 0);
  f.get(offset).i32(size).emit(op.i32Add).set(offset);
  f.br(0).end().end();
  return f;
}

/** Adds `spec` compiled for `type` to `module`, under the name `<name>_<type>`. */
export function addKernel(module: ModuleBuilder, spec: KernelSpec, type: ElementType): void {
  const name = `${spec.name}_${type}`;
  if (spec.perRun === undefined) {
    module.add(name, compileLoop(spec, type, spec.scalars));
    return;
  }
  const others = spec.scalars.filter((s) => s !== spec.perRun);
  const inner = module.add(null, compileLoop(spec, type, [...others, spec.perRun]));
  const n = spec.arrays.length;
  const params: ValType[] = [...spec.arrays.map((): ValType => I32), I32, I32, I32, I32];
  params.push(...others.map((): ValType => F64));
  const f = new FunctionBody(params);
  const table = n;
  const runs = n + 1;
  const lo = n + 2;
  const hi = n + 3;
  const entry = f.local(I32);
  const entryEnd = f.local(I32);
  const start = f.local(I32);
  const stop = f.local(I32);
  f.get(table).set(entry);
  f.get(table).get(runs).i32(4).emit(op.i32Shl).emit(op.i32Add).set(entryEnd);
  f.block().loop();
  f.get(entry).get(entryEnd).emit(op.i32GeU).brIf(1);
  // start = max(run start, lo), stop = min(run end, hi)
  f.get(entry).mem(op.i32Load, 2, 0).tee(start).get(lo).get(start).get(lo).emit(op.i32GtS);
  f.emit(op.select).set(start);
  f.get(entry).mem(op.i32Load, 2, 4).tee(stop).get(hi).get(stop).get(hi).emit(op.i32LtS);
  f.emit(op.select).set(stop);
  f.get(start).get(stop).emit(op.i32LtS).emit(op.if, 0x40);
  for (let i = 0; i < n; i++) f.get(i);
  f.get(start).get(stop);
  for (let i = 0; i < others.length; i++) f.get(hi + 1 + i);
  f.get(entry).mem(op.f64Load, 3, 8);
  f.call(inner);
  f.end();
  f.get(entry).i32(16).emit(op.i32Add).set(entry);
  f.br(0).end().end();
  module.add(name, f);
}

/**
 * Adds `firstNonFinite_<type>(array, lo, hi) → index or −1`: a vector scan that stops at the
 * first block holding NaN or ±Infinity, then a scalar scan to locate the element.
 */
export function addFirstNonFinite(module: ModuleBuilder, type: ElementType): void {
  const f = new FunctionBody([I32, I32, I32], [I32]);
  const [base, lo, hi] = [0, 1, 2];
  const offset = f.local(I32);
  const vectorEnd = f.local(I32);
  const end = f.local(I32);
  const shift = type === "f32" ? 2 : 3;
  const size = 1 << shift;
  const vectors = 4;
  const perIteration = (vectors * 16) / size;
  f.get(lo).i32(shift).emit(op.i32Shl).set(offset);
  f.get(hi).i32(shift).emit(op.i32Shl).set(end);
  f.get(hi).get(lo).emit(op.i32Sub).i32(-perIteration).emit(op.i32And);
  f.i32(shift).emit(op.i32Shl).get(offset).emit(op.i32Add).set(vectorEnd);
  const sub = type === "f32" ? simd.f32x4Sub : simd.f64x2Sub;
  const ne = type === "f32" ? simd.f32x4Ne : simd.f64x2Ne;
  const x = f.local(V128);
  f.block().loop();
  f.get(offset).get(vectorEnd).emit(op.i32GeU).brIf(1);
  // x − x is 0 for finite x and NaN otherwise; NaN ≠ NaN marks the lane.
  for (let v = 0; v < vectors; v++) {
    f.get(base)
      .get(offset)
      .emit(op.i32Add)
      .simdMem(simd.load, shift, v * 16)
      .tee(x);
    f.get(x).simd(sub).tee(x).get(x).simd(ne);
    if (v > 0) f.simd(simd.or);
  }
  f.simd(simd.anyTrue).brIf(1);
  f.get(offset)
    .i32(vectors * 16)
    .emit(op.i32Add)
    .set(offset);
  f.br(0).end().end();
  const y = f.local(F64);
  f.block().loop();
  f.get(offset).get(end).emit(op.i32GeU).brIf(1);
  f.get(base).get(offset).emit(op.i32Add);
  if (type === "f32") f.mem(op.f32Load, 2, 0).emit(op.f64PromoteF32);
  else f.mem(op.f64Load, 3, 0);
  f.tee(y).get(y).emit(op.f64Sub).tee(y).get(y).emit(op.f64Ne);
  f.emit(op.if, 0x40).get(offset).i32(shift).emit(op.i32ShrU).emit(op.return).end();
  f.get(offset).i32(size).emit(op.i32Add).set(offset);
  f.br(0).end().end();
  f.i32(-1);
  module.add(`firstNonFinite_${type}`, f);
}
