// The WebAssembly SIMD Gaussian fills behind useFastRandom (src/kernels/wasm/philoxNormal.ts,
// src/kernels/wasm/philoxNormalFloat32.ts) against their JavaScript definitions fillNormal and
// fillNormalFloat32: the same bits for every length, start and thread count, across the places
// where the kernels' counters carry and their pieces end.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { wasmApi } from "../../src/kernels/wasm/api.js";
import { normalModuleBytes } from "../../src/kernels/wasm/philoxNormal.js";
import { randomModuleBytes } from "../../src/kernels/wasm/randomModule.js";
import type { FastRandom } from "../../src/random/fast.js";
import { useFastRandom } from "../../src/random/fast.js";
import { fillNormal } from "../../src/random/distributions.js";
import { fillNormalFloat32 } from "../../src/random/normalFloat32.js";

function assertSameBits(
  actual: Float32Array | Float64Array,
  expected: Float32Array | Float64Array,
  what: string,
) {
  assert.equal(actual.length, expected.length, what);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}: element ${i} is ${actual[i]}, JavaScript gives ${expected[i]}`);
    }
  }
}

describe("useFastRandom().fillNormal equals fillNormal bit for bit", () => {
  let one: FastRandom;
  let two: FastRandom;
  before(async () => {
    one = await useFastRandom({ threads: 1 });
    two = await useFastRandom({ threads: 2, grain: 4096 });
  });
  after(async () => {
    await one.close();
    await two.close();
  });

  it("compiles the SIMD kernel here, and starts a worker when asked for two threads", () => {
    assert.equal(wasmApi()!.validate(normalModuleBytes(false)), true);
    assert.equal(wasmApi()!.validate(normalModuleBytes(true)), true);
    assert.equal(wasmApi()!.validate(randomModuleBytes(false)), true);
    assert.equal(wasmApi()!.validate(randomModuleBytes(true)), true);
    assert.equal(one.enabled, true);
    assert.equal(one.threads, 1);
    assert.equal(two.enabled, true);
    assert.equal(two.threads, 2);
  });

  it("every length from 0 to 300 at even and odd starts, float32 and float64", () => {
    for (const ctor of [Float32Array, Float64Array]) {
      for (const start of [0, 1, 2 ** 20 + 2, 2 ** 20 + 3]) {
        for (let n = 0; n <= 300; n++) {
          const expected = fillNormal(new ctor(n), 9, 4, start);
          assertSameBits(one.fillNormal(new ctor(n), 9, 4, start), expected, `${ctor.name} n=${n}`);
        }
      }
    }
  });

  const cases: [string, number, number, number, number][] = [
    // [what, seed, stream, start, length]
    ["seed 0, stream 0", 0, 0, 0, 5000],
    ["the block counter's low word wraps inside a group (block 2^32)", 1, 2, 2 ** 33 - 6, 4000],
    ["the low word wraps between the interleaved groups", 1, 2, 2 ** 33 - 8, 4000],
    ["the low word wraps at block 2^33", 3, 3, 2 ** 34 - 1001, 4000],
    ["every word of seed and stream set", 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 52 + 1, 4000],
    ["the last indices below 2^53", 5, 2 ** 32, 2 ** 53 - 4000, 4000],
    ["several pieces (2^18 samples each), odd start", 77, 1, 12345, 3 * 2 ** 18 + 29],
  ];
  for (const [what, seed, stream, start, n] of cases) {
    it(what, () => {
      for (const ctor of [Float32Array, Float64Array]) {
        const expected = fillNormal(new ctor(n), seed, stream, start);
        assertSameBits(
          one.fillNormal(new ctor(n), seed, stream, start),
          expected,
          `${ctor.name}, one thread`,
        );
        assertSameBits(
          two.fillNormal(new ctor(n), seed, stream, start),
          expected,
          `${ctor.name}, two threads`,
        );
      }
    });
  }

  it("writes into views with an offset in a larger buffer, leaving the rest untouched", () => {
    const backing = new Float32Array(3000).fill(7);
    const view = backing.subarray(101, 2901);
    two.fillNormal(view, 12, 13, 14);
    assertSameBits(view, fillNormal(new Float32Array(2800), 12, 13, 14), "view");
    assert.ok(backing.subarray(0, 101).every((v) => v === 7));
    assert.ok(backing.subarray(2901).every((v) => v === 7));
  });
});

describe("useFastRandom().fillNormalFloat32 equals fillNormalFloat32 bit for bit", () => {
  let one: FastRandom;
  let two: FastRandom;
  before(async () => {
    one = await useFastRandom({ threads: 1 });
    two = await useFastRandom({ threads: 2, grain: 4096 });
  });
  after(async () => {
    await one.close();
    await two.close();
  });

  it("every length from 0 to 300 at starts of each residue mod 4, float32 and float64", () => {
    for (const ctor of [Float32Array, Float64Array]) {
      for (const start of [0, 1, 2, 3, 2 ** 20 + 4, 2 ** 20 + 5, 2 ** 20 + 6, 2 ** 20 + 7]) {
        for (let n = 0; n <= 300; n++) {
          const expected = fillNormalFloat32(new ctor(n), 9, 4, start);
          const actual = one.fillNormalFloat32(new ctor(n), 9, 4, start);
          assertSameBits(actual, expected, `${ctor.name} start=${start} n=${n}`);
        }
      }
    }
  });

  const cases: [string, number, number, number, number][] = [
    // [what, seed, stream, start, length]; block b holds elements 4b … 4b + 3.
    ["seed 0, stream 0", 0, 0, 0, 5000],
    ["the block counter's low word wraps inside a group (block 2^32)", 1, 2, 2 ** 34 - 12, 4000],
    ["the low word wraps between the interleaved groups", 1, 2, 2 ** 34 - 16, 4000],
    ["the low word wraps at block 2^33", 3, 3, 2 ** 35 - 1001, 4000],
    ["every word of seed and stream set", 2 ** 53 - 1, 2 ** 53 - 1, 2 ** 52 + 1, 4000],
    ["the last indices below 2^53", 5, 2 ** 32, 2 ** 53 - 4000, 4000],
    ["several pieces (2^18 samples each), unaligned start", 77, 1, 12347, 3 * 2 ** 18 + 29],
  ];
  for (const [what, seed, stream, start, n] of cases) {
    it(what, () => {
      for (const ctor of [Float32Array, Float64Array]) {
        const expected = fillNormalFloat32(new ctor(n), seed, stream, start);
        const single = one.fillNormalFloat32(new ctor(n), seed, stream, start);
        assertSameBits(single, expected, `${ctor.name}, one thread`);
        const threaded = two.fillNormalFloat32(new ctor(n), seed, stream, start);
        assertSameBits(threaded, expected, `${ctor.name}, two threads`);
      }
    });
  }

  it("writes into views with an offset in a larger buffer, leaving the rest untouched", () => {
    const backing = new Float32Array(3000).fill(7);
    const view = backing.subarray(101, 2901);
    two.fillNormalFloat32(view, 12, 13, 14);
    assertSameBits(view, fillNormalFloat32(new Float32Array(2800), 12, 13, 14), "view");
    assert.ok(backing.subarray(0, 101).every((v) => v === 7));
    assert.ok(backing.subarray(2901).every((v) => v === 7));
  });

  it("names the bad argument and writes nothing", () => {
    const out = new Float32Array(1000).fill(3);
    assert.throws(
      () => one.fillNormalFloat32(out, -1, 0),
      (e) => e instanceof InvalidArgumentError && /fillNormalFloat32/.test(String(e)),
    );
    assert.throws(() => one.fillNormalFloat32(out, 0, 0.5), /stream/);
    assert.throws(() => one.fillNormalFloat32(out, 0, 0, 2 ** 53 - 999), /startIndex/);
    assert.throws(
      () => one.fillNormalFloat32(new Int32Array(4) as unknown as Float32Array, 0, 0),
      /out/,
    );
    assert.ok(out.every((v) => v === 3));
  });
});

describe("useFastRandom: validation and fallbacks", () => {
  it("names the bad argument and writes nothing", async () => {
    const fast = await useFastRandom({ threads: 1 });
    const out = new Float32Array(1000).fill(3);
    assert.throws(
      () => fast.fillNormal(out, -1, 0),
      (e) => e instanceof InvalidArgumentError && /seed/.test(String(e)),
    );
    assert.throws(() => fast.fillNormal(out, 0, 0.5), /stream/);
    assert.throws(() => fast.fillNormal(out, 0, 0, 2 ** 53 - 999), /startIndex/);
    assert.throws(() => fast.fillNormal(new Int32Array(4) as unknown as Float32Array, 0, 0), /out/);
    assert.ok(out.every((v) => v === 3));
    // start + length = 2^53 + 1 rounds to 2^53 in float64; the range check must not be fooled.
    assert.throws(() => fillNormal(new Float64Array(1000), 0, 0, 2 ** 53 - 999), /startIndex/);
    await fast.close();
  });

  it("rejects unknown options and bad thread counts or grains", async () => {
    await assert.rejects(useFastRandom({ threads: 0 }), /threads/);
    await assert.rejects(useFastRandom({ threads: 2.5 }), /threads/);
    await assert.rejects(useFastRandom({ grain: 24 }), /grain/);
    await assert.rejects(useFastRandom({ chunk: 4 } as never), /chunk/);
    await assert.rejects(useFastRandom({ pieceSamples: 512 }), /pieceSamples/);
    await assert.rejects(useFastRandom({ pieceSamples: 1536 }), /pieceSamples.*multiple of 1024/);
  });

  it("with small pieces, fills across many pieces with the same bits", async () => {
    const fast = await useFastRandom({ threads: 1, pieceSamples: 1024 });
    try {
      for (const [length, start] of [
        [1024, 0],
        [5000, 3],
        [8192, 2 ** 40 + 1],
      ]) {
        const what = `length ${length} from ${start}`;
        assertSameBits(
          fast.fillNormal(new Float32Array(length), 4, 9, start),
          fillNormal(new Float32Array(length), 4, 9, start),
          `fillNormal float32, ${what}`,
        );
        assertSameBits(
          fast.fillNormal(new Float64Array(length), 4, 9, start),
          fillNormal(new Float64Array(length), 4, 9, start),
          `fillNormal float64, ${what}`,
        );
        assertSameBits(
          fast.fillNormalFloat32(new Float32Array(length), 4, 9, start),
          fillNormalFloat32(new Float32Array(length), 4, 9, start),
          `fillNormalFloat32, ${what}`,
        );
      }
    } finally {
      await fast.close();
    }
  });

  it("keeps working on one thread after close()", async () => {
    const fast = await useFastRandom({ threads: 2, grain: 1024 });
    await fast.close();
    assert.equal(fast.threads, 1);
    const expected = fillNormal(new Float64Array(10000), 1, 1, 1);
    assertSameBits(fast.fillNormal(new Float64Array(10000), 1, 1, 1), expected, "after close");
    const single = fillNormalFloat32(new Float32Array(10000), 1, 1, 1);
    assertSameBits(fast.fillNormalFloat32(new Float32Array(10000), 1, 1, 1), single, "after close");
  });

  it("without WebAssembly, is disabled and fills with fillNormal", async () => {
    const saved = Object.getOwnPropertyDescriptor(globalThis, "WebAssembly")!;
    Object.defineProperty(globalThis, "WebAssembly", { value: undefined, configurable: true });
    let fast: FastRandom;
    try {
      fast = await useFastRandom();
    } finally {
      Object.defineProperty(globalThis, "WebAssembly", saved);
    }
    assert.equal(fast.enabled, false);
    assert.equal(fast.threads, 1);
    const expected = fillNormal(new Float32Array(5000), 2, 2, 2);
    assertSameBits(fast.fillNormal(new Float32Array(5000), 2, 2, 2), expected, "fallback");
    const single = fillNormalFloat32(new Float32Array(5000), 2, 2, 2);
    assertSameBits(fast.fillNormalFloat32(new Float32Array(5000), 2, 2, 2), single, "fallback");
  });
});
