/**
 * The `descend` command line: dispatches to commands and prints help and version. Kept apart
 * from the executable entry point so tests can run it in-process.
 */
import { packageVersion } from "../report/write.js";
import type { CliIo } from "./bench.js";
import { EXIT_USAGE, benchCommand, benchHelp } from "./bench.js";

/** The text of `descend --help`. */
export function mainHelp(): string {
  return `descend: optimizers for machine learning, and a benchmark of them

Usage:
  descend <command> [options]
  descend help [command]

Commands:
  bench    run optimizers on benchmark problems (Rosenbrock, an ill-conditioned
           quadratic, softmax regression and a small MLP on handwritten digits); show
           progress, print a results table and write a report directory with
           results.json and index.html (loss plots); "npm start" runs it

Options:
  -h, --help     show this help
  -v, --version  print the version

Options of descend bench (details: descend bench --help):
  -o, --optimizers LIST   comma-separated optimizer names, or "all"
  -p, --problems LIST     comma-separated problem names, or "all"
  -n, --steps N           steps of every run (default: each problem's own)
  -s, --seed S            seed of every random choice (default 0)
      --out DIR           report directory (default: reports/<UTC timestamp>)
`;
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
      else if (rest[0] === undefined) io.stdout.write(mainHelp());
      else {
        io.stderr.write(`descend: no help for unknown command ${JSON.stringify(rest[0])}\n`);
        return EXIT_USAGE;
      }
      return 0;
    case "bench":
      return benchCommand(rest, io);
    default:
      io.stderr.write(
        `descend: unknown command ${JSON.stringify(command)}; known commands: bench, help\n` +
          `Run "descend --help" for usage.\n`,
      );
      return EXIT_USAGE;
  }
}
