// Ground truth for the fused RMSprop path: torch.optim.RMSprop's single-tensor loop (v1.13),
// written plainly, one tensor and one element at a time, in float64 arithmetic.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceRmspropOptions {
  lr: number;
  alpha: number;
  eps: number;
  weightDecay: number;
  momentum: number;
  centered: boolean;
}

export interface ReferenceRmspropState {
  squareAvg: Map<string, Float64Array>;
  gradAvg: Map<string, Float64Array>;
  buffer: Map<string, Float64Array>;
}

export function referenceRmspropInit(layout: Layout): ReferenceRmspropState {
  const zeros = () => new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  return { squareAvg: zeros(), gradAvg: zeros(), buffer: zeros() };
}

export function referenceRmspropStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceRmspropState,
  o: ReferenceRmspropOptions,
): void {
  for (const tensor of layout.tensors) {
    const sq = state.squareAvg.get(tensor.name)!;
    const ga = state.gradAvg.get(tensor.name)!;
    const buf = state.buffer.get(tensor.name)!;
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      const g = grad[i] + o.weightDecay * params[i];
      sq[k] = o.alpha * sq[k] + (1 - o.alpha) * g * g;
      let avg: number;
      if (o.centered) {
        ga[k] = o.alpha * ga[k] + (1 - o.alpha) * g;
        avg = Math.sqrt(sq[k] - ga[k] * ga[k]) + o.eps;
      } else {
        avg = Math.sqrt(sq[k]) + o.eps;
      }
      if (o.momentum > 0) {
        buf[k] = o.momentum * buf[k] + g / avg;
        params[i] = params[i] - o.lr * buf[k];
      } else {
        params[i] = params[i] - (o.lr * g) / avg;
      }
    }
  }
}
