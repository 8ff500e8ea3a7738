/**
 * The opt-in fast path: buffers that live in WebAssembly memory, so the SIMD kernels work on
 * them in place, and (in Node.js) worker threads that share that memory.
 *
 * An arena is one `WebAssembly.Memory` with the kernel module instantiated on it. Shared
 * memories (Node.js, and browsers under cross-origin isolation) grow in place, and views made
 * before a growth stay valid, so one shared arena serves every allocation. An ordinary memory
 * would detach every view when it grows, so without `SharedArrayBuffer` each arena keeps the
 * size it was created with and a new arena is opened when one is full.
 *
 * Kernels recognise arena buffers through the identity of their `ArrayBuffer`: every buffer
 * object a memory has handed out (a shared memory returns a new one after each growth) is
 * recorded, so the check costs one WeakMap lookup per array.
 */
import type { Runs } from "./apply.js";
import type { WasmMemory, WasmModule } from "./wasm/api.js";
import { wasmApi } from "./wasm/api.js";
import { kernelExportNames, kernelModuleBytes } from "./wasm/kernels.js";
import type { KernelFunction } from "./threads.js";
import {
  CONTROL_BYTES,
  MAX_ARGS,
  ThreadPool,
  hardwareThreads,
  invoke,
  loadWorkerThreads,
} from "./threads.js";

type Floats = Float32Array | Float64Array;

const PAGE = 65536;
const ALIGN = 64;
/** Upper bound of a 32-bit WebAssembly memory, in pages (4 GiB). */
const MAX_PAGES = 65536;

const NAMES = kernelExportNames();

/** Index of the kernel export called `name` (e.g. `"adam_f32"`); throws for unknown names. */
export function kernelIndex(name: string): number {
  const index = NAMES.indexOf(name);
  if (index < 0) throw new Error(`no WebAssembly kernel called ${name}`);
  return index;
}

/** Export indices of one kernel for each element type. */
export interface KernelPair {
  /** The float32 version. */
  readonly f32: number;
  /** The float64 version. */
  readonly f64: number;
}

/** The float32 and float64 exports of kernel `name` (resolved once, at import). */
export function kernelPair(name: string): KernelPair {
  return { f32: kernelIndex(`${name}_f32`), f64: kernelIndex(`${name}_f64`) };
}

const owners = new WeakMap<ArrayBufferLike, Arena>();
let arenaCount = 0;

/** Whether any arena exists (lets kernels skip the lookup entirely on plain buffers). */
export function fastPathActive(): boolean {
  return arenaCount > 0;
}

/** Default number of elements in one chunk of a threaded call. */
const DEFAULT_GRAIN = 32768;
/** Ranges shorter than this run in JavaScript: below it a call costs more than it saves. */
export const WASM_MIN_LENGTH = 64;

/** One WebAssembly memory with the kernels instantiated on it. */
export class Arena {
  /** The memory every buffer of this arena is a view of. */
  readonly memory: WasmMemory;
  /** Whether the memory is shared (then it can grow and worker threads can use it). */
  readonly shared: boolean;
  /** Argument scratch for kernel calls (not shared; copied for workers). */
  readonly args = new Float64Array(MAX_ARGS);
  /** Kernel exports, by {@link kernelIndex}. */
  readonly functions: readonly KernelFunction[];
  /** Worker threads, when started. */
  pool: ThreadPool | null = null;
  /** Elements per chunk of a threaded call; shorter calls than two chunks stay on one thread. */
  grain = DEFAULT_GRAIN;
  private top: number;
  private readonly free: { at: number; bytes: number }[] = [];
  private readonly blocks = new Map<number, number>();
  private tableAt = 0;
  private tableEntries = 0;
  private tableI32: Int32Array<ArrayBufferLike> = new Int32Array(0);
  private tableF64: Float64Array<ArrayBufferLike> = new Float64Array(0);

  constructor(module: WasmModule, memory: WasmMemory, shared: boolean) {
    this.memory = memory;
    this.shared = shared;
    const instance = new (wasmApi()!.Instance)(module, { env: { memory } });
    const exports = instance.exports as Record<string, KernelFunction>;
    this.functions = NAMES.map((name) => exports[name]);
    // Address 0 is kept unused so that no buffer starts at a null pointer.
    this.top = ALIGN;
    owners.set(memory.buffer, this);
    arenaCount++;
    // A run table for up to 64 runs, so that fused kernels never need to allocate in a full
    // memory for the common case.
    this.tableFor(64);
  }

  /** Bytes currently reserved by the memory. */
  get capacity(): number {
    return this.memory.buffer.byteLength;
  }

  /**
   * Reserves `bytes` (rounded up to 64) and returns the byte offset, or −1 when the memory
   * cannot hold them.
   */
  reserve(bytes: number): number {
    const size = Math.max(ALIGN, Math.ceil(bytes / ALIGN) * ALIGN);
    for (let i = 0; i < this.free.length; i++) {
      const block = this.free[i];
      if (block.bytes < size) continue;
      const at = block.at;
      if (block.bytes === size) this.free.splice(i, 1);
      else {
        block.at += size;
        block.bytes -= size;
      }
      new Uint8Array(this.memory.buffer, at, size).fill(0);
      this.blocks.set(at, size);
      return at;
    }
    const at = this.top;
    const end = at + size;
    if (end > this.memory.buffer.byteLength) {
      if (!this.shared) return -1;
      const pages = this.memory.buffer.byteLength / PAGE;
      const needed = Math.ceil(end / PAGE) - pages;
      if (pages + needed > MAX_PAGES) return -1;
      // Grow geometrically so that many small allocations do not each grow the memory.
      const grow = Math.min(MAX_PAGES - pages, Math.max(needed, Math.ceil(pages / 2)));
      try {
        this.memory.grow(grow);
      } catch {
        try {
          this.memory.grow(needed);
        } catch {
          return -1;
        }
      }
      owners.set(this.memory.buffer, this);
    }
    this.top = end;
    this.blocks.set(at, size);
    return at;
  }

  /** Returns the block starting at byte `at` to the free list. */
  release(at: number): boolean {
    const size = this.blocks.get(at);
    if (size === undefined) return false;
    this.blocks.delete(at);
    let i = 0;
    while (i < this.free.length && this.free[i].at < at) i++;
    this.free.splice(i, 0, { at, bytes: size });
    // Merge with the neighbours so freed space can serve larger requests.
    const next = this.free[i + 1];
    if (next && at + size === next.at) {
      this.free[i].bytes += next.bytes;
      this.free.splice(i + 1, 1);
    }
    const prev = this.free[i - 1];
    if (prev && prev.at + prev.bytes === at) {
      prev.bytes += this.free[i].bytes;
      this.free.splice(i, 1);
    }
    return true;
  }

  /** A zero-filled array of `length` elements in this arena, or `null` if it is full. */
  allocate(dtype: "float32" | "float64", length: number): Floats | null {
    const size = dtype === "float32" ? 4 : 8;
    const at = this.reserve(length * size);
    if (at < 0) return null;
    const buffer = this.memory.buffer;
    // Record whichever buffer object the views are made from, so that kernels know them.
    if (owners.get(buffer) !== this) owners.set(buffer, this);
    return dtype === "float32"
      ? new Float32Array(buffer, at, length)
      : new Float64Array(buffer, at, length);
  }

  /** Makes room for a run table of `entries` entries; false when the memory is full. */
  private tableFor(entries: number): boolean {
    if (entries <= this.tableEntries) return true;
    const size = Math.max(64, entries);
    const address = this.reserve(size * 16);
    if (address < 0) return false;
    if (this.tableEntries > 0) this.release(this.tableAt);
    this.tableAt = address;
    this.tableEntries = size;
    this.tableI32 = new Int32Array(this.memory.buffer, address, size * 4);
    this.tableF64 = new Float64Array(this.memory.buffer, address, size * 2);
    return true;
  }

  /**
   * Writes `runs`, clipped to `[0, length)`, as the table the fused kernels read (16 bytes per
   * entry: start and end index as i32, multiplier as f64; neighbouring runs with equal
   * multipliers merged) and puts its address and entry count in `args[at]`, `args[at + 1]`.
   * Returns false, writing nothing, when the memory has no room for the table.
   */
  writeRuns(runs: Runs, length: number, at: number): boolean {
    const { ends, a } = runs;
    if (!this.tableFor(ends.length)) return false;
    const i32 = this.tableI32;
    const f64 = this.tableF64;
    let count = 0;
    let start = 0;
    for (let r = 0; r < ends.length && start < length; r++) {
      const end = Math.min(ends[r], length);
      if (!(end > start)) continue;
      if (count > 0 && f64[2 * count - 1] === a[r]) {
        i32[4 * count - 3] = end;
      } else {
        i32[4 * count] = start;
        i32[4 * count + 1] = end;
        f64[2 * count + 1] = a[r];
        count++;
      }
      start = end;
    }
    this.args[at] = this.tableAt;
    this.args[at + 1] = count;
    return true;
  }

  /**
   * Calls kernel `index` with the first `n` values of {@link Arena.args}; the element range is
   * at `args[loIndex]`, `args[loIndex + 1]`. Large ranges are split across worker threads.
   */
  run(index: number, n: number, loIndex: number): number {
    const fn = this.functions[index];
    const pool = this.pool;
    if (pool !== null && this.args[loIndex + 1] - this.args[loIndex] >= 2 * this.grain) {
      return pool.run(fn, index, this.args, n, loIndex, this.grain);
    }
    return invoke(fn, this.args, n);
  }
}

/** The arena holding `a`, or `null` for plain arrays. */
export function arenaOf(a: Floats): Arena | null {
  return owners.get(a.buffer) ?? null;
}

/**
 * The arena holding every given array when they all live in one and have one element type;
 * `null` otherwise (the caller then runs its JavaScript loop).
 */
export function commonArena(
  a: Floats,
  b: Floats,
  c: Floats | null = null,
  d: Floats | null = null,
  e: Floats | null = null,
): Arena | null {
  const arena = owners.get(a.buffer);
  if (arena === undefined) return null;
  const type = a.constructor;
  const same = (x: Floats | null) =>
    x === null || (x.constructor === type && owners.get(x.buffer) === arena);
  return same(b) && same(c) && same(d) && same(e) ? arena : null;
}

/** Options of {@link useFastKernels} and {@link fastAllocator}. */
export interface FastKernelOptions {
  /**
   * Threads that share each large kernel call, the calling thread included (default: the
   * number of hardware threads, at most 8; 1 turns worker threads off). Worker threads need
   * Node.js and shared memory; elsewhere this is 1.
   */
  threads?: number;
  /**
   * Elements per chunk of a threaded call (default 32768, a multiple of 16); threads take chunks
   * as they become free, and calls shorter than two chunks stay on the calling thread.
   */
  grain?: number;
  /**
   * Use a shared memory (default: whenever `SharedArrayBuffer` is available, i.e. in Node.js
   * and in cross-origin isolated pages).
   */
  shared?: boolean;
  /**
   * Bytes reserved when the memory is created (default 16 MiB). A shared memory grows as
   * needed; an ordinary one cannot grow without invalidating its arrays, so without shared
   * memory size it to hold every buffer of the model (parameters, updates and optimizer state,
   * e.g. 6 × the parameter bytes): kernels only take the fast path when all their arrays share
   * one memory.
   */
  initialBytes?: number;
}

/** Handle of the fast kernels returned by {@link useFastKernels}. */
export interface FastKernels {
  /**
   * The allocator to give to `Layout` / `ParamSet` (`new Layout(specs, "float32", fast.allocate)`)
   * so that parameters, updates and optimizer state live in WebAssembly memory. When the
   * memory cannot grow further it returns plain typed arrays (which then take the JavaScript
   * path).
   */
  readonly allocate: (dtype: "float32" | "float64", length: number) => Floats;
  /** Whether the WebAssembly kernels are in use (false where SIMD is not supported). */
  readonly enabled: boolean;
  /** Whether buffers live in shared memory. */
  readonly shared: boolean;
  /** Threads that share large kernel calls, the calling thread included. */
  readonly threads: number;
  /**
   * Returns the memory of an array made by {@link FastKernels.allocate} for reuse. No view of
   * it may be used afterwards. Returns false for arrays it did not make.
   */
  release(array: Floats): boolean;
  /** Stops the worker threads (buffers stay usable, on one thread). */
  close(): Promise<void>;
}

let compiled: { shared: boolean; module: WasmModule }[] = [];

function canShare(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

/** Memory kinds to try in order: shared first when wanted and available. */
function sharingChoices(wantShared: boolean): boolean[] {
  return wantShared && canShare() ? [true, false] : [false];
}

const DEFAULT_INITIAL_BYTES = 16 * 2 ** 20;

function createMemory(shared: boolean, bytes: number): WasmMemory | null {
  const api = wasmApi();
  if (api === null) return null;
  const initial = Math.max(1, Math.ceil(bytes / PAGE));
  if (!shared) {
    try {
      return new api.Memory({ initial });
    } catch {
      return null;
    }
  }
  // A shared memory reserves its maximum up front; smaller address spaces get smaller ones.
  for (const maximum of [MAX_PAGES, 16384, 4096]) {
    if (maximum < initial) break;
    try {
      return new api.Memory({ initial, maximum, shared: true });
    } catch {
      continue;
    }
  }
  return null;
}

/** The kernel module's bytes when WebAssembly SIMD is available, else null. */
function moduleBytes(shared: boolean): Uint8Array | null {
  const api = wasmApi();
  if (api === null) return null;
  const bytes = kernelModuleBytes(shared);
  return api.validate(bytes) ? bytes : null;
}

/**
 * The kernel module for a shared or an ordinary memory, compiled once; null without
 * WebAssembly SIMD. Browsers only allow asynchronous compilation of it on their main thread.
 */
async function compile(shared: boolean): Promise<WasmModule | null> {
  const cached = compiled.find((c) => c.shared === shared);
  if (cached) return cached.module;
  const bytes = moduleBytes(shared);
  if (bytes === null) return null;
  const module = await wasmApi()!.compile(bytes);
  compiled = [...compiled, { shared, module }];
  return module;
}

/** {@link compile}, synchronously. */
function compileSync(shared: boolean): WasmModule | null {
  const cached = compiled.find((c) => c.shared === shared);
  if (cached) return cached.module;
  const bytes = moduleBytes(shared);
  if (bytes === null) return null;
  const module = new (wasmApi()!.Module)(bytes);
  compiled = [...compiled, { shared, module }];
  return module;
}

const plain = (dtype: "float32" | "float64", length: number): Floats =>
  dtype === "float32" ? new Float32Array(length) : new Float64Array(length);

class Runtime implements FastKernels {
  readonly shared: boolean;
  threads = 1;
  private readonly module: WasmModule | null;
  private readonly arenas: Arena[] = [];
  private readonly initialBytes: number;
  readonly allocate: FastKernels["allocate"];

  constructor(module: WasmModule | null, shared: boolean, initialBytes: number) {
    this.module = module;
    this.shared = shared;
    this.initialBytes = initialBytes;
    this.allocate = (dtype, length) => this.allocateIn(dtype, length);
    if (module !== null) this.open(initialBytes);
  }

  private open(bytes: number): Arena | null {
    const memory = createMemory(this.shared, bytes);
    if (memory === null || this.module === null) return null;
    const arena = new Arena(this.module, memory, this.shared);
    this.arenas.push(arena);
    return arena;
  }

  get enabled(): boolean {
    return this.arenas.length > 0;
  }

  /** The first arena (the only one when memory is shared). */
  get main(): Arena | null {
    return this.arenas[0] ?? null;
  }

  private allocateIn(dtype: "float32" | "float64", length: number): Floats {
    if (dtype !== "float32" && dtype !== "float64") {
      throw new RangeError(`fast allocator: dtype must be "float32" or "float64", got ${dtype}`);
    }
    if (!Number.isInteger(length) || length < 0) {
      throw new RangeError(`fast allocator: length must be a non-negative integer, got ${length}`);
    }
    const current = this.arenas[this.arenas.length - 1];
    const array = current?.allocate(dtype, length) ?? null;
    if (array !== null) return array;
    if (!this.shared && this.module !== null) {
      // Room for the buffers of the same model that usually follow (parameters, updates and
      // two or three state buffers), so that they share an arena.
      const bytes = length * (dtype === "float32" ? 4 : 8);
      for (const room of [Math.max(this.initialBytes, 8 * bytes), bytes]) {
        const fresh = this.open(room + PAGE)?.allocate(dtype, length) ?? null;
        if (fresh !== null) return fresh;
      }
    }
    return plain(dtype, length);
  }

  release(array: Floats): boolean {
    const arena = owners.get(array.buffer);
    if (arena === undefined || !this.arenas.includes(arena)) return false;
    return arena.release(array.byteOffset);
  }

  async startThreads(threads: number, grain: number): Promise<void> {
    const arena = this.main;
    if (arena === null || !this.shared || threads <= 1 || this.module === null) return;
    const workerThreads = await loadWorkerThreads();
    if (workerThreads === null) return;
    const workers = threads - 1;
    const control = arena.reserve(CONTROL_BYTES);
    if (control < 0) return;
    try {
      arena.pool = await ThreadPool.start(
        workerThreads,
        this.module,
        arena.memory,
        control,
        workers,
        NAMES,
      );
      arena.grain = grain;
      this.threads = threads;
    } catch {
      arena.release(control);
    }
  }

  async close(): Promise<void> {
    for (const arena of this.arenas) {
      const pool = arena.pool;
      arena.pool = null;
      await pool?.close();
    }
    this.threads = 1;
  }
}

function checkOptions(options: FastKernelOptions): void {
  for (const key of Object.keys(options)) {
    if (!["threads", "grain", "shared", "initialBytes"].includes(key)) {
      throw new RangeError(`useFastKernels: unknown option ${JSON.stringify(key)}`);
    }
  }
  const { threads, grain, initialBytes } = options;
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1 || threads > 64)) {
    throw new RangeError(`useFastKernels: threads must be an integer in [1, 64], got ${threads}`);
  }
  if (grain !== undefined && (!Number.isInteger(grain) || grain < 16 || grain % 16 !== 0)) {
    throw new RangeError(`useFastKernels: grain must be a positive multiple of 16, got ${grain}`);
  }
  if (initialBytes !== undefined && (!Number.isFinite(initialBytes) || initialBytes < 0)) {
    throw new RangeError(
      `useFastKernels: initialBytes must be a non-negative number, got ${initialBytes}`,
    );
  }
}

/**
 * Prepares the fast kernels: compiles the WebAssembly SIMD module, creates a memory for
 * buffers and (in Node.js, when `threads` > 1) starts worker threads on it.
 *
 * Buffers made by the returned `allocate` live in that memory; every kernel given only such
 * buffers runs in WebAssembly (and, for large ranges, on several threads), and falls back to its
 * JavaScript loop for anything else. Both paths compute the same floating-point operations in
 * the same order, so results are identical bit for bit, whatever the path or thread count.
 *
 * ```ts
 * const fast = await useFastKernels();
 * const params = ParamSet.zeros(specs, "float32", fast.allocate);
 * const opt = new Optimizer(params, adamw());   // updates and state allocated there too
 * ```
 *
 * Without WebAssembly SIMD the handle is disabled and `allocate` makes plain typed arrays.
 */
export async function useFastKernels(options: FastKernelOptions = {}): Promise<FastKernels> {
  checkOptions(options);
  const initialBytes = options.initialBytes ?? DEFAULT_INITIAL_BYTES;
  let runtime = new Runtime(null, false, initialBytes);
  // Shared memory where possible, else an ordinary one, else plain arrays.
  for (const shared of sharingChoices(options.shared ?? true)) {
    const module = await compile(shared).catch(() => null);
    const candidate = module && new Runtime(module, shared, initialBytes);
    if (candidate?.main) {
      runtime = candidate;
      break;
    }
  }
  const threads = options.threads ?? Math.min(8, await hardwareThreads(1));
  if (runtime.enabled) await runtime.startThreads(threads, options.grain ?? DEFAULT_GRAIN);
  return runtime;
}

let defaultRuntime: Runtime | null = null;

/**
 * A synchronous way to get an allocator for the fast kernels, without worker threads: the
 * module is compiled on first use (browsers may refuse synchronous compilation on their main
 * thread; use {@link useFastKernels} there). Calls share one memory. Falls back to plain typed
 * arrays where WebAssembly SIMD is unavailable.
 */
export function fastAllocator(): FastKernels["allocate"] {
  if (defaultRuntime === null) {
    defaultRuntime = new Runtime(null, false, DEFAULT_INITIAL_BYTES);
    for (const shared of sharingChoices(true)) {
      let module: WasmModule | null = null;
      try {
        module = compileSync(shared);
      } catch {
        module = null;
      }
      const candidate = module && new Runtime(module, shared, DEFAULT_INITIAL_BYTES);
      if (candidate?.main) {
        defaultRuntime = candidate;
        break;
      }
    }
  }
  return defaultRuntime.allocate;
}
