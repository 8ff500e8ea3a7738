import { describe, it } from "node:test";
import { adagrad } from "../../src/optim/adagrad.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, normalizedHyperparameters, replay } from "../helpers/conformance.js";

function adagradOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" });
  return {
    learningRate: h.number("learning_rate"),
    learningRateDecay: h.number("lr_decay"),
    weightDecay: h.number("weight_decay"),
    initialAccumulatorValue: h.number("initial_accumulator_value"),
    eps: h.number("eps"),
  };
}

describe("Adagrad matches torch.optim.Adagrad 1.13 trajectories", () => {
  for (const c of loadCases("adagrad")) {
    it(c.id, () => replay(c, adagrad(adagradOptions(c))));
  }
});
