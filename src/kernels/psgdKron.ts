/**
 * PSGD Kron's elementwise loops: damping noise, diagonal Kronecker factors applied along one
 * mode of a tensor, per-mode sums of squares, the diagonal factors' Lie-group steps, momentum and
 * the amplitude clipping of the preconditioned gradient.
 *
 * A tensor seen along mode i is a row-major `[before, n, after]` block: `before` is the product
 * of the dimensions ahead of mode i, `n` the mode's size, `after` the product of those behind it.
 * Index (b, j, a) is `(b·n + j)·after + a`.
 */

type Floats = Float32Array | Float64Array;

/**
 * `out ← g + (damping + relative·|g|)⊙noise`: the perturbation PSGD adds to its fitting input,
 * so the preconditioner stays bounded (P ≤ I/damping) where the input vanishes.
 */
export function addDampingNoise(
  g: Float64Array,
  noise: Float64Array,
  damping: number,
  relative: number,
  out: Float64Array,
): void {
  const n = out.length;
  for (let i = 0; i < n; i++) {
    const gi = g[i];
    out[i] = gi + (damping + relative * Math.abs(gi)) * noise[i];
  }
}

/** `out[b, j, a] ← d[j]·x[b, j, a]`: a diagonal matrix applied along one mode. */
export function scaleAlongMode(
  d: Float64Array,
  x: Float64Array,
  before: number,
  n: number,
  after: number,
  out: Float64Array,
): void {
  for (let b = 0; b < before; b++) {
    for (let j = 0; j < n; j++) {
      const dj = d[j];
      const start = (b * n + j) * after;
      for (let a = start; a < start + after; a++) out[a] = dj * x[a];
    }
  }
}

/** `out[j] ← Σ_{b,a} x[b, j, a]²`: the diagonal of the mode-j Gram matrix. */
export function squaresAlongMode(
  x: Float64Array,
  before: number,
  n: number,
  after: number,
  out: Float64Array,
): void {
  out.fill(0, 0, n);
  for (let b = 0; b < before; b++) {
    for (let j = 0; j < n; j++) {
      const start = (b * n + j) * after;
      let sum = 0;
      for (let a = start; a < start + after; a++) sum += x[a] * x[a];
      out[j] += sum;
    }
  }
}

/** `out[i] ← x[i]²` for i < n. */
export function squareInto(x: Float64Array, n: number, out: Float64Array): void {
  for (let i = 0; i < n; i++) out[i] = x[i] * x[i];
}

/** max_i x[i] (+ y[i] when `y` is given), over i < n; −Infinity when n = 0. */
export function maxOfSum(x: Float64Array, y: Float64Array | undefined, n: number): number {
  let best = -Infinity;
  for (let i = 0; i < n; i++) {
    const v = y === undefined ? x[i] : x[i] + y[i];
    if (v > best) best = v;
  }
  return best;
}

/** max_i |x[i]| over i < n (NaN propagates). */
export function maxAbs(x: Float64Array, n: number): number {
  let best = 0;
  for (let i = 0; i < n; i++) {
    const v = Math.abs(x[i]);
    if (v > best || v !== v) best = v;
  }
  return best;
}

/** Σ x[i]² over the whole array. */
export function sumOfSquares(x: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum += x[i] * x[i];
  return sum;
}

/** mean_i x[i]⁴ over the whole array (NaN for an empty one). */
export function meanFourthPower(x: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) {
    const s = x[i] * x[i];
    sum += s * s;
  }
  return sum / x.length;
}

/** `e[j] ← t1[j] − (t2 === undefined ? c : t2[j])` for j < n. */
export function differenceInto(
  t1: Float64Array,
  t2: Float64Array | undefined,
  c: number,
  n: number,
  e: Float64Array,
): void {
  for (let j = 0; j < n; j++) e[j] = t1[j] - (t2 === undefined ? c : t2[j]);
}

/** `q[j] ← q[j]·(1 − step·e[j])`: the diagonal step of dQ = Q^0.5·E·Q^1.5, Q·E·Q and Q·E·P. */
export function scaleFactorStep(q: Float64Array, e: Float64Array, step: number): void {
  for (let j = 0; j < q.length; j++) q[j] *= 1 - step * e[j];
}

/** `q[j] ← q[j] − step·e[j]·q[j]`: the diagonal step of dQ = E·Q. */
export function lieFactorStep(q: Float64Array, e: Float64Array, step: number): void {
  for (let j = 0; j < q.length; j++) q[j] -= step * e[j] * q[j];
}

/** `q[j] ← q[j]·(1 − step·e[j])²`: the diagonal step of the quadratic form (QUAD). */
export function quadraticFactorStep(q: Float64Array, e: Float64Array, step: number): void {
  for (let j = 0; j < q.length; j++) {
    const gain = 1 - step * e[j];
    q[j] *= gain * gain;
  }
}

/** `m ← β·m + (1 − β)·g` elementwise. */
export function momentumAverage(m: Float64Array, g: Float64Array, beta: number): void {
  const rest = 1 - beta;
  for (let i = 0; i < m.length; i++) m[i] = m[i] * beta + rest * g[i];
}

/**
 * PSGD's clipping of a preconditioned gradient: scale it down so its root-mean-square
 * amplitude is at most `maxAverage`, then clamp every entry to [−maxElement, maxElement].
 */
export function clipAmplitudes(d: Float64Array, maxAverage: number, maxElement: number): void {
  const n = d.length;
  const average = Math.sqrt(sumOfSquares(d) / n);
  if (average > maxAverage) {
    const factor = maxAverage / average;
    for (let i = 0; i < n; i++) d[i] *= factor;
  }
  for (let i = 0; i < n; i++) {
    const v = d[i];
    if (v > maxElement) d[i] = maxElement;
    else if (v < -maxElement) d[i] = -maxElement;
  }
}

/** `out[i] ← x[i]` with `out` a float64 copy of a tensor's run of a flat buffer. */
export function copyToFloat64(x: Floats, offset: number, out: Float64Array): void {
  for (let i = 0; i < out.length; i++) out[i] = x[offset + i];
}

/** `u[offset + i] ← factor·d[i]`, rounded to `u`'s precision. */
export function writeScaled(d: Float64Array, factor: number, u: Floats, offset: number): void {
  if (factor === 1) {
    for (let i = 0; i < d.length; i++) u[offset + i] = d[i];
  } else {
    for (let i = 0; i < d.length; i++) u[offset + i] = factor * d[i];
  }
}
