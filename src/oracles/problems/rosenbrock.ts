/**
 * The Rosenbrock function in n ≥ 2 dimensions (the chained form):
 * f(x) = Σ_{i<n−1} (a − x_i)² + b·(x_{i+1} − x_i²)², minimum 0 at x = (a, a², …) for a = 1 → 1.
 * Defaults a = 1, b = 100; the classic start is (−1.2, 1, −1.2, 1, …).
 */
import type { DType } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import type { Objective } from "../objective.js";
import { checkNumber } from "../../optim/validate.js";

/** Options of {@link rosenbrock}. */
export interface RosenbrockOptions {
  /** Number of coordinates (default 2). */
  dimension?: number;
  /** The `a` constant (default 1). */
  a?: number;
  /** The `b` constant (default 100). */
  b?: number;
  /** Element type (default float64). */
  dtype?: DType;
  /** Tensor name (default `"x"`). */
  name?: string;
}

/** Rosenbrock's banana-valley function with value, gradient and Hessian-vector product. */
export function rosenbrock(options: RosenbrockOptions = {}): Objective {
  const n = checkNumber("rosenbrock", "dimension", options.dimension ?? 2, {
    min: 2,
    integer: true,
  });
  const a = checkNumber("rosenbrock", "a", options.a ?? 1);
  const b = checkNumber("rosenbrock", "b", options.b ?? 100, { min: 0 });
  const layout = new Layout(
    [{ name: options.name ?? "x", shape: [n] }],
    options.dtype ?? "float64",
  );
  return {
    name: n === 2 ? "rosenbrock" : `rosenbrock-${n}d`,
    layout,
    optimalValue: 0,
    value(x) {
      let f = 0;
      for (let i = 0; i < n - 1; i++) {
        const r = a - x[i];
        const s = x[i + 1] - x[i] * x[i];
        f += r * r + b * s * s;
      }
      return f;
    },
    valueAndGrad(x, g) {
      g.fill(0);
      let f = 0;
      for (let i = 0; i < n - 1; i++) {
        const r = a - x[i];
        const s = x[i + 1] - x[i] * x[i];
        f += r * r + b * s * s;
        g[i] += -2 * r - 4 * b * x[i] * s;
        g[i + 1] += 2 * b * s;
      }
      return f;
    },
    hvp(x, v, out) {
      out.fill(0);
      for (let i = 0; i < n - 1; i++) {
        const s = x[i + 1] - x[i] * x[i];
        const hii = 2 - 4 * b * s + 8 * b * x[i] * x[i];
        const hij = -4 * b * x[i];
        out[i] += hii * v[i] + hij * v[i + 1];
        out[i + 1] += hij * v[i] + 2 * b * v[i + 1];
      }
    },
    initialParams() {
      const x = layout.zeros();
      for (let i = 0; i < n; i++) x[i] = i % 2 === 0 ? -1.2 : 1;
      return x;
    },
  };
}
