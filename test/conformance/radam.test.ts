import { describe, it } from "node:test";
import { radam } from "../../src/optim/radam.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function radamOptions(c: FixtureCase) {
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
    rectificationThreshold: h.rectification_threshold_rho as number,
  };
}

describe("RAdam matches torch.optim.RAdam 1.13 trajectories", () => {
  for (const c of loadCases("radam")) it(c.id, () => replay(c, radam(radamOptions(c))));
});
