/**
 * `descend finetune`: fine-tunes the bundled pre-trained character transformer on text it has
 * not seen, with MeZO (zeroth-order SGD, only forward passes: Malladi, Gao, Nichani, Damian, Lee,
 * Chen & Arora, "Fine-Tuning Language Models with Just Forward Passes", NeurIPS 2023) unless
 * another optimizer is named, and writes what a user needs to trust and reuse the result: the
 * fine-tuned weights, a report with the held-out loss against forward passes, and the run as a
 * seed log from which the weights replay bit for bit.
 *
 * The task (model, parts of the text, batches) is finetuneTask.ts's. The held-out loss is
 * measured on fixed windows of the last 10% of the text at step 0, every `--eval-every` steps
 * and at the end; those evaluations are neither counted as forward passes nor timed.
 *
 * Zeroth-order runs generate their directions with finetuneTask.ts's `directionRandom`, the
 * WebAssembly SIMD fills of `useFastRandom` (the same bits as the JavaScript definitions, so a
 * run's files do not depend on it).
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import type { TopLevelSpec } from "vega-lite";
import type { ParamSet } from "../params/paramset.js";
import { serializeParams } from "../params/safetensors.js";
import type { FastRandom } from "../random/fast.js";
import type { FigureSpec } from "../report/figures.js";
import { FONT_STACK, renderFigures } from "../report/figures.js";
import { escapeXml, inlineSvg } from "../report/html.js";
import { collectEnvironment, defaultReportDir } from "../report/write.js";
import type { ZoDirectionDistribution } from "../zo/directions.js";
import { hashBits } from "../zo/hash.js";
import type { Perturbation } from "../zo/record.js";
import { ZoHistory } from "../zo/replay.js";
import { SeedLog } from "../zo/seedLog.js";
import { saveZoCheckpoint } from "../zo/zoCheckpoint.js";
import {
  EXIT_INTERRUPTED,
  EXIT_USAGE,
  UsageError,
  messageOf,
  parseChoice,
  parseInteger,
  parsePositive,
} from "./args.js";
import type { CliIo } from "./bench.js";
import type {
  FinetuneOptimizer,
  FinetunePoint,
  FinetuneRun,
  FinetuneSettings,
  FinetuneTask,
} from "./finetuneTask.js";
import {
  DEFAULT_EPSILON,
  DEFAULT_LEARNING_RATES,
  DEFAULT_STEPS,
  FINETUNE_END,
  FINETUNE_OPTIMIZERS,
  HELD_OUT_WINDOWS,
  PRETRAIN_END,
  directionRandom,
  finetuneTask,
  isZeroOrder,
  pretrainedModelPath,
  runFinetune,
} from "./finetuneTask.js";

/** Largest seed (Philox keys of the batches and directions). */
const MAX_SEED = 0xffffffff;

/** Milliseconds between progress lines. */
const PROGRESS_EVERY_MS = 1000;

/** Held-out measurements of a run by default. */
const DEFAULT_MEASUREMENTS = 20;

/** `format` of report.json. */
export const FINETUNE_REPORT_FORMAT = "descend-finetune-report";

/** Version of report.json. */
export const FINETUNE_REPORT_VERSION = 1;

/** File names written into the output directory. */
export const FINETUNE_FILES = Object.freeze({
  weights: "finetuned.safetensors",
  report: "report.json",
  html: "index.html",
  zoCheckpoint: "zo-checkpoint.safetensors",
  seedLog: "seed-log.bin",
});

/** Parsed `descend finetune` arguments. */
export interface FinetuneArguments {
  /** Whether `--help` was given. */
  readonly help: boolean;
  /** The pre-trained parameters (default: the bundled model). */
  readonly model?: string;
  /** The optimizer. */
  readonly optimizer: FinetuneOptimizer;
  /** Steps, or undefined for the optimizer's default. */
  readonly steps?: number;
  /** Learning rate, or undefined for the optimizer's default. */
  readonly learningRate?: number;
  /** ε of zeroth-order steps, or undefined for the default. */
  readonly epsilon?: number;
  /** Directions per zeroth-order step, or undefined for 1. */
  readonly directions?: number;
  /** How zeroth-order steps evaluate θ ± εz, or undefined for virtual. */
  readonly perturbation?: Perturbation;
  /** The Gaussian sequence of zeroth-order directions, or undefined for normal. */
  readonly directionDistribution?: ZoDirectionDistribution;
  /** Seed of the batch order and the directions. */
  readonly seed: number;
  /** Steps between held-out measurements, or undefined for steps / 20. */
  readonly evalEvery?: number;
  /** Windows of the held-out loss. */
  readonly evalWindows: number;
  /** Whether index.html gets the figure. */
  readonly figures: "svg" | "none";
  /** Output directory, or undefined for reports/finetune/<time>. */
  readonly out?: string;
}

const OPTIMIZER_NAMES: Readonly<Record<FinetuneOptimizer, string>> = Object.freeze({
  "zo-sgd": "zeroth-order SGD, MeZO",
  "zo-momentum": "zeroth-order SGD with momentum",
  "zo-adam": "zeroth-order Adam",
  "zo-sign": "zeroth-order signSGD",
  "zo-cons": "conservative zeroth-order SGD",
  adamw: "AdamW, first order",
  sgd: "SGD, first order",
});

/** The text of `descend finetune --help`. */
export function finetuneHelp(): string {
  const rates = FINETUNE_OPTIMIZERS.map(
    (name) =>
      `  ${name.padEnd(12)} ${OPTIMIZER_NAMES[name]}, learning rate ${DEFAULT_LEARNING_RATES[name]}`,
  ).join("\n");
  return `Usage: descend finetune [options]

Fine-tunes a small pre-trained character-level transformer on text it has never seen, using only
forward passes: MeZO (zeroth-order SGD; two forward passes per step, no gradient, no optimizer
state) unless another optimizer is named. The bundled model (28,576 parameters) was trained with
AdamW on the first ${PRETRAIN_END * 100}% of tiny Shakespeare; fine-tuning takes its batches from the next
${Math.round((FINETUNE_END - PRETRAIN_END) * 100)}%, and the held-out loss is measured on the last ${Math.round((1 - FINETUNE_END) * 100)}%. Progress goes to stderr, a summary
to stdout, and into DIR:

  ${FINETUNE_FILES.weights.padEnd(26)} the fine-tuned parameters
  ${FINETUNE_FILES.report.padEnd(26)} settings, the held-out loss curve and the outcome
  ${FINETUNE_FILES.html.padEnd(26)} the curve (held-out loss against forward passes) and a table
  ${FINETUNE_FILES.zoCheckpoint.padEnd(26)} zo-sgd and zo-cons with virtual perturbations: the run as a
  ${"".padEnd(26)} seed log; loadZoCheckpoint(file, base) rebuilds the fine-tuned
  ${"".padEnd(26)} parameters bit for bit from the pre-trained ones
  ${FINETUNE_FILES.seedLog.padEnd(26)} other zeroth-order runs: the step records (SeedLog.decode);
  ${"".padEnd(26)} ZoOptimizer.replay reruns them step by step

Ctrl+C stops after the current step and writes what the run has.

Options:
  -m, --model FILE         pre-trained parameters, a safetensors file with the bundled model's
                           tensors (default: ${pretrainedModelPath().split(/[\\/]/).slice(-2).join("/")})
  -o, --optimizer NAME     the optimizer (below; default zo-sgd)
  -n, --steps N            steps (default ${DEFAULT_STEPS.zeroOrder} zeroth-order, ${DEFAULT_STEPS.firstOrder} first-order)
      --learning-rate η    constant learning rate (default: the optimizer's, below)
      --epsilon ε          perturbation size of zeroth-order steps (default ${DEFAULT_EPSILON})
      --directions K       random directions per zeroth-order step (default 1)
      --perturbation P     virtual (default: the weights are never written while perturbed,
                           so the seed log replays bit for bit) or in-place (MeZO's: the
                           perturbation is written over the weights and removed again, no
                           parameter-sized buffer, the last bits drift)
      --direction-distribution D
                           normal (default: the float64 Gaussian sequence rounded to
                           float32) or normal-float32 (a float32-native Gaussian sequence,
                           about twice as fast to generate with WebAssembly SIMD; a different
                           run, recorded in the seed log and ZO checkpoint, which replay
                           only with it)
  -s, --seed S             seed of the batch order and the directions, an integer in
                           [0, 2^32) (default 0)
      --eval-every K       held-out loss every K steps (default: steps / ${DEFAULT_MEASUREMENTS})
      --eval-windows W     windows of 32 + 1 characters the held-out loss averages (default ${HELD_OUT_WINDOWS})
      --figures MODE       svg (default: the curve in index.html) or none
      --out DIR            output directory (default: reports/finetune/<UTC timestamp>)
  -h, --help               show this help

Optimizers (default learning rates, tuned on this task):
${rates}

Exit status: 0 when the run finished and its files were written, 1 when it diverged or failed
(the files of the last good step are still written when possible), ${EXIT_USAGE} for a command-line
mistake, ${EXIT_INTERRUPTED} when interrupted.

Example:
  descend finetune --steps 500 --out finetune-mezo
`;
}

/** Parses `descend finetune` arguments; throws a {@link UsageError} on a mistake. */
export function parseFinetuneArguments(args: readonly string[]): FinetuneArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        model: { type: "string", short: "m" },
        optimizer: { type: "string", short: "o" },
        steps: { type: "string", short: "n" },
        "learning-rate": { type: "string" },
        epsilon: { type: "string" },
        directions: { type: "string" },
        perturbation: { type: "string" },
        "direction-distribution": { type: "string" },
        seed: { type: "string", short: "s" },
        "eval-every": { type: "string" },
        "eval-windows": { type: "string" },
        figures: { type: "string" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(messageOf(error));
  }
  const v = parsed.values;
  const optimizer =
    v.optimizer === undefined
      ? "zo-sgd"
      : parseChoice("optimizer", v.optimizer, FINETUNE_OPTIMIZERS);
  if (!isZeroOrder(optimizer)) {
    for (const option of [
      "epsilon",
      "directions",
      "perturbation",
      "direction-distribution",
    ] as const) {
      if (v[option] !== undefined) {
        throw new UsageError(
          `--${option} applies to zeroth-order optimizers only, not to ${optimizer}`,
        );
      }
    }
  }
  if (v.model !== undefined && v.model.trim() === "") {
    throw new UsageError("--model needs a safetensors file");
  }
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out needs a directory");
  let perturbation: Perturbation | undefined;
  if (v.perturbation !== undefined) {
    const choice = parseChoice("perturbation", v.perturbation, ["virtual", "in-place"]);
    perturbation = choice === "in-place" ? "inPlace" : "virtual";
  }
  let directionDistribution: ZoDirectionDistribution | undefined;
  if (v["direction-distribution"] !== undefined) {
    const choice = parseChoice("direction-distribution", v["direction-distribution"], [
      "normal",
      "normal-float32",
    ]);
    directionDistribution = choice === "normal-float32" ? "normalFloat32" : "normal";
  }
  return {
    help: v.help === true,
    ...(v.model === undefined ? {} : { model: v.model }),
    optimizer,
    ...(v.steps === undefined ? {} : { steps: parseInteger("steps", v.steps, 1, 10_000_000) }),
    ...(v["learning-rate"] === undefined
      ? {}
      : { learningRate: parsePositive("learning-rate", v["learning-rate"]) }),
    ...(v.epsilon === undefined ? {} : { epsilon: parsePositive("epsilon", v.epsilon) }),
    ...(v.directions === undefined
      ? {}
      : { directions: parseInteger("directions", v.directions, 1, 1024) }),
    ...(perturbation === undefined ? {} : { perturbation }),
    ...(directionDistribution === undefined ? {} : { directionDistribution }),
    seed: v.seed === undefined ? 0 : parseInteger("seed", v.seed, 0, MAX_SEED),
    ...(v["eval-every"] === undefined
      ? {}
      : { evalEvery: parseInteger("eval-every", v["eval-every"], 1, 10_000_000) }),
    evalWindows:
      v["eval-windows"] === undefined
        ? HELD_OUT_WINDOWS
        : parseInteger("eval-windows", v["eval-windows"], 1, 4096),
    figures: v.figures === undefined ? "svg" : parseChoice("figures", v.figures, ["svg", "none"]),
    ...(v.out === undefined ? {} : { out: v.out }),
  };
}

/** A loss with 4 decimals. */
function formatLoss(x: number): string {
  return Number.isFinite(x) ? x.toFixed(4) : String(x);
}

/** Seconds with one decimal. */
function formatSeconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** `x` with an explicit sign and 4 decimals. */
function formatChange(x: number): string {
  return `${x >= 0 ? "+" : "−"}${Math.abs(x).toFixed(4)}`;
}

/** The curve as a plain-text table. */
export function curveTable(curve: readonly FinetunePoint[]): string {
  const header = ["step", "forward passes", "gradients", "seconds", "held-out loss"];
  const rows = curve.map((p) => [
    String(p.step),
    String(p.forwardPasses),
    String(p.gradients),
    (p.trainingMs / 1000).toFixed(1),
    formatLoss(p.heldOutLoss),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) =>
    `  ${cells.map((c, i) => c.padStart(widths[i])).join("  ")}`;
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** One line naming the optimizer and its settings. */
function describeSettings(s: FinetuneSettings, steps: number): string {
  const parts = [
    `${s.optimizer} (${OPTIMIZER_NAMES[s.optimizer]})`,
    `${steps} steps`,
    `learning rate ${s.learningRate}`,
  ];
  if (isZeroOrder(s.optimizer)) {
    parts.push(
      `ε ${s.epsilon}`,
      `${s.directions} direction${s.directions === 1 ? "" : "s"}`,
      `${s.perturbation === "inPlace" ? "in-place" : "virtual"} perturbation`,
      `${s.directionDistribution === "normalFloat32" ? "normal-float32" : "normal"} directions`,
    );
  }
  parts.push(`seed ${s.seed}`);
  return parts.join(", ");
}

/** The figure: held-out loss against forward passes (gradients for first-order runs). */
function curveFigure(run: FinetuneRun, optimizer: FinetuneOptimizer): FigureSpec {
  const zeroOrder = isZeroOrder(optimizer);
  const x = zeroOrder ? "forwardPasses" : "gradients";
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    width: 420,
    height: 250,
    background: "white",
    config: { font: FONT_STACK },
    title: `held-out loss, ${optimizer}`,
    data: { values: run.curve.map((p) => ({ x: p[x], loss: p.heldOutLoss })) },
    mark: { type: "line", point: true },
    encoding: {
      x: {
        field: "x",
        type: "quantitative",
        title: zeroOrder ? "forward passes" : "gradients (forward + backward)",
      },
      y: {
        field: "loss",
        type: "quantitative",
        title: "held-out loss (nats per character)",
        scale: { zero: false },
      },
    },
  };
  return {
    problem: "finetune",
    kind: zeroOrder ? "calls" : "steps",
    title: "Held-out loss",
    file: "finetune-curve.png",
    spec,
  };
}

function htmlPage(
  description: string,
  run: FinetuneRun,
  svg: string | null,
  figureNote: string | null,
  files: readonly string[],
): string {
  const rows = run.curve
    .map(
      (p) =>
        `<tr><td>${p.step}</td><td>${p.forwardPasses}</td><td>${p.gradients}</td>` +
        `<td>${(p.trainingMs / 1000).toFixed(1)}</td><td>${formatLoss(p.heldOutLoss)}</td></tr>`,
    )
    .join("\n");
  const first = run.curve[0];
  const last = run.curve[run.curve.length - 1];
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>descend finetune</title>
<style>
body { font-family: ${FONT_STACK}; margin: 24px; color: #222; }
table { border-collapse: collapse; margin-top: 12px; }
th, td { padding: 3px 10px; text-align: right; border-bottom: 1px solid #e3e6ea; }
p.note { color: #777; }
</style>
</head>
<body>
<h1>descend finetune</h1>
<p>${escapeXml(description)}</p>
<p>Held-out loss ${formatLoss(first.heldOutLoss)} → ${formatLoss(last.heldOutLoss)} nats per
character after ${last.step} steps (${last.forwardPasses} forward passes, ${last.gradients}
gradients, ${(last.trainingMs / 1000).toFixed(1)} s of training); run ${escapeXml(run.end)}.</p>
${svg ?? `<p class="note">${escapeXml(figureNote ?? "No figure.")}</p>`}
<table>
<thead><tr><th>step</th><th>forward passes</th><th>gradients</th><th>seconds</th><th>held-out loss</th></tr></thead>
<tbody>
${rows}
</tbody>
</table>
<p class="note">Files: ${files.map((f) => escapeXml(f)).join(", ")}.</p>
</body>
</html>
`;
}

async function writeAtomically(path: string, data: string | Uint8Array): Promise<void> {
  const partial = `${path}.partial`;
  await writeFile(partial, data);
  await rename(partial, path);
}

/**
 * Runs `descend finetune` with `args` (the words after `finetune`).
 * @returns the exit status
 */
export async function finetuneCommand(args: readonly string[], io: CliIo): Promise<number> {
  let parsed: FinetuneArguments;
  try {
    parsed = parseFinetuneArguments(args);
  } catch (error) {
    io.stderr.write(
      `descend finetune: ${messageOf(error)}\nRun "descend finetune --help" for usage.\n`,
    );
    return EXIT_USAGE;
  }
  if (parsed.help) {
    io.stdout.write(finetuneHelp());
    return 0;
  }
  const fail = (message: string): number => {
    io.stderr.write(`descend finetune: ${message}\n`);
    return 1;
  };
  const progress = (message: string) => io.stderr.write(`descend finetune: ${message}\n`);

  const zeroOrder = isZeroOrder(parsed.optimizer);
  const steps = parsed.steps ?? (zeroOrder ? DEFAULT_STEPS.zeroOrder : DEFAULT_STEPS.firstOrder);
  const evalEvery = parsed.evalEvery ?? Math.max(1, Math.round(steps / DEFAULT_MEASUREMENTS));
  const settings: FinetuneSettings = {
    optimizer: parsed.optimizer,
    learningRate: parsed.learningRate ?? DEFAULT_LEARNING_RATES[parsed.optimizer],
    seed: parsed.seed,
    ...(zeroOrder
      ? {
          epsilon: parsed.epsilon ?? DEFAULT_EPSILON,
          directions: parsed.directions ?? 1,
          perturbation: parsed.perturbation ?? "virtual",
          directionDistribution: parsed.directionDistribution ?? "normal",
        }
      : {}),
  };
  const modelFile = parsed.model ?? pretrainedModelPath();
  const dir =
    parsed.out ?? defaultReportDir((io.date ?? (() => new Date()))(), join("reports", "finetune"));
  try {
    // Made up front, so an unwritable place fails before the run.
    await mkdir(dir, { recursive: true });
  } catch (error) {
    return fail(`cannot write to ${dir}: ${messageOf(error)}`);
  }

  let task: FinetuneTask;
  try {
    task = await finetuneTask({ seed: parsed.seed });
  } catch (error) {
    return fail(`cannot build the model: ${messageOf(error)}`);
  }
  try {
    let base: ParamSet;
    try {
      base = await task.readModel(modelFile);
    } catch (error) {
      return fail(`cannot read the model ${modelFile}: ${messageOf(error)}`);
    }
    const summary = describeSettings(settings, steps);
    progress(`${summary}; model ${modelFile}`);

    // The run's history: a replayable ZO checkpoint where the records alone rebuild the
    // weights, the plain seed log otherwise.
    const replayable =
      (settings.optimizer === "zo-sgd" || settings.optimizer === "zo-cons") &&
      settings.perturbation === "virtual";
    const history =
      zeroOrder && replayable
        ? ZoHistory.start(base, { directionDistribution: settings.directionDistribution })
        : null;
    const log = zeroOrder && !replayable ? new SeedLog() : null;

    const started = performance.now();
    let lastReport = started;
    let lastPoint: FinetunePoint | null = null;
    let run: FinetuneRun;
    let random: FastRandom | null = null;
    try {
      random = zeroOrder ? await directionRandom() : null;
      run = await runFinetune(task, base, settings, {
        ...(random === null ? {} : { random }),
        steps,
        evalEvery,
        evaluate: (p) => task.loss(p, { count: parsed.evalWindows }),
        ...(io.signal === undefined ? {} : { signal: io.signal }),
        onRecords: (records, params) => {
          if (history !== null) history.record(records, params);
          else log?.appendAll(records);
        },
        onStep: (done, loss, point) => {
          if (point !== null) lastPoint = point;
          const now = performance.now();
          if (now - lastReport < PROGRESS_EVERY_MS && done < steps) return;
          lastReport = now;
          const elapsed = now - started;
          const left = (elapsed / done) * (steps - done);
          const heldOut =
            lastPoint === null
              ? ""
              : `, held-out ${formatLoss(lastPoint.heldOutLoss)} at step ${lastPoint.step}`;
          progress(
            `step ${done}/${steps}, batch loss ${formatLoss(loss)}${heldOut}, ${formatSeconds(elapsed)}` +
              (done < steps ? `, about ${formatSeconds(left)} left` : ""),
          );
        },
      });
    } catch (error) {
      return fail(`the run failed: ${messageOf(error)}`);
    } finally {
      await random?.close();
    }

    const files: string[] = [FINETUNE_FILES.weights, FINETUNE_FILES.report, FINETUNE_FILES.html];
    try {
      await writeAtomically(
        join(dir, FINETUNE_FILES.weights),
        serializeParams(run.params.layout, run.params.data, {
          finetuning: JSON.stringify({ ...settings, steps: run.steps, from: modelFile }),
        }),
      );
      if (history !== null) {
        await saveZoCheckpoint(history, run.params, join(dir, FINETUNE_FILES.zoCheckpoint));
        files.push(FINETUNE_FILES.zoCheckpoint);
      } else if (log !== null) {
        await writeAtomically(join(dir, FINETUNE_FILES.seedLog), log.encode());
        files.push(FINETUNE_FILES.seedLog);
      }
    } catch (error) {
      return fail(`cannot write the results to ${dir}: ${messageOf(error)}`);
    }

    let svg: string | null = null;
    let figureNote: string | null =
      parsed.figures === "none" ? "Figures were not drawn (--figures none)." : null;
    if (parsed.figures === "svg") {
      const outcome = await renderFigures([curveFigure(run, settings.optimizer)], { png: false });
      const figure = outcome.figures[0];
      if (figure !== undefined) svg = inlineSvg(figure.svg, "curve", "held-out loss");
      else figureNote = `The figure could not be drawn: ${outcome.errors.join("; ")}`;
      for (const error of outcome.errors) io.stderr.write(`descend finetune: figure: ${error}\n`);
    }

    const first = run.curve[0];
    const last = run.curve[run.curve.length - 1];
    const report = {
      format: FINETUNE_REPORT_FORMAT,
      version: FINETUNE_REPORT_VERSION,
      settings: { ...settings, steps, evalEvery, evalWindows: parsed.evalWindows },
      model: {
        file: modelFile,
        parameters: base.data.length,
        baseHash: hashBits(base.data),
        finalHash: hashBits(run.params.data),
      },
      text: {
        pretrain: task.parts.pretrain,
        finetune: task.parts.finetune,
        heldOut: task.parts.heldOut,
      },
      outcome: {
        end: run.end,
        failure: run.failure,
        steps: run.steps,
        forwardPasses: last.forwardPasses,
        gradients: last.gradients,
        trainingSeconds: last.trainingMs / 1000,
        initialHeldOutLoss: first.heldOutLoss,
        finalHeldOutLoss: last.heldOutLoss,
      },
      curve: run.curve,
      files,
      environment: collectEnvironment(),
    };
    try {
      await writeAtomically(
        join(dir, FINETUNE_FILES.report),
        `${JSON.stringify(report, null, 2)}\n`,
      );
      await writeAtomically(
        join(dir, FINETUNE_FILES.html),
        htmlPage(summary, run, svg, figureNote, files),
      );
    } catch (error) {
      return fail(`cannot write the report to ${dir}: ${messageOf(error)}`);
    }

    io.stdout.write(
      `descend finetune: ${summary}\n${curveTable(run.curve)}\n` +
        `held-out loss ${formatLoss(first.heldOutLoss)} → ${formatLoss(last.heldOutLoss)} ` +
        `(${formatChange(last.heldOutLoss - first.heldOutLoss)} nats per character) after ${run.steps} steps: ` +
        `${last.forwardPasses} forward passes, ${last.gradients} gradients, ${formatSeconds(last.trainingMs)}\n` +
        `wrote ${files.map((f) => join(dir, f)).join(", ")}\n`,
    );
    if (run.end === "diverged") {
      return fail(
        `diverged after ${run.steps} steps${run.failure === null ? "" : `: ${run.failure}`}; the files hold the last good step`,
      );
    }
    if (run.end === "interrupted") {
      io.stderr.write(`descend finetune: interrupted after ${run.steps} of ${steps} steps\n`);
      return EXIT_INTERRUPTED;
    }
    return 0;
  } finally {
    task.dispose();
  }
}
