// Ground truth for the fused Adam path: torch.optim's single-tensor loop, written plainly, one
// tensor and one element at a time, in float64 arithmetic, straight from the update equations.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceAdamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  amsgrad: boolean;
  decayMask?: (name: string) => boolean;
}

export interface ReferenceAdamState {
  step: number;
  m: Map<string, Float64Array>;
  v: Map<string, Float64Array>;
  vMax: Map<string, Float64Array>;
}

export function referenceAdamInit(layout: Layout): ReferenceAdamState {
  const zeros = () => new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  return { step: 0, m: zeros(), v: zeros(), vMax: zeros() };
}

export function referenceAdamStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceAdamState,
  o: ReferenceAdamOptions,
): void {
  state.step += 1;
  const t = state.step;
  for (const tensor of layout.tensors) {
    const m = state.m.get(tensor.name)!;
    const v = state.v.get(tensor.name)!;
    const vMax = state.vMax.get(tensor.name)!;
    const wd = o.decayMask && !o.decayMask(tensor.name) ? 0 : o.weightDecay;
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      let p = params[i];
      let g = grad[i];
      if (o.decoupled) p = p * (1 - o.lr * wd);
      else g = g + wd * p;
      m[k] = o.beta1 * m[k] + (1 - o.beta1) * g;
      v[k] = o.beta2 * v[k] + (1 - o.beta2) * g * g;
      let second = v[k];
      if (o.amsgrad) {
        vMax[k] = Math.max(vMax[k], v[k]);
        second = vMax[k];
      }
      const mHat = m[k] / (1 - o.beta1 ** t);
      const vHat = second / (1 - o.beta2 ** t);
      params[i] = p - (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  }
}
