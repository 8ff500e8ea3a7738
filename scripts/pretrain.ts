/**
 * Writes data/shakespeare-transformer.safetensors: the character-level transformer that
 * `descend finetune`, bench/zoMemory.ts and the mezo-memory reproduction fine-tune.
 *
 * The model is the benchmark's transformer (2 blocks, width 32, 2 heads, context 32; 28,576
 * float32 parameters) from its seed-0 initialization, trained with AdamW for 3000 steps of 16
 * windows drawn from the first 80% of tiny Shakespeare (batch seed 0), learning rate warming up
 * linearly to 1e-2 over 100 steps and decaying by a cosine to 1e-3, weight decay 0.01
 * (src/cli/finetuneTask.ts: PRETRAIN_SETTINGS, pretrain). The last 20% of the text is never
 * seen: the next 10% is what fine-tuning trains on, the last 10% what it is measured on.
 * Everything is seeded, so rerunning this script rewrites the same bits (about a minute on two
 * cores):
 *
 *     npx tsx scripts/pretrain.ts
 *
 * The file's metadata records these settings and the held-out loss of the result.
 */
import { writeFileSync } from "node:fs";
import {
  PRETRAIN_END,
  PRETRAIN_SETTINGS,
  TASK_MODEL_CONFIG,
  finetuneTask,
  pretrain,
  pretrainedModelPath,
} from "../src/cli/finetuneTask.js";
import { serializeParams } from "../src/params/safetensors.js";

const task = await finetuneTask({ seed: 0 });
try {
  const started = performance.now();
  const initialLoss = await task.loss(task.model.initialParams());
  const params = await pretrain(task, PRETRAIN_SETTINGS, (done, loss) => {
    if (done % 250 === 0) {
      const seconds = ((performance.now() - started) / 1000).toFixed(0);
      process.stderr.write(
        `step ${done}/${PRETRAIN_SETTINGS.steps}: batch loss ${loss.toFixed(4)} (${seconds} s)\n`,
      );
    }
  });
  const heldOutLoss = await task.loss(params.data);
  const bytes = serializeParams(params.layout, params.data, {
    model: JSON.stringify({
      architecture: "charTransformer",
      ...TASK_MODEL_CONFIG,
      vocabulary: 65,
    }),
    pretraining: JSON.stringify({
      optimizer: "adamw",
      ...PRETRAIN_SETTINGS,
      schedule: "warmupCosine",
      batchSeed: task.seed,
      initSeed: 0,
      text: `tinyshakespeare.txt, first ${PRETRAIN_END * 100}%`,
    }),
    heldOutLoss: heldOutLoss.toFixed(4),
    regenerate: "npx tsx scripts/pretrain.ts",
  });
  writeFileSync(pretrainedModelPath(), bytes);
  process.stdout.write(
    `wrote ${pretrainedModelPath()} (${bytes.length} bytes): held-out loss ${initialLoss.toFixed(4)} → ${heldOutLoss.toFixed(4)} nats per character\n`,
  );
} finally {
  task.dispose();
}
