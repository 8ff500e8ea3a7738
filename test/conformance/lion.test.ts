import { describe, it } from "node:test";
import { lion } from "../../src/optim/lion.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

// Every case records weight_decay_mode "decoupled_lr_scaled" (θ ← (1 − lr·wd)·θ), lion's form.
function lionOptions(c: FixtureCase) {
  const h = c.hyperparameters.normalized as Record<string, number | string>;
  if (h.weight_decay_mode !== "decoupled_lr_scaled") {
    throw new Error(`${c.id}: unexpected weight_decay_mode ${String(h.weight_decay_mode)}`);
  }
  return {
    learningRate: h.learning_rate as number,
    beta1: h.beta1 as number,
    beta2: h.beta2 as number,
    weightDecay: h.weight_decay as number,
  };
}

describe("Lion matches lucidrains/lion-pytorch trajectories", () => {
  for (const c of loadCases("lion")) it(c.id, () => replay(c, lion(lionOptions(c))));
});
