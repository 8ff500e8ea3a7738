/**
 * Worker threads that run the WebAssembly kernels on parts of a buffer living in shared
 * WebAssembly memory (Node.js only).
 *
 * A call is cut into chunks of consecutive elements. The calling thread publishes the call in a
 * control block of the shared memory, wakes the workers and then takes chunks itself; whoever is
 * free claims the next chunk with an atomic compare-and-swap. A worker that wakes late, or is
 * descheduled on a busy machine, simply takes fewer chunks, so a call is never slower than on one
 * thread by more than one chunk. Every element is computed by the same code whatever thread
 * takes it, so results do not depend on the number of threads.
 *
 * The chunk counter holds the call's sequence number in its high 32 bits: a worker still holding
 * an old call's arguments cannot claim a chunk of a newer call.
 */
import type { WasmMemory, WasmModule } from "./wasm/api.js";

/** The subset of `node:worker_threads` used here. */
export interface WorkerThreads {
  /** The Worker constructor. */
  Worker: new (
    source: string,
    options: { eval: true; workerData: unknown },
  ) => {
    unref(): void;
    terminate(): Promise<number>;
    once(event: "message", listener: (value: unknown) => void): void;
    once(event: "error", listener: (error: Error) => void): void;
  };
}

// Int32 fields of the control block.
const SEQ = 0;
const COMPLETED = 1;
const FN = 2;
const NARGS = 3;
const LO_INDEX = 4;
const LO = 5;
const HI = 6;
const CHUNK = 7;
const CHUNKS = 8;
const FIRST = 9;
const FAILED = 10;
const STOP = 11;
/** Byte offsets of the 64-bit chunk counter and of the arguments inside the control block. */
const COUNTER_AT = 64;
const ARGS_AT = 128;
/** Most arguments one kernel call may take. */
export const MAX_ARGS = 32;
/** Bytes of shared memory the control block needs. */
export const CONTROL_BYTES = ARGS_AT + MAX_ARGS * 8;
/** "No index found" in the FIRST field. */
const NONE = 0x7fffffff;

/** How long a worker keeps polling for the next call before it sleeps (milliseconds). */
const WORKER_SPIN_MS = 0.05;
/** How long the caller polls for the last chunks before it sleeps (milliseconds). */
const CALLER_SPIN_MS = 0.2;

// Plain JavaScript run by each worker (as CommonJS): instantiate the module on the shared
// memory, then take chunks of each published call until told to stop. The caller's side of the
// same protocol is ThreadPool.run.
const WORKER_SOURCE = `
const { parentPort, workerData } = require("node:worker_threads");
const { module, memory, control, names } = workerData;
const exports = new WebAssembly.Instance(module, { env: { memory } }).exports;
const functions = names.map((name) => exports[name]);
const ctl = new Int32Array(memory.buffer, control, ${ARGS_AT / 4});
const counter = new BigUint64Array(memory.buffer, control + ${COUNTER_AT}, 1);
const shared = new Float64Array(memory.buffer, control + ${ARGS_AT}, ${MAX_ARGS});
const args = [];
let seen = Atomics.load(ctl, ${SEQ});
parentPort.postMessage("ready");
for (;;) {
  const until = performance.now() + ${WORKER_SPIN_MS};
  while (Atomics.load(ctl, ${SEQ}) === seen) {
    if (performance.now() > until) Atomics.wait(ctl, ${SEQ}, seen);
  }
  const seq = Atomics.load(ctl, ${SEQ});
  seen = seq;
  if (Atomics.load(ctl, ${STOP}) !== 0) break;
  // The call's description; if a newer call overwrote it meanwhile, the claim below fails.
  const fn = functions[ctl[${FN}]];
  const n = ctl[${NARGS}];
  const loIndex = ctl[${LO_INDEX}];
  const lo = ctl[${LO}];
  const hi = ctl[${HI}];
  const chunk = ctl[${CHUNK}];
  const chunks = ctl[${CHUNKS}];
  args.length = n;
  for (let i = 0; i < n; i++) args[i] = shared[i];
  const tag = BigInt(seq >>> 0) << 32n;
  for (;;) {
    const c = Atomics.load(counter, 0);
    if (c < tag || c >= tag + BigInt(chunks)) break;
    if (Atomics.compareExchange(counter, 0, c, c + 1n) !== c) continue;
    const k = Number(c - tag);
    args[loIndex] = lo + k * chunk;
    args[loIndex + 1] = Math.min(hi, lo + (k + 1) * chunk);
    try {
      const r = fn(...args);
      if (typeof r === "number" && r >= 0) {
        let old = Atomics.load(ctl, ${FIRST});
        while (r < old) {
          const seenValue = Atomics.compareExchange(ctl, ${FIRST}, old, r);
          if (seenValue === old) break;
          old = seenValue;
        }
      }
    } catch {
      Atomics.store(ctl, ${FAILED}, 1);
    }
    if (Atomics.add(ctl, ${COMPLETED}, 1) + 1 === chunks) Atomics.notify(ctl, ${COMPLETED});
  }
}
`;

/** A kernel export: arguments are numbers, the result (if any) an integer. */
export type KernelFunction = (...args: number[]) => number | undefined;

/**
 * Calls `fn` with the first `n` values of `args`, spelled out for each arity: a direct call with
 * exactly the export's number of arguments is several times cheaper than spreading an array or
 * passing surplus arguments, so the cases cannot share one call. Returns the kernel's result, or
 * −1 for kernels without one.
 */
export function invoke(fn: KernelFunction, args: Float64Array, n: number): number {
  const a = args;
  switch (n) {
    case 3:
      return fn(a[0], a[1], a[2]) ?? -1;
    case 4:
      return fn(a[0], a[1], a[2], a[3]) ?? -1;
    case 5:
      return fn(a[0], a[1], a[2], a[3], a[4]) ?? -1;
    case 6:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5]) ?? -1;
    case 7:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6]) ?? -1;
    case 8:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]) ?? -1;
    case 9:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8]) ?? -1;
    case 10:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9]) ?? -1;
    case 11:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10]) ?? -1;
    case 12:
      return fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11]) ?? -1;
    case 13:
      return (
        fn(a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7], a[8], a[9], a[10], a[11], a[12]) ?? -1
      );
    case 14:
      return (
        fn(
          a[0],
          a[1],
          a[2],
          a[3],
          a[4],
          a[5],
          a[6],
          a[7],
          a[8],
          a[9],
          a[10],
          a[11],
          a[12],
          a[13],
        ) ?? -1
      );
    case 15:
      return (
        fn(
          a[0],
          a[1],
          a[2],
          a[3],
          a[4],
          a[5],
          a[6],
          a[7],
          a[8],
          a[9],
          a[10],
          a[11],
          a[12],
          a[13],
          a[14],
        ) ?? -1
      );
    case 16:
      return (
        fn(
          a[0],
          a[1],
          a[2],
          a[3],
          a[4],
          a[5],
          a[6],
          a[7],
          a[8],
          a[9],
          a[10],
          a[11],
          a[12],
          a[13],
          a[14],
          a[15],
        ) ?? -1
      );
    case 17:
      return (
        fn(
          a[0],
          a[1],
          a[2],
          a[3],
          a[4],
          a[5],
          a[6],
          a[7],
          a[8],
          a[9],
          a[10],
          a[11],
          a[12],
          a[13],
          a[14],
          a[15],
          a[16],
        ) ?? -1
      );
    case 18:
      return (
        fn(
          a[0],
          a[1],
          a[2],
          a[3],
          a[4],
          a[5],
          a[6],
          a[7],
          a[8],
          a[9],
          a[10],
          a[11],
          a[12],
          a[13],
          a[14],
          a[15],
          a[16],
          a[17],
        ) ?? -1
      );
    default:
      return fn(...Array.from(a.subarray(0, n))) ?? -1;
  }
}

/** Worker threads sharing one WebAssembly memory. */
export class ThreadPool {
  /** Number of worker threads (the calling thread comes on top). */
  readonly workers: number;
  private readonly ctl: Int32Array<ArrayBufferLike>;
  private readonly counter: BigUint64Array<ArrayBufferLike>;
  private readonly shared: Float64Array<ArrayBufferLike>;
  private readonly handles: { terminate(): Promise<number> }[];
  private seq = 0;
  private closed = false;

  private constructor(
    memory: WasmMemory,
    control: number,
    handles: { terminate(): Promise<number> }[],
  ) {
    this.handles = handles;
    this.workers = handles.length;
    // Views of a shared memory stay valid when it grows, so they are made once.
    this.ctl = new Int32Array(memory.buffer, control, ARGS_AT / 4);
    this.counter = new BigUint64Array(memory.buffer, control + COUNTER_AT, 1);
    this.shared = new Float64Array(memory.buffer, control + ARGS_AT, MAX_ARGS);
  }

  /**
   * Starts `workers` threads on `memory` (which must be shared), with the control block at byte
   * offset `control` ({@link CONTROL_BYTES} bytes). Resolves once every worker has instantiated
   * the module; rejects if one cannot start.
   */
  static async start(
    threads: WorkerThreads,
    module: WasmModule,
    memory: WasmMemory,
    control: number,
    workers: number,
    names: readonly string[],
  ): Promise<ThreadPool> {
    const handles = [];
    const ready: Promise<unknown>[] = [];
    for (let w = 0; w < workers; w++) {
      const worker = new threads.Worker(WORKER_SOURCE, {
        eval: true,
        workerData: { module, memory, control, names },
      });
      ready.push(
        new Promise((resolve, reject) => {
          worker.once("message", resolve);
          worker.once("error", reject);
        }),
      );
      handles.push(worker);
    }
    try {
      await Promise.all(ready);
    } catch (error) {
      await Promise.all(handles.map((h) => h.terminate()));
      throw error;
    }
    // Idle workers must not keep the process alive.
    for (const h of handles) h.unref();
    return new ThreadPool(memory, control, handles);
  }

  /**
   * Runs `fn` (export number `fnIndex`) with the first `n` values of `args`, whose element range
   * `[lo, hi)` sits at `args[loIndex]`, `args[loIndex + 1]`, in chunks of `chunk` elements
   * shared with the workers. Returns the smallest non-negative chunk result, or −1 (kernels
   * without a result return −1 from every chunk). `args` is left modified.
   */
  run(
    fn: KernelFunction,
    fnIndex: number,
    args: Float64Array,
    n: number,
    loIndex: number,
    chunk: number,
  ): number {
    if (this.closed) throw new Error("ThreadPool: used after close()");
    const ctl = this.ctl;
    const lo = args[loIndex];
    const hi = args[loIndex + 1];
    const chunks = Math.ceil((hi - lo) / chunk);
    const shared = this.shared;
    for (let i = 0; i < n; i++) shared[i] = args[i];
    ctl[FN] = fnIndex;
    ctl[NARGS] = n;
    ctl[LO_INDEX] = loIndex;
    ctl[LO] = lo;
    ctl[HI] = hi;
    ctl[CHUNK] = chunk;
    ctl[CHUNKS] = chunks;
    ctl[FIRST] = NONE;
    ctl[FAILED] = 0;
    Atomics.store(ctl, COMPLETED, 0);
    const seq = (this.seq = (this.seq + 1) >>> 0);
    const tag = BigInt(seq) << 32n;
    const end = tag + BigInt(chunks);
    Atomics.store(this.counter, 0, tag);
    Atomics.store(ctl, SEQ, seq | 0);
    Atomics.notify(ctl, SEQ);

    let first = NONE;
    let failure: unknown = null;
    for (;;) {
      const c = Atomics.load(this.counter, 0);
      if (c >= end) break;
      if (Atomics.compareExchange(this.counter, 0, c, c + 1n) !== c) continue;
      const k = Number(c - tag);
      args[loIndex] = lo + k * chunk;
      args[loIndex + 1] = Math.min(hi, lo + (k + 1) * chunk);
      try {
        const r = invoke(fn, args, n);
        if (r >= 0 && r < first) first = r;
      } catch (error) {
        failure = error;
      }
      Atomics.add(ctl, COMPLETED, 1);
    }
    const until = performance.now() + CALLER_SPIN_MS;
    for (;;) {
      const done = Atomics.load(ctl, COMPLETED);
      if (done === chunks) break;
      if (performance.now() > until) Atomics.wait(ctl, COMPLETED, done, 10);
    }
    if (failure !== null) throw failure;
    if (Atomics.load(ctl, FAILED) !== 0) throw new Error("a kernel failed on a worker thread");
    first = Math.min(first, Atomics.load(ctl, FIRST));
    return first === NONE ? -1 : first;
  }

  /** Stops the workers. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    Atomics.store(this.ctl, STOP, 1);
    Atomics.store(this.ctl, SEQ, (this.seq = (this.seq + 1) >>> 0) | 0);
    Atomics.notify(this.ctl, SEQ);
    await Promise.all(this.handles.map((h) => h.terminate()));
  }
}

/** Whether the host reports a Node.js version: only then are `node:` modules looked for. */
function runningInNode(): boolean {
  return typeof process !== "undefined" && typeof process.versions?.node === "string";
}

/** Loads `node:worker_threads` where it exists (Node.js); `null` elsewhere. */
export async function loadWorkerThreads(): Promise<WorkerThreads | null> {
  if (!runningInNode()) return null;
  // A computed specifier keeps bundlers for browsers from trying to resolve the module.
  const specifier = ["node", "worker_threads"].join(":");
  try {
    return (await import(specifier)) as WorkerThreads;
  } catch {
    return null;
  }
}

/** Number of hardware threads (Node.js), or `fallback`. */
export async function hardwareThreads(fallback: number): Promise<number> {
  if (!runningInNode()) return fallback;
  try {
    const os = (await import(["node", "os"].join(":"))) as {
      availableParallelism?: () => number;
      cpus(): unknown[];
    };
    return os.availableParallelism?.() ?? os.cpus().length;
  } catch {
    return fallback;
  }
}
