import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FloatArray } from "../../src/params/layout.js";
import { fillNormal, normal } from "../../src/random/index.js";
import {
  PerturbedView,
  evaluateInPlace,
  evaluateView,
  evaluateVirtual,
  repeatInPlaceWrites,
} from "../../src/zo/perturb.js";
import { assertSameBits } from "../helpers/assertions.js";

const U32 = 2 ** -24;

/** z and θ ± c·z written out element by element from the Philox normal sequence. */
function plainZ(d: number, seed: number, stream: number, single: boolean): number[] {
  return Array.from({ length: d }, (_, i) => {
    const z = normal(seed, stream, i);
    return single ? Math.fround(z) : z;
  });
}

function plainShift(theta: ArrayLike<number>, z: number[], c: number, single: boolean): number[] {
  return Array.from(z, (zi, i) => {
    const v = theta[i] + c * zi;
    return single ? Math.fround(v) : v;
  });
}

function gaussianParams(d: number, single: boolean, seed = 5): FloatArray {
  return fillNormal(single ? new Float32Array(d) : new Float64Array(d), seed, 0);
}

describe("zo perturbation: virtual path", () => {
  for (const single of [true, false]) {
    const type = single ? "float32" : "float64";
    it(`evaluates f at fl(θ ± εz) and leaves θ bit-identical (${type})`, async () => {
      const d = 10001;
      const theta = gaussianParams(d, single);
      const before = theta.slice();
      const point = single ? new Float32Array(d) : new Float64Array(d);
      const seen: number[][] = [];
      const f = (p: FloatArray) => {
        seen.push(Array.from(p));
        return p[0];
      };
      const dir = { seed: 9, stream: 3 };
      const values = await evaluateVirtual(f, theta, point, dir, 1e-3, "twoPoint");
      const z = plainZ(d, 9, 3, single);
      assert.deepEqual(seen[0], plainShift(before, z, 1e-3, single));
      assert.deepEqual(seen[1], plainShift(before, z, -1e-3, single));
      assert.equal(values.plus, seen[0][0]);
      assert.equal(values.minus, seen[1][0]);
      assertSameBits(theta, before, "θ after the virtual evaluation");
    });
  }

  it("leaves θ bit-identical when the objective throws", async () => {
    const theta = gaussianParams(300, true);
    const before = theta.slice();
    const boom = () => {
      throw new Error("model failed");
    };
    await assert.rejects(
      evaluateVirtual(boom, theta, new Float32Array(300), { seed: 1, stream: 0 }, 0.1, "twoPoint"),
      /model failed/,
    );
    assertSameBits(theta, before, "θ");
  });

  it("a view reads the same perturbed values in any slices, without a parameter-sized buffer", async () => {
    const d = 20000;
    const theta = gaussianParams(d, true);
    const dir = { seed: 2, stream: 77 };
    const expected = plainShift(theta, plainZ(d, 2, 77, true), -0.01, true);
    const view = new PerturbedView(theta, dir, -0.01);
    const part = new Float32Array(4099);
    for (const start of [0, 1, 8191, 15901]) {
      view.read(part, start);
      assert.deepEqual(
        Array.from(part),
        expected.slice(start, start + part.length),
        `slice at ${start}`,
      );
    }
    assert.throws(() => view.read(part, d - 10), /start/);
    const before = theta.slice();
    const sumOfView = async (v: PerturbedView) => {
      const chunk = new Float32Array(1000);
      let sum = 0;
      for (let s = 0; s < v.length; s += chunk.length) {
        for (const x of v.read(chunk.subarray(0, Math.min(chunk.length, v.length - s)), s))
          sum += x;
      }
      return sum;
    };
    const values = await evaluateView({ valueOfView: sumOfView }, theta, dir, 0.01, "twoPoint");
    const plus = plainShift(theta, plainZ(d, 2, 77, true), 0.01, true);
    let sumPlus = 0;
    for (let k = 0; k < d; k += 1000)
      for (let i = k; i < Math.min(k + 1000, d); i++) sumPlus += plus[i];
    assert.equal(values.plus, sumPlus);
    assertSameBits(theta, before, "θ");
  });
});

describe("zo perturbation: in place (MeZO)", () => {
  it("writes θ + εz, then θ1 − 2εz, then restores, each write rounded once", async () => {
    const d = 5000;
    const theta = gaussianParams(d, true) as Float32Array;
    const original = Array.from(theta);
    const z = plainZ(d, 4, 12, true);
    const seen: number[][] = [];
    const values = await evaluateInPlace(
      (p) => {
        seen.push(Array.from(p));
        return seen.length;
      },
      theta,
      { seed: 4, stream: 12 },
      1e-3,
      "twoPoint",
    );
    const theta1 = plainShift(original, z, 1e-3, true);
    const theta2 = plainShift(theta1, z, -2e-3, true);
    const theta3 = plainShift(theta2, z, 1e-3, true);
    assert.deepEqual(seen, [theta1, theta2]);
    assert.deepEqual(values, { plus: 1, minus: 2 });
    assert.deepEqual(Array.from(theta), theta3);
  });

  it("restore drift stays within the documented bound and has the documented size", async () => {
    const d = 100000;
    const eps = 1e-3;
    const theta = gaussianParams(d, true, 8) as Float32Array;
    const original = theta.slice();
    const z = fillNormal(new Float32Array(d), 1, 0);
    await evaluateInPlace(() => 0, theta, { seed: 1, stream: 0 }, eps, "twoPoint");
    let changed = 0;
    for (let i = 0; i < d; i++) {
      const t1 = Math.fround(original[i] + eps * z[i]);
      const t2 = Math.fround(t1 - 2 * eps * z[i]);
      const bound = U32 * (Math.abs(t1) + Math.abs(t2) + Math.abs(theta[i])) * (1 + 2 ** -28);
      const drift = Math.abs(theta[i] - original[i]);
      if (drift > bound) assert.fail(`element ${i}: drift ${drift} above ${bound}`);
      if (drift !== 0) changed++;
    }
    // "about half of the elements changed"
    assert.ok(changed / d > 0.4 && changed / d < 0.6, `changed fraction ${changed / d}`);

    // one-point bound
    const one = gaussianParams(d, true, 8) as Float32Array;
    await evaluateInPlace(() => 0, one, { seed: 1, stream: 0 }, eps, "onePoint");
    for (let i = 0; i < d; i++) {
      const t1 = Math.fround(original[i] + eps * z[i]);
      const bound = U32 * (Math.abs(t1) + Math.abs(one[i])) * (1 + 2 ** -28);
      if (Math.abs(one[i] - original[i]) > bound) assert.fail(`one-point element ${i}`);
    }
  });

  it("drift accumulates like a random walk: RMS 6.2e-7 after 100 float32 perturb/restores", async () => {
    const d = 20000;
    const theta = gaussianParams(d, true, 8) as Float32Array;
    const original = theta.slice();
    for (let s = 0; s < 100; s++)
      await evaluateInPlace(() => 0, theta, { seed: 1, stream: s }, 1e-3, "twoPoint");
    let sq = 0;
    for (let i = 0; i < d; i++) sq += (theta[i] - original[i]) ** 2;
    const rms = Math.sqrt(sq / d);
    assert.ok(rms > 5e-7 && rms < 7.5e-7, `RMS drift ${rms}`);
  });

  it("repeatInPlaceWrites reproduces the writes bit for bit", async () => {
    for (const estimator of ["twoPoint", "onePoint"] as const) {
      const live = gaussianParams(3000, true);
      const replayed = live.slice();
      await evaluateInPlace(() => 1, live, { seed: 6, stream: 1 }, 0.05, estimator);
      repeatInPlaceWrites(replayed, { seed: 6, stream: 1 }, 0.05, estimator);
      assertSameBits(replayed, live, estimator);
    }
  });

  it("restores θ (up to the drift) when the objective throws at either point", async () => {
    const d = 1000;
    const z = plainZ(d, 3, 3, true);
    for (const failAt of [1, 2]) {
      const theta = gaussianParams(d, true);
      const original = Array.from(theta);
      let calls = 0;
      const f = () => {
        calls++;
        if (calls === failAt) throw new Error(`fail ${failAt}`);
        return 0;
      };
      await assert.rejects(
        evaluateInPlace(f, theta, { seed: 3, stream: 3 }, 0.1, "twoPoint"),
        /fail/,
      );
      const t1 = plainShift(original, z, 0.1, true);
      const expected =
        failAt === 1
          ? plainShift(t1, z, -0.1, true)
          : plainShift(plainShift(t1, z, -0.2, true), z, 0.1, true);
      assert.deepEqual(Array.from(theta), expected, `failure at evaluation ${failAt}`);
    }
  });
});
