/**
 * Convex quadratic f(x) = ½ Σ_i λ_i (x_i − x*_i)² with eigenvalues spread log-uniformly over
 * [1/κ, 1]: the textbook ill-conditioned problem (condition number κ). The minimum is 0 at x*.
 * Gradient methods need O(κ) steps; it separates diagonal preconditioners from plain SGD.
 */
import type { DType } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import type { Objective } from "../objective.js";
import { checkNumber } from "../../optim/validate.js";

/** Options of {@link illConditionedQuadratic}. */
export interface QuadraticOptions {
  /** Number of coordinates (default 100). */
  dimension?: number;
  /** Condition number κ = λ_max / λ_min (default 1000). */
  conditionNumber?: number;
  /** Element type (default float64). */
  dtype?: DType;
}

/**
 * A diagonal quadratic with chosen condition number. The start is x* + δ with offsets
 * |δ_i| ∈ [0.5, 1.5) of alternating sign spread by the golden ratio, so that no step size lands
 * sign-based methods (Adam's first steps, Lion) exactly on the minimum.
 */
export function illConditionedQuadratic(options: QuadraticOptions = {}): Objective {
  const n = checkNumber("illConditionedQuadratic", "dimension", options.dimension ?? 100, {
    min: 1,
    integer: true,
  });
  const kappa = checkNumber(
    "illConditionedQuadratic",
    "conditionNumber",
    options.conditionNumber ?? 1000,
    { min: 1 },
  );
  const lambda = new Float64Array(n);
  const center = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    lambda[i] = n === 1 ? 1 : Math.pow(kappa, -i / (n - 1));
    center[i] = ((i % 7) - 3) / 3;
  }
  const layout = new Layout([{ name: "x", shape: [n] }], options.dtype ?? "float64");
  return {
    name: `quadratic-k${kappa}`,
    layout,
    optimalValue: 0,
    value(x) {
      let f = 0;
      for (let i = 0; i < n; i++) {
        const d = x[i] - center[i];
        f += 0.5 * lambda[i] * d * d;
      }
      return f;
    },
    valueAndGrad(x, g) {
      let f = 0;
      for (let i = 0; i < n; i++) {
        const d = x[i] - center[i];
        f += 0.5 * lambda[i] * d * d;
        g[i] = lambda[i] * d;
      }
      return f;
    },
    hvp(_x, v, out) {
      for (let i = 0; i < n; i++) out[i] = lambda[i] * v[i];
    },
    initialParams() {
      const x = layout.zeros();
      for (let i = 0; i < n; i++) x[i] = center[i] + startOffset(i);
      return x;
    },
  };
}

function startOffset(i: number): number {
  const magnitude = 0.5 + ((i * 0.6180339887498949) % 1);
  return i % 2 === 0 ? magnitude : -magnitude;
}

/** Eigenvalues of {@link illConditionedQuadratic} (for tests and exact-Hessian methods). */
export function quadraticEigenvalues(dimension: number, conditionNumber: number): Float64Array {
  const out = new Float64Array(dimension);
  for (let i = 0; i < dimension; i++)
    out[i] = dimension === 1 ? 1 : Math.pow(conditionNumber, -i / (dimension - 1));
  return out;
}
