// The seed log's parts: the FNV-1a fingerprint against the algorithm's published test vectors,
// the one-byte scalar table against the OFP8 E4M3 definition and a brute-force nearest search,
// the log's byte layout read back at the documented offsets, encode/decode round trips, every
// bad record refused with its field named and the log unchanged, and every corruption of the
// encoded bytes refused with the named reason.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { directionAddress, poolStream } from "../../src/zo/directions.js";
import { Fnv1a64, fnv1a64, hashBits } from "../../src/zo/hash.js";
import type { ZoMethodName, ZoStepRecord } from "../../src/zo/record.js";
import {
  decodeScalarCode,
  encodeScalarCode,
  exactScalarCode,
  isValidScalarCode,
  quantizeScalar,
  scalarCodeQuantizer,
} from "../../src/zo/scalarCode.js";
import type { SeedLogOptions } from "../../src/zo/seedLog.js";
import { SeedLog, SeedLogError } from "../../src/zo/seedLog.js";
import { assertInvalidArgument } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";

// ---------------------------------------------------------------------------------------------
// Records built by hand, following record.ts and directions.ts

interface RunShape {
  seed?: number;
  directions?: number;
  method?: ZoMethodName;
  pool?: number;
  steps?: number;
  scalar?: (t: number, j: number) => number;
  learningRate?: (t: number) => number;
}

function makeRecords(shape: RunShape = {}): ZoStepRecord[] {
  const seed = shape.seed ?? 7;
  const n = shape.directions ?? 3;
  const method = shape.method ?? "zoSgd";
  const steps = shape.steps ?? 5;
  const scalar = shape.scalar ?? ((t, j) => Math.fround(0.001 * (t - 2 * j + 0.5)));
  const lr = shape.learningRate ?? ((t) => 0.01 / (t + 1));
  const out: ZoStepRecord[] = [];
  for (let t = 0; t < steps; t++) {
    for (let j = 0; j < n; j++) {
      const address = directionAddress(
        seed,
        t,
        j,
        shape.pool === undefined ? { kind: "fresh" } : { kind: "pool", size: shape.pool },
      );
      const s = scalar(t, j);
      out.push({
        step: t,
        direction: j,
        directions: n,
        seed,
        stream: address.stream,
        ...(address.seedIndex !== undefined ? { seedIndex: address.seedIndex } : {}),
        scalar: method === "zoCons" && j === 1 ? -s : s,
        learningRate: lr(t),
        epsilon: 1e-3,
        projectedGradient: 0.25 * t - j,
        method,
        estimator: "twoPoint",
        perturbation: "virtual",
        ...(method === "zoCons" ? { trialScalar: s } : {}),
      });
    }
  }
  return out;
}

function logOf(records: readonly ZoStepRecord[], options: SeedLogOptions = {}): SeedLog {
  const log = new SeedLog(options);
  log.appendAll(records);
  return log;
}

/** The record with the projected gradient as a log without it gives it back. */
function withoutGradient(r: ZoStepRecord): ZoStepRecord {
  return { ...r, projectedGradient: NaN };
}

function assertSameRecords(actual: readonly ZoStepRecord[], expected: readonly ZoStepRecord[]) {
  assert.equal(actual.length, expected.length);
  actual.forEach((r, i) => assert.deepEqual(r, expected[i], `record ${i}`));
}

// ---------------------------------------------------------------------------------------------

describe("FNV-1a 64 fingerprint", () => {
  const text = new TextEncoder();

  it("matches the published FNV-1a 64-bit test vectors", () => {
    // Test vectors of the FNV reference code (draft-eastlake-fnv, test suite; isthe.com).
    assert.equal(fnv1a64(text.encode("")), "cbf29ce484222325");
    assert.equal(fnv1a64(text.encode("a")), "af63dc4c8601ec8c");
    assert.equal(fnv1a64(text.encode("foobar")), "85944171f73967e8");
  });

  it("is the same fed in pieces, and stores its digest least significant byte first", () => {
    const bytes = text.encode("the quick brown fox jumps over the lazy dog");
    const whole = new Fnv1a64().update(bytes);
    const pieces = new Fnv1a64().update(bytes.subarray(0, 5)).update(bytes.subarray(5));
    assert.equal(pieces.digest(), whole.digest());
    const hex = whole.digest();
    const stored = whole.digestBytes();
    for (let k = 0; k < 8; k++) {
      assert.equal(stored[k], parseInt(hex.slice(14 - 2 * k, 16 - 2 * k), 16), `byte ${k}`);
    }
  });

  it("hashes floats as their little-endian IEEE-754 bytes", () => {
    // 1.0 as float64 is 0x3ff0000000000000; as float32 0x3f800000.
    assert.equal(
      hashBits(new Float64Array([1])),
      fnv1a64(Uint8Array.of(0, 0, 0, 0, 0, 0, 0xf0, 0x3f)),
    );
    assert.equal(
      hashBits(new Float32Array([1, -2])),
      fnv1a64(Uint8Array.of(0, 0, 0x80, 0x3f, 0, 0, 0, 0xc0)),
    );
    // A view hashes its own elements only.
    const big = new Float32Array([5, 1, -2, 7]);
    assert.equal(hashBits(big.subarray(1, 3)), hashBits(new Float32Array([1, -2])));
  });

  it("tells apart buffers differing in one bit, −0 from +0", () => {
    const a = new Float32Array(1000).fill(0.5);
    const b = a.slice();
    b[777] = Math.fround(0.5 + 2 ** -24);
    assert.notEqual(hashBits(a), hashBits(b));
    assert.notEqual(hashBits(new Float64Array([0])), hashBits(new Float64Array([-0])));
  });
});

describe("one-byte scalar codes (OFP8 E4M3 at a power-of-two scale)", () => {
  /** The E4M3 table written from the OFP8 definition, independently of scalarCode.ts. */
  function e4m3(code: number): number {
    const s = code >> 7 ? -1 : 1;
    const e = (code >> 3) & 15;
    const m = code & 7;
    if (e === 15 && m === 7) return NaN;
    return e === 0 ? s * m * 2 ** -9 : s * (8 + m) * 2 ** (e - 10);
  }

  it("decodes the landmark values of the specification", () => {
    assert.equal(decodeScalarCode(0x38, 0), 1);
    assert.equal(decodeScalarCode(0x7e, 0), 448); // largest normal S.1111.110
    assert.equal(decodeScalarCode(0x08, 0), 2 ** -6); // smallest normal
    assert.equal(decodeScalarCode(0x07, 0), 0.875 * 2 ** -6); // largest subnormal
    assert.equal(decodeScalarCode(0x01, 0), 2 ** -9); // smallest subnormal
    assert.ok(Object.is(decodeScalarCode(0x00, 0), 0));
    assert.ok(Object.is(decodeScalarCode(0x80, 0), -0));
    assert.equal(decodeScalarCode(0xb8, -20), -(2 ** -20));
    for (const bad of [0x7f, 0xff]) {
      assert.equal(isValidScalarCode(bad), false);
      assertInvalidArgument(() => decodeScalarCode(bad, 0), "code", bad);
    }
  });

  it("every valid code decodes to the E4M3 value times 2^p, a float32 value, and encodes back", () => {
    for (const p of [-100, -22, 0, 100]) {
      for (let c = 0; c < 256; c++) {
        if (!isValidScalarCode(c)) continue;
        const v = decodeScalarCode(c, p);
        assert.ok(Object.is(v, e4m3(c) * 2 ** p), `code ${c} at 2^${p}`);
        assert.ok(Object.is(Math.fround(v), v), `code ${c} at 2^${p} is a float32 value`);
        assert.equal(exactScalarCode(v, p), c);
        assert.equal(encodeScalarCode(v, p), c);
      }
    }
  });

  it("rounds to the nearest table value, ties to an even mantissa, saturating, keeping the sign", () => {
    const values: { code: number; v: number }[] = [];
    for (let c = 0; c < 256; c++) if (isValidScalarCode(c)) values.push({ code: c, v: e4m3(c) });
    const nearest = (y: number): number => {
      const wanted = Math.max(-448, Math.min(448, y));
      let best = values[0];
      for (const entry of values) {
        const dBest = Math.abs(best.v - wanted);
        const d = Math.abs(entry.v - wanted);
        const sameSignSide = y < 0 || Object.is(y, -0) ? entry.code >= 0x80 : entry.code < 0x80;
        if (!sameSignSide) continue;
        const bestSide = y < 0 || Object.is(y, -0) ? best.code >= 0x80 : best.code < 0x80;
        if (
          !bestSide ||
          d < dBest ||
          (d === dBest && (entry.code & 1) === 0 && (best.code & 1) === 1)
        ) {
          best = entry;
        }
      }
      return best.v;
    };
    const random = seededUniform(5);
    for (let k = 0; k < 3000; k++) {
      const y = (random() < 0.5 ? -1 : 1) * 2 ** (24 * random() - 14);
      assert.ok(Object.is(quantizeScalar(y, 0), nearest(y)), `x = ${y}`);
      // The scale only shifts the exponent.
      assert.ok(
        Object.is(quantizeScalar(y * 2 ** -30, -30), nearest(y) * 2 ** -30),
        `x = ${y}·2^-30`,
      );
    }
    assert.equal(quantizeScalar(1.0625, 0), 1); // tie between 1 (m = 0) and 1.125 (m = 1)
    assert.equal(quantizeScalar(1.1875, 0), 1.25); // tie between 1.125 (m = 1) and 1.25 (m = 2)
    assert.equal(quantizeScalar(1e9, 0), 448);
    assert.equal(quantizeScalar(-1e9, 3), -448 * 8);
    assert.ok(Object.is(quantizeScalar(2 ** -11, 0), 0));
    assert.ok(Object.is(quantizeScalar(-(2 ** -11), 0), -0));
    assert.equal(quantizeScalar(3 * 2 ** -11, 0), 2 ** -9);
    assert.equal(exactScalarCode(1.0625, 0), -1);
    assertInvalidArgument(() => quantizeScalar(NaN, 0), "x", NaN);
    assertInvalidArgument(() => scalarCodeQuantizer(101), "scaleExponent", 101);
    assertInvalidArgument(() => scalarCodeQuantizer(0.5), "scaleExponent", 0.5);
  });
});

describe("SeedLog", () => {
  it("gives back every record appended, by iteration, index and step range", () => {
    const records = makeRecords({ steps: 6, directions: 2 });
    const log = logOf(records, { keepProjectedGradients: true });
    assert.equal(log.length, 12);
    assertSameRecords([...log], records);
    assert.deepEqual(log.at(5), records[5]);
    assert.deepEqual(log.at(-1), records[11]);
    assert.equal(log.indexOfStep(3), 6);
    assert.equal(log.indexOfStep(2.5), 6);
    assert.equal(log.indexOfStep(100), 12);
    assertSameRecords([...log.sliceSteps(2, 4)], records.slice(4, 8));
    assertSameRecords([...log.sliceSteps(4)], records.slice(8));
    assert.equal(log.sliceSteps(7).length, 0);
    assertSameRecords([...log.records(3, 5)], records.slice(3, 5));
    assert.equal(log.lastStep, 5);
    assert.equal(log.complete, true);
    log.append(makeRecords({ steps: 7, directions: 2 })[12]);
    assert.equal(log.complete, false);
  });

  it("round-trips through its encoding: float32 scalars, codes, pools, zoCons trial scalars", () => {
    const cases: { records: ZoStepRecord[]; options: SeedLogOptions; recordBytes: number }[] = [
      { records: makeRecords(), options: {}, recordBytes: 4 + 4 + 8 + 8 + 4 },
      {
        records: makeRecords({ pool: 16 }),
        options: { keepProjectedGradients: true },
        recordBytes: 4 + 4 + 4 + 8 + 8 + 8 + 4,
      },
      {
        records: makeRecords({
          method: "zoCons",
          scalar: (t, j) => quantizeScalar(1e-4 * (t + j + 1), -20),
        }),
        options: { scalarEncoding: "code8", scaleExponent: -20 },
        recordBytes: 4 + 4 + 8 + 8 + 1 + 1,
      },
      {
        records: makeRecords({ method: "zoAdam", pool: 3, directions: 1, steps: 40 }),
        options: {},
        recordBytes: 4 + 4 + 4 + 8 + 8 + 4,
      },
    ];
    for (const { records, options, recordBytes } of cases) {
      const log = logOf(records, options);
      assert.equal(log.recordBytes, recordBytes);
      const bytes = log.encode();
      assert.equal(bytes.length, 48 + records.length * recordBytes + 8);
      const back = SeedLog.decode(bytes);
      const expected = options.keepProjectedGradients ? records : records.map(withoutGradient);
      assertSameRecords([...back], expected);
      assert.deepEqual(back.options, log.options);
      assert.deepEqual(back.encode(), bytes);
      // A decoded log goes on accepting the run's next records.
      assert.equal(back.complete, true);
    }
    const empty = new SeedLog({ scalarEncoding: "code8", scaleExponent: -7 });
    const decoded = SeedLog.decode(empty.encode());
    assert.equal(decoded.length, 0);
    assert.equal(decoded.run, undefined);
    assert.equal(decoded.scaleExponent, -7);
  });

  it("writes the byte layout of its documentation", () => {
    const records = makeRecords({
      seed: 2 ** 40 + 3,
      pool: 9,
      directions: 2,
      steps: 2,
      method: "zoCons",
    });
    const bytes = logOf(records, { keepProjectedGradients: true }).encode();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    assert.equal(new TextDecoder().decode(bytes.subarray(0, 8)), "DZSEEDLG");
    assert.equal(view.getUint16(8, true), 1);
    assert.equal(view.getUint16(10, true), 48);
    const size = 4 + 4 + 4 + 8 + 8 + 8 + 4 + 4;
    assert.equal(view.getUint16(12, true), size);
    assert.deepEqual([...bytes.subarray(14, 24)], [0, 0, 3, 4, 0, 0, 1, 0, 0, 0]);
    assert.equal(view.getUint32(24, true), 2);
    assert.equal(view.getUint32(32, true) + 2 ** 32 * view.getUint32(36, true), 2 ** 40 + 3);
    assert.equal(view.getUint32(40, true), 4);
    const r = records[3];
    const at = 48 + 3 * size;
    assert.equal(view.getUint32(at, true), r.step);
    assert.equal(view.getUint32(at + 4, true), r.direction);
    assert.equal(view.getUint32(at + 8, true), r.seedIndex);
    assert.equal(view.getFloat64(at + 12, true), r.learningRate);
    assert.equal(view.getFloat64(at + 20, true), r.epsilon);
    assert.equal(view.getFloat64(at + 28, true), r.projectedGradient);
    assert.equal(view.getFloat32(at + 36, true), r.scalar);
    assert.equal(view.getFloat32(at + 40, true), r.trialScalar);
    const body = 48 + 4 * size;
    assert.equal(bytes.length, body + 8);
    assert.deepEqual(
      bytes.subarray(body),
      new Fnv1a64().update(bytes.subarray(0, body)).digestBytes(),
    );
  });

  it("stores one byte per code: the code of the scalar the sender applied", () => {
    const p = -12;
    const q = scalarCodeQuantizer(p);
    const records = makeRecords({ scalar: (t, j) => q(0.00123 * (t - j)) });
    const bytes = logOf(records, { scalarEncoding: "code8", scaleExponent: p }).encode();
    const size = 4 + 4 + 8 + 8 + 1;
    records.forEach((r, i) => {
      const code = bytes[48 + i * size + 24];
      assert.ok(Object.is(decodeScalarCode(code, p), r.scalar), `record ${i}`);
    });
    // A scalar that is not a table value was not what a code8 sender applied: refused.
    const log = new SeedLog({ scalarEncoding: "code8", scaleExponent: p });
    const raw = { ...records[0], scalar: Math.fround(0.00123) };
    assertInvalidArgument(() => log.append(raw), "scalar", raw.scalar);
    assert.equal(log.length, 0);
  });

  it("refuses bad records naming the field and value, leaving the log as it was", () => {
    const records = makeRecords({ directions: 2, steps: 3 });
    const log = logOf(records.slice(0, 3));
    const before = log.encode();
    const next = records[3]; // step 1, direction 1
    const cases: [
      string,
      Partial<Record<keyof ZoStepRecord, unknown>> & Record<string, unknown>,
      unknown,
    ][] = [
      ["scalar", { scalar: 0.1 }, 0.1],
      ["scalar", { scalar: NaN }, NaN],
      ["scalar", { scalar: Infinity }, Infinity],
      ["learningRate", { learningRate: NaN }, NaN],
      ["learningRate", { learningRate: 0.5 }, 0.5],
      ["epsilon", { epsilon: 0 }, 0],
      ["epsilon", { epsilon: 2e-3 }, 2e-3],
      ["seed", { seed: 8 }, 8],
      ["seed", { seed: -1 }, -1],
      ["directions", { directions: 3 }, 3],
      ["method", { method: "zoAdam" }, "zoAdam"],
      ["method", { method: "adam" }, "adam"],
      ["estimator", { estimator: "onePoint" }, "onePoint"],
      ["perturbation", { perturbation: "inPlace" }, "inPlace"],
      ["stream", { stream: 12345 }, 12345],
      ["step", { step: 0 }, 0],
      ["step", { step: 2.5 }, 2.5],
      ["step", { step: 2 ** 32 }, 2 ** 32],
      ["direction", { direction: 0 }, 0],
      ["direction", { direction: 2 }, 2],
      ["seedIndex", { seedIndex: 4 }, 4],
      ["trialScalar", { trialScalar: 0.5 }, 0.5],
      ["projectedGradient", { projectedGradient: "big" }, "big"],
      ["signOf", { signOf: "projected" }, "projected"],
    ];
    for (const [field, change, value] of cases) {
      const bad = { ...next, ...change } as unknown as ZoStepRecord;
      assertInvalidArgument(() => log.append(bad), field, value);
      assert.deepEqual(log.encode(), before, `log unchanged after a bad ${field}`);
    }
    // A new step before the current one is complete, a first record that is not direction 0.
    assertInvalidArgument(() => log.append(records[4]), "step", 2);
    assertInvalidArgument(() => new SeedLog().append(records[1]), "direction", 1);
    // appendAll is all or none: a bad record in the middle keeps the good ones before it out.
    assert.throws(
      () => log.appendAll([records[3], { ...records[4], epsilon: -1 }]),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "epsilon",
    );
    assert.deepEqual(log.encode(), before);
    // The pool/fresh source is fixed by the first record.
    const poolLog = logOf(makeRecords({ pool: 4, steps: 1 }));
    const fresh = makeRecords({ steps: 2 })[3];
    assertInvalidArgument(() => poolLog.append(fresh), "seedIndex", undefined);
    const wrongMember = { ...makeRecords({ pool: 4, steps: 2 })[3], seedIndex: 5 };
    assert.notEqual(poolStream(5), wrongMember.stream);
    assertInvalidArgument(() => poolLog.append(wrongMember), "stream", wrongMember.stream);
  });

  it("validates its options", () => {
    assertInvalidArgument(
      () => new SeedLog({ scalarEncoding: "int8" as "code8" }),
      "scalarEncoding",
      "int8",
    );
    assertInvalidArgument(
      () => new SeedLog({ scalarEncoding: "code8" }),
      "scaleExponent",
      undefined,
    );
    assertInvalidArgument(() => new SeedLog({ scaleExponent: 3 }), "scaleExponent", 3);
    assertInvalidArgument(
      () => new SeedLog({ keepProjectedGradients: 1 as unknown as boolean }),
      "keepProjectedGradients",
      1,
    );
    assertInvalidArgument(() => new SeedLog({ scale: 3 } as SeedLogOptions), "scale", 3);
  });

  describe("decoding refuses damaged bytes", () => {
    const bytes = logOf(makeRecords({ pool: 5, method: "zoCons" }), {
      keepProjectedGradients: true,
    }).encode();
    const reasonOf = (b: Uint8Array): string | undefined => {
      try {
        SeedLog.decode(b);
        return undefined;
      } catch (e) {
        assert.ok(e instanceof SeedLogError, `expected SeedLogError, got ${String(e)}`);
        return e.reason;
      }
    };

    it("every single flipped byte", () => {
      for (let i = 0; i < bytes.length; i++) {
        const bad = bytes.slice();
        bad[i] ^= 0x5a;
        const reason = reasonOf(bad);
        assert.ok(reason !== undefined, `flipping byte ${i} went unnoticed`);
      }
      // A flip in the records or the checksum is a checksum failure.
      const bad = bytes.slice();
      bad[100] ^= 1;
      assert.equal(reasonOf(bad), "checksum");
    });

    it("every truncation, and extra bytes", () => {
      for (let n = 0; n < bytes.length; n++) {
        assert.equal(reasonOf(bytes.subarray(0, n)), "truncated", `length ${n}`);
      }
      const longer = new Uint8Array(bytes.length + 1);
      longer.set(bytes);
      assert.equal(reasonOf(longer), "malformed");
    });

    it("another format, an unknown version", () => {
      assert.equal(
        reasonOf(new TextEncoder().encode("PK\u0003\u0004 not a log at all, no")),
        "format",
      );
      const future = bytes.slice();
      new DataView(future.buffer).setUint16(8, 2, true);
      assert.equal(reasonOf(future), "version");
    });

    it("an invalid record under a valid checksum", () => {
      // Direction 5 of a 3-direction run, with the checksum recomputed: the record check catches it.
      const forged = bytes.slice();
      const size = new DataView(forged.buffer).getUint16(12, true);
      new DataView(forged.buffer).setUint32(48 + size + 4, 5, true);
      const body = forged.length - 8;
      forged.set(new Fnv1a64().update(forged.subarray(0, body)).digestBytes(), body);
      assert.throws(
        () => SeedLog.decode(forged),
        (e: unknown) =>
          e instanceof SeedLogError && e.reason === "malformed" && /direction/.test(e.message),
      );
    });
  });
});
