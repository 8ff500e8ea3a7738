// Replays a conformance fixture (trajectories recorded from reference implementations) through a
// descend transform and compares loss, gradient and parameters at every step; also sets up the
// fixtures' matrix least-squares problem with its exact optimum.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { formatValue } from "../../src/errors.js";
import type { ConformanceProblem } from "../../src/oracles/problems/conformance.js";
import type { Objective } from "../../src/oracles/objective.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import type { NestedArray } from "../../src/params/paramset.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import { assertClose } from "./assertions.js";
import { leastSquaresOptimum } from "./problems.js";

export interface FixtureStep {
  t: number;
  loss_before: number;
  grad: Record<string, NestedArray>;
  params: Record<string, NestedArray>;
  probes?: Record<string, unknown>;
}

export interface FixtureCase {
  id: string;
  optimizer: string;
  hyperparameters: { library: Record<string, unknown>; normalized: Record<string, unknown> };
  problem: ConformanceProblem;
  init: Record<string, NestedArray>;
  steps: FixtureStep[];
  final_loss: number;
  notes: string;
  precision_variant?: string;
}

const fixtureDir = fileURLToPath(new URL("../fixtures/conformance/", import.meta.url));

/** Loads the cases of one fixture file (e.g. `"adam"`). */
export function loadCases(family: string): FixtureCase[] {
  const file = JSON.parse(readFileSync(`${fixtureDir}${family}.json`, "utf8")) as {
    cases: FixtureCase[];
  };
  return file.cases;
}

/** A fixture case's normalized hyperparameters, each read with a check of its type. */
export interface Hyperparameters {
  /** The number recorded under `key`. */
  number(key: string): number;
  /** The number recorded under `key`, or `undefined` where the fixture records `null`. */
  optionalNumber(key: string): number | undefined;
  /** The boolean recorded under `key`. */
  boolean(key: string): boolean;
}

/**
 * Reads `c.hyperparameters.normalized` (snake_case names shared by every fixture), after
 * checking that each entry of `expected` (e.g. the weight-decay mode the transform under test
 * implements) is recorded with exactly that value. Throws, naming the case, on a mismatch or a
 * value of the wrong type.
 */
export function normalizedHyperparameters(
  c: FixtureCase,
  expected: Readonly<Record<string, string | boolean>> = {},
): Hyperparameters {
  const h = c.hyperparameters.normalized;
  for (const [key, value] of Object.entries(expected)) {
    if (h[key] !== value) {
      throw new Error(
        `${c.id}: unexpected ${key} ${formatValue(h[key])}, expected ${formatValue(value)}`,
      );
    }
  }
  const wrongType = (key: string, type: string) =>
    new Error(`${c.id}: hyperparameter ${key} is ${formatValue(h[key])}, not a ${type}`);
  const number = (key: string): number => {
    const v = h[key];
    if (typeof v !== "number") throw wrongType(key, "number");
    return v;
  };
  return {
    number,
    optionalNumber: (key) => (h[key] === null ? undefined : number(key)),
    boolean(key) {
      const v = h[key];
      if (typeof v !== "boolean") throw wrongType(key, "boolean");
      return v;
    },
  };
}

/** The options every Adam-style fixture records, under the option names of descend. */
export interface AdamFamilyOptions {
  learningRate: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

/** `learning_rate`, `beta1`, `beta2`, `eps` and `weight_decay` as {@link AdamFamilyOptions}. */
export function adamFamilyOptions(h: Hyperparameters): AdamFamilyOptions {
  return {
    learningRate: h.number("learning_rate"),
    beta1: h.number("beta1"),
    beta2: h.number("beta2"),
    eps: h.number("eps"),
    weightDecay: h.number("weight_decay"),
  };
}

function flatten(value: NestedArray, out: number[] = []): number[] {
  if (typeof value === "number") out.push(value);
  else for (const v of value) flatten(v, out);
  return out;
}

/** A ParamSet in the fixture's parameter order holding `record`. */
export function paramsFrom(c: FixtureCase, record: Record<string, NestedArray>): ParamSet {
  const layout = new Layout(
    c.problem.param_order.map((name) => ({ name, shape: c.problem.shapes[name] })),
    "float64",
  );
  const set = new ParamSet(layout);
  for (const name of c.problem.param_order)
    set.data.set(flatten(record[name]), layout.tensor(name).offset);
  return set;
}

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** Tolerance on parameters (default 1e-9, the README's). */
  rtol?: number;
  /** Feed the recorded gradient instead of our objective's (default false: use ours, and check it). */
  useRecordedGradient?: boolean;
}

/**
 * Runs `transform` from the case's initial point for every recorded step and checks loss,
 * gradient and parameters against the recording.
 */
export async function replay(
  c: FixtureCase,
  transform: GradientTransform,
  options: ReplayOptions = {},
): Promise<void> {
  const rtol = options.rtol ?? 1e-9;
  const params = paramsFrom(c, c.init);
  const objective = conformanceObjective(c.problem);
  const opt = new Optimizer(params, transform);
  const grad = params.layout.zeros();
  // Near a stationary point gradients shrink to rounding noise of the loss terms; past that
  // point a relative check says nothing, so the gradient floor keeps 1e-6 of the first step's
  // gradient scale (the parameters are still checked at full precision).
  let gradientFloor = 0;
  for (const step of c.steps) {
    const loss = await objective.valueAndGrad!(params.data, grad);
    assertClose([loss], [step.loss_before], 1e-10, `${c.id} t=${step.t} loss_before`);
    const recorded = paramsFrom(c, step.grad).data;
    if (step === c.steps[0]) {
      for (const g of recorded) gradientFloor = Math.max(gradientFloor, 1e-6 * Math.abs(g));
    }
    assertClose(grad, recorded, 1e-9, `${c.id} t=${step.t} grad`, { floor: gradientFloor });
    await opt.update(options.useRecordedGradient ? recorded : grad, objective);
    const expected = paramsFrom(c, step.params);
    for (const t of params.layout.tensors) {
      assertClose(
        params.view(t.name),
        expected.view(t.name),
        rtol,
        `${c.id} t=${step.t} ${t.name}`,
      );
    }
  }
  assertClose(
    [objective.value(params.data) as number],
    [c.final_loss],
    1e-10,
    `${c.id} final_loss`,
  );
}

/** The matrix least-squares problem of the first Muon fixture, as {@link matrixLeastSquares} sets it up. */
export interface MatrixLeastSquares {
  /** ½‖AW − C‖²_F. */
  objective: Objective;
  /** The fixture's starting point. */
  params: ParamSet;
  /** The objective at the start. */
  initialValue: number;
  /** W* and f*, from the normal equations. */
  optimum: { w: Float64Array; value: number };
}

/** The first Muon fixture's least-squares problem, its starting point and its exact optimum. */
export function matrixLeastSquares(): MatrixLeastSquares {
  const c = loadCases("muon")[0];
  const objective = conformanceObjective(c.problem);
  const optimum = leastSquaresOptimum(
    c.problem.data.A as number[][],
    c.problem.data.C as number[][],
  );
  const params = paramsFrom(c, c.init);
  const initialValue = objective.value(params.data) as number;
  return { objective, params, initialValue, optimum };
}
