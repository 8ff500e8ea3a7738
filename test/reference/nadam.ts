// Ground truth for the fused NAdam path: torch.optim.NAdam's single-tensor loop, written plainly,
// one tensor and one element at a time, in float64 arithmetic. `legacyProduct` selects torch
// 1.13's momentum-term product (an extra factor μ_t); otherwise the paper's / torch ≥ 2.0's.
import type { FloatArray, Layout } from "../../src/params/layout.js";

export interface ReferenceNadamOptions {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  momentumDecay: number;
  decoupled: boolean;
  legacyProduct: boolean;
}

export interface ReferenceNadamState {
  step: number;
  muProduct: number;
  m: Map<string, Float64Array>;
  v: Map<string, Float64Array>;
}

export function referenceNadamInit(layout: Layout): ReferenceNadamState {
  const zeros = () => new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  return { step: 0, muProduct: 1, m: zeros(), v: zeros() };
}

export function referenceNadamStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceNadamState,
  o: ReferenceNadamOptions,
): void {
  state.step += 1;
  const t = state.step;
  const mu = o.beta1 * (1 - 0.5 * Math.pow(0.96, t * o.momentumDecay));
  const muNext = o.beta1 * (1 - 0.5 * Math.pow(0.96, (t + 1) * o.momentumDecay));
  state.muProduct = state.muProduct * mu;
  const muProductNext = o.legacyProduct ? state.muProduct * mu * muNext : state.muProduct * muNext;
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
      const denom = Math.sqrt(v[k] / (1 - Math.pow(o.beta2, t))) + o.eps;
      p = p - (o.lr * (1 - mu) * g) / ((1 - state.muProduct) * denom);
      p = p - (o.lr * muNext * m[k]) / ((1 - muProductNext) * denom);
      params[i] = p;
    }
  }
}
