/** Reductions and scalings for step-size rules that look at the whole gradient. */
import type { Floats } from "./apply.js";

/** Σ x[i]², accumulated in float64 whatever the buffer's element type. */
export function sumOfSquares(x: Floats): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) {
    const v = x[i];
    s += v * v;
  }
  return s;
}

/** `x[i] ← a·x[i]` for every i. */
export function scaleInPlace(x: Floats, a: number): void {
  for (let i = 0; i < x.length; i++) x[i] *= a;
}
