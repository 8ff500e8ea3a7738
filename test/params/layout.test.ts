import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import { Layout, selectorPredicate } from "../../src/params/layout.js";
import { sampleLayout } from "../helpers/inputs.js";

describe("Layout", () => {
  it("packs tensors contiguously in order", () => {
    const layout = sampleLayout();
    assert.deepEqual(
      layout.tensors.map((t) => [t.name, t.offset, t.size]),
      [
        ["layer1.weight", 0, 35],
        ["layer1.bias", 35, 5],
        ["norm.scale", 40, 5],
        ["layer2.weight", 45, 15],
        ["layer2.bias", 60, 3],
      ],
    );
    assert.equal(layout.size, 63);
    assert.equal(new Layout([{ name: "s", shape: [] }]).size, 1);
  });

  it("views share the buffer", () => {
    const layout = sampleLayout();
    const buf = layout.zeros();
    layout.view(buf, "layer1.bias")[2] = 7;
    assert.equal(buf[37], 7);
  });

  it("selects by glob, regexp, list and predicate", () => {
    const layout = sampleLayout();
    const names = (sel: Parameters<Layout["select"]>[0]) => layout.select(sel).map((t) => t.name);
    assert.deepEqual(names("*.bias"), ["layer1.bias", "layer2.bias"]);
    assert.deepEqual(names("layer1.*"), ["layer1.weight", "layer1.bias"]);
    assert.deepEqual(
      names("**"),
      layout.tensors.map((t) => t.name),
    );
    assert.deepEqual(names(/weight$/), ["layer1.weight", "layer2.weight"]);
    assert.deepEqual(names(["norm.scale"]), ["norm.scale"]);
    assert.deepEqual(
      names((t) => t.shape.length >= 2),
      ["layer1.weight", "layer2.weight"],
    );
    assert.deepEqual([...layout.mask("*.bias")], [0, 1, 0, 0, 1]);
    // `*` does not cross a dot; `**` does.
    assert.equal(selectorPredicate("*")({ name: "a.b", shape: [], offset: 0, size: 1 }), false);
    assert.equal(selectorPredicate("**")({ name: "a.b", shape: [], offset: 0, size: 1 }), true);
  });

  it("rejects duplicate names, bad shapes and bad dtypes naming the value", () => {
    assert.throws(
      () =>
        new Layout([
          { name: "a", shape: [2] },
          { name: "a", shape: [3] },
        ]),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /name must be unique.*"a"/.test(e.message),
    );
    assert.throws(
      () => new Layout([{ name: "w", shape: [2, -1] }]),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /shape of w/.test(e.message) && /-1/.test(e.message),
    );
    assert.throws(
      () => new Layout([{ name: "w", shape: [2] }], "float16" as "float32"),
      /dtype must be "float32" or "float64", got "float16"/,
    );
  });

  it("reports the first difference between layouts", () => {
    const a = sampleLayout();
    const b = new Layout([...a.tensors.slice(0, 2), { name: "norm.scale", shape: [6] }], "float64");
    assert.throws(
      () => a.assertSame(b, "grads"),
      (e: unknown) =>
        e instanceof ShapeMismatchError &&
        /tensor 2 is norm\.scale \[6\], expected norm\.scale \[5\]/.test(e.message),
    );
    assert.throws(() => a.assertBuffer(new Float64Array(3), "x"), /expected 63 elements/);
    assert.throws(() => a.assertBuffer(new Float32Array(63), "x"), /expected a Float64Array/);
  });
});
