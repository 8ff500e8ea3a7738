// z[i] is a pure function of (seed, stream, i): a range cut into pieces of any lengths, filled in
// any order, equals one fill of the whole range, on the JavaScript and the WebAssembly paths;
// and a worker thread computes the same bits as the main thread.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { Worker } from "node:worker_threads";
import { build } from "esbuild";
import type { FastRandom } from "../../src/random/fast.js";
import { useFastRandom } from "../../src/random/fast.js";
import {
  fillExponential,
  fillNormal,
  fillRademacher,
  fillUniform,
} from "../../src/random/distributions.js";
import { fillNormalFloat32 } from "../../src/random/normalFloat32.js";
import { fillBits } from "../../src/random/philox.js";

type Buffer = Float32Array | Float64Array | Int8Array | Uint32Array;
type Fill = (out: Buffer, seed: number, stream: number, startIndex: number) => Buffer;

/** A small linear congruential generator: the test's own choices of cuts and orders. */
function lcg(seed: number): (bound: number) => number {
  let state = seed >>> 0;
  return (bound) => {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    return Math.floor((state / 2 ** 32) * bound);
  };
}

/** Cuts [0, n) into pieces of 1 … maxPiece elements (and a few empty ones). */
function cuts(n: number, maxPiece: number, next: (bound: number) => number): [number, number][] {
  const pieces: [number, number][] = [];
  let at = 0;
  while (at < n) {
    const length = next(8) === 0 ? 0 : 1 + next(maxPiece);
    const end = Math.min(n, at + length);
    pieces.push([at, end]);
    at = end;
  }
  return pieces;
}

/** Fills the pieces of `target` in a shuffled order, each with its own call. */
function fillInPieces(
  fill: Fill,
  target: Buffer,
  seed: number,
  stream: number,
  start: number,
  maxPiece: number,
  next: (bound: number) => number,
): void {
  const pieces = cuts(target.length, maxPiece, next);
  for (let i = pieces.length - 1; i > 0; i--) {
    const j = next(i + 1);
    [pieces[i], pieces[j]] = [pieces[j], pieces[i]];
  }
  for (const [from, to] of pieces) fill(target.subarray(from, to), seed, stream, start + from);
}

function assertSameBits(actual: Buffer, expected: Buffer, what: string): void {
  assert.equal(actual.length, expected.length);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, one call gives ${expected[i]}`);
    }
  }
}

const jsFills: [string, Fill, () => Buffer][] = [
  ["bits", fillBits as Fill, () => new Uint32Array(1500)],
  ["uniform float64", fillUniform as Fill, () => new Float64Array(1500)],
  ["uniform float32", fillUniform as Fill, () => new Float32Array(1500)],
  ["normal float64", fillNormal as Fill, () => new Float64Array(1500)],
  ["normal float32", fillNormal as Fill, () => new Float32Array(1500)],
  ["float32-native normal", fillNormalFloat32 as Fill, () => new Float32Array(1500)],
  ["float32-native normal, widened", fillNormalFloat32 as Fill, () => new Float64Array(1500)],
  ["exponential float64", fillExponential as Fill, () => new Float64Array(1500)],
  ["rademacher", fillRademacher as Fill, () => new Int8Array(1500)],
];

describe("chunked generation equals one call", () => {
  let fast: FastRandom | undefined;
  before(async () => {
    fast = await useFastRandom({ threads: 2, grain: 1024 });
  });
  after(async () => {
    await fast?.close();
  });

  for (const [name, fill, make] of jsFills) {
    it(`${name}: 20 random cuts and orders, odd and even starts, near 2^53`, () => {
      const next = lcg(name.length * 7919);
      for (let trial = 0; trial < 20; trial++) {
        const seed = trial === 0 ? 0 : next(2 ** 30) * 2 ** 20 + next(2 ** 20);
        const stream = trial < 2 ? 0 : next(1000);
        const start = trial % 3 === 2 ? 2 ** 53 - 1500 : next(2 ** 30) * 4096 + next(4096);
        const whole = fill(make(), seed, stream, start);
        const pieces = make();
        fillInPieces(fill, pieces, seed, stream, start, 1 + next(200), next);
        assertSameBits(pieces, whole, `trial ${trial}`);
      }
    });
  }

  for (const ctor of [Float32Array, Float64Array]) {
    it(`WebAssembly normal ${ctor.name}: pieces of any length, any order, two threads`, () => {
      assert.ok(fast?.enabled);
      const next = lcg(ctor.BYTES_PER_ELEMENT);
      const fastFill = fast.fillNormal.bind(fast) as Fill;
      for (let trial = 0; trial < 6; trial++) {
        const n = 20000 + next(5000);
        const start = trial === 5 ? 2 ** 53 - n : next(2 ** 30) * 2 ** 21 + next(2 ** 21);
        const seed = trial === 0 ? 0 : next(2 ** 31);
        const whole = fillNormal(new ctor(n), seed, trial, start);
        const pieces = new ctor(n);
        fillInPieces(fastFill, pieces, seed, trial, start, 1 + next(6000), next);
        assertSameBits(pieces, whole, `trial ${trial}`);
      }
    });
  }

  it("WebAssembly float32-native normal: pieces of any length, any order, two threads", () => {
    assert.ok(fast?.enabled);
    const next = lcg(32);
    const fastFill = fast.fillNormalFloat32.bind(fast) as Fill;
    for (let trial = 0; trial < 6; trial++) {
      const n = 20000 + next(5000);
      const start = trial === 5 ? 2 ** 53 - n : next(2 ** 30) * 2 ** 21 + next(2 ** 21);
      const seed = trial === 0 ? 0 : next(2 ** 31);
      const whole = fillNormalFloat32(new Float32Array(n), seed, trial, start);
      const pieces = new Float32Array(n);
      fillInPieces(fastFill, pieces, seed, trial, start, 1 + next(6000), next);
      assertSameBits(pieces, whole, `trial ${trial}`);
    }
  });
});

/** The fills a worker and the main thread both compute. */
const WORK = [
  { kind: "bits", seed: 0, stream: 0, start: 0, count: 300 },
  { kind: "uniform64", seed: 11, stream: 2, start: 2 ** 45 + 1, count: 300 },
  { kind: "uniform32", seed: 11, stream: 2, start: 7, count: 300 },
  { kind: "normal64", seed: 0, stream: 0, start: 0, count: 301 },
  { kind: "normal32", seed: 5, stream: 9, start: 2 ** 53 - 301, count: 301 },
  { kind: "exponential64", seed: 3, stream: 1, start: 99, count: 300 },
  { kind: "rademacher", seed: 8, stream: 4, start: 31, count: 300 },
  { kind: "fastNormal32", seed: 6, stream: 6, start: 2 ** 33 - 1001, count: 70001 },
  { kind: "fastNormal64", seed: 6, stream: 6, start: 2 ** 33 - 1001, count: 70001 },
  { kind: "normalFloat32", seed: 0, stream: 0, start: 3, count: 301 },
  { kind: "fastNormalFloat32", seed: 6, stream: 6, start: 2 ** 34 - 1001, count: 70001 },
] as const;

// Runs in the worker, and in the main thread, against the library module `lib`: every fill of
// `work` as raw bytes (so that the comparison is of bit patterns).
const COMPUTE = `async function compute(lib, work) {
  const fast = await lib.useFastRandom({ threads: 1 });
  const out = [];
  for (const w of work) {
    const f32 = w.kind.endsWith("32");
    const buffer =
      w.kind === "bits" ? new Uint32Array(w.count)
      : w.kind === "rademacher" ? new Int8Array(w.count)
      : f32 ? new Float32Array(w.count) : new Float64Array(w.count);
    const fill =
      w.kind === "bits" ? lib.fillBits
      : w.kind.startsWith("uniform") ? lib.fillUniform
      : w.kind === "normalFloat32" ? lib.fillNormalFloat32
      : w.kind === "fastNormalFloat32" ? fast.fillNormalFloat32.bind(fast)
      : w.kind.startsWith("normal") ? lib.fillNormal
      : w.kind.startsWith("exponential") ? lib.fillExponential
      : w.kind === "rademacher" ? lib.fillRademacher
      : fast.fillNormal.bind(fast);
    fill(buffer, w.seed, w.stream, w.start);
    out.push(new Uint8Array(buffer.buffer.slice(0)));
  }
  out.push(fast.enabled ? 1 : 0);
  await fast.close();
  return out;
}`;

describe("a worker thread computes the same bits as the main thread", () => {
  it("JavaScript fills and the WebAssembly Gaussian fill", { timeout: 60_000 }, async () => {
    // The worker runs the library bundled as plain JavaScript, as a user's worker would.
    const bundle = await build({
      entryPoints: [fileURLToPath(new URL("../../src/random/index.ts", import.meta.url))],
      bundle: true,
      platform: "node",
      format: "cjs",
      write: false,
      logLevel: "silent",
    });
    const library = bundle.outputFiles[0].text;
    const source = `
      const { parentPort, workerData } = require("node:worker_threads");
      const module = { exports: {} };
      new Function("module", "exports", "require", workerData.library)(module, module.exports, require);
      ${COMPUTE}
      compute(module.exports, workerData.work).then((out) => parentPort.postMessage(out));
    `;
    const worker = new Worker(source, { eval: true, workerData: { library, work: WORK } });
    const fromWorker = await new Promise<(Uint8Array | number)[]>((resolve, reject) => {
      worker.once("message", resolve);
      worker.once("error", reject);
    });
    await worker.terminate();

    const lib = await import("../../src/random/index.js");
    const compute = new Function(`return ${COMPUTE}`)() as (
      library: typeof lib,
      work: typeof WORK,
    ) => Promise<(Uint8Array | number)[]>;
    const here = await compute(lib, WORK);
    assert.equal(fromWorker.at(-1), 1, "the worker used the WebAssembly kernel");
    assert.equal(here.at(-1), 1, "the main thread used the WebAssembly kernel");
    for (let k = 0; k < WORK.length; k++) {
      assert.deepEqual(fromWorker[k], here[k], `${WORK[k].kind}`);
    }
    // And the fast fill equals the JavaScript one on both sides.
    const normal = fillNormal(new Float32Array(70001), 6, 6, 2 ** 33 - 1001);
    assert.deepEqual(here[7], new Uint8Array(normal.buffer));
    const native = fillNormalFloat32(new Float32Array(70001), 6, 6, 2 ** 34 - 1001);
    assert.deepEqual(here[10], new Uint8Array(native.buffer));
  });
});
