import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ShapeMismatchError } from "../../src/errors.js";
import { ParamSet, nestedShape, toNested } from "../../src/params/paramset.js";

describe("ParamSet", () => {
  it("builds from a tree of nested arrays, typed arrays and shaped data", () => {
    const set = ParamSet.fromRecord(
      {
        layer1: {
          weight: [
            [1, 2, 3],
            [4, 5, 6],
          ],
          bias: new Float32Array([7, 8, 9]),
        },
        scale: 10,
        emb: { shape: [2, 2], data: [11, 12, 13, 14] },
      },
      "float32",
    );
    assert.deepEqual(
      set.layout.tensors.map((t) => [t.name, [...t.shape]]),
      [
        ["layer1.weight", [2, 3]],
        ["layer1.bias", [3]],
        ["scale", []],
        ["emb", [2, 2]],
      ],
    );
    assert.deepEqual([...set.data], [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14]);
    assert.deepEqual(set.get("layer1.weight"), [
      [1, 2, 3],
      [4, 5, 6],
    ]);
    assert.equal(set.get("scale"), 10);
    assert.deepEqual(set.toRecord().emb, [
      [11, 12],
      [13, 14],
    ]);
  });

  it("writes through views and set()", () => {
    const set = ParamSet.fromRecord(
      {
        w: [
          [1, 2],
          [3, 4],
        ],
        b: [0, 0],
      },
      "float64",
    );
    set.view("b")[1] = 5;
    set.set("w", [
      [9, 8],
      [7, 6],
    ]);
    assert.deepEqual([...set.data], [9, 8, 7, 6, 0, 5]);
    set.set("b", new Float64Array([1, 2]));
    assert.deepEqual([...set.view("b")], [1, 2]);
    assert.throws(() => set.set("w", [[1, 2, 3]]), ShapeMismatchError);
    assert.throws(() => set.set("b", [1, 2, 3]), /b: value has 3 elements, tensor has 2/);
  });

  it("clone is deep", () => {
    const set = ParamSet.fromRecord({ w: [1, 2] }, "float64");
    const copy = set.clone();
    copy.data[0] = 100;
    assert.equal(set.data[0], 1);
    assert.equal(copy.layout, set.layout);
  });

  it("rejects ragged arrays and mismatched shaped data", () => {
    assert.throws(() => ParamSet.fromRecord({ w: [[1, 2], [3]] }), /ragged/);
    assert.throws(
      () => ParamSet.fromRecord({ w: { shape: [2, 2], data: [1, 2, 3] } }),
      /w: data has 3 elements/,
    );
    assert.throws(() => ParamSet.fromRecord({ w: "x" as unknown as number }), /w must be a tensor/);
  });

  it("nestedShape and toNested are inverse", () => {
    const nested = [
      [
        [1, 2],
        [3, 4],
        [5, 6],
      ],
    ];
    assert.deepEqual(nestedShape(nested), [1, 3, 2]);
    assert.deepEqual(toNested([1, 2, 3, 4, 5, 6], [1, 3, 2]), nested);
  });
});
