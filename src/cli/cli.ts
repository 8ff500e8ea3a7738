/**
 * The `descend` command line: dispatches to commands and prints help and version. Kept apart
 * from the executable entry point so tests can run it in-process.
 */
import { Writable } from "node:stream";
import { packageVersion } from "../report/write.js";
import { EXIT_USAGE } from "./args.js";
import type { CliIo } from "./bench.js";
import { benchCommand, benchHelp } from "./bench.js";
import { curvatureCommand, curvatureHelp } from "./curvature.js";
import { finetuneCommand, finetuneHelp } from "./finetune.js";
import { trainCommand, trainHelp } from "./train.js";

/** The commands, for messages. */
const COMMANDS = ["bench", "train", "curvature", "reproduce", "help", "finetune"];

/** The text of `descend --help`. */
export function mainHelp(): string {
  return `descend: optimizers for machine learning, and a benchmark of them

Usage:
  descend <command> [options]
  descend help [command]

Commands:
  bench      run optimizers on benchmark problems (Rosenbrock, Rastrigin, an ill-conditioned
             quadratic, matrix sensing, logistic and softmax regression, an MLP, a small
             transformer, or your own CSV data) with a learning-rate sweep and several seeds;
             show progress, print a summary table and write a report directory with
             results.json, index.html and PNG figures; "npm start" runs the quick suite
  train      run one optimizer on one problem and write the trained parameters, with the
             optimizer's state, to a safetensors checkpoint
  curvature  measure a problem's Hessian at a checkpoint or its initial point: loss, gradient
             norm, Hessian trace (Hutchinson, with its standard error), top eigenvalue or
             "sharpness" (Lanczos or power iteration, with its residual), smallest Ritz value,
             and the edge-of-stability threshold 2/η
  finetune   fine-tune a small pre-trained transformer with MeZO (forward passes only, the
             memory of inference) or another optimizer; write the weights, a report with the
             held-out loss against forward passes, and the seed log that replays the run
  reproduce  reproduce a paper's headline claim at small scale (descend reproduce --help)

Options:
  -h, --help     show this help
  -v, --version  print the version

Options of descend bench (details: descend bench --help):
      --suite NAME          quick (default), standard or full
  -o, --optimizers LIST     comma-separated optimizer names, or "all"
  -p, --problems LIST       comma-separated problem names, or "all"
  -n, --steps N             steps of every run (default: each problem's own)
  -s, --seed S              first seed (default 0)
      --seeds N             seeds per learning rate (default: the suite's)
      --grid LIST           factors of the tuned learning rate to try
      --data FILE           benchmark on your own CSV file
      --out DIR             report directory (default: reports/<UTC timestamp>)
      --compare A B         compare two results.json files

Options of descend train (details: descend train --help):
  -p, --problem NAME        the problem
  -o, --optimizer NAME      the optimizer
  -n, --steps N             steps (default: the problem's own)
  -s, --seed S              seed of the problem and the optimizer (default 0)
      --learning-rate η     learning rate (default: the one tuned for the problem)
      --out FILE            the checkpoint to write

Options of descend curvature (details: descend curvature --help):
  -p, --problem NAME        the problem (one with Hessian-vector products)
  -c, --checkpoint FILE     the parameters (default: the problem's initial point)
  -s, --seed S              seed of the problem and of the probes (default 0)
      --probes N            Hutchinson probes for the trace (default 100)
      --distribution D      rademacher (default) or gaussian probes
  -m, --method M            lanczos (default) or power
  -k, --iterations K        Lanczos steps (default 20) or most power iterations (default 100)
      --tolerance T         relative tolerance of power iteration (default 1e-6)
      --learning-rate η     also print the edge-of-stability threshold 2/η
      --batch B             the minibatch of step B, for stochastic problems (default 0)
      --json                print the results as JSON

Options of descend finetune (details: descend finetune --help):
  -m, --model FILE          pre-trained parameters (default: the bundled model)
  -o, --optimizer NAME      zo-sgd (MeZO, default), zo-momentum, zo-adam, zo-sign, zo-cons,
                            adamw or sgd
  -n, --steps N             steps (default 1000 zeroth-order, 100 first-order)
      --learning-rate η     learning rate (default: the optimizer's, tuned on this task)
      --epsilon ε           perturbation size of zeroth-order steps (default 1e-3)
      --perturbation P      virtual (default) or in-place
  -s, --seed S              seed of the batch order and the directions (default 0)
      --out DIR             output directory (default: reports/finetune/<UTC timestamp>)
`;
}

/** The part of a writable stream the reproduce command uses, backed by a plain writer. */
function streamOf(target: { write(text: string): unknown }): NodeJS.WritableStream {
  if (target instanceof Writable) return target;
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      target.write(typeof chunk === "string" ? chunk : chunk.toString("utf8"));
      callback();
    },
  });
}

/** `descend reproduce …`: loads the reproduction command on demand and forwards `args`. */
async function reproduce(args: readonly string[], io: CliIo): Promise<number> {
  let reproduceCommand: (
    args: string[],
    io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
  ) => Promise<number>;
  try {
    ({ reproduceCommand } = await import("../reproduce/cli.js"));
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend reproduce: not available: ${message}\n`);
    return 1;
  }
  return reproduceCommand([...args], { stdout: streamOf(io.stdout), stderr: streamOf(io.stderr) });
}

/**
 * Runs the command line with `args` (the words after the program name).
 * @returns the exit status
 */
export async function runCli(args: readonly string[], io: CliIo): Promise<number> {
  const [command, ...rest] = args;
  switch (command) {
    case undefined:
    case "-h":
    case "--help":
      io.stdout.write(mainHelp());
      return 0;
    case "-v":
    case "--version":
      io.stdout.write(`${packageVersion()}\n`);
      return 0;
    case "help":
      if (rest[0] === "bench") io.stdout.write(benchHelp(io.catalog, io.problems));
      else if (rest[0] === "train") io.stdout.write(trainHelp(io.catalog, io.problems));
      else if (rest[0] === "curvature") io.stdout.write(curvatureHelp(io.problems));
      else if (rest[0] === "finetune") io.stdout.write(finetuneHelp());
      else if (rest[0] === "reproduce") return reproduce(["--help"], io);
      else if (rest[0] === undefined) io.stdout.write(mainHelp());
      else {
        io.stderr.write(`descend: no help for unknown command ${JSON.stringify(rest[0])}\n`);
        return EXIT_USAGE;
      }
      return 0;
    case "bench":
      return benchCommand(rest, io);
    case "train":
      return trainCommand(rest, io);
    case "curvature":
      return curvatureCommand(rest, io);
    case "finetune":
      return finetuneCommand(rest, io);
    case "reproduce":
      return reproduce(rest, io);
    default:
      io.stderr.write(
        `descend: unknown command ${JSON.stringify(command)}; known commands: ${COMMANDS.join(", ")}\n` +
          `Run "descend --help" for usage.\n`,
      );
      return EXIT_USAGE;
  }
}
