// Ground truth for the fused AdaHessian path: the official per-parameter loop written plainly,
// one tensor and one element at a time, in float64 arithmetic, straight from the update
// equations. Probes are drawn element by element with the scalar Rademacher sampler, and the
// spatial averages are taken with explicit multi-index loops over each tensor's shape.
import { rademacher } from "../../src/random/distributions.js";
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceAdaHessianOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  hessianPower: number;
  averaging: "kernels" | "rows" | "none";
  seed: number;
}

export interface ReferenceAdaHessianState {
  step: number;
  m: Map<string, Float64Array>;
  v: Map<string, Float64Array>;
}

export function referenceAdaHessianInit(layout: Layout): ReferenceAdaHessianState {
  const zeros = () => new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  return { step: 0, m: zeros(), v: zeros() };
}

/** The dimensions averaged over for a tensor of `shape`, as in the two official files. */
function averagedDims(shape: readonly number[], averaging: string): number[] {
  if (averaging === "none") return [];
  if (shape.length === 4) return [2, 3];
  if (averaging === "rows" && shape.length === 2) return [1];
  if (averaging === "rows" && shape.length === 3) return [2];
  return [];
}

/** Mean of `|hv|` over the dimensions `dims` of a row-major tensor, broadcast back. */
function spatialMean(hv: Float64Array, shape: readonly number[], dims: number[]): Float64Array {
  const abs = hv.map(Math.abs);
  if (dims.length === 0) return abs;
  const strides = shape.map((_, d) => shape.slice(d + 1).reduce((a, b) => a * b, 1));
  const keyOf = (flat: number) =>
    shape.map((n, d) => (dims.includes(d) ? 0 : Math.floor(flat / strides[d]) % n)).join(",");
  const sums = new Map<string, number>();
  const counts = new Map<string, number>();
  for (let i = 0; i < abs.length; i++) {
    const key = keyOf(i);
    sums.set(key, (sums.get(key) ?? 0) + abs[i]);
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  return abs.map((_, i) => sums.get(keyOf(i))! / counts.get(keyOf(i))!);
}

/**
 * One AdaHessian step on `params` given the gradient and a Hessian-vector product oracle
 * evaluated at the current parameters.
 */
export function referenceAdaHessianStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  hvp: (x: Float64Array, v: Float64Array) => Float64Array,
  state: ReferenceAdaHessianState,
  o: ReferenceAdaHessianOptions,
): void {
  const probe = new Float64Array(layout.size);
  for (const t of layout.tensors) {
    for (let k = 0; k < t.size; k++) {
      probe[t.offset + k] = rademacher(o.seed, state.step, t.offset + k);
    }
  }
  const hv = hvp(Float64Array.from(params), probe);
  state.step += 1;
  const t = state.step;
  for (const tensor of layout.tensors) {
    const m = state.m.get(tensor.name)!;
    const v = state.v.get(tensor.name)!;
    const own = hv.slice(tensor.offset, tensor.offset + tensor.size);
    const diag = spatialMean(own, tensor.shape, averagedDims(tensor.shape, o.averaging));
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      m[k] = o.beta1 * m[k] + (1 - o.beta1) * grad[i];
      v[k] = o.beta2 * v[k] + (1 - o.beta2) * diag[k] * diag[k];
      const denom =
        Math.pow(Math.sqrt(v[k]), o.hessianPower) /
          Math.pow(Math.sqrt(1 - o.beta2 ** t), o.hessianPower) +
        o.eps;
      const direction = m[k] / (1 - o.beta1 ** t) / denom;
      params[i] = params[i] - o.lr * (direction + o.weightDecay * params[i]);
    }
  }
}
