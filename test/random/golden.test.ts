// The golden vectors (test/fixtures/random-golden.json, written by scripts/random-golden.ts):
// this implementation reproduces them bit for bit, on the JavaScript and the WebAssembly path;
// and they are right, judged without this implementation: Philox words from a BigInt Philox
// written here from the paper's round function, every float from those words by the documented
// formula, Gaussians against Box–Muller evaluated with the engine's Math.log / cos / sin within
// a few ulps (float64 sequence) or a few float32 rounding errors (float32-native sequence). (test/e2e/random.test.ts checks the same file inside headless Chromium.)
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
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
import type { GoldenRecord } from "./golden.js";
import {
  GOLDEN_SLICES,
  doubleFromHex,
  goldenRecord,
  normalFloat32FromWindow,
  normalFromWindow,
  singleFromHex,
  wordHex,
} from "./golden.js";

interface GoldenFile {
  generator: string;
  records: GoldenRecord[];
}

const golden = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/random-golden.json", import.meta.url)), "utf8"),
) as GoldenFile;

const api = {
  fillBits,
  fillNormal,
  fillNormalFloat32,
  fillUniform,
  fillExponential,
  fillRademacher,
};

// --- An independent Philox4x32-10 on BigInt (Salmon et al., SC 2011, Random123 constants). ---
const MASK = 0xffffffffn;
const M = [0xd2511f53n, 0xcd9e8d57n];
const W = [0x9e3779b9n, 0xbb67ae85n];

function philoxBig(counter: bigint[], key: bigint[]): bigint[] {
  let [x0, x1, x2, x3] = counter;
  let [k0, k1] = key;
  for (let round = 0; round < 10; round++) {
    if (round > 0) {
      k0 = (k0 + W[0]) & MASK;
      k1 = (k1 + W[1]) & MASK;
    }
    const p0 = M[0] * x0;
    const p1 = M[1] * x2;
    [x0, x1, x2, x3] = [(p1 >> 32n) ^ x1 ^ k0, p1 & MASK, (p0 >> 32n) ^ x3 ^ k1, p0 & MASK];
  }
  return [x0, x1, x2, x3];
}

/** Block b of stream (seed, stream), by the mapping the fixture's notes state. */
function block(seed: number, stream: number, b: number): number[] {
  const big = (v: number) => [BigInt(v) & MASK, BigInt(v) >> 32n];
  const [b0, b1] = big(b);
  const [s0, s1] = big(stream);
  return philoxBig([b0, b1, s0, s1], big(seed)).map(Number);
}

/** Word w of stream (seed, stream). */
function word(seed: number, stream: number, w: number): number {
  return block(seed, stream, Math.floor(w / 4))[w % 4];
}

// --- Floating-point helpers. ---
const scratch = new DataView(new ArrayBuffer(8));

/** Distance from |x| to the next larger double. */
function ulp(x: number): number {
  const a = Math.abs(x);
  if (a === 0) return Number.MIN_VALUE;
  scratch.setFloat64(0, a);
  scratch.setBigUint64(0, scratch.getBigUint64(0) + 1n);
  return scratch.getFloat64(0) - a;
}

const SPLITTER = 134217729; // 2^27 + 1
/** a·b as an unevaluated sum hi + lo (Dekker's exact product). */
function exactProduct(a: number, b: number): [number, number] {
  const p = a * b;
  const ca = SPLITTER * a;
  const aHigh = ca - (ca - a);
  const aLow = a - aHigh;
  const cb = SPLITTER * b;
  const bHigh = cb - (cb - b);
  const bLow = b - bHigh;
  return [p, aHigh * bHigh - p + aHigh * bLow + aLow * bHigh + aLow * bLow];
}

/** 2π as hi + lo (hi the double nearest 2π). */
const TWO_PI_HIGH = 6.283185307179586;
const TWO_PI_LOW = 2.4492935982947064e-16;

/**
 * Box–Muller in float64 with the engine's functions: r = √(−2 ln u1), (r cos θ, r sin θ), the
 * angle θ = 2πu2 carried to about 106 bits so that its rounding does not swamp the comparison.
 */
function boxMuller(x0: number, x1: number, x2: number, x3: number): [number, number] {
  const u1 = ((x0 >>> 5) * 2 ** 26 + (x1 >>> 6) + 1) / 2 ** 53;
  const u2 = ((x2 >>> 5) * 2 ** 26 + (x3 >>> 6)) / 2 ** 53;
  const r = Math.sqrt(-2 * Math.log(u1));
  const [high, error] = exactProduct(TWO_PI_HIGH, u2);
  const low = error + TWO_PI_LOW * u2;
  const c = Math.cos(high);
  const s = Math.sin(high);
  return [r * (c - s * low), r * (s + c * low)];
}

/** Largest distance allowed between our Gaussian and the reference, in ulps of the reference. */
const NORMAL_ULPS = 8;

/**
 * The float32-native sequence against Box–Muller in float64 with the engine's functions, from
 * the same 24-bit uniforms: [r cos 2πu2, r sin 2πu2, r] for the pair of words (a, c).
 */
function boxMullerFloat32Reference(a: number, c: number): [number, number, number] {
  const u1 = (Math.floor(a / 2 ** 8) + 1) / 2 ** 24;
  const u2 = Math.floor(c / 2 ** 8) / 2 ** 24;
  const r = Math.sqrt(-2 * Math.log(u1));
  return [r * Math.cos(2 * Math.PI * u2), r * Math.sin(2 * Math.PI * u2), r];
}

/**
 * Float32 arithmetic errs by 2^-24 relative per operation; through the log, the series and the
 * final product the sample is within a few of them of r: 4·2^-24·r allowed (2.9 measured over
 * 4M samples).
 */
const FLOAT32_NORMAL_TOLERANCE = 4 * 2 ** -24;

function assertUlps(actual: number, expected: number, ulps: number, what: string): void {
  const distance = Math.abs(actual - expected) / ulp(expected);
  assert.ok(distance <= ulps, `${what}: ${actual} vs ${expected} (${distance} ulps)`);
}

describe("golden vectors: this implementation reproduces the file bit for bit", () => {
  let fast: FastRandom | undefined;
  before(async () => {
    fast = await useFastRandom({ threads: 2 });
  });
  after(async () => {
    await fast?.close();
  });

  it("covers the slices the generator lists (seed 0, stream 0, indices near 2^53)", () => {
    assert.equal(golden.generator, "scripts/random-golden.ts");
    assert.deepEqual(
      golden.records.map(({ seed, stream, start, count }) => ({ seed, stream, start, count })),
      GOLDEN_SLICES,
    );
    assert.ok(golden.records.some((r) => r.seed === 0 && r.stream === 0 && r.start === 0));
    assert.ok(golden.records.some((r) => r.start + r.count === 2 ** 53));
  });

  for (const record of golden.records) {
    const name = `seed ${record.seed}, stream ${record.stream}, elements ${record.start}+${record.count}`;
    it(`JavaScript fills: ${name}`, () => {
      assert.deepEqual(goldenRecord(api, record), record);
    });
    it(`WebAssembly Gaussian fill (two threads): ${name}`, () => {
      assert.ok(fast?.enabled, "WebAssembly SIMD is available in Node.js");
      const { normal64, normal32 } = normalFromWindow(fast.fillNormal.bind(fast), record);
      assert.deepEqual(normal64, record.normal64);
      assert.deepEqual(normal32, record.normal32);
    });
    it(`WebAssembly float32 Gaussian fill (two threads): ${name}`, () => {
      assert.ok(fast?.enabled, "WebAssembly SIMD is available in Node.js");
      const fill = fast.fillNormalFloat32.bind(fast);
      assert.deepEqual(normalFloat32FromWindow(fill, record), record.normalFloat32);
    });
  }
});

describe("golden vectors: the values follow from the Philox words by the documented formulas", () => {
  for (const r of golden.records) {
    const name = `seed ${r.seed}, stream ${r.stream}, elements ${r.start}+${r.count}`;
    it(name, () => {
      const { seed, stream, start, count } = r;
      for (let k = 0; k < count; k++) {
        const i = start + k;
        assert.equal(r.bits[k], wordHex(word(seed, stream, i)), `word ${i}`);

        // Words 2i and 2i + 1: the first or second pair of block ⌊i/2⌋ (2i + 1 may pass 2^53).
        const pair = block(seed, stream, Math.floor(i / 2)).slice(2 * (i % 2));
        const [a, b] = pair;
        assert.equal(doubleFromHex(r.uniform64[k]), ((a >>> 5) * 2 ** 26 + (b >>> 6)) / 2 ** 53);
        assert.equal(singleFromHex(r.uniform32[k]), Math.floor(a / 2 ** 8) / 2 ** 24);
        const u = ((a >>> 5) * 2 ** 26 + (b >>> 6) + 1) / 2 ** 53;
        assertUlps(doubleFromHex(r.exponential64[k]), -Math.log(u), 2, `exponential ${i}`);

        const [x0, x1, x2, x3] = block(seed, stream, Math.floor(i / 2));
        const [even, odd] = boxMuller(x0, x1, x2, x3);
        const z = doubleFromHex(r.normal64[k]);
        assertUlps(z, i % 2 === 0 ? even : odd, NORMAL_ULPS, `normal ${i}`);
        assert.equal(singleFromHex(r.normal32[k]), Math.fround(z), `float32 normal ${i}`);

        const quad = block(seed, stream, Math.floor(i / 4));
        const p = 2 * (Math.floor(i / 2) % 2);
        const [cos, sin, radius] = boxMullerFloat32Reference(quad[p], quad[p + 1]);
        const single = singleFromHex(r.normalFloat32[k]);
        const expected = i % 2 === 0 ? cos : sin;
        assert.ok(
          Math.abs(single - expected) <= FLOAT32_NORMAL_TOLERANCE * radius,
          `normalFloat32 ${i}: ${single} vs ${expected} (radius ${radius})`,
        );

        const bit = (word(seed, stream, Math.floor(i / 32)) >>> (i % 32)) & 1;
        assert.equal(r.rademacher[k], bit ? "-" : "+", `rademacher ${i}`);
      }
    });
  }

  it("the Gaussians of 20000 further samples are within a few ulps of the reference too", () => {
    const n = 20000;
    const z = fillNormal(new Float64Array(n), 77, 5, 2 ** 40);
    for (let j = 0; j < n / 2; j++) {
      const [x0, x1, x2, x3] = block(77, 5, 2 ** 39 + j);
      const [even, odd] = boxMuller(x0, x1, x2, x3);
      assertUlps(z[2 * j], even, NORMAL_ULPS, `element ${2 * j}`);
      assertUlps(z[2 * j + 1], odd, NORMAL_ULPS, `element ${2 * j + 1}`);
    }
  });
});
