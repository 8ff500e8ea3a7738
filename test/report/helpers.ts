// A small real benchmark record for report tests.
import { planBench, runBench } from "../../src/bench/run.js";
import type { BenchOptions } from "../../src/bench/run.js";
import type { BenchResults } from "../../src/report/results.js";
import { buildResults } from "../../src/report/results.js";

/** Runs `options` (default: adam and adamw, rosenbrock and quadratic, 30 steps); records it. */
export async function tinyResults(options: BenchOptions = {}): Promise<BenchResults> {
  const plan = planBench({
    optimizers: ["adam", "adamw"],
    problems: ["rosenbrock", "quadratic"],
    steps: 30,
    ...options,
  });
  const runs = await runBench(plan);
  return buildResults({
    plan,
    runs,
    startedAt: new Date(Date.UTC(2024, 4, 1, 12, 30, 5)),
    wallMs: 42,
    complete: true,
    environment: {
      node: "v20.0.0",
      platform: "linux",
      arch: "x64",
      cpus: 2,
      cpuModel: "Test CPU <fast>",
      descend: "0.0.0",
    },
  });
}
