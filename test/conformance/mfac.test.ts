import { describe, it } from "node:test";
import { mfac } from "../../src/optim/mfac.js";
import { loadCases, normalizedHyperparameters, replay } from "../helpers/conformance.js";

describe("M-FAC matches IST-DASLab/M-FAC optim.py MFAC trajectories", () => {
  // The official code refactors the m×m system every step; descend updates its factor in O(m²)
  // and refactors every m steps (the default), or never (Infinity). Both stay within the
  // fixtures' tolerance over 25 steps, i.e. several passes of the window.
  for (const refactorInterval of [undefined, Infinity]) {
    for (const c of loadCases("mfac")) {
      it(`${c.id} (refactorInterval ${refactorInterval ?? "m"})`, () => {
        const h = normalizedHyperparameters(c, { weight_decay_mode: "l2_added_to_gradient" });
        const transform = mfac({
          learningRate: h.number("learning_rate"),
          momentum: h.number("momentum"),
          weightDecay: h.number("weight_decay"),
          numGradients: h.number("num_grads_m"),
          damp: h.number("damp"),
          refactorInterval,
        });
        return replay(c, transform);
      });
    }
  }
});
