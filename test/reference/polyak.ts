// Ground truth for the stochastic Polyak step size SPS_max (Loizou et al., AISTATS 2021), written
// plainly over the tensors of a layout in float64.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferencePolyakOptions {
  fStar: number;
  c: number;
  maxStepSize: number;
  eps: number;
}

/** One SPS_max step; returns the step size used. */
export function referencePolyakStep(
  layout: Layout,
  params: FloatArray,
  loss: number,
  grad: FloatArray,
  o: ReferencePolyakOptions,
): number {
  let squaredNorm = 0;
  for (const tensor of layout.tensors) {
    for (let k = 0; k < tensor.size; k++) squaredNorm += grad[tensor.offset + k] ** 2;
  }
  let gamma = 0;
  if (squaredNorm > 0 && loss > o.fStar) {
    gamma = Math.min((loss - o.fStar) / (o.c * squaredNorm + o.eps), o.maxStepSize);
  }
  for (const tensor of layout.tensors) {
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      params[i] = params[i] - gamma * grad[i];
    }
  }
  return gamma;
}
