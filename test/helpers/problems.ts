// Small test objectives with closed-form gradients and Hessian-vector products, shared by the
// curvature-optimizer tests, the least-squares optimum and a seeded network problem the
// matrix-optimizer tests converge on. Seeds are parameters so each test keeps its own data.
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { tanhMlp } from "../../src/oracles/problems/conformance.js";
import type { DType, FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillUniform, seededUniform } from "./inputs.js";

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

/**
 * W* and f* of ½‖AW − C‖²_F (A: m×p, C: m×q, W: p×q row-major) from the normal equations, by
 * Gauss–Jordan elimination.
 */
export function leastSquaresOptimum(
  a: number[][],
  c: number[][],
): { w: Float64Array; value: number } {
  const p = a[0].length;
  const q = c[0].length;
  const rows = Array.from({ length: p }, (_, i) =>
    Array.from({ length: p + q }, (_, j) =>
      a.reduce((s, r, k) => s + r[i] * (j < p ? r[j] : c[k][j - p]), 0),
    ),
  );
  for (let col = 0; col < p; col++) {
    const pivot = rows[col][col];
    for (let j = 0; j < p + q; j++) rows[col][j] /= pivot;
    for (let r = 0; r < p; r++) {
      if (r === col) continue;
      const factor = rows[r][col];
      for (let j = 0; j < p + q; j++) rows[r][j] -= factor * rows[col][j];
    }
  }
  const w = new Float64Array(p * q);
  for (let i = 0; i < p; i++) for (let j = 0; j < q; j++) w[i * q + j] = rows[i][p + j];
  let value = 0;
  for (const [k, row] of a.entries()) {
    for (let j = 0; j < q; j++) {
      let s = -c[k][j];
      for (let i = 0; i < p; i++) s += row[i] * w[i * q + j];
      value += 0.5 * s * s;
    }
  }
  return { w, value };
}

/**
 * A tanh MLP of the digits network's shapes (64→32→10) fitting 128 seeded rows to a seeded
 * tanh teacher, with a seeded start of entries in [−0.2, 0.2).
 */
export function digitsShapedMlp(): { objective: Objective; initial: FloatArray } {
  const next = seededUniform(5);
  const rows = 128;
  const x = Array.from({ length: rows }, () => Array.from({ length: 64 }, () => next()));
  const teacher = Array.from({ length: 64 }, () => Array.from({ length: 10 }, () => next()));
  const y = x.map((r) =>
    teacher[0].map((_, j) => Math.tanh(r.reduce((s, v, i) => s + v * teacher[i][j], 0) / 8)),
  );
  const objective = tanhMlp(x, y, 32);
  return { objective, initial: fillUniform(objective.layout.zeros(), 9, 0.2) };
}

/** f after `steps` Optimizer steps of `transform` on `f` from a copy of `initial`. */
export async function valueAfterSteps(
  f: Objective,
  initial: FloatArray,
  transform: GradientTransform,
  steps: number,
): Promise<number> {
  const params = new ParamSet(f.layout, initial.slice());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return (await f.value(params.data)) as number;
}
