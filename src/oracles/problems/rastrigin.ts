/**
 * The Rastrigin function (L. A. Rastrigin, "Systems of Extremal Control", Nauka, Moscow, 1974;
 * the n-dimensional form of H. Mühlenbein, M. Schomisch & J. Born, "The parallel genetic
 * algorithm as function optimizer", Parallel Computing 17, 1991):
 *
 *     f(x) = a·n + Σ_i (x_i² − a·cos(2π x_i)),   ∇f_i = 2 x_i + 2π a sin(2π x_i),
 *     ∇²f = diag(2 + 4π² a cos(2π x_i)).
 *
 * A bowl covered in a lattice of local minima near the integer points; the global minimum is
 * f(0) = 0. With the default a = 10 the Hessian is indefinite almost everywhere away from the
 * lattice, so local methods stop in the nearest basin: it separates methods that only descend
 * from those whose noise or momentum carries them across barriers.
 */
import type { DType } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import type { Objective } from "../objective.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../../optim/validate.js";

/** Options of {@link rastrigin}. */
export interface RastriginOptions {
  /** Number of coordinates n (default 2). */
  dimension?: number;
  /** Amplitude a of the cosine ripples (default 10, Rastrigin's constant). */
  a?: number;
  /** Element type (default float64). */
  dtype?: DType;
}

const TWO_PI = 2 * Math.PI;
const GOLDEN_FRACTION = 0.6180339887498949;

/**
 * Start coordinate i: (−1)^i · (2.3 + 2·frac(0.618…·i)). The magnitudes lie in [2.3, 4.3), a few
 * basins away from the origin, and differ between coordinates (spread by the golden ratio) so the
 * separable problem does not move every coordinate in lockstep; the 2-D start is (2.3, −3.536).
 */
export function rastriginStart(index: number): number {
  const magnitude = 2.3 + 2 * ((index * GOLDEN_FRACTION) % 1);
  return index % 2 === 0 ? magnitude : -magnitude;
}

/** Rastrigin's multimodal function with value, gradient and (diagonal) Hessian-vector product. */
export function rastrigin(options: RastriginOptions = {}): Objective {
  const owner = "rastrigin";
  checkKnownOptions(owner, options, ["dimension", "a", "dtype"]);
  const n = checkNumber(owner, "dimension", options.dimension ?? 2, { min: 1, integer: true });
  const a = checkNumber(owner, "a", options.a ?? 10, { min: 0 });
  const dtype = checkChoice(owner, "dtype", options.dtype ?? "float64", ["float32", "float64"]);
  const layout = new Layout([{ name: "x", shape: [n] }], dtype);
  return {
    name: n === 2 ? "rastrigin" : `rastrigin-${n}d`,
    layout,
    optimalValue: 0,
    value(x) {
      let f = a * n;
      for (let i = 0; i < n; i++) f += x[i] * x[i] - a * Math.cos(TWO_PI * x[i]);
      return f;
    },
    valueAndGrad(x, g) {
      let f = a * n;
      for (let i = 0; i < n; i++) {
        const phase = TWO_PI * x[i];
        f += x[i] * x[i] - a * Math.cos(phase);
        g[i] = 2 * x[i] + TWO_PI * a * Math.sin(phase);
      }
      return f;
    },
    hvp(x, v, out) {
      for (let i = 0; i < n; i++) {
        out[i] = (2 + TWO_PI * TWO_PI * a * Math.cos(TWO_PI * x[i])) * v[i];
      }
    },
    initialParams() {
      const x = layout.zeros();
      for (let i = 0; i < n; i++) x[i] = rastriginStart(i);
      return x;
    },
  };
}
