/**
 * The benchmark suites: how much of the catalog and of the problems a benchmark covers, how wide
 * each optimizer's learning-rate sweep is and how many seeds every setting runs with.
 *
 * - `quick` (the default, what `npm start` runs): six optimizers on every problem but the
 *   transformer, a three-point sweep and two seeds; under two minutes on a two-core machine.
 * - `standard`: every optimizer of the catalog on every problem, a five-point sweep, three seeds.
 * - `full`: as standard with a seven-point sweep, five seeds and longer runs where they help.
 */
import type { SuiteName } from "./problems.js";

export type { SuiteName } from "./problems.js";

/** One suite. */
export interface Suite {
  /** Identifier used with `--suite`. */
  readonly name: SuiteName;
  /** One line for `--help`. */
  readonly description: string;
  /** Optimizer names, or `"all"` for the whole catalog. */
  readonly optimizers: readonly string[] | "all";
  /** Problem names, or `"all"` for every problem. */
  readonly problems: readonly string[] | "all";
  /** Multipliers of the tuned learning rate tried for each optimizer and problem. */
  readonly grid: readonly number[];
  /** Seeds per setting. */
  readonly seeds: number;
}

/** Optimizers of the quick suite: plain and heavy-ball SGD, Adam, AdamW, Lion and AdEMAMix. */
export const QUICK_OPTIMIZERS: readonly string[] = [
  "sgd",
  "momentum",
  "adam",
  "adamw",
  "lion",
  "ademamix",
];

/** Every suite, from the cheapest. */
export const suites: readonly Suite[] = [
  {
    name: "quick",
    description:
      "6 optimizers, the 8 problems that take seconds, learning rate ×{1/3, 1, 3}, 2 seeds (the default)",
    optimizers: QUICK_OPTIMIZERS,
    problems: [
      "rosenbrock",
      "rosenbrock-100d",
      "rastrigin",
      "quadratic",
      "matrix-sensing",
      "logistic-cancer",
      "softmax-digits",
      "mlp-digits",
    ],
    grid: [1 / 3, 1, 3],
    seeds: 2,
  },
  {
    name: "standard",
    description: "every optimizer and problem, learning rate ×{1/10, 1/3, 1, 3, 10}, 3 seeds",
    optimizers: "all",
    problems: "all",
    grid: [1 / 10, 1 / 3, 1, 3, 10],
    seeds: 3,
  },
  {
    name: "full",
    description:
      "every optimizer and problem, learning rate ×{1/30, 1/10, …, 10, 30}, 5 seeds, longer runs",
    optimizers: "all",
    problems: "all",
    grid: [1 / 30, 1 / 10, 1 / 3, 1, 3, 10, 30],
    seeds: 5,
  },
];

/** The default suite. */
export const DEFAULT_SUITE: SuiteName = "quick";

/** The suite called `name`; throws listing the known names otherwise. */
export function findSuite(name: string): Suite {
  const suite = suites.find((s) => s.name === name);
  if (!suite) {
    throw new RangeError(
      `unknown suite ${JSON.stringify(name)}; known suites: ${suites.map((s) => s.name).join(", ")}`,
    );
  }
  return suite;
}
