// The WebAssembly SIMD kernels (single-threaded and split across worker threads) against the
// JavaScript loops, which the conformance tests hold to the reference implementations. Both
// paths evaluate the same float64 operations in the same order and round once per stored
// element (WebAssembly never fuses a multiply-add and its f64 sqrt/div are correctly rounded,
// like Math.sqrt and `/`), so every comparison here is exact, for float32 as for float64.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { adamDirection, adamStep } from "../../src/kernels/adam.js";
import type { Floats } from "../../src/kernels/apply.js";
import { addInPlace, axpby, firstNonFinite } from "../../src/kernels/apply.js";
import { arenaOf } from "../../src/kernels/fast.js";
import type { FastKernels } from "../../src/kernels/index.js";
import { fastAllocator, useFastKernels } from "../../src/kernels/index.js";
import { sgdMomentum, sgdMomentumStep } from "../../src/kernels/sgd.js";
import { adamw } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { DType } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillUniform } from "../helpers/inputs.js";

type Allocate = (dtype: DType, length: number) => Floats;
const plainAllocate: Allocate = (dtype, length) =>
  dtype === "float32" ? new Float32Array(length) : new Float64Array(length);

/** Lengths around the vector width (2 doubles, 8 elements per iteration) and the thread grain. */
const LENGTHS = [1, 2, 3, 7, 8, 9, 63, 64, 65, 127, 1001, 4099];
/** Offsets of the arrays inside larger buffers (views not aligned to 16 bytes). */
const OFFSETS = [0, 1, 3];

/** `count` arrays of `n` elements, views at `offset` into larger buffers, filled by seed. */
function arrays(
  allocate: Allocate,
  dtype: DType,
  n: number,
  offset: number,
  count: number,
  seed: number,
): Floats[] {
  return Array.from({ length: count }, (_, k) => {
    const whole = allocate(dtype, n + offset + 5);
    fillUniform(whole, seed + 7 * k);
    return whole.subarray(offset, offset + n);
  });
}

function assertIdentical(actual: Floats, expected: Floats, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    if (!Object.is(actual[i], expected[i])) {
      assert.fail(`${what}[${i}]: ${actual[i]} !== ${expected[i]} (length ${expected.length})`);
    }
  }
}

/** A kernel call on a list of arrays; returns a number for kernels that return one. */
type Case = {
  name: string;
  count: number;
  prepare?: (xs: Floats[]) => void;
  run: (xs: Floats[]) => unknown;
};

const positive = (x: Floats) => {
  for (let i = 0; i < x.length; i++) x[i] = Math.abs(x[i]) * 1e-3;
};

function runsFor(n: number): { ends: number[]; a: number[] } {
  // Uneven runs, one empty, with different multipliers (as per-tensor weight decay gives).
  const a = Math.floor(n / 3);
  const b = Math.floor(n / 2);
  return { ends: [a, a, b, n], a: [1 - 1e-3, 0.5, 1, 1 - 2e-3] };
}

const CASES: Case[] = [
  { name: "axpby", count: 2, run: ([p, u]) => axpby(p, u, 0.75, -1e-3) },
  { name: "axpby a=1", count: 2, run: ([p, u]) => axpby(p, u, 1, -0.3) },
  { name: "addInPlace", count: 2, run: ([p, u]) => addInPlace(p, u) },
  {
    name: "axpby sub-range",
    count: 2,
    run: ([p, u]) => axpby(p, u, 0.9, 2, 1, Math.max(1, p.length - 2)),
  },
  {
    name: "adamDirection",
    count: 3,
    prepare: ([, , v]) => positive(v),
    run: ([u, m, v]) =>
      adamDirection(u, m, v, null, 0.9, 0.999, 1e-8, 0, 1 - 0.9 ** 3, 1 - 0.999 ** 3),
  },
  {
    name: "adamDirection epsRoot",
    count: 3,
    prepare: ([, , v]) => positive(v),
    run: ([u, m, v]) => adamDirection(u, m, v, null, 0.8, 0.99, 1e-6, 1e-7, 0.5, 0.25),
  },
  {
    name: "adamDirection AMSGrad",
    count: 4,
    prepare: ([, , v, vMax]) => {
      positive(v);
      positive(vMax);
    },
    run: ([u, m, v, vMax]) => adamDirection(u, m, v, vMax, 0.9, 0.999, 1e-8, 0, 0.2, 0.01),
  },
  {
    name: "adamStep",
    count: 4,
    prepare: ([, , , v]) => positive(v),
    run: ([p, u, m, v]) =>
      adamStep(p, u, m, v, null, 0.9, 0.999, 1e-8, 0, 0.19, 0.002, -1e-3, runsFor(p.length)),
  },
  {
    name: "adamStep AMSGrad",
    count: 5,
    prepare: ([, , , v, vMax]) => {
      positive(v);
      positive(vMax);
    },
    run: ([p, u, m, v, vMax]) =>
      adamStep(p, u, m, v, vMax, 0.9, 0.999, 1e-8, 1e-9, 0.19, 0.002, -0.1, runsFor(p.length)),
  },
  { name: "momentum", count: 2, run: ([u, b]) => sgdMomentum(u, b, 0.9, 0.1, false, false) },
  { name: "momentum first", count: 2, run: ([u, b]) => sgdMomentum(u, b, 0.9, 0.1, false, true) },
  { name: "nesterov", count: 2, run: ([u, b]) => sgdMomentum(u, b, 0.9, 0, true, false) },
  {
    name: "momentum step",
    count: 3,
    run: ([p, u, b]) => sgdMomentumStep(p, u, b, 0.9, 0.1, false, false, -0.01, runsFor(p.length)),
  },
  {
    name: "nesterov step",
    count: 3,
    run: ([p, u, b]) => sgdMomentumStep(p, u, b, 0.9, 0, true, false, -0.01, runsFor(p.length)),
  },
  {
    name: "firstNonFinite",
    count: 1,
    prepare: ([u]) => {
      if (u.length > 5) u[u.length - 2] = Infinity;
      if (u.length > 70) u[66] = NaN;
    },
    run: ([u]) => firstNonFinite(u),
  },
  {
    name: "firstNonFinite sub-range",
    count: 1,
    prepare: ([u]) => {
      u[0] = NaN;
      if (u.length > 5) u[u.length - 1] = -Infinity;
    },
    run: ([u]) => firstNonFinite(u, 1, u.length),
  },
];

/** Runs every case on plain arrays and on `allocate`'s arrays and compares everything. */
function compareAll(allocate: Allocate, label: string): void {
  for (const dtype of ["float32", "float64"] as const) {
    for (const c of CASES) {
      for (const n of LENGTHS) {
        for (const offset of OFFSETS) {
          const expected = arrays(plainAllocate, dtype, n, offset, c.count, n);
          const actual = arrays(allocate, dtype, n, offset, c.count, n);
          c.prepare?.(expected);
          c.prepare?.(actual);
          const want = c.run(expected);
          const got = c.run(actual);
          const what = `${label} ${c.name} ${dtype} n=${n} offset=${offset}`;
          assert.equal(got, want, `${what}: result`);
          actual.forEach((x, k) => assertIdentical(x, expected[k], `${what} array ${k}`));
        }
      }
    }
  }
}

describe("fast kernels equal the JavaScript kernels exactly", () => {
  let single: FastKernels;
  let threaded: FastKernels;
  before(async () => {
    single = await useFastKernels({ threads: 1 });
    // A tiny grain sends even short ranges through the worker threads.
    threaded = await useFastKernels({ threads: 3, grain: 16 });
  });
  after(async () => {
    await single.close();
    await threaded.close();
  });

  it("WebAssembly SIMD is available here, with shared memory", () => {
    assert.equal(single.enabled, true);
    assert.equal(single.shared, true);
    const x = single.allocate("float32", 10);
    assert.notEqual(arenaOf(x), null);
    assert.equal(arenaOf(new Float32Array(10)), null);
  });

  it("single thread: every kernel, odd lengths, tails and offsets", () => {
    compareAll(single.allocate, "wasm");
  });

  it("worker threads: every kernel, odd lengths, tails and offsets", () => {
    assert.equal(threaded.threads, 3);
    compareAll(threaded.allocate, "threads");
  });

  it("worker threads on a long buffer: the first non-finite index wherever it lies", () => {
    const n = 100_003;
    const u = threaded.allocate("float32", n);
    fillUniform(u, 5);
    assert.equal(firstNonFinite(u), -1);
    for (const at of [n - 1, 70_000, 50_001, 33_334, 17, 0]) {
      u[at] = at % 2 ? NaN : -Infinity;
      assert.equal(firstNonFinite(u), at);
    }
  });

  it("the fused Adam step equals the direction followed by axpby per run", () => {
    for (const allocate of [plainAllocate, single.allocate, threaded.allocate]) {
      for (const dtype of ["float32", "float64"] as const) {
        const n = 5003;
        const [p, u, m, v, p2, u2, m2, v2] = arrays(allocate, dtype, n, 1, 8, 3);
        positive(v);
        p2.set(p);
        u2.set(u);
        m2.set(m);
        v2.set(v);
        const runs = runsFor(n);
        adamStep(p, u, m, v, null, 0.9, 0.999, 1e-8, 0, 0.1, 0.001, -1e-3, runs);
        adamDirection(u2, m2, v2, null, 0.9, 0.999, 1e-8, 0, 0.1, 0.001);
        let start = 0;
        runs.ends.forEach((end, r) => {
          axpby(p2, u2, runs.a[r], -1e-3, start, end);
          start = end;
        });
        assertIdentical(p, p2, `${dtype} params`);
        assertIdentical(m, m2, `${dtype} first moment`);
        assertIdentical(v, v2, `${dtype} second moment`);
      }
    }
  });

  it("the fused momentum steps equal sgdMomentum followed by axpby per run", () => {
    for (const allocate of [plainAllocate, threaded.allocate]) {
      for (const dtype of ["float32", "float64"] as const) {
        for (const nesterov of [false, true]) {
          const n = 4097;
          const [p, u, b, p2, u2, b2] = arrays(allocate, dtype, n, 3, 6, 11);
          p2.set(p);
          u2.set(u);
          b2.set(b);
          const runs = runsFor(n);
          const damp = nesterov ? 0 : 0.2;
          sgdMomentumStep(p, u, b, 0.9, damp, nesterov, false, -0.05, runs);
          sgdMomentum(u2, b2, 0.9, damp, nesterov, false);
          let start = 0;
          runs.ends.forEach((end, r) => {
            axpby(p2, u2, runs.a[r], -0.05, start, end);
            start = end;
          });
          assertIdentical(p, p2, `${dtype} nesterov=${nesterov} params`);
          assertIdentical(b, b2, `${dtype} nesterov=${nesterov} buffer`);
        }
      }
    }
  });

  it("an Optimizer on fast buffers follows the plain one bit for bit (AdamW, masked decay)", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const specs = [
        { name: "w1", shape: [300, 70] },
        { name: "b1", shape: [70] },
        { name: "w2", shape: [70, 11] },
        { name: "b2", shape: [11] },
      ];
      const run = async (allocate: Allocate) => {
        const params = new ParamSet(new Layout(specs, dtype, allocate));
        fillUniform(params.data, 1);
        const opt = new Optimizer(params, adamw({ learningRate: 1e-2, weightDecayMask: "w*" }));
        for (let step = 0; step < 4; step++) {
          fillUniform(opt.updates, 100 + step, 0.5);
          await opt.apply();
        }
        return { params: params.data, state: opt.state };
      };
      const plain = await run(plainAllocate);
      const fast = await run(threaded.allocate);
      assert.notEqual(arenaOf(fast.params), null);
      assertIdentical(fast.params, plain.params, `${dtype} params`);
      const moments = (s: typeof plain.state) => s["0:scaleByAdam"] as Record<string, Floats>;
      assertIdentical(moments(fast.state).mu, moments(plain.state).mu, `${dtype} mu`);
      assertIdentical(moments(fast.state).nu, moments(plain.state).nu, `${dtype} nu`);
    }
  });

  it("arrays from different memories, mixed types or short arrays take the JavaScript path", () => {
    const n = 1000;
    const [pa, ua] = arrays(single.allocate, "float32", n, 0, 2, 9);
    const [pb] = arrays(threaded.allocate, "float32", n, 0, 1, 9);
    const [p64] = arrays(single.allocate, "float64", n, 0, 1, 9);
    const [pPlain, uPlain] = arrays(plainAllocate, "float32", n, 0, 2, 9);
    const p64Plain = plainAllocate("float64", n);
    p64Plain.set(p64);
    axpby(pb, ua, 0.5, 0.25);
    axpby(pa, ua, 0.5, 0.25);
    axpby(pPlain, uPlain, 0.5, 0.25);
    axpby(p64, ua, 0.5, 0.25);
    axpby(p64Plain, uPlain, 0.5, 0.25);
    assertIdentical(pb, pPlain, "two memories");
    assertIdentical(pa, pPlain, "one memory");
    assertIdentical(p64, p64Plain, "float64 += float32");
    // A range past the end of an array is left to JavaScript's bounds semantics.
    const short = single.allocate("float32", 100);
    const long = single.allocate("float32", 200);
    fillUniform(long, 2);
    axpby(short, long, 1, 1, 0, 200);
    assertIdentical(short, long.subarray(0, 100), "short target");
  });
});

describe("fast allocator", () => {
  it("hands out zero-filled views that stay valid as the shared memory grows", async () => {
    const fast = await useFastKernels({ threads: 1, initialBytes: 65536 });
    const first = fast.allocate("float64", 1000);
    fillUniform(first, 4);
    const copy = Float64Array.from(first);
    const big = fast.allocate("float32", 3_000_000);
    assert.equal(big.length, 3_000_000);
    assert.ok(big.every((x) => x === 0));
    assertIdentical(first, copy, "values before growth");
    assert.notEqual(first.buffer, big.buffer);
    // Both the old view and the new one are still recognised as views of the memory.
    assert.equal(arenaOf(first), arenaOf(big));
    assert.notEqual(arenaOf(first), null);
    await fast.close();
  });

  it("reuses released memory, zero-filled", async () => {
    const fast = await useFastKernels({ threads: 1 });
    const a = fast.allocate("float32", 1000);
    a.fill(7);
    const at = a.byteOffset;
    assert.equal(fast.release(a), true);
    assert.equal(fast.release(a), false);
    assert.equal(fast.release(new Float32Array(4)), false);
    const b = fast.allocate("float32", 500);
    assert.equal(b.byteOffset, at);
    assert.ok(b.every((x) => x === 0));
    await fast.close();
  });

  it("without shared memory, opens a new fixed memory when one is full", async () => {
    const fast = await useFastKernels({ shared: false, initialBytes: 1 << 20 });
    assert.equal(fast.shared, false);
    assert.equal(fast.threads, 1);
    const a = fast.allocate("float32", 200_000);
    const b = fast.allocate("float32", 200_000);
    a.fill(1);
    assert.notEqual(arenaOf(a), null);
    assert.notEqual(arenaOf(b), null);
    assert.notEqual(arenaOf(a), arenaOf(b));
    assert.ok(
      a.every((x) => x === 1),
      "the first memory was not detached",
    );
    // Kernels on arrays of two memories still give the right answer (in JavaScript).
    b.fill(2);
    axpby(a, b, 1, 1);
    assert.ok(a.every((x) => x === 3));
    await fast.close();
  });

  it("fastAllocator() is synchronous and shares one memory between calls", () => {
    const allocate = fastAllocator();
    assert.equal(fastAllocator(), allocate);
    const x = allocate("float32", 100);
    assert.notEqual(arenaOf(x), null);
    const layout = new Layout([{ name: "w", shape: [10, 10] }], "float32", allocate);
    assert.equal(arenaOf(layout.zeros()), arenaOf(x));
  });

  it("rejects bad options and arguments, naming them", async () => {
    await assert.rejects(useFastKernels({ threads: 0 }), /threads must be an integer/);
    await assert.rejects(
      useFastKernels({ grain: 3 }),
      /grain must be a positive multiple of 16, got 3/,
    );
    await assert.rejects(
      useFastKernels({ thread: 2 } as unknown as { threads: number }),
      /unknown option "thread"/,
    );
    const allocate = fastAllocator();
    assert.throws(() => allocate("float32", -1), /length must be a non-negative integer, got -1/);
    assert.throws(
      () => allocate("int8" as DType, 4),
      /dtype must be "float32" or "float64", got int8/,
    );
  });
});
