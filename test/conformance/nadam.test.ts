import { describe, it } from "node:test";
import { nadam } from "../../src/optim/nadam.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function nadamOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | string>;
  if (h.weight_decay_mode !== "l2_added_to_gradient") {
    throw new Error(`${c.id}: unexpected weight decay mode ${h.weight_decay_mode}`);
  }
  return {
    learningRate: h.learning_rate as number,
    beta1: h.beta1 as number,
    beta2: h.beta2 as number,
    eps: h.eps as number,
    weightDecay: h.weight_decay as number,
    momentumDecay: h.momentum_decay as number,
    // torch 1.13 multiplies μ_t into the momentum-term product twice (fixed in torch 2.0).
    legacyMomentumProduct: true,
  };
}

describe("NAdam matches torch.optim.NAdam 1.13 trajectories", () => {
  for (const c of loadCases("nadam")) it(c.id, () => replay(c, nadam(nadamOptions(c))));
});
