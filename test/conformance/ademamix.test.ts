import { describe, it } from "node:test";
import { ademamix } from "../../src/optim/ademamix.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  adamFamilyOptions,
  loadCases,
  normalizedHyperparameters,
  replay,
} from "../helpers/conformance.js";

// Warmups are recorded as step counts or null (no warmup).
function ademamixOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "decoupled_lr_scaled" });
  return {
    ...adamFamilyOptions(h),
    beta3: h.number("beta3"),
    alpha: h.number("alpha"),
    alphaWarmup: h.optionalNumber("alpha_warmup"),
    beta3Warmup: h.optionalNumber("beta3_warmup"),
  };
}

describe("AdEMAMix matches apple/ml-ademamix trajectories", () => {
  for (const c of loadCases("ademamix")) it(c.id, () => replay(c, ademamix(ademamixOptions(c))));
});
