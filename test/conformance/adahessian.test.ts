// AdaHessian against trajectories of the official implementation (both of its optimizer files),
// with the recorded Rademacher probes injected. Gradients and Hessian-vector products come from
// our own closed-form problems (the tanh MLP's by the R-operator) and are checked at every step
// against the recording and against central differences of our gradient.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { SpatialAveraging } from "../../src/optim/adahessian.js";
import { adahessian } from "../../src/optim/adahessian.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { Objective } from "../../src/oracles/objective.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import type { FloatArray } from "../../src/params/layout.js";
import type { NestedArray } from "../../src/params/paramset.js";
import { assertClose } from "../helpers/assertions.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, normalizedHyperparameters, paramsFrom } from "../helpers/conformance.js";

interface AdaHessianProbes {
  rademacher_v: Record<string, NestedArray>;
  hvp: Record<string, NestedArray>;
}

function averagingOf(c: FixtureCase): SpatialAveraging {
  const mode = c.hyperparameters.normalized.spatial_averaging;
  if (mode === "none") return "kernels";
  if (mode === "2d_row_mean") return "rows";
  throw new Error(`${c.id}: unknown spatial_averaging ${String(mode)}`);
}

/** Central finite difference of the gradient along `v`: an independent check of an HVP. */
function finiteDifferenceHvp(f: Objective, x: FloatArray, v: FloatArray): Float64Array {
  const h = 1e-6;
  const plus = Float64Array.from(x, (xi, i) => xi + h * v[i]);
  const minus = Float64Array.from(x, (xi, i) => xi - h * v[i]);
  const gPlus = new Float64Array(x.length);
  const gMinus = new Float64Array(x.length);
  void f.valueAndGrad!(plus, gPlus);
  void f.valueAndGrad!(minus, gMinus);
  return Float64Array.from(gPlus, (g, i) => (g - gMinus[i]) / (2 * h));
}

async function replayAdaHessian(c: FixtureCase): Promise<void> {
  const h = normalizedHyperparameters(c, { weight_decay_mode: "decoupled_lr_scaled" });
  const base = conformanceObjective(c.problem);
  const params = paramsFrom(c, c.init);
  const layout = params.layout;
  const stepProbes = c.steps.map((s) => {
    const p = s.probes as unknown as AdaHessianProbes;
    return { v: paramsFrom(c, p.rademacher_v).data, hv: paramsFrom(c, p.hvp).data };
  });
  let current = 0;
  let hvpCalls = 0;
  const objective: Objective = {
    name: base.name,
    layout,
    value: (x) => base.value(x),
    valueAndGrad: (x, g) => base.valueAndGrad!(x, g),
    hvp(x, v, out) {
      hvpCalls++;
      const { v: recordedV, hv: recorded } = stepProbes[current];
      assert.deepEqual(Array.from(v), Array.from(recordedV), `${c.id} probe at t=${current + 1}`);
      void base.hvp!(x, v, out);
      assertClose(out, recorded, 1e-9, `${c.id} t=${current + 1} hvp`);
      const fd = finiteDifferenceHvp(base, x, v);
      assertClose(out, fd, 1e-6, `${c.id} t=${current + 1} hvp (finite differences)`);
    },
  };
  const opt = new Optimizer(
    params,
    adahessian({
      learningRate: h.number("learning_rate"),
      beta1: h.number("beta1"),
      beta2: h.number("beta2"),
      eps: h.number("eps"),
      weightDecay: h.number("weight_decay"),
      hessianPower: h.number("hessian_power"),
      spatialAveraging: averagingOf(c),
      probes: (ctx, tensorIndex, out, step) => {
        const t = ctx.layout.tensors[tensorIndex];
        out.set(stepProbes[step].v.subarray(t.offset, t.offset + t.size));
      },
    }),
  );
  const grad = layout.zeros();
  for (const [k, step] of c.steps.entries()) {
    current = k;
    const loss = await base.valueAndGrad!(params.data, grad);
    assertClose([loss], [step.loss_before], 1e-10, `${c.id} t=${step.t} loss_before`);
    assertClose(grad, paramsFrom(c, step.grad).data, 1e-9, `${c.id} t=${step.t} grad`);
    await opt.update(grad, objective);
    const expected = paramsFrom(c, step.params);
    for (const t of layout.tensors) {
      assertClose(
        params.view(t.name),
        expected.view(t.name),
        1e-9,
        `${c.id} t=${step.t} ${t.name}`,
      );
    }
  }
  assert.equal(hvpCalls, c.steps.length, "one Hessian-vector product per step");
  assertClose([await base.value(params.data)], [c.final_loss], 1e-10, `${c.id} final_loss`);
}

describe("AdaHessian matches the official implementation with the recorded probes", () => {
  const cases = loadCases("adahessian");
  it("covers both reference files", () => {
    assert.equal(cases.length, 4);
    assert.ok(cases.some((c) => averagingOf(c) === "rows"));
  });
  for (const c of cases) it(c.id, () => replayAdaHessian(c));
});
