import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import type { FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillNormal } from "../../src/random/index.js";
import { applyRecord } from "../../src/zo/apply.js";
import type { ZoMethod } from "../../src/zo/method.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import type { ZoStepRecord } from "../../src/zo/record.js";
import { zoAdam } from "../../src/zo/zoAdam.js";
import { zoCons } from "../../src/zo/zoCons.js";
import { zoMomentum } from "../../src/zo/zoMomentum.js";
import { zoSgd } from "../../src/zo/zoSgd.js";
import { zoSign } from "../../src/zo/zoSign.js";
import { assertInvalidArgument, assertSameBits } from "../helpers/assertions.js";

const D = 10000; // crosses the 8192-element chunk boundary
const STREAM_STRIDE = 2 ** 20;

/** f(θ) = ½ Σ a_i (θ_i − c_i)² with a_i in [0.5, 2.5] and c_i fixed (a float64 sum). */
function makeQuadratic(d: number) {
  const a = new Float64Array(d);
  const c = new Float64Array(d);
  for (let i = 0; i < d; i++) {
    a[i] = 0.5 + (2 * ((i * 7919) % 1000)) / 1000;
    c[i] = Math.sin(i);
  }
  return (p: ArrayLike<number>) => {
    let f = 0;
    for (let i = 0; i < p.length; i++) f += 0.5 * a[i] * (p[i] - c[i]) ** 2;
    return f;
  };
}
const quadratic = makeQuadratic(D);

function startParams(single: boolean, d = D): FloatArray {
  return fillNormal(single ? new Float32Array(d) : new Float64Array(d), 99, 0);
}

// ---------------------------------------------------------------------------------------------
// The updates written out plainly: whole vectors, one element at a time, no chunks, no kernels.

interface Plain {
  theta: number[];
  m: number[];
  v: number[];
  single: boolean;
}

const round = (x: number, single: boolean) => (single ? Math.fround(x) : x);

function plainDirection(seed: number, t: number, j: number, d: number, single: boolean): number[] {
  // the whole vector in one fill (no chunks), rounded element by element
  const z = fillNormal(new Float64Array(d), seed, t * STREAM_STRIDE + j);
  return Array.from(z, (x) => round(x, single));
}

function shift(theta: number[], z: number[], c: number, single: boolean): number[] {
  return theta.map((x, i) => round(x + c * z[i], single));
}

function power(beta: number, k: number): number {
  let r = 1;
  for (let i = 0; i < k; i++) r *= beta;
  return r;
}

interface PlainOptions {
  method: "sgd" | "momentum" | "adam" | "signProjected" | "signEstimate" | "cons";
  lr: number;
  eps: number;
  n: number;
  seed: number;
}

/** One step of the plain reference (virtual two-point evaluation). */
function plainStep(state: Plain, t: number, o: PlainOptions, f: (p: number[]) => number): void {
  const { single } = state;
  const d = state.theta.length;
  const zs: number[][] = [];
  const g: number[] = [];
  const f0 = o.method === "cons" ? f(state.theta) : Number.NaN;
  for (let j = 0; j < o.n; j++) {
    const z = plainDirection(o.seed, t, j, d, single);
    zs.push(z);
    g.push(
      (f(shift(state.theta, z, o.eps, single)) - f(shift(state.theta, z, -o.eps, single))) /
        (2 * o.eps),
    );
  }
  const applyAll = (theta: number[], scalars: number[]) => {
    let out = theta;
    for (let j = 0; j < o.n; j++) out = shift(out, zs[j], -scalars[j], single);
    return out;
  };
  const estimate = (scalars: number[]) =>
    Array.from({ length: d }, (_, i) => {
      let s = 0;
      for (let j = 0; j < o.n; j++) s += scalars[j] * zs[j][i];
      return s;
    });
  switch (o.method) {
    case "sgd":
      state.theta = applyAll(
        state.theta,
        g.map((gj) => Math.fround((o.lr * gj) / o.n)),
      );
      break;
    case "signProjected":
      state.theta = applyAll(
        state.theta,
        g.map((gj) => Math.fround((o.lr * Math.sign(gj)) / o.n)),
      );
      break;
    case "signEstimate": {
      const gh = estimate(g.map((gj) => Math.fround(gj / o.n)));
      state.theta = state.theta.map((x, i) => round(x - o.lr * Math.sign(gh[i]), single));
      break;
    }
    case "momentum": {
      const gh = estimate(g.map((gj) => Math.fround(gj / o.n)));
      state.m = state.m.map((m, i) => round(0.9 * m + gh[i], single));
      state.theta = state.theta.map((x, i) => round(x - o.lr * state.m[i], single));
      break;
    }
    case "adam": {
      const gh = estimate(g.map((gj) => Math.fround(gj / o.n)));
      const k = t + 1;
      state.m = state.m.map((m, i) => round(0.9 * m + (1 - 0.9) * gh[i], single));
      state.v = state.v.map((v, i) => round(0.999 * v + (1 - 0.999) * gh[i] * gh[i], single));
      const stepSize = o.lr / (1 - power(0.9, k));
      const root = Math.sqrt(1 - power(0.999, k));
      state.theta = state.theta.map((x, i) =>
        round(x - (stepSize * state.m[i]) / (Math.sqrt(state.v[i]) / root + 1e-8), single),
      );
      break;
    }
    case "cons": {
      const trial = g.map((gj) => Math.fround((o.lr * gj) / o.n));
      const minus = applyAll(state.theta, trial);
      const plus = applyAll(
        state.theta,
        trial.map((s) => -s),
      );
      const f1 = f(minus);
      const f2 = f(plus);
      // ZO-Bench zo_conserv_step: the smallest of f0, f1, f2 (ties to θ + Δ)
      if (f1 > f0) state.theta = f0 < f2 ? state.theta : plus;
      else state.theta = f1 < f2 ? minus : plus;
      break;
    }
  }
}

const cases: {
  label: string;
  plain: PlainOptions["method"];
  make: (o: { lr: number; n: number }) => ZoMethod;
}[] = [
  {
    label: "zoSgd",
    plain: "sgd",
    make: ({ lr, n }) => zoSgd({ learningRate: lr, directions: n, seed: 4 }),
  },
  {
    label: "zoMomentum",
    plain: "momentum",
    make: ({ lr, n }) => zoMomentum({ learningRate: lr, directions: n, seed: 4 }),
  },
  {
    label: "zoAdam",
    plain: "adam",
    make: ({ lr, n }) => zoAdam({ learningRate: lr, directions: n, seed: 4 }),
  },
  {
    label: "zoSign (projected)",
    plain: "signProjected",
    make: ({ lr, n }) => zoSign({ learningRate: lr, directions: n, seed: 4 }),
  },
  {
    label: "zoSign (estimate)",
    plain: "signEstimate",
    make: ({ lr, n }) => zoSign({ learningRate: lr, directions: n, seed: 4, signOf: "estimate" }),
  },
  {
    label: "zoCons",
    plain: "cons",
    make: ({ lr, n }) => zoCons({ learningRate: lr, directions: n, seed: 4 }),
  },
];

describe("zeroth-order optimizers against their updates written out", () => {
  for (const c of cases) {
    for (const single of [true, false]) {
      it(`${c.label}, ${single ? "float32" : "float64"}: 3 steps, 3 directions, bit for bit`, async () => {
        const lr = c.plain === "adam" || c.plain.startsWith("sign") ? 1e-3 : 2e-4;
        const theta = startParams(single);
        const plain: Plain = {
          theta: Array.from(theta),
          m: new Array<number>(D).fill(0),
          v: new Array<number>(D).fill(0),
          single,
        };
        const opt = new ZoOptimizer(theta, c.make({ lr, n: 3 }));
        for (let t = 0; t < 3; t++) {
          await opt.step(quadratic);
          plainStep(plain, t, { method: c.plain, lr, eps: 1e-3, n: 3, seed: 4 }, quadratic);
          assertSameBits(theta, plain.theta, `θ after step ${t}`);
        }
        if (c.plain === "momentum") assertSameBits(opt.state.momentum, plain.m, "momentum");
        if (c.plain === "adam") {
          assertSameBits(opt.state.m, plain.m, "m");
          assertSameBits(opt.state.v, plain.v, "v");
        }
        assert.equal(opt.count, 3);
      });
    }
  }

  it("zoCons takes each of its three outcomes as the official rule says", async () => {
    // f along the line: choose values so that each branch happens at least once over the steps
    const outcomes = new Set<string>();
    const opt = new ZoOptimizer(
      new Float64Array([0.3, -0.2]),
      zoCons({ learningRate: 0.5, seed: 1 }),
    );
    const f = (p: FloatArray) => Math.abs(p[0] - 1) + 0.1 * Math.cos(40 * p[1]);
    for (let t = 0; t < 60; t++) {
      const { records } = await opt.step(f);
      const r = records[0];
      outcomes.add(r.scalar === 0 ? "none" : r.scalar === r.trialScalar ? "minus" : "plus");
    }
    assert.deepEqual([...outcomes].sort(), ["minus", "none", "plus"]);
  });

  it("in place: MeZO's writes, then the same update (zoSgd and zoCons)", async () => {
    for (const name of ["sgd", "cons"] as const) {
      const theta = startParams(true) as Float32Array;
      let plain = Array.from(theta);
      const opt = new ZoOptimizer(
        theta,
        name === "sgd"
          ? zoSgd({ learningRate: 2e-4, seed: 4, perturbation: "inPlace" })
          : zoCons({ learningRate: 2e-4, seed: 4, perturbation: "inPlace" }),
      );
      for (let t = 0; t < 2; t++) {
        await opt.step(quadratic);
        const z = plainDirection(4, t, 0, D, true);
        const f0 = quadratic(plain);
        const t1 = shift(plain, z, 1e-3, true);
        const t2 = shift(t1, z, -2e-3, true);
        plain = shift(t2, z, 1e-3, true);
        const s = Math.fround((2e-4 * (quadratic(t1) - quadratic(t2))) / 2e-3);
        if (name === "sgd") plain = shift(plain, z, -s, true);
        else {
          const minus = shift(plain, z, -s, true);
          const plus = shift(minus, z, 2 * s, true);
          const f1 = quadratic(minus);
          const f2 = quadratic(plus);
          plain =
            f1 > f0
              ? f0 < f2
                ? shift(plus, z, -s, true)
                : plus
              : f1 < f2
                ? shift(plus, z, -2 * s, true)
                : plus;
        }
        assertSameBits(theta, plain, `${name} θ after step ${t}`);
      }
    }
  });
});

describe("zeroth-order records and replay", () => {
  const variants: { label: string; make: () => ZoMethod; scalarOnly: boolean }[] = [];
  for (const perturbation of ["virtual", "inPlace"] as const) {
    for (const estimator of ["twoPoint", "onePoint"] as const) {
      const common = { seed: 12, directions: 2, perturbation, estimator };
      const scalarOnly = perturbation === "virtual";
      const tag = `${perturbation}, ${estimator}`;
      variants.push(
        { label: `zoSgd ${tag}`, make: () => zoSgd({ ...common, learningRate: 1e-4 }), scalarOnly },
        {
          label: `zoSign ${tag}`,
          make: () => zoSign({ ...common, learningRate: 1e-3 }),
          scalarOnly,
        },
        {
          label: `zoCons ${tag}`,
          make: () => zoCons({ ...common, learningRate: 1e-4 }),
          scalarOnly,
        },
        {
          label: `zoMomentum ${tag}`,
          make: () => zoMomentum({ ...common, learningRate: 1e-4 }),
          scalarOnly: false,
        },
        {
          label: `zoAdam ${tag}`,
          make: () => zoAdam({ ...common, learningRate: 1e-3 }),
          scalarOnly: false,
        },
        {
          label: `zoSign estimate ${tag}`,
          make: () => zoSign({ ...common, learningRate: 1e-3, signOf: "estimate" }),
          scalarOnly: false,
        },
      );
    }
  }
  const schedule = (t: number) => 1e-4 / (1 + t);

  for (const v of variants) {
    it(`${v.label}: replaying the records rebuilds θ and state bit for bit`, async () => {
      const base = startParams(true, 3000);
      const live = base.slice();
      const log: ZoStepRecord[] = [];
      const opt = new ZoOptimizer(live, v.make(), { onRecord: (r) => log.push(r) });
      const f = makeQuadratic(3000);
      for (let t = 0; t < 5; t++) {
        const { records } = await opt.step(f);
        assert.equal(records.length, 2);
        assert.deepEqual(records, log.slice(2 * t, 2 * t + 2));
        for (const r of records)
          assert.equal(Math.fround(r.scalar), r.scalar, "scalars are float32 values");
      }
      const replayed = base.slice();
      const again = new ZoOptimizer(replayed, v.make());
      for (let t = 0; t < 5; t++) again.replay(log.slice(2 * t, 2 * t + 2));
      assertSameBits(replayed, live, "replayed θ");
      for (const key of Object.keys(opt.state))
        assertSameBits(again.state[key], opt.state[key], key);
      if (v.scalarOnly) {
        const applied = base.slice();
        for (const r of log) applyRecord(applied, r);
        assertSameBits(applied, live, "θ from applyRecord alone");
      }
    });
  }

  it("ZO-SGD with a schedule, a seed pool and a 1-byte quantizer: records alone rebuild θ", async () => {
    const base = startParams(true, 5000);
    const table = [-2e-4, -1e-4, -5e-5, 0, 5e-5, 1e-4, 2e-4].map(Math.fround);
    const quantize = (s: number) =>
      table.reduce((best, x) => (Math.abs(x - s) < Math.abs(best - s) ? x : best));
    const method = zoSgd({
      learningRate: schedule,
      directions: 3,
      seed: 5,
      directionSource: { kind: "pool", size: 4 },
      quantizeScalar: quantize,
    });
    const live = base.slice();
    const opt = new ZoOptimizer(live, method);
    const f = makeQuadratic(5000);
    const log: ZoStepRecord[] = [];
    for (let t = 0; t < 6; t++) log.push(...(await opt.step(f)).records);
    for (const r of log) {
      assert.ok(table.includes(r.scalar), `scalar ${r.scalar} from the table`);
      assert.ok(r.seedIndex !== undefined && r.seedIndex >= 0 && r.seedIndex < 4);
      assert.equal(r.learningRate, schedule(r.step));
    }
    const applied = base.slice();
    for (const r of log) applyRecord(applied, r);
    assertSameBits(applied, live, "θ");
  });

  it("same seed ⇒ same bits; another seed ⇒ other directions", async () => {
    const run = async (seed: number) => {
      const p = startParams(true, 2000);
      const opt = new ZoOptimizer(p, zoAdam({ learningRate: 1e-3, seed, directions: 2 }));
      const f = makeQuadratic(2000);
      const records: ZoStepRecord[] = [];
      for (let t = 0; t < 4; t++) records.push(...(await opt.step(f)).records);
      return { p, records };
    };
    const a = await run(3);
    const b = await run(3);
    assertSameBits(a.p, b.p, "θ");
    assert.deepEqual(a.records, b.records);
    const c = await run(4);
    assert.notDeepEqual(Array.from(c.p), Array.from(a.p));
  });

  it("a mismatched log is refused before anything changes", async () => {
    const p = startParams(true, 1000);
    const opt = new ZoOptimizer(p, zoSgd({ learningRate: 1e-3, seed: 2, directions: 2 }));
    const { records } = await opt.step(makeQuadratic(1000));
    const fresh = startParams(true, 1000);
    const again = new ZoOptimizer(fresh, zoSgd({ learningRate: 1e-3, seed: 2, directions: 2 }));
    const before = fresh.slice();
    const refuse = (bad: readonly ZoStepRecord[], pattern: RegExp) => {
      assert.throws(() => again.replay(bad), pattern);
      assertSameBits(fresh, before, "θ");
      assert.equal(again.count, 0);
    };
    refuse(records.slice(0, 1), /step 0 has 2 directions, got 1 records/);
    refuse([{ ...records[0], seed: 3 }, records[1]], /seed of record 0 must be 2/);
    refuse([records[0], { ...records[1], step: 1 }], /step of record 1 must be 0/);
    refuse([records[1], records[0]], /direction of record 0/);
    refuse(
      [{ ...records[0], scalar: 0.1 }, records[1]],
      /scalar of record 0 must be a finite float32 value/,
    );
    refuse([{ ...records[0], method: "zoAdam" }, records[1]], /method of record 0/);
    const cons = new ZoOptimizer(
      startParams(true, 50),
      zoCons({ perturbation: "inPlace", learningRate: 1e-3 }),
    );
    const consRecords = (
      await new ZoOptimizer(
        startParams(true, 50),
        zoCons({ perturbation: "inPlace", learningRate: 1e-3 }),
      ).step(makeQuadratic(50))
    ).records;
    assert.throws(
      () => cons.replay([{ ...consRecords[0], scalar: Math.fround(0.125) }]),
      /scalars must be all trialScalar/,
    );
    assert.throws(() => again.replay([records[0], records[1], records[1]]), ShapeMismatchError);
  });
});

describe("zeroth-order optimizers: bad input", () => {
  it("a non-finite loss throws, naming the point; θ, state, count and records untouched", async () => {
    const methods: [() => ZoMethod, number][] = [
      [() => zoAdam({ learningRate: 1e-3 }), 2],
      [() => zoCons({ learningRate: 1e-3 }), 5],
      [() => zoMomentum({ learningRate: 1e-3, estimator: "onePoint" }), 2],
    ];
    for (const [make, evaluations] of methods) {
      for (let failAt = 1; failAt <= evaluations; failAt++) {
        const p = startParams(true, 500);
        const calls: number[] = [];
        const opt = new ZoOptimizer(p, make(), { onRecord: () => calls.push(1) });
        const f = makeQuadratic(500);
        await opt.step(f);
        const before = p.slice();
        const state = Object.fromEntries(Object.entries(opt.state).map(([k, b]) => [k, b.slice()]));
        let n = 0;
        const bad = (q: FloatArray) => (++n === failAt ? Number.POSITIVE_INFINITY : f(q));
        await assert.rejects(opt.step(bad), (e: unknown) => {
          assert.ok(e instanceof InvalidArgumentError, String(e));
          assert.match(
            e.message,
            /the objective's value at .* must be a finite number, got Infinity/,
          );
          return true;
        });
        assertSameBits(p, before, "θ");
        for (const [k, b] of Object.entries(state)) assertSameBits(opt.state[k], b, k);
        assert.equal(opt.count, 1);
        assert.equal(calls.length, 1);
      }
    }
  });

  it("rejects ε ≤ 0, bad learning rates, directions, seeds and unknown options at construction", () => {
    assertInvalidArgument(() => zoSgd({ epsilon: 0 }), "epsilon", 0);
    assertInvalidArgument(() => zoSgd({ epsilon: -1e-3 }), "epsilon", -1e-3);
    assertInvalidArgument(() => zoAdam({ learningRate: -1 }), "learningRate", -1);
    assertInvalidArgument(() => zoSgd({ directions: 0 }), "directions", 0);
    assertInvalidArgument(() => zoSgd({ directions: 1.5 }), "directions", 1.5);
    assertInvalidArgument(() => zoSgd({ seed: -1 }), "seed", -1);
    assertInvalidArgument(() => zoMomentum({ momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => zoAdam({ beta2: 1 }), "beta2", 1);
    assertInvalidArgument(() => zoAdam({ eps: 0 }), "eps", 0);
    assertInvalidArgument(() => zoSign({ signOf: "both" as never }), "signOf", "both");
    assertInvalidArgument(
      () => zoSgd({ perturbation: "onDisk" as never }),
      "perturbation",
      "onDisk",
    );
    assertInvalidArgument(
      () => zoSgd({ estimator: "threePoint" as never }),
      "estimator",
      "threePoint",
    );
    assertInvalidArgument(() => zoSgd({ lr: 1 } as never), "lr", 1);
    assertInvalidArgument(
      () => zoSgd({ epsilon: (t: number) => (t === 10 ? 0 : 1e-3) }),
      "epsilon (schedule at step 10)",
      0,
    );
    assert.throws(
      () => new ZoOptimizer(new Float32Array(3), zoSgd(), { onStep: 1 } as never),
      /onStep/,
    );
    assert.throws(() => new ZoOptimizer([1, 2] as never, zoSgd()), /params must be/);
  });

  it("a schedule that turns bad mid-run, an overflowing scalar or a bad quantizer: error, nothing changes", async () => {
    const f = makeQuadratic(100);
    const cases: [ZoMethod, RegExp][] = [
      [
        zoSgd({ learningRate: 1e-3, epsilon: (t) => (t === 2 ? -1 : 1e-3) }),
        /epsilon at step 2 must be a finite number > 0, got -1/,
      ],
      [zoSgd({ learningRate: (t) => (t === 2 ? Number.NaN : 1e-3) }), /learningRate at step 2/],
      [zoSgd({ learningRate: (t) => (t === 2 ? 1e300 : 1e-3) }), /scalar of direction 0 at step 2/],
      [
        zoSgd({ learningRate: 1e-3, quantizeScalar: (s) => (s === 0 ? 0 : s + 1e-12) }),
        /scalar of direction 0 at step 0/,
      ],
    ];
    for (const [method, pattern] of cases) {
      const p = startParams(true, 100);
      const opt = new ZoOptimizer(p, method);
      const isQuantizer = pattern.source.includes("step 0");
      if (!isQuantizer) {
        await opt.step(f);
        await opt.step(f);
      }
      const before = p.slice();
      await assert.rejects(opt.step(f), pattern);
      assertSameBits(p, before, "θ");
      assert.equal(opt.count, isQuantizer ? 0 : 2);
    }
  });

  it("accepts a ParamSet, an Objective, and counts steps", async () => {
    const ps = ParamSet.fromRecord({ w: [0.5, -0.5], b: [0.1] });
    const objective = { value: (p: FloatArray) => p[0] * p[0] + p[1] * p[1] + p[2] * p[2] };
    const opt = new ZoOptimizer(ps, zoSgd({ learningRate: 0.05, directions: 2 }));
    const first = await opt.step(objective);
    assert.ok(Math.abs(first.loss - 0.51) < 1e-5);
    assert.equal(opt.params, ps.data);
    for (let t = 1; t < 200; t++) await opt.step(objective);
    assert.ok(objective.value(ps.data) < 1e-6, `loss ${objective.value(ps.data)}`);
  });
});
