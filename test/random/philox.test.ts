import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { InvalidArgumentError } from "../../src/errors.js";
import { fillBits, mulhi32, philox4x32, randomBits } from "../../src/random/philox.js";

interface Vector {
  key: number[];
  counter: number[];
  output: number[];
}

interface KatLine {
  generator: string;
  rounds: number;
  counter: string[];
  key: string[];
  expected: string[];
}

interface PhiloxFixture {
  philox4x32_10: { vectors: Vector[]; sequence: { key: number[]; blocks: Vector[] } };
  random123_kat_vectors: { vectors: KatLine[] };
}

const fixture = JSON.parse(
  readFileSync(
    fileURLToPath(new URL("../fixtures/conformance/philox.json", import.meta.url)),
    "utf8",
  ),
) as PhiloxFixture;

const hex = (words: string[]) => words.map((w) => parseInt(w, 16));

describe("Philox4x32 matches the official Random123 outputs", () => {
  it("every philox4x32_10 vector", () => {
    const { vectors } = fixture.philox4x32_10;
    assert.ok(vectors.length >= 45);
    for (const v of vectors) {
      assert.deepEqual(
        Array.from(philox4x32(v.counter, v.key)),
        v.output,
        `counter ${v.counter} key ${v.key}`,
      );
    }
  });

  it("the counter sequence [j, 0, 0, 0] for one key", () => {
    const { key, blocks } = fixture.philox4x32_10.sequence;
    assert.equal(blocks.length, 16);
    const out = new Uint32Array(4);
    for (const b of blocks) {
      assert.deepEqual(Array.from(philox4x32(b.counter, key, out)), b.output);
    }
  });

  it("every 4x32 line of Random123's kat_vectors (R = 7 and R = 10)", () => {
    const lines = fixture.random123_kat_vectors.vectors.filter((v) => v.generator === "philox4x32");
    assert.equal(lines.length, 6);
    assert.deepEqual(new Set(lines.map((l) => l.rounds)), new Set([7, 10]));
    for (const line of lines) {
      const out = philox4x32(hex(line.counter), hex(line.key), [0, 0, 0, 0], line.rounds);
      assert.deepEqual(out, hex(line.expected), `R=${line.rounds} counter ${line.counter}`);
    }
  });
});

describe("mulhi32", () => {
  it("equals the high word of the exact 64-bit product (BigInt)", () => {
    const cases = [0, 1, 2, 0xffff, 0x10000, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff];
    let x = 0x9e3779b9;
    for (let i = 0; i < 2000; i++) {
      x = (Math.imul(x ^ (x >>> 15), 0x2c1b3c6d) + i) >>> 0;
      cases.push(x);
    }
    for (let i = 0; i < cases.length; i++) {
      const a = cases[i];
      const b = cases[(i * 7 + 3) % cases.length];
      const expected = Number((BigInt(a) * BigInt(b)) >> 32n);
      assert.equal(mulhi32(a, b), expected, `${a} × ${b}`);
    }
  });
});

describe("stream mapping: seed → key, (block, stream) → counter", () => {
  const split = (v: number): [number, number] => {
    const big = BigInt(v);
    return [Number(big & 0xffffffffn), Number(big >> 32n)];
  };

  it("reproduces the fixture sequence as words 0..63 of one stream", () => {
    const { key, blocks } = fixture.philox4x32_10.sequence;
    const seed = key[0] + key[1] * 2 ** 32;
    const words = fillBits(new Uint32Array(64), seed, 0);
    for (let w = 0; w < 64; w++) {
      assert.equal(words[w], blocks[Math.floor(w / 4)].output[w % 4], `word ${w}`);
      assert.equal(randomBits(seed, 0, w), words[w], `randomBits word ${w}`);
    }
  });

  it("puts the stream in counter words 2, 3 and the block in words 0, 1 (values near 2^53)", () => {
    const seeds = [0, 1, 2 ** 32 - 1, 2 ** 32, 2 ** 53 - 1, 123456789012345];
    const streams = [0, 5, 2 ** 32 + 7, 2 ** 53 - 2];
    const indices = [0, 3, 4, 2 ** 34 + 1, 2 ** 53 - 1];
    for (const seed of seeds) {
      for (const stream of streams) {
        for (const index of indices) {
          const b = Math.floor(index / 4);
          const expected = philox4x32([...split(b), ...split(stream)], split(seed))[index % 4];
          assert.equal(randomBits(seed, stream, index), expected, `${seed} ${stream} ${index}`);
        }
      }
    }
  });

  it("a fill starting at k equals the tail of a fill starting at 0", () => {
    const whole = fillBits(new Uint32Array(103), 77, 3);
    for (const k of [1, 2, 3, 4, 5, 50, 99]) {
      const tail = fillBits(new Uint32Array(103 - k), 77, 3, k);
      assert.deepEqual(tail, whole.subarray(k));
    }
  });

  it("is deterministic and separates seeds and streams", () => {
    const a = fillBits(new Uint32Array(64), 1, 0);
    assert.deepEqual(fillBits(new Uint32Array(64), 1, 0), a);
    const otherStream = fillBits(new Uint32Array(64), 1, 1);
    const otherSeed = fillBits(new Uint32Array(64), 2, 0);
    let sameStream = 0;
    let sameSeed = 0;
    for (let i = 0; i < 64; i++) {
      if (a[i] === otherStream[i]) sameStream++;
      if (a[i] === otherSeed[i]) sameSeed++;
    }
    assert.ok(sameStream <= 1 && sameSeed <= 1, `${sameStream} ${sameSeed}`);
  });
});

describe("validation", () => {
  it("rejects bad seeds, streams, indices and block arguments, naming them", () => {
    const cases: [() => unknown, string][] = [
      [() => randomBits(-1, 0, 0), "seed"],
      [() => randomBits(1.5, 0, 0), "seed"],
      [() => randomBits(2 ** 53, 0, 0), "seed"],
      [() => randomBits(0, -2, 0), "stream"],
      [() => randomBits(0, 0, NaN), "index"],
      [() => fillBits(new Uint32Array(4), 0, 0, 2 ** 53 - 2), "startIndex"],
      [() => philox4x32([1, 2, 3], [0, 0]), "counter"],
      [() => philox4x32([1, 2, 3, 4], [0]), "key"],
      [() => philox4x32([1, 2, 3, 4], [0, 0], undefined, 0), "rounds"],
    ];
    for (const [call, parameter] of cases) {
      assert.throws(call, (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(e.parameter, parameter);
        assert.match(e.message, new RegExp(parameter));
        return true;
      });
    }
  });
});
