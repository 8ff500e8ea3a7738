/**
 * Zeroth-order fine-tuning: its memory against inference and first-order fine-tuning, and what
 * it buys per second.
 *
 * Memory (src/reproduce/memoryProbe.ts, src/reproduce/mezoMemory.ts `measureFinetuneMemory`):
 * the peak bytes of (a) a forward pass, (b) one MeZO step with the perturbation written in place
 * and (c) with the virtual one, and (d) one AdamW step, each above the state with the model and
 * its batch loaded, the optimizer created inside the step so its state counts. JavaScript is
 * read as heap (machine code excepted) + ArrayBuffers after full collections around every
 * oracle call (plus the ArrayBuffers a call allocates), jax-js as the live bytes of its wasm
 * buffers at every allocation; each operation runs twice unmeasured, then each figure is the
 * median of 5 measurements. ArrayBuffers and jax-js buffers are counted exactly; the heap
 * jitters by some KiB between readings, which the summary separates out ("exact part") since
 * it is of the size of the target on the bundled model. Two models: the bundled pre-trained
 * transformer (28,576 parameters) and the same architecture scaled to 4 blocks of width 256
 * (3.2M parameters, 8 heads, context 64, batches of 4 windows; untrained, memory only).
 * Targets: the MeZO step's extra bytes over the forward pass at most 5% of the parameter bytes,
 * and no parameter-sized temporary.
 *
 * Loss per time: MeZO (in place, learning rate 2e-4, ε 1e-3) takes `--steps` steps from the
 * bundled model, N = 2 × steps forward passes, in T seconds of stepping; AdamW (learning rate
 * 1e-3) then steps from the same model until its stepping time reaches T. Both report the
 * held-out loss (128 windows of the last 10% of the text); evaluations are not timed.
 *
 *     npx tsx bench/zoMemory.ts [--steps 1000] [--quick] [--json FILE]
 *
 * `--quick` measures the bundled model only, with 100 MeZO steps.
 */
import { writeFileSync } from "node:fs";
import type { FinetuneTask, TaskModelConfig } from "../src/cli/finetuneTask.js";
import {
  DEFAULT_LEARNING_RATES,
  directionRandom,
  finetuneTask,
  pretrainedModelPath,
  runFinetune,
} from "../src/cli/finetuneTask.js";
import type { ParamSet } from "../src/params/paramset.js";
import { MemoryProbe } from "../src/reproduce/memoryProbe.js";
import type { FinetuneMemory } from "../src/reproduce/mezoMemory.js";
import { measureFinetuneMemory, memoryOf, memoryTable } from "../src/reproduce/mezoMemory.js";

interface Options {
  steps: number;
  quick: boolean;
  json: string | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { steps: 1000, quick: false, json: null };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--quick") {
      options.quick = true;
      options.steps = 100;
    } else if (arg === "--steps") {
      options.steps = Number(argv[++i]);
      if (!Number.isInteger(options.steps) || options.steps < 1) {
        throw new RangeError(`--steps needs a positive integer, got ${argv[i]}`);
      }
    } else if (arg === "--json") {
      options.json = argv[++i] ?? null;
      if (options.json === null) throw new RangeError("--json needs a file");
    } else {
      throw new RangeError(`unknown argument ${arg} (use --steps N, --quick, --json FILE)`);
    }
  }
  return options;
}

/** The bundled architecture, 4 blocks of width 256: 3.2M parameters. */
const SCALED: TaskModelConfig = { layers: 4, dModel: 256, heads: 8, context: 64, batchSize: 4 };

interface MemoryRow {
  model: string;
  memory: FinetuneMemory;
}

function summaryLines(row: MemoryRow): string {
  const m = row.memory;
  const inference = memoryOf(m, "inference");
  const inPlace = memoryOf(m, "mezo-in-place");
  const virtual = memoryOf(m, "mezo-virtual");
  const adamw = memoryOf(m, "adamw");
  const over = (bytes: number) => ((100 * (bytes - inference)) / m.parameterBytes).toFixed(1);
  const meets = (bytes: number) =>
    bytes - inference <= 0.05 * m.parameterBytes ? "meets" : "misses";
  const exact = (c: "inference" | "mezo-in-place") =>
    m.configurations.find((x) => x.configuration === c)!.measurement.exactPeakBytes;
  const exactOver = exact("mezo-in-place") - exact("inference");
  return (
    `  MeZO in place: ${over(inPlace)}% of the parameter bytes over a forward pass (${meets(inPlace)} the 5% target)\n` +
    `    exact part (ArrayBuffers + jax-js buffers): ${((100 * exactOver) / m.parameterBytes).toFixed(1)}%; ` +
    `the rest is JavaScript heap\n` +
    `  MeZO virtual:  ${over(virtual)}% (${meets(virtual)} it: its perturbed point is a parameter-sized buffer)\n` +
    `  AdamW ÷ MeZO in place: ${(adamw / inPlace).toFixed(2)}×; AdamW ÷ inference: ${(adamw / inference).toFixed(2)}×\n`
  );
}

async function measureModel(
  name: string,
  task: FinetuneTask,
  params: ParamSet,
  probe: MemoryProbe,
): Promise<MemoryRow> {
  task.selectBatch("finetune", 0);
  const memory = await measureFinetuneMemory(task, params, probe);
  process.stdout.write(
    `\n${name}: ${memory.parameters.toLocaleString("en-US")} parameters, ` +
      `${(memory.parameterBytes / 1024).toFixed(1)} KiB\n${memoryTable(memory)}\n${summaryLines({ model: name, memory })}`,
  );
  return { model: name, memory };
}

const options = parseArgs(process.argv.slice(2));
const probe = await MemoryProbe.open();
if (!probe.tracksJax) {
  process.stderr.write("jax-js buffers cannot be tracked with this jax-js build; totals are NaN\n");
}
process.stdout.write(
  "Memory of one step, above the loaded model (buffers kept: ArrayBuffers alive after the step,\n" +
    "exact; heap kept: JavaScript objects, within some KiB; peaks during the step; memory:\n" +
    "parameters + JavaScript and jax-js peak together; extra ÷ params: bytes over the forward\n" +
    "pass ÷ parameter bytes)\n",
);
const rows: MemoryRow[] = [];
const task = await finetuneTask({ seed: 0 });
try {
  const base = await task.readModel(pretrainedModelPath());
  rows.push(await measureModel("bundled transformer (2 blocks, width 32)", task, base, probe));

  if (!options.quick) {
    const scaled = await finetuneTask({ seed: 0, config: SCALED });
    try {
      rows.push(
        await measureModel(
          "scaled transformer (4 blocks, width 256)",
          scaled,
          scaled.model.paramSet(),
          probe,
        ),
      );
    } finally {
      scaled.dispose();
    }
  }
  probe.close();

  // Loss per wall time. Untimed warm-up steps first compile both optimizers' oracles.
  const mezoSettings = {
    optimizer: "zo-sgd" as const,
    learningRate: DEFAULT_LEARNING_RATES["zo-sgd"],
    perturbation: "inPlace" as const,
    seed: 0,
  };
  const adamwSettings = {
    optimizer: "adamw" as const,
    learningRate: DEFAULT_LEARNING_RATES.adamw,
    seed: 0,
  };
  // Timed runs generate directions with the fast generator, as `descend finetune` does.
  const random = await directionRandom();
  await runFinetune(task, base, mezoSettings, { steps: 2, evalEvery: 2, random });
  await runFinetune(task, base, adamwSettings, { steps: 2, evalEvery: 2 });
  process.stdout.write(
    `\nHeld-out loss per stepping time (from ${pretrainedModelPath().split(/[\\/]/).pop()}):\n`,
  );
  const mezo = await runFinetune(task, base, mezoSettings, {
    steps: options.steps,
    evalEvery: options.steps,
    random,
  });
  await random.close();
  const mezoEnd = mezo.curve[mezo.curve.length - 1];
  const adamw = await runFinetune(task, base, adamwSettings, {
    steps: 10 * options.steps,
    evalEvery: 10 * options.steps,
    timeLimitMs: mezoEnd.trainingMs,
  });
  const adamwEnd = adamw.curve[adamw.curve.length - 1];
  const line = (name: string, steps: number, calls: string, ms: number, loss: number) =>
    `  ${name.padEnd(16)} ${String(steps).padStart(6)} steps  ${calls.padStart(26)}  ${(ms / 1000).toFixed(1).padStart(6)} s  held-out ${loss.toFixed(4)}`;
  process.stdout.write(
    `${line("pre-trained", 0, "", 0, mezo.curve[0].heldOutLoss)}\n` +
      `${line("MeZO (in place)", mezo.steps, `${mezoEnd.forwardPasses} forward passes`, mezoEnd.trainingMs, mezoEnd.heldOutLoss)}\n` +
      `${line("AdamW", adamw.steps, `${adamwEnd.gradients} gradients`, adamwEnd.trainingMs, adamwEnd.heldOutLoss)}\n` +
      `  per step: MeZO ${(mezoEnd.trainingMs / mezo.steps).toFixed(1)} ms (two forward passes), AdamW ${(adamwEnd.trainingMs / adamw.steps).toFixed(1)} ms (one gradient)\n`,
  );
  if (options.json !== null) {
    writeFileSync(
      options.json,
      `${JSON.stringify({ memory: rows, lossPerTime: { mezo: mezo.curve, adamw: adamw.curve } }, null, 2)}\n`,
    );
  }
} finally {
  task.dispose();
}
