// Ground truth for SGD with random exponential scaling (Zhang & Cutkosky, ICML 2024): the update
// equations written plainly, one tensor and one element at a time, in float64. The scaling factor
// is rebuilt from the raw Philox words with Math.log, independently of the library's samplers.
import type { FloatArray, Layout } from "../../src/params/layout.js";
import { randomBits } from "../../src/random/philox.js";

export interface ReferenceRandomScalingOptions {
  lr: number | ((count: number) => number);
  beta: number;
  mu: number;
  seed: number;
}

export interface ReferenceRandomScalingState {
  step: number;
  delta: Map<string, Float64Array>;
}

export function referenceRandomScalingInit(layout: Layout): ReferenceRandomScalingState {
  return {
    step: 0,
    delta: new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)])),
  };
}

/** s_t ~ Exp(1) for step t (from 1): −log u with u in (0, 1] from words 2(t−1), 2(t−1)+1 of stream 0. */
export function referenceScalingFactor(seed: number, t: number): number {
  const hi = randomBits(seed, 0, 2 * (t - 1));
  const lo = randomBits(seed, 0, 2 * (t - 1) + 1);
  const u = (Math.floor(hi / 32) * 2 ** 26 + Math.floor(lo / 64) + 1) / 2 ** 53;
  return -Math.log(u);
}

export function referenceRandomScalingStep(
  layout: Layout,
  params: FloatArray,
  grad: FloatArray,
  state: ReferenceRandomScalingState,
  o: ReferenceRandomScalingOptions,
): void {
  state.step += 1;
  const eta = typeof o.lr === "function" ? o.lr(state.step - 1) : o.lr;
  const s = referenceScalingFactor(o.seed, state.step);
  for (const tensor of layout.tensors) {
    const delta = state.delta.get(tensor.name)!;
    for (let k = 0; k < tensor.size; k++) {
      const i = tensor.offset + k;
      delta[k] = (o.beta / (1 + eta * o.mu)) * (delta[k] - eta * grad[i]);
      params[i] = params[i] + s * delta[k];
    }
  }
}
