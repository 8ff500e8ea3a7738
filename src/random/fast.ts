/**
 * The fast path of the Gaussian fills: the Philox4x32-10 + Box–Muller kernels compiled to
 * WebAssembly SIMD (src/kernels/wasm/philoxNormal.ts for {@link fillNormal},
 * src/kernels/wasm/philoxNormalFloat32.ts for {@link fillNormalFloat32}), and in Node.js worker
 * threads that share their memory.
 *
 * Each kernel evaluates the same floating-point operations as its JavaScript definition, in the
 * same order, so {@link FastRandom.fillNormal} returns the same bits as `fillNormal`, and
 * {@link FastRandom.fillNormalFloat32} the same bits as `fillNormalFloat32`, for every
 * (seed, stream, startIndex), whatever the number of threads: each sample is computed from its
 * own Philox block, by whichever thread takes the chunk holding it. The few samples that do not
 * fill a whole kernel step at either end of a range are computed by the JavaScript definition.
 *
 * Samples are generated piece by piece into a scratch area of the WebAssembly memory and copied
 * into the caller's array; a piece is small enough to stay in cache, so the copy costs a
 * fraction of the generation.
 */
import { InvalidArgumentError } from "../errors.js";
import { checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { WasmApi, WasmMemory, WasmModule } from "../kernels/wasm/api.js";
import { wasmApi } from "../kernels/wasm/api.js";
import { NORMAL_GROUP, NORMAL_STEP, normalKernelName } from "../kernels/wasm/philoxNormal.js";
import {
  NORMAL_FLOAT32_GROUP,
  NORMAL_FLOAT32_KERNEL_NAME,
  NORMAL_FLOAT32_STEP,
} from "../kernels/wasm/philoxNormalFloat32.js";
import { RANDOM_KERNEL_NAMES, randomModuleBytes } from "../kernels/wasm/randomModule.js";
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
import { fillNormalFloat32 } from "./normalFloat32.js";
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
  /**
   * Samples generated per kernel call into the module's own memory, which holds one piece (a
   * multiple of 1024, at least 1024; default 262144, 2 MiB of float64 that stays in a core's
   * cache). The memory is the piece plus a small control block, rounded up to 64 KiB pages:
   * 4096 keeps it to one page, for callers whose fills are short (a zeroth-order direction
   * chunk) and whose memory is tight.
   */
  pieceSamples?: number;
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
  /**
   * Fills `out` with samples `startIndex, startIndex + 1, …` of the float32 standard normal
   * sequence of stream (seed, stream): the same values, bit for bit, as
   * {@link fillNormalFloat32}; faster than `fillNormal` (four samples per Philox block, four
   * float32 lanes per vector).
   * @returns `out`
   */
  fillNormalFloat32<T extends FloatBuffer>(
    out: T,
    seed: number,
    stream: number,
    startIndex?: number,
  ): T;
  /** Stops the worker threads (fills keep working, on the calling thread). */
  close(): Promise<void>;
}

const PAGE = 65536;
/** Where the thread pool's control block starts (address 0 stays unused). */
const CONTROL_AT = 64;
/** Where the scratch area starts: after the control block, 64-byte aligned. */
const SCRATCH_AT = CONTROL_AT + Math.ceil(CONTROL_BYTES / 64) * 64;
/** Default samples per piece: 2 MiB of float64, which stays in a core's cache. */
const PIECE_SAMPLES = 1 << 18;
const DEFAULT_GRAIN = 32768;

/** How one kernel of the module fills a range, and its JavaScript definition. */
interface KernelPlan {
  /** Name used in validation messages. */
  owner: string;
  /** Export index of the kernel, as listed for the worker threads. */
  index: number;
  /** Whether the kernel writes float32 (else float64) samples. */
  single: boolean;
  /** Samples per Philox block: a kernel's range starts at a block boundary. */
  blockSamples: number;
  /** Samples per kernel group (the unit of its `lo`, `hi` arguments). */
  group: number;
  /** Groups per kernel step; ranges are whole steps. */
  step: number;
  /** The JavaScript definition, for the ends of a range and short fills. */
  fill: <T extends FloatBuffer>(out: T, seed: number, stream: number, startIndex: number) => T;
}

const NORMAL_F32: KernelPlan = {
  owner: "FastRandom.fillNormal",
  index: RANDOM_KERNEL_NAMES.indexOf(normalKernelName("f32")),
  single: true,
  blockSamples: 2,
  group: NORMAL_GROUP,
  step: NORMAL_STEP,
  fill: fillNormal,
};
const NORMAL_F64: KernelPlan = {
  ...NORMAL_F32,
  index: RANDOM_KERNEL_NAMES.indexOf(normalKernelName("f64")),
  single: false,
};
const NORMAL_FLOAT32: KernelPlan = {
  owner: "FastRandom.fillNormalFloat32",
  index: RANDOM_KERNEL_NAMES.indexOf(NORMAL_FLOAT32_KERNEL_NAME),
  single: true,
  blockSamples: 4,
  group: NORMAL_FLOAT32_GROUP,
  step: NORMAL_FLOAT32_STEP,
  fill: fillNormalFloat32,
};

function checkOptions(options: FastRandomOptions): void {
  checkKnownOptions("useFastRandom", options, ["threads", "grain", "pieceSamples"]);
  const { threads, grain, pieceSamples } = options;
  if (pieceSamples !== undefined) {
    checkNumber("useFastRandom", "pieceSamples", pieceSamples, {
      integer: true,
      min: 1024,
      max: 1 << 24,
    });
    if (pieceSamples % 1024 !== 0) {
      throw new InvalidArgumentError(
        "useFastRandom",
        "pieceSamples",
        pieceSamples,
        "a multiple of 1024",
      );
    }
  }
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

function createMemory(api: WasmApi, shared: boolean, pieceSamples: number): WasmMemory | null {
  const pages = Math.ceil((SCRATCH_AT + pieceSamples * 8) / PAGE);
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
  private readonly pieceSamples: number;

  constructor(module: WasmModule | null, memory: WasmMemory | null, pieceSamples = PIECE_SAMPLES) {
    this.memory = memory;
    this.pieceSamples = pieceSamples;
    if (module === null || memory === null) {
      this.enabled = false;
      this.functions = [];
      return;
    }
    const instance = new (wasmApi()!.Instance)(module, { env: { memory } });
    const exports = instance.exports as Record<string, KernelFunction>;
    this.functions = RANDOM_KERNEL_NAMES.map((name) => exports[name]);
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
        RANDOM_KERNEL_NAMES,
      );
      this.threads = threads;
      this.grain = grain;
    } catch {
      this.pool = null;
    }
  }

  fillNormal<T extends FloatBuffer>(out: T, seed: number, stream: number, startIndex = 0): T {
    return this.fill(
      out instanceof Float32Array ? NORMAL_F32 : NORMAL_F64,
      out,
      seed,
      stream,
      startIndex,
    );
  }

  fillNormalFloat32<T extends FloatBuffer>(
    out: T,
    seed: number,
    stream: number,
    startIndex = 0,
  ): T {
    return this.fill(NORMAL_FLOAT32, out, seed, stream, startIndex);
  }

  /** Fills `out` by `plan`: the kernel for whole steps, the JavaScript definition at the ends. */
  private fill<T extends FloatBuffer>(
    plan: KernelPlan,
    out: T,
    seed: number,
    stream: number,
    startIndex: number,
  ): T {
    const { owner, blockSamples, group } = plan;
    checkCounterPart(owner, "seed", seed);
    checkCounterPart(owner, "stream", stream);
    if (!(out instanceof Float32Array) && !(out instanceof Float64Array)) {
      throw new InvalidArgumentError(owner, "out", out, "a Float32Array or a Float64Array");
    }
    checkRange(owner, startIndex, out.length, INDEX_LIMIT);
    const n = out.length;
    const stepSamples = group * plan.step;
    if (!this.enabled || n < 4 * stepSamples) return plan.fill(out, seed, stream, startIndex);

    // A start inside a block shares that block with the samples before it: those few in
    // JavaScript, then whole blocks from the kernel.
    let k = (blockSamples - (startIndex % blockSamples)) % blockSamples;
    if (k > 0) plan.fill(out.subarray(0, k), seed, stream, startIndex);
    let index = startIndex + k;
    const fnIndex = plan.index;
    const fn = this.functions[fnIndex];
    const args = this.args;
    const memory = this.memory!;
    const piece = this.pieceSamples;
    const view = plan.single
      ? new Float32Array(memory.buffer, SCRATCH_AT, piece)
      : new Float64Array(memory.buffer, SCRATCH_AT, piece);
    // Threads take chunks of whole kernel steps, about `grain` samples each.
    const chunkGroups = Math.max(1, Math.floor(this.grain / stepSamples)) * plan.step;
    const end = k + Math.floor((n - k) / stepSamples) * stepSamples;
    while (k < end) {
      const samples = Math.min(piece, end - k);
      const block = index / blockSamples;
      args[0] = SCRATCH_AT;
      args[1] = 0;
      args[2] = samples / group;
      args[3] = lowWord(block);
      args[4] = highWord(block);
      args[5] = lowWord(stream);
      args[6] = highWord(stream);
      args[7] = lowWord(seed);
      args[8] = highWord(seed);
      const pool = this.pool;
      if (pool !== null && samples >= 2 * this.grain) {
        pool.run(fn, fnIndex, args, 9, 1, chunkGroups);
      } else {
        invoke(fn, args, 9);
      }
      out.set(samples === piece ? view : view.subarray(0, samples), k);
      k += samples;
      index += samples;
    }
    if (k < n) plan.fill(out.subarray(k), seed, stream, index);
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
 * Prepares the fast Gaussian generator: compiles the WebAssembly SIMD kernels and, in Node.js
 * with `threads` > 1, starts worker threads on their memory. Where WebAssembly SIMD is missing
 * the handle is disabled and fills run {@link fillNormal} and {@link fillNormalFloat32}; either
 * way the results are the same bits.
 *
 * ```ts
 * const fast = await useFastRandom();
 * const z = fast.fillNormal(new Float32Array(1 << 24), seed, stream);
 * const w = fast.fillNormalFloat32(new Float32Array(1 << 24), seed, stream + 1);
 * await fast.close();
 * ```
 */
export async function useFastRandom(options: FastRandomOptions = {}): Promise<FastRandom> {
  checkOptions(options);
  const api = wasmApi();
  if (api === null) return new Generator(null, null);
  for (const shared of canShare() ? [true, false] : [false]) {
    const bytes = randomModuleBytes(shared);
    if (!api.validate(bytes)) continue;
    const pieceSamples = options.pieceSamples ?? PIECE_SAMPLES;
    const memory = createMemory(api, shared, pieceSamples);
    if (memory === null) continue;
    let module: WasmModule;
    try {
      module = await api.compile(bytes);
    } catch {
      continue;
    }
    const generator = new Generator(module, memory, pieceSamples);
    const threads = options.threads ?? Math.min(8, await hardwareThreads(1));
    if (shared) await generator.startThreads(module, threads, options.grain ?? DEFAULT_GRAIN);
    return generator;
  }
  return new Generator(null, null);
}
