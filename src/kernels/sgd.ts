/** Momentum kernels for SGD-type methods over flat buffers. */
import type { Floats, Runs } from "./apply.js";
import { inRange } from "./apply.js";
import { WASM_MIN_LENGTH, commonArena, fastPathActive, kernelPair } from "./fast.js";

const MOMENTUM = kernelPair("momentum");
const NESTEROV = kernelPair("nesterov");
const MOMENTUM_STEP = kernelPair("momentumStep");
const NESTEROV_STEP = kernelPair("nesterovStep");

function heavyBall32(u: Float32Array, buf: Float32Array, mu: number, c: number, n: number) {
  for (let i = 0; i < n; i++) {
    const b = mu * buf[i] + c * u[i];
    buf[i] = b;
    u[i] = b;
  }
}

function heavyBallAny(u: Floats, buf: Floats, mu: number, c: number, n: number) {
  for (let i = 0; i < n; i++) {
    const b = mu * buf[i] + c * u[i];
    buf[i] = b;
    u[i] = b;
  }
}

function nesterovAny(u: Floats, buf: Floats, mu: number, c: number, momentum: number, n: number) {
  for (let i = 0; i < n; i++) {
    const g = u[i];
    const b = mu * buf[i] + c * g;
    buf[i] = b;
    u[i] = g + momentum * b;
  }
}

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
  if (n >= WASM_MIN_LENGTH && fastPathActive()) {
    const arena = commonArena(u, buf);
    if (arena !== null && inRange(0, n, buf)) {
      const x = arena.args;
      x[0] = u.byteOffset;
      x[1] = buf.byteOffset;
      x[2] = 0;
      x[3] = n;
      x[4] = mu;
      x[5] = c;
      x[6] = momentum;
      const f32 = u instanceof Float32Array;
      if (nesterov) arena.run(f32 ? NESTEROV.f32 : NESTEROV.f64, 7, 2);
      else arena.run(f32 ? MOMENTUM.f32 : MOMENTUM.f64, 6, 2);
      return;
    }
  }
  if (nesterov) nesterovAny(u, buf, mu, c, momentum, n);
  else if (u instanceof Float32Array && buf instanceof Float32Array) heavyBall32(u, buf, mu, c, n);
  else heavyBallAny(u, buf, mu, c, n);
}

function heavyBallStep32(
  p: Float32Array,
  u: Float32Array,
  buf: Float32Array,
  mu: number,
  c: number,
  a: number,
  b: number,
  lo: number,
  hi: number,
) {
  for (let i = lo; i < hi; i++) {
    const s = mu * buf[i] + c * u[i];
    buf[i] = s;
    p[i] = a * p[i] + b * Math.fround(s);
  }
}

function momentumStepAny(
  p: Floats,
  u: Floats,
  buf: Floats,
  mu: number,
  c: number,
  momentum: number,
  nesterov: boolean,
  a: number,
  b: number,
  lo: number,
  hi: number,
) {
  const round = u instanceof Float32Array;
  for (let i = lo; i < hi; i++) {
    const g = u[i];
    const s = mu * buf[i] + c * g;
    buf[i] = s;
    let d = nesterov ? g + momentum * s : s;
    if (round) d = Math.fround(d);
    p[i] = a * p[i] + b * d;
  }
}

/**
 * {@link sgdMomentum} fused with the parameter write: `buf` advances exactly as there, and with
 * `d` the direction it would store in `u` (rounded to `u`'s element type),
 * `p ← a[r]·p + b·d` on each run r of `runs` (see {@link Runs}). `u` keeps the gradient.
 */
export function sgdMomentumStep(
  p: Floats,
  u: Floats,
  buf: Floats,
  momentum: number,
  dampening: number,
  nesterov: boolean,
  first: boolean,
  b: number,
  runs: Runs,
): void {
  const n = Math.min(p.length, u.length);
  const c = first ? 1 : 1 - dampening;
  const mu = first ? 0 : momentum;
  if (n >= WASM_MIN_LENGTH && fastPathActive()) {
    const arena = commonArena(p, u, buf);
    if (arena !== null && inRange(0, n, buf) && arena.writeRuns(runs, n, 3)) {
      const x = arena.args;
      x[0] = p.byteOffset;
      x[1] = u.byteOffset;
      x[2] = buf.byteOffset;
      x[5] = 0;
      x[6] = n;
      x[7] = mu;
      x[8] = c;
      const f32 = u instanceof Float32Array;
      if (nesterov) {
        x[9] = momentum;
        x[10] = b;
        arena.run(f32 ? NESTEROV_STEP.f32 : NESTEROV_STEP.f64, 11, 5);
      } else {
        x[9] = b;
        arena.run(f32 ? MOMENTUM_STEP.f32 : MOMENTUM_STEP.f64, 10, 5);
      }
      return;
    }
  }
  const f32 =
    !nesterov &&
    p instanceof Float32Array &&
    u instanceof Float32Array &&
    buf instanceof Float32Array;
  let start = 0;
  for (let r = 0; r < runs.ends.length && start < n; r++) {
    const end = Math.min(runs.ends[r], n);
    const a = runs.a[r];
    if (f32) heavyBallStep32(p, u, buf, mu, c, a, b, start, end);
    else momentumStepAny(p, u, buf, mu, c, momentum, nesterov, a, b, start, end);
    start = Math.max(start, end);
  }
}
