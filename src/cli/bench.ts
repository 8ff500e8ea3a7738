/**
 * `descend bench`: runs optimizers on benchmark problems, shows progress, prints the results
 * table and writes a report directory (`results.json`, rewritten after every run, and
 * `index.html` with loss plots).
 */
import { parseArgs } from "node:util";
import type { OptimizerEntry } from "../optim/catalog.js";
import { catalog as defaultCatalog } from "../optim/catalog.js";
import type { BenchProblem } from "../bench/problems.js";
import { problems as defaultProblems } from "../bench/problems.js";
import type { BenchOptions, BenchPlan, RunResult } from "../bench/run.js";
import { DEFAULT_OPTIMIZERS, DEFAULT_SEED, planBench, runBench } from "../bench/run.js";
import { formatDuration, formatShort, formatTable } from "../bench/table.js";
import type { BenchResults } from "../report/results.js";
import { buildResults } from "../report/results.js";
import {
  collectEnvironment,
  defaultReportDir,
  writeReport,
  writeResults,
} from "../report/write.js";
import type { ProgressOutput } from "./progress.js";
import { BenchProgress } from "./progress.js";

/** Exit status of a command-line mistake (bad option, unknown name). */
export const EXIT_USAGE = 2;

/** Exit status after an interruption (as for SIGINT). */
export const EXIT_INTERRUPTED = 130;

/** What a command reads and writes besides files. */
export interface CliIo {
  /** Progress, table and report location. */
  readonly stdout: ProgressOutput;
  /** Error messages. */
  readonly stderr: { write(text: string): unknown };
  /** Aborting it stops the benchmark after the current step; finished runs are kept. */
  readonly signal?: AbortSignal;
  /** Optimizers to choose from (default: the catalog). */
  readonly catalog?: readonly OptimizerEntry[];
  /** Problems to choose from (default: the built-in problems). */
  readonly problems?: readonly BenchProblem[];
  /** The current date (for the report's name and record). */
  readonly date?: () => Date;
}

/** A mistake on the command line; its message is shown with a pointer to `--help`. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

function wrap(words: readonly string[], indent: string, width = 78): string {
  const lines: string[] = [];
  let line = indent;
  for (const word of words) {
    if (line.length > indent.length && line.length + word.length + 1 > width) {
      lines.push(line.trimEnd());
      line = indent;
    }
    line += `${word} `;
  }
  lines.push(line.trimEnd());
  return lines.join("\n");
}

/** The text of `descend bench --help`, naming the optimizers and problems available. */
export function benchHelp(
  catalog: readonly OptimizerEntry[] = defaultCatalog,
  registry: readonly BenchProblem[] = defaultProblems,
): string {
  const defaults = DEFAULT_OPTIMIZERS.filter((n) => catalog.some((e) => e.name === n));
  const nameWidth = Math.max(...registry.map((p) => p.name.length), 8);
  const problemLines = registry.map(
    (p) =>
      `  ${p.name.padEnd(nameWidth)}  ${p.description}\n  ${" ".repeat(nameWidth)}  ` +
      `(${p.defaultSteps} steps, target loss ${formatShort(p.targetLoss)})`,
  );
  return `Usage: descend bench [options]

Runs each optimizer on each problem, one run at a time, showing a progress bar per run (plain
lines when the output is not a terminal). Prints a results table and writes a report
directory with results.json (options, environment, and per run: learning rate, seed, loss
after every step, times, status) and index.html (loss plots and the table; one file that
works offline). results.json is rewritten after every run, so finished runs are kept even if
the benchmark is interrupted (Ctrl+C stops after the current step and writes the report).

Options:
  -o, --optimizers LIST  comma-separated optimizer names, or "all"
                         (default: ${defaults.join(",") || "the first optimizers of the catalog"})
  -p, --problems LIST    comma-separated problem names, or "all" (default: all)
  -n, --steps N          steps of every run (default: each problem's own, below)
  -s, --seed S           seed of every random choice, an integer in [0, 2^32)
                         (default: ${DEFAULT_SEED}); equal seeds give equal losses
      --out DIR          report directory (default: reports/<UTC timestamp>)
  -h, --help             show this help

Each optimizer runs with the learning rate tuned for the problem, or with its catalog
default where none was tuned. A run whose loss or gradient becomes NaN or infinite is
reported as "diverged", one that throws as "error"; the other runs go on.

Table columns: final loss (after the last step), best loss, steps to target (the first
step whose loss is at most the problem's target, "-" if never), accuracy (classification
problems, at the final parameters), time (the steps, without setup), status.

Optimizers:
${wrap(
  catalog.map((e) => e.name),
  "  ",
)}

Problems:
${problemLines.join("\n")}

Exit status: 0 when every run ended ok or diverged, 1 when a run failed with an error,
${EXIT_USAGE} for a command-line mistake, ${EXIT_INTERRUPTED} when interrupted.

Examples:
  descend bench
  descend bench --optimizers adam,adamw --problems rosenbrock --steps 500 --seed 1
  descend bench --optimizers all --problems quadratic --out reports/quadratic
`;
}

function parseList(option: string, text: string, all: readonly string[]): string[] {
  const names = text
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  if (names.length === 0) throw new UsageError(`--${option} needs at least one name`);
  return names.length === 1 && names[0] === "all" ? [...all] : names;
}

function parseInteger(option: string, text: string, min: number, max: number): number {
  const value = /^\d+$/.test(text.trim()) ? Number(text.trim()) : Number.NaN;
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(
      `--${option} must be an integer in [${min}, ${max}], got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

/** Parsed `descend bench` arguments. */
export interface BenchArguments {
  /** Whether `--help` was given. */
  readonly help: boolean;
  /** What to run. */
  readonly options: BenchOptions;
  /** The report directory, when given. */
  readonly out?: string;
}

/** Parses `descend bench` arguments; throws a {@link UsageError} on a mistake. */
export function parseBenchArguments(
  args: readonly string[],
  catalog: readonly OptimizerEntry[] = defaultCatalog,
  registry: readonly BenchProblem[] = defaultProblems,
): BenchArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        optimizers: { type: "string", short: "o" },
        problems: { type: "string", short: "p" },
        steps: { type: "string", short: "n" },
        seed: { type: "string", short: "s" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: false,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  const options: {
    optimizers?: string[];
    problems?: string[];
    steps?: number;
    seed?: number;
  } = {};
  if (v.optimizers !== undefined) {
    options.optimizers = parseList(
      "optimizers",
      v.optimizers,
      catalog.map((e) => e.name),
    );
  }
  if (v.problems !== undefined) {
    options.problems = parseList(
      "problems",
      v.problems,
      registry.map((p) => p.name),
    );
  }
  if (v.steps !== undefined) options.steps = parseInteger("steps", v.steps, 1, 10_000_000);
  if (v.seed !== undefined) options.seed = parseInteger("seed", v.seed, 0, 0xffffffff);
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out needs a directory");
  return { help: v.help === true, options, ...(v.out === undefined ? {} : { out: v.out }) };
}

/**
 * Runs `descend bench` with `args` (the words after `bench`).
 * @returns the exit status
 */
export async function benchCommand(args: readonly string[], io: CliIo): Promise<number> {
  const catalog = io.catalog ?? defaultCatalog;
  const registry = io.problems ?? defaultProblems;
  let plan: BenchPlan;
  let out: string | undefined;
  try {
    const parsed = parseBenchArguments(args, catalog, registry);
    if (parsed.help) {
      io.stdout.write(benchHelp(catalog, registry));
      return 0;
    }
    plan = planBench(parsed.options, { catalog, problems: registry });
    out = parsed.out;
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend bench: ${message}\nRun "descend bench --help" for usage.\n`);
    return EXIT_USAGE;
  }

  const date = io.date ?? (() => new Date());
  const startedAt = date();
  const dir = out ?? defaultReportDir(startedAt);
  const clockStart = performance.now();
  const runs: RunResult[] = [];
  const environment = collectEnvironment();
  const snapshot = (complete: boolean): BenchResults =>
    buildResults({
      plan,
      runs,
      startedAt,
      wallMs: performance.now() - clockStart,
      complete,
      environment,
      catalog,
      problems: registry,
    });
  try {
    // Written up front, so an unwritable directory fails before any run.
    await writeResults(dir, snapshot(false));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend bench: cannot write the report to ${dir}: ${message}\n`);
    return 1;
  }

  const { optimizers, problems } = plan.options;
  io.stdout.write(
    `descend bench: ${plan.runs.length} runs (${optimizers.length} optimizer${optimizers.length === 1 ? "" : "s"} × ` +
      `${problems.length} problem${problems.length === 1 ? "" : "s"}), seed ${plan.options.seed}\n`,
  );
  const progress = new BenchProgress(io.stdout);
  progress.begin(plan.runs);
  await runBench(plan, {
    catalog,
    problems: registry,
    ...(io.signal ? { signal: io.signal } : {}),
    onRunStart: (spec, index, total) => progress.onRunStart(spec, index, total),
    onStep: (spec, index, step, loss) => progress.onStep(spec, index, step, loss),
    onRunEnd: async (result) => {
      progress.onRunEnd(result);
      runs.push(result);
      // A failed save must not stop the benchmark; the final write reports the problem.
      await writeResults(dir, snapshot(false)).catch(() => undefined);
    },
  });
  progress.close();
  const interrupted = io.signal?.aborted === true;
  const complete =
    runs.length === plan.runs.length && runs.every((r) => r.status !== "interrupted");
  const final = snapshot(complete);
  let paths: { results: string; html: string } | undefined;
  let writeError = "";
  try {
    paths = await writeReport(dir, final);
  } catch (error) {
    writeError = error instanceof Error ? error.message : String(error);
  }

  io.stdout.write(`\n${formatTable(runs)}`);
  const targets = problems
    .map((name) => `${name} ${formatShort(registry.find((p) => p.name === name)!.targetLoss)}`)
    .join(", ");
  io.stdout.write(`\ntarget losses: ${targets}\n`);
  io.stdout.write(`wall time: ${formatDuration(final.wallMs)}\n`);
  if (paths) io.stdout.write(`report: ${paths.html}\nresults: ${paths.results}\n`);
  else io.stderr.write(`descend bench: cannot write the report to ${dir}: ${writeError}\n`);
  if (interrupted) {
    io.stderr.write(
      `descend bench: interrupted; ${runs.length} of ${plan.runs.length} runs recorded\n`,
    );
    return EXIT_INTERRUPTED;
  }
  return !paths || runs.some((r) => r.status === "error") ? 1 : 0;
}
