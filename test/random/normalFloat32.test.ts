// The float32-native Gaussian sequence (src/random/normalFloat32.ts): each value against
// Box–Muller in float64 with the engine's Math.log / cos / sin from the same Philox words and
// 24-bit uniforms; the moments, quantiles, tails and independence of a normal distribution; the
// index contract (a pure function of (seed, stream, index)); and argument checks.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { fillNormal } from "../../src/random/distributions.js";
import { fillNormalFloat32, normalFloat32 } from "../../src/random/normalFloat32.js";
import { fillBits } from "../../src/random/philox.js";

const N = 2 ** 20;
/** Statistical checks allow five standard errors: a false alarm about once in 1.7 million runs. */
const Z = 5;

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

/** Tolerance on an observed frequency of an event with probability p among n draws. */
const frequencyTolerance = (p: number, n = N) => Z * Math.sqrt((p * (1 - p)) / n);

/** Float32 arithmetic tolerance of a sample, in units of its radius (2.9 measured; see golden). */
const TOLERANCE = 4 * 2 ** -24;

describe("normalFloat32: the values", () => {
  it("equal Box–Muller in float64 from the same words, within 4·2^-24 of the radius", () => {
    const start = 2 ** 40 + 8;
    const n = 1 << 16;
    const z = fillNormalFloat32(new Float32Array(n), 5, 3, start);
    // Element i reads words 2i and 2i + 1 of the stream: (x0, x1) or (x2, x3) of block ⌊i/4⌋.
    const words = fillBits(new Uint32Array(n), 5, 3, start);
    let worst = 0;
    for (let pair = 0; pair < n / 2; pair++) {
      const a = words[2 * pair];
      const c = words[2 * pair + 1];
      const u1 = (Math.floor(a / 256) + 1) / 2 ** 24;
      const u2 = Math.floor(c / 256) / 2 ** 24;
      const r = Math.sqrt(-2 * Math.log(u1));
      const even = r * Math.cos(2 * Math.PI * u2);
      const odd = r * Math.sin(2 * Math.PI * u2);
      worst = Math.max(
        worst,
        Math.abs(z[2 * pair] - even) / r,
        Math.abs(z[2 * pair + 1] - odd) / r,
      );
    }
    assert.ok(worst <= TOLERANCE, `worst error ${worst / 2 ** -24}·2^-24 of the radius`);
  });

  it("are float32 values, bounded by the radius of the smallest u1, √(48 ln 2) ≈ 5.768", () => {
    const z = fillNormalFloat32(new Float64Array(1 << 16), 5, 4);
    const bound = Math.sqrt(48 * Math.LN2) * (1 + TOLERANCE);
    for (const v of z) {
      assert.ok(Object.is(Math.fround(v), v), `${v} is not a float32 value`);
      assert.ok(Math.abs(v) <= bound, `${v} beyond ${bound}`);
    }
  });

  it("are a sequence of their own, not the float64 sequence rounded", () => {
    const single = fillNormalFloat32(new Float32Array(64), 1, 1);
    const double = fillNormal(new Float32Array(64), 1, 1);
    assert.ok(fraction(single, (v) => double.includes(v)) < 0.1);
  });
});

describe("normalFloat32: the distribution", () => {
  const z = fillNormalFloat32(new Float32Array(N), 2024, 7);

  it("has mean 0, variance 1, no skew, kurtosis 3", () => {
    let mean = 0;
    for (const v of z) mean += v;
    mean /= N;
    let m2 = 0;
    let m3 = 0;
    let m4 = 0;
    for (const v of z) {
      const d = v - mean;
      m2 += d * d;
      m3 += d * d * d;
      m4 += d * d * d * d;
    }
    const root = Math.sqrt(N);
    // Standard deviations of the sample moments of N(0, 1): 1, √2, √15, √96 over √N.
    assertWithin(mean, 0, Z / root, "mean");
    assertWithin(m2 / N, 1, (Z * Math.SQRT2) / root, "variance");
    assertWithin(m3 / N, 0, (Z * Math.sqrt(15)) / root, "third moment");
    assertWithin(m4 / N, 3, (Z * Math.sqrt(96)) / root, "fourth moment");
  });

  it("puts a tenth of the samples between consecutive deciles of N(0, 1)", () => {
    // Φ⁻¹(k/10), k = 1 … 9.
    const deciles = [
      -1.2815515655446004, -0.8416212335729143, -0.5244005127080407, -0.2533471031357997, 0,
      0.2533471031357997, 0.5244005127080407, 0.8416212335729143, 1.2815515655446004,
    ];
    const counts = new Float64Array(10);
    for (const v of z) {
      let bin = 0;
      while (bin < 9 && v >= deciles[bin]) bin++;
      counts[bin]++;
    }
    for (let b = 0; b < 10; b++) {
      assertWithin(counts[b] / N, 0.1, frequencyTolerance(0.1), `decile bin ${b}`);
    }
  });

  it("has Gaussian tail fractions beyond 1, 2, 3 and 4 standard deviations", () => {
    for (const [k, p] of [
      [1, 0.31731050786291415],
      [2, 0.04550026389635842],
      [3, 0.0026997960632601866],
      [4, 6.334248366623996e-5],
    ]) {
      assertWithin(
        fraction(z, (v) => Math.abs(v) > k),
        p,
        frequencyTolerance(p),
        `P(|z| > ${k})`,
      );
    }
  });

  it("has uncorrelated samples within a block and between neighbouring blocks", () => {
    const blocks = N / 4;
    // Lags between element 4b + first and 4b + first + lag: the same Box–Muller pair, the other
    // pair of the block, the next block.
    for (const [first, lag] of [
      [0, 1],
      [2, 1],
      [0, 2],
      [1, 2],
      [0, 3],
      [0, 4],
      [3, 1],
    ]) {
      let sum = 0;
      let squares = 0;
      for (let b = 0; b + 1 < blocks; b++) {
        const x = z[4 * b + first];
        const y = z[4 * b + first + lag];
        sum += x * y;
        squares += x * x * y * y;
      }
      // For independent standard normals E[xy] = 0 and Var[xy] = 1; compare with the observed
      // second moment too, so heavy dependence cannot hide behind it.
      assertWithin(sum / (blocks - 1), 0, Z / Math.sqrt(blocks - 1), `corr(${first}, +${lag})`);
      assertWithin(
        squares / (blocks - 1),
        1,
        (Z * Math.sqrt(8)) / Math.sqrt(blocks - 1),
        "E[x²y²]",
      );
    }
  });

  it("gives the radius² = z² + z'² of a pair the χ²₂ law: P(r² > t) = e^(−t/2)", () => {
    const pairs = N / 2;
    for (const t of [0.5, 2, 6, 12]) {
      let count = 0;
      for (let p = 0; p < pairs; p++) {
        if (z[2 * p] ** 2 + z[2 * p + 1] ** 2 > t) count++;
      }
      const expected = Math.exp(-t / 2);
      assertWithin(count / pairs, expected, frequencyTolerance(expected, pairs), `P(r² > ${t})`);
    }
  });
});

describe("normalFloat32: the index contract", () => {
  it("is a pure function of (seed, stream, index): scalar, fills at any start, either buffer", () => {
    const whole = fillNormalFloat32(new Float32Array(301), 0, 0);
    for (let i = 0; i < whole.length; i += 7) {
      assert.ok(Object.is(normalFloat32(0, 0, i), whole[i]), `element ${i}`);
    }
    for (const k of [1, 2, 3, 4, 5, 6, 7, 64, 297, 299, 300, 301]) {
      const tail = fillNormalFloat32(new Float32Array(301 - k), 0, 0, k);
      assert.deepEqual(tail, whole.subarray(k), `start ${k}`);
    }
    const widened = fillNormalFloat32(new Float64Array(301), 0, 0);
    assert.deepEqual(Float32Array.from(widened), whole);
    assert.ok(whole.every(Number.isFinite));
  });

  it("differs between seeds and between streams, seed 0 and stream 0 included", () => {
    const base = fillNormalFloat32(new Float32Array(256), 0, 0);
    for (const [seed, stream] of [
      [1, 0],
      [0, 1],
      [2 ** 32, 0],
      [0, 2 ** 32],
    ]) {
      const other = fillNormalFloat32(new Float32Array(256), seed, stream);
      assert.ok(fraction(other, (v) => base.includes(v)) < 0.05, `seed ${seed}, stream ${stream}`);
    }
  });

  it("works at the last indices below 2^53", () => {
    const start = 2 ** 53 - 10;
    const tail = fillNormalFloat32(new Float32Array(10), 9, 9, start);
    for (let i = 0; i < 10; i++) assert.ok(Object.is(normalFloat32(9, 9, start + i), tail[i]));
    assert.ok(tail.every(Number.isFinite));
  });

  it("names the bad argument and writes nothing", () => {
    const out = new Float32Array(1000).fill(3);
    assert.throws(
      () => fillNormalFloat32(out, -1, 0),
      (e) => e instanceof InvalidArgumentError && /seed/.test(String(e)) && /-1/.test(String(e)),
    );
    assert.throws(() => fillNormalFloat32(out, 0, 0.5), /stream/);
    assert.throws(() => fillNormalFloat32(out, 2 ** 53, 0), /seed/);
    // start + length = 2^53 + 1 would round to 2^53 in float64; the check must not be fooled.
    assert.throws(() => fillNormalFloat32(out, 0, 0, 2 ** 53 - 999), /startIndex/);
    assert.throws(() => fillNormalFloat32(out, 0, 0, -4), /startIndex/);
    assert.ok(out.every((v) => v === 3));
    assert.throws(() => normalFloat32(0, 0, -1), /index/);
    assert.throws(() => normalFloat32(0, 0, 2 ** 53), /index/);
    assert.throws(() => normalFloat32(0, NaN, 0), /stream/);
  });
});
