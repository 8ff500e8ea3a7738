// Ground truth for AdaGrad-Norm (Ward, Wu & Bottou): b² accumulates the squared norm of the
// gradient (whole vector, or each tensor's block), then x ← x − η·g/b. Written plainly, one
// tensor and one element at a time, in float64 arithmetic.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceAdagradNormOptions {
  eta: number;
  b0: number;
  perTensor: boolean;
}

export interface ReferenceAdagradNormState {
  /** b² for the whole vector (key ""), or per tensor name. */
  bSquared: Map<string, number>;
}

export function referenceAdagradNormInit(
  layout: Layout,
  o: ReferenceAdagradNormOptions,
): ReferenceAdagradNormState {
  const keys = o.perTensor ? layout.tensors.map((t) => t.name) : [""];
  return { bSquared: new Map(keys.map((k) => [k, o.b0 * o.b0])) };
}

export function referenceAdagradNormStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceAdagradNormState,
  o: ReferenceAdagradNormOptions,
): void {
  for (const tensor of layout.tensors) {
    let squaredNorm = 0;
    for (let k = 0; k < tensor.size; k++) squaredNorm += grad[tensor.offset + k] ** 2;
    const key = o.perTensor ? tensor.name : "";
    state.bSquared.set(key, state.bSquared.get(key)! + squaredNorm);
  }
  for (const tensor of layout.tensors) {
    const b = Math.sqrt(state.bSquared.get(o.perTensor ? tensor.name : "")!);
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      params[i] = params[i] - (o.eta * grad[i]) / b;
    }
  }
}
