// Ground truth for AdEMAMix: apple/ml-ademamix's step written out per tensor, including its two
// warmup schedulers, with no shared kernel or schedule code.
import type { FloatArray } from "../../src/params/layout.js";

/** Hyperparameters of {@link AdemamixReference}, in the reference code's terms. */
export interface AdemamixReferenceOptions {
  lr: number;
  betas: [number, number, number];
  alpha: number;
  beta3Warmup?: number;
  alphaWarmup?: number;
  eps: number;
  weightDecay: number;
}

function linearWarmup(step: number, end: number, start: number, warmup: number): number {
  if (step < warmup) {
    const a = step / warmup;
    return (1 - a) * start + a * end;
  }
  return end;
}

function halfLifeWarmup(step: number, end: number, start: number, warmup: number): number {
  const f = (beta: number) => Math.log(0.5) / Math.log(beta + 1e-8) - 1;
  const fInverse = (t: number) => Math.pow(0.5, 1 / (t + 1));
  if (step < warmup) {
    const a = step / warmup;
    return fInverse((1 - a) * f(start) + a * f(end));
  }
  return end;
}

/** Per-tensor AdEMAMix; `params` are updated in place. */
export class AdemamixReference {
  /** Fast EMA per tensor, or null when β1 = 0 (the reference keeps no buffer then). */
  readonly expAvgFast: FloatArray[] | null;
  readonly expAvgSlow: FloatArray[];
  readonly expAvgSq: FloatArray[];
  private stepCount = 0;

  constructor(
    readonly params: FloatArray[],
    readonly options: AdemamixReferenceOptions,
  ) {
    const zeros = () => params.map((p) => p.map(() => 0));
    this.expAvgFast = options.betas[0] !== 0 ? zeros() : null;
    this.expAvgSlow = zeros();
    this.expAvgSq = zeros();
  }

  step(grads: FloatArray[]): void {
    const { lr, eps, weightDecay, alphaWarmup, beta3Warmup } = this.options;
    const [beta1, beta2, beta3Final] = this.options.betas;
    this.stepCount++;
    const step = this.stepCount;
    const biasCorrection1 = 1 - beta1 ** step;
    const biasCorrection2 = 1 - beta2 ** step;
    const alpha =
      alphaWarmup !== undefined
        ? linearWarmup(step, this.options.alpha, 0, alphaWarmup)
        : this.options.alpha;
    const beta3 =
      beta3Warmup !== undefined ? halfLifeWarmup(step, beta3Final, beta1, beta3Warmup) : beta3Final;
    this.params.forEach((p, k) => {
      const grad = grads[k];
      const slow = this.expAvgSlow[k];
      const sq = this.expAvgSq[k];
      let fast: ArrayLike<number> = grad;
      if (this.expAvgFast !== null) {
        const buffer = this.expAvgFast[k];
        for (let i = 0; i < p.length; i++) buffer[i] = buffer[i] * beta1 + grad[i] * (1 - beta1);
        fast = buffer;
      }
      for (let i = 0; i < p.length; i++) slow[i] = slow[i] * beta3 + grad[i] * (1 - beta3);
      for (let i = 0; i < p.length; i++) sq[i] = sq[i] * beta2 + grad[i] * grad[i] * (1 - beta2);
      for (let i = 0; i < p.length; i++) {
        const denom = Math.sqrt(sq[i]) / Math.sqrt(biasCorrection2) + eps;
        let update = (fast[i] / biasCorrection1 + alpha * slow[i]) / denom;
        update += weightDecay * p[i];
        p[i] = p[i] - lr * update;
      }
    });
  }
}
