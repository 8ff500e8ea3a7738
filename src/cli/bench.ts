/**
 * `descend bench`: runs optimizers on benchmark problems (a learning-rate sweep and several seeds
 * per optimizer and problem), shows progress, prints the summary table and writes a report
 * directory (`results.json`, rewritten after every run; `index.html` with the figures; the
 * figures as PNG files). `descend bench --compare a.json b.json` shows two records side by side.
 */
import { parseArgs } from "node:util";
import type { CsvProblemOptions } from "../bench/csv.js";
import { csvProblem } from "../bench/csv.js";
import type { OptimizerEntry } from "../optim/catalog.js";
import { catalog as defaultCatalog } from "../optim/catalog.js";
import type { BenchProblem, SuiteName } from "../bench/problems.js";
import { problems as defaultProblems, stepsFor } from "../bench/problems.js";
import type { BenchOptions, BenchPlan, RunResult } from "../bench/run.js";
import { DEFAULT_SEED, planBench, runBench } from "../bench/run.js";
import { DEFAULT_SUITE, findSuite, suites } from "../bench/suites.js";
import { CRITERION } from "../bench/summary.js";
import { formatDuration, formatFactor, formatShort, formatTable } from "../bench/table.js";
import {
  DEFAULT_LOSS_THRESHOLD,
  DEFAULT_TIME_THRESHOLD,
  compareResults,
  formatComparison,
} from "../report/compare.js";
import type { BenchResults } from "../report/results.js";
import { buildResults } from "../report/results.js";
import type { ReportPaths } from "../report/write.js";
import {
  collectEnvironment,
  defaultReportDir,
  readResults,
  writeReport,
  writeResults,
} from "../report/write.js";
import { EXIT_INTERRUPTED, EXIT_USAGE, UsageError, parseInteger, parsePositive } from "./args.js";
import type { ProgressOutput } from "./progress.js";
import { BenchProgress } from "./progress.js";

export { EXIT_INTERRUPTED, EXIT_USAGE, UsageError } from "./args.js";

/**
 * results.json is rewritten after a run unless the last write was less than this many times its
 * own duration ago, which keeps saving under 5% of the benchmark's time.
 */
const SAVE_SHARE = 20;

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

/** The text of `descend bench --help`, naming the suites, optimizers and problems available. */
export function benchHelp(
  catalog: readonly OptimizerEntry[] = defaultCatalog,
  registry: readonly BenchProblem[] = defaultProblems,
): string {
  const nameWidth = Math.max(...registry.map((p) => p.name.length), 8);
  const problemLines = registry.map((p) => {
    const steps = (["quick", "standard", "full"] as const)
      .map((s) => stepsFor(p, s))
      .filter((n, i, all) => all.indexOf(n) === i);
    const target = p.targetLoss === undefined ? "" : `, target loss ${formatShort(p.targetLoss)}`;
    return (
      `  ${p.name.padEnd(nameWidth)}  ${p.description}\n  ${" ".repeat(nameWidth)}  ` +
      `(${steps.join("/")} steps${target})`
    );
  });
  const suiteLines = suites.map((s) => `  ${s.name.padEnd(9)} ${s.description}`);
  return `Usage: descend bench [options]
       descend bench --compare A B

Runs each optimizer on each problem: a learning-rate sweep around the rate tuned for the
problem, every rate with several seeds. The best rate of each optimizer is the one with the
${CRITERION}.
Shows a progress bar per run (plain lines when the output is not a terminal), prints a summary
table (best learning rate, final loss mean ± standard deviation over the seeds, steps to the
target, time) and writes a report directory: results.json (every run: loss after every step,
time and oracle calls, status; rewritten as runs finish, after every run unless saving would
take more than 5% of the time, so finished runs are kept if the benchmark stops), index.html
(figures and tables in one file that works offline) and figures/*.png. Ctrl+C stops after the
current step and writes the report.

Suites:
${suiteLines.join("\n")}

Options:
      --suite NAME       quick, standard or full (default: ${DEFAULT_SUITE}); the options below
                         replace the suite's choices
  -o, --optimizers LIST  comma-separated optimizer names, or "all"
  -p, --problems LIST    comma-separated problem names, or "all"
  -n, --steps N          steps of every run (default: each problem's own, below)
  -s, --seed S           first seed, an integer in [0, 2^32) (default: ${DEFAULT_SEED}); the seeds
                         are S, S+1, …; equal seeds give equal losses
      --seeds N          seeds per learning rate (default: the suite's)
      --grid LIST        factors of the tuned learning rate to try, e.g. 1/10,1/3,1,3,10;
                         "1" runs the tuned rate only (default: the suite's)
      --lr LIST          centre learning rates, e.g. adam=0.01,sgd=0.1
      --data FILE        your own CSV file of numeric columns, one example per line: logistic
                         regression for 2 classes, softmax regression otherwise (repeatable;
                         without --problems only these run)
      --label-column N   column of the class label (0-based; negative counts from the end;
                         default -1, the last)
      --header MODE      yes, no or auto (default auto: a first line with a non-number is one)
      --delimiter C      field separator (default ",")
      --figures MODE     png (default), svg (inline in index.html only) or none
      --out DIR          report directory (default: reports/<UTC timestamp>)
      --compare A B      compare two results.json files (or report directories): per optimizer
                         and problem the final losses and times of a and b, their ratios, and
                         the regressions of b beyond the thresholds
      --threshold T      relative loss increase (distance to f*) flagged by --compare
                         (default ${DEFAULT_LOSS_THRESHOLD})
      --time-threshold T relative time increase flagged by --compare (default ${DEFAULT_TIME_THRESHOLD})
  -h, --help             show this help

A run whose loss or gradient becomes NaN or infinite is "diverged" (its rate ranks last), one
that throws is "error", and an optimizer needing an oracle the problem lacks is "unsupported";
the other runs go on. Oracle calls are counted per oracle (values, gradients, Hessian- and
Jacobian-vector products) for the optimizer's own calls; the benchmark's evaluations for its
records are not counted.

Optimizers:
${wrap(
  catalog.map((e) => e.name),
  "  ",
)}

Problems (steps per suite quick/standard/full where they differ):
${problemLines.join("\n")}

Exit status: 0 when every run ended ok, diverged or unsupported (and after --compare), 1 when
a run failed with an error, ${EXIT_USAGE} for a command-line mistake, ${EXIT_INTERRUPTED} when interrupted.

Examples:
  descend bench
  descend bench --suite standard --optimizers adam,adamw,lion
  descend bench --optimizers adam,sgd --problems rosenbrock --grid 1 --seeds 1 --steps 500
  descend bench --data iris.csv --header yes
  descend bench --compare reports/before/results.json reports/after/results.json
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

function parseRates(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const item of text.split(",").map((s) => s.trim())) {
    if (item === "") continue;
    const eq = item.indexOf("=");
    if (eq <= 0) {
      throw new UsageError(
        `--lr takes name=rate pairs, e.g. adam=0.01; got ${JSON.stringify(item)}`,
      );
    }
    out[item.slice(0, eq).trim()] = parsePositive("lr", item.slice(eq + 1));
  }
  if (Object.keys(out).length === 0) throw new UsageError("--lr needs at least one name=rate");
  return out;
}

/** How the figures are produced. */
export type FiguresMode = "png" | "svg" | "none";

/** Parsed `descend bench` arguments. */
export interface BenchArguments {
  /** Whether `--help` was given. */
  readonly help: boolean;
  /** What to run. */
  readonly options: BenchOptions;
  /** The report directory, when given. */
  readonly out?: string;
  /** CSV files to benchmark on, with how to read them. */
  readonly data: { readonly paths: readonly string[]; readonly csv: CsvProblemOptions };
  /** How the figures are produced. */
  readonly figures: FiguresMode;
  /** The two records to compare, when `--compare` was given. */
  readonly compare?: readonly [string, string];
  /** Loss threshold of `--compare`. */
  readonly threshold: number;
  /** Time threshold of `--compare`. */
  readonly timeThreshold: number;
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
        suite: { type: "string" },
        optimizers: { type: "string", short: "o" },
        problems: { type: "string", short: "p" },
        steps: { type: "string", short: "n" },
        seed: { type: "string", short: "s" },
        seeds: { type: "string" },
        grid: { type: "string" },
        lr: { type: "string" },
        data: { type: "string", multiple: true },
        "label-column": { type: "string" },
        header: { type: "string" },
        delimiter: { type: "string" },
        figures: { type: "string" },
        out: { type: "string" },
        compare: { type: "string" },
        threshold: { type: "string" },
        "time-threshold": { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  const positionals = parsed.positionals;
  let compare: [string, string] | undefined;
  if (v.compare !== undefined) {
    if (positionals.length !== 1) {
      throw new UsageError("--compare takes two files: --compare a.json b.json");
    }
    compare = [v.compare, positionals[0]];
  } else if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])}`);
  }
  const options: {
    -readonly [K in keyof BenchOptions]: BenchOptions[K];
  } = {};
  if (v.suite !== undefined) {
    try {
      options.suite = findSuite(v.suite.trim()).name as SuiteName;
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error));
    }
  }
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
  if (v.seeds !== undefined) options.seeds = parseInteger("seeds", v.seeds, 1, 1000);
  if (v.grid !== undefined) {
    const factors = v.grid
      .split(",")
      .map((s) => s.trim())
      .filter((s) => s !== "");
    if (factors.length === 0) throw new UsageError("--grid needs at least one factor");
    options.grid = factors.map((f) => parsePositive("grid", f));
  }
  if (v.lr !== undefined) options.learningRates = parseRates(v.lr);
  const csv: { -readonly [K in keyof CsvProblemOptions]: CsvProblemOptions[K] } = {};
  if (v["label-column"] !== undefined) {
    csv.labelColumn = parseInteger("label-column", v["label-column"], -1_000_000, 1_000_000);
  }
  if (v.header !== undefined) {
    const mode = v.header.trim();
    if (mode === "yes") csv.header = true;
    else if (mode === "no") csv.header = false;
    else if (mode !== "auto") {
      throw new UsageError(`--header must be yes, no or auto, got ${JSON.stringify(v.header)}`);
    }
  }
  if (v.delimiter !== undefined) {
    const delimiter = v.delimiter === "\\t" || v.delimiter === "tab" ? "\t" : v.delimiter;
    if (delimiter.length === 0) throw new UsageError("--delimiter needs a character");
    csv.delimiter = delimiter;
  }
  const paths = (v.data ?? []).map((p) => p.trim());
  if (paths.some((p) => p === "")) throw new UsageError("--data needs a file");
  let figures: FiguresMode = "png";
  if (v.figures !== undefined) {
    if (v.figures !== "png" && v.figures !== "svg" && v.figures !== "none") {
      throw new UsageError(`--figures must be png, svg or none, got ${JSON.stringify(v.figures)}`);
    }
    figures = v.figures;
  }
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out needs a directory");
  const threshold =
    v.threshold === undefined ? DEFAULT_LOSS_THRESHOLD : parsePositive("threshold", v.threshold);
  const timeThreshold =
    v["time-threshold"] === undefined
      ? DEFAULT_TIME_THRESHOLD
      : parsePositive("time-threshold", v["time-threshold"]);
  return {
    help: v.help === true,
    options,
    ...(v.out === undefined ? {} : { out: v.out }),
    data: { paths, csv },
    figures,
    ...(compare ? { compare } : {}),
    threshold,
    timeThreshold,
  };
}

async function compareCommand(parsed: BenchArguments, io: CliIo): Promise<number> {
  const [pathA, pathB] = parsed.compare!;
  let a: BenchResults;
  let b: BenchResults;
  try {
    [a, b] = await Promise.all([readResults(pathA), readResults(pathB)]);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend bench --compare: ${message}\n`);
    return 1;
  }
  const comparison = compareResults(a, b, {
    lossThreshold: parsed.threshold,
    timeThreshold: parsed.timeThreshold,
  });
  io.stdout.write(
    formatComparison(comparison, { label: pathA, results: a }, { label: pathB, results: b }),
  );
  return 0;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/**
 * Runs `descend bench` with `args` (the words after `bench`).
 * @returns the exit status
 */
export async function benchCommand(args: readonly string[], io: CliIo): Promise<number> {
  const catalog = io.catalog ?? defaultCatalog;
  const builtIn = io.problems ?? defaultProblems;
  let plan: BenchPlan;
  let parsed: BenchArguments;
  let registry: BenchProblem[];
  try {
    parsed = parseBenchArguments(args, catalog, builtIn);
    if (parsed.help) {
      io.stdout.write(benchHelp(catalog, builtIn));
      return 0;
    }
    if (parsed.compare) return await compareCommand(parsed, io);
    const own = parsed.data.paths.map((path) => csvProblem(path, parsed.data.csv));
    const ownNames = own.map((p) => p.name);
    if (new Set(ownNames).size !== ownNames.length) {
      throw new UsageError("two --data files share a file name; rename one");
    }
    registry = [...builtIn.filter((p) => !ownNames.includes(p.name)), ...own];
    let options = parsed.options;
    if (own.length > 0) {
      options = { ...options, problems: [...(options.problems ?? []), ...ownNames] };
    }
    plan = planBench(options, { catalog, problems: registry });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend bench: ${message}\nRun "descend bench --help" for usage.\n`);
    return EXIT_USAGE;
  }

  const date = io.date ?? (() => new Date());
  const startedAt = date();
  const dir = parsed.out ?? defaultReportDir(startedAt);
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

  const { optimizers, problems, seeds, grid, suite } = plan.options;
  const seedText = seeds.length === 1 ? `seed ${seeds[0]}` : `seeds ${seeds[0]}–${seeds.at(-1)}`;
  io.stdout.write(
    `descend bench: suite ${suite}, ${plural(plan.runs.length, "run")} (${plural(optimizers.length, "optimizer")} × ` +
      `${plural(problems.length, "problem")}, learning rate ${grid.map(formatFactor).join(" ")}, ${seedText})\n`,
  );
  const progress = new BenchProgress(io.stdout);
  progress.begin(plan.runs);
  const lastSave = { at: performance.now(), ms: 0 };
  await runBench(plan, {
    catalog,
    problems: registry,
    ...(io.signal ? { signal: io.signal } : {}),
    onRunStart: (spec, index, total) => progress.onRunStart(spec, index, total),
    onStep: (spec, index, step, loss) => progress.onStep(spec, index, step, loss),
    onRunEnd: async (result, index) => {
      progress.onRunEnd(result, index);
      runs.push(result);
      // Saved after every run, except that saving may take at most 1/SAVE_SHARE of the time:
      // a record of thousands of runs takes a while to write, and a crash then loses only the
      // runs since the last save.
      const sinceSave = performance.now() - lastSave.at;
      if (sinceSave < SAVE_SHARE * lastSave.ms) return;
      const start = performance.now();
      // A failed save must not stop the benchmark; the final write reports the problem.
      await writeResults(dir, snapshot(false)).catch(() => undefined);
      lastSave.at = performance.now();
      lastSave.ms = lastSave.at - start;
    },
  });
  progress.close();
  const interrupted = io.signal?.aborted === true;
  const complete =
    runs.length === plan.runs.length && runs.every((r) => r.status !== "interrupted");
  const final = snapshot(complete);
  let paths: ReportPaths | undefined;
  let writeError = "";
  try {
    paths = await writeReport(dir, final, {
      figures: parsed.figures !== "none",
      png: parsed.figures === "png",
    });
  } catch (error) {
    writeError = error instanceof Error ? error.message : String(error);
  }

  io.stdout.write(`\n${formatTable(final.summary)}`);
  const targets = problems
    .map((name) => {
      const target = registry.find((p) => p.name === name)?.targetLoss;
      return target === undefined ? `${name} none` : `${name} ${formatShort(target)}`;
    })
    .join(", ");
  io.stdout.write(`\ntarget losses: ${targets}\n`);
  io.stdout.write(`best rate: the ${CRITERION}\n`);
  io.stdout.write(`wall time: ${formatDuration(final.wallMs)}\n`);
  if (paths) {
    io.stdout.write(`report: ${paths.html}\nresults: ${paths.results}\n`);
    if (paths.pngs.length)
      io.stdout.write(`figures: ${plural(paths.pngs.length, "PNG")} in ${dir}/figures\n`);
    for (const problem of paths.figureErrors) {
      io.stderr.write(`descend bench: figures: ${problem}\n`);
    }
  } else io.stderr.write(`descend bench: cannot write the report to ${dir}: ${writeError}\n`);
  if (interrupted) {
    io.stderr.write(
      `descend bench: interrupted; ${runs.length} of ${plan.runs.length} runs recorded\n`,
    );
    return EXIT_INTERRUPTED;
  }
  return !paths || runs.some((r) => r.status === "error") ? 1 : 0;
}
