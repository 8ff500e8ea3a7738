// Exact Gauss-Newton: the push-through direction against the d×d system solved densely here, the
// Gauss-Newton step on linear least squares (Newton's step there), the line search and the
// adaptive regularization against their rules worked out in closed form, momentum, convergence,
// resuming, and bad input.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import { standardize } from "../../src/data/dataset.js";
import { InvalidArgumentError, MissingOracleError, ShapeMismatchError } from "../../src/errors.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import type { EgnOptions, EgnState } from "../../src/optim/egn.js";
import { egn, scaleByEgn } from "../../src/optim/egn.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { countingObjective } from "../../src/oracles/counting.js";
import type { Objective, OutputJacobian } from "../../src/oracles/objective.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import { nonlinearRegression } from "../../src/oracles/problems/nonlinearRegression.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertInvalidArgument, partStateWith } from "../helpers/assertions.js";
import { seededUniform } from "../helpers/inputs.js";

// ---------------------------------------------------------------------------------------------
// Dense references

/** Solves the n×n system A·x = b (row-major) by Gaussian elimination with partial pivoting. */
function denseSolve(matrix: ArrayLike<number>, rhs: ArrayLike<number>, n: number): Float64Array {
  const a = Float64Array.from(matrix);
  const x = Float64Array.from(rhs);
  for (let col = 0; col < n; col++) {
    let pivot = col;
    for (let r = col + 1; r < n; r++) {
      if (Math.abs(a[r * n + col]) > Math.abs(a[pivot * n + col])) pivot = r;
    }
    if (pivot !== col) {
      for (let k = 0; k < n; k++) {
        const t = a[col * n + k];
        a[col * n + k] = a[pivot * n + k];
        a[pivot * n + k] = t;
      }
      const t = x[col];
      x[col] = x[pivot];
      x[pivot] = t;
    }
    for (let r = col + 1; r < n; r++) {
      const factor = a[r * n + col] / a[col * n + col];
      if (factor === 0) continue;
      for (let k = col; k < n; k++) a[r * n + k] -= factor * a[col * n + k];
      x[r] -= factor * x[col];
    }
  }
  for (let r = n - 1; r >= 0; r--) {
    let s = x[r];
    for (let k = r + 1; k < n; k++) s -= a[r * n + k] * x[k];
    x[r] = s / a[r * n + r];
  }
  return x;
}

/** (1/b)·JᵀQJ + diag(π) + λI, d×d, from the definition. */
function denseGaussNewton(o: OutputJacobian, d: number, lambda: number): Float64Array {
  const { examples: b, outputs: c, jacobian: J, outputHessian: Q } = o;
  const G = new Float64Array(d * d);
  for (let i = 0; i < b; i++) {
    for (let k = 0; k < c; k++) {
      for (let l = 0; l < c; l++) {
        const q = Q[i * c * c + k * c + l];
        if (q === 0) continue;
        const rk = (i * c + k) * d;
        const rl = (i * c + l) * d;
        for (let p = 0; p < d; p++) {
          for (let s = 0; s < d; s++) G[p * d + s] += (J[rk + p] * q * J[rl + s]) / b;
        }
      }
    }
  }
  for (let p = 0; p < d; p++) G[p * d + p] += lambda + (o.penalty ? o.penalty[p] : 0);
  return G;
}

function relativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < expected.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / scale;
}

// ---------------------------------------------------------------------------------------------
// Objectives built from given pieces

/** A layout of one flat tensor of d parameters. */
const flat = (d: number) => new Layout([{ name: "theta", shape: [d] }], "float64");

/**
 * A user objective that returns fixed output-Jacobian pieces (the direction only reads them and
 * the gradient it is given). `value` is a quadratic bowl, so a line search has something to test.
 */
function fixedPieces(o: OutputJacobian, d: number): Objective {
  return {
    name: "fixed-pieces",
    layout: flat(d),
    value: (p) => {
      let s = 0;
      for (const v of p) s += v * v;
      return s;
    },
    outputJacobian: () => o,
  };
}

/** Random PSD c×c blocks: softmax cross-entropy blocks diag(p) − ppᵀ (singular) and A·Aᵀ. */
function randomBlocks(b: number, c: number, next: () => number): Float64Array {
  const Q = new Float64Array(b * c * c);
  for (let i = 0; i < b; i++) {
    const base = i * c * c;
    if (i % 2 === 0) {
      const e = Array.from({ length: c }, () => Math.exp(3 * next()));
      const total = e.reduce((s, v) => s + v, 0);
      const p = e.map((v) => v / total);
      for (let k = 0; k < c; k++) {
        for (let l = 0; l < c; l++) Q[base + k * c + l] = (k === l ? p[k] : 0) - p[k] * p[l];
      }
    } else {
      // Rank c − 1: A has one column fewer than rows.
      const A = Array.from({ length: c * (c - 1) }, () => next());
      for (let k = 0; k < c; k++) {
        for (let l = 0; l < c; l++) {
          let s = 0;
          for (let m = 0; m < c - 1; m++) s += A[k * (c - 1) + m] * A[l * (c - 1) + m];
          Q[base + k * c + l] = s;
        }
      }
    }
  }
  return Q;
}

function randomPieces(b: number, c: number, d: number, seed: number, penalty: boolean) {
  const next = seededUniform(seed);
  const o: OutputJacobian = {
    examples: b,
    outputs: c,
    jacobian: Float64Array.from({ length: b * c * d }, () => next()),
    outputGradient: Float64Array.from({ length: b * c }, () => next()),
    outputHessian: randomBlocks(b, c, next),
    ...(penalty && { penalty: Float64Array.from({ length: d }, () => 0.5 * (1 + next())) }),
  };
  const params = Float64Array.from({ length: d }, () => next());
  return { o, params };
}

/** One update of `transform` with gradient `g`, returning the step it writes and its state. */
async function oneUpdate(
  options: EgnOptions,
  objective: Objective,
  params: FloatArray,
  g: ArrayLike<number>,
) {
  const t = scaleByEgn(options);
  const state = t.init(objective.layout);
  const u = Float64Array.from(g);
  await t.update(u, state, { params, layout: objective.layout, objective });
  return { step: u, state };
}

/** Linear least squares z_i = x_iᵀθ, ℓ = ½(z − y)², through the output-Jacobian oracle. */
function linearLeastSquares(n: number, d: number, seed: number, ridge = 0) {
  const next = seededUniform(seed);
  const penalty = ridge > 0 ? new Float64Array(d).fill(ridge) : undefined;
  const X = Float64Array.from({ length: n * d }, () => next());
  const y = Float64Array.from({ length: n }, () => 2 * next());
  const residual = new Float64Array(n);
  const ones = new Float64Array(n).fill(1);
  const forward = (p: FloatArray) => {
    let f = 0;
    for (let i = 0; i < n; i++) {
      let z = 0;
      for (let j = 0; j < d; j++) z += X[i * d + j] * p[j];
      residual[i] = z - y[i];
      f += 0.5 * residual[i] ** 2;
    }
    let extra = 0;
    for (let j = 0; j < d; j++) extra += 0.5 * ridge * p[j] * p[j];
    return f / n + extra;
  };
  const objective: Objective = {
    name: "linear-least-squares",
    layout: flat(d),
    value: forward,
    valueAndGrad(p, g) {
      const f = forward(p);
      g.fill(0);
      for (let i = 0; i < n; i++)
        for (let j = 0; j < d; j++) g[j] += (X[i * d + j] * residual[i]) / n;
      for (let j = 0; j < d; j++) g[j] += ridge * p[j];
      return f;
    },
    outputJacobian(p) {
      forward(p);
      return {
        examples: n,
        outputs: 1,
        jacobian: X,
        outputGradient: residual,
        outputHessian: ones,
        ...(penalty && { penalty }),
      };
    },
    initialParams: () => Float64Array.from({ length: d }, (_, j) => Math.sin(j + 1)),
  };
  // θ* from the normal equations XᵀX·θ = Xᵀy.
  const XtX = new Float64Array(d * d);
  const Xty = new Float64Array(d);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < d; j++) {
      Xty[j] += X[i * d + j] * y[i];
      for (let k = 0; k < d; k++) XtX[j * d + k] += X[i * d + j] * X[i * d + k];
    }
  }
  return {
    objective,
    solution: denseSolve(XtX, Xty, d),
    optimum: forward(denseSolve(XtX, Xty, d)),
  };
}

/** One output z = θ (b = 1, c = 1) with the convex loss ℓ(z) = √(1 + z²). */
function pseudoHuber(): Objective {
  const loss = (z: number) => Math.sqrt(1 + z * z);
  const gradient = new Float64Array(1);
  const hessian = new Float64Array(1);
  return {
    name: "pseudo-huber",
    layout: flat(1),
    value: (p) => loss(p[0]),
    valueAndGrad(p, g) {
      g[0] = p[0] / loss(p[0]);
      return loss(p[0]);
    },
    outputJacobian(p) {
      gradient[0] = p[0] / loss(p[0]);
      hessian[0] = loss(p[0]) ** -3;
      return {
        examples: 1,
        outputs: 1,
        jacobian: Float64Array.of(1),
        outputGradient: gradient,
        outputHessian: hessian,
      };
    },
  };
}

async function run(objective: Objective, options: EgnOptions, steps: number, start?: FloatArray) {
  const params = new ParamSet(objective.layout, start ?? objective.initialParams!());
  const opt = new Optimizer(params, egn(options));
  for (let k = 0; k < steps; k++) await opt.step(objective);
  return { opt, params: params.data, state: partStateWith<EgnState>(opt, "damping") };
}

async function gradientNorm(objective: Objective, params: FloatArray): Promise<number> {
  const g = objective.layout.zeros();
  await objective.valueAndGrad!(params, g);
  return Math.hypot(...g);
}

// ---------------------------------------------------------------------------------------------

describe("egn direction", () => {
  it("equals the d×d solve (JᵀQJ/b + diag(π) + λI)⁻¹g, singular cross-entropy blocks included", async () => {
    for (const [b, c, d] of [
      [4, 3, 20],
      [3, 1, 7],
      [6, 2, 5],
    ]) {
      for (const penalty of [false, true]) {
        for (const lambda of [1, 1e-2]) {
          const { o, params } = randomPieces(b, c, d, 10 * b + c, penalty);
          const objective = fixedPieces(o, d);
          const g = Float64Array.from({ length: d }, (_, j) => Math.cos(3 * j));
          const expected = denseSolve(denseGaussNewton(o, d, lambda), g, d);
          for (const solveSpace of ["outputs", "parameters", "auto"] as const) {
            const { step } = await oneUpdate({ damping: lambda, solveSpace }, objective, params, g);
            const err = relativeError(
              step.map((v) => -v),
              expected,
            );
            const what = `b ${b}, c ${c}, d ${d}, penalty ${penalty}, λ ${lambda}, ${solveSpace}`;
            assert.ok(err < 1e-10, `${what}: ${err}`);
          }
        }
      }
    }
  });

  it("is the paper's push-through form Jᵀ(QJJᵀ + bλI)⁻¹∇_zℓ when g = (1/b)Jᵀ∇_zℓ", async () => {
    const [b, c, d] = [5, 3, 40];
    const { o } = randomPieces(b, c, d, 77, false);
    const n = b * c;
    const lambda = 0.1;
    const J = o.jacobian;
    // QJJᵀ + bλI (not symmetric), solved by elimination with pivoting.
    const JJt = new Float64Array(n * n);
    for (let r = 0; r < n; r++) {
      for (let s = 0; s < n; s++) {
        for (let p = 0; p < d; p++) JJt[r * n + s] += J[r * d + p] * J[s * d + p];
      }
    }
    const M = new Float64Array(n * n);
    for (let i = 0; i < b; i++) {
      for (let k = 0; k < c; k++) {
        const r = i * c + k;
        for (let s = 0; s < n; s++) {
          for (let l = 0; l < c; l++)
            M[r * n + s] += o.outputHessian[i * c * c + k * c + l] * JJt[(i * c + l) * n + s];
        }
        M[r * n + r] += b * lambda;
      }
    }
    const t = denseSolve(M, o.outputGradient, n);
    const expected = new Float64Array(d);
    for (let r = 0; r < n; r++) for (let p = 0; p < d; p++) expected[p] += J[r * d + p] * t[r];
    const g = new Float64Array(d);
    for (let r = 0; r < n; r++)
      for (let p = 0; p < d; p++) g[p] += (J[r * d + p] * o.outputGradient[r]) / b;
    const { step } = await oneUpdate(
      { damping: lambda },
      fixedPieces(o, d),
      new Float64Array(d),
      g,
    );
    const err = relativeError(
      step.map((v) => -v),
      expected,
    );
    assert.ok(err < 1e-10, `${err}`);
  });

  it("takes one step to the least-squares solution on a linear model as λ → 0", async () => {
    for (const [n, d] of [
      [40, 6],
      [25, 10],
    ]) {
      const { objective, solution } = linearLeastSquares(n, d, n + d);
      const { params } = await run(objective, { damping: 1e-12 }, 1);
      const err = relativeError(params, solution);
      assert.ok(err < 1e-9, `n ${n}, d ${d}: ${err}`);
    }
  });

  it("takes the minimum-norm Levenberg-Marquardt step when there are fewer outputs than parameters", async () => {
    // n = 8 < d = 14: θ₁ = θ₀ − Xᵀ(XXᵀ + nλI)⁻¹(Xθ₀ − y), which nearly interpolates for small λ.
    const [n, d, lambda] = [8, 14, 1e-6];
    const { objective } = linearLeastSquares(n, d, 5);
    const theta0 = objective.initialParams!();
    const o = objective.outputJacobian!(theta0) as OutputJacobian;
    const X = o.jacobian;
    const r0 = Float64Array.from(o.outputGradient);
    const M = new Float64Array(n * n);
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < n; k++) {
        for (let j = 0; j < d; j++) M[i * n + k] += X[i * d + j] * X[k * d + j];
      }
      M[i * n + i] += n * lambda;
    }
    const t = denseSolve(M, r0, n);
    const expected = Float64Array.from(theta0);
    for (let i = 0; i < n; i++) for (let j = 0; j < d; j++) expected[j] -= X[i * d + j] * t[i];
    const { params } = await run(objective, { damping: lambda }, 1);
    const err = relativeError(params, expected);
    assert.ok(err < 1e-8, `${err}`);
    objective.outputJacobian!(params);
    const shrink =
      Math.hypot(...(objective.outputJacobian!(params) as OutputJacobian).outputGradient) /
      Math.hypot(...r0);
    assert.ok(shrink < 1e-3, `residual shrank by ${shrink}`);
  });

  it("is Newton's direction on logistic regression (outputs linear in θ, exact output Hessians)", async () => {
    const f = logisticRegression(standardize(loadBreastCancer()), { l2: 1e-2 });
    const d = f.layout.size;
    const theta = Float64Array.from({ length: d }, (_, j) => 0.1 * Math.sin(j));
    const g = f.layout.zeros();
    f.valueAndGrad(theta, g);
    // The Hessian column by column from Hessian-vector products: an independent oracle.
    const H = new Float64Array(d * d);
    const e = f.layout.zeros();
    const column = f.layout.zeros();
    for (let j = 0; j < d; j++) {
      e.fill(0);
      e[j] = 1;
      f.hvp(theta, e, column);
      for (let i = 0; i < d; i++) H[i * d + j] = column[i] + (i === j ? 0.5 : 0);
    }
    const expected = denseSolve(H, g, d);
    for (const solveSpace of ["outputs", "parameters"] as const) {
      const { step } = await oneUpdate({ damping: 0.5, solveSpace }, f, theta, g);
      const err = relativeError(
        step.map((v) => -v),
        expected,
      );
      assert.ok(err < 1e-10, `${solveSpace}: ${err}`);
    }
  });
});

describe("egn line search", () => {
  // On linear least squares with λ ≈ 0 the direction p is Newton's, so with r = f(θ) − f*:
  // f(θ − αp) − f* = (1 − α)²·r and gᵀp = 2r. Armijo (c = 0.1) accepts α exactly when
  // α(2 − α) ≥ 0.2α, i.e. α ≤ 1.8; Goldstein's other side needs α(2 − α) ≤ 1.8α, i.e. α ≥ 0.2.
  const problem = () => linearLeastSquares(30, 4, 3).objective;

  it("backtracks by ρ from lr, then resets to min(γ·α, lr)", async () => {
    const counter = countingObjective(problem());
    const { opt, state } = await run(
      counter.objective,
      { damping: 1e-12, lineSearch: true, learningRate: 4 },
      1,
    );
    // 4 → 3.2 → 2.56 → 2.048 → 1.6384 (the first ≤ 1.8): one value per trial.
    assert.ok(
      Math.abs(state.stepSize - 4 * 0.8 ** 4) < 1e-15,
      `Math.abs(state.stepSize - 4 * 0.8 ** 4) < 1e-15: ${state.stepSize}`,
    );
    assert.equal(counter.counts().value, 5);
    assert.equal(counter.counts().outputJacobian, 1);
    // Step 2 starts at 1.5·1.6384 = 2.4576, then 1.96608, then 1.572864.
    await opt.step(counter.objective);
    assert.ok(Math.abs(state.stepSize - 1.6384 * 1.5 * 0.8 ** 2) < 1e-14, `${state.stepSize}`);
    assert.equal(counter.counts().value, 5 + 3);
  });

  it("keeps the accepted step under the Armijo condition, and 'conservative' restarts from it", async () => {
    const f = problem();
    const { opt, params, state } = await run(
      f,
      { damping: 1e-12, lineSearch: true, learningRate: 4, reset: "conservative" },
      1,
    );
    assert.ok(
      Math.abs(state.stepSize - 1.6384) < 1e-15,
      `Math.abs(state.stepSize - 1.6384) < 1e-15: ${state.stepSize}`,
    );
    const before = Float64Array.from(params);
    const g = f.layout.zeros();
    const f0 = f.valueAndGrad!(before, g) as number;
    await opt.step(f);
    // The trial 1.6384 passes at once: the step is −1.6384·p and f fell by at least c·α·gᵀp.
    assert.ok(
      Math.abs(state.stepSize - 1.6384) < 1e-15,
      `Math.abs(state.stepSize - 1.6384) < 1e-15: ${state.stepSize}`,
    );
    let slope = 0;
    for (let j = 0; j < params.length; j++) slope += (g[j] * (before[j] - params[j])) / 1.6384;
    assert.ok(
      (f.value(params) as number) <= f0 - 0.1 * 1.6384 * slope,
      `(f.value(params) as number) <= f0 - 0.1 * 1.6384 * slope`,
    );
  });

  it("grows a step that decreases too much with reset 'goldstein'", async () => {
    // ρ = 0.04: 4 → 0.16, below Goldstein's 0.2, so it grows to 0.24 (γ = 1.5) and stops there.
    const options = { damping: 1e-12, lineSearch: true, learningRate: 4, backtrackFactor: 0.04 };
    const goldstein = await run(problem(), { ...options, reset: "goldstein" }, 1);
    assert.ok(Math.abs(goldstein.state.stepSize - 0.24) < 1e-15, `${goldstein.state.stepSize}`);
    const armijoOnly = await run(problem(), options, 1);
    assert.ok(
      Math.abs(armijoOnly.state.stepSize - 0.16) < 1e-15,
      `Math.abs(armijoOnly.state.stepSize - 0.16) < 1e-15: ${armijoOnly.state.stepSize}`,
    );
  });

  it("takes the last trial when the rounds run out, as the reference does", async () => {
    const f = problem();
    const f0 = f.value(f.initialParams!()) as number;
    const { params, state } = await run(
      f,
      { damping: 1e-12, lineSearch: true, learningRate: 4, maxBacktracks: 2 },
      1,
    );
    assert.ok(
      Math.abs(state.stepSize - 2.56) < 1e-15,
      `Math.abs(state.stepSize - 2.56) < 1e-15: ${state.stepSize}`,
    );
    assert.ok((f.value(params) as number) > f0, "the unchecked trial 2.56 > 2 overshoots");
  });

  it("treats a non-finite trial value as a violation", async () => {
    const base = problem();
    // NaN wherever θ moved by more than 1.5 Newton steps' worth from the start.
    const start = base.initialParams!();
    const { solution } = linearLeastSquares(30, 4, 3);
    const reach = Math.hypot(...start.map((v, j) => v - solution[j]));
    const guarded: Objective = {
      ...base,
      value: (p) =>
        Math.hypot(...p.map((v, j) => v - start[j])) > 1.5 * reach ? NaN : base.value(p),
    };
    const { state } = await run(
      guarded,
      { damping: 1e-12, lineSearch: true, learningRate: 4, armijo: 1e-3 },
      1,
    );
    // Armijo with c = 1e-3 would accept up to α ≤ 1.998; the NaN region rejects α > 1.5.
    assert.ok(Math.abs(state.stepSize - 4 * 0.8 ** 5) < 1e-15, `${state.stepSize}`);
  });
});

describe("egn adaptive regularization", () => {
  it("follows ρ = actual / predicted decrease: λ·1.01 below 1/4, λ·0.99 above 3/4, else kept", async () => {
    const loss = (z: number) => Math.sqrt(1 + z * z);
    const seen = new Set<string>();
    for (const z0 of [0.3, 0.9, 1.4, 2, 4]) {
      const lambda = 0.05;
      // Closed form: g = ℓ'(z), G = ℓ''(z), p = g/(G + λ), Δ = −p.
      const g = z0 / loss(z0);
      const G = loss(z0) ** -3;
      const delta = -g / (G + lambda);
      const rho = (loss(z0 + delta) - loss(z0)) / (g * delta + 0.5 * G * delta * delta);
      const expected = rho < 0.25 ? lambda * 1.01 : rho > 0.75 ? lambda * 0.99 : lambda;
      seen.add(rho < 0.25 ? "up" : rho > 0.75 ? "down" : "kept");
      const { state, params } = await run(
        pseudoHuber(),
        { damping: lambda, adaptiveDamping: true },
        1,
        Float64Array.of(z0),
      );
      assert.ok(
        Math.abs(params[0] - (z0 + delta)) < 1e-14,
        `Math.abs(params[0] - (z0 + delta)) < 1e-14: ${params[0]}`,
      );
      assert.equal(state.damping, expected, `z0 ${z0}: ρ ${rho}`);
    }
    assert.deepEqual([...seen].sort(), ["down", "kept", "up"]);
  });

  it("lowers λ on a quadratic, where the model is exact (ρ = 1), and raises it after an increase", async () => {
    const { objective } = linearLeastSquares(20, 3, 9);
    const { state } = await run(objective, { damping: 0.3, adaptiveDamping: true }, 3);
    assert.ok(
      Math.abs(state.damping - 0.3 * 0.99 ** 3) < 1e-16,
      `Math.abs(state.damping - 0.3 * 0.99 ** 3) < 1e-16: ${state.damping}`,
    );
    // With a ridge penalty π = 5 the model is exact only if ΔᵀGΔ counts π (else ρ ≈ ½, λ kept).
    const ridged = linearLeastSquares(20, 3, 9, 5).objective;
    const withPenalty = await run(ridged, { damping: 1e-9, adaptiveDamping: true }, 1);
    assert.equal(withPenalty.state.damping, 1e-9 * 0.99);
    // From z = 3 the full step lands at z ≈ −27: the loss rises, ρ < 0.
    const huber = await run(
      pseudoHuber(),
      { damping: 1e-9, adaptiveDamping: true },
      1,
      Float64Array.of(3),
    );
    assert.ok(loss3(huber.params[0]) > loss3(3), `the step to ${huber.params[0]} raises the loss`);
    assert.equal(huber.state.damping, 1e-9 * 1.01);
    function loss3(z: number) {
      return Math.sqrt(1 + z * z);
    }
  });
});

describe("egn momentum", () => {
  it("averages directions with bias correction: p₁, then (β(1 − β)p₁ + (1 − β)p₂)/(1 − β²)", async () => {
    const { objective } = linearLeastSquares(15, 4, 21);
    const beta = 0.6;
    const lambda = 0.2;
    const theta0 = objective.initialParams!();
    const direction = (theta: FloatArray) => {
      const g = objective.layout.zeros();
      objective.valueAndGrad!(theta, g);
      const o = objective.outputJacobian!(theta) as OutputJacobian;
      return denseSolve(denseGaussNewton(o, 4, lambda), g, 4);
    };
    const p1 = direction(theta0);
    const theta1 = theta0.map((v, j) => v - p1[j]);
    const p2 = direction(theta1);
    const theta2 = theta1.map(
      (v, j) => v - (beta * (1 - beta) * p1[j] + (1 - beta) * p2[j]) / (1 - beta * beta),
    );
    const { params } = await run(objective, { damping: lambda, momentum: beta }, 2);
    assert.ok(relativeError(params, theta2) < 1e-13, `${relativeError(params, theta2)}`);
  });
});

describe("egn convergence", () => {
  it("converges quadratically on logistic regression (Newton with λ → 0)", async () => {
    const f = logisticRegression(standardize(loadBreastCancer()), { l2: 1e-3 });
    const { params } = await run(f, { damping: 1e-10 }, 12);
    const norm = await gradientNorm(f, params);
    assert.ok(norm < 1e-12, `gradient norm ${norm}`);
    // With the line search from lr = 1 and λ = 10⁻⁶ it gets there too; the default λ = 1 is a
    // shorter Levenberg-Marquardt step that still lowers the loss at every step.
    const searched = await run(f, { damping: 1e-6, lineSearch: true }, 15);
    const searchedNorm = await gradientNorm(f, searched.params);
    assert.ok(searchedNorm < 1e-10, `line search: gradient norm ${searchedNorm}`);
    const params0 = new ParamSet(f.layout, f.initialParams());
    const opt = new Optimizer(params0, egn());
    let previous = f.value(params0.data);
    for (let k = 0; k < 20; k++) {
      await opt.step(f);
      const current = f.value(params0.data);
      assert.ok(current < previous, `default step ${k}: ${previous} → ${current}`);
      previous = current;
    }
  });

  it("converges quadratically near a zero-residual solution of the tanh regression", async () => {
    const f = nonlinearRegression({ hidden: 3, teacherHidden: 3, seed: 1 });
    const star = f.teacherParams()!;
    const next = seededUniform(5);
    const start = star.map((v) => v + 0.05 * next());
    const params = new ParamSet(f.layout, start);
    const opt = new Optimizer(params, egn({ damping: 1e-12 }));
    const losses = [f.value(params.data)];
    for (let k = 0; k < 6; k++) {
      await opt.step(f);
      losses.push(f.value(params.data));
    }
    assert.ok(losses[6] < 1e-28, losses.join(", "));
    // Quadratic: each loss (a squared error) at most a constant times the previous one squared.
    for (let k = 1; k < 4; k++)
      assert.ok(losses[k] <= 10 * losses[k - 1] ** 2 + 1e-30, losses.join(", "));
  });

  it("drives the over-parameterized tanh regression's loss down by 10⁶ from its random start", async () => {
    for (const seed of [0, 1, 2]) {
      const f = nonlinearRegression({ seed });
      const f0 = f.value(f.initialParams());
      const { params } = await run(
        f,
        { damping: 1, adaptiveDamping: true, dampingIncrease: 2, dampingDecrease: 0.5 },
        100,
      );
      assert.ok(f.value(params) < 1e-6 * f0, `seed ${seed}: ${f0} → ${f.value(params)}`);
      const lineSearch = await run(f, { damping: 1e-4, lineSearch: true }, 100);
      assert.ok(
        f.value(lineSearch.params) < 1e-4 * f0,
        `seed ${seed}: line search ${f.value(lineSearch.params)}`,
      );
    }
  });
});

describe("egn state", () => {
  it("resumes bit-exactly through a checkpoint (momentum and adaptive λ included)", async () => {
    for (const dtype of ["float32", "float64"] as const) {
      const f = nonlinearRegression({ dtype, seed: 6 });
      const options: EgnOptions = {
        momentum: 0.5,
        adaptiveDamping: true,
        lineSearch: true,
        damping: 0.1,
      };
      const straight = new Optimizer(new ParamSet(f.layout, f.initialParams()), egn(options));
      for (let k = 0; k < 7; k++) await straight.step(f);
      const first = new Optimizer(new ParamSet(f.layout, f.initialParams()), egn(options));
      for (let k = 0; k < 3; k++) await first.step(f);
      const bytes = serializeOptimizer(first, { includeParams: true });
      const resumed = new Optimizer(new ParamSet(f.layout), egn(options));
      restoreOptimizer(resumed, bytes, { includeParams: true });
      for (let k = 0; k < 4; k++) await resumed.step(f);
      assert.deepEqual(resumed.params.data, straight.params.data, dtype);
      assert.deepEqual(serializeOptimizer(resumed), serializeOptimizer(straight), dtype);
    }
  });

  it("declares its oracle and asks for one output Jacobian per step", async () => {
    assert.deepEqual(egn().needs, ["outputJacobian"]);
    assert.deepEqual(egn({ lineSearch: true }).needs, ["outputJacobian", "value"]);
    const counter = countingObjective(nonlinearRegression());
    await run(counter.objective, {}, 4);
    assert.deepEqual(counter.counts(), {
      value: 0,
      valueAndGrad: 4,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 4,
      layerStatistics: 0,
    });
  });
});

describe("egn bad input", () => {
  it("names the missing oracle", async () => {
    const f = nonlinearRegression();
    const without: Objective = {
      name: f.name,
      layout: f.layout,
      value: f.value,
      valueAndGrad: f.valueAndGrad,
    };
    const opt = new Optimizer(new ParamSet(f.layout, f.initialParams()), egn());
    await assert.rejects(
      opt.step(without),
      (e: unknown) => e instanceof MissingOracleError && e.oracle === "outputJacobian",
    );
    await assert.rejects(
      opt.update(f.layout.zeros()),
      (e: unknown) => e instanceof MissingOracleError && /opt\.step\(objective\)/.test(e.message),
    );
  });

  /** Runs one step on `objective` and checks that nothing changed when it throws. */
  async function rejectsUnchanged(
    objective: Objective,
    check: (e: unknown) => boolean,
    options: EgnOptions = {},
  ) {
    const start = Float64Array.from({ length: objective.layout.size }, (_, j) => 0.1 * j);
    const params = new ParamSet(objective.layout, start.slice());
    const opt = new Optimizer(params, egn({ momentum: 0.5, ...options }));
    const before = serializeOptimizer(opt);
    await assert.rejects(opt.step(objective), check);
    assert.deepEqual(params.data, start);
    assert.deepEqual(serializeOptimizer(opt), before);
    assert.equal(opt.count, 0);
  }

  const withPieces = (change: (o: OutputJacobian) => OutputJacobian): Objective => {
    const f = nonlinearRegression({ examples: 5 });
    return {
      name: "user-model",
      layout: f.layout,
      value: (p) => f.value(p),
      valueAndGrad: (p, g) => f.valueAndGrad(p, g),
      outputJacobian: (p) => change(f.outputJacobian(p)),
    };
  };

  it("rejects a wrong-shaped Jacobian, output Hessian or penalty with a ShapeMismatchError", async () => {
    const isShape = (field: string) => (e: unknown) =>
      e instanceof ShapeMismatchError && e.message.includes(field);
    await rejectsUnchanged(
      withPieces((o) => ({ ...o, jacobian: o.jacobian.subarray(1) })),
      isShape("jacobian"),
    );
    await rejectsUnchanged(
      withPieces((o) => ({ ...o, examples: 4 })),
      isShape("jacobian"),
    );
    await rejectsUnchanged(
      withPieces((o) => ({ ...o, outputHessian: new Float64Array(5) })),
      isShape("outputHessian"),
    );
    await rejectsUnchanged(
      withPieces((o) => ({ ...o, penalty: new Float64Array(3) })),
      isShape("penalty"),
    );
    await rejectsUnchanged(
      withPieces((o) => ({ ...o, outputs: 0 })),
      (e) => e instanceof InvalidArgumentError && e.parameter === "outputJacobian().outputs",
    );
  });

  it("rejects a non-finite Jacobian or an indefinite output Hessian, changing nothing", async () => {
    await rejectsUnchanged(
      withPieces((o) => {
        const jacobian = o.jacobian.slice();
        jacobian[(2 * jacobian.length) / 5 + 7] = NaN;
        return { ...o, jacobian };
      }),
      (e) =>
        e instanceof RangeError &&
        /not finite/.test(e.message) &&
        /hidden\.weight\[7\] = NaN/.test(e.message),
    );
    await rejectsUnchanged(
      withPieces((o) => {
        const outputHessian = o.outputHessian.slice();
        outputHessian[3 * 4 + 3] = -1;
        return { ...o, outputHessian };
      }),
      (e) =>
        e instanceof RangeError &&
        /example 3 is not a finite positive semidefinite/.test(e.message),
      { lineSearch: true },
    );
  });

  it("rejects bad options, naming them", () => {
    const bad: [EgnOptions, string, unknown][] = [
      [{ learningRate: -1 }, "learningRate", -1],
      [{ damping: 0 }, "damping", 0],
      [{ momentum: 1 }, "momentum", 1],
      [{ armijo: 1 }, "armijo", 1],
      [{ backtrackFactor: 1 }, "backtrackFactor", 1],
      [{ increaseFactor: 0.5 }, "increaseFactor", 0.5],
      [{ reset: "always" as never }, "reset", "always"],
      [{ maxBacktracks: 1.5 }, "maxBacktracks", 1.5],
      [{ lineSearch: 1 as never }, "lineSearch", 1],
      [{ dampingIncrease: 0.9 }, "dampingIncrease", 0.9],
      [{ dampingDecrease: 1.1 }, "dampingDecrease", 1.1],
      [{ ratioLow: 0.5, ratioHigh: 0.4 }, "ratioHigh", 0.4],
      [{ solveSpace: "samples" as never }, "solveSpace", "samples"],
      [{ lambda: 1 } as never, "lambda", 1],
    ];
    for (const [options, parameter, value] of bad) {
      assertInvalidArgument(() => egn(options), parameter, value);
    }
  });
});
