/** Colours and starting learning rates of the playground's optimizers. */
import type { OptimizerEntry } from "descend";
import { catalog } from "descend";
import type { TestFunction2d } from "./functions.js";
import { MLP_DIGITS_LEARNING_RATES } from "../../src/bench/learningRates.js";

/** Distinct line colours, dark enough to read over the pale shading of the contour plot. */
const PALETTE = [
  "#1f77b4",
  "#d62728",
  "#2ca02c",
  "#ff7f0e",
  "#9467bd",
  "#8c564b",
  "#e377c2",
  "#17becf",
  "#7f7f7f",
  "#bcbd22",
  "#393b79",
  "#222222",
  "#637939",
  "#7b4173",
  "#8c6d31",
  "#3182bd",
  "#e6550d",
  "#31a354",
  "#756bb1",
  "#636363",
];

/** The colour of an optimizer: fixed by its place in the catalog, the same in every plot. */
export function colorOf(entry: OptimizerEntry): string {
  const index = catalog.indexOf(entry);
  return PALETTE[(index < 0 ? 0 : index) % PALETTE.length];
}

/** Optimizers ticked when the page opens. */
export const INITIAL_SELECTION: readonly string[] = ["sgd", "momentum", "adam", "rmsprop"];

/**
 * Learning rates per test function, from a sweep over 1 and 3 times each power of 10 from 1e-6
 * to 10, 500 steps from the function's start: among the rates whose path never strays more than
 * a tenth of the plot's width outside it, the smallest whose final value is within 1e-3 of the
 * best final value. That is the gentlest rate that still gets as far as any, which draws the
 * clearest path. Optimizers missing here start from the catalog's default.
 */
const RACE_LEARNING_RATES: Readonly<Record<string, Readonly<Record<string, number>>>> = {
  rosenbrock: {
    sgd: 0.003,
    momentum: 0.003,
    nesterov: 0.001,
    adam: 0.3,
    adamw: 0.3,
    amsgrad: 0.3,
    nadam: 0.1,
    radam: 0.003,
    adagrad: 1,
    "adagrad-norm": 3,
    rmsprop: 0.03,
    lion: 0.01,
    ademamix: 0.3,
    lamb: 0.3,
    lars: 10,
    diffgrad: 1,
    "random-scaling": 3e-5,
    aegd: 0.001,
    polyak: 0.03,
  },
  rastrigin: {
    sgd: 1e-4,
    momentum: 1e-5,
    nesterov: 1e-5,
    adam: 0.003,
    adamw: 0.003,
    amsgrad: 0.003,
    nadam: 0.003,
    radam: 0.03,
    adagrad: 0.03,
    "adagrad-norm": 1,
    rmsprop: 0.3,
    lion: 0.003,
    ademamix: 0.01,
    lamb: 0.001,
    lars: 0.1,
    diffgrad: 0.003,
    "random-scaling": 3e-6,
    aegd: 0.03,
    polyak: 1e-4,
  },
  himmelblau: {
    sgd: 0.001,
    momentum: 1e-4,
    nesterov: 1e-4,
    adam: 0.03,
    adamw: 0.1,
    amsgrad: 0.03,
    nadam: 0.03,
    radam: 0.03,
    adagrad: 0.3,
    "adagrad-norm": 0.3,
    rmsprop: 0.01,
    lion: 0.1,
    ademamix: 0.1,
    lamb: 0.1,
    lars: 0.01,
    diffgrad: 0.03,
    "random-scaling": 1e-5,
    aegd: 3e-4,
    polyak: 0.001,
  },
  beale: {
    sgd: 0.03,
    momentum: 0.003,
    nesterov: 0.003,
    adam: 0.1,
    adamw: 0.3,
    amsgrad: 0.1,
    nadam: 0.1,
    radam: 0.01,
    adagrad: 1,
    "adagrad-norm": 3,
    rmsprop: 0.03,
    lion: 0.1,
    ademamix: 0.1,
    lamb: 0.01,
    lars: 1,
    diffgrad: 0.1,
    "random-scaling": 3e-5,
    aegd: 0.003,
    polyak: 0.03,
  },
  saddle: {
    sgd: 0.01,
    momentum: 0.001,
    nesterov: 0.001,
    adam: 0.01,
    adamw: 0.01,
    amsgrad: 0.01,
    nadam: 0.01,
    radam: 0.03,
    adagrad: 0.1,
    "adagrad-norm": 0.3,
    rmsprop: 0.01,
    lion: 0.01,
    ademamix: 0.03,
    lamb: 0.01,
    lars: 1,
    diffgrad: 0.03,
    "random-scaling": 1e-4,
    aegd: 0.003,
    polyak: 0.01,
  },
  "rotated-quadratic": {
    sgd: 0.01,
    momentum: 0.001,
    nesterov: 0.001,
    adam: 0.03,
    adamw: 0.03,
    amsgrad: 0.1,
    nadam: 0.1,
    radam: 0.1,
    adagrad: 0.3,
    "adagrad-norm": 1,
    rmsprop: 0.1,
    lion: 0.03,
    ademamix: 0.1,
    lamb: 0.01,
    lars: 1,
    diffgrad: 0.1,
    "random-scaling": 3e-4,
    aegd: 0.01,
    polyak: 0.01,
  },
};

/** The starting learning rate of `entry` on the 2-D function `fn`. */
export function raceLearningRate(fn: TestFunction2d, entry: OptimizerEntry): number {
  return RACE_LEARNING_RATES[fn.name]?.[entry.name] ?? entry.defaultLearningRate;
}

/** The starting learning rate of `entry` on the digits network. */
export function mlpLearningRate(entry: OptimizerEntry): number {
  return MLP_DIGITS_LEARNING_RATES[entry.name] ?? entry.defaultLearningRate;
}
