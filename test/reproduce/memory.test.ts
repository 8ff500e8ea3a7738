// The optimizer-state memory of the Lion reproduction against the closed form of the state
// layout: Lion keeps one buffer the size of the parameters (its momentum), AdamW two (first and
// second moments).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { adamw } from "../../src/optim/adam.js";
import { lion } from "../../src/optim/lion.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { DType } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import {
  checkpointStateBytes,
  compareMemory,
  lionVsAdamwPlan,
  measureOptimizerMemory,
  stateBuffers,
} from "../../src/reproduce/lionVsAdamw.js";

const BYTES: Record<DType, number> = { float32: 4, float64: 8 };

/** Layouts of several sizes: one tensor, the digits perceptron, and odd shapes. */
const SHAPES: { name: string; shape: number[] }[][] = [
  [{ name: "w", shape: [1] }],
  [
    { name: "layer1.weight", shape: [64, 32] },
    { name: "layer1.bias", shape: [32] },
    { name: "layer2.weight", shape: [32, 10] },
    { name: "layer2.bias", shape: [10] },
  ],
  [
    { name: "a", shape: [3, 5, 7] },
    { name: "b", shape: [11] },
  ],
];

describe("optimizer-state memory", () => {
  for (const dtype of ["float32", "float64"] as const) {
    it(`is 1 × the parameter bytes for Lion and 2 × for AdamW (${dtype})`, () => {
      for (const tensors of SHAPES) {
        const params = new ParamSet(new Layout(tensors, dtype));
        const elements = tensors.reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0);
        const parameterBytes = elements * BYTES[dtype];
        const lionMemory = measureOptimizerMemory("lion", params, lion({ weightDecay: 1 }));
        const adamwMemory = measureOptimizerMemory("adamw", params, adamw({ weightDecay: 0.1 }));

        assert.equal(lionMemory.stateBytes, parameterBytes);
        assert.equal(lionMemory.checkpointStateBytes, parameterBytes);
        assert.deepEqual(
          lionMemory.buffers.map((b) => [b.path.split("/").pop(), b.dtype, b.elements]),
          [["mu", dtype, elements]],
        );
        assert.equal(adamwMemory.stateBytes, 2 * parameterBytes);
        assert.equal(adamwMemory.checkpointStateBytes, 2 * parameterBytes);
        assert.deepEqual(
          adamwMemory.buffers.map((b) => [b.path.split("/").pop(), b.dtype, b.elements]),
          [
            ["mu", dtype, elements],
            ["nu", dtype, elements],
          ],
        );
        assert.equal(lionMemory.timesParameterBytes, 1);
        assert.equal(adamwMemory.timesParameterBytes, 2);
      }
    });
  }

  it("compares the two sides as the reproduction builds them: a ratio of 1 : 2", () => {
    const params = new ParamSet(new Layout(SHAPES[1], "float32"));
    for (const quick of [true, false]) {
      const memory = compareMemory("perceptron", params, lionVsAdamwPlan(quick, 0));
      assert.equal(memory.parameters, 2410);
      assert.equal(memory.parameterBytes, 2410 * 4);
      assert.deepEqual(
        memory.optimizers.map((o) => [o.optimizer, o.stateBytes]),
        [
          ["adamw", 2 * 2410 * 4],
          ["lion", 2410 * 4],
        ],
      );
      assert.equal(memory.lionToAdamw, 0.5);
    }
  });

  it("walks nested state, counting typed arrays and skipping numbers", () => {
    const state = {
      count: 7,
      first: new Float32Array(5),
      group: { inner: { second: new Float64Array(3), count: 2 } },
    };
    assert.deepEqual(stateBuffers(state), [
      { path: "first", dtype: "float32", elements: 5, bytes: 20 },
      { path: "group/inner/second", dtype: "float64", elements: 3, bytes: 24 },
    ]);
  });

  it("counts the same state bytes in a checkpoint after training steps", async () => {
    const params = new ParamSet(new Layout(SHAPES[2], "float64"));
    const opt = new Optimizer(params, adamw({ learningRate: 0.1 }));
    const grads = params.layout.zeros().fill(0.5);
    for (let k = 0; k < 3; k++) await opt.update(grads);
    assert.equal(checkpointStateBytes(opt), 2 * 116 * 8);
  });
});
