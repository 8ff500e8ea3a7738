/**
 * The benchmark problems: each names an objective, where to start, how many steps a default run
 * takes, the loss that counts as "solved", and the learning rate each optimizer runs with.
 *
 * Problems that need data or jax-js are loaded with a dynamic `import()` inside their factory, so
 * the registry (and with it `descend --help`) works even where such a module fails to load; the
 * failure is then reported for each run of that problem instead.
 */
import type { OptimizerEntry } from "../optim/catalog.js";
import type { Awaitable, Objective } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import { illConditionedQuadratic } from "../oracles/problems/quadratic.js";
import { rosenbrock } from "../oracles/problems/rosenbrock.js";
import type { Dataset } from "../data/dataset.js";

/** A problem made ready for one run. */
export interface ProblemInstance {
  /** The function to minimize. */
  readonly objective: Objective;
  /** The starting point (a fresh buffer in the objective's layout, owned by the run). */
  readonly initial: FloatArray;
  /** Fraction of correctly classified examples at `params` (classification problems). */
  accuracy?(params: FloatArray): Awaitable<number>;
  /** Frees resources the objective holds (e.g. jax-js arrays), called once the run is over. */
  dispose?(): void;
}

/** What a problem's factory receives. */
export interface ProblemOptions {
  /** Seed of every random choice the problem makes (initial weights, minibatches). */
  readonly seed: number;
}

/** Whether a problem is a classification task (the table then reports accuracy). */
export type ProblemKind = "function" | "classification";

/** One benchmark problem. */
export interface BenchProblem {
  /** Identifier used on the command line, e.g. `"rosenbrock"`. */
  readonly name: string;
  /** One line for `--help` and the report. */
  readonly description: string;
  /** Kind of task. */
  readonly kind: ProblemKind;
  /** Steps of a default run, chosen so the default benchmark stays short. */
  readonly defaultSteps: number;
  /** A run "reaches the target" at the first step whose loss is at most this. */
  readonly targetLoss: number;
  /**
   * The minimum (or infimum) of the loss, when known. Reports plot the distance to it when it
   * is not 0, and methods such as Polyak step sizes use it.
   */
  readonly optimalValue?: number;
  /**
   * Learning rates tuned for this problem, keyed by optimizer name; optimizers not listed run
   * with their catalog `defaultLearningRate`. Tuned on a half-decade grid (1e-6, 3e-6, …, 1, 3)
   * at the default step count and seed 0, keeping the rate with the lowest loss over the last
   * fifth of the run.
   */
  readonly learningRates: Readonly<Record<string, number>>;
  /** Builds a fresh objective and starting point. */
  create(options: ProblemOptions): Promise<ProblemInstance>;
}

/** Where a run's learning rate came from. */
export type LearningRateSource = "override" | "tuned" | "default";

/** A learning rate and its origin. */
export interface ResolvedLearningRate {
  /** The learning rate. */
  readonly learningRate: number;
  /** Whether it was given explicitly, tuned for the problem, or the catalog default. */
  readonly source: LearningRateSource;
}

/**
 * The learning rate `optimizer` runs with on `problem`: `override` when given, else the
 * problem's tuned value, else the optimizer's catalog default.
 */
export function learningRateFor(
  problem: BenchProblem,
  optimizer: OptimizerEntry,
  override?: number,
): ResolvedLearningRate {
  if (override !== undefined) return { learningRate: override, source: "override" };
  const tuned = Object.hasOwn(problem.learningRates, optimizer.name)
    ? problem.learningRates[optimizer.name]
    : undefined;
  if (tuned !== undefined) return { learningRate: tuned, source: "tuned" };
  return { learningRate: optimizer.defaultLearningRate, source: "default" };
}

/** Hooks a classification objective may offer beyond the {@link Objective} interface. */
interface ObjectiveExtras {
  accuracy?: (params: FloatArray) => Awaitable<number>;
  dispose?: () => void;
}

/**
 * Wraps an objective into an instance, picking up its optional accuracy and dispose hooks.
 * `optimalValue` is declared on objectives that lack one (methods such as Polyak step sizes
 * need f*); the objective is a fresh one made for this run, so nothing else sees the change.
 */
function instanceOf(objective: Objective, optimalValue?: number): ProblemInstance {
  const extras = objective as Objective & ObjectiveExtras;
  if (typeof objective.initialParams !== "function") {
    throw new TypeError(`objective "${objective.name}" has no initialParams()`);
  }
  if (optimalValue !== undefined && objective.optimalValue === undefined) {
    Object.defineProperty(objective, "optimalValue", { value: optimalValue, enumerable: true });
  }
  const instance: {
    objective: Objective;
    initial: FloatArray;
    accuracy?: (params: FloatArray) => Awaitable<number>;
    dispose?: () => void;
  } = { objective, initial: objective.initialParams() };
  if (typeof extras.accuracy === "function") {
    const accuracy = extras.accuracy;
    instance.accuracy = (params) => accuracy.call(objective, params);
  }
  if (typeof extras.dispose === "function") {
    const dispose = extras.dispose;
    instance.dispose = () => dispose.call(objective);
  }
  return instance;
}

/**
 * f* of softmax regression on the digits with L2 penalty 1e-3: the loss at a point whose
 * gradient norm is 3e-15 (Adam run to convergence). The penalty makes f 1e-3-strongly convex,
 * so f − f* ≤ ‖∇f‖² / (2·1e-3) ≈ 1e-26 there.
 */
const SOFTMAX_DIGITS_OPTIMUM = 0.2618645472171728;

let digits: Promise<Dataset> | undefined;

/** The digits data set, read once per process (every run of both digits problems shares it). */
function digitsDataset(): Promise<Dataset> {
  if (!digits) {
    const loading = import("../data/digits.js").then((m) => m.loadDigits());
    // A failed load is not kept, so a later run retries and reports its own error.
    loading.catch(() => {
      if (digits === loading) digits = undefined;
    });
    digits = loading;
  }
  return digits;
}

/** Every benchmark problem, in table order. */
export const problems: readonly BenchProblem[] = [
  {
    name: "rosenbrock",
    description: "Rosenbrock's banana valley, 2-D, from (-1.2, 1); minimum 0",
    kind: "function",
    defaultSteps: 2000,
    targetLoss: 1e-4,
    optimalValue: 0,
    learningRates: {
      sgd: 1e-3,
      momentum: 3e-3,
      nesterov: 1e-3,
      adam: 0.1,
      adamw: 0.1,
      amsgrad: 0.3,
      nadam: 0.03,
      radam: 3e-3,
      adagrad: 1,
      "adagrad-norm": 3,
      rmsprop: 3e-3,
      lion: 3e-3,
      ademamix: 0.3,
      lamb: 0.03,
      lars: 1,
      diffgrad: 0.3,
      "random-scaling": 3e-5,
      aegd: 1e-3,
      polyak: 0.1,
    },
    create: async () => instanceOf(rosenbrock()),
  },
  {
    name: "quadratic",
    description: "diagonal quadratic, dimension 100, condition number 1000; minimum 0",
    kind: "function",
    defaultSteps: 1000,
    targetLoss: 1e-4,
    optimalValue: 0,
    // Every coordinate starts at distance 1 from the minimum and sign-like first steps move all
    // of them by the learning rate, so rates with an integer reciprocal (0.1, 0.01) land exactly
    // on the minimum; the rates below avoid that coincidence. SGD runs at 1.9 = 0.95·2/λ_max.
    learningRates: {
      sgd: 1.9,
      momentum: 3,
      nesterov: 1,
      adam: 0.03,
      adamw: 0.03,
      amsgrad: 0.03,
      nadam: 0.03,
      radam: 0.3,
      adagrad: 0.3,
      "adagrad-norm": 3,
      rmsprop: 3e-3,
      lion: 3e-3,
      ademamix: 0.3,
      lamb: 0.01,
      lars: 1,
      diffgrad: 0.03,
      "random-scaling": 3e-3,
      aegd: 3,
      polyak: 3,
    },
    create: async () =>
      instanceOf(illConditionedQuadratic({ dimension: 100, conditionNumber: 1000 })),
  },
  {
    name: "softmax-digits",
    description: "softmax regression, L2 penalty 1e-3, on the UCI digits; minimum ≈ 0.2619",
    kind: "classification",
    defaultSteps: 300,
    // Without a penalty the digits are separable and the loss only approaches 0 as the weights
    // grow; with it the problem is strongly convex, and the target is f* + 0.0031.
    targetLoss: 0.265,
    optimalValue: SOFTMAX_DIGITS_OPTIMUM,
    learningRates: {
      sgd: 3,
      momentum: 3,
      nesterov: 1,
      adam: 0.1,
      adamw: 0.1,
      amsgrad: 0.1,
      nadam: 0.03,
      radam: 0.3,
      adagrad: 0.3,
      "adagrad-norm": 3,
      rmsprop: 0.01,
      lion: 0.03,
      ademamix: 0.1,
      lamb: 0.03,
      lars: 3,
      diffgrad: 1,
      "random-scaling": 0.01,
      aegd: 3,
      polyak: 3,
    },
    create: async () => {
      const [data, { softmaxRegression }] = await Promise.all([
        digitsDataset(),
        import("../oracles/problems/softmax.js"),
      ]);
      return instanceOf(softmaxRegression(data, { l2: 1e-3 }), SOFTMAX_DIGITS_OPTIMUM);
    },
  },
  {
    name: "mlp-digits",
    description: "jax-js perceptron 64 → 32 (tanh) → 10 on the UCI digits, full batch",
    kind: "classification",
    defaultSteps: 200,
    targetLoss: 0.1,
    optimalValue: 0,
    learningRates: {
      sgd: 1,
      momentum: 1,
      nesterov: 1,
      adam: 0.1,
      adamw: 0.1,
      amsgrad: 0.1,
      nadam: 0.1,
      radam: 3,
      adagrad: 0.1,
      "adagrad-norm": 3,
      rmsprop: 0.03,
      lion: 0.03,
      ademamix: 0.1,
      lamb: 0.03,
      lars: 3,
      diffgrad: 0.1,
      "random-scaling": 0.1,
      aegd: 1,
      polyak: 3,
    },
    create: async ({ seed }) => {
      const { digitsMlp } = await import("../oracles/problems/digitsMlp.js");
      // Cross-entropy is non-negative and the network can fit every training image, so the
      // infimum is 0.
      return instanceOf(await digitsMlp({ seed, hidden: 32 }), 0);
    },
  },
];

/** The problem called `name` in `registry`, or undefined. */
export function findProblem(
  name: string,
  registry: readonly BenchProblem[] = problems,
): BenchProblem | undefined {
  return registry.find((p) => p.name === name);
}
