/**
 * Gradient clipping by global norm: Pascanu, Mikolov & Bengio, "On the difficulty of training
 * recurrent neural networks", ICML 2013.
 *
 *     n = ‖u‖₂ over every tensor together        u ← u · (c / n)   when n > c, else unchanged
 *
 * The rule and its threshold test (`n < c` keeps the update) are optax's
 * `clip_by_global_norm`; torch's `clip_grad_norm_` adds 1e-6 to n, which we do not. The norm is
 * accumulated in float64 whatever the buffer's type, and recomputed with rescaling when the plain
 * sum of squares overflows, so huge finite entries still give the right direction.
 */
import type { FloatArray } from "../params/layout.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { GradientTransform, State } from "./transform.js";
import { checkHyper } from "./validate.js";

/** State of {@link clipByGlobalNorm}. */
export interface ClipByGlobalNormState extends State {
  /** Updates seen so far (for a scheduled threshold). */
  count: number;
  /** Global L2 norm of the last incoming update, before clipping (for logging). */
  norm: number;
}

/**
 * Euclidean norm of a flat buffer, accumulated in float64. Falls back to a scaled sum when the
 * squares overflow: ‖x‖ = m·‖x/m‖ with m = max|xᵢ|.
 */
export function globalNorm(u: FloatArray): number {
  let sum = 0;
  for (let i = 0; i < u.length; i++) sum += u[i] * u[i];
  if (sum !== Infinity) return Math.sqrt(sum);
  let largest = 0;
  for (let i = 0; i < u.length; i++) {
    const a = Math.abs(u[i]);
    if (a > largest) largest = a;
  }
  // An infinite entry makes the norm infinite; only overflow of finite squares is rescued.
  if (largest === Infinity) return Infinity;
  let scaled = 0;
  const inv = 1 / largest;
  for (let i = 0; i < u.length; i++) {
    const x = u[i] * inv;
    scaled += x * x;
  }
  return largest * Math.sqrt(scaled);
}

/**
 * Scales the whole update so its global L2 norm is at most `maxNorm` (> 0, constant or
 * schedule). Stateless apart from a step count and the last norm seen.
 */
export function clipByGlobalNorm(maxNorm: Hyper): GradientTransform<ClipByGlobalNormState> {
  checkHyper("clipByGlobalNorm", "maxNorm", maxNorm, { above: 0 });
  return {
    name: "clipByGlobalNorm",
    init: () => ({ count: 0, norm: 0 }),
    update(u, state) {
      const limit = valueAt(maxNorm, state.count);
      const norm = globalNorm(u);
      if (norm > limit) {
        const factor = limit / norm;
        for (let i = 0; i < u.length; i++) u[i] *= factor;
      }
      state.norm = norm;
      state.count++;
    },
  };
}
