import { describe, it } from "node:test";
import { lamb } from "../../src/optim/lamb.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function lambOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | string | boolean>;
  if (h.weight_decay_mode !== "added_to_adam_step_before_trust_ratio" || h.adam !== false) {
    throw new Error(`${c.id}: unexpected weight_decay_mode or adam flag`);
  }
  return {
    learningRate: h.learning_rate as number,
    beta1: h.beta1 as number,
    beta2: h.beta2 as number,
    eps: h.eps as number,
    weightDecay: h.weight_decay as number,
    biasCorrection: h.bias_correction as boolean,
    maxWeightNorm: h.weight_norm_clamp_max as number,
  };
}

describe("LAMB matches cybertronai/pytorch-lamb trajectories", () => {
  for (const c of loadCases("lamb")) it(c.id, () => replay(c, lamb(lambOptions(c))));
});
