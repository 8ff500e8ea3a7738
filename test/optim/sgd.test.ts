import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { MomentumState } from "../../src/optim/sgd.js";
import { scaleByMomentum, sgd } from "../../src/optim/sgd.js";
import type { State } from "../../src/optim/transform.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import {
  FUSED_RTOL,
  UNIT_FLOOR,
  assertClose,
  assertInvalidArgument,
  assertTensorsClose,
  minimize,
  partStateWith,
  runBesideReference,
} from "../helpers/assertions.js";
import { sampleGradients, sampleParams } from "../helpers/inputs.js";
import type { ReferenceSgdOptions } from "../reference/sgd.js";
import { referenceSgdInit, referenceSgdStep } from "../reference/sgd.js";

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
        const state = referenceSgdInit();
        const { opt, params, expected } = await runBesideReference({
          dtype,
          transform: sgd({
            learningRate: o.lr,
            momentum: o.momentum,
            dampening: o.dampening,
            nesterov: o.nesterov,
            weightDecay: o.weightDecay,
            weightDecayMask: o.decayMask ? "*.weight" : undefined,
          }),
          gradients: 6,
          reference: (x, g) => referenceSgdStep(x.layout, x.data, g, state, o),
        });
        const rtol = FUSED_RTOL[dtype];
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        if (o.momentum === 0) {
          assert.equal(typedArraysIn(opt.state), 0, "plain SGD allocates no buffer");
          return;
        }
        const { momentumBuffer } = partStateWith<MomentumState>(opt, "momentumBuffer");
        assertTensorsClose(
          params.layout,
          momentumBuffer,
          state.buffers!,
          rtol,
          "buffer",
          UNIT_FLOOR,
        );
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
    assertInvalidArgument(() => sgd({ learningRate: -0.1 }), "learningRate", -0.1);
    assertInvalidArgument(() => sgd({} as { learningRate: number }), "learningRate", undefined);
  });
  it("rejects momentum outside [0, 1)", () => {
    assertInvalidArgument(() => sgd({ learningRate: 0.1, momentum: 1 }), "momentum", 1);
    assertInvalidArgument(() => sgd({ learningRate: 0.1, momentum: -0.5 }), "momentum", -0.5);
    assertInvalidArgument(() => scaleByMomentum({ momentum: 1.5 }), "momentum", 1.5);
  });
  it("rejects dampening outside [0, 1] and negative weight decay", () => {
    assertInvalidArgument(
      () => sgd({ learningRate: 0.1, momentum: 0.9, dampening: 2 }),
      "dampening",
      2,
    );
    assertInvalidArgument(() => sgd({ learningRate: 0.1, weightDecay: -1 }), "weightDecay", -1);
  });
  it("rejects Nesterov without momentum or with dampening, as torch does", () => {
    assertInvalidArgument(() => sgd({ learningRate: 0.1, nesterov: true }), "momentum", 0);
    assertInvalidArgument(
      () => sgd({ learningRate: 0.1, momentum: 0.9, dampening: 0.1, nesterov: true }),
      "dampening",
      0.1,
    );
  });
  it("rejects a non-boolean nesterov and unknown option names", () => {
    assertInvalidArgument(
      () => sgd({ learningRate: 0.1, momentum: 0.9, nesterov: "yes" as unknown as boolean }),
      "nesterov",
      "yes",
    );
    assertInvalidArgument(
      () => sgd({ learningRate: 0.1, momentun: 0.9 } as { learningRate: number }),
      "momentun",
      0.9,
    );
  });
});

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
