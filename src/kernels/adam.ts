/**
 * Adam-family moment kernels over flat buffers: one pass reads the gradient from `u`, updates the
 * moments and writes the direction back into `u` ({@link adamDirection}), or writes the
 * parameters directly ({@link adamStep}, the direction fused with the learning rate and
 * decoupled weight decay).
 */
import type { Floats, Runs } from "./apply.js";
import { inRange } from "./apply.js";
import type { Arena } from "./fast.js";
import { WASM_MIN_LENGTH, commonArena, fastPathActive, kernelPair } from "./fast.js";

const ADAM = kernelPair("adam");
const ADAM_ROOT = kernelPair("adamRoot");
const ADAM_MAX = kernelPair("adamMax");
const ADAM_STEP = kernelPair("adamStep");
const ADAM_ROOT_STEP = kernelPair("adamRootStep");
const ADAM_MAX_STEP = kernelPair("adamMaxStep");

function fastDirection32(
  u: Float32Array,
  m: Float32Array,
  v: Float32Array,
  beta1: number,
  beta2: number,
  eps: number,
  inv1: number,
  invSqrt2: number,
  n: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    u[i] = (mi * inv1) / (Math.sqrt(vi) * invSqrt2 + eps);
  }
}

function fastDirectionAny(
  u: Floats,
  m: Floats,
  v: Floats,
  beta1: number,
  beta2: number,
  eps: number,
  inv1: number,
  invSqrt2: number,
  n: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    u[i] = (mi * inv1) / (Math.sqrt(vi) * invSqrt2 + eps);
  }
}

function generalDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  vMax: Floats | null,
  beta1: number,
  beta2: number,
  eps: number,
  epsRoot: number,
  inv1: number,
  bc2: number,
  n: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    let vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    if (vMax !== null) {
      if (vMax[i] > vi) vi = vMax[i];
      vMax[i] = vi;
    }
    u[i] = (mi * inv1) / (Math.sqrt(vi / bc2 + epsRoot) + eps);
  }
}

/**
 * Fills `arena.args` with the moment arguments shared by every Adam kernel, after `arrays`
 * pointers (and a run table when `runs` is given); returns the index of `lo`.
 */
function adamArgs(
  arena: Arena,
  arrays: number,
  runTable: boolean,
  n: number,
  beta1: number,
  beta2: number,
  eps: number,
  epsRoot: number,
  bc1: number,
  bc2: number,
  fast: boolean,
): number {
  const x = arena.args;
  const lo = arrays + (runTable ? 2 : 0);
  x[lo] = 0;
  x[lo + 1] = n;
  let k = lo + 2;
  x[k++] = beta1;
  x[k++] = 1 - beta1;
  x[k++] = beta2;
  x[k++] = 1 - beta2;
  x[k++] = 1 / bc1;
  if (fast) {
    x[k++] = 1 / Math.sqrt(bc2);
  } else {
    x[k++] = bc2;
    x[k++] = epsRoot;
  }
  x[k++] = eps;
  return k;
}

/**
 * `m ← β1·m + (1−β1)·g`, `v ← β2·v + (1−β2)·g²`,
 * `u ← (m / bc1) / (√(v / bc2 + epsRoot) + eps)` where `g = u` on entry.
 * With `vMax` (AMSGrad) the running maximum of `v` replaces `v` in the denominator.
 * `bc1 = 1 − β1^t`, `bc2 = 1 − β2^t` (pass 1 to disable bias correction).
 * Without `vMax` and with `epsRoot = 0` the denominator is evaluated as `√v·(1/√bc2) + eps`.
 */
export function adamDirection(
  u: Floats,
  m: Floats,
  v: Floats,
  vMax: Floats | null,
  beta1: number,
  beta2: number,
  eps: number,
  epsRoot: number,
  bc1: number,
  bc2: number,
): void {
  const n = u.length;
  const fast = vMax === null && epsRoot === 0;
  if (n >= WASM_MIN_LENGTH && fastPathActive()) {
    const arena = commonArena(u, m, v, vMax);
    if (arena !== null && inRange(0, n, m, v, vMax)) {
      const x = arena.args;
      x[0] = u.byteOffset;
      x[1] = m.byteOffset;
      x[2] = v.byteOffset;
      if (vMax !== null) x[3] = vMax.byteOffset;
      const arrays = vMax === null ? 3 : 4;
      const count = adamArgs(arena, arrays, false, n, beta1, beta2, eps, epsRoot, bc1, bc2, fast);
      const kernel = fast ? ADAM : vMax === null ? ADAM_ROOT : ADAM_MAX;
      const index = u instanceof Float32Array ? kernel.f32 : kernel.f64;
      arena.run(index, count, arrays);
      return;
    }
  }
  const inv1 = 1 / bc1;
  if (fast) {
    const invSqrt2 = 1 / Math.sqrt(bc2);
    if (u instanceof Float32Array && m instanceof Float32Array && v instanceof Float32Array) {
      fastDirection32(u, m, v, beta1, beta2, eps, inv1, invSqrt2, n);
    } else {
      fastDirectionAny(u, m, v, beta1, beta2, eps, inv1, invSqrt2, n);
    }
    return;
  }
  generalDirection(u, m, v, vMax, beta1, beta2, eps, epsRoot, inv1, bc2, n);
}

function fastStep32(
  p: Float32Array,
  u: Float32Array,
  m: Float32Array,
  v: Float32Array,
  beta1: number,
  beta2: number,
  eps: number,
  inv1: number,
  invSqrt2: number,
  a: number,
  b: number,
  lo: number,
  hi: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  for (let i = lo; i < hi; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    const d = Math.fround((mi * inv1) / (Math.sqrt(vi) * invSqrt2 + eps));
    p[i] = a * p[i] + b * d;
  }
}

function fastStepAny(
  p: Floats,
  u: Floats,
  m: Floats,
  v: Floats,
  beta1: number,
  beta2: number,
  eps: number,
  inv1: number,
  invSqrt2: number,
  a: number,
  b: number,
  lo: number,
  hi: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const round = u instanceof Float32Array;
  for (let i = lo; i < hi; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    const vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    let d = (mi * inv1) / (Math.sqrt(vi) * invSqrt2 + eps);
    if (round) d = Math.fround(d);
    p[i] = a * p[i] + b * d;
  }
}

function generalStep(
  p: Floats,
  u: Floats,
  m: Floats,
  v: Floats,
  vMax: Floats | null,
  beta1: number,
  beta2: number,
  eps: number,
  epsRoot: number,
  inv1: number,
  bc2: number,
  a: number,
  b: number,
  lo: number,
  hi: number,
): void {
  const c1 = 1 - beta1;
  const c2 = 1 - beta2;
  const round = u instanceof Float32Array;
  for (let i = lo; i < hi; i++) {
    const g = u[i];
    const mi = beta1 * m[i] + c1 * g;
    let vi = beta2 * v[i] + c2 * g * g;
    m[i] = mi;
    v[i] = vi;
    if (vMax !== null) {
      if (vMax[i] > vi) vi = vMax[i];
      vMax[i] = vi;
    }
    let d = (mi * inv1) / (Math.sqrt(vi / bc2 + epsRoot) + eps);
    if (round) d = Math.fround(d);
    p[i] = a * p[i] + b * d;
  }
}

/**
 * {@link adamDirection} fused with the parameter write: the moments advance exactly as there,
 * and with `d` the direction it would store in `u` (rounded to `u`'s element type),
 * `p ← a[r]·p + b·d` on each run r of `runs` (see {@link Runs}). `u` keeps the gradient.
 *
 * One pass instead of two (the direction, then `axpby` per tensor): 28 bytes of memory traffic
 * per float32 parameter instead of 40, with results identical to the two passes.
 */
export function adamStep(
  p: Floats,
  u: Floats,
  m: Floats,
  v: Floats,
  vMax: Floats | null,
  beta1: number,
  beta2: number,
  eps: number,
  epsRoot: number,
  bc1: number,
  bc2: number,
  b: number,
  runs: Runs,
): void {
  const n = Math.min(p.length, u.length);
  const fast = vMax === null && epsRoot === 0;
  if (n >= WASM_MIN_LENGTH && fastPathActive()) {
    const arena = commonArena(p, u, m, v, vMax);
    const arrays = vMax === null ? 4 : 5;
    if (arena !== null && inRange(0, n, m, v, vMax) && arena.writeRuns(runs, n, arrays)) {
      const x = arena.args;
      x[0] = p.byteOffset;
      x[1] = u.byteOffset;
      x[2] = m.byteOffset;
      x[3] = v.byteOffset;
      if (vMax !== null) x[4] = vMax.byteOffset;
      const k = adamArgs(arena, arrays, true, n, beta1, beta2, eps, epsRoot, bc1, bc2, fast);
      x[k] = b;
      const kernel = fast ? ADAM_STEP : vMax === null ? ADAM_ROOT_STEP : ADAM_MAX_STEP;
      arena.run(u instanceof Float32Array ? kernel.f32 : kernel.f64, k + 1, arrays + 2);
      return;
    }
  }
  const inv1 = 1 / bc1;
  const invSqrt2 = 1 / Math.sqrt(bc2);
  const f32 =
    p instanceof Float32Array &&
    u instanceof Float32Array &&
    m instanceof Float32Array &&
    v instanceof Float32Array;
  let start = 0;
  for (let r = 0; r < runs.ends.length && start < n; r++) {
    const end = Math.min(runs.ends[r], n);
    const a = runs.a[r];
    if (!fast) {
      generalStep(p, u, m, v, vMax, beta1, beta2, eps, epsRoot, inv1, bc2, a, b, start, end);
    } else if (f32) {
      fastStep32(p, u, m, v, beta1, beta2, eps, inv1, invSqrt2, a, b, start, end);
    } else {
      fastStepAny(p, u, m, v, beta1, beta2, eps, inv1, invSqrt2, a, b, start, end);
    }
    start = Math.max(start, end);
  }
}
