/**
 * ZO-SGD (MeZO): SGD on the SPSA estimate, applied one direction at a time from its seed.
 *
 * Malladi, Gao, Nichani, Damian, Lee, Chen & Arora, "Fine-Tuning Language Models with Just
 * Forward Passes", NeurIPS 2023; as the ZO-SGD baseline of Zhang, Li, Hong, Li, Zhang, Zheng,
 * Chen, Lee, Yin, Hong, Wang, Liu & Chen, "Revisiting Zeroth-Order Optimization for
 * Memory-Efficient LLM Fine-Tuning: A Benchmark", ICML 2024. Official implementations:
 * princeton-nlp/MeZO @ 552cb1b (`large_models/trainer.py`, `zo_step`, `zo_update`) and
 * ZO-Bench/ZO-LLM @ bf210fa (`zo-bench/trainer.py`, `zo_step` with `trainer=zo_sgd`).
 *
 * Step t with n directions z_j (SPSA, spsa.ts) and learning rate lr_t:
 *
 *     g_j = (f(θ + ε·z_j) − f(θ − ε·z_j)) / (2ε)
 *     s_j = q(fround(lr_t·g_j / n))
 *     θ ← θ − s_j·z_j      for j = 0 … n−1, each rounded to the layout's dtype
 *
 * which is θ ← θ − lr·ĝ with ĝ = (1/n) Σ g_j·z_j, up to float32 rounding of the scalars. The
 * recorded scalar s_j is exactly what was applied, so replaying the records on the base weights
 * (`applyRecord`) rebuilds θ bit for bit with virtual perturbations. No state, no
 * parameter-sized buffer besides the virtual path's evaluation point.
 *
 * Defaults: ε = 1e-3 (MeZO `zo_eps`), lr = 1e-6 (MeZO's OPT fine-tuning rate, large_models/
 * README.md; small problems want far larger rates), one direction. MeZO's optional weight decay
 * is left out: it would make the update depend on θ and break scalar-only replay.
 */
import { addDirections } from "./apply.js";
import type {
  ZoCommitContext,
  ZoCommitResult,
  ZoCommonOptions,
  ZoMethod,
  ZoState,
} from "./method.js";
import { checkZoOptions } from "./method.js";

/** Options of {@link zoSgd} (all common; see {@link ZoCommonOptions}). */
export type ZoSgdOptions = ZoCommonOptions;

/** Applies scalars the ZO-SGD way: θ ← fl(θ − s_j·z_j) in direction order. */
export function commitScalars(ctx: ZoCommitContext, scalars: Float64Array): ZoCommitResult {
  const negated = Array.from(scalars, (s) => -s);
  addDirections(ctx.params, ctx.directions, negated, ctx.scratch);
  return { scalars };
}

/** ZO-SGD (MeZO). */
export function zoSgd(options: ZoSgdOptions = {}): ZoMethod {
  const settings = checkZoOptions("zoSgd", options, 1e-6, []);
  return {
    name: "zoSgd",
    settings,
    needsBaseValue: false,
    init: (): ZoState => ({}),
    scalar: (g, lr, n) => (lr * g) / n,
    commit: commitScalars,
  };
}
