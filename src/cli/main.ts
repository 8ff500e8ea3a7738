#!/usr/bin/env node
/**
 * Entry point of the `descend` executable: `descend bench …`, `descend train …`,
 * `descend curvature …`, `descend finetune …`, `descend reproduce …` (loaded on demand, its
 * arguments forwarded) and help (see `runCli`). The first Ctrl+C stops a benchmark, training or
 * fine-tuning run after the current step and still writes what it has; a second one quits at
 * once.
 */
import { EXIT_INTERRUPTED } from "./args.js";
import { runCli } from "./cli.js";

const controller = new AbortController();
process.once("SIGINT", () => {
  process.stderr.write(
    "\ndescend: stopping after the current step (press Ctrl+C again to quit now)\n",
  );
  controller.abort();
  process.once("SIGINT", () => process.exit(EXIT_INTERRUPTED));
});

process.exitCode = await runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  signal: controller.signal,
});
