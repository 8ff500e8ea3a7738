import { describe, it } from "node:test";
import { mfac } from "../../src/optim/mfac.js";
import { loadCases, normalizedHyperparameters, replay } from "../helpers/conformance.js";

describe("M-FAC matches IST-DASLab/M-FAC optim.py MFAC trajectories", () => {
  for (const c of loadCases("mfac")) {
    it(c.id, () => {
      const h = normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" });
      const transform = mfac({
        learningRate: h.number("learning_rate"),
        momentum: h.number("momentum"),
        weightDecay: h.number("weight_decay"),
        numGradients: h.number("num_grads_m"),
        damp: h.number("damp"),
      });
      return replay(c, transform);
    });
  }
});
