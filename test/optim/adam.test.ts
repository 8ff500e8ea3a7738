import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { AdamState } from "../../src/optim/adam.js";
import { adam, adamw, amsgrad } from "../../src/optim/adam.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import {
  UNIT_FLOOR,
  assertClose,
  assertTensorsClose,
  minimize,
  partStateWith,
  runBesideReference,
} from "../helpers/assertions.js";
import { sampleGradients, sampleLayout } from "../helpers/inputs.js";
import type { ReferenceAdamOptions } from "../reference/adam.js";
import { referenceAdamInit, referenceAdamStep } from "../reference/adam.js";

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
        const state = referenceAdamInit(sampleLayout());
        const { opt, params, expected } = await runBesideReference({
          dtype,
          transform: make(),
          // Alternate gradient signs so AMSGrad's maximum differs from v.
          gradients: (layout) =>
            sampleGradients(layout, 8).map((g, k) => {
              if (k % 3 === 2) g.forEach((x, i) => (g[i] = x * 0.1));
              return g;
            }),
          reference: (x, g) => referenceAdamStep(x.layout, x.data, g, state, ref),
        });
        const rtol = dtype === "float64" ? 1e-13 : 2e-5;
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        const adamState = partStateWith<AdamState>(opt, "mu");
        assertTensorsClose(params.layout, adamState.mu, state.m, rtol, "mu", UNIT_FLOOR);
        assertTensorsClose(params.layout, adamState.nu, state.v, rtol, "nu", UNIT_FLOOR);
      });
    }
  }
});

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
