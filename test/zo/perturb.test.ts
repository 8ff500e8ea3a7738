import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { FloatArray } from "../../src/params/layout.js";
import { fillNormal, normal } from "../../src/random/index.js";
import { directionChunkLength } from "../../src/zo/apply.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import {
  PerturbedView,
  evaluateInPlace,
  evaluateView,
  evaluateVirtual,
  repeatInPlaceWrites,
} from "../../src/zo/perturb.js";
import type { Perturbation } from "../../src/zo/record.js";
import { zoSgd } from "../../src/zo/zoSgd.js";
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

/** One float buffer allocated while {@link floatAllocations} watched. */
interface Allocation {
  type: "Float32Array" | "Float64Array";
  bytes: number;
}

/**
 * The Float32Array and Float64Array buffers `run` allocates: the global constructors are
 * swapped for proxies that note every construction that makes a new buffer (views over an
 * existing ArrayBuffer, and the views `subarray` makes, allocate nothing and are not noted).
 */
async function floatAllocations(run: () => Promise<unknown>): Promise<Allocation[]> {
  const seen: Allocation[] = [];
  const global = globalThis as unknown as Record<Allocation["type"], unknown>;
  const originals = { Float32Array, Float64Array };
  for (const type of ["Float32Array", "Float64Array"] as const) {
    const original = originals[type];
    const proxy: unknown = new Proxy(original, {
      construct(target, args: unknown[], newTarget) {
        const made = Reflect.construct(target, args, newTarget === proxy ? target : newTarget) as
          Float32Array | Float64Array;
        const view = args[0] instanceof ArrayBuffer || args[0] instanceof SharedArrayBuffer;
        if (!view) seen.push({ type, bytes: made.byteLength });
        return made;
      },
    });
    global[type] = proxy;
  }
  try {
    await run();
  } finally {
    global.Float32Array = originals.Float32Array;
    global.Float64Array = originals.Float64Array;
  }
  return seen;
}

describe("zo perturbation: working memory of a step", () => {
  // f = ½‖θ‖², computed without allocating anything.
  const halfSquare = (p: FloatArray) => {
    let sum = 0;
    for (let i = 0; i < p.length; i++) sum += p[i] * p[i];
    return sum / 2;
  };
  const step = (params: FloatArray, perturbation: Perturbation, directions = 1) =>
    new ZoOptimizer(
      params,
      zoSgd({ learningRate: 1e-3, epsilon: 1e-3, perturbation, seed: 1, directions }),
    );
  /** Bytes of the scalars a step keeps per direction (a few float64 each), well below a chunk. */
  const SMALL = 64;

  for (const single of [true, false]) {
    const type = single ? "float32" : "float64";
    const width = single ? 4 : 8;
    it(`in place: one chunk of at most 5% of the parameters, nothing parameter-sized (${type})`, async () => {
      for (const d of [5120, 28576, 200_000, 600_000]) {
        const params = single ? new Float32Array(d) : new Float64Array(d);
        params.fill(0.5);
        const parameterBytes = d * width;
        for (const directions of d > 200_000 ? [1] : [1, 4]) {
          let optimizer: ZoOptimizer | undefined;
          const first = await floatAllocations(async () => {
            optimizer = step(params, "inPlace", directions);
            await optimizer.step(halfSquare);
          });
          const buffers = first.filter((a) => a.bytes > SMALL);
          assert.deepEqual(
            buffers,
            [
              {
                type: single ? "Float32Array" : "Float64Array",
                bytes: width * directionChunkLength(d),
              },
            ],
            `${d} parameters, ${directions} directions: buffers above ${SMALL} bytes`,
          );
          assert.ok(buffers[0].bytes <= 0.05 * parameterBytes, `${d}: chunk ${buffers[0].bytes} B`);
          // Later steps reuse the chunk: nothing but the per-direction scalars is allocated.
          const later = await floatAllocations(() => optimizer!.step(halfSquare));
          assert.deepEqual(
            later.filter((a) => a.bytes > SMALL),
            [],
            `${d}: second step`,
          );
        }
      }
    });
  }

  it("virtual: one parameter-sized point besides the chunk (what the in-place path avoids)", async () => {
    const d = 28576;
    const params = new Float32Array(d).fill(0.5);
    const allocated = await floatAllocations(() => step(params, "virtual").step(halfSquare));
    const sizes = allocated.filter((a) => a.bytes > SMALL).map((a) => a.bytes);
    assert.deepEqual(
      sizes.sort((a, b) => a - b),
      [4 * directionChunkLength(d), 4 * d],
    );
  });
});
