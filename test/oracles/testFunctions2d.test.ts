import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { Objective } from "../../src/oracles/objective.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { findTestFunction, testFunctions2d } from "../../src/oracles/problems/testFunctions2d.js";
import { seededUniform } from "../helpers/inputs.js";

function gradient(objective: Objective, x: number, y: number): [number, number, number] {
  const g = new Float64Array(2);
  const f = objective.valueAndGrad!(Float64Array.of(x, y), g) as number;
  return [f, g[0], g[1]];
}

/** The Hessian [[a, b], [b, d]] from two Hessian-vector products. */
function hessian(objective: Objective, x: number, y: number): [number, number, number, number] {
  const p = Float64Array.of(x, y);
  const c0 = new Float64Array(2);
  const c1 = new Float64Array(2);
  objective.hvp!(p, Float64Array.of(1, 0), c0);
  objective.hvp!(p, Float64Array.of(0, 1), c1);
  return [c0[0], c0[1], c1[0], c1[1]];
}

function near(actual: number, expected: number, tol: number, what: string): void {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${what}: ${actual} vs ${expected} (tolerance ${tol})`,
  );
}

describe("2-D test functions", () => {
  it("lists the required functions with consistent drawing metadata", () => {
    const names = testFunctions2d.map((fn) => fn.name);
    for (const required of ["rosenbrock", "rastrigin", "himmelblau", "saddle"]) {
      assert.ok(names.includes(required), required);
    }
    assert.equal(new Set(names).size, names.length, "unique names");
    for (const fn of testFunctions2d) {
      const inside = ([x, y]: readonly number[]): boolean =>
        x >= fn.domain.x[0] && x <= fn.domain.x[1] && y >= fn.domain.y[0] && y <= fn.domain.y[1];
      assert.ok(fn.title.length > 0 && fn.description.length > 0, fn.name);
      assert.ok(inside(fn.start), `${fn.name}: start inside the domain`);
      assert.ok(fn.minima.length > 0 && fn.minima.every(inside), `${fn.name}: minima inside`);
      const objective = fn.objective();
      assert.equal(objective.name, fn.name);
      assert.equal(objective.layout.size, 2);
      assert.equal(objective.layout.dtype, "float64");
      assert.deepEqual([...objective.initialParams!()], fn.start);
      assert.notEqual(objective.initialParams!(), objective.initialParams!(), "a fresh buffer");
      const fStart = objective.value(Float64Array.from(fn.start)) as number;
      assert.ok(fStart > objective.optimalValue! + 1e-3, `${fn.name}: the start is not optimal`);
      if (fn.logScale) assert.ok(objective.optimalValue! >= 0, `${fn.name}: log scale needs f ≥ 0`);
    }
  });

  it("every global minimum has the optimal value, zero gradient and a PSD Hessian", () => {
    for (const fn of testFunctions2d) {
      const objective = fn.objective();
      for (const [x, y] of fn.minima) {
        const [f, gx, gy] = gradient(objective, x, y);
        near(f, objective.optimalValue!, 1e-12, `${fn.name} f(${x}, ${y})`);
        assert.ok(Math.hypot(gx, gy) < 1e-11, `${fn.name} ∇f(${x}, ${y}) = (${gx}, ${gy})`);
        const [a, b, , d] = hessian(objective, x, y);
        assert.ok(a >= 0 && d >= 0 && a * d - b * b >= -1e-9, `${fn.name}: Hessian PSD`);
      }
    }
  });

  it("no sampled point beats the optimal value", () => {
    const next = seededUniform(5);
    for (const fn of testFunctions2d) {
      const objective = fn.objective();
      for (let k = 0; k < 2000; k++) {
        const x = fn.domain.x[0] + ((next() + 1) / 2) * (fn.domain.x[1] - fn.domain.x[0]);
        const y = fn.domain.y[0] + ((next() + 1) / 2) * (fn.domain.y[1] - fn.domain.y[0]);
        const f = objective.value(Float64Array.of(x, y)) as number;
        assert.ok(f >= objective.optimalValue! - 1e-12, `${fn.name}(${x}, ${y}) = ${f}`);
      }
    }
  });

  it("Himmelblau has four minima of value 0, zero gradient, and a local maximum between them", () => {
    const fn = findTestFunction("himmelblau");
    const objective = fn.objective();
    assert.equal(fn.minima.length, 4);
    for (const [x, y] of fn.minima) {
      const [f, gx, gy] = gradient(objective, x, y);
      assert.ok(f < 1e-24, `f(${x}, ${y}) = ${f}`);
      assert.ok(Math.abs(gx) < 1e-12 && Math.abs(gy) < 1e-12);
    }
    assert.equal(objective.value(Float64Array.of(3, 2)), 0, "(3, 2) is exact");
    // The local maximum near (−0.270845, −0.923039): zero gradient, negative definite Hessian.
    let [x, y] = [-0.27, -0.92];
    for (let k = 0; k < 20; k++) {
      const [, gx, gy] = gradient(objective, x, y);
      const [a, b, , d] = hessian(objective, x, y);
      const det = a * d - b * b;
      [x, y] = [x - (d * gx - b * gy) / det, y - (a * gy - b * gx) / det];
    }
    const [a, b, , d] = hessian(objective, x, y);
    assert.ok(a < 0 && a * d - b * b > 0, "negative definite");
    near(x, -0.270845, 1e-6, "x of the maximum");
    near(y, -0.923039, 1e-6, "y of the maximum");
    near(objective.value(Float64Array.of(x, y)) as number, 181.617, 1e-5, "f at the maximum");
  });

  it("the saddle has zero gradient and an indefinite Hessian at the origin", () => {
    const objective = findTestFunction("saddle").objective();
    const [f, gx, gy] = gradient(objective, 0, 0);
    assert.equal(f, 0);
    assert.ok(gx === 0 && gy === 0);
    assert.deepEqual(hessian(objective, 0, 0), [2, 0, 0, -2]);
    // Descent along ±y from the origin, ascent along x: a strict saddle.
    assert.ok((objective.value(Float64Array.of(0, 0.1)) as number) < 0);
    assert.ok((objective.value(Float64Array.of(0.1, 0)) as number) > 0);
    assert.equal(objective.optimalValue, -1);
    near(objective.value(Float64Array.of(0, Math.SQRT2)) as number, -1, 1e-15, "f(0, √2)");
  });

  it("Rosenbrock is the library's Rosenbrock; Rastrigin its Rastrigin", () => {
    const fn = findTestFunction("rosenbrock").objective();
    const reference = rosenbrock();
    const p = Float64Array.of(0.3, -0.7);
    assert.equal(fn.value(p), reference.value(p));
    assert.equal(fn.optimalValue, 0);
    const rastrigin = findTestFunction("rastrigin").objective();
    // 20 + x² + y² − 10(cos 2πx + cos 2πy) at (0.25, 0.5): cos(π/2) = 0, cos(π) = −1.
    near(rastrigin.value(Float64Array.of(0.25, 0.5)) as number, 30.3125, 1e-13, "rastrigin");
  });

  it("Beale and the rotated quadratic match their closed forms", () => {
    const beale = findTestFunction("beale").objective();
    near(
      beale.value(Float64Array.of(0, 0)) as number,
      1.5 ** 2 + 2.25 ** 2 + 2.625 ** 2,
      1e-15,
      "beale(0, 0)",
    );
    near(
      beale.value(Float64Array.of(1, 1)) as number,
      1.5 ** 2 + 2.25 ** 2 + 2.625 ** 2,
      1e-15,
      "beale(1, 1)",
    );
    const quadratic = findTestFunction("rotated-quadratic").objective();
    const [a, b, , d] = hessian(quadratic, 0.4, -0.2);
    // Eigenvalues 1 (along (1, 1)) and 25 (along (1, −1)).
    near(a + b, 1, 1e-15, "H(1, 1) = 1·(1, 1)");
    near(a - b, 25, 1e-15, "H(1, −1) = 25·(1, −1)");
    near(d, a, 0, "symmetric axes");
    near(quadratic.value(Float64Array.of(1, -1)) as number, 25, 1e-15, "½·κ·v² at v = √2");
  });

  it("gradients and HVPs match central differences everywhere in each domain", () => {
    const next = seededUniform(11);
    const h = 1e-5;
    for (const fn of testFunctions2d) {
      const objective = fn.objective();
      for (let k = 0; k < 25; k++) {
        const x = fn.domain.x[0] + ((next() + 1) / 2) * (fn.domain.x[1] - fn.domain.x[0]);
        const y = fn.domain.y[0] + ((next() + 1) / 2) * (fn.domain.y[1] - fn.domain.y[0]);
        const [, gx, gy] = gradient(objective, x, y);
        const value = (u: number, w: number): number =>
          objective.value(Float64Array.of(u, w)) as number;
        const scale = Math.max(1, Math.abs(value(x, y)));
        // Relative to the function's size: Beale reaches 1e5 at the domain's corners.
        const tol = 1e-7 * scale;
        near(
          gx,
          (value(x + h, y) - value(x - h, y)) / (2 * h),
          tol,
          `${fn.name} ∂f/∂x (${x}, ${y})`,
        );
        near(
          gy,
          (value(x, y + h) - value(x, y - h)) / (2 * h),
          tol,
          `${fn.name} ∂f/∂y (${x}, ${y})`,
        );
        const [a, b, c, d] = hessian(objective, x, y);
        assert.ok(b === c, `${fn.name}: symmetric HVP (${b} vs ${c})`);
        const [, gxPlus, gyPlus] = gradient(objective, x + h, y);
        const [, gxMinus, gyMinus] = gradient(objective, x - h, y);
        const [, gxUp, gyUp] = gradient(objective, x, y + h);
        const [, gxDown, gyDown] = gradient(objective, x, y - h);
        near(a, (gxPlus - gxMinus) / (2 * h), tol, `${fn.name} ∂²f/∂x²`);
        near(b, (gyPlus - gyMinus) / (2 * h), tol, `${fn.name} ∂²f/∂x∂y`);
        near(b, (gxUp - gxDown) / (2 * h), tol, `${fn.name} ∂²f/∂y∂x`);
        near(d, (gyUp - gyDown) / (2 * h), tol, `${fn.name} ∂²f/∂y²`);
      }
    }
  });

  it("findTestFunction names the known functions when the name is unknown", () => {
    assert.equal(findTestFunction("himmelblau").name, "himmelblau");
    assert.throws(
      () => findTestFunction("booth"),
      (error: unknown) =>
        error instanceof InvalidArgumentError &&
        /"booth"/.test(error.message) &&
        testFunctions2d.every((fn) => error.message.includes(`"${fn.name}"`)),
    );
  });
});
