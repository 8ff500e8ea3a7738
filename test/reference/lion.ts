// Ground truth for Lion: the update of lucidrains/lion-pytorch written out per tensor, one
// statement per line of the reference, with no shared kernel code.
import type { FloatArray } from "../../src/params/layout.js";

/** Hyperparameters of {@link LionReference}, in the reference code's terms. */
export interface LionReferenceOptions {
  lr: number | ((count: number) => number);
  beta1: number;
  beta2: number;
  weightDecay: number;
  /** Whether tensor i receives weight decay (default: all). */
  decays?: (index: number) => boolean;
}

/** Per-tensor Lion; `params` are updated in place. */
export class LionReference {
  readonly expAvg: FloatArray[];
  private steps = 0;

  constructor(
    readonly params: FloatArray[],
    readonly options: LionReferenceOptions,
  ) {
    this.expAvg = params.map((p) => p.map(() => 0));
  }

  step(grads: FloatArray[]): void {
    const { beta1, beta2, weightDecay } = this.options;
    const lr =
      typeof this.options.lr === "function" ? this.options.lr(this.steps) : this.options.lr;
    this.params.forEach((p, k) => {
      const grad = grads[k];
      const expAvg = this.expAvg[k];
      const wd = (this.options.decays?.(k) ?? true) ? weightDecay : 0;
      for (let i = 0; i < p.length; i++) p[i] = p[i] * (1 - lr * wd);
      for (let i = 0; i < p.length; i++) {
        const interpolated = expAvg[i] * beta1 + grad[i] * (1 - beta1);
        const update = Math.sign(interpolated);
        p[i] = p[i] - lr * update;
      }
      for (let i = 0; i < p.length; i++) expAvg[i] = expAvg[i] * beta2 + grad[i] * (1 - beta2);
    });
    this.steps++;
  }
}
