import { describe, it } from "node:test";
import { sgd } from "../../src/optim/sgd.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, normalizedHyperparameters, replay } from "../helpers/conformance.js";

function sgdOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, {
    weight_decay_mode: "l2_added_to_gradient",
    maximize: false,
  });
  return {
    learningRate: h.number("learning_rate"),
    momentum: h.number("momentum"),
    dampening: h.number("dampening"),
    nesterov: h.boolean("nesterov"),
    weightDecay: h.number("weight_decay"),
  };
}

describe("SGD matches torch.optim.SGD 1.13 trajectories", () => {
  for (const c of loadCases("sgd")) it(c.id, () => replay(c, sgd(sgdOptions(c))));
});
