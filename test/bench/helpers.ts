// Small problems and optimizers for runner tests: a seeded bowl, a minibatched bowl, one whose
// gradient throws, one whose factory fails, one without a gradient, and catalog entries that
// call curvature and zeroth-order oracles.
import type { BenchProblem } from "../../src/bench/problems.js";
import type { OptimizerEntry } from "../../src/optim/catalog.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { Layout } from "../../src/params/layout.js";
import { seededUniform } from "../helpers/inputs.js";

const ALL_FIRST_ORDER = ["value", "valueAndGrad"] as const;

function half(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return 0.5 * s;
}

/** f(x) = ½‖x‖² in 3-D, starting at a point drawn from the seed. */
export const seededBowl: BenchProblem = {
  name: "seeded-bowl",
  description: "a round bowl with a seeded start",
  kind: "function",
  defaultSteps: 5,
  targetLoss: 1e-3,
  optimalValue: 0,
  seeded: true,
  oracles: ALL_FIRST_ORDER,
  learningRates: {},
  async create({ seed }) {
    const layout = new Layout([{ name: "x", shape: [3] }], "float64");
    const objective: Objective = {
      name: "seeded-bowl",
      layout,
      value: (x) => half(x),
      valueAndGrad(x, g) {
        g.set(x);
        return half(x);
      },
    };
    const next = seededUniform(seed);
    const initial = layout.zeros().map(() => next());
    return { objective, initial };
  },
};

/** f(x) = ½x² in 1-D from x = 1: SGD with rate η multiplies x by 1 − η per step. */
export const lineBowl: BenchProblem = {
  name: "line-bowl",
  description: "½x² from 1",
  kind: "function",
  defaultSteps: 200,
  targetLoss: 1e-6,
  optimalValue: 0,
  seeded: false,
  oracles: ALL_FIRST_ORDER,
  learningRates: { sgd: 1 },
  async create() {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    const objective: Objective = {
      name: "line-bowl",
      layout,
      value: (x) => 0.5 * x[0] * x[0],
      valueAndGrad(x, g) {
        g[0] = x[0];
        return 0.5 * x[0] * x[0];
      },
    };
    return { objective, initial: Float64Array.of(1) };
  },
};

/** Batch indices a {@link batchedBowl} instance was asked for, per seed, in order. */
export const batchLog: { seed: number; step: number }[] = [];

/**
 * A minibatched bowl: on batch b the loss is ½(x − c_b)² with c_b drawn from (seed, b), so the
 * seed decides the minibatch order. Every setBatch call is logged in {@link batchLog}.
 */
export const batchedBowl: BenchProblem = {
  name: "batched-bowl",
  description: "a bowl whose centre moves with the minibatch",
  kind: "function",
  defaultSteps: 6,
  seeded: true,
  oracles: ALL_FIRST_ORDER,
  learningRates: {},
  async create({ seed }) {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    let centre = 0;
    const objective: Objective = {
      name: "batched-bowl",
      layout,
      value: (x) => 0.5 * (x[0] - centre) ** 2,
      valueAndGrad(x, g) {
        g[0] = x[0] - centre;
        return 0.5 * (x[0] - centre) ** 2;
      },
    };
    return {
      objective,
      initial: Float64Array.of(0),
      setBatch(step) {
        batchLog.push({ seed, step });
        const draw = seededUniform(1000 * seed + step);
        centre = draw();
      },
    };
  },
};

/** A bowl whose gradient throws from the third evaluation on. */
export const brokenGradient: BenchProblem = {
  name: "broken-gradient",
  description: "throws after two gradients",
  kind: "function",
  defaultSteps: 10,
  targetLoss: 0,
  seeded: false,
  oracles: ALL_FIRST_ORDER,
  learningRates: {},
  async create() {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    let calls = 0;
    const objective: Objective = {
      name: "broken-gradient",
      layout,
      value: (x) => x[0] * x[0],
      valueAndGrad(x, g) {
        if (++calls > 2) throw new Error("model exploded <boom>");
        g[0] = 2 * x[0];
        return x[0] * x[0];
      },
    };
    return { objective, initial: Float64Array.of(1) };
  },
};

/** A problem whose module cannot be loaded. */
export const unloadable: BenchProblem = {
  name: "unloadable",
  description: "its factory rejects",
  kind: "classification",
  defaultSteps: 10,
  targetLoss: 0,
  seeded: false,
  oracles: ALL_FIRST_ORDER,
  learningRates: {},
  create: () => Promise.reject(new Error("Cannot find module 'missing-model'")),
};

/** A black-box problem: only values, no gradient; it says so. */
export const valueOnly: BenchProblem = {
  name: "value-only",
  description: "no gradient oracle",
  kind: "function",
  defaultSteps: 10,
  targetLoss: 0,
  seeded: false,
  oracles: ["value"],
  learningRates: {},
  async create() {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    return {
      objective: { name: "value-only", layout, value: (x) => x[0] * x[0] },
      initial: Float64Array.of(1),
    };
  },
};

/** The same black box, claiming a gradient it does not have (caught when the run starts). */
export const valueOnlyUndeclared: BenchProblem = {
  ...valueOnly,
  name: "value-only-undeclared",
  oracles: ALL_FIRST_ORDER,
};

/** A classification-like bowl that reports accuracy 1 − f (clamped to [0, 1]). */
export const scoredBowl: BenchProblem = {
  name: "scored-bowl",
  description: "a bowl with an accuracy hook",
  kind: "classification",
  defaultSteps: 5,
  targetLoss: 1e-3,
  seeded: false,
  oracles: ALL_FIRST_ORDER,
  learningRates: {},
  async create(options) {
    const base = await seededBowl.create(options);
    return { ...base, accuracy: (x) => Math.max(0, Math.min(1, 1 - half(x))) };
  },
};

/** A bowl that also offers Hessian-vector products (H = I). */
export const curvedBowl: BenchProblem = {
  ...seededBowl,
  name: "curved-bowl",
  oracles: ["value", "valueAndGrad", "hvp"],
  async create(options) {
    const base = await seededBowl.create(options);
    return {
      ...base,
      objective: { ...base.objective, hvp: (_x, v, out) => out.set(v) },
    };
  },
};

/** Gradient descent that also asks for one Hessian-vector product per step (and ignores it). */
export const hvpDescent: OptimizerEntry = {
  name: "hvp-descent",
  title: "descent with an HVP per step",
  paper: "none",
  reference: "none",
  oracle: "valueAndGrad",
  family: "curvature",
  defaultLearningRate: 0.1,
  create: ({ learningRate }): GradientTransform => ({
    name: "hvpDescent",
    needs: ["hvp"],
    init: () => ({ count: 0 }),
    async update(u, state, ctx) {
      const out = new Float64Array(u.length);
      await ctx.objective!.hvp!(ctx.params, u, out);
      for (let i = 0; i < u.length; i++) u[i] *= -(learningRate as number);
      state.count = (state.count as number) + 1;
    },
  }),
};

/**
 * A two-point zeroth-order method: per step two values at θ ± μe₀ estimate the first partial
 * derivative, and the step moves that coordinate.
 */
export const twoPoint: OptimizerEntry = {
  name: "two-point",
  title: "two-point estimate",
  paper: "none",
  reference: "none",
  oracle: "value",
  family: "zeroth-order",
  defaultLearningRate: 0.1,
  create: ({ learningRate }): GradientTransform => ({
    name: "twoPoint",
    init: () => ({ count: 0 }),
    async update(u, state, ctx) {
      const mu = 1e-3;
      const probe = Float64Array.from(ctx.params);
      probe[0] += mu;
      const plus = await ctx.objective!.value(probe);
      probe[0] -= 2 * mu;
      const minus = await ctx.objective!.value(probe);
      u.fill(0);
      u[0] = (-(learningRate as number) * (plus - minus)) / (2 * mu);
      state.count = (state.count as number) + 1;
    },
  }),
};
