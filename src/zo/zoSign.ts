/**
 * ZO-SGD-Sign: sign descent on the SPSA estimate.
 *
 * Liu, Chen, Chen & Hong, "signSGD via Zeroth-Order Oracle", ICLR 2019; as benchmarked in Zhang
 * et al., "Revisiting Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: A
 * Benchmark", ICML 2024. Official implementation: ZO-Bench/ZO-LLM @ bf210fa
 * (`zo-bench/trainer.py`, `zo_step` with `trainer=zo_sign_opt`).
 *
 * Two forms, for step t with projected gradients g_j and directions z_j:
 *
 *     "projected" (default, the official code's "signOpt_orig"):
 *         s_j = q(fround(lr·sign(g_j) / n));   θ ← θ − s_j·z_j   for j = 0 … n−1
 *     "estimate" (the paper's sign of the estimate):
 *         s_j = q(fround(g_j / n));   ĝ_i = Σ_j s_j·z_j,i;   θ_i ← θ_i − lr·sign(ĝ_i)
 *
 * The official code takes the sign of the scalar and keeps the Gaussian direction (its paper
 * form, `torch.sign(projected_grad * z)`, is left commented out); descend follows the code by
 * default. The projected form replays from the records alone like ZO-SGD; the estimate form
 * reruns the sign of the summed estimate (chunk by chunk, no parameter-sized buffer).
 *
 * Defaults: ε = 1e-3, lr = 1e-6 (the ZO-Bench sweep's grid is {1e-5, 1e-6}; a sign step moves
 * every coordinate by lr, so small problems want far larger rates), one direction.
 */
import { zoSignStep } from "../kernels/zo.js";
import { forEachEstimateChunk } from "./apply.js";
import type { ZoCommonOptions, ZoMethod, ZoState } from "./method.js";
import { checkZoOptions } from "./method.js";
import { checkChoice } from "../optim/validate.js";
import { commitScalars } from "./zoSgd.js";

/** Options of {@link zoSign}. */
export interface ZoSignOptions extends ZoCommonOptions {
  /** `"projected"` (default, official code) or `"estimate"` (the paper's sign of ĝ). */
  signOf?: "projected" | "estimate";
}

/** ZO-SGD-Sign. */
export function zoSign(options: ZoSignOptions = {}): ZoMethod {
  const settings = checkZoOptions("zoSign", options, 1e-6, ["signOf"]);
  const signOf = checkChoice("zoSign", "signOf", options.signOf ?? "projected", [
    "projected",
    "estimate",
  ]);
  if (signOf === "projected") {
    return {
      name: "zoSign",
      settings,
      needsBaseValue: false,
      init: (): ZoState => ({}),
      scalar: (g, lr, n) => (lr * Math.sign(g)) / n,
      commit: commitScalars,
    };
  }
  // A name of its own, so a log tells the two forms apart: only the projected one replays from
  // its scalars alone.
  return {
    name: "zoSignEstimate",
    settings,
    needsBaseValue: false,
    init: (): ZoState => ({}),
    scalar: (g, _lr, n) => g / n,
    commit(ctx, scalars) {
      const p = ctx.params;
      forEachEstimateChunk(
        p.length,
        ctx.dtype,
        ctx.directions,
        scalars,
        (start, end, estimate) =>
          zoSignStep(p.subarray(start, end), estimate, ctx.learningRate, end - start),
        ctx.scratch,
      );
      return { scalars };
    },
  };
}
