/**
 * Elementwise loops of the zeroth-order methods (src/zo). Each runs over one chunk of a
 * direction at a time, so a caller never needs a parameter-sized temporary: a chunk of z, and
 * for the methods that combine several directions per element, a float64 chunk of the estimate
 * ĝ = Σ_j s_j·z_j.
 *
 * Arithmetic is float64 (JavaScript numbers) with one rounding to the buffer's element type per
 * stored element; a value read back after it is stored is the rounded one. The language forbids
 * fused multiply-add, so these loops give the same bits on every engine, which is what lets a
 * replay rebuild parameters from seeds and scalars. Each loop comes in a copy typed for
 * Float32Array and a generic one, because V8 compiles a loop for the array types it has seen.
 */

/** Any flat float buffer. */
type Floats = Float32Array | Float64Array;

function addScaled32(target: Float32Array, z: Float32Array, c: number, n: number): void {
  for (let i = 0; i < n; i++) target[i] = target[i] + c * z[i];
}

function addScaledAny(target: Floats, z: Floats, c: number, n: number): void {
  for (let i = 0; i < n; i++) target[i] = target[i] + c * z[i];
}

/** `target[i] ← fl(target[i] + c·z[i])` for i below `z.length`. */
export function zoAddScaled(target: Floats, z: Floats, c: number): void {
  const n = Math.min(target.length, z.length);
  if (target instanceof Float32Array && z instanceof Float32Array) addScaled32(target, z, c, n);
  else addScaledAny(target, z, c, n);
}

function shifted32(out: Float32Array, base: Float32Array, z: Float32Array, c: number, n: number) {
  for (let i = 0; i < n; i++) out[i] = base[i] + c * z[i];
}

function shiftedAny(out: Floats, base: Floats, z: Floats, c: number, n: number) {
  for (let i = 0; i < n; i++) out[i] = base[i] + c * z[i];
}

/** `out[i] ← fl(base[i] + c·z[i])`: a perturbed copy, `base` untouched. */
export function zoShiftedCopy(out: Floats, base: Floats, z: Floats, c: number): void {
  const n = Math.min(out.length, base.length, z.length);
  if (out instanceof Float32Array && base instanceof Float32Array && z instanceof Float32Array) {
    shifted32(out, base, z, c, n);
  } else shiftedAny(out, base, z, c, n);
}

/** `acc[i] ← acc[i] + c·z[i]` in float64: one direction's share of the estimate ĝ. */
export function zoAccumulate(acc: Float64Array, z: Floats, c: number, n: number): void {
  for (let i = 0; i < n; i++) acc[i] += c * z[i];
}

function momentum32(
  p: Float32Array,
  m: Float32Array,
  g: Float64Array,
  mu: number,
  lr: number,
  n: number,
) {
  for (let i = 0; i < n; i++) {
    m[i] = mu * m[i] + g[i];
    p[i] = p[i] - lr * m[i];
  }
}

function momentumAny(p: Floats, m: Floats, g: Float64Array, mu: number, lr: number, n: number) {
  for (let i = 0; i < n; i++) {
    m[i] = mu * m[i] + g[i];
    p[i] = p[i] - lr * m[i];
  }
}

/** Heavy ball on an estimate: `m ← fl(μ·m + ĝ)`, then `p ← fl(p − lr·m)` with the stored m. */
export function zoMomentumStep(
  p: Floats,
  m: Floats,
  estimate: Float64Array,
  momentum: number,
  learningRate: number,
  n: number,
): void {
  if (p instanceof Float32Array && m instanceof Float32Array) {
    momentum32(p, m, estimate, momentum, learningRate, n);
  } else momentumAny(p, m, estimate, momentum, learningRate, n);
}

function adam32(
  p: Float32Array,
  m: Float32Array,
  v: Float32Array,
  g: Float64Array,
  b1: number,
  b2: number,
  stepSize: number,
  rootBc2: number,
  eps: number,
  n: number,
) {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    m[i] = b1 * m[i] + c1 * gi;
    v[i] = b2 * v[i] + c2 * gi * gi;
    p[i] = p[i] - (stepSize * m[i]) / (Math.sqrt(v[i]) / rootBc2 + eps);
  }
}

function adamAny(
  p: Floats,
  m: Floats,
  v: Floats,
  g: Float64Array,
  b1: number,
  b2: number,
  stepSize: number,
  rootBc2: number,
  eps: number,
  n: number,
) {
  const c1 = 1 - b1;
  const c2 = 1 - b2;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    m[i] = b1 * m[i] + c1 * gi;
    v[i] = b2 * v[i] + c2 * gi * gi;
    p[i] = p[i] - (stepSize * m[i]) / (Math.sqrt(v[i]) / rootBc2 + eps);
  }
}

/**
 * Adam on an estimate ĝ: `m ← fl(β1·m + (1−β1)·ĝ)`, `v ← fl(β2·v + (1−β2)·ĝ·ĝ)`, then
 * `p ← fl(p − (stepSize·m) / (√v / rootBc2 + ε))` with the stored m and v, where the caller
 * passes stepSize = lr / (1 − β1^k) and rootBc2 = √(1 − β2^k).
 */
export function zoAdamStep(
  p: Floats,
  m: Floats,
  v: Floats,
  estimate: Float64Array,
  beta1: number,
  beta2: number,
  stepSize: number,
  rootBc2: number,
  eps: number,
  n: number,
): void {
  if (p instanceof Float32Array && m instanceof Float32Array && v instanceof Float32Array) {
    adam32(p, m, v, estimate, beta1, beta2, stepSize, rootBc2, eps, n);
  } else adamAny(p, m, v, estimate, beta1, beta2, stepSize, rootBc2, eps, n);
}

/** Sign descent on an estimate: `p ← fl(p − lr·sign(ĝ))` (sign 0 at 0, so p stays). */
export function zoSignStep(
  p: Floats,
  estimate: Float64Array,
  learningRate: number,
  n: number,
): void {
  for (let i = 0; i < n; i++) {
    const g = estimate[i];
    if (g > 0) p[i] = p[i] - learningRate;
    else if (g < 0) p[i] = p[i] + learningRate;
  }
}
