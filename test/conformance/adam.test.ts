import { describe, it } from "node:test";
import { adam, adamw, amsgrad } from "../../src/optim/adam.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function adamOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number>;
  return {
    learningRate: h.learning_rate,
    beta1: h.beta1,
    beta2: h.beta2,
    eps: h.eps,
    weightDecay: h.weight_decay,
  };
}

describe("Adam family matches torch.optim 1.13 trajectories", () => {
  for (const c of loadCases("adam")) it(c.id, () => replay(c, adam(adamOptions(c))));
  for (const c of loadCases("adamw")) it(c.id, () => replay(c, adamw(adamOptions(c))));
  for (const c of loadCases("adam_amsgrad")) it(c.id, () => replay(c, amsgrad(adamOptions(c))));
});
