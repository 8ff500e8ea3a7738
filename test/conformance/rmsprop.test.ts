import { describe, it } from "node:test";
import { rmsprop } from "../../src/optim/rmsprop.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function rmspropOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | boolean | string>;
  if (h.weight_decay_mode !== "l2_added_to_gradient") {
    throw new Error(`${c.id}: unexpected weight decay mode ${h.weight_decay_mode}`);
  }
  return {
    learningRate: h.learning_rate as number,
    alpha: h.alpha as number,
    eps: h.eps as number,
    weightDecay: h.weight_decay as number,
    momentum: h.momentum as number,
    centered: h.centered as boolean,
  };
}

describe("RMSprop matches torch.optim.RMSprop 1.13 trajectories", () => {
  for (const c of loadCases("rmsprop")) it(c.id, () => replay(c, rmsprop(rmspropOptions(c))));
});
