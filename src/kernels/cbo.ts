/**
 * Consensus-based optimization's loops over a particle ensemble stored row by row in one flat
 * buffer (N particles of d coordinates): the Gibbs-weighted consensus point
 * ({@link consensusPoint}) and the particle move ({@link cboMove}), plus an exponential that
 * gives the same bits on every engine ({@link portableExp}), since `Math.exp` is only
 * implementation-approximated by the language and the weights decide every later step.
 */

/** A flat float buffer. */
export type ParticleBuffer = Float32Array | Float64Array;

// A float64 and its two 32-bit halves share this buffer; which half holds the sign and exponent
// depends on the platform's byte order, detected once.
const float64 = new Float64Array(1);
const words = new Uint32Array(float64.buffer);
const HIGH = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1 ? 1 : 0;

/** ln 2 in two parts: k·LN2_HIGH is exact for |k| < 2^21 (the high part has 32 significant bits). */
const LN2_HIGH = 2977044471 / 4294967296;
/** ln 2 − LN2_HIGH, rounded. */
const LN2_LOW = 1.9082149292705877e-10;
const INV_LN2 = 1.4426950408889634;
/** Below this, e^x is under half the smallest subnormal. */
const EXP_UNDERFLOW = -745.2;
/** Above this, e^x overflows. */
const EXP_OVERFLOW = 709.782712893384;
const TWO_POW_MINUS_54 = 1 / 18014398509481984;

/** 2^k for an integer k in [−1022, 1023], built from its bit pattern (exact). */
function powerOfTwo(k: number): number {
  words[HIGH] = (k + 1023) << 20;
  words[1 - HIGH] = 0;
  return float64[0];
}

/**
 * e^x from IEEE +, −, ×, ÷ and bit manipulation only, so it is bit-identical on every engine;
 * within about one ulp of the exact value. x = k·ln 2 + r with |r| ≤ ln 2 / 2, e^r by its Taylor
 * series to degree 13 (truncation below 1e-17 relative), then scaled by 2^k exactly.
 */
export function portableExp(x: number): number {
  if (x !== x) return NaN;
  if (x > EXP_OVERFLOW) return Infinity;
  if (x < EXP_UNDERFLOW) return 0;
  const k = Math.round(x * INV_LN2);
  const r = x - k * LN2_HIGH - k * LN2_LOW;
  let p = 1 + r / 13;
  p = 1 + (r / 12) * p;
  p = 1 + (r / 11) * p;
  p = 1 + (r / 10) * p;
  p = 1 + (r / 9) * p;
  p = 1 + (r / 8) * p;
  p = 1 + (r / 7) * p;
  p = 1 + (r / 6) * p;
  p = 1 + (r / 5) * p;
  p = 1 + (r / 4) * p;
  p = 1 + (r / 3) * p;
  p = 1 + (r / 2) * p;
  p = 1 + r * p;
  if (k > 1023) return p * 2 * powerOfTwo(k - 1);
  // Subnormal results: scale in two exact-until-the-last steps so the exponent field stays valid.
  if (k < -1022) return p * powerOfTwo(k + 54) * TWO_POW_MINUS_54;
  return p * powerOfTwo(k);
}

/**
 * The consensus point of the ensemble, v = Σ_i w_i·x_i / Σ_i w_i with Gibbs weights
 * w_i = exp(−α·(E_i − E_min)). Subtracting the smallest energy E_min is the log-sum-exp
 * stabilization: it cancels in the quotient, keeps every exponent ≤ 0 (no overflow at any α) and
 * gives the best particle weight 1 (so the sum never underflows to 0). Energies that are NaN or
 * +∞ get weight 0; −∞ is not allowed (the caller rejects it). Writes the normalized weights into `weightsOut` (length N) and v into
 * `consensusOut` (length d); the sums run in particle order, so the result is deterministic.
 * @returns the index of the particle with the smallest finite energy, or −1 if there is none
 *   (then nothing is written)
 */
export function consensusPoint(
  particles: ParticleBuffer,
  energies: ArrayLike<number>,
  count: number,
  dimension: number,
  alpha: number,
  weightsOut: Float64Array,
  consensusOut: Float64Array,
): number {
  let best = -1;
  let smallest = Infinity;
  for (let i = 0; i < count; i++) {
    const e = energies[i];
    if (e < smallest) {
      smallest = e;
      best = i;
    }
  }
  if (best < 0) return -1;
  let total = 0;
  for (let i = 0; i < count; i++) {
    const e = energies[i];
    const w = e < Infinity ? portableExp(-alpha * (e - smallest)) : 0;
    weightsOut[i] = w;
    total += w;
  }
  for (let i = 0; i < count; i++) weightsOut[i] /= total;
  consensusOut.fill(0, 0, dimension);
  for (let i = 0; i < count; i++) {
    const w = weightsOut[i];
    if (w === 0) continue;
    const row = i * dimension;
    for (let j = 0; j < dimension; j++) consensusOut[j] += w * particles[row + j];
  }
  return best;
}

function clip(x: number, bound: number): number {
  return x > bound ? bound : x < -bound ? -bound : x;
}

/**
 * One Euler–Maruyama step of the consensus dynamics for every particle, in place:
 *
 *     x_i ← x_i − λ·dt·(x_i − v) + σ·√dt·D_i·ξ_i
 *
 * with ξ_i the standard normal row i of `noise` (N·d values), D_i = ‖x_i − v‖₂·I (isotropic)
 * or diag(x_i − v) (anisotropic). The drift and the noise both use x_i before the move. Moved
 * coordinates are clipped to [−bound, bound].
 */
export function cboMove(
  particles: ParticleBuffer,
  consensus: Float64Array,
  noise: Float64Array,
  count: number,
  dimension: number,
  lambdaDt: number,
  sigmaSqrtDt: number,
  anisotropic: boolean,
  bound: number,
): void {
  for (let i = 0; i < count; i++) {
    const row = i * dimension;
    if (anisotropic) {
      for (let j = 0; j < dimension; j++) {
        const x = particles[row + j];
        const drift = x - consensus[j];
        particles[row + j] = clip(
          x + (-lambdaDt * drift + sigmaSqrtDt * drift * noise[row + j]),
          bound,
        );
      }
      continue;
    }
    let squared = 0;
    for (let j = 0; j < dimension; j++) {
      const drift = particles[row + j] - consensus[j];
      squared += drift * drift;
    }
    const scale = sigmaSqrtDt * Math.sqrt(squared);
    for (let j = 0; j < dimension; j++) {
      const x = particles[row + j];
      const drift = x - consensus[j];
      particles[row + j] = clip(x + (-lambdaDt * drift + scale * noise[row + j]), bound);
    }
  }
}
