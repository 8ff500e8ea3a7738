import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { Optimizer } from "../../src/optim/optimizer.js";
import { muon, muonWithAdamw } from "../../src/optim/muon.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  loadCases,
  normalizedHyperparameters,
  paramsFrom,
  replay,
} from "../helpers/conformance.js";

const cases = loadCases("muon");
const isBfloat16 = (c: FixtureCase) => c.precision_variant === "bfloat16_asis";

/** `c` with its normalized hyperparameters replaced by one group's record. */
function withNormalized(c: FixtureCase, normalized: Record<string, unknown>): FixtureCase {
  return { ...c, hyperparameters: { library: c.hyperparameters.library, normalized } };
}

/** The options of {@link muon} a Muon record gives, after checking the parts we fix. */
function muonOptions(c: FixtureCase) {
  const h = normalizedHyperparameters(c, {
    weight_decay_mode: "decoupled_lr_scaled",
    nesterov: true,
  });
  assert.equal(h.number("ns_steps"), 5, `${c.id} ns_steps`);
  assert.deepEqual(c.hyperparameters.normalized.ns_coefficients, [3.4445, -4.775, 2.0315]);
  return {
    learningRate: h.number("learning_rate"),
    momentum: h.number("momentum"),
    weightDecay: h.number("weight_decay"),
  };
}

describe("Muon matches KellerJordan/Muon @ 857d1ad", () => {
  for (const c of cases.filter((c) => c.id.startsWith("muon/shared/muon/") && !isBfloat16(c))) {
    it(`${c.id} (SingleDeviceMuon, Newton–Schulz in float64)`, () =>
      replay(c, muon(muonOptions(c))));
  }

  for (const c of cases.filter((c) => c.id.includes("muon_aux_adam"))) {
    it(`${c.id} (SingleDeviceMuonWithAuxAdam: matrices to Muon, biases to Adam)`, () => {
      const normalized = c.hyperparameters.normalized as Record<string, Record<string, unknown>>;
      assert.deepEqual(normalized.muon.params, ["W1", "W2"]);
      assert.deepEqual(normalized.adam.params, ["b1", "b2"]);
      const adam = normalizedHyperparameters(withNormalized(c, normalized.adam), {
        weight_decay_mode: "decoupled_lr_scaled",
      });
      return replay(
        c,
        muonWithAdamw({
          muon: muonOptions(withNormalized(c, normalized.muon)),
          adamw: {
            learningRate: adam.number("learning_rate"),
            beta1: adam.number("beta1"),
            beta2: adam.number("beta2"),
            eps: adam.number("eps"),
            weightDecay: adam.number("weight_decay"),
          },
        }),
      );
    });
  }

  // The reference runs Newton–Schulz in bfloat16 (8-bit significand): its trajectory differs from
  // the float64 one by rounding alone, by about 7% of the distance travelled after one step and
  // 15% after 25 (the fixture's float64 twin, same problem, start and hyperparameters, shows the
  // same). So the bfloat16 recording is checked loosely: our float64 run stays within 10% of the
  // distance travelled after one step, 20% over all steps, and within 2% in final loss. That
  // catches a wrong size of the update (without the shape scale the first step is 22% off) but
  // not subtler differences, which the float64 cases above check to 1e-9.
  for (const c of cases.filter(isBfloat16)) {
    it(`${c.id} (reference in bfloat16; float64 here, loose tolerance)`, async () => {
      const twin = cases.find((t) => t.id === "muon/shared/muon/lstsq/float64/0")!;
      assert.deepEqual(twin.init, c.init, "same start as the float64 twin");
      const options = muonOptions(c);
      const drift = async (transform: ReturnType<typeof muon>) => {
        const params = paramsFrom(c, c.init);
        const start = params.data.slice();
        const objective = conformanceObjective(c.problem);
        const opt = new Optimizer(params, transform);
        let worst = 0;
        let first = 0;
        for (const step of c.steps) {
          await opt.step(objective);
          const expected = paramsFrom(c, step.params).data;
          let gap = 0;
          let travelled = 0;
          for (let i = 0; i < expected.length; i++) {
            gap = Math.max(gap, Math.abs(params.data[i] - expected[i]));
            travelled = Math.max(travelled, Math.abs(expected[i] - start[i]));
          }
          worst = Math.max(worst, gap / travelled);
          if (step.t === 1) first = gap / travelled;
        }
        return { first, worst, finalLoss: objective.value(params.data) as number };
      };
      const ours = await drift(muon(options));
      assert.ok(ours.first < 0.1, `relative gap after one step ${ours.first}`);
      assert.ok(ours.worst < 0.2, `relative gap ${ours.worst}`);
      assert.ok(Math.abs(ours.finalLoss - c.final_loss) < 0.02 * c.final_loss, `${ours.finalLoss}`);
      assert.ok(Math.abs(ours.finalLoss - twin.final_loss) < 1e-10 * twin.final_loss);
      const unscaled = await drift(muon({ ...options, updateScale: "none" }));
      assert.ok(unscaled.first > 0.1, `no shape scale: relative gap ${unscaled.first}`);
    });
  }
});
