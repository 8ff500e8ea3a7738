// ZO checkpoints: save → restore rebuilds the live parameters bit for bit (from the latest
// snapshot, or through every snapshot), the file is a safetensors file whose snapshots any
// reader can take, a run resumed from a restored history equals the uninterrupted run, and every
// damaged or mismatched input (each flipped byte, each truncation, other base weights, another
// layout, an unknown version, a log that does not rebuild the saved parameters) is refused with
// the named reason before anything is written.
import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { CheckpointError } from "../../src/optim/checkpoint.js";
import type { DType } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillNormal } from "../../src/random/index.js";
import { Fnv1a64, hashBits } from "../../src/zo/hash.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import { ZoHistory } from "../../src/zo/replay.js";
import { SeedLog } from "../../src/zo/seedLog.js";
import type { ZoCheckpointErrorReason } from "../../src/zo/zoCheckpoint.js";
import {
  ZoCheckpointError,
  loadZoCheckpoint,
  readZoCheckpoint,
  restoreZoCheckpoint,
  saveZoCheckpoint,
  serializeZoCheckpoint,
} from "../../src/zo/zoCheckpoint.js";
import { zoSgd } from "../../src/zo/zoSgd.js";
import { assertSameBits } from "../helpers/assertions.js";

const D = 48;

function objective(p: ArrayLike<number>): number {
  let f = 0;
  for (let i = 0; i < p.length; i++) f += (1 + (i % 3)) * (p[i] - Math.sin(i)) ** 2;
  return f;
}

function base(dtype: DType = "float32"): ParamSet {
  const set = ParamSet.zeros(
    [
      { name: "layer.weight", shape: [8, 5] },
      { name: "layer.bias", shape: [8] },
    ],
    dtype,
  );
  fillNormal(set.data, 17, 0);
  return set;
}

const method = () => zoSgd({ learningRate: 0.005, directions: 2, seed: 31 });

/** `steps` live steps from `start` (continuing `history` and the optimizer's count if given). */
async function run(
  params: ParamSet,
  history: ZoHistory,
  steps: number,
  firstStep = 0,
): Promise<void> {
  const opt = new ZoOptimizer(params, method());
  opt.count = firstStep;
  for (let t = 0; t < steps; t++) history.record((await opt.step(objective)).records, params);
}

async function savedRun(dtype: DType = "float32", steps = 12, snapshotEvery = 5) {
  const start = base(dtype);
  const live = start.clone();
  const history = ZoHistory.start(start, { snapshotEvery });
  await run(live, history, steps);
  return { start, live, history, bytes: serializeZoCheckpoint(history, live) };
}

function reasonOf(build: () => unknown): ZoCheckpointErrorReason | undefined {
  try {
    build();
    return undefined;
  } catch (e) {
    assert.ok(e instanceof ZoCheckpointError, `expected ZoCheckpointError, got ${String(e)}`);
    assert.ok(e instanceof CheckpointError);
    return e.reason;
  }
}

/** Replaces `from` by `to` (same length) in the header text and fixes nothing else. */
function patchHeader(bytes: Uint8Array, from: string, to: string): Uint8Array {
  assert.equal(from.length, to.length);
  const text = new TextDecoder().decode(bytes);
  const at = text.indexOf(from);
  assert.ok(at > 0, `${from} not found`);
  const out = bytes.slice();
  out.set(new TextEncoder().encode(to), at);
  return out;
}

/** Rewrites the trailing checksum so that only the deliberate change remains. */
function resealed(bytes: Uint8Array): Uint8Array {
  const out = bytes.slice();
  const body = out.length - 8;
  out.set(new Fnv1a64().update(out.subarray(0, body)).digestBytes(), body);
  return out;
}

describe("ZO checkpoints", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`save → restore rebuilds the live parameters bit for bit (${dtype})`, async () => {
      const { start, live, history, bytes } = await savedRun(dtype);
      const restored = restoreZoCheckpoint(bytes, start);
      assertSameBits(restored.params.data, live.data, "restored");
      assert.equal(hashBits(restored.params.data), hashBits(live.data));
      assert.deepEqual(
        restored.history.snapshots.map((s) => s.step),
        [5, 10],
      );
      assert.equal(restored.history.log.length, history.log.length);
      const verified = restoreZoCheckpoint(bytes, start, { verifySnapshots: true });
      assertSameBits(verified.params.data, live.data, "restored through every snapshot");
      // Without snapshots the replay starts from the base weights.
      const bare = ZoHistory.start(start);
      const again = start.clone();
      await run(again, bare, 12);
      assertSameBits(
        restoreZoCheckpoint(serializeZoCheckpoint(bare, again), start).params.data,
        live.data,
        "no snapshots",
      );
    });
  }

  it("is a safetensors file: 8-byte header length, JSON header, snapshots as plain tensors", async () => {
    const { history, bytes } = await savedRun();
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const n = Number(view.getBigUint64(0, true));
    assert.equal((8 + n) % 8, 0, "data section aligned to 8");
    const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] }
    > & { __metadata__: Record<string, string> };
    assert.equal(header.__metadata__["descend.format"], "descend.zo-history");
    assert.equal(header.__metadata__["descend.version"], "1");
    assert.equal(header.__metadata__["descend.baseHash"], history.baseHash);
    const snap = header["snapshot/10"];
    assert.equal(snap.dtype, "F32");
    assert.deepEqual(snap.shape, [D]);
    const [b, e] = snap.data_offsets;
    const values = new Float32Array(bytes.slice(8 + n + b, 8 + n + e).buffer);
    assertSameBits(values, history.snapshots[1].params, "snapshot/10 read as a plain tensor");
    const log = header.log;
    assert.equal(log.dtype, "U8");
    const decoded = SeedLog.decode(
      bytes.subarray(8 + n + log.data_offsets[0], 8 + n + log.data_offsets[1]),
    );
    assert.equal(decoded.length, history.log.length);
    assert.deepEqual(header.checksum.data_offsets, [
      bytes.length - 8 - 8 - n,
      bytes.length - 8 - n,
    ]);
  });

  it("a run resumed from a restored checkpoint equals the uninterrupted run, and saves again", async () => {
    const whole = await savedRun("float32", 20, 5);
    const half = await savedRun("float32", 9, 5);
    const { params, history } = restoreZoCheckpoint(half.bytes, half.start);
    await run(params, history, 11, history.log.lastStep! + 1);
    assertSameBits(params.data, whole.live.data, "resumed run");
    const again = restoreZoCheckpoint(serializeZoCheckpoint(history, params), half.start);
    assertSameBits(again.params.data, whole.live.data, "second checkpoint");
    assert.deepEqual(
      again.history.snapshots.map((s) => s.step),
      [5, 10, 15, 20],
    );
  });

  it("writes and reads files (Node)", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-zo-"));
    after(() => rm(dir, { recursive: true, force: true }));
    const { start, live, history, bytes } = await savedRun();
    const path = join(dir, "run.safetensors");
    await saveZoCheckpoint(history, live, path);
    assert.deepEqual(new Uint8Array(await readFile(path)), bytes);
    const loaded = await loadZoCheckpoint(path, start);
    assertSameBits(loaded.params.data, live.data, "loaded");
  });

  describe("refuses damaged and mismatched inputs, writing nothing", async () => {
    const { start, live, bytes, history } = await savedRun("float32", 12, 4);

    it("every single flipped byte", () => {
      const reasons = new Set<string>();
      const into = start.clone();
      into.data.fill(3);
      for (let i = 0; i < bytes.length; i++) {
        const bad = bytes.slice();
        bad[i] ^= 0xa5;
        const reason = reasonOf(() => restoreZoCheckpoint(bad, start, { into }));
        assert.ok(reason !== undefined, `flipping byte ${i} went unnoticed`);
        reasons.add(reason);
      }
      assert.ok(
        into.data.every((x) => x === 3),
        "into untouched",
      );
      assert.ok(reasons.has("checksum"));
      // A flip in a snapshot or in the log is caught by the checksum.
      const bad = bytes.slice();
      bad[bytes.length - 100] ^= 1;
      assert.equal(
        reasonOf(() => readZoCheckpoint(bad)),
        "checksum",
      );
    });

    it("every truncation", () => {
      for (let n = 0; n < bytes.length; n++) {
        assert.equal(
          reasonOf(() => readZoCheckpoint(bytes.subarray(0, n))),
          "truncated",
          `length ${n}`,
        );
      }
    });

    it("other base weights, another layout", () => {
      const other = start.clone();
      other.data[7] = Math.fround(other.data[7] + 1e-3);
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(bytes, other)),
        "base",
      );
      const longer = ParamSet.zeros(
        [
          { name: "layer.weight", shape: [8, 5] },
          { name: "layer.bias", shape: [9] },
        ],
        "float32",
      );
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(bytes, longer)),
        "layout",
      );
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(bytes, base("float64"))),
        "layout",
      );
      assert.throws(
        () => restoreZoCheckpoint(bytes, start, { into: longer }),
        /ShapeMismatch|layout|tensor/,
      );
    });

    it("an unknown version, another format", () => {
      const future = patchHeader(bytes, '"descend.version":"1"', '"descend.version":"2"');
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(future, start)),
        "version",
      );
      const foreign = patchHeader(bytes, '"descend.zo-history"', '"descend.zo-archive"');
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(foreign, start)),
        "format",
      );
      assert.equal(
        reasonOf(() => readZoCheckpoint(new TextEncoder().encode("not a file at all"))),
        "malformed",
      );
    });

    it("a log that does not rebuild the saved parameters", () => {
      // Saved with other parameters than the history produced: the checksum is right, the
      // replay is not.
      const drifted = live.clone();
      drifted.data[0] += 1;
      const wrong = serializeZoCheckpoint(history, drifted);
      const into = start.clone();
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(wrong, start, { into })),
        "replay",
      );
      assertSameBits(into.data, start.data, "into untouched");
      // A snapshot that the log does not lead to is found with verifySnapshots.
      const forged = ZoHistory.fromParts({
        layout: history.layout,
        baseHash: history.baseHash,
        log: history.log,
        snapshotEvery: 4,
        snapshots: history.snapshots.map((s, i) => {
          if (i !== 0) return s;
          const params = s.params.slice();
          params[3] += 1;
          return { step: s.step, params, hash: hashBits(params) };
        }),
      });
      const forgedBytes = serializeZoCheckpoint(forged, live);
      assert.equal(
        reasonOf(() => restoreZoCheckpoint(forgedBytes, start, { verifySnapshots: true })),
        "replay",
      );
      // Without verification the latest snapshot (untouched) rebuilds the saved parameters.
      assertSameBits(
        restoreZoCheckpoint(forgedBytes, start).params.data,
        live.data,
        "latest snapshot",
      );
    });

    it("a tampered header under a recomputed checksum", () => {
      // Lists a snapshot whose tensor is missing: caught as malformed.
      const tampered = resealed(patchHeader(bytes, '"snapshot/8"', '"snapshot/9"'));
      assert.equal(
        reasonOf(() => readZoCheckpoint(tampered)),
        "malformed",
      );
    });

    it("bad arguments", () => {
      assert.throws(
        () => restoreZoCheckpoint(bytes, start, { verify: true } as never),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "verify",
      );
      assert.throws(
        () => restoreZoCheckpoint(bytes, start.data as never),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "base",
      );
      const partial = ZoHistory.start(start);
      assert.throws(
        () => serializeZoCheckpoint(partial, longerThan(start)),
        /ShapeMismatch|expected/,
      );
    });
  });
});

function longerThan(p: ParamSet): Float32Array {
  return new Float32Array(p.size + 1);
}
