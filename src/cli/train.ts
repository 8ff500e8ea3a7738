/**
 * `descend train`: one run of a catalog optimizer on a benchmark problem that ends in a
 * checkpoint (`saveOptimizer` with `includeParams`: the parameters and the optimizer's state in
 * the safetensors layout), so the trained model can be measured with `descend curvature` and the
 * run resumed with `loadOptimizer`.
 *
 * The run is the benchmark's (src/bench/run.ts): the problem and, where it takes one, the
 * optimizer get the seed; stochastic problems select the minibatch of each step; the learning
 * rate defaults to the one tuned for the problem.
 */
import { parseArgs } from "node:util";
import type { BenchProblem, ProblemInstance } from "../bench/problems.js";
import { findProblem, learningRateFor, problems as defaultProblems } from "../bench/problems.js";
import { createTransform, takesSeed } from "../bench/run.js";
import type { OptimizerEntry } from "../optim/catalog.js";
import { catalog as defaultCatalog } from "../optim/catalog.js";
import { saveOptimizer } from "../optim/checkpoint.js";
import { Optimizer } from "../optim/optimizer.js";
import { requireOracle } from "../oracles/objective.js";
import { ParamSet } from "../params/paramset.js";
import {
  EXIT_INTERRUPTED,
  EXIT_USAGE,
  UsageError,
  messageOf,
  parseInteger,
  parsePositive,
} from "./args.js";
import type { CliIo } from "./bench.js";

/** Largest seed (problems take seeds in [0, 2^32)). */
const MAX_SEED = 0xffffffff;

/** Milliseconds between progress lines. */
const PROGRESS_EVERY_MS = 1000;

/** Parsed `descend train` arguments. */
export interface TrainArguments {
  /** Whether `--help` was given. */
  readonly help: boolean;
  /** The problem's name (empty only with `--help`). */
  readonly problem: string;
  /** The optimizer's catalog name (empty only with `--help`). */
  readonly optimizer: string;
  /** Steps, or undefined for the problem's default. */
  readonly steps?: number;
  /** Seed of the problem and the optimizer. */
  readonly seed: number;
  /** Learning rate, or undefined for the one tuned for the problem. */
  readonly learningRate?: number;
  /** The checkpoint file to write (empty only with `--help`). */
  readonly out: string;
}

/** The text of `descend train --help`. */
export function trainHelp(
  catalog: readonly OptimizerEntry[] = defaultCatalog,
  registry: readonly BenchProblem[] = defaultProblems,
): string {
  return `Usage: descend train --problem NAME --optimizer NAME --out FILE [options]

Runs one optimizer on one benchmark problem, as a benchmark run does, and writes the final
parameters with the optimizer's state to FILE, a safetensors checkpoint: "descend curvature
--checkpoint FILE" measures the trained model, and loadOptimizer resumes the run from it.
Progress goes to stderr, the summary to stdout. Ctrl+C stops after the current step and writes
the checkpoint of the steps done.

Options:
  -p, --problem NAME       the problem (below)
  -o, --optimizer NAME     the optimizer (below)
  -n, --steps N            steps (default: the problem's benchmark length)
  -s, --seed S             seed of the problem and of the optimizer's own randomness, an
                           integer in [0, 2^32) (default 0)
      --learning-rate η    learning rate (default: the one tuned for the problem)
      --out FILE           the checkpoint to write (replaced if it exists)
  -h, --help               show this help

Optimizers:
  ${catalog.map((e) => e.name).join(", ")}

Problems:
  ${registry.map((p) => p.name).join(", ")}

Exit status: 0 when the run finished and the checkpoint was written, 1 when the run diverged or
failed or the checkpoint could not be written, ${EXIT_USAGE} for a command-line mistake, ${EXIT_INTERRUPTED} when
interrupted.

Example:
  descend train --problem mlp-digits --optimizer adam --steps 100 --out mlp.safetensors
`;
}

/** Parses `descend train` arguments; throws a {@link UsageError} on a mistake. */
export function parseTrainArguments(args: readonly string[]): TrainArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        problem: { type: "string", short: "p" },
        optimizer: { type: "string", short: "o" },
        steps: { type: "string", short: "n" },
        seed: { type: "string", short: "s" },
        "learning-rate": { type: "string" },
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
  const help = v.help === true;
  const problem = v.problem?.trim() ?? "";
  const optimizer = v.optimizer?.trim() ?? "";
  const out = v.out ?? "";
  if (!help) {
    if (problem === "") throw new UsageError("--problem is required");
    if (optimizer === "") throw new UsageError("--optimizer is required");
    if (out.trim() === "") throw new UsageError("--out needs the checkpoint file to write");
  }
  return {
    help,
    problem,
    optimizer,
    ...(v.steps === undefined ? {} : { steps: parseInteger("steps", v.steps, 1, 10_000_000) }),
    seed: v.seed === undefined ? 0 : parseInteger("seed", v.seed, 0, MAX_SEED),
    ...(v["learning-rate"] === undefined
      ? {}
      : { learningRate: parsePositive("learning-rate", v["learning-rate"]) }),
    out,
  };
}

/** `path` as one shell word. */
function shellWord(path: string): string {
  return /^[\w./:@%+=,-]+$/.test(path) ? path : `'${path.replace(/'/g, "'\\''")}'`;
}

/** A loss with 6 significant digits (exponent form outside [1e-3, 1e7)). */
function formatLoss(x: number): string {
  const rounded = Number(x.toPrecision(6));
  const size = Math.abs(rounded);
  return size === 0 || (size >= 1e-3 && size < 1e7) ? String(rounded) : rounded.toExponential();
}

/**
 * Runs `descend train` with `args` (the words after `train`).
 * @returns the exit status
 */
export async function trainCommand(args: readonly string[], io: CliIo): Promise<number> {
  const catalog = io.catalog ?? defaultCatalog;
  const registry = io.problems ?? defaultProblems;
  const fail = (message: string): number => {
    io.stderr.write(`descend train: ${message}\n`);
    return 1;
  };
  let parsed: TrainArguments;
  let problem: BenchProblem;
  let entry: OptimizerEntry;
  try {
    parsed = parseTrainArguments(args);
    if (parsed.help) {
      io.stdout.write(trainHelp(catalog, registry));
      return 0;
    }
    const foundProblem = findProblem(parsed.problem, registry);
    if (foundProblem === undefined) {
      throw new UsageError(
        `unknown problem ${JSON.stringify(parsed.problem)}; known problems: ${registry.map((p) => p.name).join(", ")}`,
      );
    }
    const foundEntry = catalog.find((e) => e.name === parsed.optimizer);
    if (foundEntry === undefined) {
      throw new UsageError(
        `unknown optimizer ${JSON.stringify(parsed.optimizer)}; known optimizers: ${catalog.map((e) => e.name).join(", ")}`,
      );
    }
    problem = foundProblem;
    entry = foundEntry;
  } catch (error) {
    io.stderr.write(`descend train: ${messageOf(error)}\nRun "descend train --help" for usage.\n`);
    return EXIT_USAGE;
  }

  const steps = parsed.steps ?? problem.defaultSteps;
  const learningRate = learningRateFor(problem, entry, parsed.learningRate).learningRate;
  const progress = (message: string) => io.stderr.write(`descend train: ${message}\n`);
  let instance: ProblemInstance;
  try {
    instance = await problem.create({ seed: parsed.seed });
  } catch (error) {
    return fail(`cannot build problem ${problem.name}: ${messageOf(error)}`);
  }
  try {
    const objective = instance.objective;
    let optimizer: Optimizer;
    try {
      const transform = createTransform(entry, learningRate, takesSeed(entry) ? parsed.seed : null);
      for (const oracle of new Set([entry.oracle, ...(transform.needs ?? [])])) {
        requireOracle(objective, oracle, `optimizer ${entry.name}`);
      }
      optimizer = new Optimizer(new ParamSet(objective.layout, instance.initial), transform);
    } catch (error) {
      return fail(`cannot run ${entry.name} on ${problem.name}: ${messageOf(error)}`);
    }
    const params = optimizer.params.data;
    const layout = optimizer.params.layout;
    progress(
      `${entry.name} on ${problem.name}, ${steps} steps, learning rate ${learningRate}, seed ${parsed.seed}`,
    );
    instance.setBatch?.(0);
    const initialLoss = await objective.value(params);
    let done = 0;
    let lastReport = performance.now();
    try {
      for (; done < steps; done++) {
        if (io.signal?.aborted) break;
        instance.setBatch?.(done);
        let loss: number | undefined;
        if (entry.oracle === "value") {
          // Gradient-free methods build their own direction from values, as in the benchmark.
          loss = await objective.value(params);
          optimizer.updates.fill(0);
          await optimizer.apply({ params, layout, objective });
        } else {
          loss = (await optimizer.step(objective)).loss;
        }
        if (loss !== undefined && !Number.isFinite(loss)) {
          return fail(`the loss became ${loss} at step ${done}; no checkpoint written`);
        }
        const now = performance.now();
        if (now - lastReport >= PROGRESS_EVERY_MS) {
          lastReport = now;
          progress(
            `step ${done + 1}/${steps}, loss ${loss === undefined ? "-" : formatLoss(loss)}`,
          );
          // Lets a Ctrl+C through between steps.
          await new Promise((resolve) => setImmediate(resolve));
        }
      }
    } catch (error) {
      return fail(`at step ${done}: ${messageOf(error)}; no checkpoint written`);
    }
    instance.setBatch?.(done);
    const finalLoss = await objective.value(params);
    if (!Number.isFinite(finalLoss)) {
      return fail(`the loss became ${finalLoss} after ${done} steps; no checkpoint written`);
    }
    try {
      await saveOptimizer(optimizer, parsed.out, { includeParams: true });
    } catch (error) {
      return fail(`cannot write the checkpoint ${parsed.out}: ${messageOf(error)}`);
    }
    const interrupted = done < steps;
    io.stdout.write(
      `descend train: ${entry.name} on ${problem.name} (learning rate ${learningRate}, seed ${parsed.seed}): ` +
        `${done}${interrupted ? ` of ${steps}` : ""} steps, loss ${formatLoss(initialLoss)} → ${formatLoss(finalLoss)}\n` +
        `checkpoint: ${parsed.out} (${layout.size} parameters, ${layout.dtype}, with the optimizer's state)\n` +
        `curvature: descend curvature --problem ${problem.name} --seed ${parsed.seed} --checkpoint ${shellWord(parsed.out)} --learning-rate ${learningRate}\n`,
    );
    if (interrupted) {
      io.stderr.write(`descend train: interrupted after ${done} of ${steps} steps\n`);
      return EXIT_INTERRUPTED;
    }
    return 0;
  } finally {
    try {
      instance.dispose?.();
    } catch {
      // The checkpoint is written; a failing cleanup must not hide it.
    }
  }
}
