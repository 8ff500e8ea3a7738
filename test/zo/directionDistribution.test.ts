// The direction distribution of the zeroth-order engine: "normal" (the float64 Gaussian
// sequence rounded to the layout, unchanged) and "normalFloat32" (the float32-native sequence)
// checked element by element against the samplers of src/random; a live step against a plain
// loop; the same bits with and without a FastRandom handle; and the distribution carried by
// records, seed logs (header byte 21), histories, checkpoints and folds, with every mismatch
// refused, naming both values, before anything is written.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import type { FastRandom } from "../../src/random/index.js";
import { fillNormal, normal, normalFloat32, useFastRandom } from "../../src/random/index.js";
import { DirectionScratch, addDirection, directionChunkLength } from "../../src/zo/apply.js";
import type { ZoDirectionDistribution } from "../../src/zo/directions.js";
import { fillDirection, freshStream } from "../../src/zo/directions.js";
import { Fnv1a64 } from "../../src/zo/hash.js";
import type { ZoMethod } from "../../src/zo/method.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import type { ZoStepRecord } from "../../src/zo/record.js";
import { ZoHistory, replay } from "../../src/zo/replay.js";
import { foldLog, replayFolded } from "../../src/zo/seedFold.js";
import { SeedLog, SeedLogError } from "../../src/zo/seedLog.js";
import { zoAdam } from "../../src/zo/zoAdam.js";
import {
  ZoCheckpointError,
  readZoCheckpoint,
  restoreZoCheckpoint,
  serializeZoCheckpoint,
} from "../../src/zo/zoCheckpoint.js";
import { zoSgd } from "../../src/zo/zoSgd.js";
import { assertSameBits } from "../helpers/assertions.js";

const DISTRIBUTIONS: readonly ZoDirectionDistribution[] = ["normal", "normalFloat32"];

/** Element i of the direction (distribution, seed, stream), rounded like a layout of `dtype`. */
function element(
  distribution: ZoDirectionDistribution,
  seed: number,
  stream: number,
  i: number,
  dtype: DType,
): number {
  const z = distribution === "normal" ? normal(seed, stream, i) : normalFloat32(seed, stream, i);
  return dtype === "float32" ? Math.fround(z) : z;
}

function buffer(dtype: DType, d: number): FloatArray {
  return dtype === "float32" ? new Float32Array(d) : new Float64Array(d);
}

function params(dtype: DType, d: number, seed = 3): ParamSet {
  const set = ParamSet.zeros([{ name: "w", shape: [d] }], dtype);
  fillNormal(set.data, seed, 1);
  return set;
}

/** f(θ) = ½ Σ a_i (θ_i − cos i)², a float64 sum. */
function quadratic(d: number): (p: ArrayLike<number>) => number {
  const a = Float64Array.from({ length: d }, (_, i) => 0.5 + ((i * 37) % 11) / 5);
  const c = Float64Array.from({ length: d }, (_, i) => Math.cos(i));
  return (p) => {
    let f = 0;
    for (let i = 0; i < p.length; i++) f += 0.5 * a[i] * (p[i] - c[i]) ** 2;
    return f;
  };
}

/** The error `run` throws, which must be an InvalidArgumentError. */
function invalidArgument(run: () => unknown): InvalidArgumentError {
  try {
    run();
  } catch (e) {
    assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
    return e;
  }
  assert.fail("expected an InvalidArgumentError");
}

/** A handle that forwards to `inner` and counts the fills it is asked for. */
function countingHandle(inner: FastRandom): FastRandom & { calls: number } {
  const handle = {
    calls: 0,
    enabled: inner.enabled,
    threads: inner.threads,
    fillNormal<T extends Float32Array | Float64Array>(
      out: T,
      seed: number,
      stream: number,
      start?: number,
    ): T {
      handle.calls++;
      return inner.fillNormal(out, seed, stream, start);
    },
    fillNormalFloat32<T extends Float32Array | Float64Array>(
      out: T,
      seed: number,
      stream: number,
      start?: number,
    ): T {
      handle.calls++;
      return inner.fillNormalFloat32(out, seed, stream, start);
    },
    close: () => inner.close(),
  };
  return handle;
}

let fast: FastRandom;
before(async () => {
  fast = await useFastRandom({ threads: 1 });
});
after(async () => {
  await fast.close();
});

describe("direction distributions", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`fillDirection gives each sequence element by element, in any slice (${dtype})`, () => {
      const d = 301;
      for (const distribution of DISTRIBUTIONS) {
        const whole = fillDirection(buffer(dtype, d), 7, 12, 0, distribution);
        for (let i = 0; i < d; i++) {
          assert.ok(
            Object.is(whole[i], element(distribution, 7, 12, i, dtype)),
            `${distribution}[${i}]`,
          );
        }
        // Slices starting inside a Philox block (odd starts, starts ≡ 1, 2, 3 mod 4).
        for (const start of [1, 2, 3, 5, 150]) {
          const part = fillDirection(buffer(dtype, 37), 7, 12, start, distribution);
          assertSameBits(part, whole.subarray(start, start + 37), `${distribution} from ${start}`);
        }
      }
      // The default is "normal", and the two sequences are different ones.
      const plain = fillDirection(buffer(dtype, d), 7, 12);
      assertSameBits(plain, fillDirection(buffer(dtype, d), 7, 12, 0, "normal"), "default");
      const other = fillDirection(buffer(dtype, d), 7, 12, 0, "normalFloat32");
      assert.ok(plain.some((x, i) => x !== other[i]));
    });
  }

  it("normalFloat32 directions are float32 values, widened exactly in a float64 layout", () => {
    const wide = fillDirection(new Float64Array(1000), 4, 9, 0, "normalFloat32");
    const narrow = fillDirection(new Float32Array(1000), 4, 9, 0, "normalFloat32");
    assertSameBits(wide, narrow, "float64 layout against float32 layout");
    assert.ok(wide.every((x) => Math.fround(x) === x && Math.abs(x) <= 5.77));
  });

  it("refuses an unknown distribution and a handle that is not one, naming the value", () => {
    const e = invalidArgument(() => zoSgd({ directionDistribution: "uniform" as never }));
    assert.equal(e.parameter, "directionDistribution");
    assert.match(e.message, /"uniform"/);
    assert.throws(
      () => fillDirection(new Float32Array(4), 1, 1, 0, "rademacher" as never),
      /distribution must be "normal" or "normalFloat32", got "rademacher"/,
    );
    const bad = invalidArgument(
      () => new ZoOptimizer(new Float32Array(8), zoSgd(), { random: {} as never }),
    );
    assert.equal(bad.parameter, "random");
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`a normalFloat32 ZO-SGD step is θ − fround(lr·g)·z with z of that sequence (${dtype})`, async () => {
      const d = 700;
      const lr = 0.01;
      const eps = 1e-3;
      const f = quadratic(d);
      const theta = params(dtype, d);
      const before = Array.from(theta.data);
      const opt = new ZoOptimizer(
        theta,
        zoSgd({ learningRate: lr, epsilon: eps, seed: 11, directionDistribution: "normalFloat32" }),
      );
      const { records } = await opt.step(f);
      const round = (x: number) => (dtype === "float32" ? Math.fround(x) : x);
      const z = before.map((_, i) => element("normalFloat32", 11, freshStream(0, 0), i, dtype));
      const g =
        (f(before.map((t, i) => round(t + eps * z[i]))) -
          f(before.map((t, i) => round(t - eps * z[i])))) /
        (2 * eps);
      const scalar = Math.fround(lr * g);
      assert.equal(records[0].scalar, scalar);
      assert.equal(records[0].directionDistribution, "normalFloat32");
      assert.deepEqual(
        Array.from(theta.data),
        before.map((t, i) => round(t - scalar * z[i])),
      );
      // Records of a "normal" run leave the field out, as every record before the choice did.
      const plain = new ZoOptimizer(params(dtype, d), zoSgd({ learningRate: lr, seed: 11 }));
      assert.equal("directionDistribution" in (await plain.step(f)).records[0], false);
    });
  }
});

describe("direction distributions: the FastRandom handle", () => {
  const methods: [string, (distribution: ZoDirectionDistribution) => ZoMethod][] = [
    [
      "ZO-SGD in place",
      (directionDistribution) =>
        zoSgd({
          learningRate: 0.01,
          directions: 2,
          seed: 5,
          perturbation: "inPlace",
          directionDistribution,
        }),
    ],
    [
      "ZO-Adam, virtual",
      (directionDistribution) =>
        zoAdam({ learningRate: 0.01, directions: 3, seed: 6, directionDistribution }),
    ],
  ];
  for (const dtype of ["float32", "float64"] as const) {
    for (const distribution of DISTRIBUTIONS) {
      it(`gives the same parameters and records as the JavaScript fills (${distribution}, ${dtype})`, async () => {
        assert.equal(fast.enabled, true, "WebAssembly SIMD is available in Node.js");
        // 20,001 parameters: chunks of 320 values and a last chunk of 161.
        const d = 20_001;
        const f = quadratic(d);
        for (const [name, method] of methods) {
          const plain = new ZoOptimizer(params(dtype, d), method(distribution));
          const handle = countingHandle(fast);
          const quick = new ZoOptimizer(params(dtype, d), method(distribution), {
            random: handle,
          });
          for (let t = 0; t < 3; t++) {
            const a = await plain.step(f);
            const b = await quick.step(f);
            assert.deepEqual(b.records, a.records, `${name}: records of step ${t}`);
          }
          assertSameBits(quick.params, plain.params, `${name}: parameters`);
          for (const key of Object.keys(plain.state)) {
            assertSameBits(quick.state[key], plain.state[key], `${name}: state ${key}`);
          }
          assert.ok(handle.calls > 0, `${name}: the handle generated the directions`);
        }
      });
    }
  }

  it("works in chunks of the largest length too (8192 values), and in replays", async () => {
    const d = 600_000;
    assert.equal(directionChunkLength(d), 8192);
    const f = quadratic(d);
    for (const distribution of DISTRIBUTIONS) {
      const method = () =>
        zoSgd({ learningRate: 1e-3, seed: 8, directionDistribution: distribution });
      const base = params("float32", d);
      const plain = new ZoOptimizer(base.clone(), method());
      const quick = new ZoOptimizer(base.clone(), method(), { random: fast });
      const records: ZoStepRecord[] = [];
      for (let t = 0; t < 2; t++) {
        records.push(...(await plain.step(f)).records);
        await quick.step(f);
      }
      assertSameBits(quick.params, plain.params, `${distribution}: parameters`);
      const handle = countingHandle(fast);
      const replayed = replay(base, records, { random: handle });
      assertSameBits(replayed, plain.params, `${distribution}: replay with the handle`);
      assert.ok(handle.calls > 0);
    }
  });

  it("a scratch keeps its handle when another element type needs its own chunk", () => {
    const handle = countingHandle(fast);
    const scratch = DirectionScratch.for(new Float32Array(4096), handle);
    const target = new Float64Array(4096);
    addDirection(
      target,
      { seed: 1, stream: 2, directionDistribution: "normalFloat32" },
      1,
      scratch,
    );
    assert.ok(handle.calls > 0);
    const expected = Array.from({ length: 4096 }, (_, i) =>
      element("normalFloat32", 1, 2, i, "float64"),
    );
    assert.deepEqual(Array.from(target), expected);
  });
});

/** A live virtual ZO-SGD run and its records, from base weights of `dtype`. */
async function liveRun(
  distribution: ZoDirectionDistribution,
  options: { dtype?: DType; d?: number; steps?: number; pool?: number } = {},
) {
  const { dtype = "float32", d = 500, steps = 6, pool } = options;
  const base = params(dtype, d);
  const live = base.clone();
  const opt = new ZoOptimizer(
    live,
    zoSgd({
      learningRate: 0.02,
      directions: 2,
      seed: 13,
      directionDistribution: distribution,
      ...(pool === undefined ? {} : { directionSource: { kind: "pool" as const, size: pool } }),
    }),
  );
  const history = ZoHistory.start(base, { directionDistribution: distribution });
  const records: ZoStepRecord[] = [];
  const f = quadratic(d);
  for (let t = 0; t < steps; t++) {
    const step = (await opt.step(f)).records;
    history.record(step, live);
    records.push(...step);
  }
  return { base, live, history, records };
}

/** Records as a run of the other distribution would have them (same scalars). */
function relabelled(records: readonly ZoStepRecord[], to: ZoDirectionDistribution): ZoStepRecord[] {
  return records.map((r) => {
    const copy: Record<string, unknown> = { ...r };
    if (to === "normal") delete copy.directionDistribution;
    else copy.directionDistribution = to;
    return copy as unknown as ZoStepRecord;
  });
}

describe("direction distributions: seed logs", () => {
  it("stores the distribution in header byte 21 and gives it back with every record", async () => {
    for (const distribution of DISTRIBUTIONS) {
      const { records } = await liveRun(distribution, { steps: 2 });
      const log = new SeedLog({ keepProjectedGradients: true });
      log.appendAll(records);
      const bytes = log.encode();
      assert.equal(bytes[21], distribution === "normal" ? 0 : 1);
      assert.deepEqual([...bytes.subarray(22, 24)], [0, 0]);
      const decoded = SeedLog.decode(bytes);
      assert.equal(decoded.run?.directionDistribution, distribution);
      assert.deepEqual([...decoded], records);
      assert.equal(
        [...decoded].every((r) => "directionDistribution" in r),
        distribution !== "normal",
      );
    }
  });

  it("reads a log whose byte 21 is 0 (every log written before the choice) as normal", async () => {
    const { records } = await liveRun("normal", { steps: 2 });
    const log = new SeedLog();
    log.appendAll(records);
    const bytes = log.encode();
    assert.equal(bytes[21], 0);
    assert.equal(SeedLog.decode(bytes).run?.directionDistribution, "normal");
  });

  it("refuses an unknown distribution code under a valid checksum", async () => {
    const { records } = await liveRun("normalFloat32", { steps: 1 });
    const log = new SeedLog();
    log.appendAll(records);
    const forged = log.encode().slice();
    forged[21] = 2;
    const body = forged.length - 8;
    forged.set(new Fnv1a64().update(forged.subarray(0, body)).digestBytes(), body);
    assert.throws(
      () => SeedLog.decode(forged),
      (e: unknown) =>
        e instanceof SeedLogError &&
        e.reason === "malformed" &&
        /direction distribution code 2/.test(e.message),
    );
  });

  it("refuses a record of the other distribution, naming both, and stays as it was", async () => {
    const { records } = await liveRun("normalFloat32", { steps: 2 });
    const log = new SeedLog();
    log.appendAll(records.slice(0, 2));
    const before = log.encode();
    const wrong = relabelled(records.slice(2, 4), "normal");
    const e = invalidArgument(() => log.appendAll(wrong));
    assert.equal(e.parameter, "directionDistribution");
    assert.match(e.message, /normalFloat32/);
    assert.match(e.message, /got "normal"/);
    assert.deepEqual(log.encode(), before);
    const unknown = invalidArgument(() =>
      new SeedLog().append({ ...records[0], directionDistribution: "uniform" as never }),
    );
    assert.equal(unknown.parameter, "directionDistribution");
  });
});

describe("direction distributions: replay", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`replays a normalFloat32 run bit for bit, and only as one (${dtype})`, async () => {
      const { base, live, records } = await liveRun("normalFloat32", { dtype });
      assertSameBits(replay(base, records), live.data, "replay");
      assertSameBits(
        replay(base, records, { directionDistribution: "normalFloat32" }),
        live.data,
        "replay expecting normalFloat32",
      );
      // The same scalars along the other sequence rebuild something else.
      const other = replay(base, relabelled(records, "normal"));
      assert.ok(other.some((x, i) => x !== live.data[i]));

      const out = base.data.slice().fill(7);
      const e = invalidArgument(() =>
        replay(base, records, { directionDistribution: "normal", out }),
      );
      assert.equal(e.parameter, "directionDistribution");
      assert.match(e.message, /must be normal/);
      assert.match(e.message, /"normalFloat32"/);
      assert.ok(
        out.every((x) => x === 7),
        "nothing written",
      );
    });
  }

  it("ZoOptimizer.replay: rebuilds θ and state bit for bit, refuses the other distribution", async () => {
    const d = 900;
    const f = quadratic(d);
    const method = (directionDistribution: ZoDirectionDistribution) =>
      zoAdam({
        learningRate: 0.01,
        directions: 2,
        seed: 4,
        perturbation: "inPlace",
        directionDistribution,
      });
    const base = params("float32", d);
    const live = new ZoOptimizer(base.clone(), method("normalFloat32"));
    const steps: ZoStepRecord[][] = [];
    for (let t = 0; t < 3; t++) steps.push([...(await live.step(f)).records]);

    const again = new ZoOptimizer(base.clone(), method("normalFloat32"));
    for (const s of steps) again.replay(s);
    assertSameBits(again.params, live.params, "parameters");
    for (const key of Object.keys(live.state)) {
      assertSameBits(again.state[key], live.state[key], `state ${key}`);
    }

    const cases: [ZoDirectionDistribution, ZoStepRecord[]][] = [
      ["normal", steps[0]],
      ["normalFloat32", relabelled(steps[0], "normal")],
    ];
    for (const [runs, records] of cases) {
      const opt = new ZoOptimizer(base.clone(), method(runs));
      const e = invalidArgument(() => opt.replay(records));
      const recorded = runs === "normal" ? "normalFloat32" : "normal";
      assert.equal(e.parameter, "directionDistribution of record 0");
      assert.match(e.message, new RegExp(`must be ${runs} `));
      assert.match(e.message, new RegExp(`got "${recorded}"`));
      assertSameBits(opt.params, base.data, "nothing written");
      assert.equal(opt.count, 0);
    }
  });

  it("ZoHistory refuses records of another distribution than its own, naming both", async () => {
    const { base, records } = await liveRun("normalFloat32", { steps: 1 });
    const normalHistory = ZoHistory.start(base);
    assert.equal(normalHistory.directionDistribution, "normal");
    const e = invalidArgument(() => normalHistory.record(records, base));
    assert.match(e.message, /must be normal, this history's/);
    assert.match(e.message, /got "normalFloat32"/);
    assert.equal(normalHistory.log.length, 0);

    const float32History = ZoHistory.start(base, { directionDistribution: "normalFloat32" });
    invalidArgument(() => float32History.record(relabelled(records, "normal"), base));
    assert.equal(float32History.log.length, 0);

    const log = new SeedLog();
    log.appendAll(records);
    const parts = { layout: base.layout, baseHash: normalHistory.baseHash, log, snapshots: [] };
    const mismatch = invalidArgument(() =>
      ZoHistory.fromParts({ ...parts, snapshotEvery: 0, directionDistribution: "normal" }),
    );
    assert.match(mismatch.message, /must be normal/);
    assert.match(mismatch.message, /"normalFloat32"/);
    const inferred = ZoHistory.fromParts({ ...parts, snapshotEvery: 0 });
    assert.equal(inferred.directionDistribution, "normalFloat32");
  });
});

describe("direction distributions: checkpoints", () => {
  /** Changes `from` to `to` (same length) in a checkpoint's header and reseals its checksum. */
  function patched(bytes: Uint8Array, from: string, to: string): Uint8Array {
    assert.equal(from.length, to.length);
    const at = new TextDecoder().decode(bytes).indexOf(from);
    assert.ok(at > 0, `${from} not found`);
    const out = bytes.slice();
    out.set(new TextEncoder().encode(to), at);
    const body = out.length - 8;
    out.set(new Fnv1a64().update(out.subarray(0, body)).digestBytes(), body);
    return out;
  }
  const KEY = '"descend.directionDistribution"';
  const OTHER_KEY = '"descend.xxxxxxxxxxxxxxxxxxxxx"';

  it("records the distribution and restores a normalFloat32 run bit for bit", async () => {
    for (const distribution of DISTRIBUTIONS) {
      const { base, live, history } = await liveRun(distribution);
      const bytes = serializeZoCheckpoint(history, live);
      assert.ok(new TextDecoder().decode(bytes).includes(`${KEY}:"${distribution}"`));
      const handle = countingHandle(fast);
      const restored = restoreZoCheckpoint(bytes, base, { random: handle });
      assertSameBits(restored.params.data, live.data, `${distribution}: restored`);
      assert.equal(restored.history.directionDistribution, distribution);
      assert.ok(handle.calls > 0);
    }
  });

  it("reads a file without the key (written before the choice) as a normal run", async () => {
    const { base, live, history } = await liveRun("normal");
    const legacy = patched(serializeZoCheckpoint(history, live), KEY, OTHER_KEY);
    const restored = restoreZoCheckpoint(legacy, base);
    assertSameBits(restored.params.data, live.data, "restored");
    assert.equal(restored.history.directionDistribution, "normal");
  });

  it("refuses metadata that disagrees with the log, or an unknown value, naming them", async () => {
    const { live, history } = await liveRun("normalFloat32");
    const bytes = serializeZoCheckpoint(history, live);
    const cases: [Uint8Array, RegExp[]][] = [
      [patched(bytes, KEY, OTHER_KEY), [/must be normal/, /"normalFloat32"/]],
      [
        patched(bytes, '"normalFloat32"', '"normalFloat64"'),
        [/directionDistribution" is "normalFloat64"/],
      ],
    ];
    for (const [file, messages] of cases) {
      assert.throws(
        () => readZoCheckpoint(file),
        (e: unknown) =>
          e instanceof ZoCheckpointError &&
          e.reason === "malformed" &&
          messages.every((m) => m.test(e.message)),
      );
    }
  });
});

describe("direction distributions: folding", () => {
  it("a fold keeps its run's distribution and replays along it, refusing the other", async () => {
    const { base, live, history } = await liveRun("normalFloat32", { pool: 4, steps: 30 });
    const fold = foldLog(history.log);
    assert.equal(fold.directionDistribution, "normalFloat32");
    const bound = new Float64Array(live.data.length);
    const folded = replayFolded(base, fold, { bound });
    for (let i = 0; i < folded.length; i++) {
      assert.ok(Math.abs(folded[i] - live.data[i]) <= bound[i], `coordinate ${i}`);
    }
    const handle = countingHandle(fast);
    assertSameBits(replayFolded(base, fold, { random: handle }), folded, "with the handle");
    assert.ok(handle.calls > 0);
    // Folded along the other sequence, the model is far outside the bound.
    const other = replayFolded(base, { ...fold, directionDistribution: "normal" });
    assert.ok(other.some((x, i) => Math.abs(x - live.data[i]) > bound[i]));

    const out = base.data.slice().fill(3);
    const e = invalidArgument(() =>
      replayFolded(base, fold, { directionDistribution: "normal", out }),
    );
    assert.match(e.message, /must be normal/);
    assert.match(e.message, /"normalFloat32"/);
    assert.ok(
      out.every((x) => x === 3),
      "nothing written",
    );
  });
});
