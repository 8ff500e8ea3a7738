// The chunking of src/zo/apply.ts: the rule that sizes the working chunk from the parameter
// count (at most 5% of it above a stated floor, the full cap for large layouts), and that the
// chunk length never changes a bit of what the writes produce.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { FloatArray } from "../../src/params/layout.js";
import { fillNormal, normal } from "../../src/random/index.js";
import {
  DIRECTION_CHUNK,
  DirectionScratch,
  MIN_DIRECTION_CHUNK,
  addDirection,
  addDirections,
  directionChunkLength,
  forEachEstimateChunk,
  writeShifted,
} from "../../src/zo/apply.js";
import { assertSameBits } from "../helpers/assertions.js";

/** Parameter counts from a handful to 10^8: powers of two, their neighbours and real models. */
const COUNTS: number[] = (() => {
  const counts = new Set<number>([0, 1, 2, 3, 63, 255, 256, 257, 5120, 28576, 3_200_000, 1e8]);
  for (let e = 4; e <= 27; e++) for (const delta of [-1, 0, 1]) counts.add(2 ** e + delta);
  for (let d = 5120; d < 1e8; d = Math.ceil(d * 1.37)) counts.add(d);
  return [...counts].sort((a, b) => a - b);
})();

/** Below this the floor of the chunk may exceed 5% of the parameters (256 / 0.05). */
const FIVE_PERCENT_FROM = 5120;

describe("directionChunkLength", () => {
  it("is at most 5% of the parameter count from 5,120 parameters on", () => {
    for (const d of COUNTS.filter((n) => n >= FIVE_PERCENT_FROM)) {
      const chunk = directionChunkLength(d);
      assert.ok(chunk <= 0.05 * d, `${d} parameters: chunk ${chunk}`);
    }
  });

  it("is about 1/64 of the count between the floor and the cap", () => {
    for (const d of COUNTS.filter((n) => n > 64 * MIN_DIRECTION_CHUNK)) {
      const chunk = directionChunkLength(d);
      assert.ok(chunk <= d / 64 + 64, `${d} parameters: chunk ${chunk}`);
      assert.ok(chunk >= Math.min(DIRECTION_CHUNK, d / 64), `${d} parameters: chunk ${chunk}`);
    }
  });

  it("keeps the full cap of 8192 elements from 2^19 parameters on", () => {
    assert.equal(DIRECTION_CHUNK, 8192);
    for (const d of COUNTS.filter((n) => n >= 2 ** 19)) {
      assert.equal(directionChunkLength(d), 8192, `${d} parameters`);
    }
  });

  it("never exceeds the cap or the count, never falls below the floor of a larger count", () => {
    for (const d of COUNTS) {
      const chunk = directionChunkLength(d);
      assert.ok(Number.isInteger(chunk) && chunk >= 1, `${d}: ${chunk}`);
      assert.ok(chunk <= DIRECTION_CHUNK, `${d}: ${chunk}`);
      assert.ok(chunk <= Math.max(1, d), `${d}: ${chunk}`);
      assert.ok(chunk >= Math.min(d, MIN_DIRECTION_CHUNK), `${d}: ${chunk}`);
      // Even chunks start every chunk on a Philox block boundary.
      if (chunk < d) assert.equal(chunk % 2, 0, `${d}: ${chunk}`);
    }
  });

  it("rejects counts that are not integers >= 0, naming the parameter", () => {
    for (const bad of [-1, 1.5, Number.NaN, Infinity, 2 ** 53]) {
      assert.throws(
        () => directionChunkLength(bad),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "length",
      );
    }
  });

  it("sizes DirectionScratch.for by the rule, and rejects a bad chunk length", () => {
    for (const d of [1, 300, 28576, 3_200_000]) {
      const scratch = DirectionScratch.for(new Float32Array(d));
      assert.equal(scratch.z.length, directionChunkLength(d));
      assert.ok(scratch.z instanceof Float32Array);
      assert.equal(scratch.bytes, 4 * directionChunkLength(d));
      scratch.estimate.fill(0);
      assert.equal(scratch.bytes, 12 * directionChunkLength(d));
    }
    assert.equal(DirectionScratch.for(new Float64Array(10)).z.length, 10);
    assert.ok(DirectionScratch.for(new Float64Array(10)).z instanceof Float64Array);
    for (const bad of [0, 2.5, -3]) {
      assert.throws(
        () => new DirectionScratch("float32", bad),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "chunkLength",
      );
    }
    assert.throws(
      () => new DirectionScratch("float16" as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "dtype",
    );
  });
});

/** θ + c·z element by element from the scalar normal of each index (no chunks at all). */
function shiftedReference(theta: FloatArray, seed: number, stream: number, c: number): number[] {
  const single = theta instanceof Float32Array;
  return Array.from(theta, (t, i) => {
    const z = single ? Math.fround(normal(seed, stream, i)) : normal(seed, stream, i);
    const v = t + c * z;
    return single ? Math.fround(v) : v;
  });
}

describe("chunked writes", () => {
  const d = 3001;
  const lengths = [1, 63, 64, 256, 1000, 8192];

  for (const single of [true, false]) {
    const type = single ? "float32" : "float64";
    const dtype = single ? "float32" : "float64";
    const params = () => fillNormal(single ? new Float32Array(d) : new Float64Array(d), 11, 0);

    it(`addDirection and writeShifted give the same bits with any chunk length (${type})`, () => {
      const expected = shiftedReference(params(), 7, 5, -0.25);
      for (const length of lengths) {
        const scratch = new DirectionScratch(dtype, length);
        const inPlace = params();
        addDirection(inPlace, { seed: 7, stream: 5 }, -0.25, scratch);
        assert.deepEqual(Array.from(inPlace), expected, `addDirection, chunk ${length}`);
        const out = single ? new Float32Array(d) : new Float64Array(d);
        writeShifted(out, params(), { seed: 7, stream: 5 }, -0.25, scratch);
        assert.deepEqual(Array.from(out), expected, `writeShifted, chunk ${length}`);
      }
    });

    it(`addDirections and the estimate do not depend on the chunk length (${type})`, () => {
      const directions = [
        { seed: 3, stream: 1 },
        { seed: 3, stream: 9 },
        { seed: 4, stream: 1 },
      ];
      const coefficients = [0.5, 0, -1.25];
      let expected = Array.from(params());
      for (let j = 0; j < directions.length; j++) {
        if (coefficients[j] === 0) continue;
        const step = single ? new Float32Array(expected) : new Float64Array(expected);
        expected = shiftedReference(
          step,
          directions[j].seed,
          directions[j].stream,
          coefficients[j],
        );
      }
      const estimate = Array.from({ length: d }, (_, i) => {
        let sum = 0;
        for (let j = 0; j < directions.length; j++) {
          const z = normal(directions[j].seed, directions[j].stream, i);
          sum += coefficients[j] * (single ? Math.fround(z) : z);
        }
        return sum;
      });
      for (const length of lengths) {
        const scratch = new DirectionScratch(dtype, length);
        const target = params();
        addDirections(target, directions, coefficients, scratch);
        assert.deepEqual(Array.from(target), expected, `addDirections, chunk ${length}`);
        const seen = new Float64Array(d);
        let calls = 0;
        forEachEstimateChunk(
          d,
          dtype,
          directions,
          coefficients,
          (start, end, chunk) => {
            calls++;
            assert.ok(end - start <= length);
            seen.set(chunk.subarray(0, end - start), start);
          },
          scratch,
        );
        assert.equal(calls, Math.ceil(d / length));
        assertSameBits(seen, new Float64Array(estimate), `estimate, chunk ${length}`);
      }
    });
  }

  it("a scratch sized for a small buffer still serves a larger one, in more chunks", () => {
    const small = DirectionScratch.for(new Float32Array(10));
    const theta = fillNormal(new Float32Array(5000), 2, 0);
    const expected = shiftedReference(theta, 1, 2, 0.125);
    addDirection(theta, { seed: 1, stream: 2 }, 0.125, small);
    assert.deepEqual(Array.from(theta), expected);
  });
});
