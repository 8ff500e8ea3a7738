import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Objective } from "../../src/oracles/objective.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import type { FloatArray } from "../../src/params/layout.js";
import type { NestedArray } from "../../src/params/paramset.js";
import { assertClose } from "../helpers/assertions.js";
import { loadCases, paramsFrom } from "../helpers/conformance.js";
import { fillUniform } from "../helpers/inputs.js";

const mlpCases = loadCases("adahessian").filter((c) => c.problem.name === "mlp");

function hvpOf(f: Objective, x: FloatArray, v: FloatArray): FloatArray {
  const out = f.layout.zeros();
  void f.hvp!(x, v, out);
  return out;
}

/** (∇f(x + hv) − ∇f(x − hv)) / 2h: the closed-form gradient differenced, in float64. */
function differencedGradient(f: Objective, x: FloatArray, v: FloatArray, h: number): Float64Array {
  const gPlus = new Float64Array(x.length);
  const gMinus = new Float64Array(x.length);
  void f.valueAndGrad!(
    Float64Array.from(x, (xi, i) => xi + h * v[i]),
    gPlus,
  );
  void f.valueAndGrad!(
    Float64Array.from(x, (xi, i) => xi - h * v[i]),
    gMinus,
  );
  return Float64Array.from(gPlus, (g, i) => (g - gMinus[i]) / (2 * h));
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

describe("the conformance tanh MLP's exact Hessian-vector product", () => {
  it("there are two MLP cases to check against", () => {
    assert.equal(mlpCases.length, 2);
  });

  for (const c of mlpCases) {
    it(`${c.id}: equals the recorded autograd products at every recorded point`, () => {
      const f = conformanceObjective(c.problem);
      c.steps.forEach((step, k) => {
        // The product of step t is taken at the parameters before that step.
        const at = paramsFrom(c, k === 0 ? c.init : c.steps[k - 1].params).data;
        const probes = step.probes as { rademacher_v: Record<string, NestedArray> } & {
          hvp: Record<string, NestedArray>;
        };
        const v = paramsFrom(c, probes.rademacher_v).data;
        const recorded = paramsFrom(c, probes.hvp).data;
        assertClose(hvpOf(f, at, v), recorded, 1e-10, `${c.id} t=${step.t}`);
      });
    });

    it(`${c.id}: matches differenced gradients at generic points, and is symmetric`, () => {
      const f = conformanceObjective(c.problem);
      for (let trial = 0; trial < 3; trial++) {
        const x = fillUniform(f.layout.zeros(), 40 + trial, 1.5);
        const v = fillUniform(f.layout.zeros(), 50 + trial);
        const u = fillUniform(f.layout.zeros(), 60 + trial);
        const hv = hvpOf(f, x, v);
        assertClose(hv, differencedGradient(f, x, v, 1e-5), 1e-6, `trial ${trial} H·v`, {
          relativeFloor: 1e-3,
        });
        const hu = hvpOf(f, x, u);
        const uHv = dot(u, hv);
        const vHu = dot(v, hu);
        assert.ok(Math.abs(uHv - vHu) <= 1e-12 * Math.max(1, Math.abs(uHv)), `${uHv} vs ${vHu}`);
      }
    });
  }

  it("float32 parameters give the float64 product rounded once", () => {
    const c = mlpCases[0];
    const f64 = conformanceObjective(c.problem, "float64");
    const f32 = conformanceObjective(c.problem, "float32");
    const x = Float32Array.from(fillUniform(new Float64Array(f64.layout.size), 7));
    const v = Float32Array.from(fillUniform(new Float64Array(f64.layout.size), 8));
    const single = hvpOf(f32, x, v);
    assert.ok(single instanceof Float32Array);
    const double = hvpOf(f64, Float64Array.from(x), Float64Array.from(v));
    assert.deepEqual(single, Float32Array.from(double));
  });
});
