/**
 * Counting oracle calls: the true cost of a run. Zeroth-order methods pay in forward passes,
 * first-order ones in gradients, curvature-aware ones in Hessian- or Jacobian-vector products,
 * Gauss-Newton ones in output Jacobians and Kronecker-factored ones in layer statistics; comparing them by steps alone hides that.
 * {@link countingObjective} wraps an objective so that every call of each oracle is counted
 * separately, while everything else about the objective (problem-specific hooks such as
 * `setBatch`, `validationLoss`, `accuracy`, `dispose`, getters, `optimalValue`) reads and
 * behaves exactly as on the original.
 *
 * Only calls made through the wrapper are counted. Whoever holds the original objective can
 * evaluate it without adding to the counts (the benchmark does so for the points of its curves),
 * and calls an objective makes to itself internally are not counted either.
 */
import type { Objective, OracleName } from "./objective.js";

/** Number of calls of each oracle. */
export interface OracleCounts {
  /** Forward passes: calls of `value`. */
  value: number;
  /** Gradients: calls of `valueAndGrad` (each also yields the value). */
  valueAndGrad: number;
  /** Hessian-vector products. */
  hvp: number;
  /** Jacobian-vector products (forward-mode directional derivatives). */
  jvp: number;
  /** Gradients on labels sampled from the model. */
  sampledLabelGrad: number;
  /** Output Jacobians (with the loss's output derivatives), for Gauss-Newton methods. */
  outputJacobian: number;
  /** Dense-layer statistics (inputs and pre-activation gradients), for K-FAC and MKOR. */
  layerStatistics: number;
}

/** The oracles that are counted, in reporting order. */
export const COUNTED_ORACLES: readonly OracleName[] = [
  "value",
  "valueAndGrad",
  "hvp",
  "jvp",
  "sampledLabelGrad",
  "outputJacobian",
  "layerStatistics",
];

/** All counts zero. */
export function zeroCounts(): OracleCounts {
  return {
    value: 0,
    valueAndGrad: 0,
    hvp: 0,
    jvp: 0,
    sampledLabelGrad: 0,
    outputJacobian: 0,
    layerStatistics: 0,
  };
}

/** Sum of all counts (every oracle call weighs one). */
export function totalCalls(counts: OracleCounts): number {
  return (
    counts.value +
    counts.valueAndGrad +
    counts.hvp +
    counts.jvp +
    counts.sampledLabelGrad +
    counts.outputJacobian +
    counts.layerStatistics
  );
}

/** An objective whose oracle calls are counted. */
export interface CountingObjective<T extends Objective = Objective> {
  /** The wrapped objective: use it wherever the original would be used. */
  readonly objective: T;
  /** A snapshot of the counts so far (a new object each call). */
  counts(): OracleCounts;
  /** Sets every count back to zero. */
  reset(): void;
}

function isCounted(key: string | symbol): key is OracleName {
  return typeof key === "string" && (COUNTED_ORACLES as readonly string[]).includes(key);
}

/**
 * Wraps `objective` so that calls of `value`, `valueAndGrad`, `hvp`, `jvp`, `sampledLabelGrad`,
 * `outputJacobian` and `layerStatistics` are counted. A call is counted when it is made, whether or not it then
 * succeeds. Oracles the objective lacks stay absent (so `requireOracle` still reports them).
 * Every other property is read from the original, and its methods run with the original as
 * `this`, so hooks such as `setBatch` or `dispose` act on it directly.
 */
export function countingObjective<T extends Objective>(objective: T): CountingObjective<T> {
  const counts = zeroCounts();
  const counters = new Map<OracleName, (...args: unknown[]) => unknown>();
  const bound = new WeakMap<object, unknown>();
  // The proxy's own target is an empty object inheriting from the original: a proxy must report
  // a frozen target's methods unchanged, and this one owns nothing that could constrain it.
  const shell = Object.create(objective) as T;
  const wrapper = new Proxy(shell, {
    get(_shell, key) {
      const value: unknown = Reflect.get(objective, key, objective);
      if (typeof value !== "function") return value;
      if (isCounted(key)) {
        let counter = counters.get(key);
        if (!counter) {
          counter = (...args: unknown[]): unknown => {
            counts[key]++;
            const current: unknown = Reflect.get(objective, key, objective);
            return (current as (...a: unknown[]) => unknown).apply(objective, args);
          };
          counters.set(key, counter);
        }
        return counter;
      }
      // Bound once per function, so reading a method twice gives the same function.
      let method = bound.get(value);
      if (!method) {
        method = (value as (...a: unknown[]) => unknown).bind(objective);
        bound.set(value, method);
      }
      return method;
    },
    set: (_shell, key, value) => Reflect.set(objective, key, value, objective),
    has: (_shell, key) => Reflect.has(objective, key),
    ownKeys: () => Reflect.ownKeys(objective),
    getOwnPropertyDescriptor(_shell, key) {
      const descriptor = Reflect.getOwnPropertyDescriptor(objective, key);
      return descriptor && { ...descriptor, configurable: true };
    },
    defineProperty: (_shell, key, descriptor) => Reflect.defineProperty(objective, key, descriptor),
    deleteProperty: (_shell, key) => Reflect.deleteProperty(objective, key),
  });
  return {
    objective: wrapper,
    counts: () => ({ ...counts }),
    reset() {
      for (const key of COUNTED_ORACLES) counts[key] = 0;
    },
  };
}
