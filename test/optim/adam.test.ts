import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AdamState } from "../../src/optim/adam.js";
import { adam, adamw, amsgrad } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { State } from "../../src/optim/transform.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { Objective } from "../../src/oracles/objective.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceAdamOptions } from "../reference/adam.js";
import { referenceAdamInit, referenceAdamStep } from "../reference/adam.js";

function assertNear(a: ArrayLike<number>, b: ArrayLike<number>, rtol: number, what: string): void {
  for (let i = 0; i < b.length; i++) {
    const tol = rtol * Math.max(1, Math.abs(b[i]));
    assert.ok(Math.abs(a[i] - b[i]) <= tol, `${what}[${i}]: ${a[i]} vs ${b[i]}`);
  }
}

const variants: {
  label: string;
  make: () => ReturnType<typeof adam>;
  ref: ReferenceAdamOptions;
}[] = [
  {
    label: "adam",
    make: () => adam({ learningRate: 0.01 }),
    ref: {
      lr: 0.01,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0,
      decoupled: false,
      amsgrad: false,
    },
  },
  {
    label: "adam with L2 decay",
    make: () => adam({ learningRate: 0.02, beta1: 0.8, beta2: 0.95, weightDecay: 0.1 }),
    ref: {
      lr: 0.02,
      beta1: 0.8,
      beta2: 0.95,
      eps: 1e-8,
      weightDecay: 0.1,
      decoupled: false,
      amsgrad: false,
    },
  },
  {
    label: "adamw masked",
    make: () => adamw({ learningRate: 0.03, weightDecay: 0.2, weightDecayMask: "*.weight" }),
    ref: {
      lr: 0.03,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-8,
      weightDecay: 0.2,
      decoupled: true,
      amsgrad: false,
      decayMask: (n) => n.endsWith(".weight"),
    },
  },
  {
    label: "amsgrad",
    make: () => amsgrad({ learningRate: 0.05, eps: 1e-6 }),
    ref: {
      lr: 0.05,
      beta1: 0.9,
      beta2: 0.999,
      eps: 1e-6,
      weightDecay: 0,
      decoupled: false,
      amsgrad: true,
    },
  },
];

describe("Adam fused path equals the per-tensor reference loop", () => {
  for (const { label, make, ref } of variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const params = sampleParams(dtype);
        const expected = sampleParams("float64");
        const opt = new Optimizer(params, make());
        const state = referenceAdamInit(params.layout);
        // Alternate gradient signs so AMSGrad's maximum differs from v.
        for (const [k, g] of sampleGradients(params.layout, 8).entries()) {
          if (k % 3 === 2) g.forEach((x, i) => (g[i] = x * 0.1));
          await opt.update(g);
          referenceAdamStep(expected.layout, expected.data, Float64Array.from(g), state, ref);
        }
        const rtol = dtype === "float64" ? 1e-13 : 2e-5;
        assertNear(params.data, expected.data, rtol, "params");
        const adamState = Object.values(opt.state).find((s) => "mu" in (s as State)) as AdamState;
        for (const t of params.layout.tensors) {
          assertNear(
            params.layout.view(adamState.mu, t.name),
            state.m.get(t.name)!,
            rtol,
            `mu ${t.name}`,
          );
          assertNear(
            params.layout.view(adamState.nu, t.name),
            state.v.get(t.name)!,
            rtol,
            `nu ${t.name}`,
          );
        }
      });
    }
  }
});

async function minimize(
  f: Objective,
  transform: ReturnType<typeof adam>,
  steps: number,
): Promise<number> {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return f.value(params.data) as number;
}

describe("Adam family converges", () => {
  it("on a parabola (κ = 10) to 1e-10 in 2000 steps", async () => {
    for (const make of [adam, adamw, amsgrad]) {
      const loss = await minimize(
        illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }),
        make({ learningRate: (c: number) => 0.1 / Math.sqrt(1 + c), weightDecay: 0 }),
        2000,
      );
      assert.ok(loss < 1e-10, `${make.name}: ${loss}`);
    }
  });

  it("on the 2-D Rosenbrock to 1e-8 in 4000 steps", async () => {
    for (const make of [adam, adamw, amsgrad]) {
      const loss = await minimize(rosenbrock(), make({ learningRate: 0.05, weightDecay: 0 }), 4000);
      assert.ok(loss < 1e-8, `${make.name}: ${loss}`);
    }
  });
});
