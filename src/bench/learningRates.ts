/**
 * Tuned learning rates shared by the benchmark and the browser playground (this module imports
 * nothing, so the playground can use it without pulling in the benchmark's Node-only problems).
 */

/**
 * Learning rates of the digits perceptron (`mlp-digits`: 64 → 32 tanh → 10, full batch, 200
 * steps), each picked from a half-decade grid by the lowest loss over the last fifth of the run.
 */
export const MLP_DIGITS_LEARNING_RATES: Readonly<Record<string, number>> = Object.freeze({
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
  shampoo: 0.1,
  soap: 0.1,
  "ada-muon": 0.03,
});
