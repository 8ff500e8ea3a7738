/**
 * The Gauss-Newton-Bartlett (GNB) estimator of the Gauss-Newton diagonal, from Liu, Li, Hall,
 * Liang & Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model
 * Pre-training", ICLR 2024 (Algorithm 2; official code Liuhong99/Sophia, `update_hessian`).
 *
 * For a loss that is a mean over B examples of a negative log-likelihood, resample every label
 * from the model's own predictive distribution, ŷ_i ~ p(·|x_i, θ), and take the gradient ĝ of
 * the mean loss on the sampled labels. Bartlett's second identity, E_ŷ[∇ℓ ∇ℓᵀ] = Jᵀ S J (the
 * Gauss-Newton / Fisher block of one example), and the independence of the B examples give
 *
 *     E[B · ĝ ⊙ ĝ] = diag( (1/B) Σ_i J_iᵀ S_i J_i ),
 *
 * the diagonal of the Gauss-Newton matrix of the mean loss. `batchScale` is that B: the number
 * of examples (tokens) the sampled loss averages over; pass 1 for a summed loss.
 */
import { InvalidArgumentError } from "../errors.js";
import { checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { Objective } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import { INDEX_LIMIT } from "../random/index.js";
import { assertFiniteProduct } from "./hutchinson.js";

/** Options of {@link gnbDiagonal}. */
export interface GnbOptions {
  /** B, the number of examples the sampled loss is a mean over (required, > 0). */
  batchScale: number;
  /** Seed of the label sample (default 0). */
  seed?: number;
  /** Which sample of that seed, e.g. the number of the Hessian update (default 0). */
  count?: number;
  /** Scratch buffer for the sampled gradient (default: allocated per call). */
  gradient?: FloatArray;
}

/** What {@link gnbDiagonal} returns besides the estimate it writes. */
export interface GnbResult {
  /** The loss on the sampled labels. */
  readonly sampledLoss: number;
}

/**
 * Writes the GNB estimate `batchScale · ĝ ⊙ ĝ` of the Gauss-Newton diagonal at `params` to
 * `out`, where ĝ comes from the objective's `sampledLabelGrad(params, ĝ, seed, count)` oracle.
 */
export async function gnbDiagonal(
  objective: Objective,
  params: FloatArray,
  out: FloatArray,
  options: GnbOptions,
): Promise<GnbResult> {
  const owner = "gnbDiagonal";
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(owner, "options", options, "an object with batchScale");
  }
  checkKnownOptions(owner, options, ["batchScale", "seed", "count", "gradient"]);
  const batchScale = checkNumber(owner, "batchScale", options.batchScale, { above: 0 });
  const bounds = { min: 0, below: INDEX_LIMIT, integer: true };
  const seed = checkNumber(owner, "seed", options.seed ?? 0, bounds);
  const count = checkNumber(owner, "count", options.count ?? 0, bounds);
  const sampledLabelGrad = requireOracle(objective, "sampledLabelGrad", owner);
  const layout = objective.layout;
  layout.assertBuffer(params, `${owner} params`);
  layout.assertBuffer(out, `${owner} out`);
  const gradient = options.gradient ?? layout.zeros();
  layout.assertBuffer(gradient, `${owner} gradient`);
  const sampledLoss = await sampledLabelGrad(params, gradient, seed, count);
  assertFiniteProduct(`${owner}: sampled-label gradient`, layout, gradient);
  for (let i = 0; i < out.length; i++) out[i] = batchScale * gradient[i] * gradient[i];
  return { sampledLoss };
}
