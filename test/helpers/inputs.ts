// Deterministic test inputs: a small seeded generator (SplitMix32-style mixing) so test data is
// identical on every run and platform without touching the library's own random module.
import type { Dataset } from "../../src/data/dataset.js";
import { subset } from "../../src/data/dataset.js";
import { Layout } from "../../src/params/layout.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";

/** Uniform floats in [-1, 1) from a seed; same seed, same sequence. */
export function seededUniform(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    z = (z ^ (z >>> 16)) >>> 0;
    return z / 2 ** 31 - 1;
  };
}

/** Fills `out` with seeded uniforms in [-scale, scale). */
export function fillUniform(out: FloatArray, seed: number, scale = 1): FloatArray {
  const next = seededUniform(seed);
  for (let i = 0; i < out.length; i++) out[i] = scale * next();
  return out;
}

/** A multi-tensor layout typical of a small network (matrices, biases, a norm scale). */
export function sampleLayout(dtype: DType = "float64"): Layout {
  return new Layout(
    [
      { name: "layer1.weight", shape: [7, 5] },
      { name: "layer1.bias", shape: [5] },
      { name: "norm.scale", shape: [5] },
      { name: "layer2.weight", shape: [5, 3] },
      { name: "layer2.bias", shape: [3] },
    ],
    dtype,
  );
}

/** Parameters of {@link sampleLayout} filled with seeded values. */
export function sampleParams(dtype: DType = "float64", seed = 1): ParamSet {
  return seededParams(sampleLayout(dtype), seed);
}

/** A sequence of `steps` seeded gradients for `layout`. */
export function sampleGradients(layout: Layout, steps: number, seed = 100): FloatArray[] {
  return Array.from({ length: steps }, (_, k) => fillUniform(layout.zeros(), seed + k, 0.5));
}

/** Parameters of `layout` filled with seeded values in [-1, 1). */
export function seededParams(layout: Layout, seed = 1): ParamSet {
  return new ParamSet(layout, fillUniform(layout.zeros(), seed));
}

/** Every `step`-th row of `ds` (rows 0, step, 2·step, …): a smaller data set of the same kind. */
export function everyNth(ds: Dataset, step: number): Dataset {
  return subset(
    ds,
    Array.from({ length: Math.floor(ds.rows / step) }, (_, i) => i * step),
  );
}

/** Matrices of several kinds: tall, wide, square and a 3-D tensor seen as 2×12. */
export function matrixLayout(dtype: DType = "float64"): Layout {
  return new Layout(
    [
      { name: "tall", shape: [7, 3] },
      { name: "wide", shape: [2, 5] },
      { name: "square", shape: [4, 4] },
      { name: "filter", shape: [2, 3, 4] },
    ],
    dtype,
  );
}
