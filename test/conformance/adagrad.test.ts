import { describe, it } from "node:test";
import { adagrad } from "../../src/optim/adagrad.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function adagradOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | string>;
  if (h.weight_decay_mode !== "l2_added_to_gradient") {
    throw new Error(`${c.id}: unexpected weight decay mode ${h.weight_decay_mode}`);
  }
  return {
    learningRate: h.learning_rate as number,
    learningRateDecay: h.lr_decay as number,
    weightDecay: h.weight_decay as number,
    initialAccumulatorValue: h.initial_accumulator_value as number,
    eps: h.eps as number,
  };
}

describe("Adagrad matches torch.optim.Adagrad 1.13 trajectories", () => {
  for (const c of loadCases("adagrad")) {
    it(c.id, () => replay(c, adagrad(adagradOptions(c))));
  }
});
