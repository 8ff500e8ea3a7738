// descend finetune: the bundled pre-trained model, the task's batches and held-out loss against
// cross-entropies computed here from the model's logits, the command's files (weights that the
// seed log or ZO checkpoint rebuilds bit for bit), its counts, and its errors.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { CliIo } from "../../src/cli/bench.js";
import { runCli } from "../../src/cli/cli.js";
import { FINETUNE_FILES, parseFinetuneArguments } from "../../src/cli/finetune.js";
import type { FinetuneTask } from "../../src/cli/finetuneTask.js";
import {
  PRETRAIN_SETTINGS,
  finetuneTask,
  pretrain,
  pretrainedModelPath,
} from "../../src/cli/finetuneTask.js";
import { ParamSet } from "../../src/params/paramset.js";
import { parseSafetensors, readParams, serializeParams } from "../../src/params/safetensors.js";
import { fillUniform } from "../../src/random/distributions.js";
import { ZoOptimizer } from "../../src/zo/optimizer.js";
import type { ZoStepRecord } from "../../src/zo/record.js";
import { SeedLog } from "../../src/zo/seedLog.js";
import { zoAdam } from "../../src/zo/zoAdam.js";
import { zoSgd } from "../../src/zo/zoSgd.js";
import { loadZoCheckpoint } from "../../src/zo/zoCheckpoint.js";

/** Runs the command line in-process, capturing its output. */
async function cli(
  args: string[],
  io: Partial<CliIo> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { isTTY: false, write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    ...io,
  });
  return { code, stdout, stderr };
}

/** The report.json fields these tests read. */
interface Report {
  format: string;
  settings: { optimizer: string; learningRate: number; steps: number; evalEvery: number };
  outcome: {
    end: string;
    steps: number;
    forwardPasses: number;
    gradients: number;
    initialHeldOutLoss: number;
    finalHeldOutLoss: number;
  };
  curve: { step: number; forwardPasses: number; gradients: number; heldOutLoss: number }[];
  files: string[];
}

async function readReport(dir: string): Promise<Report> {
  return JSON.parse(await readFile(join(dir, FINETUNE_FILES.report), "utf8")) as Report;
}

async function readWeights(task: FinetuneTask, path: string): Promise<Float32Array> {
  const bytes = await readFile(path);
  return readParams(new Uint8Array(bytes), task.layout) as Float32Array;
}

/** Mean next-character cross-entropy of the windows starting at `starts`, from the logits. */
async function crossEntropy(
  task: FinetuneTask,
  params: Float32Array,
  ids: Int32Array,
  starts: readonly number[],
): Promise<number> {
  const { context } = task.model.config;
  const vocab = task.model.vocabulary.chars.length;
  let sum = 0;
  for (const s of starts) {
    const logits = await task.model.logits(params, ids.subarray(s, s + context));
    for (let t = 0; t < context; t++) {
      const row = logits.subarray(t * vocab, (t + 1) * vocab);
      let max = -Infinity;
      for (const x of row) max = Math.max(max, x);
      let total = 0;
      for (const x of row) total += Math.exp(x - max);
      sum += max + Math.log(total) - row[ids[s + t + 1]];
    }
  }
  return sum / (starts.length * context);
}

let dir = "";
let task: FinetuneTask;
let base: ParamSet;
let text = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "descend-finetune-"));
  task = await finetuneTask({ seed: 3 });
  base = await task.readModel(pretrainedModelPath());
  text = (await import("../../src/data/text.js")).loadTinyShakespeare();
});
after(async () => {
  task.dispose();
  await rm(dir, { recursive: true, force: true });
});

describe("the fine-tuning task", () => {
  it("cuts the text at 80% and 90% and keeps all 65 characters", () => {
    const n = 1_115_394;
    assert.deepEqual(task.parts, {
      pretrain: { start: 0, end: Math.floor(0.8 * n) },
      finetune: { start: Math.floor(0.8 * n), end: Math.floor(0.9 * n) },
      heldOut: { start: Math.floor(0.9 * n), end: n },
    });
    assert.equal(task.model.vocabulary.chars.length, 65);
    assert.equal(task.layout.size, 28_576);
  });

  it("measures the held-out loss on evenly spread windows", async () => {
    const ids = task.model.vocabulary.encode(text);
    const { start, end } = task.parts.heldOut;
    const { context } = task.model.config;
    const count = 3;
    const last = end - context - 1;
    const starts = [start, start + Math.round((last - start) / 2), last];
    const expected = await crossEntropy(task, base.data as Float32Array, ids, starts);
    const actual = await task.loss(base.data, { count });
    assert.ok(Math.abs(actual - expected) < 1e-4, `${actual} vs ${expected}`);
  });

  it("draws batch windows from the fine-tuning part by the documented Philox rule", async () => {
    const ids = task.model.vocabulary.encode(text);
    const { start, end } = task.parts.finetune;
    const { context, batchSize } = task.model.config;
    const step = 5;
    const u = fillUniform(new Float64Array(batchSize), 3, 2, step * batchSize);
    const starts = Array.from(u, (x) => start + Math.floor(x * (end - start - context - 1)));
    const expected = await crossEntropy(task, base.data as Float32Array, ids, starts);
    task.selectBatch("finetune", step);
    const actual = await task.model.value(base.data);
    assert.ok(Math.abs(actual - expected) < 1e-4, `${actual} vs ${expected}`);
  });
});

describe("the bundled pre-trained model", () => {
  it("is the 28,576-parameter transformer, trained well below the untrained loss", async () => {
    const bytes = await readFile(pretrainedModelPath());
    const file = parseSafetensors(new Uint8Array(bytes));
    const pretraining = JSON.parse(file.metadata.pretraining) as Record<string, unknown>;
    for (const [key, value] of Object.entries(PRETRAIN_SETTINGS)) {
      assert.equal(pretraining[key], value, key);
    }
    const untrained = await task.loss(task.model.initialParams(), { count: 16 });
    // Logits of N(0, 0.02²) weights are nearly equal: the untrained loss is about ln 65.
    assert.ok(Math.abs(untrained - Math.log(65)) < 0.05, `untrained ${untrained}`);
    const trained = await task.loss(base.data);
    assert.ok(trained < 2.2, `held-out loss of the bundled model ${trained}`);
    assert.equal(file.metadata.heldOutLoss, trained.toFixed(4));
  });

  it("comes from a deterministic pre-training run", async () => {
    const settings = { ...PRETRAIN_SETTINGS, steps: 3, warmupSteps: 1 };
    const losses: number[] = [];
    const first = await pretrain(task, settings, (_, loss) => {
      losses.push(loss);
    });
    const second = await pretrain(task, settings);
    assert.deepEqual(new Uint8Array(second.data.buffer), new Uint8Array(first.data.buffer));
    assert.notDeepEqual(first.data, task.model.initialParams());
    assert.equal(losses.length, 3);
    // The first batch is seen by the untrained model.
    assert.ok(Math.abs(losses[0] - Math.log(65)) < 0.1, `first loss ${losses[0]}`);
  });
});

describe("descend finetune arguments", () => {
  it("defaults to MeZO with virtual perturbations", () => {
    const a = parseFinetuneArguments([]);
    assert.equal(a.optimizer, "zo-sgd");
    assert.equal(a.seed, 0);
    assert.equal(a.figures, "svg");
    assert.equal(a.perturbation, undefined);
    assert.equal(parseFinetuneArguments(["--perturbation", "in-place"]).perturbation, "inPlace");
    assert.equal(a.directionDistribution, undefined);
    assert.equal(
      parseFinetuneArguments(["--direction-distribution", "normal-float32"]).directionDistribution,
      "normalFloat32",
    );
    assert.equal(
      parseFinetuneArguments(["--direction-distribution", "normal"]).directionDistribution,
      "normal",
    );
  });

  it("refuses mistakes with exit status 2, naming the option", async () => {
    const cases: [string[], RegExp][] = [
      [["--optimizer", "lion"], /--optimizer must be zo-sgd, .*adamw, sgd, got "lion"/],
      [["--optimizer", "adamw", "--epsilon", "1e-3"], /--epsilon applies to zeroth-order/],
      [["--perturbation", "sideways"], /--perturbation must be virtual or in-place/],
      [
        ["--direction-distribution", "uniform"],
        /--direction-distribution must be normal or normal-float32, got "uniform"/,
      ],
      [
        ["--optimizer", "sgd", "--direction-distribution", "normal"],
        /--direction-distribution applies to zeroth-order optimizers only, not to sgd/,
      ],
      [["--steps", "0"], /--steps must be an integer in \[1, 10000000\], got "0"/],
      [["--learning-rate=-1"], /--learning-rate needs positive numbers, got "-1"/],
      [["--figures", "png"], /--figures must be svg or none/],
      [["--model", ""], /--model needs a safetensors file/],
      [["--bogus"], /Unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const { code, stderr } = await cli(["finetune", ...args]);
      assert.equal(code, 2, args.join(" "));
      assert.match(stderr, message);
      assert.match(stderr, /descend finetune --help/);
    }
  });

  it("documents its options", async () => {
    const { code, stdout } = await cli(["finetune", "--help"]);
    assert.equal(code, 0);
    for (const option of [
      "--model",
      "--optimizer",
      "--steps",
      "--learning-rate",
      "--epsilon",
      "--direction-distribution",
      "normal-float32",
    ]) {
      assert.ok(stdout.includes(option), option);
    }
    for (const name of ["zo-sgd", "zo-adam", "zo-cons", "adamw", "zo-checkpoint.safetensors"]) {
      assert.ok(stdout.includes(name), name);
    }
    assert.equal((await cli(["help", "finetune"])).stdout, stdout);
  });
});

describe("descend finetune runs", () => {
  const quick = ["--eval-windows", "4", "--figures", "none"];

  it("fine-tunes with MeZO and writes weights its ZO checkpoint rebuilds bit for bit", async () => {
    const out = join(dir, "mezo");
    const { code, stdout, stderr } = await cli([
      "finetune",
      "--steps",
      "6",
      "--eval-every",
      "3",
      "--seed",
      "3",
      "--out",
      out,
      ...quick,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /held-out loss \d\.\d{4} → \d\.\d{4}/);
    const report = await readReport(out);
    assert.equal(report.format, "descend-finetune-report");
    assert.deepEqual(
      report.curve.map((p) => [p.step, p.forwardPasses, p.gradients]),
      [
        [0, 0, 0],
        [3, 6, 0],
        [6, 12, 0],
      ],
    );
    assert.equal(report.outcome.end, "finished");
    assert.equal(report.settings.learningRate, 2e-4);
    const weights = await readWeights(task, join(out, FINETUNE_FILES.weights));
    assert.notDeepEqual(weights, base.data);
    const final = await task.loss(weights, { count: 4 });
    assert.equal(report.outcome.finalHeldOutLoss, final);
    const replayed = await loadZoCheckpoint(join(out, FINETUNE_FILES.zoCheckpoint), base);
    assert.deepEqual(new Uint8Array(replayed.params.data.buffer), new Uint8Array(weights.buffer));
    assert.equal(replayed.history.log.length, 6);
    assert.equal(existsSync(join(out, FINETUNE_FILES.seedLog)), false);
    assert.match(await readFile(join(out, FINETUNE_FILES.html), "utf8"), /<table>/);
  });

  it("draws normal-float32 directions when asked, and records them in its ZO checkpoint", async () => {
    const out = join(dir, "mezo-float32");
    const steps = 3;
    const { code, stdout, stderr } = await cli([
      "finetune",
      "--direction-distribution",
      "normal-float32",
      "--steps",
      String(steps),
      "--seed",
      "3",
      "--out",
      out,
      ...quick,
    ]);
    assert.equal(code, 0, stderr);
    assert.match(stdout, /normal-float32 directions/);
    const report = (await readReport(out)) as Report & {
      settings: { directionDistribution: string };
    };
    assert.equal(report.settings.directionDistribution, "normalFloat32");
    const weights = await readWeights(task, join(out, FINETUNE_FILES.weights));
    // The same run, written out here: batches and directions of seed 3, float32-native normals.
    const params = base.data.slice() as Float32Array;
    const reference = new ZoOptimizer(
      params,
      zoSgd({ learningRate: 2e-4, epsilon: 1e-3, seed: 3, directionDistribution: "normalFloat32" }),
    );
    for (let t = 0; t < steps; t++) {
      task.selectBatch("finetune", t, 3);
      const { records } = await reference.step((p) => task.model.value(p));
      assert.equal(records[0].directionDistribution, "normalFloat32");
    }
    assert.deepEqual(new Uint8Array(weights.buffer), new Uint8Array(params.buffer));
    const replayed = await loadZoCheckpoint(join(out, FINETUNE_FILES.zoCheckpoint), base);
    assert.deepEqual(new Uint8Array(replayed.params.data.buffer), new Uint8Array(weights.buffer));
    assert.equal(replayed.history.directionDistribution, "normalFloat32");
    assert.equal(replayed.history.log.run?.directionDistribution, "normalFloat32");
  });

  it("writes the seed log of a ZO-Adam run with in-place perturbations, which replays", async () => {
    const out = join(dir, "zo-adam");
    const { code, stderr } = await cli([
      "finetune",
      "--optimizer",
      "zo-adam",
      "--perturbation",
      "in-place",
      "--steps",
      "3",
      "--directions",
      "2",
      "--out",
      out,
      ...quick,
    ]);
    assert.equal(code, 0, stderr);
    const report = await readReport(out);
    assert.equal(report.outcome.forwardPasses, 12);
    const log = SeedLog.decode(new Uint8Array(await readFile(join(out, FINETUNE_FILES.seedLog))));
    assert.equal(log.length, 6);
    const params = base.data.slice() as Float32Array;
    const replay = new ZoOptimizer(
      params,
      zoAdam({ learningRate: 3e-4, directions: 2, perturbation: "inPlace", seed: 0 }),
    );
    const records = [...log] as ZoStepRecord[];
    for (let step = 0; step < 3; step++) replay.replay(records.slice(2 * step, 2 * step + 2));
    const weights = await readWeights(task, join(out, FINETUNE_FILES.weights));
    assert.deepEqual(new Uint8Array(params.buffer), new Uint8Array(weights.buffer));
    assert.equal(existsSync(join(out, FINETUNE_FILES.zoCheckpoint)), false);
  });

  it("counts a gradient per first-order step and improves the held-out loss with AdamW", async () => {
    const out = join(dir, "adamw");
    const { code, stderr } = await cli([
      "finetune",
      "--optimizer",
      "adamw",
      "--steps",
      "8",
      "--out",
      out,
      "--eval-windows",
      "16",
      "--figures",
      "svg",
    ]);
    assert.equal(code, 0, stderr);
    const report = await readReport(out);
    const last = report.curve[report.curve.length - 1];
    assert.deepEqual([last.step, last.forwardPasses, last.gradients], [8, 8, 8]);
    assert.ok(report.outcome.finalHeldOutLoss < report.outcome.initialHeldOutLoss);
    assert.deepEqual(report.files, [
      FINETUNE_FILES.weights,
      FINETUNE_FILES.report,
      FINETUNE_FILES.html,
    ]);
    assert.match(await readFile(join(out, FINETUNE_FILES.html), "utf8"), /<svg role="img"/);
  });

  it("stops when interrupted and still writes the files", async () => {
    const out = join(dir, "interrupted");
    const controller = new AbortController();
    controller.abort();
    const { code, stderr } = await cli(["finetune", "--out", out, ...quick], {
      signal: controller.signal,
    });
    assert.equal(code, 130);
    assert.match(stderr, /interrupted after 0 of 1000 steps/);
    const weights = await readWeights(task, join(out, FINETUNE_FILES.weights));
    assert.deepEqual(weights, base.data);
  });

  it("fails with exit status 1 on a missing model or one of another layout", async () => {
    const missing = await cli([
      "finetune",
      "--model",
      join(dir, "none.safetensors"),
      "--out",
      join(dir, "missing"),
      ...quick,
    ]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /cannot read the model .*none\.safetensors: ENOENT/);

    const other = ParamSet.fromRecord({ tokenEmbedding: new Float32Array(4) });
    const path = join(dir, "other.safetensors");
    await writeFile(path, serializeParams(other.layout, other.data));
    const wrong = await cli(["finetune", "--model", path, "--out", join(dir, "wrong"), ...quick]);
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /cannot read the model .*: tensor "tokenEmbedding" has shape \[4\]/);
  });
});
