/**
 * `descend curvature`: the curvature of a benchmark problem's loss at a point (a checkpoint's
 * parameters or the problem's initial point), from Hessian-vector products.
 *
 * - Hessian trace: Hutchinson, "A stochastic estimator of the trace of the influence matrix for
 *   Laplacian smoothing splines", Communications in Statistics – Simulation and Computation, 1990:
 *   tr(H) ≈ (1/S) Σ_s v_sᵀHv_s over S probes with E[vvᵀ] = I, reported with its standard error
 *   (sample standard deviation of vᵀHv over √S).
 * - Top eigenvalue ("sharpness"): Lanczos, "An iteration method for the solution of the
 *   eigenvalue problem of linear differential and integral operators", J. Res. Nat. Bur.
 *   Standards, 1950 (the largest Ritz value of k steps; the smallest Ritz value bounds λ_min from
 *   above, so a negative one proves negative curvature), or power iteration (von Mises &
 *   Pollaczek-Geiringer, 1929), which finds the eigenvalue of largest magnitude. Either comes
 *   with the residual ‖Hv − λv‖ of its vector v (‖v‖ = 1), one more product.
 * - Edge of stability: gradient descent with step η on a quadratic is stable only while
 *   λ_max < 2/η; Cohen, Kaur, Li, Kolter & Talwalkar, "Gradient Descent on Neural Networks
 *   Typically Occurs at the Edge of Stability", ICLR 2021, observed that full-batch training
 *   drives the sharpness up to about 2/η and holds it there. `--learning-rate η` prints 2/η and
 *   the ratio ηλ_max/2.
 *
 * Probes come from Philox stream 0 and the eigenvalue method's starting vector from stream 1 of
 * the seed, so the two never share random numbers and equal seeds give equal results.
 */
import { readFile } from "node:fs/promises";
import { parseArgs } from "node:util";
import type { BenchProblem, ProblemInstance } from "../bench/problems.js";
import { findProblem, problems as defaultProblems } from "../bench/problems.js";
import { hessianTrace, lanczos, powerIteration } from "../curvature/diagnostics.js";
import type { ProbeDistribution } from "../curvature/hutchinson.js";
import type { Objective } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import { readParams } from "../params/safetensors.js";
import {
  EXIT_USAGE,
  UsageError,
  messageOf,
  parseChoice,
  parseInteger,
  parsePositive,
} from "./args.js";
import type { CliIo } from "./bench.js";

/** How the top eigenvalue is found. */
export type EigenMethod = "lanczos" | "power";

/** Default number of Hutchinson probes. */
export const DEFAULT_PROBES = 100;

/** Default Lanczos steps (the library's default). */
export const DEFAULT_LANCZOS_ITERATIONS = 20;

/** Default largest number of power iterations (the library's default). */
export const DEFAULT_POWER_ITERATIONS = 100;

/** Default relative tolerance of power iteration (the library's default). */
export const DEFAULT_POWER_TOLERANCE = 1e-6;

/** Philox stream of the trace probes. */
const TRACE_STREAM = 0;

/** Philox stream of the eigenvalue method's starting vector. */
const EIGEN_STREAM = 1;

/** Largest seed (problems take seeds in [0, 2^32)). */
const MAX_SEED = 0xffffffff;

/** Milliseconds between progress lines within a phase. */
const PROGRESS_EVERY_MS = 1000;

/** What to measure, as read from the command line. */
export interface CurvatureSettings {
  /** Seed of the probes and starting vectors. */
  readonly seed: number;
  /** Hutchinson probes. */
  readonly probes: number;
  /** Probe distribution. */
  readonly distribution: ProbeDistribution;
  /** Method of the top eigenvalue. */
  readonly method: EigenMethod;
  /** Lanczos steps, or the most power iterations. */
  readonly iterations: number;
  /** Relative tolerance of power iteration. */
  readonly tolerance: number;
  /** Learning rate η whose stability threshold 2/η to report, if any. */
  readonly learningRate?: number;
}

/** Parsed `descend curvature` arguments. */
export interface CurvatureArguments extends CurvatureSettings {
  /** Whether `--help` was given. */
  readonly help: boolean;
  /** Name of the problem (empty only with `--help`). */
  readonly problem: string;
  /** The safetensors file with the parameters, if any. */
  readonly checkpoint?: string;
  /** The minibatch (of this step) to measure on, for stochastic problems. */
  readonly batch: number;
  /** Whether to print JSON. */
  readonly json: boolean;
}

/** The top eigenvalue and how it was found. */
export interface TopEigenvalue {
  /** Method used. */
  readonly method: EigenMethod;
  /** The estimate. */
  readonly value: number;
  /** ‖Hv − λv‖ for its unit vector v, or null when the method gave no vector. */
  readonly residual: number | null;
  /** Lanczos steps or power iterations made. */
  readonly iterations: number;
  /** Whether power iteration met its tolerance (null for Lanczos). */
  readonly converged: boolean | null;
}

/** Everything `descend curvature` measures at one point. */
export interface CurvatureMeasurement {
  /** Number of parameters. */
  readonly parameters: number;
  /** f(θ). */
  readonly loss: number;
  /** ‖∇f(θ)‖₂, or null when the objective has no gradient. */
  readonly gradientNorm: number | null;
  /** Hutchinson's trace estimate. */
  readonly trace: {
    /** Mean of vᵀHv over the probes. */
    readonly estimate: number;
    /** Its standard error (null for a single probe). */
    readonly standardError: number | null;
    /** Number of probes. */
    readonly probes: number;
    /** Probe distribution. */
    readonly distribution: ProbeDistribution;
  };
  /** The top eigenvalue. */
  readonly topEigenvalue: TopEigenvalue;
  /** The smallest Ritz value (Lanczos only, else null): negative means negative curvature. */
  readonly smallestRitzValue: number | null;
  /** All Ritz values, largest first (Lanczos only, else null). */
  readonly ritzValues: readonly number[] | null;
  /** 2/η and the sharpness relative to it, when a learning rate was given. */
  readonly edgeOfStability: {
    /** η. */
    readonly learningRate: number;
    /** 2/η. */
    readonly threshold: number;
    /** λ_max divided by 2/η (above 1: gradient descent with step η is unstable here). */
    readonly sharpnessRatio: number;
  } | null;
  /** Hessian-vector products made. */
  readonly hessianVectorProducts: number;
}

/** A measurement with what it was measured on. */
export interface CurvatureReport extends CurvatureMeasurement {
  /** The problem's name. */
  readonly problem: string;
  /** The checkpoint the parameters came from, or null for the initial point. */
  readonly checkpoint: string | null;
  /** Seed of the problem and the probes. */
  readonly seed: number;
  /** Element type of the parameters. */
  readonly dtype: string;
  /** The minibatch measured on, or null for a problem without minibatches. */
  readonly batch: number | null;
}

/** Reports the phases of a measurement and, at most once a second, the products made. */
export type CurvatureProgress = (message: string) => void;

/** The text of `descend curvature --help`, listing the problems it can measure. */
export function curvatureHelp(registry: readonly BenchProblem[] = defaultProblems): string {
  const withHvp = registry.filter((p) => p.oracles.includes("hvp"));
  const width = Math.max(8, ...withHvp.map((p) => p.name.length));
  const problemLines = withHvp.map((p) => `  ${p.name.padEnd(width)}  ${p.description}`);
  return `Usage: descend curvature --problem NAME [--checkpoint FILE] [options]

Measures the curvature of a problem's loss at a point: the parameters in a checkpoint, or the
problem's initial point when none is given. Prints the loss, the gradient norm, Hutchinson's
estimate of the Hessian trace with its standard error, the top Hessian eigenvalue (the
"sharpness") by Lanczos or power iteration with the residual ‖Hv − λv‖ of its vector, the
smallest Lanczos Ritz value (below 0: the loss curves downward along some direction), and with
--learning-rate the edge-of-stability threshold 2/η of gradient descent. Everything comes from
the problem's Hessian-vector products; probes and starting vectors are drawn from the seed, so
equal seeds give equal results. Progress goes to stderr, results to stdout.

The checkpoint is a safetensors file: one written by "descend train" (an optimizer checkpoint
with its parameters), or one tensor per parameter, named as the problem names them. Tensors
are matched by name and shape and converted to the problem's element type.

Options:
  -p, --problem NAME       the problem (one with Hessian-vector products, below)
  -c, --checkpoint FILE    the parameters (default: the problem's initial point)
  -s, --seed S             seed of the problem (its initial point and data) and of the probes,
                           an integer in [0, 2^32) (default 0)
      --probes N           Hutchinson probes, one product each (default ${DEFAULT_PROBES})
      --distribution D     probe entries: rademacher (±1, default) or gaussian
  -m, --method M           lanczos (default) or power: power iteration finds the eigenvalue of
                           largest magnitude, which is the top one unless negative curvature
                           dominates
  -k, --iterations K       Lanczos steps (default ${DEFAULT_LANCZOS_ITERATIONS}, at most the number of parameters) or
                           most power iterations (default ${DEFAULT_POWER_ITERATIONS})
      --tolerance T        power iteration stops when successive estimates differ by at most
                           T·|λ| (default ${DEFAULT_POWER_TOLERANCE})
      --learning-rate η    also print 2/η and λ_max/(2/η): gradient descent with step η is
                           unstable where the sharpness exceeds 2/η
      --batch B            for problems with minibatches: measure on the minibatch of step B
                           (default 0)
      --json               print the results as one JSON object
  -h, --help               show this help

Problems with Hessian-vector products:
${problemLines.join("\n")}

Exit status: 0 on success, 1 when the checkpoint cannot be read or does not fit the problem or
a measurement fails, ${EXIT_USAGE} for a command-line mistake.

Examples:
  descend curvature --problem quadratic --probes 200
  descend train --problem mlp-digits --optimizer adam --steps 100 --out mlp.safetensors
  descend curvature --problem mlp-digits --checkpoint mlp.safetensors --learning-rate 0.01
`;
}

/** Parses `descend curvature` arguments; throws a {@link UsageError} on a mistake. */
export function parseCurvatureArguments(args: readonly string[]): CurvatureArguments {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        problem: { type: "string", short: "p" },
        checkpoint: { type: "string", short: "c" },
        seed: { type: "string", short: "s" },
        probes: { type: "string" },
        distribution: { type: "string" },
        method: { type: "string", short: "m" },
        iterations: { type: "string", short: "k" },
        tolerance: { type: "string" },
        "learning-rate": { type: "string" },
        batch: { type: "string" },
        json: { type: "boolean" },
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
  if (!help && problem === "") throw new UsageError("--problem is required");
  if (v.checkpoint !== undefined && v.checkpoint.trim() === "") {
    throw new UsageError("--checkpoint needs a file");
  }
  const method =
    v.method === undefined ? "lanczos" : parseChoice("method", v.method, ["lanczos", "power"]);
  const tolerance =
    v.tolerance === undefined
      ? DEFAULT_POWER_TOLERANCE
      : v.tolerance.trim() === "0"
        ? 0
        : parsePositive("tolerance", v.tolerance);
  return {
    help,
    problem,
    ...(v.checkpoint === undefined ? {} : { checkpoint: v.checkpoint }),
    seed: v.seed === undefined ? 0 : parseInteger("seed", v.seed, 0, MAX_SEED),
    probes: v.probes === undefined ? DEFAULT_PROBES : parseInteger("probes", v.probes, 1, 1e6),
    distribution:
      v.distribution === undefined
        ? "rademacher"
        : parseChoice("distribution", v.distribution, ["rademacher", "gaussian"]),
    method,
    iterations:
      v.iterations === undefined
        ? method === "lanczos"
          ? DEFAULT_LANCZOS_ITERATIONS
          : DEFAULT_POWER_ITERATIONS
        : parseInteger("iterations", v.iterations, 1, 1e6),
    tolerance,
    ...(v["learning-rate"] === undefined
      ? {}
      : { learningRate: parsePositive("learning-rate", v["learning-rate"]) }),
    batch: v.batch === undefined ? 0 : parseInteger("batch", v.batch, 0, 1e9),
    json: v.json === true,
  };
}

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** An objective whose Hessian-vector products are counted and reported as progress. */
function countedHvp(
  objective: Objective,
  progress: CurvatureProgress,
): { objective: Objective; calls: () => number; phase: (name: string, total: number) => void } {
  const hvp = requireOracle(objective, "hvp", "descend curvature");
  let calls = 0;
  let label = "";
  let done = 0;
  let total = 0;
  let lastReport = 0;
  const counted: Objective = {
    name: objective.name,
    layout: objective.layout,
    value: (params) => objective.value(params),
    hvp: async (params, vector, out) => {
      await hvp(params, vector, out);
      calls++;
      done++;
      const now = performance.now();
      if (now - lastReport >= PROGRESS_EVERY_MS && done < total) {
        lastReport = now;
        progress(`${label}: ${done} of at most ${total} products`);
      }
    },
  };
  return {
    objective: counted,
    calls: () => calls,
    phase: (name, expected) => {
      label = name;
      done = 0;
      total = expected;
      lastReport = performance.now();
      progress(`${name} (${expected} Hessian-vector products at most)`);
    },
  };
}

/** ‖Hv − λv‖ for the unit vector `vector` (one Hessian-vector product). */
async function residualOf(
  objective: Objective,
  params: FloatArray,
  eigenvalue: number,
  vector: ArrayLike<number>,
): Promise<number> {
  const v = objective.layout.zeros();
  for (let i = 0; i < v.length; i++) v[i] = vector[i];
  const hv = objective.layout.zeros();
  await objective.hvp!(params, v, hv);
  let sum = 0;
  for (let i = 0; i < v.length; i++) {
    // From the float64 vector: the rounding of `v` to float32 must not count as residual.
    const r = hv[i] - eigenvalue * vector[i];
    sum += r * r;
  }
  return Math.sqrt(sum);
}

/**
 * Measures the loss, gradient norm, Hessian trace, top eigenvalue (with its residual) and, with
 * Lanczos, the smallest Ritz value of `objective` at `params`. Needs the `hvp` oracle.
 */
export async function measureCurvature(
  objective: Objective,
  params: FloatArray,
  settings: CurvatureSettings,
  progress: CurvatureProgress = () => undefined,
): Promise<CurvatureMeasurement> {
  const counter = countedHvp(objective, progress);
  const counted = counter.objective;
  const layout = objective.layout;
  layout.assertBuffer(params, "measureCurvature params");
  let loss: number;
  let gradientNorm: number | null = null;
  if (typeof objective.valueAndGrad === "function") {
    const gradient = layout.zeros();
    loss = await objective.valueAndGrad(params, gradient);
    gradientNorm = Math.sqrt(dot(gradient, gradient));
  } else {
    loss = await objective.value(params);
  }
  if (!Number.isFinite(loss)) {
    throw new RangeError(`the loss at these parameters is ${loss}; the curvature is undefined`);
  }

  counter.phase(`Hessian trace, ${settings.probes} probes`, settings.probes);
  const trace = await hessianTrace(counted, params, {
    probes: settings.probes,
    distribution: settings.distribution,
    seed: settings.seed,
    stream: TRACE_STREAM,
  });

  const start = { seed: settings.seed, stream: EIGEN_STREAM };
  let topEigenvalue: TopEigenvalue;
  let smallestRitzValue: number | null = null;
  let ritzValues: number[] | null = null;
  if (settings.method === "lanczos") {
    const steps = Math.min(settings.iterations, layout.size);
    counter.phase(`top eigenvalue, Lanczos with ${steps} steps`, steps + 1);
    const result = await lanczos(counted, params, { iterations: settings.iterations, ...start });
    topEigenvalue = {
      method: "lanczos",
      value: result.eigenvalue,
      residual: await residualOf(counted, params, result.eigenvalue, result.vector),
      iterations: result.iterations,
      converged: null,
    };
    smallestRitzValue = result.smallest;
    ritzValues = [...result.ritzValues];
  } else {
    counter.phase(
      `top eigenvalue, power iteration of at most ${settings.iterations} steps`,
      settings.iterations + 1,
    );
    const result = await powerIteration(counted, params, {
      maxIterations: settings.iterations,
      tolerance: settings.tolerance,
      ...start,
    });
    topEigenvalue = {
      method: "power",
      value: result.eigenvalue,
      residual: await residualOf(counted, params, result.eigenvalue, result.vector),
      iterations: result.iterations,
      converged: result.converged,
    };
  }
  const eta = settings.learningRate;
  return {
    parameters: layout.size,
    loss,
    gradientNorm,
    trace: {
      estimate: trace.trace,
      standardError: Number.isFinite(trace.standardError) ? trace.standardError : null,
      probes: trace.probes,
      distribution: settings.distribution,
    },
    topEigenvalue,
    smallestRitzValue,
    ritzValues,
    edgeOfStability:
      eta === undefined
        ? null
        : {
            learningRate: eta,
            threshold: 2 / eta,
            sharpnessRatio: (topEigenvalue.value * eta) / 2,
          },
    hessianVectorProducts: counter.calls(),
  };
}

/** A number with 12 significant digits (exponent form outside [1e-3, 1e7)), or "-" for none. */
function formatNumber(x: number | null): string {
  if (x === null) return "-";
  const rounded = Number(x.toPrecision(12));
  const size = Math.abs(rounded);
  return size === 0 || (size >= 1e-3 && size < 1e7) ? String(rounded) : rounded.toExponential();
}

/** The report as the lines `descend curvature` prints. */
export function formatCurvatureReport(report: CurvatureReport): string {
  const where =
    report.checkpoint === null
      ? "at its initial point"
      : `at the parameters of ${report.checkpoint}`;
  const batch = report.batch === null ? "" : `, minibatch of step ${report.batch}`;
  const rows: [string, string][] = [
    ["loss", formatNumber(report.loss)],
    ["gradient norm", formatNumber(report.gradientNorm)],
  ];
  const { trace, topEigenvalue: top } = report;
  const probes = `${trace.probes} ${trace.distribution === "rademacher" ? "Rademacher" : "Gaussian"} probe${trace.probes === 1 ? "" : "s"}`;
  rows.push([
    "Hessian trace",
    `${formatNumber(trace.estimate)} ± ${formatNumber(trace.standardError)} (Hutchinson, ${probes}; ± one standard error)`,
  ]);
  const how =
    top.method === "lanczos"
      ? `Lanczos, ${top.iterations} step${top.iterations === 1 ? "" : "s"}`
      : `power iteration, ${top.iterations} step${top.iterations === 1 ? "" : "s"}, ${top.converged ? "converged" : "not converged: raise --iterations"}`;
  rows.push(["top eigenvalue", `${formatNumber(top.value)} (${how})`]);
  rows.push(["  residual ‖Hv − λv‖", formatNumber(top.residual)]);
  if (report.smallestRitzValue !== null) {
    rows.push([
      "smallest Ritz value",
      `${formatNumber(report.smallestRitzValue)} (Lanczos; below 0: negative curvature)`,
    ]);
  }
  if (report.edgeOfStability !== null) {
    const e = report.edgeOfStability;
    rows.push([
      "edge of stability 2/η",
      `${formatNumber(e.threshold)} (η = ${formatNumber(e.learningRate)}; top eigenvalue = ${formatNumber(e.sharpnessRatio)} × 2/η)`,
    ]);
  }
  rows.push(["Hessian-vector products", String(report.hessianVectorProducts)]);
  const width = Math.max(...rows.map(([name]) => name.length)) + 2;
  return (
    `descend curvature: ${report.problem} ${where} (seed ${report.seed}${batch}), ` +
    `${report.parameters} parameters (${report.dtype})\n` +
    rows.map(([name, value]) => `${name.padEnd(width)}${value}\n`).join("")
  );
}

/** The first non-finite entry of `data`, as "tensor[index] = value", or null. */
function firstNonFinite(objective: Objective, data: FloatArray): string | null {
  for (const t of objective.layout.tensors) {
    for (let i = 0; i < t.size; i++) {
      const x = data[t.offset + i];
      if (!Number.isFinite(x)) return `${t.name}[${i}] = ${x}`;
    }
  }
  return null;
}

/**
 * Runs `descend curvature` with `args` (the words after `curvature`).
 * @returns the exit status
 */
export async function curvatureCommand(args: readonly string[], io: CliIo): Promise<number> {
  const registry = io.problems ?? defaultProblems;
  const fail = (message: string): number => {
    io.stderr.write(`descend curvature: ${message}\n`);
    return 1;
  };
  let parsed: CurvatureArguments;
  let problem: BenchProblem;
  try {
    parsed = parseCurvatureArguments(args);
    if (parsed.help) {
      io.stdout.write(curvatureHelp(registry));
      return 0;
    }
    const found = findProblem(parsed.problem, registry);
    if (found === undefined) {
      throw new UsageError(
        `unknown problem ${JSON.stringify(parsed.problem)}; known problems: ${registry.map((p) => p.name).join(", ")}`,
      );
    }
    if (!found.oracles.includes("hvp")) {
      const able = registry.filter((p) => p.oracles.includes("hvp")).map((p) => p.name);
      throw new UsageError(
        `problem ${JSON.stringify(found.name)} has no Hessian-vector products ("hvp" oracle); ` +
          `problems that have them: ${able.length > 0 ? able.join(", ") : "none"}`,
      );
    }
    problem = found;
  } catch (error) {
    io.stderr.write(
      `descend curvature: ${messageOf(error)}\nRun "descend curvature --help" for usage.\n`,
    );
    return EXIT_USAGE;
  }

  let bytes: Uint8Array | undefined;
  if (parsed.checkpoint !== undefined) {
    try {
      const buffer = await readFile(parsed.checkpoint);
      bytes = new Uint8Array(buffer.buffer, buffer.byteOffset, buffer.byteLength);
    } catch (error) {
      return fail(`cannot read checkpoint ${parsed.checkpoint}: ${messageOf(error)}`);
    }
  }
  const progress: CurvatureProgress = (message) =>
    io.stderr.write(`descend curvature: ${message}\n`);
  progress(`building problem ${problem.name} (seed ${parsed.seed})`);
  let instance: ProblemInstance;
  try {
    instance = await problem.create({ seed: parsed.seed });
  } catch (error) {
    return fail(`cannot build problem ${problem.name}: ${messageOf(error)}`);
  }
  try {
    const { objective } = instance;
    if (typeof objective.hvp !== "function") {
      return fail(
        `problem ${problem.name} (objective "${objective.name}") has no Hessian-vector products`,
      );
    }
    let params = instance.initial;
    if (bytes !== undefined) {
      try {
        params = readParams(bytes, objective.layout);
      } catch (error) {
        return fail(
          `checkpoint ${parsed.checkpoint} does not fit problem ${problem.name}: ${messageOf(error)}`,
        );
      }
      const bad = firstNonFinite(objective, params);
      if (bad !== null) {
        return fail(`checkpoint ${parsed.checkpoint} holds a non-finite parameter: ${bad}`);
      }
    }
    const batch = instance.setBatch ? parsed.batch : null;
    if (batch !== null) instance.setBatch!(batch);
    let measurement: CurvatureMeasurement;
    try {
      measurement = await measureCurvature(objective, params, parsed, progress);
    } catch (error) {
      return fail(messageOf(error));
    }
    const report: CurvatureReport = {
      problem: problem.name,
      checkpoint: parsed.checkpoint ?? null,
      seed: parsed.seed,
      dtype: objective.layout.dtype,
      batch,
      ...measurement,
    };
    io.stdout.write(
      parsed.json ? `${JSON.stringify(report, null, 2)}\n` : formatCurvatureReport(report),
    );
    return 0;
  } finally {
    try {
      instance.dispose?.();
    } catch {
      // The measurement is complete; a failing cleanup must not hide it.
    }
  }
}
