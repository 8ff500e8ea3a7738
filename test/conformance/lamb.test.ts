import { describe, it } from "node:test";
import { lamb } from "../../src/optim/lamb.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  adamFamilyOptions,
  loadCases,
  normalizedHyperparameters,
  replay,
} from "../helpers/conformance.js";

function lambOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, {
    weight_decay_mode: "added_to_adam_step_before_trust_ratio",
    adam: false,
  });
  return {
    ...adamFamilyOptions(h),
    biasCorrection: h.boolean("bias_correction"),
    maxWeightNorm: h.number("weight_norm_clamp_max"),
  };
}

describe("LAMB matches cybertronai/pytorch-lamb trajectories", () => {
  for (const c of loadCases("lamb")) it(c.id, () => replay(c, lamb(lambOptions(c))));
});
