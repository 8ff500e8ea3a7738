import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { numpy as np, tree } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import { InvalidArgumentError } from "../../src/errors.js";
import {
  jaxArray,
  jaxObjective,
  paramSetFromTree,
  treeFromParamSet,
} from "../../src/oracles/jax.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { adam } from "../../src/optim/adam.js";
import { fillUniform } from "../helpers/inputs.js";
import { liveBufferCounter } from "./liveBuffers.js";

const ROWS = 12;
const INPUTS = 4;
const OUTPUTS = 3;

function uniform64(length: number, seed: number): Float64Array {
  return fillUniform(new Float64Array(length), seed) as Float64Array;
}

/** Seeded problem data for least squares with a bias: X [ROWS, INPUTS], Y [ROWS, OUTPUTS]. */
function problemData(seed = 7): { x: Float64Array; y: Float64Array } {
  return {
    x: uniform64(ROWS * INPUTS, seed),
    y: uniform64(ROWS * OUTPUTS, seed + 1),
  };
}

function typed(values: Float64Array, dtype: DType): Float32Array | Float64Array {
  return dtype === "float64" ? values : Float32Array.from(values);
}

type Params = { layer: { weight: JaxArray }; bias: JaxArray };
type Batch = { x: JaxArray; y: JaxArray };

/** ½·mean_i ‖x_i W + b − y_i‖²: polynomial, so jax-js float64 is exact to rounding. */
function leastSquares(p: Params, d: Batch): JaxArray {
  const residual = np.subtract(np.add(np.matmul(d.x, p.layer.weight), p.bias), d.y);
  return np.multiply(np.mean(np.sum(np.square(residual), -1)), 0.5);
}

function batchArrays(x: Float64Array, y: Float64Array, dtype: DType): Batch {
  return {
    x: jaxArray(typed(x, dtype), [x.length / INPUTS, INPUTS]),
    y: jaxArray(typed(y, dtype), [y.length / OUTPUTS, OUTPUTS]),
  };
}

function initialTree(dtype: DType): Params {
  return {
    layer: {
      weight: jaxArray(typed(uniform64(INPUTS * OUTPUTS, 3), dtype), [INPUTS, OUTPUTS]),
    },
    bias: jaxArray(typed(Float64Array.of(0.1, -0.2, 0.3), dtype), [OUTPUTS]),
  };
}

/**
 * Closed forms of the least-squares loss at θ = (W, b) in the layout order weight, bias:
 * R = XW + 1bᵀ − Y; f = ½·mean‖R_i‖²; ∇_W = XᵀR/n; ∇_b = mean R; for a direction (V, e),
 * dR = XV + 1eᵀ and H·(V, e) = (XᵀdR/n, mean dR); the JVP is ⟨∇f, (V, e)⟩.
 */
function closedForm(x: Float64Array, y: Float64Array, theta: FloatArray, direction: FloatArray) {
  const n = y.length / OUTPUTS;
  const grad = new Float64Array(theta.length);
  const hvp = new Float64Array(theta.length);
  const bOffset = INPUTS * OUTPUTS;
  let value = 0;
  for (let i = 0; i < n; i++) {
    for (let k = 0; k < OUTPUTS; k++) {
      let r = theta[bOffset + k] - y[i * OUTPUTS + k];
      let dr = direction[bOffset + k];
      for (let j = 0; j < INPUTS; j++) {
        r += x[i * INPUTS + j] * theta[j * OUTPUTS + k];
        dr += x[i * INPUTS + j] * direction[j * OUTPUTS + k];
      }
      value += (0.5 * r * r) / n;
      for (let j = 0; j < INPUTS; j++) {
        grad[j * OUTPUTS + k] += (x[i * INPUTS + j] * r) / n;
        hvp[j * OUTPUTS + k] += (x[i * INPUTS + j] * dr) / n;
      }
      grad[bOffset + k] += r / n;
      hvp[bOffset + k] += dr / n;
    }
  }
  let jvp = 0;
  for (let i = 0; i < theta.length; i++) jvp += grad[i] * direction[i];
  return { value, grad, hvp, jvp };
}

function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  tol: number,
  what: string,
) {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < actual.length; i++) {
    const scale = Math.max(1, Math.abs(expected[i]));
    assert.ok(
      Math.abs(actual[i] - expected[i]) <= tol * scale,
      `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${tol})`,
    );
  }
}

async function leastSquaresObjective(dtype: DType, jit?: boolean) {
  const { x, y } = problemData();
  const objective = await jaxObjective({
    name: "least-squares",
    params: initialTree(dtype),
    data: batchArrays(x, y, dtype),
    loss: leastSquares,
    jit,
  });
  return { objective, x, y };
}

// jit is available for float32 only (see JaxObjectiveOptions.jit).
const MODES = [
  { dtype: "float64", jit: false },
  { dtype: "float32", jit: true },
  { dtype: "float32", jit: false },
] as const;

describe("jaxObjective against closed forms", () => {
  for (const { dtype, jit } of MODES) {
    {
      it(`value, gradient, HVP and JVP of least squares (${dtype}, jit ${jit})`, async () => {
        const { objective, x, y } = await leastSquaresObjective(dtype, jit);
        try {
          assert.deepEqual(
            objective.layout.tensors.map((t) => [t.name, t.shape]),
            [
              ["layer.weight", [INPUTS, OUTPUTS]],
              ["bias", [OUTPUTS]],
            ],
          );
          assert.equal(objective.layout.dtype, dtype);
          const theta = fillUniform(objective.layout.zeros(), 11);
          const direction = fillUniform(objective.layout.zeros(), 12);
          const expected = closedForm(x, y, theta, direction);
          const tol = dtype === "float64" ? 1e-12 : 2e-5;
          const grad = objective.layout.zeros();
          const hvp = objective.layout.zeros();
          assertClose([await objective.value(theta)], [expected.value], tol, "value");
          assertClose([await objective.valueAndGrad(theta, grad)], [expected.value], tol, "loss");
          assertClose(grad, expected.grad, tol, "gradient");
          await objective.hvp(theta, direction, hvp);
          assertClose(hvp, expected.hvp, tol, "hvp");
          assertClose([await objective.jvp(theta, direction)], [expected.jvp], tol, "jvp");
        } finally {
          objective.dispose();
        }
      });
    }
  }

  it("keeps the starting values of the parameter tree", async () => {
    const { objective } = await leastSquaresObjective("float64");
    const expected = uniform64(INPUTS * OUTPUTS, 3);
    const start = objective.initialParams();
    assert.ok(start instanceof Float64Array);
    assert.deepEqual([...start.subarray(0, INPUTS * OUTPUTS)], [...expected]);
    assert.deepEqual([...start.subarray(INPUTS * OUTPUTS)], [0.1, -0.2, 0.3]);
    start[0] = 99;
    assert.notEqual(objective.initialParams()[0], 99, "each call gives a fresh buffer");
    assert.ok(objective.paramSet().layout.equals(objective.layout));
    objective.dispose();
  });
});

/** Central differences of the objective's value and gradient (float64 only). */
describe("jaxObjective against finite differences", () => {
  type Smooth = { w: JaxArray; v: JaxArray };
  // A non-polynomial loss: Σ tanh(x W)·v + ¼‖W‖⁴-style coupling through exp.
  const smooth = (p: Smooth, d: { x: JaxArray }) => {
    const hidden = np.tanh(np.matmul(d.x, p.w));
    const out = np.sum(np.multiply(hidden, p.v.ref));
    return np.add(out, np.mean(np.exp(np.multiply(p.v, 0.5))));
  };

  for (const dtype of ["float64", "float32"] as const) {
    it(`gradient, HVP and JVP of a tanh/exp loss (${dtype})`, async () => {
      const x = uniform64(5 * 4, 21);
      const objective = await jaxObjective({
        params: {
          w: jaxArray(typed(uniform64(12, 22), dtype), [4, 3]),
          v: jaxArray(typed(uniform64(3, 23), dtype), [3]),
        },
        data: { x: jaxArray(typed(x, dtype), [5, 4]) },
        loss: smooth,
      });
      try {
        // jax-js evaluates tanh and exp to about float32 accuracy even in float64, so the
        // difference quotients use a step suited to that noise level in both precisions.
        const h = dtype === "float64" ? 1e-3 : 3e-3;
        const tol = dtype === "float64" ? 2e-4 : 3e-3;
        const theta = fillUniform(objective.layout.zeros(), 24);
        const direction = fillUniform(objective.layout.zeros(), 25);
        const grad = objective.layout.zeros();
        await objective.valueAndGrad(theta, grad);
        const plus = objective.layout.zeros();
        const minus = objective.layout.zeros();
        const fdGrad = new Float64Array(theta.length);
        for (let i = 0; i < theta.length; i++) {
          plus.set(theta);
          minus.set(theta);
          plus[i] += h;
          minus[i] -= h;
          fdGrad[i] = ((await objective.value(plus)) - (await objective.value(minus))) / (2 * h);
        }
        assertClose(grad, fdGrad, tol, "gradient vs finite differences");

        const gPlus = objective.layout.zeros();
        const gMinus = objective.layout.zeros();
        for (let i = 0; i < theta.length; i++) {
          plus[i] = theta[i] + h * direction[i];
          minus[i] = theta[i] - h * direction[i];
        }
        await objective.valueAndGrad(plus, gPlus);
        await objective.valueAndGrad(minus, gMinus);
        const fdHvp = gPlus.map((g, i) => (g - gMinus[i]) / (2 * h));
        const hvp = objective.layout.zeros();
        await objective.hvp(theta, direction, hvp);
        assertClose(hvp, fdHvp, tol, "hvp vs finite differences of the gradient");

        let directional = 0;
        for (let i = 0; i < theta.length; i++) directional += grad[i] * direction[i];
        assertClose([await objective.jvp(theta, direction)], [directional], tol, "jvp vs ∇f·v");
      } finally {
        objective.dispose();
      }
    });
  }
});

describe("jaxArray", () => {
  it("copies typed arrays with their dtype; −1 infers one dimension", async () => {
    const source = Float64Array.of(1.5, 2.25, 1e-300, 4, 5, 6);
    const x = jaxArray(source, [-1, 2]);
    assert.equal(x.dtype, "float64");
    assert.deepEqual(x.shape, [3, 2]);
    source[0] = 99;
    assert.deepEqual([...(await x.data())], [1.5, 2.25, 1e-300, 4, 5, 6]);
    const ints = jaxArray(Int32Array.of(1, 2, 3));
    assert.equal(ints.dtype, "int32");
    ints.dispose();
    assert.equal(jaxArray(Float32Array.of(1, 2), [2, 1]).dtype, "float32");
    assert.throws(() => jaxArray(Float32Array.of(1, 2, 3), [2, 2]), /does not fit 3 values/);
    assert.throws(() => jaxArray(Float32Array.of(1, 2, 3), [-1, 2]), /does not fit 3 values/);
  });

  it("leaves no Float16Array placeholder behind", () => {
    const before = "Float16Array" in globalThis;
    jaxArray(Float64Array.of(1, 2, 3)).dispose();
    assert.equal("Float16Array" in globalThis, before);
  });
});

describe("ParamSet ⇄ jax-js trees", () => {
  it("names tensors by their dotted tree paths, in traversal order", async () => {
    const params = await paramSetFromTree({
      encoder: { weight: np.array(new Float32Array([1, 2, 3, 4, 5, 6]), { shape: [2, 3] }) },
      layers: [{ bias: np.array(new Float32Array([7, 8])) }, np.array(new Float32Array([9]))],
    });
    assert.deepEqual(
      params.layout.tensors.map((t) => [t.name, t.shape]),
      [
        ["encoder.weight", [2, 3]],
        ["layers.0.bias", [2]],
        ["layers.1", [1]],
      ],
    );
    assert.equal(params.layout.dtype, "float32");
    assert.deepEqual([...params.data], [1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it("takes float64 from float64 arrays and round-trips through treeFromParamSet", async () => {
    const source = ParamSet.fromRecord(
      { block: { weight: [[1.5, -2.25]], scale: [1e-300] }, heads: { 0: [3], 1: [4, 5] } },
      "float64",
    );
    const asTree = treeFromParamSet(source) as {
      block: { weight: JaxArray; scale: JaxArray };
      heads: JaxArray[];
    };
    assert.ok(Array.isArray(asTree.heads), "levels keyed 0..n−1 become arrays");
    assert.equal(asTree.block.weight.dtype, "float64");
    assert.deepEqual(asTree.block.weight.shape, [1, 2]);
    const back = await paramSetFromTree(asTree);
    assert.equal(back.layout.dtype, "float64");
    assert.deepEqual(
      back.layout.tensors.map((t) => t.name),
      ["block.weight", "block.scale", "heads.0", "heads.1"],
    );
    assert.deepEqual([...back.data], [1.5, -2.25, 1e-300, 3, 4, 5]);
  });

  it("rejects mixed dtypes, integer arrays and non-array leaves, naming the path", async () => {
    await assert.rejects(
      paramSetFromTree({
        a: np.array(new Float32Array([1, 2])),
        b: jaxArray(new Float64Array([1, 2])),
      }),
      (e: unknown) => e instanceof InvalidArgumentError && /dtype of b/.test(e.message),
    );
    await assert.rejects(
      paramSetFromTree({ steps: np.array(new Int32Array([1, 2])) }),
      (e: unknown) => e instanceof InvalidArgumentError && /dtype of steps.*int32/.test(e.message),
    );
    await assert.rejects(
      paramSetFromTree({ w: np.array(new Float32Array([1, 2])), lr: 0.1 } as never),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /lr must be a jax-js array/.test(e.message),
    );
  });

  it("jaxObjective accepts a ParamSet and hands the loss the rebuilt tree", async () => {
    const start = ParamSet.fromRecord({ lin: { w: [1, 2], b: [0.5] } }, "float64");
    const objective = await jaxObjective({
      params: start,
      // f = ½‖w‖² + 3b: ∇ = (w, 3)
      loss: (p: { lin: { w: JaxArray; b: JaxArray } }) =>
        np.add(np.multiply(np.sum(np.square(p.lin.w)), 0.5), np.multiply(np.sum(p.lin.b), 3)),
    });
    assert.equal(objective.layout, start.layout, "the ParamSet's layout is used as is");
    const grad = objective.layout.zeros();
    assert.equal(await objective.valueAndGrad(Float64Array.of(3, 4, 1), grad), 12.5 + 3);
    assert.deepEqual([...grad], [3, 4, 3]);
    const asTree = objective.toTree(Float64Array.of(3, 4, 1));
    assert.deepEqual([...(await asTree.lin.w.data())], [3, 4]);
    asTree.lin.b.dispose();
    objective.dispose();
  });
});

describe("mini-batches", () => {
  it("setBatch loads batch k from the source; the loss sees that batch", async () => {
    const { x, y } = problemData(31);
    const rowsPerBatch = 4;
    const requested: number[] = [];
    const slice = (k: number) => {
      const first = (k % (ROWS / rowsPerBatch)) * rowsPerBatch;
      return {
        x: x.slice(first * INPUTS, (first + rowsPerBatch) * INPUTS),
        y: y.slice(first * OUTPUTS, (first + rowsPerBatch) * OUTPUTS),
      };
    };
    const objective = await jaxObjective({
      params: initialTree("float64"),
      data: (k: number) => {
        requested.push(k);
        const s = slice(k);
        return batchArrays(s.x, s.y, "float64");
      },
      loss: leastSquares,
    });
    try {
      const theta = fillUniform(objective.layout.zeros(), 32);
      const zero = objective.layout.zeros();
      assert.equal(objective.batchIndex, undefined);
      const first = await objective.value(theta);
      assert.equal(objective.batchIndex, 0, "the first call loads batch 0");
      assertClose(
        [first],
        [closedForm(slice(0).x, slice(0).y, theta, zero).value],
        1e-12,
        "batch 0",
      );
      for (const k of [1, 2, 4]) {
        objective.setBatch(k);
        objective.setBatch(k);
        const grad = objective.layout.zeros();
        const loss = await objective.valueAndGrad(theta, grad);
        const expected = closedForm(slice(k).x, slice(k).y, theta, zero);
        assertClose([loss], [expected.value], 1e-12, `batch ${k} loss`);
        assertClose(grad, expected.grad, 1e-12, `batch ${k} gradient`);
      }
      assert.deepEqual(requested, [0, 1, 2, 4], "repeating the current index does not reload");
      assert.throws(() => objective.setBatch(-1), InvalidArgumentError);
      assert.throws(() => objective.setBatch(1.5), InvalidArgumentError);
    } finally {
      objective.dispose();
    }
  });

  it("setData replaces fixed data; setBatch on fixed data is a clear error", async () => {
    const { objective, x, y } = await leastSquaresObjective("float64");
    try {
      assert.throws(() => objective.setBatch(0), /fixed data/);
      const theta = fillUniform(objective.layout.zeros(), 41);
      const zero = objective.layout.zeros();
      const other = problemData(42);
      objective.setData(batchArrays(other.x, other.y, "float64"));
      assertClose(
        [await objective.value(theta)],
        [closedForm(other.x, other.y, theta, zero).value],
        1e-12,
        "after setData",
      );
      assert.notEqual(
        closedForm(x, y, theta, zero).value,
        closedForm(other.x, other.y, theta, zero).value,
      );
    } finally {
      objective.dispose();
    }
  });
});

describe("jaxObjective errors", () => {
  it("rejects a non-scalar loss, unknown options and use after dispose", async () => {
    const objective = await jaxObjective({
      params: { w: np.array(new Float32Array([1, 2])) },
      loss: (p: { w: JaxArray }) => np.square(p.w),
    });
    await assert.rejects(
      objective.value(Float32Array.of(1, 2)),
      /must return a scalar, got shape \[2\]/,
    );
    objective.dispose();
    await assert.rejects(objective.value(Float32Array.of(1, 2)), /disposed/);
    await assert.rejects(
      jaxObjective({
        params: { w: np.zeros([2]) },
        loss: (p: { w: JaxArray }) => np.sum(p.w),
        jitt: true,
      } as never),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "jitt",
    );
  });

  it("refuses jit for float64 parameters and frees what it was given", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    await assert.rejects(
      jaxObjective({
        params: { w: jaxArray(Float64Array.of(1, 2)) },
        data: { x: jaxArray(Float64Array.of(3, 4)) },
        loss: (p: { w: JaxArray }, d: { x: JaxArray }) => np.sum(np.multiply(p.w, d.x)),
        jit: true,
      }),
      (e: unknown) => e instanceof InvalidArgumentError && e.parameter === "jit",
    );
    assert.equal(liveBuffers(), before);
  });

  it("checks buffer length and dtype against the layout", async () => {
    const { objective } = await leastSquaresObjective("float64");
    await assert.rejects(objective.value(new Float32Array(objective.layout.size)), /Float64Array/);
    await assert.rejects(objective.value(new Float64Array(3)), /expected 15 elements/);
    objective.dispose();
  });
});

describe("jax-js buffers are released (leak test)", () => {
  it("a 100-step Adam loop leaves the live buffer count unchanged", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const { objective } = await leastSquaresObjective("float32");
    const optimizer = new Optimizer(objective.paramSet(), adam({ learningRate: 0.05 }));
    const first = await optimizer.step(objective);
    const afterFirst = liveBuffers();
    let last = first;
    for (let step = 1; step < 100; step++) last = await optimizer.step(objective);
    assert.equal(liveBuffers(), afterFirst, "no buffer accumulates from step to step");
    assert.ok(last.loss! < first.loss! / 2, `the loss fell (${first.loss} → ${last.loss})`);
    objective.dispose();
    assert.equal(liveBuffers(), before, "disposing the objective frees its data and compiled code");
  });

  for (const { dtype, jit } of MODES) {
    it(`value, HVP, JVP and mini-batch switches release everything (${dtype}, jit ${jit})`, async () => {
      const liveBuffers = await liveBufferCounter();
      const before = liveBuffers();
      const { x, y } = problemData(51);
      const objective = await jaxObjective({
        params: initialTree(dtype),
        // Batches of 12, 11, 10 and 9 rows: a compiled objective traces once per shape.
        data: (k: number) =>
          batchArrays(x.slice(0, (ROWS - k) * INPUTS), y.slice(0, (ROWS - k) * OUTPUTS), dtype),
        loss: leastSquares,
        jit,
      });
      const theta = fillUniform(objective.layout.zeros(), 52);
      const out = objective.layout.zeros();
      let steady = -1;
      for (let k = 0; k < 20; k++) {
        objective.setBatch(k % 4);
        await objective.value(theta);
        await objective.valueAndGrad(theta, out);
        await objective.hvp(theta, theta, out);
        await objective.jvp(theta, theta);
        tree.dispose(objective.toTree(theta));
        if (k === 4) steady = liveBuffers();
      }
      assert.equal(liveBuffers(), steady, "no growth once every batch shape has been seen");
      objective.dispose();
      assert.equal(liveBuffers(), before);
    });
  }

  it("drops the reference eager second-order jax-js rules leave on an argument", async () => {
    // jax-js 0.1.25's eager jvp-of-grad through log and reciprocal keeps one extra reference to
    // the array it differentiates at; here that array is a parameter the objective created.
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const objective = await jaxObjective({
      params: { w: jaxArray(Float64Array.of(1, 2, 3)) },
      loss: (p: { w: JaxArray }) => np.add(np.sum(np.log(p.w.ref)), np.sum(np.reciprocal(p.w))),
    });
    const out = new Float64Array(3);
    for (let k = 0; k < 5; k++)
      await objective.hvp(Float64Array.of(1, 2, 4), Float64Array.of(1, 1, 1), out);
    // d²/dw² (log w + 1/w) = −1/w² + 2/w³, applied to ones.
    assertClose(out, [1, 0, -1 / 16 + 2 / 64], 1e-12, "hvp");
    objective.dispose();
    assert.equal(liveBuffers(), before);
  });

  it("a loss that throws leaks nothing", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const objective = await jaxObjective({
      params: { w: jaxArray(new Float64Array([1, 2, 3])) },
      data: { m: jaxArray(new Float64Array([1, 2, 3, 4]), [2, 2]) },
      loss: (p: { w: JaxArray }, d: { m: JaxArray }) => np.sum(np.matmul(d.m, p.w)),
      jit: false,
    });
    const grad = new Float64Array(3);
    await assert.rejects(objective.valueAndGrad(Float64Array.of(1, 2, 3), grad));
    await assert.rejects(objective.value(Float64Array.of(1, 2, 3)));
    objective.dispose();
    assert.equal(liveBuffers(), before);
  });

  it("conversions leak nothing", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const layout = new Layout(
      [
        { name: "a.b", shape: [2, 3] },
        { name: "c", shape: [4] },
      ],
      "float64",
    );
    const params = new ParamSet(layout, fillUniform(layout.zeros(), 61));
    const back = await paramSetFromTree(treeFromParamSet(params));
    assert.deepEqual([...back.data], [...params.data]);
    assert.equal(liveBuffers(), before);
  });
});
