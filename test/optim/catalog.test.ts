// Properties every optimizer in the catalog must have: bit-exact resume through a checkpoint,
// rejection of a bad learning rate naming it, and a falling loss on the parabola and Rosenbrock.
// (Tuned convergence to tight tolerances is tested per optimizer in test/optim/<name>.test.ts.)
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import type { OptimizerEntry } from "../../src/optim/catalog.js";
import { catalog } from "../../src/optim/catalog.js";
import { subset } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { softmaxRegression } from "../../src/oracles/problems/softmax.js";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import { standardize } from "../../src/data/dataset.js";
import { denseNetwork } from "../../src/oracles/denseLayers.js";
import { logisticRegression } from "../../src/oracles/problems/logistic.js";
import { nonlinearRegression } from "../../src/oracles/problems/nonlinearRegression.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { Objective } from "../../src/oracles/objective.js";
import { illConditionedQuadratic } from "../../src/oracles/problems/quadratic.js";
import { rosenbrock } from "../../src/oracles/problems/rosenbrock.js";
import type { DType, Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { fillUniform, sampleLayout } from "../helpers/inputs.js";

/** f(p) = ½ Σ w_i (p_i − c_i)² over a multi-tensor layout, minimum 0. */
function weightedParabola(layout: Layout): Objective {
  const center = fillUniform(layout.zeros(), 7);
  const weight = fillUniform(layout.zeros(), 8).map((x) => 1.5 + x);
  return {
    name: "weighted-parabola",
    layout,
    optimalValue: 0,
    value(p) {
      let f = 0;
      for (let i = 0; i < p.length; i++) f += 0.5 * weight[i] * (p[i] - center[i]) ** 2;
      return f;
    },
    valueAndGrad(p, g) {
      let f = 0;
      for (let i = 0; i < p.length; i++) {
        const d = p[i] - center[i];
        f += 0.5 * weight[i] * d * d;
        g[i] = weight[i] * d;
      }
      return f;
    },
    hvp(_p, v, out) {
      for (let i = 0; i < v.length; i++) out[i] = weight[i] * v[i];
    },
  };
}

// Some optimizers need an oracle only certain models give. Sophia-G's curvature input is a
// gradient on labels sampled from the model: it runs on a small softmax regression. EGN needs
// the output Jacobian: a small nonlinear regression and logistic regression. K-FAC and MKOR need
// dense-layer statistics: a one-layer jax-js network on the same digits.
const digitsSample = subset(
  loadDigits(),
  Array.from({ length: 120 }, (_, i) => i),
);

function resumeObjective(entry: OptimizerEntry, dtype: DType): Promise<Objective> | Objective {
  switch (entry.oracle) {
    case "sampledLabelGrad":
      return softmaxRegression(digitsSample, { dtype });
    case "outputJacobian":
      return nonlinearRegression({ dtype });
    case "layerStatistics":
      return denseNetwork({ sizes: [64, 10], data: digitsSample, dtype });
    default:
      return weightedParabola(sampleLayout(dtype));
  }
}

async function descentProblems(entry: OptimizerEntry): Promise<Objective[]> {
  switch (entry.oracle) {
    case "sampledLabelGrad":
      return [softmaxRegression(digitsSample)];
    case "outputJacobian":
      return [nonlinearRegression(), logisticRegression(standardize(loadBreastCancer()))];
    case "layerStatistics":
      return [await denseNetwork({ sizes: [64, 10], data: digitsSample, dtype: "float64" })];
    default:
      return [illConditionedQuadratic({ dimension: 10, conditionNumber: 10 }), rosenbrock()];
  }
}

/** Frees what an objective holds (jax-js models), if anything. */
function release(objective: Objective): void {
  (objective as { dispose?: () => void }).dispose?.();
}

describe("every catalog optimizer", () => {
  for (const entry of catalog) {
    describe(entry.name, () => {
      it("resumes bit-exactly: k steps, save, load, n − k steps equals n steps", async () => {
        for (const dtype of ["float32", "float64"] as const) {
          const f = await resumeObjective(entry, dtype);
          const lr = Math.min(entry.defaultLearningRate, 0.05);
          const start = fillUniform(f.layout.zeros(), 3);
          const straight = new Optimizer(
            new ParamSet(f.layout, start.slice()),
            entry.create({ learningRate: lr }),
          );
          for (let i = 0; i < 9; i++) await straight.step(f);

          const first = new Optimizer(
            new ParamSet(f.layout, start.slice()),
            entry.create({ learningRate: lr }),
          );
          for (let i = 0; i < 4; i++) await first.step(f);
          const bytes = serializeOptimizer(first, { includeParams: true });
          const resumed = new Optimizer(new ParamSet(f.layout), entry.create({ learningRate: lr }));
          restoreOptimizer(resumed, bytes, { includeParams: true });
          for (let i = 0; i < 5; i++) await resumed.step(f);

          assert.deepEqual(resumed.params.data, straight.params.data, `${dtype} params`);
          assert.equal(resumed.count, straight.count);
          assert.deepEqual(
            serializeOptimizer(resumed),
            serializeOptimizer(straight),
            `${dtype} state`,
          );
          release(f);
        }
      });

      it("rejects a negative learning rate, naming it", () => {
        assert.throws(
          () => entry.create({ learningRate: -1 }),
          (e: unknown) =>
            e instanceof InvalidArgumentError &&
            /-1/.test(e.message) &&
            /(learningRate|maxStepSize)/.test(e.message),
        );
      });

      it("lowers the loss on a parabola and on the 2-D Rosenbrock (or the problems its oracle needs) at a small learning rate", async () => {
        for (const f of await descentProblems(entry)) {
          const params = new ParamSet(f.layout, f.initialParams!());
          const initial = await f.value(params.data);
          const opt = new Optimizer(
            params,
            entry.create({ learningRate: Math.min(entry.defaultLearningRate, 1e-3) }),
          );
          for (let i = 0; i < 200; i++) await opt.step(f);
          const final = await f.value(params.data);
          assert.ok(Number.isFinite(final) && final < initial, `${f.name}: ${initial} -> ${final}`);
          release(f);
        }
      });
    });
  }
});
