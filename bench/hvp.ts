/**
 * Hessian-vector product benchmark: the cost of one HVP relative to one gradient, per HVP mode.
 *
 * On the digits perceptron (64 → hidden → 10, tanh, full batch of 1797 rows, float32), one
 * objective per (mode, jit) pair. Each repeat times, interleaved, a gradient and an HVP of every
 * objective at the same point and direction; the table reports medians and
 * median(HVP) / median(gradient of the same jit setting), and against the compiled gradient, which
 * is what a float32 training loop pays. A ratio carries over between machines better than
 * milliseconds on a shared one.
 *
 * On the character transformer (tiny Shakespeare, its default configuration, float32 compiled),
 * one objective per exact mode, the same interleaved timing of the gradient, each exact HVP and a
 * central difference of two gradients (what `"finite-difference"` costs).
 *
 * Then the accuracy of the finite-difference HVP for a few relative steps ε₀: relative error
 * ‖Hv_fd − Hv‖ / ‖Hv‖ against the exact HVP computed in float64 at the same point.
 *
 *     npm run bench:hvp [-- --hidden 32 --repeats 15]
 */
import { nn, numpy as np } from "@jax-js/jax";
import type { Array as JaxArray } from "@jax-js/jax";
import { loadDigits } from "../src/data/digits.js";
import type { HvpMode, JaxObjective } from "../src/oracles/jax.js";
import { HVP_MODES, defaultHvpMode, jaxObjective } from "../src/oracles/jax.js";
import type { MlpBatch, MlpParams } from "../src/oracles/problems/mlp.js";
import { classificationArrays } from "../src/oracles/problems/mlp.js";
import { shakespeareTransformer } from "../src/oracles/problems/shakespeareTransformer.js";
import { uniform } from "../src/random/distributions.js";
import type { DType, FloatArray } from "../src/params/layout.js";
import { Layout } from "../src/params/layout.js";
import { ParamSet } from "../src/params/paramset.js";
import { median } from "./common.js";

interface Options {
  hidden: number;
  repeats: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { hidden: 32, repeats: 15 };
  for (let i = 0; i < argv.length; i++) {
    const value = Number(argv[i + 1]);
    if (argv[i] === "--hidden") options.hidden = value;
    else if (argv[i] === "--repeats") options.repeats = value;
    else throw new RangeError(`unknown argument ${argv[i]} (use --hidden N --repeats N)`);
    if (!Number.isInteger(value) || value < 1) {
      throw new RangeError(`${argv[i]} needs a positive integer, got ${argv[i + 1]}`);
    }
    i++;
  }
  return options;
}

const EXACT_MODES = HVP_MODES.filter((mode) => mode !== "finite-difference");

const digits = loadDigits();

async function digitsObjective(
  hidden: number,
  dtype: DType,
  jit: boolean,
  hvpMode: HvpMode,
  hvpEpsilon?: number,
): Promise<JaxObjective<MlpParams, MlpBatch>> {
  const layout = new Layout(
    [
      { name: "layer1.weight", shape: [digits.cols, hidden] },
      { name: "layer1.bias", shape: [hidden] },
      { name: "layer2.weight", shape: [hidden, digits.classes] },
      { name: "layer2.bias", shape: [digits.classes] },
    ],
    dtype,
  );
  return jaxObjective<MlpParams, MlpBatch>({
    params: new ParamSet(layout),
    data: classificationArrays(digits, { dtype }),
    loss: (p, d) => {
      const h = np.tanh(np.add(np.matmul(d.x, p.layer1.weight), p.layer1.bias));
      const logits: JaxArray = np.add(np.matmul(h, p.layer2.weight), p.layer2.bias);
      return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits, -1), d.y), -1)));
    },
    jit,
    hvpMode,
    hvpEpsilon,
  });
}

/** Seeded values in [−scale, scale). */
function seeded(out: FloatArray, seed: number, scale: number): FloatArray {
  for (let i = 0; i < out.length; i++) out[i] = scale * (2 * uniform(seed, 0, i) - 1);
  return out;
}

async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

function relativeError(actual: FloatArray, exact: FloatArray): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < exact.length; i++) {
    diff += (actual[i] - exact[i]) ** 2;
    norm += exact[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

async function transformerTimes(repeats: number): Promise<void> {
  const byMode = [];
  for (const hvpMode of EXACT_MODES) byMode.push(await shakespeareTransformer({ hvpMode }));
  const objective = byMode[0];
  const theta = objective.initialParams();
  const direction = seeded(objective.layout.zeros(), 3, 1);
  const shifted = objective.layout.zeros();
  const out = objective.layout.zeros();
  const second = objective.layout.zeros();
  const times = { grad: [] as number[], hvp: byMode.map((): number[] => []), fd: [] as number[] };
  for (let round = 0; round < repeats + 2; round++) {
    const g = await timed(() => objective.valueAndGrad(theta, out));
    const h = [];
    for (const model of byMode) h.push(await timed(() => model.hvp(theta, direction, out)));
    const f = await timed(async () => {
      for (let i = 0; i < theta.length; i++) shifted[i] = theta[i] + 1e-3 * direction[i];
      await objective.valueAndGrad(shifted, out);
      for (let i = 0; i < theta.length; i++) shifted[i] = theta[i] - 1e-3 * direction[i];
      await objective.valueAndGrad(shifted, second);
      for (let i = 0; i < theta.length; i++) out[i] = (out[i] - second[i]) / 2e-3;
    });
    if (round >= 2) {
      times.grad.push(g);
      h.forEach((t, k) => times.hvp[k].push(t));
      times.fd.push(f);
    }
  }
  const g = median(times.grad);
  console.log(`\n${objective.name}, ${objective.layout.size} parameters, float32 compiled`);
  console.log(`gradient                         ${g.toFixed(2).padStart(8)} ms`);
  for (const [label, samples] of [
    ...EXACT_MODES.map((mode, k) => [`${mode} HVP`, times.hvp[k]] as const),
    ["central difference of 2 gradients", times.fd] as const,
  ]) {
    const t = median(samples);
    console.log(
      `${label.padEnd(33)}${t.toFixed(2).padStart(8)} ms   ${(t / g).toFixed(2)} × gradient`,
    );
  }
  for (const model of byMode) model.dispose();
}

async function main(): Promise<void> {
  const { hidden, repeats } = parseArgs(process.argv.slice(2));
  const configs: { mode: HvpMode; jit: boolean; objective: JaxObjective<MlpParams, MlpBatch> }[] =
    [];
  for (const jit of [true, false]) {
    for (const mode of HVP_MODES) {
      configs.push({ mode, jit, objective: await digitsObjective(hidden, "float32", jit, mode) });
    }
  }
  const layout = configs[0].objective.layout;
  const theta = seeded(layout.zeros(), 1, 0.3);
  const direction = seeded(layout.zeros(), 2, 1);
  const out = layout.zeros();
  const gradTimes = configs.map((): number[] => []);
  const hvpTimes = configs.map((): number[] => []);
  // Two untimed rounds compile every traced function and warm the caches.
  for (let round = 0; round < repeats + 2; round++) {
    for (const [k, { objective }] of configs.entries()) {
      const g = await timed(() => objective.valueAndGrad(theta, out));
      const h = await timed(() => objective.hvp(theta, direction, out));
      if (round >= 2) {
        gradTimes[k].push(g);
        hvpTimes[k].push(h);
      }
    }
  }
  const compiledGrad = median(gradTimes[0]);
  console.log(
    `digits MLP 64→${hidden}→10, ${digits.rows} rows, float32, ${layout.size} parameters, median of ${repeats}`,
  );
  console.log(
    "mode                   jit    grad ms   hvp ms   hvp/grad   hvp/(jit grad)".padEnd(74),
  );
  for (const [k, { mode, jit }] of configs.entries()) {
    const g = median(gradTimes[k]);
    const h = median(hvpTimes[k]);
    console.log(
      `${mode.padEnd(22)} ${String(jit).padEnd(5)} ${g.toFixed(2).padStart(8)} ${h.toFixed(2).padStart(8)} ${(h / g).toFixed(2).padStart(10)} ${(h / compiledGrad).toFixed(2).padStart(16)}`,
    );
  }
  for (const { objective } of configs) objective.dispose();

  await transformerTimes(repeats);

  const reference = await digitsObjective(hidden, "float64", false, "reverse-over-reverse");
  const exact = reference.layout.zeros();
  await reference.hvp(Float64Array.from(theta), Float64Array.from(direction), exact);
  reference.dispose();
  console.log("\nrelative error ‖Hv − Hv_float64‖ / ‖Hv_float64‖ (float32, compiled)");
  for (const mode of EXACT_MODES) {
    const check = await digitsObjective(hidden, "float32", true, mode);
    await check.hvp(theta, direction, out);
    check.dispose();
    const tag = mode === defaultHvpMode(true) ? " (default)" : "";
    console.log(
      `exact ${mode}${tag}`.padEnd(31) + ` ${relativeError(out, exact).toExponential(2)}`,
    );
  }
  for (const epsilon of [1e-1, 3e-2, 1e-2, 5e-3, 2e-3, 1e-3, 1e-4]) {
    const fd = await digitsObjective(hidden, "float32", true, "finite-difference", epsilon);
    await fd.hvp(theta, direction, out);
    fd.dispose();
    const tag = epsilon === 5e-3 ? " (default)" : "";
    console.log(
      `finite difference ε₀ = ${epsilon.toExponential(0)}${tag}`.padEnd(31) +
        ` ${relativeError(out, exact).toExponential(2)}`,
    );
  }
}

await main();
