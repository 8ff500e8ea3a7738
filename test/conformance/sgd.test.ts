import { describe, it } from "node:test";
import { sgd } from "../../src/optim/sgd.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function sgdOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | boolean | string>;
  if (h.weight_decay_mode !== "l2_added_to_gradient" || h.maximize !== false) {
    throw new Error(`${c.id}: unexpected hyperparameters ${JSON.stringify(h)}`);
  }
  return {
    learningRate: h.learning_rate as number,
    momentum: h.momentum as number,
    dampening: h.dampening as number,
    nesterov: h.nesterov as boolean,
    weightDecay: h.weight_decay as number,
  };
}

describe("SGD matches torch.optim.SGD 1.13 trajectories", () => {
  for (const c of loadCases("sgd")) it(c.id, () => replay(c, sgd(sgdOptions(c))));
});
