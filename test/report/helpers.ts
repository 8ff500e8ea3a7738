// A small real benchmark record for report tests.
import { problems } from "../../src/bench/problems.js";
import { planBench, runBench } from "../../src/bench/run.js";
import type { BenchOptions } from "../../src/bench/run.js";
import type { BenchResults } from "../../src/report/results.js";
import { buildResults } from "../../src/report/results.js";
import { seededBowl } from "../bench/helpers.js";

/** Problems of the report tests: the built-in ones and a seeded bowl (for seed bands). */
export const reportProblems = [...problems, seededBowl];

/** The environment recorded in test records. */
export const testEnvironment = {
  node: "v20.0.0",
  platform: "linux",
  arch: "x64",
  cpus: 2,
  cpuModel: "Test CPU <fast>",
  descend: "0.0.0",
};

/**
 * Runs `options` (default: adam and adamw on rosenbrock and the quadratic, 30 steps, the tuned
 * rate and three times it, one seed) and records it.
 */
export async function tinyResults(options: BenchOptions = {}): Promise<BenchResults> {
  const sources = { problems: reportProblems };
  const plan = planBench(
    {
      optimizers: ["adam", "adamw"],
      problems: ["rosenbrock", "quadratic"],
      steps: 30,
      grid: [1, 3],
      seeds: 1,
      ...options,
    },
    sources,
  );
  const runs = await runBench(plan, sources);
  return buildResults({
    plan,
    runs,
    startedAt: new Date(Date.UTC(2024, 4, 1, 12, 30, 5)),
    wallMs: 42,
    complete: true,
    environment: testEnvironment,
    problems: reportProblems,
  });
}
