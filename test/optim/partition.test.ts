import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { adam, adamw } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { partition } from "../../src/optim/partition.js";
import { addDecayedWeights, scaleByLearningRate } from "../../src/optim/primitives.js";
import type { GradientTransform, State, StepContext } from "../../src/optim/transform.js";
import { chain } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import type { DType, FloatArray, Layout, Selector } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertSameBits } from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";

const isMatrix = (t: { shape: readonly number[] }) => t.shape.length >= 2;
const isVector = (t: { shape: readonly number[] }) => t.shape.length < 2;

/** Copies the named tensors of `full` into a compact ParamSet of their own. */
function extract(full: ParamSet, names: readonly string[]): ParamSet {
  const layout = full.layout.subset(names.map((n) => full.layout.tensor(n)));
  const part = new ParamSet(layout);
  for (const n of names) part.view(n).set(full.view(n));
  return part;
}

function gatherFrom(full: Layout, buffer: FloatArray, sub: Layout): FloatArray {
  const out = sub.zeros();
  for (const t of sub.tensors) out.set(full.view(buffer, t.name), t.offset);
  return out;
}

/** Runs a transform on its own the way a non-chain Optimizer does: update, then p += u. */
async function runAlone(
  transform: GradientTransform,
  params: ParamSet,
  grads: readonly FloatArray[],
): Promise<State> {
  const state = transform.init(params.layout);
  for (const g of grads) {
    const buf = g.slice();
    await transform.update(buf, state, { params: params.data, layout: params.layout });
    for (let i = 0; i < buf.length; i++) params.data[i] += buf[i];
  }
  return state;
}

/** An asynchronous version of `t` (its update resolves on a later tick). */
function deferred(t: GradientTransform): GradientTransform {
  return {
    name: `deferred(${t.name})`,
    init: (layout) => t.init(layout),
    async update(u, state, ctx) {
      await new Promise((resolve) => setImmediate(resolve));
      await t.update(u, state, ctx);
    },
  };
}

/** Records what each call of `update` saw, then behaves like `inner`. */
function spy(
  inner: GradientTransform,
  seen: StepContext[],
  buffers: FloatArray[],
): GradientTransform {
  return {
    name: "spy",
    init: (layout) => inner.init(layout),
    update(u, state, ctx) {
      seen.push({ ...ctx, params: Float64Array.from(ctx.params) });
      buffers.push(u);
      return inner.update(u, state, ctx);
    },
  };
}

async function comparePartitionWithSeparateRuns(
  dtype: DType,
  selectors: Record<string, Selector>,
  make: () => Record<string, GradientTransform>,
  wrap: (t: GradientTransform) => GradientTransform = (t) => t,
): Promise<void> {
  const params = sampleParams(dtype, 3);
  const grads = sampleGradients(params.layout, 7, 40);
  const originals = params.clone();
  const transforms = make();
  const wrapped: Record<string, GradientTransform> = {};
  for (const k of Object.keys(transforms)) wrapped[k] = wrap(transforms[k]);
  const opt = new Optimizer(params, partition(selectors, wrapped));
  for (const g of grads) await opt.update(g);

  const fresh = make();
  for (const group of Object.keys(selectors)) {
    const names = originals.layout.select(selectors[group]).map((t) => t.name);
    const alone = extract(originals, names);
    const subGrads = grads.map((g) => gatherFrom(originals.layout, g, alone.layout));
    const state = await runAlone(fresh[group], alone, subGrads);
    for (const n of names) assertSameBits(params.view(n), alone.view(n), `${dtype} ${group} ${n}`);
    assert.deepEqual(
      Object.keys(opt.state[group] as State),
      Object.keys(state),
      `${group} state keys`,
    );
    const adamKey = Object.keys(state).find((k) => k.endsWith("scaleByAdam"));
    if (adamKey) {
      const mine = (opt.state[group] as State)[adamKey] as State;
      const theirs = state[adamKey] as State;
      assertSameBits(mine.mu as FloatArray, theirs.mu as FloatArray, `${group} mu`);
      assertSameBits(mine.nu as FloatArray, theirs.nu as FloatArray, `${group} nu`);
      assert.equal(mine.count, theirs.count);
    }
  }
}

describe("partition", () => {
  it("a mixed (gathered) partition equals each transform run on its own tensors", async () => {
    for (const dtype of ["float64", "float32"] as const) {
      await comparePartitionWithSeparateRuns(
        dtype,
        { matrices: isMatrix, vectors: isVector },
        () => ({
          matrices: adamw({ learningRate: 0.01, weightDecay: 0.1 }),
          vectors: adam({ learningRate: 0.02 }),
        }),
      );
    }
  });

  it("contiguous groups (views) and an SGD chain give the same equality", async () => {
    await comparePartitionWithSeparateRuns(
      "float64",
      { first: "layer1.*", rest: ["norm.scale", "layer2.weight", "layer2.bias"] },
      () => ({
        first: chain(addDecayedWeights(0.05), scaleByLearningRate(0.1)),
        rest: adam({ learningRate: 0.03 }),
      }),
    );
  });

  it("awaits asynchronous inner transforms before scattering their result", async () => {
    for (const selectors of [
      { matrices: isMatrix, vectors: isVector },
      { first: "layer1.*", rest: /^(norm|layer2)\./ },
    ] as Record<string, Selector>[]) {
      const [a, b] = Object.keys(selectors);
      await comparePartitionWithSeparateRuns(
        "float64",
        selectors,
        () => ({ [a]: adamw({ learningRate: 0.01 }), [b]: adam({ learningRate: 0.02 }) }),
        deferred,
      );
    }
  });

  it("contiguous groups get zero-copy views, scattered groups a compact copy", async () => {
    const params = sampleParams();
    const viewsSeen: FloatArray[] = [];
    const othersSeen: FloatArray[] = [];
    const ctxA: StepContext[] = [];
    const ctxB: StepContext[] = [];
    const opt = new Optimizer(
      params,
      partition(
        { layer1: "layer1.*", others: (t) => !t.name.startsWith("layer1.") },
        {
          layer1: spy(scaleByLearningRate(0.1), ctxA, viewsSeen),
          others: spy(scaleByLearningRate(0.1), ctxB, othersSeen),
        },
      ),
    );
    await opt.update(sampleGradients(params.layout, 1)[0]);
    assert.equal(viewsSeen[0].buffer, opt.updates.buffer, "contiguous group shares the buffer");
    assert.equal(viewsSeen[0].byteOffset, 0);
    assert.equal(viewsSeen[0].length, 7 * 5 + 5);
    // layer2 follows norm.scale, which follows layer1: `others` is contiguous too here.
    assert.equal(othersSeen[0].buffer, opt.updates.buffer);
    const gathered: FloatArray[] = [];
    const opt2 = new Optimizer(
      sampleParams(),
      partition(
        { biases: "**.bias", rest: (t) => !t.name.endsWith(".bias") },
        { biases: spy(scaleByLearningRate(0.1), [], gathered), rest: scaleByLearningRate(0.1) },
      ),
    );
    await opt2.update(sampleGradients(params.layout, 1)[0]);
    assert.notEqual(gathered[0].buffer, opt2.updates.buffer, "biases are gathered");
    assert.equal(gathered[0].length, 5 + 3);
  });

  it("gives each inner transform its sub-layout, sub-params, the objective and the loss", async () => {
    const params = sampleParams();
    const seen: StepContext[] = [];
    const objective: Objective = {
      name: "sum-of-squares",
      layout: params.layout,
      value(p) {
        let f = 0;
        for (let i = 0; i < p.length; i++) f += p[i] * p[i];
        return f;
      },
      valueAndGrad(p, g) {
        let f = 0;
        for (let i = 0; i < p.length; i++) {
          f += p[i] * p[i];
          g[i] = 2 * p[i];
        }
        return f;
      },
    };
    const expectedLoss = objective.value(params.data) as number;
    const opt = new Optimizer(
      params,
      partition(
        { biases: "**.bias", rest: (t) => !t.name.endsWith(".bias") },
        { biases: spy(scaleByLearningRate(0.1), seen, []), rest: scaleByLearningRate(0.1) },
      ),
    );
    const before = params.clone();
    await opt.step(objective);
    const ctx = seen[0];
    assert.deepEqual(
      ctx.layout.tensors.map((t) => [t.name, [...t.shape], t.offset]),
      [
        ["layer1.bias", [5], 0],
        ["layer2.bias", [3], 5],
      ],
    );
    assertSameBits(ctx.params.subarray(0, 5), before.view("layer1.bias"), "layer1.bias params");
    assertSameBits(ctx.params.subarray(5, 8), before.view("layer2.bias"), "layer2.bias params");
    assert.equal(ctx.objective, objective);
    assert.equal(ctx.loss, expectedLoss);
    // The step itself: p ← p − 0.1·2p on every tensor.
    for (let i = 0; i < params.data.length; i++) {
      assert.equal(params.data[i], before.data[i] + -0.1 * (2 * before.data[i]));
    }
  });

  it("exposes its groups, transforms, sub-layouts and the union of inner oracle needs", () => {
    const needy: GradientTransform = {
      name: "needsHvp",
      needs: ["hvp"],
      init: () => ({}),
      update: () => undefined,
    };
    const p = partition({ a: "layer1.*", b: "**" }, { a: needy, b: scaleByLearningRate(1) });
    assert.deepEqual(p.groups, ["a", "b"]);
    assert.deepEqual(p.needs, ["hvp"]);
    assert.equal(p.transforms.a, needy);
    const layout = sampleParams().layout;
    // "**" also matches layer1.*: the assignment is checked when the state is created.
    assert.throws(() => p.init(layout), /in several groups: layer1\.weight \(a, b\)/);
    const q = partition(
      { a: "layer1.*", b: (t) => !t.name.startsWith("layer1") },
      {
        a: needy,
        b: scaleByLearningRate(1),
      },
    );
    assert.deepEqual(
      q.subLayout(layout, "b").tensors.map((t) => t.name),
      ["norm.scale", "layer2.weight", "layer2.bias"],
    );
  });

  it("reports unassigned and doubly-assigned tensors by name", () => {
    const layout = sampleParams().layout;
    const p = partition(
      { weights: "**.weight", norms: /scale|layer2\.weight/ },
      { weights: scaleByLearningRate(1), norms: scaleByLearningRate(1) },
    );
    assert.throws(
      () => p.init(layout),
      (e: unknown) => {
        assert.ok(e instanceof InvalidArgumentError);
        assert.equal(e.parameter, "selectors");
        assert.match(e.message, /in no group: layer1\.bias, layer2\.bias/);
        assert.match(e.message, /in several groups: layer2\.weight \(weights, norms\)/);
        return true;
      },
    );
    assert.throws(
      () =>
        new Optimizer(sampleParams(), partition({ w: "**.weight" }, { w: scaleByLearningRate(1) })),
      /in no group: layer1\.bias, norm\.scale, layer2\.bias/,
    );
  });

  it("allows a group that matches nothing and never runs it", async () => {
    let calls = 0;
    const counting: GradientTransform = {
      name: "counting",
      init: () => ({}),
      update: () => {
        calls++;
      },
    };
    const params = sampleParams();
    const opt = new Optimizer(
      params,
      partition(
        { all: "**", none: "nothing.*" },
        { all: scaleByLearningRate(0.5), none: counting },
      ),
    );
    await opt.update(params.layout.zeros());
    assert.equal(calls, 0);
  });

  it("validates its arguments", () => {
    const sgd = scaleByLearningRate(1);
    const cases: [() => unknown, string][] = [
      [() => partition(null as never, {}), "selectors"],
      [() => partition({ a: "**" }, null as never), "transforms"],
      [() => partition({}, {}), "selectors"],
      [() => partition({ a: "**" }, { b: sgd }), "transforms"],
      [() => partition({ a: "**" }, { a: sgd, b: sgd }), "selectors"],
      [() => partition({ a: 3 as never }, { a: sgd }), "selectors.a"],
      [() => partition({ a: "**" }, { a: {} as never }), "transforms.a"],
      [() => partition({ "a/b": "**" }, { "a/b": sgd }), "group name"],
    ];
    for (const [build, parameter] of cases) {
      assert.throws(
        build,
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
        parameter,
      );
    }
  });
});
