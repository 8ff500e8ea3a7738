/**
 * ZO-Adam: Adam on the SPSA estimate.
 *
 * Chen, Liu, Xu, Li, Lin, Hong & Cox, "ZO-AdaMM: Zeroth-Order Adaptive Momentum Method for
 * Black-Box Optimization", NeurIPS 2019; as benchmarked in Zhang et al., "Revisiting
 * Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: A Benchmark", ICML 2024.
 * Official implementation: ZO-Bench/ZO-LLM @ bf210fa (`zo-bench/trainer.py`, `zo_step` with
 * `trainer=zo_adam`, which hands g·z to `torch.optim.Adam` with its defaults).
 *
 * Step t (k = t + 1 updates including this one) with projected gradients g_j, directions z_j:
 *
 *     s_j = q(fround(g_j / n))                 (the recorded scalar; lr is not folded in)
 *     ĝ_i = Σ_j s_j·z_j,i                      (float64, j ascending, from 0)
 *     m_i ← β1·m_i + (1 − β1)·ĝ_i              (rounded to the layout's dtype)
 *     v_i ← β2·v_i + (1 − β2)·ĝ_i·ĝ_i          (rounded)
 *     θ_i ← θ_i − (lr / (1 − β1^k))·m_i / (√v_i / √(1 − β2^k) + eps)
 *
 * torch.optim.Adam's arrangement of the bias corrections. β^k is computed by repeated
 * multiplication rather than `**`, so replay on another engine gives the same bits. The two
 * moments are the parameter-sized state; ĝ is formed chunk by chunk. Replay reruns this update
 * from the records' scalars.
 *
 * Defaults: torch.optim.Adam's β = (0.9, 0.999), eps = 1e-8; ε = 1e-3, lr = 1e-6 (the ZO-Bench
 * sweep's grid is {1e-5, 1e-6}), one direction.
 */
import { zoAdamStep } from "../kernels/zo.js";
import { checkNumber } from "../optim/validate.js";
import { forEachEstimateChunk } from "./apply.js";
import type { ZoCommonOptions, ZoMethod, ZoState } from "./method.js";
import { checkZoOptions, integerPower } from "./method.js";

/** Options of {@link zoAdam}. */
export interface ZoAdamOptions extends ZoCommonOptions {
  /** β1 in [0, 1) (default 0.9). */
  beta1?: number;
  /** β2 in [0, 1) (default 0.999). */
  beta2?: number;
  /** Denominator offset, > 0 (default 1e-8). */
  eps?: number;
}

/** ZO-Adam. */
export function zoAdam(options: ZoAdamOptions = {}): ZoMethod {
  const settings = checkZoOptions("zoAdam", options, 1e-6, ["beta1", "beta2", "eps"]);
  const beta1 = checkNumber("zoAdam", "beta1", options.beta1 ?? 0.9, { min: 0, below: 1 });
  const beta2 = checkNumber("zoAdam", "beta2", options.beta2 ?? 0.999, { min: 0, below: 1 });
  const eps = checkNumber("zoAdam", "eps", options.eps ?? 1e-8, { above: 0 });
  const zeros = (params: Float32Array | Float64Array) =>
    params instanceof Float32Array
      ? new Float32Array(params.length)
      : new Float64Array(params.length);
  return {
    name: "zoAdam",
    settings,
    needsBaseValue: false,
    init: (params): ZoState => ({ m: zeros(params), v: zeros(params) }),
    scalar: (g, _lr, n) => g / n,
    commit(ctx, scalars) {
      const k = ctx.step + 1;
      const stepSize = ctx.learningRate / (1 - integerPower(beta1, k));
      const rootBc2 = Math.sqrt(1 - integerPower(beta2, k));
      const { params: p, state } = ctx;
      forEachEstimateChunk(
        p.length,
        ctx.dtype,
        ctx.directions,
        scalars,
        (start, end, estimate) =>
          zoAdamStep(
            p.subarray(start, end),
            state.m.subarray(start, end),
            state.v.subarray(start, end),
            estimate,
            beta1,
            beta2,
            stepSize,
            rootBc2,
            eps,
            end - start,
          ),
        ctx.scratch,
      );
      return { scalars };
    },
  };
}
