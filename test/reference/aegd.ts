// Ground truth for AEGD (Liu & Tian, 2020): the official PyTorch step (txping/AEGD, aegd.py)
// written plainly, one tensor and one element at a time, in float64.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceAegdOptions {
  lr: number;
  c: number;
  weightDecay: number;
  decoupled: boolean;
  decayMask?: (name: string) => boolean;
}

export interface ReferenceAegdState {
  step: number;
  r: Map<string, Float64Array>;
}

export function referenceAegdInit(layout: Layout): ReferenceAegdState {
  return { step: 0, r: new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)])) };
}

/** One AEGD step from the loss f(θ) and gradient ∇f(θ) at the current parameters. */
export function referenceAegdStep(
  layout: Layout,
  params: FloatArray,
  loss: number,
  grad: FloatArray,
  state: ReferenceAegdState,
  o: ReferenceAegdOptions,
): void {
  const sqrtLoss = Math.sqrt(loss + o.c);
  for (const tensor of layout.tensors) {
    const r = state.r.get(tensor.name)!;
    const wd = o.decayMask && !o.decayMask(tensor.name) ? 0 : o.weightDecay;
    if (state.step === 0) r.fill(sqrtLoss);
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      let dg = grad[i] / (2 * sqrtLoss);
      if (o.decoupled) params[i] = params[i] * (1 - o.lr * wd);
      else dg = dg + wd * params[i];
      r[k] = r[k] / (1 + 2 * o.lr * dg ** 2);
      params[i] = params[i] - 2 * o.lr * r[k] * dg;
    }
  }
  state.step += 1;
}
