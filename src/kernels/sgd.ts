/** Momentum kernels for SGD-type methods over flat buffers. */
import type { Floats } from "./apply.js";

/**
 * Heavy-ball momentum in torch.optim's form, in place on `u` (the gradient on entry):
 * `buf ← μ·buf + (1 − dampening)·g` (or `buf ← g` when `first`), then
 * `u ← g + μ·buf` (Nesterov) or `u ← buf`.
 */
export function sgdMomentum(
  u: Floats,
  buf: Floats,
  momentum: number,
  dampening: number,
  nesterov: boolean,
  first: boolean,
): void {
  const n = u.length;
  const c = first ? 1 : 1 - dampening;
  const mu = first ? 0 : momentum;
  if (nesterov) {
    for (let i = 0; i < n; i++) {
      const g = u[i];
      const b = mu * buf[i] + c * g;
      buf[i] = b;
      u[i] = g + momentum * b;
    }
  } else {
    for (let i = 0; i < n; i++) {
      const b = mu * buf[i] + c * u[i];
      buf[i] = b;
      u[i] = b;
    }
  }
}
