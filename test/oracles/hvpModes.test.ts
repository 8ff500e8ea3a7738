import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Dataset } from "../../src/data/dataset.js";
import { subset } from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { loadTinyShakespeare } from "../../src/data/text.js";
import { InvalidArgumentError } from "../../src/errors.js";
import type { HvpMode, JaxObjective } from "../../src/oracles/jax.js";
import { HVP_MODES, defaultHvpMode } from "../../src/oracles/jax.js";
import { charTransformer } from "../../src/oracles/problems/charTransformer.js";
import { digitsMlp } from "../../src/oracles/problems/digitsMlp.js";
import { mlpClassifier } from "../../src/oracles/problems/mlp.js";
import type { FloatArray } from "../../src/params/layout.js";
import { fillUniform } from "../helpers/inputs.js";

const digits = loadDigits();
const text = loadTinyShakespeare().slice(0, 6000);
const TINY_TRANSFORMER = { layers: 1, dModel: 8, heads: 2, context: 5, batchSize: 2 } as const;

function everyNth(ds: Dataset, step: number): Dataset {
  return subset(
    ds,
    Array.from({ length: Math.floor(ds.rows / step) }, (_, i) => i * step),
  );
}

function norm(x: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i] * x[i];
  return Math.sqrt(s);
}

/**
 * H·v by central differences of the objective's own gradients, (∇f(θ + hv) − ∇f(θ − hv)) / 2h
 * with ‖hv‖ = 1e-3: jax-js evaluates transcendental functions to about float32 accuracy even
 * in float64, and this step keeps that noise near 1e-4 of ‖∇f‖ while the truncation stays
 * below 1e-6.
 */
async function differencedHvp(
  objective: Model,
  theta: FloatArray,
  v: FloatArray,
): Promise<Float64Array> {
  const h = 1e-3 / norm(v);
  const plus = theta.map((x, i) => x + h * v[i]);
  const minus = theta.map((x, i) => x - h * v[i]);
  const gPlus = objective.layout.zeros();
  const gMinus = objective.layout.zeros();
  await objective.valueAndGrad(plus, gPlus);
  await objective.valueAndGrad(minus, gMinus);
  return Float64Array.from(gPlus, (g, i) => (g - gMinus[i]) / (2 * h));
}

/** ‖a − b‖ / ‖b‖. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  for (let i = 0; i < b.length; i++) diff += (a[i] - b[i]) ** 2;
  return Math.sqrt(diff) / norm(b);
}

/** What the checks use of a model, whatever its parameter and data trees. */
type Model = Pick<
  JaxObjective<never, never>,
  "layout" | "hvp" | "valueAndGrad" | "hvpMode" | "initialParams" | "dispose"
>;

type Build = (hvpMode: HvpMode) => Promise<Model>;

async function checkModes(build: Build, perturbation: number): Promise<void> {
  const products: FloatArray[] = [];
  for (const mode of HVP_MODES) {
    const objective = await build(mode);
    try {
      assert.equal(objective.hvpMode, mode);
      const theta = objective.initialParams();
      const noise = fillUniform(objective.layout.zeros(), 3, perturbation);
      for (let i = 0; i < theta.length; i++) theta[i] += noise[i];
      const v = fillUniform(objective.layout.zeros(), 4);
      const hv = objective.layout.zeros();
      await objective.hvp(theta, v, hv);
      const reference = await differencedHvp(objective, theta, v);
      const error = relativeError(hv, reference);
      // The finite-difference mode's own step is larger (ε₀ = 5e-3 relative to 1 + ‖θ‖), so
      // its truncation error is too.
      const tol = mode === "finite-difference" ? 5e-3 : 2e-4;
      assert.ok(error < tol, `${mode}: relative error ${error} against differenced gradients`);
      products.push(hv);
    } finally {
      objective.dispose();
    }
  }
  // The exact formulations agree with each other far more closely than with differences.
  const exact = HVP_MODES.flatMap((mode, k) => (mode === "finite-difference" ? [] : [k]));
  for (const k of exact.slice(1)) {
    const error = relativeError(products[k], products[exact[0]]);
    assert.ok(error < 1e-5, `${HVP_MODES[k]} vs ${HVP_MODES[exact[0]]}: ${error}`);
  }
}

describe("HVP modes of the jax-js models", () => {
  it("the perceptron: every mode matches differenced gradients", async () => {
    const data = everyNth(digits, 15);
    await checkModes(
      (hvpMode) => mlpClassifier(data, { hidden: 6, dtype: "float64", hvpMode }),
      0.3,
    );
  });

  it("the transformer: every mode matches differenced gradients", async () => {
    await checkModes(
      (hvpMode) => charTransformer(text, { ...TINY_TRANSFORMER, dtype: "float64", hvpMode }),
      0.3,
    );
  });

  it("passes hvpEpsilon to the finite-difference mode and through the Node wrappers", async () => {
    const data = everyNth(digits, 15);
    const coarse = await mlpClassifier(data, {
      hidden: 6,
      dtype: "float64",
      hvpMode: "finite-difference",
      hvpEpsilon: 0.3,
    });
    const fine = await mlpClassifier(data, {
      hidden: 6,
      dtype: "float64",
      hvpMode: "finite-difference",
    });
    try {
      const point = coarse.initialParams();
      const v = fillUniform(coarse.layout.zeros(), 4);
      const a = coarse.layout.zeros();
      const b = coarse.layout.zeros();
      await coarse.hvp(point, v, a);
      await fine.hvp(point, v, b);
      // A 60 times larger step changes the product: the option reached the objective.
      const error = relativeError(a, b);
      assert.ok(error > 1e-4 && error < 0.5, `coarse vs default step: ${error}`);
    } finally {
      coarse.dispose();
      fine.dispose();
    }
    const wrapped = await digitsMlp({ hidden: 4, hvpMode: "reverse-over-reverse" });
    assert.equal(wrapped.hvpMode, "reverse-over-reverse");
    wrapped.dispose();
    // Compiled (float32) and eager (float64) objectives default to their fastest exact mode.
    const compiled = await digitsMlp({ hidden: 4 });
    assert.equal(compiled.hvpMode, defaultHvpMode(true));
    assert.equal(compiled.hvpMode, "reverse-over-forward");
    compiled.dispose();
    const eager = await mlpClassifier(data, { hidden: 4, dtype: "float64" });
    assert.equal(eager.hvpMode, defaultHvpMode(false));
    assert.equal(eager.hvpMode, "forward-over-reverse");
    eager.dispose();
  });

  it("validates hvpMode and hvpEpsilon, naming the model", async () => {
    const data = everyNth(digits, 15);
    await assert.rejects(
      mlpClassifier(data, { hvpMode: "newton" as HvpMode }),
      (e: unknown) => e instanceof InvalidArgumentError && /mlpClassifier.*hvpMode/.test(e.message),
    );
    await assert.rejects(
      mlpClassifier(data, { hvpEpsilon: 1e-3 }),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /mlpClassifier.*hvpEpsilon/.test(e.message),
    );
    await assert.rejects(
      mlpClassifier(data, { hvpMode: "finite-difference", hvpEpsilon: 1 }),
      InvalidArgumentError,
    );
    await assert.rejects(
      charTransformer(text, { ...TINY_TRANSFORMER, hvpMode: "exact" as HvpMode }),
      (e: unknown) =>
        e instanceof InvalidArgumentError && /charTransformer.*hvpMode/.test(e.message),
    );
    await assert.rejects(
      charTransformer(text, {
        ...TINY_TRANSFORMER,
        hvpMode: "reverse-over-reverse",
        hvpEpsilon: 0.01,
      }),
      InvalidArgumentError,
    );
  });
});
