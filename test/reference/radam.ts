// Ground truth for the fused RAdam path: torch.optim.RAdam's single-tensor loop, written plainly,
// one tensor and one element at a time, in float64 arithmetic.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceRadamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  decoupled: boolean;
  /** Rectify once ρ_t exceeds this (torch: 5). */
  threshold: number;
}

export interface ReferenceRadamState {
  step: number;
  m: Map<string, Float64Array>;
  v: Map<string, Float64Array>;
}

export function referenceRadamInit(layout: Layout): ReferenceRadamState {
  const zeros = () => new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  return { step: 0, m: zeros(), v: zeros() };
}

export function referenceRadamStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceRadamState,
  o: ReferenceRadamOptions,
): void {
  state.step += 1;
  const t = state.step;
  const bc1 = 1 - Math.pow(o.beta1, t);
  const bc2 = 1 - Math.pow(o.beta2, t);
  const rhoInf = 2 / (1 - o.beta2) - 1;
  const rhoT = rhoInf - (2 * t * Math.pow(o.beta2, t)) / bc2;
  for (const tensor of layout.tensors) {
    const m = state.m.get(tensor.name)!;
    const v = state.v.get(tensor.name)!;
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      let p = params[i];
      let g = grad[i];
      if (o.decoupled) p = p * (1 - o.lr * o.weightDecay);
      else g = g + o.weightDecay * p;
      m[k] = o.beta1 * m[k] + (1 - o.beta1) * g;
      v[k] = o.beta2 * v[k] + (1 - o.beta2) * g * g;
      const mHat = m[k] / bc1;
      if (rhoT > o.threshold) {
        const rect = Math.sqrt(
          ((rhoT - 4) * (rhoT - 2) * rhoInf) / ((rhoInf - 4) * (rhoInf - 2) * rhoT),
        );
        const adaptiveLr = Math.sqrt(bc2) / (Math.sqrt(v[k]) + o.eps);
        params[i] = p - mHat * o.lr * adaptiveLr * rect;
      } else {
        params[i] = p - mHat * o.lr;
      }
    }
  }
}
