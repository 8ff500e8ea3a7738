/**
 * Final parameter writes. Kernels take typed arrays and numbers only and import nothing else of
 * the library, so any layer can use them.
 *
 * Every kernel has a JavaScript loop and, for buffers made by the fast allocator (see
 * `useFastKernels`), a WebAssembly SIMD version that may also be split across worker threads.
 * Both evaluate the same operations in the same order in float64 and round once per stored
 * element, so they agree bit for bit. The JavaScript loops come in a copy typed for
 * Float32Array and a generic one: V8 compiles each copy for the array types it has seen, and a
 * loop that has seen both element types runs about a quarter slower.
 */
import { WASM_MIN_LENGTH, arenaOf, commonArena, fastPathActive, kernelPair } from "./fast.js";

const AXPBY = kernelPair("axpby");
const FIRST_NON_FINITE = kernelPair("firstNonFinite");

/** Any flat float buffer. */
export type Floats = Float32Array | Float64Array;

/**
 * Multipliers of the parameters in a fused write `p ← a[r]·p + b·d`, by run of indices: run r
 * covers `[ends[r − 1], ends[r])` (the first run starts at 0) and uses `a[r]`. An optimizer
 * passes one run per tensor with `a = 1 + decay` of that tensor.
 */
export interface Runs {
  /** Exclusive end index of each run, non-decreasing. */
  readonly ends: ArrayLike<number>;
  /** Multiplier of the parameters in each run. */
  readonly a: ArrayLike<number>;
}

/** Whether `[start, end)` is a valid integer range of every array (the WebAssembly precondition). */
export function inRange(
  start: number,
  end: number,
  a: Floats,
  b: Floats | null = null,
  c: Floats | null = null,
  d: Floats | null = null,
): boolean {
  if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end)) {
    return false;
  }
  const fits = (x: Floats | null) => x === null || end <= x.length;
  return fits(a) && fits(b) && fits(c) && fits(d);
}

/** `p[i] += u[i]` for i in [start, end). */
export function addInPlace(p: Floats, u: Floats, start = 0, end = p.length): void {
  axpby(p, u, 1, 1, start, end);
}

function axpby32(p: Float32Array, u: Float32Array, a: number, b: number, lo: number, hi: number) {
  if (a === 1) {
    if (b === 1) for (let i = lo; i < hi; i++) p[i] += u[i];
    else for (let i = lo; i < hi; i++) p[i] += b * u[i];
  } else {
    for (let i = lo; i < hi; i++) p[i] = a * p[i] + b * u[i];
  }
}

function axpbyAny(p: Floats, u: Floats, a: number, b: number, lo: number, hi: number) {
  if (a === 1) {
    if (b === 1) for (let i = lo; i < hi; i++) p[i] += u[i];
    else for (let i = lo; i < hi; i++) p[i] += b * u[i];
  } else {
    for (let i = lo; i < hi; i++) p[i] = a * p[i] + b * u[i];
  }
}

/** `p[i] = a·p[i] + b·u[i]` for i in [start, end): fused decay, learning rate and apply. */
export function axpby(p: Floats, u: Floats, a: number, b: number, start = 0, end = p.length): void {
  if (end - start >= WASM_MIN_LENGTH && fastPathActive()) {
    const arena = commonArena(p, u);
    if (arena !== null && inRange(start, end, p, u)) {
      const x = arena.args;
      x[0] = p.byteOffset;
      x[1] = u.byteOffset;
      x[2] = start;
      x[3] = end;
      x[4] = a;
      x[5] = b;
      arena.run(p instanceof Float32Array ? AXPBY.f32 : AXPBY.f64, 6, 2);
      return;
    }
  }
  // `1·p + b·u` equals `p + b·u` exactly, so the shortcuts agree with the general form.
  if (p instanceof Float32Array && u instanceof Float32Array) axpby32(p, u, a, b, start, end);
  else axpbyAny(p, u, a, b, start, end);
}

function firstNonFinite32(u: Float32Array, lo: number, hi: number): number {
  for (let i = lo; i < hi; i++) {
    const x = u[i];
    if (x - x !== 0) return i;
  }
  return -1;
}

function firstNonFiniteAny(u: Floats, lo: number, hi: number): number {
  for (let i = lo; i < hi; i++) {
    const x = u[i];
    // x - x is NaN exactly when x is NaN or ±Infinity; cheaper than Number.isFinite per element.
    if (x - x !== 0) return i;
  }
  return -1;
}

/** Index of the first non-finite element in [start, end), or -1. */
export function firstNonFinite(u: Floats, start = 0, end = u.length): number {
  if (end - start >= WASM_MIN_LENGTH && fastPathActive()) {
    const arena = arenaOf(u);
    if (arena !== null && inRange(start, end, u)) {
      const x = arena.args;
      x[0] = u.byteOffset;
      x[1] = start;
      x[2] = end;
      const f32 = u instanceof Float32Array;
      return arena.run(f32 ? FIRST_NON_FINITE.f32 : FIRST_NON_FINITE.f64, 3, 1);
    }
  }
  return u instanceof Float32Array
    ? firstNonFinite32(u, start, end)
    : firstNonFiniteAny(u, start, end);
}

/** Replaces NaN and ±Infinity by 0 in place; returns how many were replaced. */
export function zeroNonFinite(u: Floats, start = 0, end = u.length): number {
  // Only reached after a non-finite gradient was found, so it stays a plain loop.
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
