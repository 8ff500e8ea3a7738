import { describe, it } from "node:test";
import { diffGrad } from "../../src/optim/diffgrad.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  adamFamilyOptions,
  loadCases,
  normalizedHyperparameters,
  replay,
} from "../helpers/conformance.js";

const diffGradOptions = (c: FixtureCase) =>
  adamFamilyOptions(normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" }));

describe("diffGrad matches shivram1987/diffGrad (diffGrad_v2.py) trajectories", () => {
  for (const c of loadCases("diffgrad")) it(c.id, () => replay(c, diffGrad(diffGradOptions(c))));
});
