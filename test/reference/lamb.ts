// Ground truth for LAMB: cybertronai/pytorch-lamb's step written out per tensor (and, with
// `biasCorrection`, the paper's bias-corrected moments), with no shared kernel code.
import type { FloatArray } from "../../src/params/layout.js";

/** Hyperparameters of {@link LambReference}. */
export interface LambReferenceOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Whether tensor i receives weight decay (default: all). */
  decays?: (index: number) => boolean;
  biasCorrection: boolean;
  clampMax: number;
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** Per-tensor LAMB; `params` are updated in place. */
export class LambReference {
  readonly expAvg: FloatArray[];
  readonly expAvgSq: FloatArray[];
  /** Trust ratio used for each tensor at the last step. */
  readonly trustRatios: number[];
  private stepCount = 0;

  constructor(
    readonly params: FloatArray[],
    readonly options: LambReferenceOptions,
  ) {
    this.expAvg = params.map((p) => p.map(() => 0));
    this.expAvgSq = params.map((p) => p.map(() => 0));
    this.trustRatios = params.map(() => 1);
  }

  step(grads: FloatArray[]): void {
    const { lr, eps, biasCorrection, clampMax } = this.options;
    const [beta1, beta2] = this.options.betas;
    this.stepCount++;
    const bc1 = biasCorrection ? 1 - beta1 ** this.stepCount : 1;
    const bc2 = biasCorrection ? 1 - beta2 ** this.stepCount : 1;
    this.params.forEach((p, k) => {
      const grad = grads[k];
      const m = this.expAvg[k];
      const v = this.expAvgSq[k];
      const weightDecay = (this.options.decays?.(k) ?? true) ? this.options.weightDecay : 0;
      for (let i = 0; i < p.length; i++) m[i] = m[i] * beta1 + (1 - beta1) * grad[i];
      for (let i = 0; i < p.length; i++) v[i] = v[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
      const weightNorm = Math.min(Math.max(norm(p), 0), clampMax);
      // Same element type as the parameters, as torch would allocate it.
      const adamStep = p.map(() => 0);
      for (let i = 0; i < p.length; i++) {
        adamStep[i] = m[i] / bc1 / (Math.sqrt(v[i] / bc2) + eps) + weightDecay * p[i];
      }
      const adamNorm = norm(adamStep);
      const trust = weightNorm === 0 || adamNorm === 0 ? 1 : weightNorm / adamNorm;
      this.trustRatios[k] = trust;
      for (let i = 0; i < p.length; i++) p[i] = p[i] - lr * trust * adamStep[i];
    });
  }
}
