import { describe, it } from "node:test";
import { lion } from "../../src/optim/lion.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, normalizedHyperparameters, replay } from "../helpers/conformance.js";

// Every case records weight_decay_mode "decoupled_lr_scaled" (θ ← (1 − lr·wd)·θ), lion's form.
function lionOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "decoupled_lr_scaled" });
  return {
    learningRate: h.number("learning_rate"),
    beta1: h.number("beta1"),
    beta2: h.number("beta2"),
    weightDecay: h.number("weight_decay"),
  };
}

describe("Lion matches lucidrains/lion-pytorch trajectories", () => {
  for (const c of loadCases("lion")) it(c.id, () => replay(c, lion(lionOptions(c))));
});
