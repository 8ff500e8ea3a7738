/**
 * ZO-SGD with momentum: heavy-ball SGD on the SPSA estimate.
 *
 * As benchmarked in Zhang et al., "Revisiting Zeroth-Order Optimization for Memory-Efficient LLM
 * Fine-Tuning: A Benchmark", ICML 2024 (ZO-SGD-MMT). Official implementation: ZO-Bench/ZO-LLM
 * @ bf210fa (`zo-bench/trainer.py`, `zo_step` with `trainer=zo_sgd` and `--momentum`, which
 * hands g·z to `torch.optim.SGD(momentum=μ)`, dampening 0).
 *
 * Step t with projected gradients g_j and directions z_j:
 *
 *     s_j = q(fround(g_j / n))                 (the recorded scalar; lr is not folded in)
 *     ĝ_i = Σ_j s_j·z_j,i                      (float64, j ascending, from 0)
 *     m_i ← μ·m_i + ĝ_i                        (rounded to the layout's dtype)
 *     θ_i ← θ_i − lr·m_i
 *
 * m starts at 0, so the first step is m = ĝ as in torch's SGD. The momentum buffer is the only
 * parameter-sized state; ĝ is formed chunk by chunk. Replay reruns this update from the
 * records' scalars, rebuilding m along with θ.
 *
 * Defaults: μ = 0.9 (the ZO-Bench sweeps), ε = 1e-3, lr = 1e-6, one direction.
 */
import { zoMomentumStep } from "../kernels/zo.js";
import { checkNumber } from "../optim/validate.js";
import { forEachEstimateChunk } from "./apply.js";
import type { ZoCommonOptions, ZoMethod, ZoState } from "./method.js";
import { checkZoOptions } from "./method.js";

/** Options of {@link zoMomentum}. */
export interface ZoMomentumOptions extends ZoCommonOptions {
  /** μ in [0, 1) (default 0.9). */
  momentum?: number;
}

/** ZO-SGD with heavy-ball momentum. */
export function zoMomentum(options: ZoMomentumOptions = {}): ZoMethod {
  const settings = checkZoOptions("zoMomentum", options, 1e-6, ["momentum"]);
  const mu = checkNumber("zoMomentum", "momentum", options.momentum ?? 0.9, { min: 0, below: 1 });
  return {
    name: "zoMomentum",
    settings,
    needsBaseValue: false,
    init: (params): ZoState => ({
      momentum:
        params instanceof Float32Array
          ? new Float32Array(params.length)
          : new Float64Array(params.length),
    }),
    scalar: (g, _lr, n) => g / n,
    commit(ctx, scalars) {
      const p = ctx.params;
      const m = ctx.state.momentum;
      forEachEstimateChunk(
        p.length,
        ctx.dtype,
        ctx.directions,
        scalars,
        (start, end, estimate) =>
          zoMomentumStep(
            p.subarray(start, end),
            m.subarray(start, end),
            estimate,
            mu,
            ctx.learningRate,
            end - start,
          ),
        ctx.scratch,
      );
      return { scalars };
    },
  };
}
