/**
 * The inner kernel of {@link matmul}: products of packed float64 panels, 4×4 outputs at a time,
 * in WebAssembly SIMD where the host has it and in plain JavaScript otherwise. Both evaluate
 * every output as `s = 0; s = s + a₀·b₀; s = s + a₁·b₁; …` with separately rounded float64
 * multiplies and adds (WebAssembly, like JavaScript, never fuses them), so the two backends
 * give identical bits and a result never depends on the host.
 *
 * Panel layout ("groups of four"): a panel of `4g` rows of op(A) stores group g's entries
 * for inner index p at `a[g·4k + 4p + r]`, r = 0 … 3; a panel of op(B) columns likewise at
 * `b[g·4k + 4p + c]`. For each p the four values a kernel step needs are adjacent, so the
 * WebAssembly loop loads B's four as two `f64x2` vectors and each of A's with one
 * `v128.load64_splat`, and keeps the 4×4 sums in eight vector registers. Panels are padded
 * with zero rows/columns to a multiple of four; the padding only produces tile entries that
 * the caller does not read.
 *
 * The WebAssembly kernel walks k in chunks of {@link K_CHUNK} so that one column group's chunk
 * (8 KiB) stays in the L1 cache while it meets every row group; between chunks the running sums
 * wait in the float64 tile, which continues the same sequence of roundings.
 */
import { wasmApi } from "../kernels/wasm/api.js";
import { checkChoice } from "../optim/validate.js";
import type { WasmMemory } from "../kernels/wasm/api.js";
import { FunctionBody, I32, ModuleBuilder, V128, op, simd } from "../kernels/wasm/encoder.js";

/** Which implementation runs the panel products. */
export type GemmBackend = "wasm" | "js";

/** Inner-index chunk of the WebAssembly kernel (doubles per row of a group). */
const K_CHUNK = 256;
const PAGE_BYTES = 65536;
/** `v128.load64_splat` (SIMD opcode 0x0a): one double into both lanes. */
const LOAD64_SPLAT = 0x0a;

/** Float64 views of the three regions a product uses, valid until the next {@link reserve}. */
export interface GemmBuffers {
  /** The op(A) panel, groups of four rows. */
  readonly a: Float64Array;
  /** The op(B) panel, groups of four columns. */
  readonly b: Float64Array;
  /** The output tile, row-major with the stride given to {@link runPanels}. */
  readonly tile: Float64Array;
}

type WasmKernel = (
  aByte: number,
  bByte: number,
  aGroupBytes: number,
  bGroupBytes: number,
  chunk: number,
  rowGroups: number,
  columnGroups: number,
  tileByte: number,
  tileStrideBytes: number,
  accumulate: number,
) => void;

interface WasmState {
  readonly memory: WasmMemory;
  readonly kernel: WasmKernel;
}

let wasm: WasmState | null | undefined;
let preferred: GemmBackend = "wasm";
let buffers: GemmBuffers = {
  a: new Float64Array(0),
  b: new Float64Array(0),
  tile: new Float64Array(0),
};
let buffersBackend: GemmBackend | null = null;

/**
 * Chooses the backend of the dense products ({@link matmul}, {@link gram} and what uses them)
 * and reports the one in use. `"wasm"` (the default) falls back to `"js"` where WebAssembly SIMD
 * is missing; both give identical results, so this only changes speed.
 *
 * @param backend - the backend to prefer from now on; omit it to only ask
 * @returns the backend that products will use
 * @throws `InvalidArgumentError` for a backend other than `"wasm"` or `"js"`
 */
export function matmulBackend(backend?: GemmBackend): GemmBackend {
  if (backend !== undefined) {
    preferred = checkChoice("matmulBackend", "backend", backend, ["wasm", "js"] as const);
  }
  return preferred === "wasm" && loadWasm() !== null ? "wasm" : "js";
}

/**
 * Float64 buffers with room for an `aLength`-double A panel, a `bLength`-double B panel and a
 * `tileLength`-double tile, inside the WebAssembly memory when that backend is active. Earlier
 * views may be invalidated (the memory can grow); use the returned ones.
 */
export function reserve(aLength: number, bLength: number, tileLength: number): GemmBuffers {
  const backend = matmulBackend();
  if (
    buffersBackend === backend &&
    buffers.a.length >= aLength &&
    buffers.b.length >= bLength &&
    buffers.tile.length >= tileLength
  ) {
    return buffers;
  }
  const aSize = Math.max(aLength, buffersBackend === backend ? buffers.a.length : 0);
  const bSize = Math.max(bLength, buffersBackend === backend ? buffers.b.length : 0);
  const tileSize = Math.max(tileLength, buffersBackend === backend ? buffers.tile.length : 0);
  const state = backend === "wasm" ? loadWasm() : null;
  if (state !== null) {
    // Regions start on 16-byte boundaries for aligned vector access.
    const aBytes = roundUp16(aSize * 8);
    const bBytes = roundUp16(bSize * 8);
    const needed = aBytes + bBytes + tileSize * 8;
    const have = state.memory.buffer.byteLength;
    if (needed > have) state.memory.grow(Math.ceil((needed - have) / PAGE_BYTES));
    const heap = state.memory.buffer as ArrayBuffer;
    buffers = {
      a: new Float64Array(heap, 0, aSize),
      b: new Float64Array(heap, aBytes, bSize),
      tile: new Float64Array(heap, aBytes + bBytes, tileSize),
    };
  } else {
    buffers = {
      a: new Float64Array(aSize),
      b: new Float64Array(bSize),
      tile: new Float64Array(tileSize),
    };
  }
  buffersBackend = backend;
  return buffers;
}

/**
 * tile[i·stride + j] = Σ_p A[i, p]·B[p, j] for the `4·rowGroups` rows and `4·columnGroups`
 * columns of the packed panels in `panels` (the buffers last returned by {@link reserve}).
 */
export function runPanels(
  panels: GemmBuffers,
  k: number,
  rowGroups: number,
  columnGroups: number,
  stride: number,
): void {
  const state = buffersBackend === "wasm" ? loadWasm() : null;
  if (state === null) {
    panelsInJavaScript(panels, k, rowGroups, columnGroups, stride);
    return;
  }
  const groupBytes = 32 * k;
  const aByte = panels.a.byteOffset;
  const bByte = panels.b.byteOffset;
  const tileByte = panels.tile.byteOffset;
  if (k === 0) {
    panels.tile.fill(0, 0, 4 * rowGroups * stride);
    return;
  }
  for (let p0 = 0; p0 < k; p0 += K_CHUNK) {
    const chunk = Math.min(K_CHUNK, k - p0);
    state.kernel(
      aByte + 32 * p0,
      bByte + 32 * p0,
      groupBytes,
      groupBytes,
      chunk,
      rowGroups,
      columnGroups,
      tileByte,
      8 * stride,
      p0 > 0 ? 1 : 0,
    );
  }
}

function roundUp16(bytes: number): number {
  return Math.ceil(bytes / 16) * 16;
}

function panelsInJavaScript(
  panels: GemmBuffers,
  k: number,
  rowGroups: number,
  columnGroups: number,
  stride: number,
): void {
  const { a, b, tile } = panels;
  const span = 4 * k;
  for (let rowGroup = 0; rowGroup < rowGroups; rowGroup++) {
    const aStart = rowGroup * span;
    for (let columnGroup = 0; columnGroup < columnGroups; columnGroup++) {
      const bStart = columnGroup * span;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0;
      let s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0;
      let s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let q = 0; q < span; q += 4) {
        const x0 = a[aStart + q];
        const x1 = a[aStart + q + 1];
        const x2 = a[aStart + q + 2];
        const x3 = a[aStart + q + 3];
        const y0 = b[bStart + q];
        const y1 = b[bStart + q + 1];
        const y2 = b[bStart + q + 2];
        const y3 = b[bStart + q + 3];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s22 += x2 * y2;
        s23 += x2 * y3;
        s30 += x3 * y0;
        s31 += x3 * y1;
        s32 += x3 * y2;
        s33 += x3 * y3;
      }
      let t = 4 * rowGroup * stride + 4 * columnGroup;
      tile[t] = s00;
      tile[t + 1] = s01;
      tile[t + 2] = s02;
      tile[t + 3] = s03;
      t += stride;
      tile[t] = s10;
      tile[t + 1] = s11;
      tile[t + 2] = s12;
      tile[t + 3] = s13;
      t += stride;
      tile[t] = s20;
      tile[t + 1] = s21;
      tile[t + 2] = s22;
      tile[t + 3] = s23;
      t += stride;
      tile[t] = s30;
      tile[t + 1] = s31;
      tile[t + 2] = s32;
      tile[t + 3] = s33;
    }
  }
}

/** Compiles and instantiates the kernel once; null where WebAssembly SIMD is unavailable. */
function loadWasm(): WasmState | null {
  if (wasm !== undefined) return wasm;
  wasm = null;
  const api = wasmApi();
  if (api === null) return null;
  try {
    const bytes = kernelModule();
    if (!api.validate(bytes)) return null;
    const memory = new api.Memory({ initial: 16 });
    // The module is well under the 4 KiB that browsers compile synchronously on a main thread.
    const instance = new api.Instance(new api.Module(bytes), { env: { memory } });
    wasm = { memory, kernel: instance.exports.panels as WasmKernel };
  } catch {
    wasm = null;
  }
  return wasm;
}

/**
 * The module: `panels(aByte, bByte, aGroupBytes, bGroupBytes, chunk, rowGroups, columnGroups,
 * tileByte, tileStrideBytes, accumulate)` runs, for each column group and each row group, the
 * `chunk` steps of p starting at the given byte addresses, adding to the tile's sums when
 * `accumulate` is 1 and starting from 0 otherwise.
 */
function kernelModule(): Uint8Array {
  const f = new FunctionBody([I32, I32, I32, I32, I32, I32, I32, I32, I32, I32]);
  const [aByte, bByte, aGroupBytes, bGroupBytes, chunk, rowGroups, columnGroups] = [
    0, 1, 2, 3, 4, 5, 6,
  ];
  const [tileByte, strideBytes, accumulate] = [7, 8, 9];
  const rowGroup = f.local(I32);
  const columnGroup = f.local(I32);
  const aPointer = f.local(I32);
  const bPointer = f.local(I32);
  const aEnd = f.local(I32);
  const tilePointer = f.local(I32);
  const chunkBytes = f.local(I32);
  const sums = Array.from({ length: 8 }, () => f.local(V128));
  const bLow = f.local(V128);
  const bHigh = f.local(V128);
  const aSplat = f.local(V128);

  f.get(chunk).i32(5).emit(op.i32Shl).set(chunkBytes);
  f.i32(0).set(columnGroup);
  f.block().loop();
  f.get(columnGroup).get(columnGroups).emit(op.i32GeU).brIf(1);
  f.i32(0).set(rowGroup);
  f.block().loop();
  f.get(rowGroup).get(rowGroups).emit(op.i32GeU).brIf(1);
  // tilePointer = tileByte + 4·rowGroup·strideBytes + 32·columnGroup
  f.get(tileByte).get(rowGroup).i32(2).emit(op.i32Shl).get(strideBytes).emit(op.i32Mul);
  f.emit(op.i32Add).get(columnGroup).i32(5).emit(op.i32Shl).emit(op.i32Add).set(tilePointer);
  f.get(accumulate).emit(op.if, 0x40);
  for (let r = 0; r < 4; r++) {
    for (let half = 0; half < 2; half++) {
      f.get(tilePointer).get(strideBytes).i32(r).emit(op.i32Mul).emit(op.i32Add);
      f.simdMem(simd.load, 3, 16 * half).set(sums[2 * r + half]);
    }
  }
  f.emit(op.else);
  for (const sum of sums) {
    f.simd(simd.const);
    for (let byte = 0; byte < 16; byte++) f.code.push(0);
    f.set(sum);
  }
  f.end();
  f.get(aByte).get(rowGroup).get(aGroupBytes).emit(op.i32Mul).emit(op.i32Add).tee(aPointer);
  f.get(chunkBytes).emit(op.i32Add).set(aEnd);
  f.get(bByte).get(columnGroup).get(bGroupBytes).emit(op.i32Mul).emit(op.i32Add).set(bPointer);
  f.block().get(aPointer).get(aEnd).emit(op.i32GeU).brIf(0).loop();
  f.get(bPointer).simdMem(simd.load, 3, 0).set(bLow);
  f.get(bPointer).simdMem(simd.load, 3, 16).set(bHigh);
  for (let r = 0; r < 4; r++) {
    f.get(aPointer)
      .simdMem(LOAD64_SPLAT, 3, 8 * r)
      .set(aSplat);
    for (let half = 0; half < 2; half++) {
      const sum = sums[2 * r + half];
      f.get(sum)
        .get(aSplat)
        .get(half === 0 ? bLow : bHigh);
      f.simd(simd.f64x2Mul).simd(simd.f64x2Add).set(sum);
    }
  }
  f.get(aPointer).i32(32).emit(op.i32Add).set(aPointer);
  f.get(bPointer).i32(32).emit(op.i32Add).set(bPointer);
  f.get(aPointer).get(aEnd).emit(op.i32LtU).brIf(0);
  f.end().end();
  for (let r = 0; r < 4; r++) {
    f.get(tilePointer)
      .get(sums[2 * r])
      .simdMem(simd.store, 3, 0);
    f.get(tilePointer)
      .get(sums[2 * r + 1])
      .simdMem(simd.store, 3, 16);
    f.get(tilePointer).get(strideBytes).emit(op.i32Add).set(tilePointer);
  }
  f.get(rowGroup).i32(1).emit(op.i32Add).set(rowGroup).br(0);
  f.end().end();
  f.get(columnGroup).i32(1).emit(op.i32Add).set(columnGroup).br(0);
  f.end().end();
  const module = new ModuleBuilder();
  module.add("panels", f);
  return module.encode({ shared: false, minimumPages: 1 });
}
