/**
 * The benchmark problems: each names an objective, where to start, how many steps a run takes,
 * the loss that counts as "solved", the oracles it offers and the learning rate each optimizer's
 * sweep is centred on.
 *
 * Problems that need data, jax-js or another module are loaded with a dynamic `import()` inside
 * their factory, so the registry (and with it `descend --help`) works even where such a module
 * fails to load; the failure is then reported for each run of that problem instead.
 */
import type { OptimizerEntry } from "../optim/catalog.js";
import type { Awaitable, Objective, OracleName } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import type { Dataset } from "../data/dataset.js";
import { MLP_DIGITS_LEARNING_RATES } from "./learningRates.js";

/** A problem made ready for one run. */
export interface ProblemInstance {
  /** The function to minimize. */
  readonly objective: Objective;
  /** The starting point (a fresh buffer in the objective's layout, owned by the run). */
  readonly initial: FloatArray;
  /** Fraction of correctly classified examples at `params` (classification problems). */
  accuracy?(params: FloatArray): Awaitable<number>;
  /** Loss on held-out data at `params` (problems with a validation split). */
  validationLoss?(params: FloatArray): Awaitable<number>;
  /**
   * Makes the mini-batch of step `step` current (stochastic problems); the runner calls it before
   * every step and before the final evaluation.
   */
  setBatch?(step: number): void;
  /** Frees resources the objective holds (e.g. jax-js arrays), called once the run is over. */
  dispose?(): void;
}

/** What a problem's factory receives. */
export interface ProblemOptions {
  /** Seed of every random choice the problem makes (initial weights, data, minibatches). */
  readonly seed: number;
}

/** Whether a problem is a classification task (the table then reports accuracy). */
export type ProblemKind = "function" | "classification";

/** Names of the benchmark suites. */
export type SuiteName = "quick" | "standard" | "full";

/** One benchmark problem. */
export interface BenchProblem {
  /** Identifier used on the command line, e.g. `"rosenbrock"`. */
  readonly name: string;
  /** One line for `--help` and the report. */
  readonly description: string;
  /** Kind of task. */
  readonly kind: ProblemKind;
  /** Steps of a run in the standard suite (and whenever no suite says otherwise). */
  readonly defaultSteps: number;
  /** Steps of a run in other suites, where they differ from `defaultSteps`. */
  readonly suiteSteps?: Readonly<Partial<Record<SuiteName, number>>>;
  /**
   * A run "reaches the target" at the first step whose loss is at most this; absent when no
   * meaningful target is known (a user's own data).
   */
  readonly targetLoss?: number;
  /**
   * The minimum (or infimum) of the loss, when known. Reports plot the distance to it when it
   * is not 0, and methods such as Polyak step sizes use it.
   */
  readonly optimalValue?: number;
  /**
   * Whether the seed changes the problem (a random start, random data or the minibatch order).
   * Runs of a problem that ignores the seed with an optimizer that takes none are identical, so
   * they are run for one seed only.
   */
  readonly seeded: boolean;
  /** The oracles its objective provides; optimizers needing another are refused up front. */
  readonly oracles: readonly OracleName[];
  /**
   * Learning rates tuned for this problem, keyed by optimizer name: the centre of each
   * optimizer's sweep. Optimizers not listed are centred on their catalog `defaultLearningRate`.
   * Tuned on a half-decade grid (…, 0.01, 0.03, 0.1, 0.3, 1, 3, …) at the default step count,
   * keeping the rate with the lowest mean loss over the last tenth of the run.
   */
  readonly learningRates: Readonly<Record<string, number>>;
  /** Builds a fresh objective and starting point. */
  create(options: ProblemOptions): Promise<ProblemInstance>;
}

/** Where a sweep's centre learning rate came from. */
export type LearningRateSource = "override" | "tuned" | "default";

/** A learning rate and its origin. */
export interface ResolvedLearningRate {
  /** The learning rate. */
  readonly learningRate: number;
  /** Whether it was given explicitly, tuned for the problem, or the catalog default. */
  readonly source: LearningRateSource;
}

/**
 * The learning rate `optimizer`'s sweep on `problem` is centred on: `override` when given, else
 * the problem's tuned value, else the optimizer's catalog default.
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

/** Steps of a run of `problem` in `suite`. */
export function stepsFor(problem: BenchProblem, suite: SuiteName | null): number {
  return (suite !== null ? problem.suiteSteps?.[suite] : undefined) ?? problem.defaultSteps;
}

/** Hooks an objective may offer beyond the {@link Objective} interface. */
interface ObjectiveExtras {
  accuracy?: (params: FloatArray) => Awaitable<number>;
  validationLoss?: (params: FloatArray) => Awaitable<number>;
  setBatch?: (step: number) => void;
  dispose?: () => void;
}

/** Options of {@link instanceOf}. */
export interface InstanceOptions {
  /** f* to declare on an objective that lacks one (Polyak step sizes need it). */
  readonly optimalValue?: number;
  /** Whether the objective's `setBatch` selects minibatches (default: when it has one). */
  readonly minibatches?: boolean;
}

/**
 * Wraps an objective into an instance, picking up its optional accuracy, validation, minibatch
 * and dispose hooks. `optimalValue` is declared on objectives that lack one; the objective is a
 * fresh one made for this run, so nothing else sees the change.
 */
export function instanceOf(objective: Objective, options: InstanceOptions = {}): ProblemInstance {
  const extras = objective as Objective & ObjectiveExtras;
  if (typeof objective.initialParams !== "function") {
    throw new TypeError(`objective "${objective.name}" has no initialParams()`);
  }
  const { optimalValue } = options;
  if (optimalValue !== undefined && objective.optimalValue === undefined) {
    Object.defineProperty(objective, "optimalValue", { value: optimalValue, enumerable: true });
  }
  const instance: {
    -readonly [K in keyof ProblemInstance]: ProblemInstance[K];
  } = { objective, initial: objective.initialParams() };
  const { accuracy, validationLoss, setBatch, dispose } = extras;
  if (typeof accuracy === "function") {
    instance.accuracy = (params) => accuracy.call(objective, params);
  }
  if (typeof validationLoss === "function") {
    instance.validationLoss = (params) => validationLoss.call(objective, params);
  }
  if (typeof setBatch === "function" && (options.minibatches ?? true)) {
    instance.setBatch = (step) => setBatch.call(objective, step);
  }
  if (typeof dispose === "function") {
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

/**
 * f* of logistic regression on the standardized breast-cancer data with L2 penalty 1e-3: the
 * loss after 30 Newton steps (Hessian assembled from the closed-form Hessian-vector products),
 * where the gradient norm is 1e-17, so f − f* ≤ ‖∇f‖² / (2·1e-3) ≈ 1e-31.
 */
const LOGISTIC_CANCER_OPTIMUM = 0.059827937271089475;

/** L2 penalty of the linear classification problems (it makes them strongly convex). */
export const LINEAR_L2 = 1e-3;

/** Memoizes a loader; a failed load is forgotten, so a later run retries and reports its own error. */
function once<T>(load: () => Promise<T>): () => Promise<T> {
  let pending: Promise<T> | undefined;
  return () => {
    if (!pending) {
      const loading = load();
      loading.catch(() => {
        if (pending === loading) pending = undefined;
      });
      pending = loading;
    }
    return pending;
  };
}

/** The digits data set, read once per process (every run of both digits problems shares it). */
const digitsDataset = once<Dataset>(() => import("../data/digits.js").then((m) => m.loadDigits()));

/** The standardized breast-cancer data set, read once per process. */
const cancerDataset = once<Dataset>(async () => {
  const [{ loadBreastCancer }, { standardize }] = await Promise.all([
    import("../data/breastCancer.js"),
    import("../data/dataset.js"),
  ]);
  return standardize(loadBreastCancer());
});

/**
 * Learning rates of the first-order optimizers on a standardized, L2-penalized linear
 * classifier (the breast-cancer data); also the centres for a user's own data.
 */
export const LINEAR_CLASSIFIER_RATES: Readonly<Record<string, number>> = {
  sgd: 10,
  momentum: 3,
  nesterov: 3,
  adam: 1,
  adamw: 1,
  amsgrad: 1,
  nadam: 0.1,
  radam: 3,
  adagrad: 1,
  "adagrad-norm": 10,
  rmsprop: 0.03,
  lion: 0.1,
  ademamix: 1,
  lamb: 0.03,
  lars: 3,
  diffgrad: 3,
  "random-scaling": 1e-3,
  aegd: 10,
  polyak: 3,
};

const CLOSED_FORM_ORACLES: readonly OracleName[] = ["value", "valueAndGrad", "hvp"];
/** The jax-js classifiers give their logits, hence labels sampled from their predictions. */
const JAX_CLASSIFIER_ORACLES: readonly OracleName[] = [
  "value",
  "valueAndGrad",
  "hvp",
  "jvp",
  "sampledLabelGrad",
];

/** Shape of the character-level transformer the benchmark trains (28,576 parameters). */
export const TRANSFORMER_CONFIG = {
  layers: 2,
  dModel: 32,
  heads: 2,
  context: 32,
  batchSize: 16,
} as const;

/** Every benchmark problem, in table order. */
export const problems: readonly BenchProblem[] = [
  {
    name: "rosenbrock",
    description: "Rosenbrock's banana valley, 2-D, from (-1.2, 1); minimum 0",
    kind: "function",
    defaultSteps: 2000,
    targetLoss: 1e-4,
    optimalValue: 0,
    seeded: false,
    oracles: CLOSED_FORM_ORACLES,
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
    create: async () => {
      const { rosenbrock } = await import("../oracles/problems/rosenbrock.js");
      return instanceOf(rosenbrock());
    },
  },
  {
    name: "rosenbrock-100d",
    description: "chained Rosenbrock function, 100-D, from (-1.2, 1, -1.2, 1, …); minimum 0",
    kind: "function",
    defaultSteps: 3000,
    suiteSteps: { quick: 1000 },
    targetLoss: 1e-2,
    optimalValue: 0,
    seeded: false,
    oracles: CLOSED_FORM_ORACLES,
    learningRates: {
      sgd: 1e-3,
      momentum: 1e-3,
      nesterov: 3e-4,
      adam: 0.3,
      adamw: 0.3,
      amsgrad: 0.3,
      nadam: 0.06,
      radam: 1e-3,
      adagrad: 1,
      "adagrad-norm": 100,
      rmsprop: 0.01,
      lion: 0.01,
      ademamix: 0.3,
      lamb: 0.01,
      lars: 1,
      diffgrad: 0.3,
      "random-scaling": 1e-5,
      aegd: 1e-3,
      polyak: 1e-3,
    },
    create: async () => {
      const { rosenbrock } = await import("../oracles/problems/rosenbrock.js");
      return instanceOf(rosenbrock({ dimension: 100 }));
    },
  },
  {
    name: "rastrigin",
    description:
      "Rastrigin's function, 10-D, a bowl covered in local minima, from a few basins out; minimum 0",
    kind: "function",
    defaultSteps: 1000,
    suiteSteps: { quick: 500 },
    targetLoss: 1,
    optimalValue: 0,
    seeded: false,
    oracles: CLOSED_FORM_ORACLES,
    learningRates: {
      sgd: 3e-3,
      momentum: 3e-3,
      nesterov: 3e-3,
      adam: 3e-3,
      adamw: 0.1,
      amsgrad: 3e-3,
      nadam: 2e-3,
      radam: 0.01,
      adagrad: 3,
      "adagrad-norm": 10,
      rmsprop: 0.3,
      lion: 1e-3,
      ademamix: 1,
      lamb: 0.1,
      lars: 30,
      diffgrad: 1,
      "random-scaling": 9e-5,
      aegd: 0.1,
      polyak: 0.03,
    },
    create: async () => {
      const { rastrigin } = await import("../oracles/problems/rastrigin.js");
      return instanceOf(rastrigin({ dimension: 10 }));
    },
  },
  {
    name: "quadratic",
    description: "diagonal quadratic, dimension 100, condition number 1000; minimum 0",
    kind: "function",
    defaultSteps: 1000,
    targetLoss: 1e-4,
    optimalValue: 0,
    seeded: false,
    oracles: CLOSED_FORM_ORACLES,
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
    create: async () => {
      const { illConditionedQuadratic } = await import("../oracles/problems/quadratic.js");
      return instanceOf(illConditionedQuadratic({ dimension: 100, conditionNumber: 1000 }));
    },
  },
  {
    name: "matrix-sensing",
    description:
      "rank-2 matrix sensing, 20 × 20 factor from a small random start, 200 random measurements; minimum 0",
    kind: "function",
    defaultSteps: 1000,
    suiteSteps: { quick: 500 },
    targetLoss: 1e-4,
    optimalValue: 0,
    seeded: true,
    oracles: CLOSED_FORM_ORACLES,
    learningRates: {
      sgd: 0.3,
      momentum: 1,
      nesterov: 0.3,
      adam: 0.01,
      adamw: 0.01,
      amsgrad: 0.03,
      nadam: 7e-4,
      radam: 0.01,
      adagrad: 0.03,
      "adagrad-norm": 0.3,
      rmsprop: 3e-4,
      lion: 3e-4,
      ademamix: 0.01,
      lamb: 0.01,
      lars: 1,
      diffgrad: 0.1,
      "random-scaling": 9e-3,
      aegd: 0.3,
      polyak: 1,
    },
    create: async ({ seed }) => {
      const { matrixSensing } = await import("../oracles/problems/matrixSensing.js");
      return instanceOf(matrixSensing({ seed }));
    },
  },
  {
    name: "logistic-cancer",
    description:
      "logistic regression, L2 penalty 1e-3, on the standardized breast-cancer data; minimum ≈ 0.05983",
    kind: "classification",
    defaultSteps: 300,
    targetLoss: 0.063,
    optimalValue: LOGISTIC_CANCER_OPTIMUM,
    seeded: false,
    oracles: CLOSED_FORM_ORACLES,
    learningRates: LINEAR_CLASSIFIER_RATES,
    create: async () => {
      const [data, { logisticRegression }] = await Promise.all([
        cancerDataset(),
        import("../oracles/problems/logistic.js"),
      ]);
      return instanceOf(logisticRegression(data, { l2: LINEAR_L2 }), {
        optimalValue: LOGISTIC_CANCER_OPTIMUM,
      });
    },
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
    seeded: false,
    oracles: CLOSED_FORM_ORACLES,
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
      return instanceOf(softmaxRegression(data, { l2: LINEAR_L2 }), {
        optimalValue: SOFTMAX_DIGITS_OPTIMUM,
      });
    },
  },
  {
    name: "mlp-digits",
    description: "jax-js perceptron 64 → 32 (tanh) → 10 on the UCI digits, full batch",
    kind: "classification",
    defaultSteps: 200,
    targetLoss: 0.1,
    optimalValue: 0,
    seeded: true,
    oracles: [...JAX_CLASSIFIER_ORACLES, "layerStatistics"],
    learningRates: MLP_DIGITS_LEARNING_RATES,
    create: async ({ seed }) => {
      const [data, { mlpClassifier }, { denseNetwork, withLayerStatistics }] = await Promise.all([
        digitsDataset(),
        import("../oracles/problems/mlp.js"),
        import("../oracles/denseLayers.js"),
      ]);
      // The same network built by the dense-layer helper gives K-FAC and MKOR their layer
      // statistics (same weights, same loss).
      const model = withLayerStatistics(
        await mlpClassifier(data, { seed, hidden: 32 }),
        await denseNetwork({ sizes: [64, 32, 10], data, seed }),
      );
      // Cross-entropy is non-negative and the network can fit every training image, so the
      // infimum is 0. Full batch: the objective has no minibatches to select.
      return instanceOf(model, { optimalValue: 0, minibatches: false });
    },
  },
  {
    name: "transformer-shakespeare",
    description:
      "jax-js character-level transformer (2 blocks, width 32, 2 heads, context 32) on tiny Shakespeare, minibatches of 16 windows; validation on the last 10% of the text",
    kind: "function",
    defaultSteps: 200,
    suiteSteps: { full: 500 },
    // ln 65 ≈ 4.17 at the start; a unigram model reaches about 3.3.
    targetLoss: 2.5,
    optimalValue: 0,
    seeded: true,
    oracles: JAX_CLASSIFIER_ORACLES,
    learningRates: {
      sgd: 0.3,
      momentum: 0.1,
      nesterov: 0.1,
      adam: 3e-3,
      adamw: 3e-3,
      amsgrad: 3e-3,
      nadam: 6e-3,
      radam: 0.03,
      adagrad: 0.01,
      "adagrad-norm": 1,
      rmsprop: 1e-3,
      lion: 1e-3,
      ademamix: 3e-3,
      lamb: 0.01,
      lars: 3,
      diffgrad: 0.01,
      "random-scaling": 3e-3,
      aegd: 0.3,
      polyak: 0.3,
    },
    create: async ({ seed }) => {
      const { shakespeareTransformer } =
        await import("../oracles/problems/shakespeareTransformer.js");
      // Cross-entropy is non-negative: 0 is a lower bound (what Polyak step sizes need).
      return instanceOf(await shakespeareTransformer({ ...TRANSFORMER_CONFIG, seed }), {
        optimalValue: 0,
      });
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
