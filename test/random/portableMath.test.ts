import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fillBits } from "../../src/random/philox.js";
import { portableLog, sinCosTwoPi } from "../../src/random/portableMath.js";

const bits = new Float64Array(1);
const halves = new Uint32Array(bits.buffer);
const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The float64 with the given high and low 32-bit halves. */
function fromHalves(high: number, low: number): number {
  halves[littleEndian ? 1 : 0] = high;
  halves[littleEndian ? 0 : 1] = low;
  return bits[0];
}

function relativeError(actual: number, expected: number): number {
  return expected === 0 ? Math.abs(actual) : Math.abs(actual - expected) / Math.abs(expected);
}

describe("portableLog", () => {
  it("agrees with Math.log to 1e-15 relative error over every binade, subnormals included", () => {
    const words = fillBits(new Uint32Array(400000), 11, 0);
    let worst = 0;
    let checked = 0;
    for (let i = 0; i < words.length; i += 2) {
      // Random mantissa, random exponent field below the one of Infinity: all positive finite
      // doubles, subnormals included.
      const x = fromHalves(words[i] % 0x7ff00000, words[i + 1]);
      if (!(x > 0)) continue;
      worst = Math.max(worst, relativeError(portableLog(x), Math.log(x)));
      checked++;
    }
    assert.ok(checked > 150000);
    assert.ok(worst < 1e-15, `worst relative error ${worst}`);
  });

  it("agrees with Math.log to 1e-15 near 1, where the result goes to zero", () => {
    const words = fillBits(new Uint32Array(200000), 12, 0);
    let worst = 0;
    for (let i = 0; i < words.length; i += 2) {
      const offset = (words[i] / 2 ** 32 - 0.5) * 2 ** -(words[i + 1] % 52);
      const x = 1 + offset;
      worst = Math.max(worst, relativeError(portableLog(x), Math.log(x)));
    }
    assert.ok(worst < 1e-15, `worst relative error ${worst}`);
  });

  it("agrees with Math.log on (0, 1], the range the samplers use", () => {
    const words = fillBits(new Uint32Array(200000), 13, 0);
    let worst = 0;
    for (let i = 0; i < words.length; i += 2) {
      const u = ((words[i] >>> 5) * 2 ** 26 + (words[i + 1] >>> 6) + 1) * 2 ** -53;
      worst = Math.max(worst, relativeError(portableLog(u), Math.log(u)));
    }
    assert.ok(worst < 1e-15, `worst relative error ${worst}`);
  });

  it("is exact where the answer is exact, and handles the special values", () => {
    assert.equal(portableLog(1), 0);
    assert.ok(Object.is(portableLog(1), 0));
    for (let k = -1074; k <= 1023; k += 7) {
      // log 2^k = k·ln 2: exact to the rounding of k·ln 2.
      assert.ok(relativeError(portableLog(2 ** k), k * Math.LN2) < 1e-15 || k === 0, `2^${k}`);
    }
    assert.equal(portableLog(0), -Infinity);
    assert.equal(portableLog(-0), -Infinity);
    assert.ok(Number.isNaN(portableLog(-1)));
    assert.ok(Number.isNaN(portableLog(NaN)));
    assert.equal(portableLog(Infinity), Infinity);
    assert.ok(relativeError(portableLog(Number.MIN_VALUE), -744.4400719213812) < 1e-15);
    assert.ok(relativeError(portableLog(Number.MAX_VALUE), 709.782712893384) < 1e-15);
  });

  it("is deterministic: repeated evaluation gives the same bits", () => {
    const words = fillBits(new Uint32Array(2000), 14, 0);
    for (let i = 0; i < words.length; i += 2) {
      const x = fromHalves(words[i] % 0x7ff00000, words[i + 1]);
      assert.ok(Object.is(portableLog(x), portableLog(x)));
    }
  });
});

describe("sinCosTwoPi", () => {
  it("agrees with Math.sin / Math.cos of 2πu to a few ulp", () => {
    const words = fillBits(new Uint32Array(200000), 15, 0);
    const out = { sin: 0, cos: 0 };
    let worstAbsolute = 0;
    for (let i = 0; i < words.length; i += 2) {
      const u = ((words[i] >>> 5) * 2 ** 26 + (words[i + 1] >>> 6)) * 2 ** -53;
      sinCosTwoPi(u, out);
      // The reference rounds 2πu itself (up to 4.4e-16 absolute), hence an absolute bound.
      worstAbsolute = Math.max(
        worstAbsolute,
        Math.abs(out.sin - Math.sin(2 * Math.PI * u)),
        Math.abs(out.cos - Math.cos(2 * Math.PI * u)),
      );
      assert.ok(Math.abs(out.sin * out.sin + out.cos * out.cos - 1) < 5e-16);
    }
    assert.ok(worstAbsolute < 1.5e-15, `worst absolute error ${worstAbsolute}`);
  });

  it("is exact at the quarter turns and odd-symmetric about a half turn", () => {
    const out = { sin: 0, cos: 0 };
    const expected: [number, number, number][] = [
      [0, 0, 1],
      [0.25, 1, 0],
      [0.5, 0, -1],
      [0.75, -1, 0],
      [1, 0, 1],
    ];
    for (const [u, s, c] of expected) {
      sinCosTwoPi(u, out);
      assert.equal(out.sin + 0, s, `sin at ${u}`);
      assert.equal(out.cos + 0, c, `cos at ${u}`);
    }
    sinCosTwoPi(1 / 12, out);
    assert.ok(Math.abs(out.sin - 0.5) < 2e-16);
    assert.ok(Math.abs(out.cos - Math.sqrt(3) / 2) < 2e-16);
    const a = { sin: 0, cos: 0 };
    // Dyadic angles, so that 1 − u is exact.
    for (const u of [1 / 1024, 103 / 1024, 205 / 1024, 307 / 1024, 409 / 1024, 511 / 1024]) {
      sinCosTwoPi(u, out);
      sinCosTwoPi(1 - u, a);
      assert.equal(a.sin, -out.sin);
      assert.equal(a.cos, out.cos);
    }
  });
});
