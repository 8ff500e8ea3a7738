// Ground truth for the fused Adagrad path: torch.optim.Adagrad's single-tensor loop (v1.13),
// written plainly, one tensor and one element at a time, in float64 arithmetic.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceAdagradOptions {
  lr: number;
  lrDecay: number;
  weightDecay: number;
  initialAccumulatorValue: number;
  eps: number;
}

export interface ReferenceAdagradState {
  step: number;
  sum: Map<string, Float64Array>;
}

export function referenceAdagradInit(
  layout: Layout,
  o: ReferenceAdagradOptions,
): ReferenceAdagradState {
  const sum = new Map(
    layout.tensors.map((t) => [t.name, new Float64Array(t.size).fill(o.initialAccumulatorValue)]),
  );
  return { step: 0, sum };
}

export function referenceAdagradStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceAdagradState,
  o: ReferenceAdagradOptions,
): void {
  state.step += 1;
  const clr = o.lr / (1 + (state.step - 1) * o.lrDecay);
  for (const tensor of layout.tensors) {
    const sum = state.sum.get(tensor.name)!;
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      const g = grad[i] + o.weightDecay * params[i];
      sum[k] = sum[k] + g * g;
      params[i] = params[i] - (clr * g) / (Math.sqrt(sum[k]) + o.eps);
    }
  }
}
