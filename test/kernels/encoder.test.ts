// The WebAssembly writer: LEB128 encodings against the format's published examples, a
// hand-assembled function, and elementwise kernels compiled from expressions against closed forms
// evaluated in JavaScript.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { WasmMemory } from "../../src/kernels/wasm/api.js";
import { wasmApi } from "../../src/kernels/wasm/api.js";
import type { ElementType, KernelSpec } from "../../src/kernels/wasm/elementwise.js";
import {
  abs,
  add,
  addFirstNonFinite,
  addKernel,
  div,
  mul,
  neg,
  pmax,
  pmin,
  round,
  sqrt,
  sub,
} from "../../src/kernels/wasm/elementwise.js";
import {
  F64,
  FunctionBody,
  ModuleBuilder,
  op,
  signedLeb,
  unsignedLeb,
} from "../../src/kernels/wasm/encoder.js";
import { kernelExportNames, kernelModuleBytes } from "../../src/kernels/wasm/kernels.js";

const api = wasmApi()!;

function leb(write: (out: number[], value: number) => void, value: number): number[] {
  const out: number[] = [];
  write(out, value);
  return out;
}

function instantiate(module: ModuleBuilder, pages = 1) {
  const memory: WasmMemory = new api.Memory({ initial: pages });
  const bytes = module.encode({ shared: false, minimumPages: 0 });
  assert.equal(api.validate(bytes), true, "module validates");
  const instance = new api.Instance(new api.Module(bytes), { env: { memory } });
  return { memory, exports: instance.exports as Record<string, (...args: number[]) => number> };
}

describe("LEB128", () => {
  it("unsigned: the format's examples", () => {
    assert.deepEqual(leb(unsignedLeb, 0), [0x00]);
    assert.deepEqual(leb(unsignedLeb, 127), [0x7f]);
    assert.deepEqual(leb(unsignedLeb, 128), [0x80, 0x01]);
    assert.deepEqual(leb(unsignedLeb, 624485), [0xe5, 0x8e, 0x26]);
    assert.deepEqual(leb(unsignedLeb, 2 ** 32 - 1), [0xff, 0xff, 0xff, 0xff, 0x0f]);
  });

  it("signed: sign bit of the last group", () => {
    assert.deepEqual(leb(signedLeb, 63), [0x3f]);
    assert.deepEqual(leb(signedLeb, 64), [0xc0, 0x00]);
    assert.deepEqual(leb(signedLeb, -64), [0x40]);
    assert.deepEqual(leb(signedLeb, -65), [0xbf, 0x7f]);
    assert.deepEqual(leb(signedLeb, -123456), [0xc0, 0xbb, 0x78]);
  });
});

describe("ModuleBuilder", () => {
  it("assembles a function that runs", () => {
    const module = new ModuleBuilder();
    const f = new FunctionBody([F64, F64], [F64]);
    // (a − b)·(a + b)
    f.get(0).get(1).emit(op.f64Sub).get(0).get(1).emit(op.f64Add).emit(op.f64Mul);
    module.add("diffOfSquares", f);
    const { exports } = instantiate(module);
    assert.equal(exports.diffOfSquares(7, 3), 40);
    assert.equal(exports.diffOfSquares(0.5, -2), -3.75);
  });

  it("the kernel module validates for shared and ordinary memories and exports every kernel", () => {
    for (const shared of [true, false]) {
      const bytes = kernelModuleBytes(shared);
      assert.equal(api.validate(bytes), true);
      const module = new api.Module(bytes);
      const memory = shared
        ? new api.Memory({ initial: 1, maximum: 16, shared: true })
        : new api.Memory({ initial: 1 });
      const { exports } = new api.Instance(module, { env: { memory } });
      for (const name of kernelExportNames()) assert.equal(typeof exports[name], "function", name);
    }
  });
});

describe("elementwise kernels compiled from expressions", () => {
  // y ← max(|x|, s)·√|x| − min(x, −s)/3 + (−z)·0.25, and z ← round(x·s): every operation.
  const spec: KernelSpec = {
    name: "mixed",
    arrays: ["x", "y", "z"],
    scalars: ["s"],
    body(k) {
      const x = k.let(k.load("x"));
      const s = k.scalar("s");
      const ax = k.let(abs(x));
      const first = mul(pmax(ax, s), sqrt(ax));
      const second = div(pmin(x, neg(s)), k.constant(3));
      k.store("y", add(sub(first, second), mul(neg(k.load("z")), k.constant(0.25))));
      k.store("z", round(mul(x, s)));
    },
  };
  const closedForm = (x: number, z: number, s: number) => {
    const ax = Math.abs(x);
    const hi = ax < s ? s : ax;
    const lo = -s < x ? -s : x;
    return { y: hi * Math.sqrt(ax) - lo / 3 + -z * 0.25, z: x * s };
  };

  for (const type of ["f32", "f64"] as ElementType[]) {
    it(`${type}: every length up to 21 and odd offsets match the closed form`, () => {
      const module = new ModuleBuilder();
      addKernel(module, spec, type);
      const { memory, exports } = instantiate(module);
      const Typed = type === "f32" ? Float32Array : Float64Array;
      const size = Typed.BYTES_PER_ELEMENT;
      const store = type === "f32" ? Math.fround : (v: number) => v;
      for (let n = 0; n <= 21; n++) {
        for (const offset of [0, 1, 3]) {
          const x = new Typed(memory.buffer as ArrayBuffer, 64, 40);
          const y = new Typed(memory.buffer as ArrayBuffer, 64 + 40 * size, 40);
          const z = new Typed(memory.buffer as ArrayBuffer, 64 + 80 * size, 40);
          for (let i = 0; i < 40; i++) {
            x[i] = Math.sin(3 * i + n) * 4;
            y[i] = 99;
            z[i] = Math.cos(i);
          }
          const x0 = Float64Array.from(x);
          const z0 = Float64Array.from(z);
          const s = 1.3;
          const at = (a: Float32Array | Float64Array) => a.byteOffset + offset * size;
          exports[`mixed_${type}`](at(x), at(y), at(z), 0, n, s);
          for (let i = 0; i < 40; i++) {
            const inside = i >= offset && i < offset + n;
            const want = closedForm(x0[i], z0[i], s);
            assert.equal(y[i], inside ? store(want.y) : 99, `n=${n} offset=${offset} y[${i}]`);
            assert.equal(z[i], inside ? store(want.z) : z0[i], `n=${n} offset=${offset} z[${i}]`);
          }
        }
      }
    });

    it(`${type}: a per-run scalar uses each run's value, clipped to the range`, () => {
      const scaled: KernelSpec = {
        name: "scaled",
        arrays: ["x"],
        scalars: ["a"],
        perRun: "a",
        body(k) {
          k.store("x", mul(k.scalar("a"), k.load("x")));
        },
      };
      const module = new ModuleBuilder();
      addKernel(module, scaled, type);
      const { memory, exports } = instantiate(module);
      const Typed = type === "f32" ? Float32Array : Float64Array;
      const x = new Typed(memory.buffer as ArrayBuffer, 1024, 30).fill(1);
      const table = new DataView(memory.buffer, 64, 64);
      const runs = [
        [0, 10, 2],
        [10, 12, 3],
        [12, 30, 5],
      ];
      runs.forEach(([start, end, a], r) => {
        table.setInt32(16 * r, start, true);
        table.setInt32(16 * r + 4, end, true);
        table.setFloat64(16 * r + 8, a, true);
      });
      exports[`scaled_${type}`](x.byteOffset, 64, 3, 5, 20);
      const expected = Array.from({ length: 30 }, (_, i) =>
        i < 5 || i >= 20 ? 1 : i < 10 ? 2 : i < 12 ? 3 : 5,
      );
      assert.deepEqual([...x], expected);
    });

    it(`${type}: firstNonFinite finds NaN and ±Infinity in vector blocks and tails`, () => {
      const module = new ModuleBuilder();
      addFirstNonFinite(module, type);
      const { memory, exports } = instantiate(module);
      const Typed = type === "f32" ? Float32Array : Float64Array;
      const x = new Typed(memory.buffer as ArrayBuffer, 64, 100);
      const find = (lo: number, hi: number) => exports[`firstNonFinite_${type}`](64, lo, hi);
      x.fill(1e30);
      assert.equal(find(0, 100), -1);
      // Bad values are added from the end towards the start; each is then the first.
      let previous = -1;
      for (const [at, bad] of [
        [99, NaN],
        [50, Infinity],
        [17, -Infinity],
        [3, NaN],
      ] as const) {
        x[at] = bad;
        assert.equal(find(0, 100), at);
        assert.equal(find(0, at), -1);
        assert.equal(find(at + 1, 100), previous);
        previous = at;
      }
    });
  }
});
