/**
 * Kernel benchmark: the cost of one optimizer update relative to one buffer copy.
 *
 * For float32 parameter sets of 1M and 16M elements (a few tensors), every optimizer of the
 * catalog takes steps through `Optimizer.apply()` with the gradient already in `opt.updates`.
 * Each update is timed interleaved with a copy of one parameter-sized buffer (`dst.set(src)`),
 * and the table reports median(update) / median(copy): a ratio that carries over between
 * machines better than milliseconds on a shared one. "GB/s" is the optimizer's minimal memory
 * traffic (read the gradient, read and write the parameters and each parameter-sized state
 * buffer) divided by the median update time.
 *
 * Run three times over: with plain typed arrays (the JavaScript kernels), and with buffers from
 * `useFastKernels()` (WebAssembly SIMD) on one thread and split across worker threads. Each step
 * is what a training loop pays: the non-finite check, then the chain, with Adam's and momentum
 * SGD's direction and parameter write done in one pass. Methods that need the loss (AEGD,
 * Polyak) get a constant one with f* = 0.
 *
 *     npm run bench:kernels [-- --only adam,adamw --sizes 1M,16M --repeats 7 --threads 2 --grain 32768 --verbose]
 */
import type { FastKernels } from "../src/kernels/index.js";
import { useFastKernels } from "../src/kernels/index.js";
import { catalog } from "../src/optim/catalog.js";
import { Optimizer } from "../src/optim/optimizer.js";
import type { Objective } from "../src/oracles/objective.js";
import type { State } from "../src/optim/transform.js";
import type { Allocator, FloatArray } from "../src/params/layout.js";
import { Layout, plainAllocator } from "../src/params/layout.js";
import { ParamSet } from "../src/params/paramset.js";
import { median, parseSize } from "./common.js";

interface Options {
  only: string[] | null;
  sizes: number[];
  repeats: number;
  threads: number | undefined;
  grain: number | undefined;
  verbose: boolean;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    only: null,
    sizes: [2 ** 20, 2 ** 24],
    repeats: 7,
    threads: undefined,
    grain: undefined,
    verbose: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case "--only":
        options.only = value.split(",");
        i++;
        break;
      case "--sizes":
        options.sizes = value.split(",").map((text) => parseSize("--sizes", text));
        i++;
        break;
      case "--repeats":
        options.repeats = Number(value);
        i++;
        break;
      case "--verbose":
        options.verbose = true;
        break;
      case "--grain":
        options.grain = Number(value);
        i++;
        break;
      case "--threads":
        options.threads = Number(value);
        i++;
        break;
      default:
        throw new RangeError(
          `unknown argument ${argv[i]} (known: --only, --sizes, --repeats, --threads, --grain, --verbose)`,
        );
    }
  }
  return options;
}

/** Four tensors of a small network scaled to `n` elements in all. */
function benchLayout(n: number, allocate: Allocator): Layout {
  const bias1 = 1024;
  const bias2 = 1000;
  const cols = 1024;
  const rows1 = Math.floor((n / 2 - bias1) / cols);
  const rest = n - rows1 * cols - bias1 - bias2;
  return new Layout(
    [
      { name: "layer1.weight", shape: [rows1, cols] },
      { name: "layer1.bias", shape: [bias1] },
      { name: "layer2.weight", shape: [rest] },
      { name: "layer2.bias", shape: [bias2] },
    ],
    "float32",
    allocate,
  );
}

/** Fills `x` with values in [−scale, scale) from a cheap integer hash (deterministic). */
function fill(x: FloatArray, seed: number, scale: number): void {
  let s = seed >>> 0;
  for (let i = 0; i < x.length; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    x[i] = scale * ((s >>> 8) / 2 ** 23 - 1);
  }
}

/** Parameter-sized buffers in a transform state (found recursively). */
function stateBuffers(state: State, size: number, out: FloatArray[] = []): FloatArray[] {
  for (const value of Object.values(state)) {
    if (value instanceof Float32Array || value instanceof Float64Array) {
      if (value.length === size) out.push(value);
    } else if (typeof value === "object") stateBuffers(value, size, out);
  }
  return out;
}

/** One step to time; `buffers` lists what it holds (to count traffic and to release). */
interface Stepper {
  step(): unknown;
  updates: FloatArray;
  buffers: FloatArray[];
}

interface Row {
  name: string;
  ratio: Map<number, number>;
  gbps: Map<number, number>;
  /** Why the optimizer could not be timed (e.g. it needs the loss, which no objective gives here). */
  skipped?: string;
}

function optimizerStepper(entry: (typeof catalog)[number], layout: Layout): Stepper {
  const params = new ParamSet(layout);
  fill(params.data, 1, 1);
  const opt = new Optimizer(params, entry.create({ learningRate: entry.defaultLearningRate }));
  // A constant loss and optimum, for the methods whose step depends on f(θ) − f*.
  const objective: Objective = { name: "constant", layout, value: () => 1, optimalValue: 0 };
  const ctx = { params: params.data, layout, objective, loss: 1 };
  return {
    step: () => opt.apply(ctx),
    updates: opt.updates,
    buffers: [params.data, opt.updates, ...stateBuffers(opt.state, layout.size)],
  };
}

async function measure(
  make: () => Stepper,
  n: number,
  allocate: Allocator,
  repeats: number,
): Promise<{ ratio: number; gbps: number; copyMs: number; stepMs: number; release: FloatArray[] }> {
  const src = allocate("float32", n);
  const dst = allocate("float32", n);
  const grad = allocate("float32", n);
  fill(src, 2, 1);
  fill(grad, 3, 0.5);
  const stepper = make();
  const copies: number[] = [];
  const steps: number[] = [];
  const warmup = 2;
  for (let r = 0; r < warmup + repeats; r++) {
    let t0 = performance.now();
    dst.set(src);
    const copy = performance.now() - t0;
    stepper.updates.set(grad);
    t0 = performance.now();
    await stepper.step();
    const step = performance.now() - t0;
    if (r >= warmup) {
      copies.push(copy);
      steps.push(step);
    }
  }
  // Read the gradient, read and write the parameters and every other parameter-sized buffer.
  const others = stepper.buffers.length - 2;
  const bytes = n * 4 * (1 + 2 + 2 * others);
  const time = median(steps);
  return {
    copyMs: median(copies),
    stepMs: time,
    ratio: time / median(copies),
    gbps: bytes / (time * 1e6),
    release: [src, dst, grad, ...stepper.buffers],
  };
}

function formatTable(title: string, rows: Row[], sizes: number[]): string {
  const label = (n: number) => (n >= 2 ** 20 ? `${n / 2 ** 20}M` : `${n / 1024}K`);
  const header = [
    "optimizer",
    ...sizes.map((n) => `${label(n)} × copy`),
    ...sizes.map((n) => `${label(n)} GB/s`),
  ];
  const lines = rows.map((row) => [
    row.name,
    ...sizes.map((n) =>
      row.ratio.has(n) ? row.ratio.get(n)!.toFixed(2) : row.skipped ? "n/a" : "—",
    ),
    ...sizes.map((n) => (row.gbps.has(n) ? row.gbps.get(n)!.toFixed(1) : "—")),
  ]);
  const widths = header.map((h, c) => Math.max(h.length, ...lines.map((l) => l[c].length)));
  const format = (cells: string[]) =>
    `| ${cells.map((x, c) => (c === 0 ? x.padEnd(widths[c]) : x.padStart(widths[c]))).join(" | ")} |`;
  return [
    title,
    "",
    format(header),
    `|${widths.map((w, c) => (c === 0 ? "-".repeat(w + 1) + "-" : "-".repeat(w + 1) + ":")).join("|")}|`,
    ...lines.map(format),
  ].join("\n");
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const started = performance.now();
  const entries = catalog.filter(
    (e) => e.family === "first-order" && (options.only === null || options.only.includes(e.name)),
  );
  // The fast path on one thread (what a browser without cross-origin isolation gets) and on
  // every hardware thread.
  const single: FastKernels = await useFastKernels({ threads: 1 });
  const fast: FastKernels = await useFastKernels({
    ...(options.threads === undefined ? {} : { threads: options.threads }),
    ...(options.grain === undefined ? {} : { grain: options.grain }),
  });
  const fastPath = (kernels: FastKernels) => ({
    title: `Fast buffers (${kernels.enabled ? "WebAssembly SIMD" : "SIMD unavailable"}, ${kernels.threads} thread${kernels.threads > 1 ? "s" : ""})`,
    allocate: kernels.allocate,
    release: (x: FloatArray) => kernels.release(x),
  });
  const paths: { title: string; allocate: Allocator; release(x: FloatArray): void }[] = [
    { title: "Plain typed arrays (JavaScript kernels)", allocate: plainAllocator, release() {} },
    fastPath(single),
  ];
  if (fast.threads > 1) paths.push(fastPath(fast));
  const jobs = [
    ...entries.map((e) => ({
      name: e.name,
      make: (layout: Layout) => optimizerStepper(e, layout),
    })),
  ];
  for (const path of paths) {
    const rows: Row[] = jobs.map((j) => ({ name: j.name, ratio: new Map(), gbps: new Map() }));
    for (const n of options.sizes) {
      const layout = benchLayout(n, path.allocate);
      for (let j = 0; j < jobs.length; j++) {
        try {
          const result = await measure(
            () => jobs[j].make(layout),
            n,
            path.allocate,
            options.repeats,
          );
          rows[j].ratio.set(n, result.ratio);
          if (options.verbose) {
            console.log(
              `${jobs[j].name} n=${n}: copy ${result.copyMs.toFixed(2)} ms, update ${result.stepMs.toFixed(2)} ms`,
            );
          }
          rows[j].gbps.set(n, result.gbps);
          for (const x of result.release) path.release(x);
        } catch (error) {
          rows[j].skipped = (error as Error).message;
        }
      }
    }
    console.log(formatTable(path.title, rows, options.sizes));
    for (const row of rows) if (row.skipped) console.log(`  ${row.name}: n/a, ${row.skipped}`);
    console.log("");
  }
  console.log(
    `ratio = median update time / median time of one float32 copy of the same size, ${options.repeats} interleaved repeats;`,
  );
  console.log(
    "GB/s = minimal traffic (gradient read, parameters and parameter-sized state read and written) / update time.",
  );
  console.log(`total ${((performance.now() - started) / 1000).toFixed(0)} s`);
  await single.close();
  await fast.close();
}

await main();
