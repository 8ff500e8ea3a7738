// Small test objectives with closed-form gradients and Hessian-vector products, shared by the
// curvature-optimizer tests. Seeds are parameters so each test keeps its own data.
import type { Objective } from "../../src/oracles/objective.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { fillUniform } from "./inputs.js";

/** A matrix `w [3, 4]` and a vector `b [5]`. */
export function twoTensorLayout(dtype: DType = "float64"): Layout {
  return new Layout(
    [
      { name: "w", shape: [3, 4] },
      { name: "b", shape: [5] },
    ],
    dtype,
  );
}

/**
 * f = Σ a_i (x_i − c_i)²/2: Hessian diag(a), f* = 0. With `startSeed`, `initialParams` gives
 * seeded values in [−2, 2).
 */
export function diagonalQuadratic(
  layout: Layout,
  a: ArrayLike<number>,
  c: ArrayLike<number>,
  startSeed?: number,
): Objective {
  const value = (x: FloatArray) => {
    let f = 0;
    for (let i = 0; i < x.length; i++) f += 0.5 * a[i] * (x[i] - c[i]) ** 2;
    return f;
  };
  const objective: Objective = {
    name: "diagonal-quadratic",
    layout,
    value,
    valueAndGrad(x, g) {
      for (let i = 0; i < x.length; i++) g[i] = a[i] * (x[i] - c[i]);
      return value(x);
    },
    hvp(_x, v, out) {
      for (let i = 0; i < v.length; i++) out[i] = a[i] * v[i];
    },
    optimalValue: 0,
  };
  if (startSeed === undefined) return objective;
  return { ...objective, initialParams: () => fillUniform(layout.zeros(), startSeed, 2) };
}

/**
 * f = ½(uᵀx)² + Σ (a_i x_i²/2 + x_i⁴/12), a_i ∈ [0.5, 1.5): a coupled, non-quadratic convex
 * function whose Hessian changes with x; minimum 0 at x = 0. Data from seeds `seed`
 * (a), `seed + 1` (u) and `seed + 2` (start).
 */
export function coupledQuartic(layout: Layout, seed: number): Objective {
  const a = fillUniform(new Float64Array(layout.size), seed).map((r) => 1 + 0.5 * r);
  const u = fillUniform(new Float64Array(layout.size), seed + 1, 0.3);
  const dot = (x: ArrayLike<number>) => {
    let s = 0;
    for (let i = 0; i < u.length; i++) s += u[i] * x[i];
    return s;
  };
  const value = (x: FloatArray) => {
    let f = 0.5 * dot(x) ** 2;
    for (let i = 0; i < x.length; i++) f += 0.5 * a[i] * x[i] ** 2 + x[i] ** 4 / 12;
    return f;
  };
  return {
    name: "coupled-quartic",
    layout,
    value,
    valueAndGrad(x, g) {
      const ux = dot(x);
      for (let i = 0; i < x.length; i++) g[i] = a[i] * x[i] + x[i] ** 3 / 3 + u[i] * ux;
      return value(x);
    },
    hvp(x, v, out) {
      const uv = dot(v);
      for (let i = 0; i < x.length; i++) out[i] = (a[i] + x[i] * x[i]) * v[i] + u[i] * uv;
    },
    optimalValue: 0,
    initialParams: () => fillUniform(layout.zeros(), seed + 2, 2),
  };
}
