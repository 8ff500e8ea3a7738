import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { ShapeMismatchError } from "../../src/errors.js";
import { accumulate } from "../../src/optim/accumulate.js";
import { adam, adamw, amsgrad } from "../../src/optim/adam.js";
import {
  CheckpointError,
  loadOptimizer,
  restoreOptimizer,
  saveOptimizer,
  serializeOptimizer,
} from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { partition } from "../../src/optim/partition.js";
import { warmupCosine } from "../../src/optim/schedules.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertSameBits, assertSameState, snapshotState } from "../helpers/assertions.js";
import { fillUniform, sampleLayout, sampleParams } from "../helpers/inputs.js";

// ---------------------------------------------------------------------------------------------
// Helpers

interface OptimizerSnapshot {
  state: State;
  params: FloatArray;
  count: number;
  skippedSteps: number;
}

function takeSnapshot(opt: Optimizer): OptimizerSnapshot {
  return {
    state: snapshotState(opt.state),
    params: opt.params.data.slice(),
    count: opt.count,
    skippedSteps: opt.skippedSteps,
  };
}

function assertUnchanged(opt: Optimizer, before: OptimizerSnapshot): void {
  assertSameState(opt.state, before.state);
  assertSameBits(opt.params.data, before.params, "params");
  assert.equal(opt.count, before.count);
  assert.equal(opt.skippedSteps, before.skippedSteps);
}

function nameSeed(name: string): number {
  let h = 7;
  for (const ch of name) h = (h * 31 + ch.charCodeAt(0)) >>> 0;
  return h;
}

/**
 * A smooth nonconvex objective on any layout: f(p) = Σ a_i (p_i − c_i)²/2 + Σ p_i⁴/8, so each
 * step's gradient depends on the restored parameters. Coefficients are seeded by tensor name, so
 * a layout listing the same tensors in another order defines the same function.
 */
function objectiveFor(layout: Layout): Objective {
  const coefA = new Float64Array(layout.size);
  const coefC = new Float64Array(layout.size);
  for (const t of layout.tensors) {
    fillUniform(coefA.subarray(t.offset, t.offset + t.size), nameSeed(t.name), 0.5);
    fillUniform(coefC.subarray(t.offset, t.offset + t.size), nameSeed(t.name) + 1);
  }
  for (let i = 0; i < coefA.length; i++) coefA[i] += 1;
  return {
    name: "checkpoint-test",
    layout,
    value(p) {
      let f = 0;
      for (let i = 0; i < p.length; i++) {
        const d = p[i] - coefC[i];
        f += 0.5 * coefA[i] * d * d + 0.125 * p[i] ** 4;
      }
      return f;
    },
    valueAndGrad(p, g) {
      let f = 0;
      for (let i = 0; i < p.length; i++) {
        const d = p[i] - coefC[i];
        f += 0.5 * coefA[i] * d * d + 0.125 * p[i] ** 4;
        g[i] = coefA[i] * d + 0.5 * p[i] ** 3;
      }
      return f;
    },
  };
}

/** Every buffer of a state tree, depth first. */
function buffersOf(state: State): FloatArray[] {
  return Object.values(state).flatMap((v) =>
    typeof v === "number" ? [] : ArrayBuffer.isView(v) ? [v] : buffersOf(v),
  );
}

const isMatrix = (t: { shape: readonly number[] }) => t.shape.length >= 2;
const isVector = (t: { shape: readonly number[] }) => t.shape.length < 2;

const builders: [string, () => GradientTransform][] = [
  ["adam", () => adam({ learningRate: 0.01 })],
  [
    "adamw with a warmup-cosine schedule",
    () =>
      adamw({
        learningRate: warmupCosine({ peak: 0.02, warmupSteps: 3, totalSteps: 12, end: 1e-3 }),
        weightDecay: 0.1,
      }),
  ],
  [
    "partition of adamw and adam",
    () =>
      partition(
        { matrices: isMatrix, vectors: isVector },
        { matrices: adamw({ learningRate: 0.02 }), vectors: adam({ learningRate: 0.05 }) },
      ),
  ],
  ["accumulate(2, amsgrad)", () => accumulate(2, amsgrad({ learningRate: 0.02 }))],
];

/** Parses a safetensors file independently of the library. */
function parseSafetensors(bytes: Uint8Array) {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const n = Number(view.getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + n))) as Record<
    string,
    unknown
  >;
  return { n, header, dataStart: 8 + n, view };
}

/** Re-encodes `bytes` with its JSON header changed by `edit` (data untouched). */
function rewriteHeader(bytes: Uint8Array, edit: (header: Record<string, unknown>) => void) {
  const { header, dataStart } = parseSafetensors(bytes);
  edit(header);
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + bytes.length - dataStart);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(bytes.subarray(dataStart), 8 + json.length);
  return out;
}

function metadataOf(header: Record<string, unknown>): Record<string, string> {
  return header.__metadata__ as Record<string, string>;
}

const tempDirs: string[] = [];
after(async () => {
  for (const d of tempDirs) await rm(d, { recursive: true, force: true });
});

async function tempFile(name: string): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "descend-checkpoint-"));
  tempDirs.push(dir);
  return join(dir, name);
}

// ---------------------------------------------------------------------------------------------

describe("optimizer checkpoints", () => {
  for (const [name, build] of builders) {
    it(`resume is bit-exact: ${name}`, async () => {
      for (const dtype of ["float64", "float32"] as DType[]) {
        const n = 12;
        const k = 5;
        const objective = objectiveFor(sampleLayout(dtype));
        const straight = new Optimizer(sampleParams(dtype, 1), build());
        for (let i = 0; i < n; i++) await straight.step(objective);

        const first = new Optimizer(sampleParams(dtype, 1), build());
        for (let i = 0; i < k; i++) await first.step(objective);
        const path = await tempFile(`${dtype}.safetensors`);
        await saveOptimizer(first, path, { includeParams: true });

        // A fresh optimizer built the same way, starting from different parameters: the file
        // must restore them too.
        const resumed = new Optimizer(sampleParams(dtype, 99), build());
        const buffersBefore = buffersOf(resumed.state);
        await loadOptimizer(resumed, path);
        const buffersAfter = buffersOf(resumed.state);
        assert.ok(buffersAfter.length > 0);
        buffersAfter.forEach((b, i) => assert.equal(b, buffersBefore[i], "buffer kept in place"));
        assert.equal(resumed.count, k);
        for (let i = k; i < n; i++) await resumed.step(objective);

        assertSameBits(resumed.params.data, straight.params.data, `${name} ${dtype} params`);
        assertSameState(resumed.state, straight.state);
        assert.equal(resumed.count, straight.count);
      }
    });
  }

  it("writes into the existing state buffers (they stay where their allocator put them)", () => {
    const opt = new Optimizer(sampleParams(), adam());
    const mu = (opt.state["0:scaleByAdam"] as State).mu;
    const donor = new Optimizer(sampleParams(), adam());
    ((donor.state["0:scaleByAdam"] as State).mu as FloatArray).fill(0.25);
    restoreOptimizer(opt, serializeOptimizer(donor));
    assert.equal((opt.state["0:scaleByAdam"] as State).mu, mu);
    assert.ok((mu as FloatArray).every((x) => x === 0.25));
  });

  it("is a valid safetensors file with a versioned descend header", async () => {
    const params = sampleParams("float32");
    const opt = new Optimizer(params, adamw({ learningRate: 0.01 }), { nonFinite: "skip" });
    const objective = objectiveFor(params.layout);
    for (let i = 0; i < 3; i++) await opt.step(objective);
    await opt.update(params.layout.zeros().fill(NaN));
    const path = await tempFile("valid.safetensors");
    await saveOptimizer(opt, path, { includeParams: true });
    const bytes = new Uint8Array(await readFile(path));
    const { header, dataStart, view } = parseSafetensors(bytes);
    assert.equal(dataStart % 8, 0, "data section is 8-byte aligned");

    const meta = metadataOf(header);
    for (const v of Object.values(meta)) assert.equal(typeof v, "string");
    assert.equal(meta["descend.format"], "descend.optimizer");
    assert.equal(meta["descend.version"], "1");
    assert.equal(meta["descend.count"], "3");
    assert.equal(meta["descend.skippedSteps"], "1");
    assert.equal(meta["descend.transform"], "chain");
    assert.deepEqual(JSON.parse(meta["descend.layout"]), {
      dtype: "float32",
      tensors: params.layout.tensors.map((t) => ({ name: t.name, shape: [...t.shape] })),
    });
    assert.deepEqual(
      new Map(JSON.parse(meta["descend.scalars"]) as [string, string][]),
      new Map([
        ["0:scaleByAdam/count", "3"],
        ["1:addDecayedWeights/count", "3"],
        ["2:scaleByLearningRate/count", "3"],
      ]),
    );

    // Tensors: every range inside the data, together covering it exactly.
    const entries = Object.entries(header).filter(([k]) => k !== "__metadata__") as [
      string,
      { dtype: string; shape: number[]; data_offsets: [number, number] },
    ][];
    const sorted = entries.map(([, e]) => e.data_offsets).sort((x, y) => x[0] - y[0]);
    let cursor = 0;
    for (const [b, e] of sorted) {
      assert.equal(b, cursor);
      cursor = e;
    }
    assert.equal(cursor, bytes.length - dataStart);
    const names = entries.map(([k]) => k).sort();
    const expectedNames = [
      ...params.layout.tensors.map((t) => `params/${t.name}`),
      ...params.layout.tensors.map((t) => `state/0:scaleByAdam/mu/${t.name}`),
      ...params.layout.tensors.map((t) => `state/0:scaleByAdam/nu/${t.name}`),
    ].sort();
    assert.deepEqual(names, expectedNames);

    // Decode two tensors by hand (little-endian float32) and compare with the optimizer.
    const read = (name: string) => {
      const e = header[name] as { dtype: string; shape: number[]; data_offsets: [number, number] };
      assert.equal(e.dtype, "F32");
      const out: number[] = [];
      for (let at = e.data_offsets[0]; at < e.data_offsets[1]; at += 4) {
        out.push(view.getFloat32(dataStart + at, true));
      }
      return { shape: e.shape, values: out };
    };
    const mu = read("state/0:scaleByAdam/mu/layer1.weight");
    assert.deepEqual(mu.shape, [7, 5]);
    const adamState = opt.state["0:scaleByAdam"] as State;
    assertSameBits(
      mu.values,
      params.layout.view(adamState.mu as FloatArray, "layer1.weight"),
      "mu of layer1.weight",
    );
    const bias = read("params/layer2.bias");
    assert.deepEqual(bias.shape, [3]);
    assertSameBits(bias.values, params.view("layer2.bias"), "layer2.bias");
  });

  it("loads by name into a layout listing the tensors in another order (partition too)", async () => {
    const build = () =>
      partition(
        { matrices: isMatrix, vectors: isVector },
        { matrices: adamw({ learningRate: 0.02 }), vectors: adam({ learningRate: 0.05 }) },
      );
    const params = sampleParams("float64", 4);
    const objective = objectiveFor(params.layout);
    const opt = new Optimizer(params, build());
    for (let i = 0; i < 4; i++) await opt.step(objective);
    const bytes = serializeOptimizer(opt, { includeParams: true });

    const reversed = new Layout(
      [...params.layout.tensors].reverse().map((t) => ({ name: t.name, shape: t.shape })),
      "float64",
    );
    const other = new Optimizer(new ParamSet(reversed), build());
    restoreOptimizer(other, bytes);
    const otherObjective = objectiveFor(reversed);
    for (let i = 0; i < 5; i++) {
      await opt.step(objective);
      await other.step(otherObjective);
    }
    for (const t of params.layout.tensors) {
      assertSameBits(other.params.view(t.name), params.view(t.name), t.name);
      for (const group of ["matrices", "vectors"]) {
        const sub = (build() as ReturnType<typeof partition>).subLayout(params.layout, group);
        if (!sub.has(t.name)) continue;
        const subOther = (other.transform as ReturnType<typeof partition>).subLayout(
          reversed,
          group,
        );
        const key = "0:scaleByAdam";
        const mine = ((opt.state[group] as State)[key] as State).mu as FloatArray;
        const theirs = ((other.state[group] as State)[key] as State).mu as FloatArray;
        assertSameBits(subOther.view(theirs, t.name), sub.view(mine, t.name), `mu ${t.name}`);
      }
    }
  });

  it("stores every number of the state exactly and buffers of other sizes whole", () => {
    const layout = sampleLayout();
    const odd: GradientTransform = {
      name: "odd",
      init: () => ({
        nested: { minusZero: 0, nan: 0, inf: 0, third: 0 },
        table: new Float32Array(3),
      }),
      update: () => undefined,
    };
    const opt = new Optimizer(new ParamSet(layout), odd);
    const nested = opt.state.nested as State;
    nested.minusZero = -0;
    nested.nan = NaN;
    nested.inf = -Infinity;
    nested.third = 1 / 3;
    (opt.state.table as Float32Array).set([1.5, -2.25, 3.125]);
    const bytes = serializeOptimizer(opt);
    const { header } = parseSafetensors(bytes);
    assert.deepEqual((header["state/table"] as { shape: number[] }).shape, [3]);
    const fresh = new Optimizer(new ParamSet(layout), odd);
    restoreOptimizer(fresh, bytes);
    assertSameState(fresh.state, opt.state);
    assert.ok(Object.is((fresh.state.nested as State).minusZero, -0));
  });

  it("restores parameters only when asked or present", () => {
    const donor = new Optimizer(sampleParams("float64", 7), adam());
    const withParams = serializeOptimizer(donor, { includeParams: true });
    const without = serializeOptimizer(donor);

    const a = new Optimizer(sampleParams("float64", 8), adam());
    restoreOptimizer(a, withParams, { includeParams: false });
    assertSameBits(a.params.data, sampleParams("float64", 8).data, "params ignored");
    restoreOptimizer(a, withParams);
    assertSameBits(a.params.data, donor.params.data, "params restored");

    const b = new Optimizer(sampleParams("float64", 8), adam());
    const before = takeSnapshot(b);
    assert.throws(
      () => restoreOptimizer(b, without, { includeParams: true }),
      (e: unknown) => e instanceof CheckpointError && /holds no parameters/.test(e.message),
    );
    assertUnchanged(b, before);
  });

  describe("rejects bad input before changing anything", () => {
    const setup = async () => {
      const opt = new Optimizer(sampleParams(), adamw({ learningRate: 0.01 }));
      const objective = objectiveFor(opt.params.layout);
      for (let i = 0; i < 3; i++) await opt.step(objective);
      const bytes = serializeOptimizer(opt, { includeParams: true });
      const target = new Optimizer(sampleParams("float64", 5), adamw({ learningRate: 0.01 }));
      await target.step(objectiveFor(target.params.layout));
      return { bytes, target, before: takeSnapshot(target) };
    };

    const expectRejected = async (
      make: (bytes: Uint8Array) => Uint8Array,
      pattern: RegExp,
      errorClass: typeof CheckpointError | typeof ShapeMismatchError = CheckpointError,
      target?: Optimizer,
    ) => {
      const s = await setup();
      const opt = target ?? s.target;
      const before = takeSnapshot(opt);
      assert.throws(
        () => restoreOptimizer(opt, make(s.bytes)),
        (e: unknown) => {
          assert.ok(e instanceof errorClass, `${String(e)}`);
          assert.match((e as Error).message, pattern);
          return true;
        },
      );
      assertUnchanged(opt, before);
    };

    it("a corrupted header", async () => {
      await expectRejected((b) => {
        const c = b.slice();
        c[8] = 0x5b; // "[" where the header's "{" was: still JSON-ish but not an object
        return c;
      }, /header is corrupt/);
      await expectRejected((b) => {
        const c = b.slice();
        c[20] = 0xff;
        return c;
      }, /header is corrupt: not valid UTF-8/);
      await expectRejected((b) => {
        const c = b.slice();
        c[9] = 0x7d;
        return c;
      }, /header is corrupt: not valid JSON/);
      await expectRejected((b) => {
        const c = b.slice();
        new DataView(c.buffer).setBigUint64(0, BigInt(c.length), true);
        return c;
      }, /truncated: the header declares/);
      await expectRejected((b) => {
        const c = b.slice();
        new DataView(c.buffer).setBigUint64(0, 2n ** 60n, true);
        return c;
      }, /header is corrupt/);
      await expectRejected(
        (b) =>
          rewriteHeader(b, (h) => {
            const e = h["state/0:scaleByAdam/mu/layer1.bias"] as { data_offsets: number[] };
            e.data_offsets = [e.data_offsets[0] + 4, e.data_offsets[1] + 4];
          }),
        /header is corrupt: tensor "state\/0:scaleByAdam\/mu\/layer1.bias"/,
      );
      await expectRejected(
        (b) =>
          rewriteHeader(b, (h) => {
            (h["params/layer2.bias"] as { dtype: string }).dtype = "BF16";
          }),
        /dtype "BF16"/,
      );
    });

    it("truncated data and trailing bytes", async () => {
      await expectRejected((b) => b.subarray(0, b.length - 3), /truncated: the tensors need/);
      await expectRejected((b) => b.subarray(0, 5), /truncated: 5 bytes/);
      await expectRejected((b) => {
        const c = new Uint8Array(b.length + 4);
        c.set(b);
        return c;
      }, /4 bytes after the last tensor/);
    });

    it("a file that is not a descend checkpoint or a newer version", async () => {
      await expectRejected(
        (b) => rewriteHeader(b, (h) => delete h.__metadata__),
        /not a descend optimizer checkpoint/,
      );
      await expectRejected(
        (b) => rewriteHeader(b, (h) => (metadataOf(h)["descend.version"] = "2")),
        /version "2" is not supported/,
      );
      await expectRejected(
        (b) => rewriteHeader(b, (h) => (metadataOf(h)["descend.count"] = "-1")),
        /descend.count/,
      );
    });

    it("a different layout, naming the first mismatch", async () => {
      const other = (specs: { name: string; shape: number[] }[], dtype: DType = "float64") =>
        new Optimizer(new ParamSet(new Layout(specs, dtype)), adamw({ learningRate: 0.01 }));
      const base = sampleLayout().tensors.map((t) => ({ name: t.name, shape: [...t.shape] }));
      const reshaped = base.map((t) => (t.name === "layer2.bias" ? { ...t, shape: [4] } : t));
      await expectRejected(
        (b) => b,
        /layer2\.bias has shape \[3\] in the checkpoint, \[4\] here/,
        ShapeMismatchError,
        other(reshaped),
      );
      const renamed = base.map((t) => (t.name === "norm.scale" ? { ...t, name: "norm.gain" } : t));
      await expectRejected(
        (b) => b,
        /norm\.gain is not in the checkpoint/,
        ShapeMismatchError,
        other(renamed),
      );
      await expectRejected(
        (b) => b,
        /the checkpoint has tensor layer2\.bias/,
        ShapeMismatchError,
        other(base.slice(0, 4)),
      );
      await expectRejected(
        (b) => b,
        /dtype float64 in the checkpoint, float32 here/,
        ShapeMismatchError,
        other(base, "float32"),
      );
    });

    it("a different optimizer structure", async () => {
      const made = (t: GradientTransform) => new Optimizer(sampleParams(), t);
      await expectRejected(
        (b) => b,
        /buffers this optimizer lacks|missing from the checkpoint: .*nuMax/,
        CheckpointError,
        made(amsgradW()),
      );
      await expectRejected(
        (b) => b,
        /numbers missing from the checkpoint: 1:scaleByLearningRate\/count/,
        CheckpointError,
        made(adam({ learningRate: 0.01 })),
      );
      await expectRejected(
        (b) => b,
        /written by transform "chain", this optimizer's is "accumulate"/,
        CheckpointError,
        made(accumulate(2, adamw())),
      );
      await expectRejected(
        (b) =>
          rewriteHeader(b, (h) => {
            const e = h["state/0:scaleByAdam/nu/layer1.bias"];
            delete h["state/0:scaleByAdam/nu/layer1.bias"];
            h["state/0:scaleByAdam/nu/layer1.extra"] = e;
          }),
        /tensor "state\/0:scaleByAdam\/nu\/layer1.extra" has no place/,
      );
    });
  });

  it("validates its arguments", () => {
    const opt = new Optimizer(sampleParams(), adam());
    assert.throws(
      () => serializeOptimizer(opt, { includeParams: "yes" as never }),
      /includeParams/,
    );
    assert.throws(() => restoreOptimizer(opt, [1, 2, 3] as never), /bytes must be a Uint8Array/);
    assert.throws(() => serializeOptimizer({} as never), /opt must be an Optimizer/);
  });
});

function amsgradW(): GradientTransform {
  return adamw({ learningRate: 0.01, amsgrad: true });
}
