// Ground truth for the fused SGD path: torch.optim.SGD's single-tensor loop (v1.13), written
// plainly, one tensor and one element at a time, in float64 arithmetic.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceSgdOptions {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  decayMask?: (name: string) => boolean;
}

export interface ReferenceSgdState {
  /** torch's `momentum_buffer`: absent until the first step with momentum. */
  buffers: Map<string, Float64Array> | null;
}

export function referenceSgdInit(): ReferenceSgdState {
  return { buffers: null };
}

export function referenceSgdStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceSgdState,
  o: ReferenceSgdOptions,
): void {
  const first = state.buffers === null;
  if (o.momentum !== 0 && state.buffers === null) {
    state.buffers = new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  }
  for (const tensor of layout.tensors) {
    const wd = o.decayMask && !o.decayMask(tensor.name) ? 0 : o.weightDecay;
    const buf = state.buffers?.get(tensor.name);
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      let d = grad[i] + wd * params[i];
      if (buf) {
        buf[k] = first ? d : o.momentum * buf[k] + (1 - o.dampening) * d;
        d = o.nesterov ? d + o.momentum * buf[k] : buf[k];
      }
      params[i] = params[i] - o.lr * d;
    }
  }
}
