/**
 * Final parameter writes. Kernels take typed arrays and numbers only and import nothing else of
 * the library, so any layer can use them.
 */

/** Any flat float buffer. */
export type Floats = Float32Array | Float64Array;

/** `p[i] += u[i]` for i in [start, end). */
export function addInPlace(p: Floats, u: Floats, start = 0, end = p.length): void {
  for (let i = start; i < end; i++) p[i] += u[i];
}

/** `p[i] = a·p[i] + b·u[i]` for i in [start, end): fused decay, learning rate and apply. */
export function axpby(p: Floats, u: Floats, a: number, b: number, start = 0, end = p.length): void {
  if (a === 1) {
    if (b === 1) for (let i = start; i < end; i++) p[i] += u[i];
    else for (let i = start; i < end; i++) p[i] += b * u[i];
  } else {
    for (let i = start; i < end; i++) p[i] = a * p[i] + b * u[i];
  }
}

/** Index of the first non-finite element in [start, end), or -1. */
export function firstNonFinite(u: Floats, start = 0, end = u.length): number {
  for (let i = start; i < end; i++) {
    const x = u[i];
    // x - x is NaN exactly when x is NaN or ±Infinity; cheaper than Number.isFinite per element.
    if (x - x !== 0) return i;
  }
  return -1;
}

/** Replaces NaN and ±Infinity by 0 in place; returns how many were replaced. */
export function zeroNonFinite(u: Floats, start = 0, end = u.length): number {
  let replaced = 0;
  for (let i = start; i < end; i++) {
    const x = u[i];
    if (x - x !== 0) {
      u[i] = 0;
      replaced++;
    }
  }
  return replaced;
}
