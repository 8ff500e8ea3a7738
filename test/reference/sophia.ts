// Ground truth for Sophia: the update of Liuhong99/Sophia's SophiaG written out per tensor, one
// statement per line of the reference (`step()` then, every k steps, `update_hessian()`), with
// no shared kernel code. The paper's clip is the alternative line in `step`.
import type { FloatArray } from "../../src/params/layout.js";

/** Hyperparameters of {@link SophiaReference}, in the reference code's terms. */
export interface SophiaReferenceOptions {
  lr: number;
  beta1: number;
  beta2: number;
  rho: number;
  bs: number;
  weightDecay: number;
  eps: number;
  paper?: boolean;
}

/** Per-tensor Sophia; `params` are updated in place. */
export class SophiaReference {
  readonly expAvg: FloatArray[];
  readonly hessian: FloatArray[];

  constructor(
    readonly params: FloatArray[],
    readonly options: SophiaReferenceOptions,
  ) {
    this.expAvg = params.map((p) => p.map(() => 0));
    this.hessian = params.map((p) => p.map(() => 0));
  }

  step(grads: FloatArray[]): void {
    const { lr, beta1, rho, bs, weightDecay, eps, paper } = this.options;
    this.params.forEach((p, k) => {
      const grad = grads[k];
      const expAvg = this.expAvg[k];
      const hess = this.hessian[k];
      for (let i = 0; i < p.length; i++) p[i] = p[i] * (1 - lr * weightDecay);
      for (let i = 0; i < p.length; i++) expAvg[i] = expAvg[i] * beta1 + grad[i] * (1 - beta1);
      for (let i = 0; i < p.length; i++) {
        let direction: number;
        if (paper) {
          const r = expAvg[i] / Math.max(rho * bs * hess[i], eps);
          direction = Math.min(Math.max(r, -1), 1);
        } else {
          const ratio = Math.min(Math.abs(expAvg[i]) / (rho * bs * hess[i] + eps), 1);
          direction = Math.sign(expAvg[i]) * ratio;
        }
        p[i] = p[i] - lr * direction;
      }
    });
  }

  /** `h = beta2·h + (1 − beta2)·estimate` per tensor (the official `update_hessian` with ĥ given). */
  updateHessian(estimates: FloatArray[]): void {
    const { beta2 } = this.options;
    this.hessian.forEach((h, k) => {
      for (let i = 0; i < h.length; i++) h[i] = h[i] * beta2 + estimates[k][i] * (1 - beta2);
    });
  }
}
