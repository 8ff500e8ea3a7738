// Replays a conformance fixture (trajectories recorded from reference implementations) through a
// descend transform and compares loss, gradient and parameters at every step.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ConformanceProblem } from "../../src/oracles/problems/conformance.js";
import { conformanceObjective } from "../../src/oracles/problems/conformance.js";
import { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import type { NestedArray } from "../../src/params/paramset.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";

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

/**
 * Asserts elementwise `|a − b| ≤ rtol·max(|b|, floor)` with `floor = 1e-12·max|b|` per tensor
 * (the README's check, with an absolute floor for coordinates passing through zero).
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  what: string,
  minFloor = 0,
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  const floor = Math.max(1e-12 * scale, minFloor);
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = rtol * Math.max(Math.abs(expected[i]), floor);
    if (!(err <= tol)) {
      assert.fail(
        `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (|diff| ${err} > ${tol})`,
      );
    }
  }
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
    assertClose(grad, recorded, 1e-9, `${c.id} t=${step.t} grad`, gradientFloor);
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
