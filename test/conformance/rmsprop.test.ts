import { describe, it } from "node:test";
import { rmsprop } from "../../src/optim/rmsprop.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, normalizedHyperparameters, replay } from "../helpers/conformance.js";

function rmspropOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" });
  return {
    learningRate: h.number("learning_rate"),
    alpha: h.number("alpha"),
    eps: h.number("eps"),
    weightDecay: h.number("weight_decay"),
    momentum: h.number("momentum"),
    centered: h.boolean("centered"),
  };
}

describe("RMSprop matches torch.optim.RMSprop 1.13 trajectories", () => {
  for (const c of loadCases("rmsprop")) it(c.id, () => replay(c, rmsprop(rmspropOptions(c))));
});
