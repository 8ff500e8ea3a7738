import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { MomentumState } from "../../src/optim/sgd.js";
import { scaleByMomentum, sgd } from "../../src/optim/sgd.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceSgdOptions } from "../reference/sgd.js";
import { referenceSgdInit, referenceSgdStep } from "../reference/sgd.js";

function assertNear(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < b.length; i++) {
    const tol = rtol * Math.max(1, Math.abs(b[i]));
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

function assertInvalid(build: () => unknown, parameter: string, value: string): void {
  assert.throws(build, (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${e}`);
    assert.equal(e.parameter, parameter);
    assert.ok(e.message.includes(parameter), e.message);
    assert.ok(e.message.includes(value), `${e.message} should show ${value}`);
    return true;
  });
}

function typedArraysIn(state: State): number {
  let n = 0;
  for (const v of Object.values(state)) {
    if (v instanceof Float32Array || v instanceof Float64Array) n++;
    else if (typeof v === "object") n += typedArraysIn(v);
  }
  return n;
}

const variants: { label: string; options: ReferenceSgdOptions }[] = [
  {
    label: "plain",
    options: { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0 },
  },
  {
    label: "plain with L2 decay",
    options: { lr: 0.1, momentum: 0, dampening: 0, nesterov: false, weightDecay: 0.05 },
  },
  {
    label: "heavy ball",
    options: { lr: 0.05, momentum: 0.9, dampening: 0, nesterov: false, weightDecay: 0 },
  },
  {
    label: "heavy ball with dampening and L2 decay",
    options: { lr: 0.05, momentum: 0.8, dampening: 0.3, nesterov: false, weightDecay: 0.01 },
  },
  {
    label: "nesterov",
    options: { lr: 0.03, momentum: 0.9, dampening: 0, nesterov: true, weightDecay: 0 },
  },
  {
    label: "nesterov with masked L2 decay",
    options: {
      lr: 0.03,
      momentum: 0.7,
      dampening: 0,
      nesterov: true,
      weightDecay: 0.1,
      decayMask: (name) => name.endsWith(".weight"),
    },
  },
];

describe("SGD fused path equals the per-tensor reference loop", () => {
  for (const { label, options: o } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const params = sampleParams(dtype);
        const expected = sampleParams("float64");
        const opt = new Optimizer(
          params,
          sgd({
            learningRate: o.lr,
            momentum: o.momentum,
            dampening: o.dampening,
            nesterov: o.nesterov,
            weightDecay: o.weightDecay,
            weightDecayMask: o.decayMask ? "*.weight" : undefined,
          }),
        );
        const state = referenceSgdInit();
        for (const g of sampleGradients(params.layout, 6)) {
          await opt.update(g);
          referenceSgdStep(expected.layout, expected.data, Float64Array.from(g), state, o);
        }
        const rtol = dtype === "float64" ? 1e-12 : 1e-5;
        assertNear(params.data, expected.data, rtol, "params");
        if (o.momentum === 0) {
          assert.equal(typedArraysIn(opt.state), 0, "plain SGD allocates no buffer");
          return;
        }
        const momentum = Object.values(opt.state).find(
          (s) => "momentumBuffer" in (s as State),
        ) as MomentumState;
        for (const t of params.layout.tensors) {
          assertNear(
            params.layout.view(momentum.momentumBuffer, t.name),
            state.buffers!.get(t.name)!,
            rtol,
            `buffer ${t.name}`,
          );
        }
      });
    }
  }

  it("starts the buffer at the first gradient, without dampening", () => {
    const params = sampleParams("float64");
    const [g] = sampleGradients(params.layout, 1);
    const transform = scaleByMomentum({ momentum: 0.9, dampening: 0.5 });
    const state = transform.init(params.layout);
    const u = Float64Array.from(g);
    void transform.update(u, state, { params: params.data, layout: params.layout });
    assert.deepEqual(Array.from(state.momentumBuffer), Array.from(g));
    assert.deepEqual(Array.from(u), Array.from(g));
  });
});

describe("SGD hyperparameter validation", () => {
  it("rejects a negative or missing learning rate", () => {
    assertInvalid(() => sgd({ learningRate: -0.1 }), "learningRate", "-0.1");
    assertInvalid(() => sgd({} as { learningRate: number }), "learningRate", "undefined");
  });
  it("rejects momentum outside [0, 1)", () => {
    assertInvalid(() => sgd({ learningRate: 0.1, momentum: 1 }), "momentum", "1");
    assertInvalid(() => sgd({ learningRate: 0.1, momentum: -0.5 }), "momentum", "-0.5");
    assertInvalid(() => scaleByMomentum({ momentum: 1.5 }), "momentum", "1.5");
  });
  it("rejects dampening outside [0, 1] and negative weight decay", () => {
    assertInvalid(() => sgd({ learningRate: 0.1, momentum: 0.9, dampening: 2 }), "dampening", "2");
    assertInvalid(() => sgd({ learningRate: 0.1, weightDecay: -1 }), "weightDecay", "-1");
  });
  it("rejects Nesterov without momentum or with dampening, as torch does", () => {
    assertInvalid(() => sgd({ learningRate: 0.1, nesterov: true }), "momentum", "0");
    assertInvalid(
      () => sgd({ learningRate: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
      "dampening",
      "0.1",
    );
  });
  it("rejects a non-boolean nesterov and unknown option names", () => {
    assertInvalid(
      () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: "yes" as unknown as boolean }),
      "nesterov",
      '"yes"',
    );
    assertInvalid(
      () => sgd({ learningRate: 0.1, momentun: 0.9 } as { learningRate: number }),
      "momentun",
      "0.9",
    );
  });
});

async function minimize(f: Objective, transform: GradientTransform, steps: number) {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return f.value(params.data) as number;
}

describe("SGD converges", () => {
  it("on a parabola (κ = 10) to 1e-12 in 500 steps", async () => {
    const quadratic = () => illConditionedQuadratic({ dimension: 10, conditionNumber: 10 });
    for (const options of [
      { learningRate: 1 },
      { learningRate: 0.5, momentum: 0.5 },
      { learningRate: 0.5, momentum: 0.5, dampening: 0.5 },
      { learningRate: 0.5, momentum: 0.5, nesterov: true },
    ]) {
      const loss = await minimize(quadratic(), sgd(options), 500);
      assert.ok(loss < 1e-12, `${JSON.stringify(options)}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-10 in 3000 steps (with momentum)", async () => {
    for (const options of [
      { learningRate: 1e-3, momentum: 0.9 },
      { learningRate: 1e-3, momentum: 0.9, nesterov: true },
    ]) {
      const loss = await minimize(rosenbrock(), sgd(options), 3000);
      assert.ok(loss < 1e-10, `${JSON.stringify(options)}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-6 in 20000 steps (plain)", async () => {
    const loss = await minimize(rosenbrock(), sgd({ learningRate: 1e-3 }), 20000);
    assert.ok(loss < 1e-6, `${loss}`);
  });
});
