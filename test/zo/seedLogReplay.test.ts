// Replay and folding against live runs of the zeroth-order optimizers: the live parameters and
// the replayed ones have the same fingerprint and the same bits (float32 and float64, fresh and
// pooled directions, float32 scalars and one-byte codes, ZO-SGD and ZO-SGD-Cons), a plain
// whole-vector loop over the records agrees, replay from a snapshot equals replay from the base,
// folded replay stays within its stated rounding bound, and every run that cannot replay from
// its records is refused before anything is written.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillNormal } from "../../src/random/index.js";
import type { DirectionSource } from "../../src/zo/directions.js";
import { hashBits } from "../../src/zo/hash.js";
import type { ZoMethod } from "../../src/zo/method.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import type { ZoStepRecord } from "../../src/zo/record.js";
import { ZoHistory, applySteps, replay, takeSnapshot } from "../../src/zo/replay.js";
import { scalarCodeQuantizer } from "../../src/zo/scalarCode.js";
import { foldLog, replayFolded } from "../../src/zo/seedFold.js";
import { SeedLog } from "../../src/zo/seedLog.js";
import { zoAdam } from "../../src/zo/zoAdam.js";
import { zoCons } from "../../src/zo/zoCons.js";
import { zoMomentum } from "../../src/zo/zoMomentum.js";
import { zoSgd } from "../../src/zo/zoSgd.js";
import { zoSign } from "../../src/zo/zoSign.js";
import { assertSameBits } from "../helpers/assertions.js";

const D = 9000; // crosses the 8192-element chunk boundary

/** f(θ) = ½ Σ a_i (θ_i − c_i)², a float64 sum. */
function quadratic(d: number): (p: ArrayLike<number>) => number {
  const a = Float64Array.from({ length: d }, (_, i) => 0.5 + ((i * 37) % 11) / 5);
  const c = Float64Array.from({ length: d }, (_, i) => Math.cos(i));
  return (p) => {
    let f = 0;
    for (let i = 0; i < p.length; i++) f += 0.5 * a[i] * (p[i] - c[i]) ** 2;
    return f;
  };
}

function baseParams(dtype: DType, d = D): ParamSet {
  const bias = Math.min(100, Math.floor(d / 4));
  const set = ParamSet.zeros(
    [
      { name: "w", shape: [d - bias] },
      { name: "b", shape: [bias] },
    ],
    dtype,
  );
  fillNormal(set.data, 3, 1);
  return set;
}

interface LiveRun {
  base: ParamSet;
  live: ParamSet;
  history: ZoHistory;
  /** Live parameters after each step t + 1, for the steps in `keepAt`. */
  kept: Map<number, FloatArray>;
}

async function liveRun(
  method: ZoMethod,
  dtype: DType,
  steps: number,
  options: { snapshotEvery?: number; code8?: number; keepAt?: number[]; d?: number } = {},
): Promise<LiveRun> {
  const d = options.d ?? D;
  const base = baseParams(dtype, d);
  const live = base.clone();
  const history = ZoHistory.start(base, {
    snapshotEvery: options.snapshotEvery ?? 0,
    keepProjectedGradients: true,
    ...(options.code8 !== undefined
      ? { scalarEncoding: "code8", scaleExponent: options.code8 }
      : {}),
  });
  const opt = new ZoOptimizer(live, method);
  const f = quadratic(d);
  const kept = new Map<number, FloatArray>();
  for (let t = 0; t < steps; t++) {
    const { records } = await opt.step(f);
    history.record(records, live);
    if (options.keepAt?.includes(t + 1)) kept.set(t + 1, live.data.slice());
  }
  return { base, live, history, kept };
}

/** θ ← fl(θ − s·z) for each record, z generated whole by fillNormal: the plain definition. */
function plainReplay(base: FloatArray, records: Iterable<ZoStepRecord>): FloatArray {
  const theta = base.slice();
  const z =
    theta instanceof Float32Array ? new Float32Array(theta.length) : new Float64Array(theta.length);
  for (const r of records) {
    if (r.scalar === 0) continue;
    fillNormal(z, r.seed, r.stream);
    for (let i = 0; i < theta.length; i++) theta[i] = theta[i] - r.scalar * z[i];
  }
  return theta;
}

/** A decaying learning rate that ZO-SGD stays stable with in d dimensions (steps grow like √d). */
const schedule = (d: number) => (t: number) => 1 / d / (1 + 0.05 * t);
const pool = (size: number): DirectionSource => ({ kind: "pool", size });

describe("replay of live zeroth-order runs", () => {
  it("ZO-Sign (projected, the default): replayed from its scalars like ZO-SGD", async () => {
    const { base, live, history } = await liveRun(
      zoSign({ learningRate: 1e-3, directions: 2, seed: 5 }),
      "float32",
      12,
    );
    assert.ok([...history.log].every((r) => r.method === "zoSign"));
    assertSameBits(replay(base, history.log), live.data, "replay");
    assertSameBits(plainReplay(base.data, history.log), live.data, "plain replay");
  });

  for (const dtype of ["float32", "float64"] as const) {
    it(`ZO-SGD (${dtype}): replayed parameters equal the live ones by fingerprint and bits`, async () => {
      const { base, live, history } = await liveRun(
        zoSgd({ learningRate: schedule(D), directions: 3, seed: 11 }),
        dtype,
        25,
      );
      const f = quadratic(D);
      assert.ok(
        f(live.data) < 0.995 * f(base.data),
        `the run made progress: ${f(base.data)} → ${f(live.data)}`,
      );
      const replayed = replay(base, history.log);
      assert.equal(hashBits(replayed), hashBits(live.data));
      assertSameBits(replayed, live.data, "replay");
      assertSameBits(plainReplay(base.data, history.log), live.data, "plain whole-vector replay");
      // Through the log's bytes, as a peer would receive it.
      const received = SeedLog.decode(history.log.encode());
      assert.equal(hashBits(replay(base.data, received)), hashBits(live.data));
      // An array of records replays the same, and the base weights were not touched.
      assert.equal(hashBits(replay(base, [...history.log])), hashBits(live.data));
      assert.equal(hashBits(base.data), history.baseHash);
    });
  }

  it("replay from a snapshot equals replay from the base, at every step", async () => {
    const keepAt = [0, 5, 7, 13, 14, 20];
    const { base, history, kept } = await liveRun(
      zoSgd({ learningRate: 0.5 / D, directions: 2, seed: 4, directionSource: pool(5) }),
      "float32",
      20,
      { snapshotEvery: 7, keepAt },
    );
    assert.deepEqual(
      history.snapshots.map((s) => s.step),
      [7, 14],
    );
    for (const step of [0, 3, 7, 10, 14, 17, 20]) {
      const full = replay(base, history.log, { toStep: step });
      const fromSnapshot = replay(base, history.log, {
        toStep: step,
        snapshots: history.snapshots,
      });
      assertSameBits(fromSnapshot, full, `step ${step}`);
      assertSameBits(history.replay(base, step), full, `history, step ${step}`);
      const live = kept.get(step);
      if (live !== undefined) assertSameBits(full, live, `live parameters after ${step} steps`);
      else if (step === 0) assertSameBits(full, base.data, "no steps");
    }
    // Catching up from one point to another in place.
    const caughtUp = kept.get(7)!.slice();
    applySteps(caughtUp, history.log, 7, 13);
    assertSameBits(caughtUp, kept.get(13)!, "applySteps 7 → 13");
  });

  it("ZO-SGD-Cons with virtual candidates replays from its signed scalars", async () => {
    const { base, live, history } = await liveRun(
      zoCons({ learningRate: 1e-3, directions: 2, seed: 2 }),
      "float32",
      15,
      { d: 300 },
    );
    const records = [...history.log];
    for (const r of records) {
      const trial = r.trialScalar!;
      assert.ok(r.scalar === trial || r.scalar === -trial || r.scalar === 0, `step ${r.step}`);
    }
    assert.ok(
      records.some((r) => r.scalar !== 0),
      "some steps moved",
    );
    assertSameBits(replay(base, history.log), live.data, "zoCons replay");
  });

  it("one-byte codes: the sender applies the decoded scalar, the replayer rebuilds it exactly", async () => {
    const p = -14;
    const { base, live, history } = await liveRun(
      zoSgd({
        learningRate: 2e-4,
        directions: 2,
        seed: 9,
        quantizeScalar: scalarCodeQuantizer(p),
      }),
      "float32",
      20,
      { code8: p, d: 2000 },
    );
    const bytes = history.log.encode();
    assert.equal(history.log.recordBytes, 4 + 4 + 8 + 8 + 8 + 1);
    const received = SeedLog.decode(bytes);
    assertSameBits(replay(base, received), live.data, "replay from codes");
    assert.ok(
      [...received].some((r) => r.scalar !== 0),
      "some steps moved",
    );
  });

  it("refuses logs that do not replay from their records, writing nothing", async () => {
    const d = 64;
    const cases: [ZoMethod, string, unknown][] = [
      [zoMomentum({ learningRate: 0.01 }), "record.method", "zoMomentum"],
      [zoAdam({ learningRate: 0.01 }), "record.method", "zoAdam"],
      [zoSign({ learningRate: 0.01, signOf: "estimate" }), "record.method", "zoSignEstimate"],
      [zoSgd({ learningRate: 0.01, perturbation: "inPlace" }), "record.perturbation", "inPlace"],
    ];
    for (const [method, parameter, value] of cases) {
      const base = baseParams("float32", d);
      const opt = new ZoOptimizer(base.clone(), method);
      const log = new SeedLog();
      for (let t = 0; t < 3; t++) log.appendAll((await opt.step(quadratic(d))).records);
      const out = new Float32Array(d).fill(7);
      assert.throws(
        () => replay(base, log, { out }),
        (e: unknown) =>
          e instanceof InvalidArgumentError && e.parameter === parameter && e.value === value,
      );
      assert.ok(
        out.every((x) => x === 7),
        "out untouched",
      );
      const history = ZoHistory.start(base);
      const records = log.sliceSteps(0, 1);
      assert.throws(
        () => history.record([...records], base),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
      );
      assert.equal(history.log.length, 0, "history unchanged");
    }
  });

  it("refuses an altered snapshot, other base weights and buffers of another kind", async () => {
    const { base, history } = await liveRun(zoSgd({ learningRate: 0.01 }), "float32", 6, {
      snapshotEvery: 3,
      d: 50,
    });
    const altered = { ...history.snapshots[1], params: history.snapshots[1].params.slice() };
    altered.params[4] += 1;
    const out = new Float32Array(50).fill(7);
    assert.throws(
      () => replay(base, history.log, { snapshots: [history.snapshots[0], altered], out }),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "snapshots[1].hash",
    );
    assert.ok(out.every((x) => x === 7));
    const other = base.clone();
    other.data[0] += 1;
    assert.throws(
      () => history.replay(other),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "base",
    );
    assert.throws(
      () => replay(base, history.log, { out: new Float64Array(50) }),
      /out must be a buffer like/,
    );
    assert.throws(
      () => takeSnapshot(-1, base),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "step",
    );
  });

  it("ZoHistory takes whole steps only", async () => {
    const base = baseParams("float32", 40);
    const opt = new ZoOptimizer(base.clone(), zoSgd({ learningRate: 0.01, directions: 3 }));
    const { records } = await opt.step(quadratic(40));
    const history = ZoHistory.start(base, { snapshotEvery: 1 });
    assert.throws(
      () => history.record(records.slice(0, 2), opt.params),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "stepRecords",
    );
    assert.equal(history.log.length, 0);
    assert.equal(history.snapshots.length, 0);
    history.record(records, opt.params);
    assert.equal(history.snapshots[0].hash, hashBits(opt.params));
  });
});

describe("seed-pool folding", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`folded replay (${dtype}) is within the stated bound of the live run, with K accumulators`, async () => {
      const K = 6;
      const { base, live, history } = await liveRun(
        zoSgd({ learningRate: schedule(3000), directions: 2, seed: 21, directionSource: pool(K) }),
        dtype,
        120,
        { d: 3000 },
      );
      const fold = foldLog(history.log);
      assert.equal(fold.records, 240);
      assert.ok(fold.members.length <= K);
      assert.deepEqual(
        fold.members.map((m) => m.records).reduce((a, b) => a + b, 0),
        240,
      );
      const bound = new Float64Array(live.data.length);
      const folded = replayFolded(base, fold, { bound });
      let worst = 0;
      for (let i = 0; i < folded.length; i++) {
        const gap = Math.abs(folded[i] - live.data[i]);
        assert.ok(gap <= bound[i], `coordinate ${i}: |folded − live| = ${gap} > bound ${bound[i]}`);
        worst = Math.max(worst, gap / bound[i]);
      }
      assert.ok(worst < 1);
      // The bound is tight enough to see a single missing record (the largest step, zeroed).
      const records = [...history.log];
      const largest = records.reduce(
        (b, r, i) => (Math.abs(r.scalar) > Math.abs(records[b].scalar) ? i : b),
        0,
      );
      records[largest] = { ...records[largest], scalar: 0 };
      const wrong = replayFolded(base, foldLog(records));
      assert.ok(
        wrong.some((x, i) => Math.abs(x - live.data[i]) > bound[i]),
        "zeroing one record must break the bound somewhere",
      );
    });
  }

  it("folds ZO-SGD-Cons runs too", async () => {
    const { base, live, history } = await liveRun(
      zoCons({ learningRate: 1e-3, directions: 2, seed: 8, directionSource: pool(4) }),
      "float32",
      30,
      { d: 500 },
    );
    const bound = new Float64Array(500);
    const folded = replayFolded(base, foldLog(history.log), { bound });
    folded.forEach((x, i) => assert.ok(Math.abs(x - live.data[i]) <= bound[i], `coordinate ${i}`));
  });

  it("enforces its restrictions, naming the field", async () => {
    const d = 32;
    const logOf = async (method: ZoMethod) => {
      const opt = new ZoOptimizer(baseParams("float32", d), method);
      const log = new SeedLog();
      for (let t = 0; t < 2; t++) log.appendAll((await opt.step(quadratic(d))).records);
      return log;
    };
    const cases: [ZoMethod, string][] = [
      [zoSgd({ learningRate: 0.01 }), "record.seedIndex"],
      [zoAdam({ learningRate: 0.01, directionSource: pool(3) }), "record.method"],
      [
        zoSgd({ learningRate: 0.01, directionSource: pool(3), perturbation: "inPlace" }),
        "record.perturbation",
      ],
    ];
    for (const [method, parameter] of cases) {
      const log = await logOf(method);
      assert.throws(
        () => foldLog(log),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
      );
    }
    assert.throws(
      () =>
        replayFolded(baseParams("float32", d), {
          seed: 0,
          records: 1,
          members: [{ seedIndex: 0, stream: 5, sum: 1, absoluteSum: 1, records: 1 }],
        }),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "fold",
    );
  });
});
