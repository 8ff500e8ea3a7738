import { describe, it } from "node:test";
import { radam } from "../../src/optim/radam.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  adamFamilyOptions,
  loadCases,
  normalizedHyperparameters,
  replay,
} from "../helpers/conformance.js";

function radamOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" });
  return {
    ...adamFamilyOptions(h),
    rectificationThreshold: h.number("rectification_threshold_rho"),
  };
}

describe("RAdam matches torch.optim.RAdam 1.13 trajectories", () => {
  for (const c of loadCases("radam")) it(c.id, () => replay(c, radam(radamOptions(c))));
});
