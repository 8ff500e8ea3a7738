import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  exponential,
  fillExponential,
  fillNormal,
  fillRademacher,
  fillUniform,
  float32FromWord,
  float32OpenFromWord,
  float64FromWords,
  float64OpenClosedFromWords,
  float64OpenFromWords,
  normal,
  rademacher,
  uniform,
} from "../../src/random/distributions.js";
import { fillBits } from "../../src/random/philox.js";
import { InvalidArgumentError } from "../../src/errors.js";

const N = 1_000_000;
/** Statistical checks allow five standard errors: a false alarm about once in 1.7 million runs. */
const Z = 5;

function moments(x: ArrayLike<number>): { mean: number; variance: number; m3: number; m4: number } {
  let mean = 0;
  for (let i = 0; i < x.length; i++) mean += x[i];
  mean /= x.length;
  let m2 = 0;
  let m3 = 0;
  let m4 = 0;
  for (let i = 0; i < x.length; i++) {
    const d = x[i] - mean;
    const d2 = d * d;
    m2 += d2;
    m3 += d2 * d;
    m4 += d2 * d2;
  }
  return { mean, variance: m2 / x.length, m3: m3 / x.length, m4: m4 / x.length };
}

function assertWithin(actual: number, expected: number, tolerance: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tolerance,
    `${what}: ${actual}, expected ${expected} ± ${tolerance}`,
  );
}

function fraction(x: ArrayLike<number>, keep: (v: number) => boolean): number {
  let count = 0;
  for (let i = 0; i < x.length; i++) if (keep(x[i])) count++;
  return count / x.length;
}

/** Tolerance on an observed frequency of an event with probability p. */
const frequencyTolerance = (p: number) => Z * Math.sqrt((p * (1 - p)) / N);

describe("uniform", () => {
  const u = fillUniform(new Float64Array(N), 2024, 1);

  it("lies in [0, 1) with mean 1/2 and variance 1/12", () => {
    let min = Infinity;
    let max = -Infinity;
    for (const v of u) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.ok(min >= 0 && max < 1);
    const m = moments(u);
    // sd(U) = 0.2887; sd((U − 1/2)²) = √(1/80 − 1/144) = 0.0745.
    assertWithin(m.mean, 0.5, (Z * 0.2887) / Math.sqrt(N), "mean");
    assertWithin(m.variance, 1 / 12, (Z * 0.0745) / Math.sqrt(N), "variance");
  });

  it("fills 100 equal bins evenly", () => {
    const counts = new Float64Array(100);
    for (const v of u) counts[Math.floor(v * 100)]++;
    const tolerance = frequencyTolerance(0.01) * N;
    for (let b = 0; b < 100; b++) assertWithin(counts[b], N / 100, tolerance, `bin ${b}`);
  });

  it("element i is built from words 2i and 2i+1 of the stream", () => {
    const words = fillBits(new Uint32Array(200), 2024, 1);
    for (let i = 0; i < 100; i++) {
      const expected = ((words[2 * i] >>> 5) * 2 ** 26 + (words[2 * i + 1] >>> 6)) / 2 ** 53;
      assert.equal(u[i], expected, `element ${i}`);
      assert.equal(uniform(2024, 1, i), expected);
    }
  });

  it("float32 fills keep the top 24 bits of the float64 value (never round up to 1)", () => {
    const single = fillUniform(new Float32Array(1000), 2024, 1);
    for (let i = 0; i < 1000; i++) {
      assert.equal(single[i], Math.floor(u[i] * 2 ** 24) / 2 ** 24);
      assert.ok(single[i] < 1);
    }
  });
});

describe("bit-to-float conversions", () => {
  it("cover the intervals they promise, endpoints included or excluded as documented", () => {
    const max = 0xffffffff;
    assert.equal(float64FromWords(0, 0), 0);
    assert.equal(float64FromWords(max, max), 1 - 2 ** -53);
    assert.equal(float64OpenClosedFromWords(0, 0), 2 ** -53);
    assert.equal(float64OpenClosedFromWords(max, max), 1);
    assert.equal(float64OpenFromWords(0, 0), 2 ** -53);
    assert.equal(float64OpenFromWords(max, max), 1 - 2 ** -53);
    assert.equal(float32FromWord(0), 0);
    assert.equal(float32FromWord(max), 1 - 2 ** -24);
    assert.equal(Math.fround(float32FromWord(max)), 1 - 2 ** -24);
    assert.equal(float32OpenFromWord(0), 2 ** -24);
    assert.equal(float32OpenFromWord(max), 1 - 2 ** -24);
    assert.equal(Math.fround(float32OpenFromWord(max)), 1 - 2 ** -24);
  });
});

describe("normal", () => {
  const z = fillNormal(new Float64Array(N), 7, 0);

  it("has mean 0, variance 1, no skew, kurtosis 3", () => {
    const m = moments(z);
    const root = Math.sqrt(N);
    assertWithin(m.mean, 0, Z / root, "mean");
    assertWithin(m.variance, 1, (Z * Math.SQRT2) / root, "variance");
    assertWithin(m.m3, 0, (Z * Math.sqrt(15)) / root, "third moment");
    assertWithin(m.m4, 3, (Z * Math.sqrt(96)) / root, "fourth moment");
  });

  it("has Gaussian tail fractions beyond 1, 2 and 3 standard deviations", () => {
    for (const [k, p] of [
      [1, 0.31731050786291415],
      [2, 0.04550026389635842],
      [3, 0.0026997960632601866],
    ]) {
      assertWithin(
        fraction(z, (v) => Math.abs(v) > k),
        p,
        frequencyTolerance(p),
        `P(|z| > ${k})`,
      );
    }
    assertWithin(
      fraction(z, (v) => v > 0),
      0.5,
      frequencyTolerance(0.5),
      "P(z > 0)",
    );
  });

  it("equals Box–Muller computed with Math.log / Math.cos / Math.sin from the same words", () => {
    const words = fillBits(new Uint32Array(4000), 7, 0);
    for (let j = 0; j < 1000; j++) {
      const [a, b, c, d] = words.subarray(4 * j, 4 * j + 4);
      const u1 = ((a >>> 5) * 2 ** 26 + (b >>> 6) + 1) / 2 ** 53;
      const u2 = ((c >>> 5) * 2 ** 26 + (d >>> 6)) / 2 ** 53;
      const r = Math.sqrt(-2 * Math.log(u1));
      const even = r * Math.cos(2 * Math.PI * u2);
      const odd = r * Math.sin(2 * Math.PI * u2);
      assert.ok(Math.abs(z[2 * j] - even) <= 1e-14 * Math.max(1, r), `element ${2 * j}`);
      assert.ok(Math.abs(z[2 * j + 1] - odd) <= 1e-14 * Math.max(1, r), `element ${2 * j + 1}`);
    }
  });

  it("float32 fills are the float64 values rounded to float32", () => {
    const single = fillNormal(new Float32Array(1001), 7, 0);
    for (let i = 0; i < single.length; i++) assert.equal(single[i], Math.fround(z[i]));
  });
});

describe("exponential", () => {
  const e = fillExponential(new Float64Array(N), 99, 4);

  it("is non-negative with mean 1, variance 1 and tail e^-3 beyond 3", () => {
    let min = Infinity;
    for (const v of e) min = Math.min(min, v);
    assert.ok(min >= 0);
    const m = moments(e);
    const root = Math.sqrt(N);
    // sd(X) = 1; sd((X − 1)²) = √(E(X − 1)⁴ − 1) = √8.
    assertWithin(m.mean, 1, Z / root, "mean");
    assertWithin(m.variance, 1, (Z * Math.sqrt(8)) / root, "variance");
    const p = Math.exp(-3);
    assertWithin(
      fraction(e, (v) => v > 3),
      p,
      frequencyTolerance(p),
      "P(X > 3)",
    );
  });

  it("equals −Math.log(u) with u in (0, 1] from words 2i and 2i+1", () => {
    const words = fillBits(new Uint32Array(2000), 99, 4);
    for (let i = 0; i < 1000; i++) {
      const u = ((words[2 * i] >>> 5) * 2 ** 26 + (words[2 * i + 1] >>> 6) + 1) / 2 ** 53;
      const expected = -Math.log(u);
      assert.ok(Math.abs(e[i] - expected) <= 1e-15 * expected + 1e-300, `element ${i}`);
    }
  });
});

describe("rademacher", () => {
  const s = fillRademacher(new Float64Array(N), 5, 2);

  it("takes only the values ±1, both present, with mean 0", () => {
    let plus = 0;
    let minus = 0;
    for (const v of s) {
      if (v === 1) plus++;
      else if (v === -1) minus++;
      else assert.fail(`value ${v}`);
    }
    assert.ok(plus > 0 && minus > 0);
    assertWithin((plus - minus) / N, 0, Z / Math.sqrt(N), "mean");
  });

  it("element i is bit i mod 32 of word ⌊i/32⌋ (set bit → −1)", () => {
    const words = fillBits(new Uint32Array(64), 5, 2);
    for (let i = 0; i < 2048; i++) {
      const bit = (words[Math.floor(i / 32)] >>> (i % 32)) & 1;
      assert.equal(s[i], bit ? -1 : 1, `element ${i}`);
      assert.equal(rademacher(5, 2, i), s[i]);
    }
  });

  it("fills integer buffers too", () => {
    const ints = fillRademacher(new Int8Array(300), 5, 2);
    for (let i = 0; i < ints.length; i++) assert.equal(ints[i], s[i]);
  });
});

describe("determinism and the index contract", () => {
  const fills = [
    ["uniform", fillUniform, uniform],
    ["normal", fillNormal, normal],
    ["exponential", fillExponential, exponential],
  ] as const;

  for (const [name, fill, scalar] of fills) {
    it(`${name}: same (seed, stream, index) gives the same bits; other streams and seeds differ`, () => {
      const a = fill(new Float64Array(257), 31, 8);
      const again = fill(new Float64Array(257), 31, 8);
      for (let i = 0; i < a.length; i++) assert.ok(Object.is(a[i], again[i]));
      const otherStream = fill(new Float64Array(257), 31, 9);
      const otherSeed = fill(new Float64Array(257), 32, 8);
      assert.ok(
        fraction(
          otherStream.map((v, i) => (v === a[i] ? 1 : 0)),
          (v) => v === 1,
        ) < 0.01,
      );
      assert.ok(
        fraction(
          otherSeed.map((v, i) => (v === a[i] ? 1 : 0)),
          (v) => v === 1,
        ) < 0.01,
      );
      for (let i = 0; i < a.length; i += 17) assert.ok(Object.is(scalar(31, 8, i), a[i]));
    });

    it(`${name}: a fill starting at k equals the tail of a fill from 0 (odd and even k)`, () => {
      for (const ctor of [Float64Array, Float32Array]) {
        const whole = fill(new ctor(301), 3, 1);
        for (const k of [1, 2, 3, 7, 64, 299]) {
          const tail = fill(new ctor(301 - k), 3, 1, k);
          assert.deepEqual(tail, whole.subarray(k), `${ctor.name} k=${k}`);
        }
      }
    });
  }

  it("rademacher: a fill starting at k equals the tail of a fill from 0", () => {
    const whole = fillRademacher(new Float32Array(600), 3, 1);
    for (const k of [1, 31, 32, 33, 127, 128, 129, 500]) {
      assert.deepEqual(fillRademacher(new Float32Array(600 - k), 3, 1, k), whole.subarray(k));
    }
  });

  it("works at indices near 2^53", () => {
    const start = 2 ** 53 - 10;
    const tail = fillNormal(new Float64Array(10), 1, 1, start);
    for (let i = 0; i < 10; i++) assert.ok(Object.is(normal(1, 1, start + i), tail[i]));
    assert.ok(tail.every(Number.isFinite));
  });

  it("names the bad argument", () => {
    assert.throws(() => fillNormal(new Float64Array(3), -1, 0), InvalidArgumentError);
    assert.throws(() => uniform(0, 0, -1), /index/);
    assert.throws(() => fillUniform(new Float64Array(3), 0, 0.5), /stream/);
    assert.throws(() => fillExponential(new Float64Array(3), 0, 0, 2 ** 53 - 1), /startIndex/);
  });
});
