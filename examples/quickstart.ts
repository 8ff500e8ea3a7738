// Quick start: a small jax-js network on the UCI digits, trained by AdamW with a warmup-cosine
// learning-rate schedule. Run it with `npx tsx examples/quickstart.ts`.
import { pathToFileURL } from "node:url";
import { nn, numpy as np, random } from "@jax-js/jax";
// Inside this repository the package is imported from its sources; users write `from "descend"`.
import {
  Optimizer,
  adamw,
  classificationArrays,
  jaxObjective,
  loadDigits,
  warmupCosine,
} from "../src/index.js";

/** Trains for `steps` full-batch steps; returns the loss before each step. */
export async function main(steps = 200): Promise<number[]> {
  const layer = (seed: number, inputs: number, outputs: number) => ({
    weight: random.uniform(random.key(seed), [inputs, outputs], { minval: -0.3, maxval: 0.3 }),
    bias: np.zeros([outputs]),
  });
  const model = await jaxObjective({
    params: { hidden: layer(1, 64, 32), output: layer(2, 32, 10) },
    data: classificationArrays(loadDigits()), // x: [1797, 64] pixels, y: [1797, 10] one-hot
    loss: (p, { x, y }) => {
      const h = np.tanh(np.add(np.matmul(x, p.hidden.weight), p.hidden.bias));
      const logits = np.add(np.matmul(h, p.output.weight), p.output.bias);
      return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits, -1), y), -1)));
    },
  });
  const learningRate = warmupCosine({ peak: 0.02, warmupSteps: 20, totalSteps: steps });
  const optimizer = new Optimizer(model.paramSet(), adamw({ learningRate }));
  const losses: number[] = [];
  for (let step = 0; step < steps; step++) losses.push((await optimizer.step(model)).loss!);
  model.dispose();
  return losses;
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const losses = await main();
  for (let step = 0; step < losses.length; step += 20) {
    console.log(`step ${String(step).padStart(3)}  loss ${losses[step].toFixed(4)}`);
  }
  console.log(`final loss ${losses[losses.length - 1].toFixed(4)}`);
}
