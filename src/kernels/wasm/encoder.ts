/**
 * A minimal WebAssembly binary writer: just the sections, instructions and encodings the
 * optimizer kernels need (one imported memory, functions of i32/f64 parameters, scalar and
 * 128-bit SIMD arithmetic). Writing the few bytes ourselves keeps the library free of a compiler
 * toolchain and lets the kernels be generated from one description for every element type.
 */

/** WebAssembly value types. */
export const I32 = 0x7f;
/** 64-bit float value type. */
export const F64 = 0x7c;
/** 32-bit float value type. */
export const F32 = 0x7d;
/** 128-bit vector value type. */
export const V128 = 0x7b;

/** One of the value types above. */
export type ValType = typeof I32 | typeof F64 | typeof F32 | typeof V128;

/** Opcodes of the scalar instructions used (single byte). */
export const op = {
  block: 0x02,
  loop: 0x03,
  if: 0x04,
  else: 0x05,
  end: 0x0b,
  br: 0x0c,
  brIf: 0x0d,
  return: 0x0f,
  call: 0x10,
  drop: 0x1a,
  select: 0x1b,
  localGet: 0x20,
  localSet: 0x21,
  localTee: 0x22,
  i32Load: 0x28,
  f32Load: 0x2a,
  f64Load: 0x2b,
  i32Store: 0x36,
  f32Store: 0x38,
  f64Store: 0x39,
  i32Const: 0x41,
  f64Const: 0x44,
  i32Eqz: 0x45,
  i32Eq: 0x46,
  i32Ne: 0x47,
  i32LtS: 0x48,
  i32LtU: 0x49,
  i32GtS: 0x4a,
  i32GtU: 0x4b,
  i32LeU: 0x4d,
  i32GeU: 0x4f,
  f32Ne: 0x5c,
  f64Ne: 0x62,
  f64Lt: 0x63,
  f64Gt: 0x64,
  i32Add: 0x6a,
  i32Sub: 0x6b,
  i32Mul: 0x6c,
  i32And: 0x71,
  i32Shl: 0x74,
  i32ShrU: 0x76,
  f32Sub: 0x93,
  f64Abs: 0x99,
  f64Neg: 0x9a,
  f64Sqrt: 0x9f,
  f64Add: 0xa0,
  f64Sub: 0xa1,
  f64Mul: 0xa2,
  f64Div: 0xa3,
  f64Min: 0xa4,
  f64Max: 0xa5,
  f32DemoteF64: 0xb6,
  f64PromoteF32: 0xbb,
} as const;

/** Opcodes of the SIMD instructions used (after the 0xfd prefix). */
export const simd = {
  load: 0x00,
  store: 0x0b,
  const: 0x0c,
  shuffle: 0x0d,
  f32x4Splat: 0x13,
  f64x2Splat: 0x14,
  f64x2ExtractLane: 0x21,
  f32x4Ne: 0x42,
  f64x2Ne: 0x48,
  f64x2Lt: 0x49,
  f64x2Gt: 0x4a,
  or: 0x50,
  anyTrue: 0x53,
  load64Zero: 0x5d,
  store64Lane: 0x5b,
  f32x4DemoteF64x2Zero: 0x5e,
  f64x2PromoteLowF32x4: 0x5f,
  f32x4Abs: 0xe0,
  f32x4Neg: 0xe1,
  f32x4Sqrt: 0xe3,
  f32x4Add: 0xe4,
  f32x4Sub: 0xe5,
  f32x4Mul: 0xe6,
  f32x4Div: 0xe7,
  f32x4Pmin: 0xea,
  f32x4Pmax: 0xeb,
  f64x2Abs: 0xec,
  f64x2Neg: 0xed,
  f64x2Sqrt: 0xef,
  f64x2Add: 0xf0,
  f64x2Sub: 0xf1,
  f64x2Mul: 0xf2,
  f64x2Div: 0xf3,
  f64x2Pmin: 0xf6,
  f64x2Pmax: 0xf7,
} as const;

/** Appends the unsigned LEB128 encoding of `value`. */
export function unsignedLeb(out: number[], value: number): void {
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
}

/** Appends the signed LEB128 encoding of the 32-bit integer `value`. */
export function signedLeb(out: number[], value: number): void {
  let v = value | 0;
  for (;;) {
    const byte = v & 0x7f;
    v >>= 7;
    const done = (v === 0 && (byte & 0x40) === 0) || (v === -1 && (byte & 0x40) !== 0);
    out.push(done ? byte : byte | 0x80);
    if (done) return;
  }
}

function utf8(out: number[], text: string): void {
  const bytes = new TextEncoder().encode(text);
  unsignedLeb(out, bytes.length);
  for (const b of bytes) out.push(b);
}

/** The body of one function under construction: locals and an instruction stream. */
export class FunctionBody {
  /** Parameter types (locals 0..params.length−1). */
  readonly params: readonly ValType[];
  /** Result types. */
  readonly results: readonly ValType[];
  private readonly localTypes: ValType[] = [];
  /** Encoded instructions. */
  readonly code: number[] = [];

  constructor(params: readonly ValType[], results: readonly ValType[] = []) {
    this.params = params;
    this.results = results;
  }

  /** Declares a new local and returns its index. */
  local(type: ValType): number {
    this.localTypes.push(type);
    return this.params.length + this.localTypes.length - 1;
  }

  /** Emits raw single-byte opcodes. */
  emit(...bytes: number[]): this {
    for (const b of bytes) this.code.push(b);
    return this;
  }

  /** `local.get index`. */
  get(index: number): this {
    this.code.push(op.localGet);
    unsignedLeb(this.code, index);
    return this;
  }

  /** `local.set index`. */
  set(index: number): this {
    this.code.push(op.localSet);
    unsignedLeb(this.code, index);
    return this;
  }

  /** `local.tee index`. */
  tee(index: number): this {
    this.code.push(op.localTee);
    unsignedLeb(this.code, index);
    return this;
  }

  /** `i32.const value`. */
  i32(value: number): this {
    this.code.push(op.i32Const);
    signedLeb(this.code, value);
    return this;
  }

  /** `f64.const value`. */
  f64(value: number): this {
    this.code.push(op.f64Const);
    const bytes = new Uint8Array(new Float64Array([value]).buffer);
    for (const b of bytes) this.code.push(b);
    return this;
  }

  /** A memory instruction with its alignment exponent and constant offset. */
  mem(opcode: number, alignLog2: number, offset = 0): this {
    this.code.push(opcode);
    unsignedLeb(this.code, alignLog2);
    unsignedLeb(this.code, offset);
    return this;
  }

  /** A SIMD instruction (prefix 0xfd), without immediates. */
  simd(opcode: number): this {
    this.code.push(0xfd);
    unsignedLeb(this.code, opcode);
    return this;
  }

  /** A SIMD memory instruction with alignment exponent and offset. */
  simdMem(opcode: number, alignLog2: number, offset = 0): this {
    this.simd(opcode);
    unsignedLeb(this.code, alignLog2);
    unsignedLeb(this.code, offset);
    return this;
  }

  /** `i8x16.shuffle` with 16 lane selectors (0–15 first operand, 16–31 second). */
  shuffle(lanes: readonly number[]): this {
    this.simd(simd.shuffle);
    for (const l of lanes) this.code.push(l);
    return this;
  }

  /** `call index`. */
  call(index: number): this {
    this.code.push(op.call);
    unsignedLeb(this.code, index);
    return this;
  }

  /** `block` with no result. */
  block(): this {
    return this.emit(op.block, 0x40);
  }

  /** `loop` with no result. */
  loop(): this {
    return this.emit(op.loop, 0x40);
  }

  /** `end`. */
  end(): this {
    return this.emit(op.end);
  }

  /** `br depth`. */
  br(depth: number): this {
    this.code.push(op.br);
    unsignedLeb(this.code, depth);
    return this;
  }

  /** `br_if depth`. */
  brIf(depth: number): this {
    this.code.push(op.brIf);
    unsignedLeb(this.code, depth);
    return this;
  }

  /** The function's code-section entry: local declarations, instructions, `end`. */
  encode(): number[] {
    const body: number[] = [];
    // Run-length groups of equal consecutive local types.
    const groups: [number, ValType][] = [];
    for (const t of this.localTypes) {
      const last = groups[groups.length - 1];
      if (last && last[1] === t) last[0]++;
      else groups.push([1, t]);
    }
    unsignedLeb(body, groups.length);
    for (const [count, type] of groups) {
      unsignedLeb(body, count);
      body.push(type);
    }
    body.push(...this.code, op.end);
    const out: number[] = [];
    unsignedLeb(out, body.length);
    return out.concat(body);
  }
}

/** Memory import declaration of a module. */
export interface MemoryImport {
  /** Whether the memory is shared between threads (then `maximumPages` is required). */
  shared: boolean;
  /** Minimum size in 64 KiB pages. */
  minimumPages: number;
  /** Maximum size in pages. */
  maximumPages?: number;
}

/** Assembles a module importing `env.memory` and exporting the named functions. */
export class ModuleBuilder {
  private readonly functions: { name: string | null; body: FunctionBody }[] = [];

  /** Reserves a function index; the body may be filled in later. */
  add(name: string | null, body: FunctionBody): number {
    this.functions.push({ name, body });
    return this.functions.length - 1;
  }

  /** The binary module. */
  encode(memory: MemoryImport): Uint8Array {
    const out: number[] = [0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00];
    const section = (id: number, content: number[]): void => {
      out.push(id);
      unsignedLeb(out, content.length);
      for (const b of content) out.push(b);
    };

    // Types: one per distinct signature.
    const signatures: string[] = [];
    const typeOf: number[] = [];
    const types: number[] = [];
    for (const { body } of this.functions) {
      const key = `${body.params.join(",")}->${body.results.join(",")}`;
      let index = signatures.indexOf(key);
      if (index < 0) {
        index = signatures.length;
        signatures.push(key);
        types.push(0x60);
        unsignedLeb(types, body.params.length);
        types.push(...body.params);
        unsignedLeb(types, body.results.length);
        types.push(...body.results);
      }
      typeOf.push(index);
    }
    const typeSection: number[] = [];
    unsignedLeb(typeSection, signatures.length);
    section(1, typeSection.concat(types));

    const imports: number[] = [];
    unsignedLeb(imports, 1);
    utf8(imports, "env");
    utf8(imports, "memory");
    imports.push(0x02);
    const hasMax = memory.maximumPages !== undefined;
    imports.push((memory.shared ? 0x02 : 0) | (hasMax ? 0x01 : 0));
    unsignedLeb(imports, memory.minimumPages);
    if (hasMax) unsignedLeb(imports, memory.maximumPages!);
    section(2, imports);

    const funcs: number[] = [];
    unsignedLeb(funcs, this.functions.length);
    for (const t of typeOf) unsignedLeb(funcs, t);
    section(3, funcs);

    const exports: number[] = [];
    const named = this.functions
      .map((f, index) => ({ name: f.name, index }))
      .filter((f) => f.name !== null);
    unsignedLeb(exports, named.length);
    for (const { name, index } of named) {
      utf8(exports, name!);
      exports.push(0x00);
      unsignedLeb(exports, index);
    }
    section(7, exports);

    const code: number[] = [];
    unsignedLeb(code, this.functions.length);
    for (const { body } of this.functions) code.push(...body.encode());
    section(10, code);
    return Uint8Array.from(out);
  }
}
