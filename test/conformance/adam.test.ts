import { describe, it } from "node:test";
import { adam, adamw, amsgrad } from "../../src/optim/adam.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  adamFamilyOptions,
  loadCases,
  normalizedHyperparameters,
  replay,
} from "../helpers/conformance.js";

const adamOptions = (c: FixtureCase) => adamFamilyOptions(normalizedHyperparameters(c));

describe("Adam family matches torch.optim 1.13 trajectories", () => {
  for (const c of loadCases("adam")) it(c.id, () => replay(c, adam(adamOptions(c))));
  for (const c of loadCases("adamw")) it(c.id, () => replay(c, adamw(adamOptions(c))));
  for (const c of loadCases("adam_amsgrad")) it(c.id, () => replay(c, amsgrad(adamOptions(c))));
});
