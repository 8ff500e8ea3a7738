// The float32 logarithm, sine and cosine against the engine's float64 Math.log / sin / cos, in
// float32 ulps: the accuracy portableMathFloat32.ts states, over every binade and on the grids
// the Gaussian draw uses; exact values where the answer is exact; special values.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fillBits } from "../../src/random/philox.js";
import { portableLogFloat32, sinCosTwoPiFloat32 } from "../../src/random/portableMathFloat32.js";

const view = new DataView(new ArrayBuffer(4));

/** The float32 with the given bit pattern. */
function fromBits(bits: number): number {
  view.setUint32(0, bits);
  return view.getFloat32(0);
}

/** The gap above |x| rounded to float32: one float32 ulp at x. */
function ulp32(x: number): number {
  view.setFloat32(0, Math.abs(x));
  const below = view.getFloat32(0);
  view.setUint32(0, view.getUint32(0) + 1);
  return view.getFloat32(0) - below;
}

/** |actual − expected| in float32 ulps of `expected`. */
function ulps(actual: number, expected: number): number {
  return Math.abs(actual - expected) / ulp32(expected);
}

const isFloat32 = (x: number) => Object.is(Math.fround(x), x);

describe("portableLogFloat32", () => {
  it("is within 1 float32 ulp of Math.log for random float32 values of every binade, subnormals included", () => {
    const words = fillBits(new Uint32Array(200000), 21, 0);
    let worst = 0;
    let checked = 0;
    for (const word of words) {
      // Positive finite float32 bit patterns: exponent field below 255.
      const x = fromBits(word % 0x7f800000);
      if (!(x > 0) || x === 1) continue;
      const y = portableLogFloat32(x);
      assert.ok(isFloat32(y), `log ${x} = ${y} is not a float32 value`);
      worst = Math.max(worst, ulps(y, Math.log(x)));
      checked++;
    }
    assert.ok(checked > 190000);
    assert.ok(worst <= 1, `worst error ${worst} ulps`);
  });

  it("is within 1 ulp on the grid j·2^-24 of (0, 1] that the Gaussian draw takes logs of", () => {
    let worst = 0;
    for (let j = 1; j < 2 ** 24; j += 37) {
      const u = j * 2 ** -24;
      worst = Math.max(worst, ulps(portableLogFloat32(u), Math.log(u)));
    }
    // The largest values below 1, where log u ≈ u − 1 is small: relative accuracy kept.
    for (let j = 2 ** 24 - 4000; j < 2 ** 24; j++) {
      const u = j * 2 ** -24;
      worst = Math.max(worst, ulps(portableLogFloat32(u), Math.log(u)));
    }
    assert.ok(worst <= 1, `worst error ${worst} ulps`);
  });

  it("is exact where the answer is exact, and handles the special values", () => {
    assert.ok(Object.is(portableLogFloat32(1), 0));
    for (let k = -149; k <= 127; k++) {
      // log 2^k = k·ln 2 to within the float32 rounding of the result.
      const y = portableLogFloat32(2 ** k);
      if (k === 0) assert.ok(Object.is(y, 0));
      else assert.ok(ulps(y, k * Math.LN2) <= 1, `2^${k}: ${y}`);
    }
    assert.equal(portableLogFloat32(0), -Infinity);
    assert.equal(portableLogFloat32(-0), -Infinity);
    assert.ok(Number.isNaN(portableLogFloat32(-1)));
    assert.ok(Number.isNaN(portableLogFloat32(NaN)));
    assert.equal(portableLogFloat32(Infinity), Infinity);
    // Arguments are rounded to float32 first: 1e-46 is below half the smallest subnormal.
    assert.equal(portableLogFloat32(1e-46), -Infinity);
    assert.equal(portableLogFloat32(1 + 2 ** -30), 0);
  });
});

describe("sinCosTwoPiFloat32", () => {
  /** Worst errors of the pair over `angles`: in float32 ulps (away from zeros) and absolute. */
  function errors(angles: Iterable<number>): { ulps: number; absolute: number } {
    const out = { sin: 0, cos: 0 };
    let worstUlps = 0;
    let worstAbsolute = 0;
    for (const u of angles) {
      sinCosTwoPiFloat32(u, out);
      assert.ok(isFloat32(out.sin) && isFloat32(out.cos), `u = ${u}`);
      for (const [actual, expected] of [
        [out.sin, Math.sin(2 * Math.PI * u)],
        [out.cos, Math.cos(2 * Math.PI * u)],
      ]) {
        const distance = Math.abs(actual - expected);
        worstAbsolute = Math.max(worstAbsolute, distance);
        // Near a zero of sin or cos the float64 reference's own rounding of 2πu (≤ 4.4e-16)
        // is not small beside a float32 ulp of the tiny result; relative checks stop at 2^-20.
        if (Math.abs(expected) >= 2 ** -20) worstUlps = Math.max(worstUlps, ulps(actual, expected));
      }
    }
    return { ulps: worstUlps, absolute: worstAbsolute };
  }

  it("is within 2 float32 ulps and 1.5·2^-24 of Math.sin / Math.cos on the grid j·2^-24", () => {
    function* grid() {
      for (let j = 0; j < 2 ** 24; j += 29) yield j * 2 ** -24;
      // Around every eighth of a turn, where the reduced angle is largest (π/4).
      for (let k = 0; k <= 8; k++) {
        for (let d = -2000; d <= 2000; d++) {
          const j = k * 2 ** 21 + d;
          if (j >= 0 && j < 2 ** 24) yield j * 2 ** -24;
        }
      }
    }
    const { ulps: worst, absolute } = errors(grid());
    assert.ok(worst <= 2, `worst error ${worst} ulps`);
    assert.ok(absolute <= 1.5 * 2 ** -24, `worst absolute error ${absolute / 2 ** -24}·2^-24`);
  });

  it("keeps its accuracy for random float32 angles of every size in [0, 1]", () => {
    const words = fillBits(new Uint32Array(100000), 22, 0);
    // Float32 bit patterns up to 1.0 (0x3f800000): tiny angles and subnormals included.
    const angles = Array.from(words, (w) => fromBits(w % 0x3f800001));
    const { ulps: worst, absolute } = errors(angles);
    assert.ok(worst <= 2, `worst error ${worst} ulps`);
    assert.ok(absolute <= 1.5 * 2 ** -24, `worst absolute error ${absolute / 2 ** -24}·2^-24`);
  });

  it("is exact at the quarter turns, with sin² + cos² = 1 to float32 accuracy", () => {
    const out = { sin: 0, cos: 0 };
    const expected: [number, number, number][] = [
      [0, 0, 1],
      [0.25, 1, 0],
      [0.5, 0, -1],
      [0.75, -1, 0],
      [1, 0, 1],
    ];
    for (const [u, s, c] of expected) {
      sinCosTwoPiFloat32(u, out);
      assert.equal(out.sin + 0, s, `sin at ${u}`);
      assert.equal(out.cos + 0, c, `cos at ${u}`);
    }
    const words = fillBits(new Uint32Array(20000), 23, 0);
    for (const w of words) {
      sinCosTwoPiFloat32((w >>> 8) * 2 ** -24, out);
      const norm = out.sin * out.sin + out.cos * out.cos;
      assert.ok(Math.abs(norm - 1) <= 4 * 2 ** -24, `sin² + cos² = ${norm}`);
    }
  });

  it("is odd-symmetric about a half turn, quadrant by quadrant", () => {
    const out = { sin: 0, cos: 0 };
    const mirrored = { sin: 0, cos: 0 };
    for (let j = 1; j < 2 ** 23; j += 4099) {
      // u and 1 − u are both exact on the 2^-24 grid; their reduced angles are negatives.
      const u = j * 2 ** -24;
      sinCosTwoPiFloat32(u, out);
      sinCosTwoPiFloat32(1 - u, mirrored);
      assert.equal(mirrored.sin, -out.sin, `sin at ${u}`);
      assert.equal(mirrored.cos, out.cos, `cos at ${u}`);
    }
  });
});
