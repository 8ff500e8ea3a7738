import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { HessianSource } from "../../src/optim/sophia.js";
import { sophiaG } from "../../src/optim/sophia.js";
import type { FixtureCase } from "../helpers/conformance.js";
import {
  loadCases,
  normalizedHyperparameters,
  paramsFrom,
  replay,
} from "../helpers/conformance.js";
import { assertClose } from "../helpers/assertions.js";
import type { NestedArray } from "../../src/params/paramset.js";

/**
 * The recorded Gauss-Newton-Bartlett inputs as a Hessian source: refresh r (at the start of step
 * (r+1)·k + 1) squares the gradient the official loop fed to `update_hessian()` after step
 * (r+1)·k, and checks that it is asked at the parameters that step recorded.
 */
function recordedSource(c: FixtureCase, interval: number, used: number[]): HessianSource {
  return (ctx, out, refreshIndex) => {
    const step = c.steps[(refreshIndex + 1) * interval - 1];
    const probes = step.probes ?? {};
    assert.equal(probes.hessian_update, true, `${c.id}: no Hessian update recorded at t=${step.t}`);
    const at = paramsFrom(c, step.params).data;
    assertClose(ctx.params, at, 1e-9, `${c.id} refresh ${refreshIndex} parameters`);
    const g = paramsFrom(c, probes.hessian_input_grad as Record<string, NestedArray>).data;
    for (let i = 0; i < out.length; i++) out[i] = g[i] * g[i];
    used.push(step.t);
  };
}

describe("SophiaG matches Liuhong99/Sophia @ a7e1572 with the recorded Hessian inputs", () => {
  for (const c of loadCases("sophia")) {
    it(c.id, async () => {
      const h = normalizedHyperparameters(c, { weight_decay_mode: "decoupled_lr_scaled" });
      const interval = h.number("hessian_update_interval");
      const used: number[] = [];
      await replay(
        c,
        sophiaG({
          learningRate: h.number("learning_rate"),
          beta1: h.number("beta1"),
          beta2: h.number("beta2"),
          rho: h.number("rho"),
          weightDecay: h.number("weight_decay"),
          batchSize: h.number("bs"),
          eps: h.number("clip_eps"),
          hessianInterval: interval,
          hessian: recordedSource(c, interval, used),
        }),
      );
      // Every recorded refresh that a later step depends on was fed, in order.
      const last = c.steps[c.steps.length - 1].t;
      const recorded = c.steps
        .filter((s) => s.probes?.hessian_update === true && s.t < last)
        .map((s) => s.t);
      assert.deepEqual(used, recorded);
    });
  }
});
