import { describe, it } from "node:test";
import { diffGrad } from "../../src/optim/diffgrad.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

function diffGradOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | string>;
  if (h.weight_decay_mode !== "l2_added_to_gradient") {
    throw new Error(`${c.id}: unexpected weight_decay_mode ${String(h.weight_decay_mode)}`);
  }
  return {
    learningRate: h.learning_rate as number,
    beta1: h.beta1 as number,
    beta2: h.beta2 as number,
    eps: h.eps as number,
    weightDecay: h.weight_decay as number,
  };
}

describe("diffGrad matches shivram1987/diffGrad (diffGrad_v2.py) trajectories", () => {
  for (const c of loadCases("diffgrad")) it(c.id, () => replay(c, diffGrad(diffGradOptions(c))));
});
