// Ground truth for LARS: the paper's per-layer rule as torchlars runs it (trust ratio, then
// torch.optim.SGD's momentum on the scaled, weight-decayed gradient), written out per tensor.
import type { FloatArray } from "../../src/params/layout.js";

/** Hyperparameters of {@link LarsReference}. */
export interface LarsReferenceOptions {
  lr: number;
  momentum: number;
  dampening: number;
  nesterov: boolean;
  weightDecay: number;
  trustCoefficient: number;
  eps: number;
  /** `"paper"`: ‖g‖ + wd‖θ‖ + ε; `"optax"`: ‖g + wd·θ‖ + ε. */
  form: "paper" | "optax";
  /** Whether tensor i receives weight decay (default: all). */
  decays?: (index: number) => boolean;
  /** Whether tensor i is trust-scaled (default: all). */
  adapts?: (index: number) => boolean;
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/** Per-tensor LARS; `params` are updated in place. */
export class LarsReference {
  /** Momentum buffer per tensor (null before the first step, as torch's SGD). */
  readonly momentumBuffer: (FloatArray | null)[];

  constructor(
    readonly params: FloatArray[],
    readonly options: LarsReferenceOptions,
  ) {
    this.momentumBuffer = params.map(() => null);
  }

  step(grads: FloatArray[]): void {
    const o = this.options;
    this.params.forEach((p, k) => {
      const wd = (o.decays?.(k) ?? true) ? o.weightDecay : 0;
      const decayed = Array.from(grads[k], (g, i) => g + wd * p[i]);
      let trust = 1;
      if (o.adapts?.(k) ?? true) {
        const weightNorm = norm(p);
        const gradNorm = norm(grads[k]);
        const decayedNorm = norm(decayed);
        if (o.form === "paper" && weightNorm > 0 && gradNorm > 0) {
          trust = (o.trustCoefficient * weightNorm) / (gradNorm + wd * weightNorm + o.eps);
        }
        if (o.form === "optax" && weightNorm > 0 && decayedNorm > 0) {
          trust = (o.trustCoefficient * weightNorm) / (decayedNorm + o.eps);
        }
      }
      // Stored in the parameters' element type, as torch would hold the scaled gradient.
      const d = p.map(() => 0);
      for (let i = 0; i < d.length; i++) d[i] = trust * decayed[i];
      let direction: FloatArray = d;
      if (o.momentum !== 0) {
        let buf = this.momentumBuffer[k];
        if (buf === null) {
          buf = d.slice();
          this.momentumBuffer[k] = buf;
        } else {
          for (let i = 0; i < d.length; i++)
            buf[i] = o.momentum * buf[i] + (1 - o.dampening) * d[i];
        }
        if (o.nesterov) {
          direction = d.map((x, i) => x + o.momentum * buf[i]);
        } else {
          direction = buf;
        }
      }
      for (let i = 0; i < p.length; i++) p[i] = p[i] - o.lr * direction[i];
    });
  }
}
