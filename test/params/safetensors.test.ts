import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShapeMismatchError } from "../../src/errors.js";
import { serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { adam } from "../../src/optim/adam.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  PARAMS_FORMAT,
  SafetensorsError,
  parseSafetensors,
  readParams,
  serializeParams,
} from "../../src/params/safetensors.js";

const SPECS = [
  { name: "layer1.weight", shape: [2, 3] },
  { name: "layer1.bias", shape: [3] },
  { name: "scale", shape: [] },
];

/** A safetensors file assembled by hand from the format's definition. */
function handMade(header: Record<string, unknown>, data: Uint8Array, padTo = 8): Uint8Array {
  let json = JSON.stringify(header);
  while ((8 + json.length) % padTo !== 0) json += " ";
  const text = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + text.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(text.length), true);
  out.set(text, 8);
  out.set(data, 8 + text.length);
  return out;
}

function littleEndianFloat32(values: number[]): Uint8Array {
  const out = new Uint8Array(4 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((x, i) => view.setFloat32(4 * i, x, true));
  return out;
}

function littleEndianFloat64(values: number[]): Uint8Array {
  const out = new Uint8Array(8 * values.length);
  const view = new DataView(out.buffer);
  values.forEach((x, i) => view.setFloat64(8 * i, x, true));
  return out;
}

describe("serializeParams", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`writes a safetensors file that reads back bit for bit (${dtype})`, () => {
      const layout = new Layout(SPECS, dtype);
      const data = layout.zeros();
      for (let i = 0; i < data.length; i++) data[i] = (i - 3.3) / 7;
      const bytes = serializeParams(layout, data, { note: "x" });
      // The header, read by hand: u64 length, JSON, data aligned to 8 bytes.
      const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
      assert.equal((8 + length) % 8, 0);
      const header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
      const width = dtype === "float32" ? 4 : 8;
      assert.deepEqual(header["layer1.bias"], {
        dtype: dtype === "float32" ? "F32" : "F64",
        shape: [3],
        data_offsets: [6 * width, 9 * width],
      });
      assert.deepEqual(header.scale.shape, []);
      assert.equal(header.__metadata__["descend.format"], PARAMS_FORMAT);
      assert.equal(header.__metadata__.note, "x");
      assert.equal(bytes.length, 8 + length + data.length * width);
      const view = new DataView(bytes.buffer, 8 + length);
      for (let i = 0; i < data.length; i++) {
        const stored =
          dtype === "float32" ? view.getFloat32(4 * i, true) : view.getFloat64(8 * i, true);
        assert.equal(stored, data[i]);
      }
      assert.deepEqual(readParams(bytes, layout), data);
    });
  }

  it("rejects reserved or non-string metadata", () => {
    const layout = new Layout(SPECS, "float64");
    assert.throws(
      () => serializeParams(layout, layout.zeros(), { "descend.format": "x" }),
      SafetensorsError,
    );
  });
});

describe("readParams", () => {
  it("matches tensors by name in any order and converts F32/F64 to the layout's type", () => {
    const layout = new Layout(SPECS, "float32");
    // Written in another order than the layout's, mixing element types.
    const scale = littleEndianFloat64([0.1]);
    const bias = littleEndianFloat32([1, 2, 3]);
    const weight = littleEndianFloat64([1 / 3, -2, 3, 4, 5, 6]);
    const bytes = handMade(
      {
        scale: { dtype: "F64", shape: [], data_offsets: [0, 8] },
        "layer1.weight": { dtype: "F64", shape: [2, 3], data_offsets: [8, 56] },
        "layer1.bias": { dtype: "F32", shape: [3], data_offsets: [56, 68] },
      },
      Uint8Array.from([...scale, ...weight, ...bias]),
      1,
    );
    const params = readParams(bytes, layout);
    assert.ok(params instanceof Float32Array);
    assert.deepEqual(
      [...params],
      [1 / 3, -2, 3, 4, 5, 6, 1, 2, 3, 0.1].map((x) => Math.fround(x)),
    );
    const wide = readParams(bytes, new Layout(SPECS, "float64"));
    assert.deepEqual([...wide], [1 / 3, -2, 3, 4, 5, 6, 1, 2, 3, 0.1]);
  });

  it("reads the parameters of an optimizer checkpoint, unescaping their names", () => {
    const set = ParamSet.zeros(
      [
        { name: "a/b%c", shape: [2] },
        { name: "w", shape: [2, 2] },
      ],
      "float64",
    );
    set.data.set([1, 2, 3, 4, 5, 6]);
    const opt = new Optimizer(set, adam({ learningRate: 0.1 }));
    const bytes = serializeOptimizer(opt, { includeParams: true });
    assert.deepEqual([...readParams(bytes, set.layout)], [1, 2, 3, 4, 5, 6]);
    assert.throws(
      () => readParams(serializeOptimizer(opt), set.layout),
      /optimizer checkpoint holds no parameters \(it was saved without includeParams\)/,
    );
  });

  it("names the tensor that is missing, extra or of another shape, and writes nothing then", () => {
    const layout = new Layout(SPECS, "float64");
    const target = layout.zeros().fill(7);
    const write = (specs: { name: string; shape: number[] }[]) => {
      const other = new Layout(specs, "float64");
      return serializeParams(other, other.zeros());
    };
    const cases: [Uint8Array, RegExp][] = [
      [
        write(SPECS.slice(0, 2)),
        /tensor "scale" \[\] is not in the file, which holds "layer1.weight", "layer1.bias"/,
      ],
      [
        write([...SPECS, { name: "extra", shape: [1] }]),
        /the file holds tensor "extra", which the layout lacks/,
      ],
      [
        write([{ name: "layer1.weight", shape: [3, 2] }, ...SPECS.slice(1)]),
        /tensor "layer1.weight" has shape \[3, 2\] in the file, \[2, 3\] here/,
      ],
    ];
    for (const [bytes, message] of cases) {
      assert.throws(
        () => readParams(bytes, layout, target),
        (e: unknown) => e instanceof ShapeMismatchError && message.test(e.message),
      );
      assert.ok(target.every((x) => x === 7));
    }
  });

  it("rejects malformed files with a SafetensorsError saying what is wrong", () => {
    const layout = new Layout([{ name: "x", shape: [2] }], "float64");
    const good = serializeParams(layout, Float64Array.of(1, 2));
    const header = (h: Record<string, unknown>, data = new Uint8Array(16)) => handMade(h, data);
    const x = (extra: Record<string, unknown>) => ({
      x: { dtype: "F64", shape: [2], data_offsets: [0, 16], ...extra },
    });
    const cases: [Uint8Array, RegExp][] = [
      [good.subarray(0, 4), /truncated: 4 bytes/],
      [good.subarray(0, good.length - 1), /truncated: the tensors need 16 bytes of data, only 15/],
      [Uint8Array.from([...good, 0]), /1 bytes after the last tensor/],
      [header(x({ dtype: "BF16" })), /tensor "x" has dtype "BF16" \(F32 and F64 are supported\)/],
      [header(x({ shape: [-2] })), /tensor "x" has shape \[-2\]/],
      [header(x({ data_offsets: [0, 8] })), /tensor "x" spans 8 bytes, but F64 \[2\] needs 16/],
      [
        header(x({ data_offsets: [8, 24] }), new Uint8Array(24)),
        /starts at byte 8 of the data, expected 0/,
      ],
      [header({ __metadata__: { a: 1 } }, new Uint8Array(0)), /__metadata__\.a is not a string/],
      [handMade([] as unknown as Record<string, unknown>, new Uint8Array(0)), /not a JSON object/],
    ];
    const huge = Uint8Array.from(good);
    new DataView(huge.buffer).setBigUint64(0, 2n ** 40n, true);
    cases.push([huge, /declares 1099511627776 header bytes/]);
    for (const [bytes, message] of cases) {
      assert.throws(
        () => parseSafetensors(bytes),
        (e: unknown) => e instanceof SafetensorsError && message.test(e.message),
        String(message),
      );
    }
  });
});
