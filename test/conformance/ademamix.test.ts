import { describe, it } from "node:test";
import { ademamix } from "../../src/optim/ademamix.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

// Warmups are recorded as step counts or null (no warmup).
function ademamixOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | string | null>;
  if (h.weight_decay_mode !== "decoupled_lr_scaled") {
    throw new Error(`${c.id}: unexpected weight_decay_mode ${String(h.weight_decay_mode)}`);
  }
  return {
    learningRate: h.learning_rate as number,
    beta1: h.beta1 as number,
    beta2: h.beta2 as number,
    beta3: h.beta3 as number,
    alpha: h.alpha as number,
    alphaWarmup: (h.alpha_warmup as number | null) ?? undefined,
    beta3Warmup: (h.beta3_warmup as number | null) ?? undefined,
    eps: h.eps as number,
    weightDecay: h.weight_decay as number,
  };
}

describe("AdEMAMix matches apple/ml-ademamix trajectories", () => {
  for (const c of loadCases("ademamix")) it(c.id, () => replay(c, ademamix(ademamixOptions(c))));
});
