/**
 * The fast path of the Gaussian fills: the Philox4x32-10 + Box–Muller kernel compiled to
 * WebAssembly SIMD (src/kernels/wasm/philoxNormal.ts), and in Node.js worker threads that share
 * its memory.
 *
 * The kernel evaluates the same floating-point operations as {@link fillNormal}, in the same
 * order, so {@link FastRandom.fillNormal} returns the same bits as `fillNormal` for every
 * (seed, stream, startIndex), whatever the number of threads: each sample is computed from its
 * own Philox block, by whichever thread takes the chunk holding it. The few samples that do not
 * fill a whole kernel step at either end of a range are computed by `fillNormal` itself.
 *
 * Samples are generated piece by piece into a scratch area of the WebAssembly memory and copied
 * into the caller's array; a piece is small enough to stay in cache, so the copy costs a
 * fraction of the generation.
 */
import { InvalidArgumentError } from "../errors.js";
import { checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { WasmApi, WasmMemory, WasmModule } from "../kernels/wasm/api.js";
import { wasmApi } from "../kernels/wasm/api.js";
import {
  NORMAL_GROUP,
  NORMAL_KERNEL_NAMES,
  NORMAL_STEP,
  normalKernelName,
  normalModuleBytes,
} from "../kernels/wasm/philoxNormal.js";
import type { KernelFunction } from "../kernels/threads.js";
import {
  CONTROL_BYTES,
  ThreadPool,
  hardwareThreads,
  invoke,
  loadWorkerThreads,
} from "../kernels/threads.js";
import type { FloatBuffer } from "./distributions.js";
import { fillNormal } from "./distributions.js";
import { INDEX_LIMIT, checkCounterPart, checkRange, highWord, lowWord } from "./philox.js";

/** Options of {@link useFastRandom}. */
export interface FastRandomOptions {
  /**
   * Threads that share each large fill, the calling thread included (default: the number of
   * hardware threads, at most 8; 1 turns worker threads off). Worker threads need Node.js and
   * shared memory; elsewhere this is 1.
   */
  threads?: number;
  /**
   * Samples per chunk of a threaded fill (default 32768, a multiple of 16): threads take chunks
   * as they become free; fills shorter than two chunks stay on the calling thread.
   */
  grain?: number;
}

/** Handle of the fast Gaussian generator returned by {@link useFastRandom}. */
export interface FastRandom {
  /** Whether the WebAssembly kernel is in use (false where SIMD is unavailable). */
  readonly enabled: boolean;
  /** Threads that share large fills, the calling thread included. */
  readonly threads: number;
  /**
   * Fills `out` with standard normal samples `startIndex, startIndex + 1, …` of stream
   * (seed, stream): the same values, bit for bit, as {@link fillNormal}.
   * @returns `out`
   */
  fillNormal<T extends FloatBuffer>(out: T, seed: number, stream: number, startIndex?: number): T;
  /** Stops the worker threads (fills keep working, on the calling thread). */
  close(): Promise<void>;
}

const OWNER = "FastRandom.fillNormal";
const PAGE = 65536;
/** Where the thread pool's control block starts (address 0 stays unused). */
const CONTROL_AT = 64;
/** Where the scratch area starts: after the control block, 64-byte aligned. */
const SCRATCH_AT = CONTROL_AT + Math.ceil(CONTROL_BYTES / 64) * 64;
/** Samples per piece: 2 MiB of float64, which stays in a core's cache. */
const PIECE_SAMPLES = 1 << 18;
/** Samples per kernel step; a fill's middle part is a whole number of steps. */
const STEP_SAMPLES = NORMAL_GROUP * NORMAL_STEP;
/** Fills shorter than this go straight to `fillNormal`. */
const MIN_SAMPLES = 4 * STEP_SAMPLES;
const DEFAULT_GRAIN = 32768;
/** Export index of each element type's kernel, as listed for the worker threads. */
const F32_INDEX = NORMAL_KERNEL_NAMES.indexOf(normalKernelName("f32"));
const F64_INDEX = NORMAL_KERNEL_NAMES.indexOf(normalKernelName("f64"));

function checkOptions(options: FastRandomOptions): void {
  checkKnownOptions("useFastRandom", options, ["threads", "grain"]);
  const { threads, grain } = options;
  if (threads !== undefined) {
    checkNumber("useFastRandom", "threads", threads, { integer: true, min: 1, max: 64 });
  }
  if (grain !== undefined) {
    checkNumber("useFastRandom", "grain", grain, { integer: true, min: 16 });
    if (grain % 16 !== 0) {
      throw new InvalidArgumentError("useFastRandom", "grain", grain, "a multiple of 16");
    }
  }
}

function canShare(): boolean {
  if (typeof SharedArrayBuffer === "undefined") return false;
  const isolated = (globalThis as { crossOriginIsolated?: boolean }).crossOriginIsolated;
  return isolated !== false;
}

function createMemory(api: WasmApi, shared: boolean): WasmMemory | null {
  const pages = Math.ceil((SCRATCH_AT + PIECE_SAMPLES * 8) / PAGE);
  try {
    return shared
      ? new api.Memory({ initial: pages, maximum: pages, shared: true })
      : new api.Memory({ initial: pages });
  } catch {
    return null;
  }
}

/** The generator over one compiled module and memory. */
class Generator implements FastRandom {
  readonly enabled: boolean;
  threads = 1;
  private readonly memory: WasmMemory | null;
  private readonly functions: readonly KernelFunction[];
  private readonly args = new Float64Array(9);
  private pool: ThreadPool | null = null;
  private grain = DEFAULT_GRAIN;

  constructor(module: WasmModule | null, memory: WasmMemory | null) {
    this.memory = memory;
    if (module === null || memory === null) {
      this.enabled = false;
      this.functions = [];
      return;
    }
    const instance = new (wasmApi()!.Instance)(module, { env: { memory } });
    const exports = instance.exports as Record<string, KernelFunction>;
    this.functions = NORMAL_KERNEL_NAMES.map((name) => exports[name]);
    this.enabled = true;
  }

  async startThreads(module: WasmModule, threads: number, grain: number): Promise<void> {
    const memory = this.memory;
    if (memory === null || threads <= 1) return;
    if (typeof SharedArrayBuffer === "undefined" || !(memory.buffer instanceof SharedArrayBuffer)) {
      return;
    }
    const workerThreads = await loadWorkerThreads();
    if (workerThreads === null) return;
    try {
      this.pool = await ThreadPool.start(
        workerThreads,
        module,
        memory,
        CONTROL_AT,
        threads - 1,
        NORMAL_KERNEL_NAMES,
      );
      this.threads = threads;
      this.grain = grain;
    } catch {
      this.pool = null;
    }
  }

  fillNormal<T extends FloatBuffer>(out: T, seed: number, stream: number, startIndex = 0): T {
    checkCounterPart(OWNER, "seed", seed);
    checkCounterPart(OWNER, "stream", stream);
    const single = out instanceof Float32Array;
    if (!single && !(out instanceof Float64Array)) {
      throw new InvalidArgumentError(OWNER, "out", out, "a Float32Array or a Float64Array");
    }
    checkRange(OWNER, startIndex, out.length, INDEX_LIMIT);
    const n = out.length;
    if (!this.enabled || n < MIN_SAMPLES) return fillNormal(out, seed, stream, startIndex);

    // An odd start shares its block with the sample before it: one sample in JavaScript, then
    // whole blocks from the kernel.
    let k = 0;
    let index = startIndex;
    if (index % 2 === 1) {
      fillNormal(out.subarray(0, 1), seed, stream, index);
      k = 1;
      index++;
    }
    const fnIndex = single ? F32_INDEX : F64_INDEX;
    const fn = this.functions[fnIndex];
    const args = this.args;
    const memory = this.memory!;
    const view = single
      ? new Float32Array(memory.buffer, SCRATCH_AT, PIECE_SAMPLES)
      : new Float64Array(memory.buffer, SCRATCH_AT, PIECE_SAMPLES);
    const whole = Math.floor((n - k) / STEP_SAMPLES) * STEP_SAMPLES;
    const end = k + whole;
    while (k < end) {
      const samples = Math.min(PIECE_SAMPLES, end - k);
      const block = index / 2;
      args[0] = SCRATCH_AT;
      args[1] = 0;
      args[2] = samples / NORMAL_GROUP;
      args[3] = lowWord(block);
      args[4] = highWord(block);
      args[5] = lowWord(stream);
      args[6] = highWord(stream);
      args[7] = lowWord(seed);
      args[8] = highWord(seed);
      const pool = this.pool;
      if (pool !== null && samples >= 2 * this.grain) {
        pool.run(fn, fnIndex, args, 9, 1, this.grain / NORMAL_GROUP);
      } else {
        invoke(fn, args, 9);
      }
      out.set(samples === PIECE_SAMPLES ? view : view.subarray(0, samples), k);
      k += samples;
      index += samples;
    }
    if (k < n) fillNormal(out.subarray(k), seed, stream, index);
    return out;
  }

  async close(): Promise<void> {
    const pool = this.pool;
    this.pool = null;
    this.threads = 1;
    await pool?.close();
  }
}

/**
 * Prepares the fast Gaussian generator: compiles the WebAssembly SIMD kernel and, in Node.js
 * with `threads` > 1, starts worker threads on its memory. Where WebAssembly SIMD is missing the
 * handle is disabled and fills run {@link fillNormal}; either way the results are the same bits.
 *
 * ```ts
 * const fast = await useFastRandom();
 * const z = fast.fillNormal(new Float32Array(1 << 24), seed, stream);
 * await fast.close();
 * ```
 */
export async function useFastRandom(options: FastRandomOptions = {}): Promise<FastRandom> {
  checkOptions(options);
  const api = wasmApi();
  if (api === null) return new Generator(null, null);
  for (const shared of canShare() ? [true, false] : [false]) {
    const bytes = normalModuleBytes(shared);
    if (!api.validate(bytes)) continue;
    const memory = createMemory(api, shared);
    if (memory === null) continue;
    let module: WasmModule;
    try {
      module = await api.compile(bytes);
    } catch {
      continue;
    }
    const generator = new Generator(module, memory);
    const threads = options.threads ?? Math.min(8, await hardwareThreads(1));
    if (shared) await generator.startThreads(module, threads, options.grain ?? DEFAULT_GRAIN);
    return generator;
  }
  return new Generator(null, null);
}
