// Ground truth for diffGrad: diffGrad_v2.py's step written out per tensor (and, with
// `epsAfterBiasCorrection`, the paper's placement of ε), with no shared kernel code.
import type { FloatArray } from "../../src/params/layout.js";

/** Hyperparameters of {@link DiffGradReference}. */
export interface DiffGradReferenceOptions {
  lr: number;
  betas: [number, number];
  eps: number;
  weightDecay: number;
  /** Whether tensor i receives weight decay (default: all). */
  decays?: (index: number) => boolean;
  epsAfterBiasCorrection: boolean;
}

/** Per-tensor diffGrad; `params` are updated in place, `grads` are left untouched. */
export class DiffGradReference {
  readonly expAvg: FloatArray[];
  readonly expAvgSq: FloatArray[];
  readonly previousGrad: FloatArray[];
  private stepCount = 0;

  constructor(
    readonly params: FloatArray[],
    readonly options: DiffGradReferenceOptions,
  ) {
    this.expAvg = params.map((p) => p.map(() => 0));
    this.expAvgSq = params.map((p) => p.map(() => 0));
    this.previousGrad = params.map((p) => p.map(() => 0));
  }

  step(grads: FloatArray[]): void {
    const { lr, eps } = this.options;
    const [beta1, beta2] = this.options.betas;
    this.stepCount++;
    const biasCorrection1 = 1 - beta1 ** this.stepCount;
    const biasCorrection2 = 1 - beta2 ** this.stepCount;
    this.params.forEach((p, k) => {
      const weightDecay = (this.options.decays?.(k) ?? true) ? this.options.weightDecay : 0;
      // The reference adds weight decay to p.grad in place; the sum is stored as the previous
      // gradient, so it is rounded to the parameters' element type.
      const grad = grads[k].map((g, i) => g + weightDecay * p[i]);
      const m = this.expAvg[k];
      const v = this.expAvgSq[k];
      const previous = this.previousGrad[k];
      for (let i = 0; i < p.length; i++) {
        m[i] = m[i] * beta1 + (1 - beta1) * grad[i];
        v[i] = v[i] * beta2 + (1 - beta2) * grad[i] * grad[i];
        const dfc = 1 / (1 + Math.exp(-Math.abs(previous[i] - grad[i])));
        previous[i] = grad[i];
        if (this.options.epsAfterBiasCorrection) {
          const mHat = m[i] / biasCorrection1;
          const vHat = v[i] / biasCorrection2;
          p[i] = p[i] - (lr * dfc * mHat) / (Math.sqrt(vHat) + eps);
        } else {
          const stepSize = (lr * Math.sqrt(biasCorrection2)) / biasCorrection1;
          const denom = Math.sqrt(v[i]) + eps;
          p[i] = p[i] - (stepSize * (m[i] * dfc)) / denom;
        }
      }
    });
  }
}
