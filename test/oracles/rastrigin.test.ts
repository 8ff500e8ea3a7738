import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Objective } from "../../src/oracles/objective.js";
import { rastrigin, rastriginStart } from "../../src/oracles/problems/rastrigin.js";
import type { FloatArray } from "../../src/params/layout.js";
import { fillUniform } from "../helpers/inputs.js";

/**
 * Central differences: (f(x+hv) − f(x−hv))/2h against ∇f·v and (∇f(x+hv) − ∇f(x−hv))/2h against
 * H·v, both with error O(h²·|third derivative|).
 */
function checkDerivatives(objective: Objective, x: FloatArray, v: FloatArray, tol: number): void {
  const h = 1e-5;
  const n = x.length;
  const plus = x.map((xi, i) => xi + h * v[i]);
  const minus = x.map((xi, i) => xi - h * v[i]);
  const g = new Float64Array(n);
  const gPlus = new Float64Array(n);
  const gMinus = new Float64Array(n);
  const hv = new Float64Array(n);
  objective.valueAndGrad!(x, g);
  objective.valueAndGrad!(plus, gPlus);
  objective.valueAndGrad!(minus, gMinus);
  objective.hvp!(x, v, hv);
  const fd = ((objective.value(plus) as number) - (objective.value(minus) as number)) / (2 * h);
  const directional = g.reduce((s, gi, i) => s + gi * v[i], 0);
  assert.ok(
    Math.abs(directional - fd) <= tol * Math.max(1, Math.abs(fd)),
    `∇f·v ${directional} vs ${fd}`,
  );
  for (let i = 0; i < n; i++) {
    const fdHv = (gPlus[i] - gMinus[i]) / (2 * h);
    assert.ok(
      Math.abs(hv[i] - fdHv) <= tol * Math.max(1, Math.abs(fdHv)),
      `Hv[${i}] ${hv[i]} vs ${fdHv}`,
    );
  }
}

describe("rastrigin", () => {
  it("is 0 with zero gradient at the origin, a strict minimum (Hessian 2 + 40π²)", () => {
    for (const dimension of [1, 2, 7]) {
      const f = rastrigin({ dimension });
      const zero = new Float64Array(dimension);
      const g = new Float64Array(dimension).fill(NaN);
      assert.equal(f.value(zero), 0);
      assert.equal(f.valueAndGrad!(zero, g), 0);
      assert.ok(g.every((gi) => gi === 0));
      const hv = new Float64Array(dimension);
      f.hvp!(zero, new Float64Array(dimension).fill(1), hv);
      for (const value of hv) assert.ok(Math.abs(value - (2 + 40 * Math.PI ** 2)) < 1e-12);
      assert.equal(f.optimalValue, 0);
    }
  });

  it("matches the closed form at lattice points: f = Σ x_i² at integers, 2a·n + Σ x_i² at half-integers", () => {
    const f = rastrigin({ dimension: 3, a: 10 });
    assert.ok(Math.abs((f.value(Float64Array.of(1, -2, 3)) as number) - 14) < 1e-12);
    // cos(2π·k/2) = −1 for odd k: each coordinate adds 2a on top of x².
    const half = Float64Array.of(0.5, -1.5, 2.5);
    assert.ok(Math.abs((f.value(half) as number) - (60 + 0.25 + 2.25 + 6.25)) < 1e-12);
    const a3 = rastrigin({ dimension: 2, a: 3 });
    assert.ok(Math.abs((a3.value(Float64Array.of(0.5, 0)) as number) - (6 + 0.25)) < 1e-12);
  });

  it("gradient and diagonal HVP match central differences", () => {
    for (const [dimension, a] of [
      [2, 10],
      [5, 3],
    ]) {
      const f = rastrigin({ dimension, a });
      for (let trial = 0; trial < 4; trial++) {
        const x = fillUniform(new Float64Array(dimension), 10 + trial, 4);
        const v = fillUniform(new Float64Array(dimension), 20 + trial);
        checkDerivatives(f, x, v, 1e-6);
      }
    }
  });

  it("starts at a documented non-trivial point and names itself by dimension", () => {
    const f = rastrigin();
    assert.equal(f.name, "rastrigin");
    assert.deepEqual([...f.initialParams!()], [2.3, rastriginStart(1)]);
    assert.ok(Math.abs(rastriginStart(1) + (2.3 + 2 * 0.6180339887498949)) < 1e-12);
    const f5 = rastrigin({ dimension: 5, dtype: "float32" });
    assert.equal(f5.name, "rastrigin-5d");
    const x0 = f5.initialParams!();
    assert.ok(x0 instanceof Float32Array && x0.length === 5);
    for (let i = 0; i < 5; i++) {
      assert.ok(Math.abs(x0[i]) >= 2.3 - 1e-6 && Math.abs(x0[i]) < 4.3, `|x0[${i}]|`);
      assert.equal(Math.sign(x0[i]), i % 2 === 0 ? 1 : -1);
    }
    assert.ok((f5.value(x0) as number) > 10, "far from the minimum");
  });

  it("rejects bad options", () => {
    assert.throws(() => rastrigin({ dimension: 0 }), InvalidArgumentError);
    assert.throws(() => rastrigin({ dimension: 2.5 }), InvalidArgumentError);
    assert.throws(() => rastrigin({ a: -1 }), InvalidArgumentError);
    assert.throws(() => rastrigin({ dtype: "float16" as never }), InvalidArgumentError);
    assert.throws(() => rastrigin({ dim: 2 } as never), /known option/);
  });
});
