/**
 * Peak memory of one training step (or one forward pass) in Node.js, on both sides it lives:
 *
 * - JavaScript: heap objects and ArrayBuffer backing stores (the used bytes of V8's heap
 *   spaces, machine code excepted, + `process.memoryUsage().arrayBuffers`; the jax-js wasm
 *   memory is not among them). A full garbage collection runs before every reading, so a
 *   reading is what is alive, not what is garbage. The code spaces are left out because the
 *   machine code the JIT compiles and throws away moves them by tens of KiB from one reading to
 *   the next whatever the operation does; that code is the program's, not data the operation
 *   holds (a forward pass needs it as much as a training step).
 * - jax-js: the buffers of its WebAssembly backend. jax-js has no public count of them, so the
 *   probe wraps the backend's `malloc`, `incRef` and `decRef` (public methods of the backend
 *   object, which jax-js exports from an internal chunk under a minified alias) and keeps the
 *   bytes of every live buffer, and their peak, at every allocation.
 *
 * An operation is measured against the state just before it: the readings are differences from
 * a baseline taken after a collection. The objective the operation uses is wrapped so that every
 * oracle call is bracketed: a JavaScript reading before it; the jax-js peak during it; and the
 * ArrayBuffers it allocated (their total, an upper bound of what was alive at once inside it)
 * on top of the reading before it; and a reading after it. The operation's peak is the largest
 * JavaScript + jax-js total of these, and what it retains is the reading after it returned,
 * with its result (e.g. the optimizer and its state) still alive. A collection that the engine
 * starts on its own inside a call would hide part of that call's allocations; the probe watches
 * for one and repeats the operation when it happens.
 *
 * What remains of the heap's jitter (feedback, hidden classes and other bookkeeping of the JIT,
 * and the hash tables of jax-js's allocator: up to about ten KiB) is tamed by repetition: the
 * operation first runs unmeasured a few times, so that the engine has compiled and settled what
 * it runs, and each figure is the median over several measurements. The start times of
 * collections go into a buffer allocated once, so that the probe's own bookkeeping does not
 * grow with the number of oracle calls.
 *
 * The collection is V8's `gc`, exposed at run time with `v8.setFlagsFromString("--expose-gc")`
 * when the process was not started with `--expose-gc`.
 */
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { PerformanceObserver } from "node:perf_hooks";
import { fileURLToPath, pathToFileURL } from "node:url";
import v8 from "node:v8";
import vm from "node:vm";
import { InvalidArgumentError } from "../errors.js";
import type { FloatArray, Layout } from "../params/layout.js";

/** The backend methods the probe wraps. */
interface BackendHooks {
  malloc(size: number, initialData?: Uint8Array): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
}

/** Live and peak bytes of jax-js's wasm buffers, as tracked since the probe was installed. */
export interface JaxBufferTracker {
  /** Bytes of the buffers alive now (allocated since tracking began). */
  live(): number;
  /** Largest {@link JaxBufferTracker.live} since the last reset. */
  peak(): number;
  /** Starts a new peak at the current live bytes. */
  resetPeak(): void;
}

let trackerPromise: Promise<JaxBufferTracker | null> | undefined;

async function wasmBackend(): Promise<BackendHooks | null> {
  try {
    const entry = fileURLToPath(import.meta.resolve("@jax-js/jax"));
    const dir = dirname(entry);
    const chunk = readdirSync(dir).find((file) => /^backend-.*\.js$/.test(file));
    if (chunk === undefined) return null;
    const module = (await import(pathToFileURL(join(dir, chunk)).href)) as Record<string, unknown>;
    const getBackend = Object.values(module).find(
      (value): value is (device: string) => BackendHooks =>
        typeof value === "function" && value.name === "getBackend",
    );
    if (getBackend === undefined) return null;
    const backend = getBackend("wasm");
    const ok =
      typeof backend?.malloc === "function" &&
      typeof backend.incRef === "function" &&
      typeof backend.decRef === "function";
    return ok ? backend : null;
  } catch {
    return null;
  }
}

async function installTracker(): Promise<JaxBufferTracker | null> {
  const backend = await wasmBackend();
  if (backend === null) return null;
  // Reference counts of our own, per buffer slot: only buffers allocated from now on are known.
  const buffers = new Map<number, { size: number; count: number }>();
  let live = 0;
  let peak = 0;
  const malloc = backend.malloc.bind(backend);
  const incRef = backend.incRef.bind(backend);
  const decRef = backend.decRef.bind(backend);
  backend.malloc = (size, initialData) => {
    const slot = malloc(size, initialData);
    buffers.set(slot, { size, count: 1 });
    live += size;
    if (live > peak) peak = live;
    return slot;
  };
  backend.incRef = (slot) => {
    incRef(slot);
    const buffer = buffers.get(slot);
    if (buffer !== undefined) buffer.count++;
  };
  backend.decRef = (slot) => {
    decRef(slot);
    const buffer = buffers.get(slot);
    if (buffer === undefined) return;
    buffer.count--;
    if (buffer.count <= 0) {
      buffers.delete(slot);
      live -= buffer.size;
    }
  };
  return {
    live: () => live,
    peak: () => peak,
    resetPeak: () => {
      peak = live;
    },
  };
}

/**
 * The tracker of jax-js's wasm buffers (installed once per process), or null where the backend
 * cannot be reached (another jax-js build).
 */
export function jaxBufferTracker(): Promise<JaxBufferTracker | null> {
  trackerPromise ??= installTracker();
  return trackerPromise;
}

let gcFunction: (() => void) | undefined;

function gcNow(): void {
  if (gcFunction === undefined) {
    const exposed = (globalThis as { gc?: () => void }).gc;
    if (typeof exposed === "function") gcFunction = exposed;
    else {
      v8.setFlagsFromString("--expose-gc");
      gcFunction = vm.runInNewContext("gc") as () => void;
    }
  }
  gcFunction();
}

/**
 * A full collection, after letting pending callbacks run (jax-js releases buffers of finished
 * work in them, and a value awaited a moment ago may still be referenced until then). V8 frees
 * the backing stores of dead ArrayBuffers on a background thread after a collection, so the
 * ArrayBuffer count can drop later; the next collection waits for that sweep, so collections
 * repeat until two in a row see the same ArrayBuffer bytes.
 */
export async function collectGarbage(): Promise<void> {
  let previous = Number.NaN;
  for (let round = 0; round < 8; round++) {
    await new Promise((resolve) => setImmediate(resolve));
    gcNow();
    const buffers = process.memoryUsage().arrayBuffers;
    if (buffers === previous) return;
    previous = buffers;
  }
}

/** Bytes in V8's heap spaces now, those holding machine code excepted. */
function heapDataBytes(): number {
  let bytes = 0;
  for (const space of v8.getHeapSpaceStatistics()) {
    if (!space.space_name.startsWith("code")) bytes += space.space_used_size;
  }
  return bytes;
}

/** JavaScript heap (machine code excepted) and ArrayBuffer bytes now. */
function jsReading(): { heap: number; buffers: number } {
  return { heap: heapDataBytes(), buffers: process.memoryUsage().arrayBuffers };
}

/** The oracles an operation may call through the probe. */
export interface ProbedObjective {
  /** Name in messages. */
  readonly name: string;
  /** The parameters' layout. */
  readonly layout: Layout;
  /** f(θ). */
  value(params: FloatArray): Promise<number>;
  /** f(θ) and ∇f(θ). */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): Promise<number>;
}

/** What an operation gets from the probe. */
export interface MemoryWatch {
  /** `objective` with every oracle call bracketed by the probe. */
  wrap(objective: ProbedObjective): ProbedObjective;
}

/** The memory of one operation, in bytes above the state before it. */
export interface MemoryMeasurement {
  /** Peak of JavaScript + jax-js bytes. */
  readonly peakBytes: number;
  /** Peak of the JavaScript bytes alone. */
  readonly jsPeakBytes: number;
  /**
   * Peak of the ArrayBuffer + jax-js bytes: the part of {@link MemoryMeasurement.peakBytes}
   * counted exactly, without the heap's jitter (inside an oracle call an upper bound, since the
   * ArrayBuffers it allocated are counted whole). NaN when jax-js buffers cannot be tracked.
   */
  readonly exactPeakBytes: number;
  /** Peak of the jax-js bytes alone (NaN when they cannot be tracked). */
  readonly jaxPeakBytes: number;
  /** JavaScript + jax-js bytes still alive after the operation, its result included. */
  readonly retainedBytes: number;
  /** JavaScript bytes (heap and ArrayBuffers) still alive after the operation. */
  readonly jsRetainedBytes: number;
  /**
   * ArrayBuffer bytes still alive after the operation: the exact part of
   * {@link MemoryMeasurement.jsRetainedBytes} (typed arrays: state, scratch, perturbed copies).
   */
  readonly bufferRetainedBytes: number;
  /** Oracle calls the operation made. */
  readonly oracleCalls: number;
  /** Times the operation ran (more than the repeats when a collection of the engine's own intervened). */
  readonly attempts: number;
  /** Whether a measurement kept seeing such a collection (its JavaScript peak may be low). */
  readonly disturbed: boolean;
}

/** Attempts before a disturbed measurement is reported as such. */
const MAX_ATTEMPTS = 4;

/** Measurements whose median {@link MemoryProbe.measure} reports unless told otherwise. */
export const DEFAULT_REPEATS = 5;

/** Unmeasured runs before the measurements, unless told otherwise. */
export const DEFAULT_WARMUPS = 2;

/**
 * Collection start times kept (a ring: only those since the oracle call being checked matter,
 * and far fewer collections than this run between a call and its check).
 */
const GC_LOG_CAPACITY = 1024;

/** Options of {@link MemoryProbe.measure}. */
export interface MeasureOptions {
  /** Measurements, whose median is reported (default {@link DEFAULT_REPEATS}). */
  repeats?: number;
  /** Unmeasured runs first, through the same watch (default {@link DEFAULT_WARMUPS}). */
  warmups?: number;
}

/** Measures operations; see the module header. Call {@link MemoryProbe.open}. */
export class MemoryProbe {
  /**
   * Start times of the engine's collections, in a ring allocated once: a list that grew with
   * every collection would itself show as heap growth, more of it the more oracle calls an
   * operation makes.
   */
  private readonly gcStarts = new Float64Array(GC_LOG_CAPACITY);
  private gcCount = 0;
  /** The result of the operation being measured, kept alive until its last reading. */
  private result: unknown;
  private readonly observer: PerformanceObserver;

  private constructor(private readonly tracker: JaxBufferTracker | null) {
    this.observer = new PerformanceObserver((list) => {
      for (const entry of list.getEntries()) {
        this.gcStarts[this.gcCount % GC_LOG_CAPACITY] = entry.startTime;
        this.gcCount++;
      }
    });
    this.observer.observe({ entryTypes: ["gc"] });
  }

  /** Whether a collection logged since the probe's count was `since` started inside (from, to). */
  private collectedDuring(since: number, from: number, to: number): boolean {
    for (let k = Math.max(since, this.gcCount - GC_LOG_CAPACITY); k < this.gcCount; k++) {
      const started = this.gcStarts[k % GC_LOG_CAPACITY];
      if (started > from && started < to) return true;
    }
    return false;
  }

  /** A probe, with the jax-js tracker installed where possible. */
  static async open(): Promise<MemoryProbe> {
    return new MemoryProbe(await jaxBufferTracker());
  }

  /** Whether jax-js buffers are tracked. */
  get tracksJax(): boolean {
    return this.tracker !== null;
  }

  /** Stops watching for collections. */
  close(): void {
    this.observer.disconnect();
  }

  /**
   * Measures `operation`, which must make its oracle calls through `watch.wrap` and may be run
   * several times: `warmups` unmeasured runs (default {@link DEFAULT_WARMUPS}), then `repeats`
   * measurements (default {@link DEFAULT_REPEATS}), each repeated while a collection of the
   * engine's own interrupts it (at most 4 times), and the median of each figure reported. The
   * warm-up and the median tame the JavaScript heap, whose size drifts by some kilobytes from
   * one reading to the next (the JIT's feedback and hidden classes) whatever the operation does.
   * A number for `options` is the number of repeats.
   */
  async measure(
    operation: (watch: MemoryWatch) => Promise<unknown>,
    options: MeasureOptions | number = {},
  ): Promise<MemoryMeasurement> {
    const owner = "MemoryProbe.measure";
    const { repeats = DEFAULT_REPEATS, warmups = DEFAULT_WARMUPS } =
      typeof options === "number" ? { repeats: options } : options;
    if (!Number.isInteger(repeats) || repeats < 1) {
      throw new InvalidArgumentError(owner, "repeats", repeats, "an integer >= 1");
    }
    if (!Number.isInteger(warmups) || warmups < 0) {
      throw new InvalidArgumentError(owner, "warmups", warmups, "an integer >= 0");
    }
    for (let w = 0; w < warmups; w++) await this.attempt(operation);
    const runs: MemoryMeasurement[] = [];
    let attempts = 0;
    let disturbed = false;
    for (let r = 0; r < repeats; r++) {
      let run: MemoryMeasurement & { clean: boolean };
      let tries = 0;
      do {
        run = await this.attempt(operation);
        tries++;
      } while (!run.clean && tries < MAX_ATTEMPTS);
      attempts += tries;
      disturbed ||= !run.clean;
      runs.push(run);
    }
    const middle = (pick: (m: MemoryMeasurement) => number): number => {
      const values = runs.map(pick).sort((a, b) => a - b);
      const mid = values.length >> 1;
      return values.length % 2 === 1 ? values[mid] : (values[mid - 1] + values[mid]) / 2;
    };
    return {
      peakBytes: middle((m) => m.peakBytes),
      jsPeakBytes: middle((m) => m.jsPeakBytes),
      exactPeakBytes: middle((m) => m.exactPeakBytes),
      jaxPeakBytes: middle((m) => m.jaxPeakBytes),
      retainedBytes: middle((m) => m.retainedBytes),
      jsRetainedBytes: middle((m) => m.jsRetainedBytes),
      bufferRetainedBytes: middle((m) => m.bufferRetainedBytes),
      oracleCalls: runs[0].oracleCalls,
      attempts,
      disturbed,
    };
  }

  private async attempt(
    operation: (watch: MemoryWatch) => Promise<unknown>,
  ): Promise<MemoryMeasurement & { clean: boolean }> {
    const tracker = this.tracker;
    await collectGarbage();
    const js0 = jsReading();
    const jax0 = tracker?.live() ?? 0;
    let jsPeak = 0;
    let exactPeak = 0;
    let jaxPeak = 0;
    let totalPeak = 0;
    let calls = 0;
    let clean = true;
    const note = (js: number, jax: number): void => {
      jsPeak = Math.max(jsPeak, js);
      jaxPeak = Math.max(jaxPeak, jax);
      totalPeak = Math.max(totalPeak, js + jax);
    };
    const sample = async (): Promise<{ js: number; buffers: number; jax: number }> => {
      await collectGarbage();
      const now = jsReading();
      const buffers = now.buffers - js0.buffers;
      // The heap can end below its starting reading (V8 compacts it after the first collection);
      // memory freed below the baseline does not pay for what the operation allocates.
      const js = Math.max(0, now.heap - js0.heap) + buffers;
      const reading = { js, buffers, jax: (tracker?.live() ?? jax0) - jax0 };
      note(reading.js, reading.jax);
      exactPeak = Math.max(exactPeak, buffers + reading.jax);
      return reading;
    };
    const bracket = async <T>(call: () => Promise<T>): Promise<T> => {
      calls++;
      const before = await sample();
      tracker?.resetPeak();
      const buffersBefore = process.memoryUsage().arrayBuffers;
      const logged = this.gcCount;
      const started = performance.now();
      const result = await call();
      const ended = performance.now();
      const allocated = Math.max(0, process.memoryUsage().arrayBuffers - buffersBefore);
      const jaxDuring = (tracker?.peak() ?? jax0) - jax0;
      note(before.js + allocated, jaxDuring);
      exactPeak = Math.max(exactPeak, before.buffers + allocated + jaxDuring);
      totalPeak = Math.max(totalPeak, before.js + allocated + jaxDuring);
      // Collections are reported asynchronously; the sample after the call lets them arrive.
      await sample();
      if (this.collectedDuring(logged, started, ended)) clean = false;
      return result;
    };
    const watch: MemoryWatch = {
      wrap: (objective) => ({
        name: objective.name,
        layout: objective.layout,
        value: (p) => bracket(() => objective.value(p)),
        valueAndGrad: (p, g) => bracket(() => objective.valueAndGrad(p, g)),
      }),
    };
    // Held outside this frame so that the result (an optimizer and its state) is alive at the
    // last reading whatever the compiler makes of local variables.
    this.result = await operation(watch);
    const after = await sample();
    this.result = undefined;
    const tracked = tracker !== null;
    return {
      peakBytes: tracked ? totalPeak : Number.NaN,
      jsPeakBytes: jsPeak,
      exactPeakBytes: tracked ? exactPeak : Number.NaN,
      jaxPeakBytes: tracked ? jaxPeak : Number.NaN,
      retainedBytes: tracked ? after.js + after.jax : Number.NaN,
      jsRetainedBytes: after.js,
      bufferRetainedBytes: after.buffers,
      oracleCalls: calls,
      attempts: 1,
      disturbed: !clean,
      clean,
    };
  }
}
