import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { normal } from "../../src/random/index.js";
import {
  POOL_CHOICE_STREAM,
  POOL_STREAM_BASE,
  checkDirectionSource,
  directionAddress,
  fillDirection,
  freshStream,
  poolMember,
  poolStream,
} from "../../src/zo/directions.js";
import { assertInvalidArgument, assertSameBits } from "../helpers/assertions.js";

describe("zo directions", () => {
  it("fresh streams are t·2^20 + j and distinct across steps and directions", () => {
    assert.equal(freshStream(0, 0), 0);
    assert.equal(freshStream(0, 5), 5);
    assert.equal(freshStream(3, 7), 3 * 1048576 + 7);
    assert.equal(freshStream(2 ** 32 - 1, 2 ** 20 - 1), 2 ** 52 - 1);
    const seen = new Set<number>();
    for (let t = 0; t < 50; t++) for (let j = 0; j < 20; j++) seen.add(freshStream(t, j));
    assert.equal(seen.size, 1000);
  });

  it("pool streams sit above every fresh stream, the choice stream above the pool", () => {
    assert.equal(POOL_STREAM_BASE, 2 ** 52);
    assert.equal(poolStream(0), 2 ** 52);
    assert.equal(poolStream(2 ** 32 - 1), 2 ** 52 + 2 ** 32 - 1);
    assert.equal(POOL_CHOICE_STREAM, 2 ** 52 + 2 ** 32);
    assert.ok(freshStream(2 ** 32 - 1, 2 ** 20 - 1) < poolStream(0));
  });

  it("z is the Philox normal sequence rounded to the buffer's type, any slice on its own", () => {
    const seed = 11;
    const stream = freshStream(4, 2);
    const whole64 = fillDirection(new Float64Array(37), seed, stream);
    const whole32 = fillDirection(new Float32Array(37), seed, stream);
    for (let i = 0; i < 37; i++) {
      assert.ok(Object.is(whole64[i], normal(seed, stream, i)), `float64 element ${i}`);
      assert.ok(
        Object.is(whole32[i], Math.fround(normal(seed, stream, i))),
        `float32 element ${i}`,
      );
    }
    // odd start: the second half of a Box–Muller pair
    assertSameBits(
      fillDirection(new Float32Array(20), seed, stream, 17),
      whole32.subarray(17),
      "slice",
    );
  });

  it("pool members are uniform over the pool and reproducible", () => {
    const K = 8;
    const counts = new Array<number>(K).fill(0);
    const draws = 8000;
    for (let t = 0; t < draws / 4; t++) {
      for (let j = 0; j < 4; j++) {
        const k = poolMember(3, t, j, K);
        assert.ok(Number.isInteger(k) && k >= 0 && k < K);
        counts[k]++;
      }
    }
    // each count ~ Binomial(8000, 1/8): mean 1000, sd 29.6; 5 sd
    for (const c of counts) assert.ok(Math.abs(c - 1000) < 150, `pool counts ${counts.join(",")}`);
    assert.equal(poolMember(3, 17, 2, K), poolMember(3, 17, 2, K));
    const a = directionAddress(3, 17, 2, { kind: "pool", size: K });
    assert.equal(a.seedIndex, poolMember(3, 17, 2, K));
    assert.equal(a.stream, poolStream(a.seedIndex as number));
    assert.deepEqual(directionAddress(3, 17, 2), { seed: 3, stream: freshStream(17, 2) });
  });

  it("rejects out-of-range steps, directions, pool sizes and sources", () => {
    assertInvalidArgument(() => freshStream(-1, 0), "step", -1);
    assertInvalidArgument(() => freshStream(2 ** 32, 0), "step", 2 ** 32);
    assertInvalidArgument(() => freshStream(0, 2 ** 20), "direction", 2 ** 20);
    assertInvalidArgument(() => freshStream(0.5, 0), "step", 0.5);
    assertInvalidArgument(() => poolStream(2 ** 32), "seedIndex", 2 ** 32);
    assertInvalidArgument(() => poolMember(0, 0, 0, 0), "pool size", 0);
    assertInvalidArgument(
      () => checkDirectionSource("zoSgd", { kind: "pool", size: 2.5 }),
      "pool size",
      2.5,
    );
    assert.throws(() => checkDirectionSource("zoSgd", { kind: "shared" }), InvalidArgumentError);
    assert.throws(
      () => checkDirectionSource("zoSgd", { kind: "fresh", size: 3 }),
      InvalidArgumentError,
    );
  });
});
