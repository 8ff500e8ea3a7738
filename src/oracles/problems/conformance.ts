/**
 * The test problems of the conformance fixtures (quad_log, rosenbrock, lstsq, mlp), with the exact
 * formulas the fixtures were generated with, so trajectories recorded from reference
 * implementations can be replayed step by step.
 */
import type { DType, FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import type { Objective } from "../objective.js";
import { rosenbrock } from "./rosenbrock.js";

/** A matrix as nested rows. */
export type Matrix = readonly (readonly number[])[];

/** Problem description as stored in a fixture case (`problem` field). */
export interface ConformanceProblem {
  /** Problem kind: `"quad_log"`, `"rosenbrock"`, `"lstsq"` or `"mlp"`. */
  readonly name: string;
  /** Parameter names in packing order. */
  readonly param_order: readonly string[];
  /** Shape of each parameter. */
  readonly shapes: Readonly<Record<string, readonly number[]>>;
  /** The problem's data arrays and constants, as stored in the fixture. */
  readonly data: Readonly<Record<string, number | readonly number[] | Matrix>>;
}

function flat(m: Matrix): Float64Array {
  const rows = m.length;
  const cols = rows ? m[0].length : 0;
  const out = new Float64Array(rows * cols);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) out[i * cols + j] = m[i][j];
  return out;
}

/**
 * Separable nonconvex f(x) = ½Σ a_i x_i² + Σ b_i x_i + c Σ log(1 + x_i²), with diagonal Hessian
 * a_i + 2c(1 − x_i²)/(1 + x_i²)².
 */
export function quadLog(
  a: ArrayLike<number>,
  b: ArrayLike<number>,
  c: number,
  dtype: DType = "float64",
): Objective {
  const n = a.length;
  const layout = new Layout([{ name: "x", shape: [n] }], dtype);
  return {
    name: "quad_log",
    layout,
    value(x) {
      let f = 0;
      for (let i = 0; i < n; i++)
        f += 0.5 * a[i] * x[i] * x[i] + b[i] * x[i] + c * Math.log1p(x[i] * x[i]);
      return f;
    },
    valueAndGrad(x, g) {
      let f = 0;
      for (let i = 0; i < n; i++) {
        const xi = x[i];
        f += 0.5 * a[i] * xi * xi + b[i] * xi + c * Math.log1p(xi * xi);
        g[i] = a[i] * xi + b[i] + (2 * c * xi) / (1 + xi * xi);
      }
      return f;
    },
    hvp(x, v, out) {
      for (let i = 0; i < n; i++) {
        const x2 = x[i] * x[i];
        out[i] = (a[i] + (2 * c * (1 - x2)) / ((1 + x2) * (1 + x2))) * v[i];
      }
    },
  };
}

/** f(W) = ½‖AW − C‖²_F (a sum), W of shape [p, q]. */
export function leastSquares(
  A: Matrix,
  C: Matrix,
  dtype: DType = "float64",
  name = "W",
): Objective {
  const m = A.length;
  const p = A[0].length;
  const q = C[0].length;
  const a = flat(A);
  const c = flat(C);
  const r = new Float64Array(m * q);
  const layout = new Layout([{ name, shape: [p, q] }], dtype);
  const residual = (w: FloatArray): number => {
    let f = 0;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < q; j++) {
        let s = -c[i * q + j];
        for (let k = 0; k < p; k++) s += a[i * p + k] * w[k * q + j];
        r[i * q + j] = s;
        f += s * s;
      }
    }
    return 0.5 * f;
  };
  return {
    name: "lstsq",
    layout,
    optimalValue: undefined,
    value: residual,
    valueAndGrad(w, g) {
      const f = residual(w);
      for (let k = 0; k < p; k++) {
        for (let j = 0; j < q; j++) {
          let s = 0;
          for (let i = 0; i < m; i++) s += a[i * p + k] * r[i * q + j];
          g[k * q + j] = s;
        }
      }
      return f;
    },
    hvp(_w, v, out) {
      // H·V = AᵀA V
      const av = new Float64Array(m * q);
      for (let i = 0; i < m; i++)
        for (let j = 0; j < q; j++) {
          let s = 0;
          for (let k = 0; k < p; k++) s += a[i * p + k] * v[k * q + j];
          av[i * q + j] = s;
        }
      for (let k = 0; k < p; k++)
        for (let j = 0; j < q; j++) {
          let s = 0;
          for (let i = 0; i < m; i++) s += a[i * p + k] * av[i * q + j];
          out[k * q + j] = s;
        }
    },
  };
}

/**
 * Two-layer tanh regression network: pred = tanh(X W1 + b1) W2 + b2, loss = mean((pred − Y)²).
 * Parameters `W1 [d_in, H]`, `b1 [H]`, `W2 [H, d_out]`, `b2 [d_out]` (input-major weights).
 *
 * With N rows, c = 2/(N·d_out), h = tanh(a), a = X W1 + b1, and the backward pass
 * D = c·(pred − Y), ∇W2 = hᵀD, ∇b2 = Σ_n D, S = (D W2ᵀ) ⊙ (1 − h²), ∇W1 = XᵀS, ∇b1 = Σ_n S,
 * the Hessian-vector product along (V1, v1, V2, v2) is the R-operator R{·} = d/dt(·)(θ + t·v)
 * at t = 0 applied to that pass (Pearlmutter, "Fast Exact Multiplication by the Hessian",
 * Neural Computation 6(1), 1994):
 *
 *     R{h} = (1 − h²) ⊙ (X V1 + v1),       R{D} = c·(R{h} W2 + h V2 + v2)
 *     H·v for W2, b2:  R{h}ᵀD + hᵀR{D},    Σ_n R{D}
 *     R{S} = (R{D} W2ᵀ + D V2ᵀ) ⊙ (1 − h²) − 2 (D W2ᵀ) ⊙ h ⊙ R{h}
 *     H·v for W1, b1:  Xᵀ R{S},            Σ_n R{S}
 */
export function tanhMlp(X: Matrix, Y: Matrix, hidden: number, dtype: DType = "float64"): Objective {
  const N = X.length;
  const dIn = X[0].length;
  const dOut = Y[0].length;
  const H = hidden;
  const x = flat(X);
  const y = flat(Y);
  const layout = new Layout(
    [
      { name: "W1", shape: [dIn, H] },
      { name: "b1", shape: [H] },
      { name: "W2", shape: [H, dOut] },
      { name: "b2", shape: [dOut] },
    ],
    dtype,
  );
  const [tW1, tb1, tW2, tb2] = layout.tensors;
  const h = new Float64Array(N * H);
  const dpred = new Float64Array(N * dOut);
  const dz = new Float64Array(N * H);
  // Scratch of the R-operator pass: R{h}, R{D} and R{S} of one row.
  const rh = new Float64Array(H);
  const rdpred = new Float64Array(dOut);
  const rdz = new Float64Array(H);
  const product = new Float64Array(layout.size);
  const forward = (p: FloatArray): number => {
    for (let n = 0; n < N; n++) {
      for (let j = 0; j < H; j++) {
        let s = p[tb1.offset + j];
        for (let k = 0; k < dIn; k++) s += x[n * dIn + k] * p[tW1.offset + k * H + j];
        h[n * H + j] = Math.tanh(s);
      }
    }
    let f = 0;
    const scaleBack = 2 / (N * dOut);
    for (let n = 0; n < N; n++) {
      for (let o = 0; o < dOut; o++) {
        let s = p[tb2.offset + o];
        for (let j = 0; j < H; j++) s += h[n * H + j] * p[tW2.offset + j * dOut + o];
        const e = s - y[n * dOut + o];
        f += e * e;
        dpred[n * dOut + o] = scaleBack * e;
      }
    }
    return f / (N * dOut);
  };
  return {
    name: "mlp",
    layout,
    value: forward,
    valueAndGrad(p, g) {
      const f = forward(p);
      g.fill(0);
      for (let n = 0; n < N; n++) {
        for (let o = 0; o < dOut; o++) {
          const d = dpred[n * dOut + o];
          g[tb2.offset + o] += d;
          for (let j = 0; j < H; j++) g[tW2.offset + j * dOut + o] += h[n * H + j] * d;
        }
        for (let j = 0; j < H; j++) {
          let s = 0;
          for (let o = 0; o < dOut; o++) s += dpred[n * dOut + o] * p[tW2.offset + j * dOut + o];
          const hj = h[n * H + j];
          dz[n * H + j] = s * (1 - hj * hj);
        }
        for (let j = 0; j < H; j++) {
          const d = dz[n * H + j];
          g[tb1.offset + j] += d;
          for (let k = 0; k < dIn; k++) g[tW1.offset + k * H + j] += x[n * dIn + k] * d;
        }
      }
      return f;
    },
    hvp(p, v, out) {
      forward(p);
      product.fill(0);
      // Sums run in float64 whatever the parameter dtype, so float32 results are rounded once.
      const scaleBack = 2 / (N * dOut);
      for (let n = 0; n < N; n++) {
        for (let j = 0; j < H; j++) {
          let ra = v[tb1.offset + j];
          for (let k = 0; k < dIn; k++) ra += x[n * dIn + k] * v[tW1.offset + k * H + j];
          const hj = h[n * H + j];
          rh[j] = (1 - hj * hj) * ra;
        }
        for (let o = 0; o < dOut; o++) {
          let rpred = v[tb2.offset + o];
          for (let j = 0; j < H; j++) {
            rpred +=
              rh[j] * p[tW2.offset + j * dOut + o] + h[n * H + j] * v[tW2.offset + j * dOut + o];
          }
          rdpred[o] = scaleBack * rpred;
          product[tb2.offset + o] += rdpred[o];
          const d = dpred[n * dOut + o];
          for (let j = 0; j < H; j++) {
            product[tW2.offset + j * dOut + o] += rh[j] * d + h[n * H + j] * rdpred[o];
          }
        }
        for (let j = 0; j < H; j++) {
          // dh = D W2ᵀ and its R-derivative R{D} W2ᵀ + D V2ᵀ for hidden unit j.
          let dh = 0;
          let rdh = 0;
          for (let o = 0; o < dOut; o++) {
            const w = p[tW2.offset + j * dOut + o];
            dh += dpred[n * dOut + o] * w;
            rdh += rdpred[o] * w + dpred[n * dOut + o] * v[tW2.offset + j * dOut + o];
          }
          const hj = h[n * H + j];
          rdz[j] = rdh * (1 - hj * hj) - 2 * dh * hj * rh[j];
        }
        for (let j = 0; j < H; j++) {
          product[tb1.offset + j] += rdz[j];
          for (let k = 0; k < dIn; k++) product[tW1.offset + k * H + j] += x[n * dIn + k] * rdz[j];
        }
      }
      out.set(product);
    },
  };
}

/** Builds the Objective of a conformance fixture case from its `problem` record. */
export function conformanceObjective(
  problem: ConformanceProblem,
  dtype: DType = "float64",
): Objective {
  const d = problem.data;
  switch (problem.name) {
    case "quad_log":
      return quadLog(d.a as number[], d.b as number[], d.c as number, dtype);
    case "rosenbrock":
      return rosenbrock({ a: d.a as number, b: d.b as number, dtype });
    case "lstsq":
      return leastSquares(d.A as Matrix, d.C as Matrix, dtype, problem.param_order[0]);
    case "mlp":
      return tanhMlp(d.X as Matrix, d.Y as Matrix, problem.shapes.b1[0], dtype);
    default:
      throw new RangeError(
        `conformanceObjective: unknown problem name ${JSON.stringify(problem.name)}`,
      );
  }
}
