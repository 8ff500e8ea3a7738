// Small problems for runner tests: a seeded one, one whose gradient throws, one whose factory
// fails, one without a gradient.
import type { BenchProblem } from "../../src/bench/problems.js";
import type { Objective } from "../../src/oracles/objective.js";
import { Layout } from "../../src/params/layout.js";
import { seededUniform } from "../helpers/inputs.js";

/** f(x) = ½‖x − c‖² in 3-D, starting at a point drawn from the seed. */
export const seededBowl: BenchProblem = {
  name: "seeded-bowl",
  description: "a round bowl with a seeded start",
  kind: "function",
  defaultSteps: 5,
  targetLoss: 1e-3,
  learningRates: {},
  async create({ seed }) {
    const layout = new Layout([{ name: "x", shape: [3] }], "float64");
    const objective: Objective = {
      name: "seeded-bowl",
      layout,
      value: (x) => 0.5 * (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]),
      valueAndGrad(x, g) {
        g.set(x);
        return 0.5 * (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
      },
    };
    const next = seededUniform(seed);
    const initial = layout.zeros().map(() => next());
    return { objective, initial };
  },
};

/** A bowl whose gradient throws from the third evaluation on. */
export const brokenGradient: BenchProblem = {
  name: "broken-gradient",
  description: "throws after two gradients",
  kind: "function",
  defaultSteps: 10,
  targetLoss: 0,
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
  learningRates: {},
  create: () => Promise.reject(new Error("Cannot find module 'missing-model'")),
};

/** A black-box problem: only values, no gradient. */
export const valueOnly: BenchProblem = {
  name: "value-only",
  description: "no gradient oracle",
  kind: "function",
  defaultSteps: 10,
  targetLoss: 0,
  learningRates: {},
  async create() {
    const layout = new Layout([{ name: "x", shape: [1] }], "float64");
    return {
      objective: { name: "value-only", layout, value: (x) => x[0] * x[0] },
      initial: Float64Array.of(1),
    };
  },
};

/** A classification-like bowl that reports accuracy 1 − f (clamped to [0, 1]). */
export const scoredBowl: BenchProblem = {
  name: "scored-bowl",
  description: "a bowl with an accuracy hook",
  kind: "classification",
  defaultSteps: 5,
  targetLoss: 1e-3,
  learningRates: {},
  async create(options) {
    const base = await seededBowl.create(options);
    const loss = (x: ArrayLike<number>) => 0.5 * (x[0] * x[0] + x[1] * x[1] + x[2] * x[2]);
    return { ...base, accuracy: (x) => Math.max(0, Math.min(1, 1 - loss(x))) };
  },
};
