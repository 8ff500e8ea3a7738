import { describe, it } from "node:test";
import { nadam } from "../../src/optim/nadam.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  adamFamilyOptions,
  loadCases,
  normalizedHyperparameters,
  replay,
} from "../helpers/conformance.js";

function nadamOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" });
  return {
    ...adamFamilyOptions(h),
    momentumDecay: h.number("momentum_decay"),
    // torch 1.13 multiplies μ_t into the momentum-term product twice (fixed in torch 2.0).
    legacyMomentumProduct: true,
  };
}

describe("NAdam matches torch.optim.NAdam 1.13 trajectories", () => {
  for (const c of loadCases("nadam")) it(c.id, () => replay(c, nadam(nadamOptions(c))));
});
