import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import type { BenchProblem } from "../../src/bench/problems.js";
import { findProblem, problems } from "../../src/bench/problems.js";
import type { CliIo } from "../../src/cli/bench.js";
import { runCli } from "../../src/cli/cli.js";
import type { CurvatureReport } from "../../src/cli/curvature.js";
import { adam } from "../../src/optim/adam.js";
import { loadOptimizer, saveOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { sgd } from "../../src/optim/sgd.js";
import { ParamSet } from "../../src/params/paramset.js";
import { serializeParams } from "../../src/params/safetensors.js";

/** Runs the command line in-process, capturing its output. */
async function cli(
  args: string[],
  io: Partial<CliIo> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { isTTY: false, write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
    ...io,
  });
  return { code, stdout, stderr };
}

/** `descend curvature … --json`, parsed; fails the test on a non-zero exit. */
async function curvature(args: string[], io: Partial<CliIo> = {}): Promise<CurvatureReport> {
  const { code, stdout, stderr } = await cli(["curvature", ...args, "--json"], io);
  assert.equal(code, 0, stderr);
  return JSON.parse(stdout) as CurvatureReport;
}

function relativeError(actual: number, expected: number): number {
  return Math.abs(actual - expected) / Math.abs(expected);
}

/** The value printed on the line starting with `label`, as a number. */
function printed(stdout: string, label: string): number {
  const line = stdout.split("\n").find((l) => l.startsWith(label));
  assert.ok(line, `no line "${label}" in\n${stdout}`);
  return Number(line.slice(label.length).trim().split(/\s+/)[0]);
}

// Rosenbrock f = (1 − x)² + 100(y − x²)² at its start (−1.2, 1), by hand:
// H = [[2 − 400(y − x²) + 800x², −400x], [−400x, 200]] = [[1330, 480], [480, 200]].
const H11 = 1330;
const H12 = 480;
const H22 = 200;
const ROSENBROCK_TRACE = H11 + H22;
const ROSENBROCK_MAX = (H11 + H22) / 2 + Math.hypot((H11 - H22) / 2, H12);
const ROSENBROCK_MIN = (H11 + H22) / 2 - Math.hypot((H11 - H22) / 2, H12);
// f = 2.2² + 100·0.44², ∇f = (−2·2.2 − 400·(−1.2)·(−0.44), 200·(−0.44)).
const ROSENBROCK_LOSS = 2.2 ** 2 + 100 * 0.44 ** 2;
const ROSENBROCK_GRADIENT_NORM = Math.hypot(-4.4 - 211.2, -88);

// The benchmark quadratic: H = diag(λ_i), λ_i = 1000^(−i/99), i = 0 … 99.
const QUADRATIC_EIGENVALUES = Array.from({ length: 100 }, (_, i) => Math.pow(1000, -i / 99));
const QUADRATIC_TRACE = QUADRATIC_EIGENVALUES.reduce((a, b) => a + b, 0);

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "descend-curvature-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("descend curvature on closed-form Hessians", () => {
  it("quadratic: top eigenvalue, trace and smallest Ritz value match diag(λ)", async () => {
    const report = await curvature(["--problem", "quadratic", "--iterations", "40"]);
    assert.equal(report.parameters, 100);
    assert.equal(report.topEigenvalue.method, "lanczos");
    assert.equal(report.topEigenvalue.iterations, 40);
    assert.ok(Math.abs(report.topEigenvalue.value - 1) <= 1e-8, `${report.topEigenvalue.value}`);
    // The top Ritz vector is e_0 up to rounding: Hv − λv vanishes.
    assert.ok(report.topEigenvalue.residual! <= 1e-10, `${report.topEigenvalue.residual}`);
    // Rademacher probes on a diagonal Hessian: vᵀHv = Σ λ_i v_i² = tr H for every probe.
    assert.ok(relativeError(report.trace.estimate, QUADRATIC_TRACE) <= 1e-13);
    assert.ok(report.trace.standardError! <= 1e-13 * QUADRATIC_TRACE);
    assert.equal(report.trace.probes, 100);
    // Ritz values interlace: every one lies in [λ_min, λ_max].
    const lambdaMin = QUADRATIC_EIGENVALUES[99];
    assert.ok(report.smallestRitzValue! >= lambdaMin * (1 - 1e-12));
    assert.ok(report.ritzValues!.every((r) => r >= lambdaMin * (1 - 1e-12) && r <= 1 + 1e-12));
    // One HVP per probe and per Lanczos step, and one for the residual.
    assert.equal(report.hessianVectorProducts, 100 + 40 + 1);

    // A full Krylov space (100 steps) gives the whole spectrum.
    const full = await curvature([
      "--problem",
      "quadratic",
      "--iterations",
      "100",
      "--probes",
      "2",
    ]);
    assert.ok(Math.abs(full.smallestRitzValue! - lambdaMin) <= 1e-8 * lambdaMin);
    const sorted = [...QUADRATIC_EIGENVALUES].sort((a, b) => b - a);
    full.ritzValues!.forEach((r, i) => assert.ok(Math.abs(r - sorted[i]) <= 1e-10, `${i}: ${r}`));
  });

  it("quadratic, Gaussian probes: the trace is within 4 standard errors of Σλ", async () => {
    const probes = 400;
    const report = await curvature([
      "--problem=quadratic",
      `--probes=${probes}`,
      "--distribution=gaussian",
      "--seed=3",
    ]);
    // vᵀHv = Σ λ_i z_i² has variance 2 Σ λ_i².
    const sd = Math.sqrt(2 * QUADRATIC_EIGENVALUES.reduce((a, l) => a + l * l, 0));
    const standardError = sd / Math.sqrt(probes);
    assert.ok(Math.abs(report.trace.estimate - QUADRATIC_TRACE) <= 4 * standardError);
    // The reported standard error estimates sd/√S; with 400 probes it is within 20%.
    assert.ok(relativeError(report.trace.standardError!, standardError) <= 0.2);
    assert.equal(report.trace.distribution, "gaussian");
  });

  it("Rosenbrock: loss, gradient norm and both Ritz values of the 2×2 Hessian (text and JSON)", async () => {
    const { code, stdout, stderr } = await cli([
      "curvature",
      "--problem",
      "rosenbrock",
      "--learning-rate",
      "0.001",
    ]);
    assert.equal(code, 0, stderr);
    assert.match(
      stdout,
      /^descend curvature: rosenbrock at its initial point \(seed 0\), 2 parameters \(float64\)\n/,
    );
    assert.ok(relativeError(printed(stdout, "loss"), ROSENBROCK_LOSS) <= 1e-11);
    assert.ok(relativeError(printed(stdout, "gradient norm"), ROSENBROCK_GRADIENT_NORM) <= 1e-11);
    assert.ok(relativeError(printed(stdout, "top eigenvalue"), ROSENBROCK_MAX) <= 1e-11);
    assert.ok(relativeError(printed(stdout, "smallest Ritz value"), ROSENBROCK_MIN) <= 1e-10);
    assert.ok(relativeError(printed(stdout, "edge of stability 2/η"), 2000) <= 1e-12);
    assert.match(stdout, /Hessian trace +[\d.]+ ± [\d.]+ \(Hutchinson, 100 Rademacher probes/);
    assert.match(stdout, /top eigenvalue +[\d.]+ \(Lanczos, 2 steps\)/);
    assert.match(stdout, /\n {2}residual ‖Hv − λv‖ +/);
    assert.match(stdout, /\nHessian-vector products +103\n$/);
    // Progress goes to stderr.
    assert.match(stderr, /descend curvature: Hessian trace, 100 probes/);

    const report = await curvature(["--problem", "rosenbrock", "--learning-rate", "0.001"]);
    assert.ok(relativeError(report.topEigenvalue.value, ROSENBROCK_MAX) <= 1e-12);
    assert.ok(relativeError(report.smallestRitzValue!, ROSENBROCK_MIN) <= 1e-10);
    assert.ok(relativeError(report.loss, ROSENBROCK_LOSS) <= 1e-14);
    assert.ok(relativeError(report.gradientNorm!, ROSENBROCK_GRADIENT_NORM) <= 1e-14);
    assert.deepEqual(report.edgeOfStability, {
      learningRate: 0.001,
      threshold: 2000,
      sharpnessRatio: (report.topEigenvalue.value * 0.001) / 2,
    });
  });

  it("Rosenbrock, Rademacher probes: trace and standard error follow vᵀHv = tr H ± 2·H12", async () => {
    for (const probes of [50, 401]) {
      const report = await curvature(["--problem=rosenbrock", `--probes=${probes}`, "--seed=7"]);
      // Each probe gives H11 + H22 + 2·H12·v1·v2 with v1·v2 = ±1: the mean of the signs is
      // m = (estimate − tr H)/(2·H12), a multiple of 1/S, and the sample standard deviation
      // is 2·H12·√((1 − m²)·S/(S − 1)).
      const m = (report.trace.estimate - ROSENBROCK_TRACE) / (2 * H12);
      assert.ok(Math.abs(m * probes - Math.round(m * probes)) <= 1e-9, `m·S = ${m * probes}`);
      assert.equal(Math.abs(Math.round(m * probes)) % 2, probes % 2);
      const standardError = 2 * H12 * Math.sqrt((1 - m * m) / (probes - 1));
      assert.ok(relativeError(report.trace.standardError!, standardError) <= 1e-9);
      // The statistical tolerance: 4 standard errors of the exact spread 2·H12/√S.
      assert.ok(
        Math.abs(report.trace.estimate - ROSENBROCK_TRACE) <= (4 * 2 * H12) / Math.sqrt(probes),
      );
    }
  });

  it("power iteration: the top eigenvalue with a residual ‖Hv − λv‖ that shrinks with the tolerance", async () => {
    const loose = await curvature(["--problem=rosenbrock", "--method=power", "--probes=1"]);
    assert.equal(loose.topEigenvalue.method, "power");
    assert.equal(loose.topEigenvalue.converged, true);
    assert.ok(relativeError(loose.topEigenvalue.value, ROSENBROCK_MAX) <= 1e-6);
    assert.ok(loose.topEigenvalue.residual! <= 1e-3 * ROSENBROCK_MAX);
    assert.equal(loose.smallestRitzValue, null);
    assert.equal(loose.trace.standardError, null);

    const tight = await curvature([
      "--problem=rosenbrock",
      "--method=power",
      "--tolerance=0",
      "--iterations=30",
      "--probes=1",
    ]);
    // Tolerance 0 stops only when two successive estimates are equal to the last bit.
    assert.ok(tight.topEigenvalue.iterations > loose.topEigenvalue.iterations);
    assert.ok(tight.topEigenvalue.iterations <= 30);
    assert.ok(relativeError(tight.topEigenvalue.value, ROSENBROCK_MAX) <= 1e-12);
    assert.ok(tight.topEigenvalue.residual! <= 1e-9 * ROSENBROCK_MAX);
    assert.ok(tight.topEigenvalue.residual! < loose.topEigenvalue.residual!);
    // 1 trace probe, the iterations, 1 residual product.
    assert.equal(tight.hessianVectorProducts, 1 + tight.topEigenvalue.iterations + 1);
  });

  it("is deterministic for a seed, and the seed changes the probes", async () => {
    const args = ["--problem=rosenbrock", "--probes=20"];
    const first = await curvature([...args, "--seed=11"]);
    const second = await curvature([...args, "--seed=11"]);
    const other = await curvature([...args, "--seed=12"]);
    assert.deepEqual(first, second);
    assert.notEqual(first.trace.estimate, other.trace.estimate);
  });
});

describe("descend train → checkpoint → descend curvature", () => {
  it("measures the trained parameters, which equal an independent run's", async () => {
    const out = join(dir, "sensing.safetensors");
    const trained = await cli([
      "train",
      "--problem=matrix-sensing",
      "--optimizer=adam",
      "--steps=30",
      "--seed=4",
      "--learning-rate=0.01",
      `--out=${out}`,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    assert.match(
      trained.stdout,
      /^descend train: adam on matrix-sensing \(learning rate 0\.01, seed 4\): 30 steps, loss /,
    );
    assert.ok(trained.stdout.includes(`checkpoint: ${out} (400 parameters, float64`));
    assert.ok(
      trained.stdout.includes(
        `descend curvature --problem matrix-sensing --seed 4 --checkpoint ${out}`,
      ),
    );

    // The same run through the library.
    const problem = findProblem("matrix-sensing")!;
    const instance = await problem.create({ seed: 4 });
    const reference = new Optimizer(
      new ParamSet(instance.objective.layout, instance.initial),
      adam({ learningRate: 0.01 }),
    );
    for (let k = 0; k < 30; k++) await reference.step(instance.objective);
    const expectedLoss = await instance.objective.value(reference.params.data);

    const report = await curvature([
      "--problem=matrix-sensing",
      "--seed=4",
      `--checkpoint=${out}`,
      "--probes=4",
      "--iterations=5",
    ]);
    assert.equal(report.checkpoint, out);
    assert.equal(report.loss, expectedLoss);
    const initial = await curvature([
      "--problem=matrix-sensing",
      "--seed=4",
      "--probes=4",
      "--iterations=5",
    ]);
    assert.ok(report.loss < initial.loss);

    // The checkpoint also resumes the optimizer: state and parameters as in the reference run.
    const resumed = new Optimizer(
      new ParamSet(instance.objective.layout, instance.objective.layout.zeros()),
      adam({ learningRate: 0.01 }),
    );
    await loadOptimizer(resumed, out);
    assert.deepEqual(resumed.params.data, reference.params.data);
    assert.equal(resumed.count, 30);
  });

  it("reads a parameters-only safetensors file by name", async () => {
    const problem = findProblem("rosenbrock")!;
    const { objective } = await problem.create({ seed: 0 });
    const file = join(dir, "point.safetensors");
    // The minimum (1, 1): H = [[802, −400], [−400, 200]], loss 0.
    await writeFile(file, serializeParams(objective.layout, Float64Array.of(1, 1)));
    const report = await curvature(["--problem=rosenbrock", `--checkpoint=${file}`, "--probes=1"]);
    assert.equal(report.loss, 0);
    assert.equal(report.gradientNorm, 0);
    const top = 501 + Math.hypot(301, 400);
    assert.ok(relativeError(report.topEigenvalue.value, top) <= 1e-12);
  });
});

describe("descend curvature errors", () => {
  const usage = /^descend curvature: [\s\S]+\nRun "descend curvature --help" for usage\.\n$/;

  it("rejects bad options with exit status 2, naming the option and the value", async () => {
    const cases: [string[], RegExp][] = [
      [[], /--problem is required/],
      [
        ["--problem=rosenbrock", "--probes=0"],
        /--probes must be an integer in \[1, 1000000\], got "0"/,
      ],
      [["--problem=rosenbrock", "--probes=many"], /--probes must be an integer .*got "many"/],
      [["--problem=rosenbrock", "--iterations=-3"], /--iterations must be an integer .*got "-3"/],
      [["--problem=rosenbrock", "--iterations=2.5"], /--iterations .*got "2\.5"/],
      [
        ["--problem=rosenbrock", "--seed=-1"],
        /--seed must be an integer in \[0, 4294967295\], got "-1"/,
      ],
      [["--problem=rosenbrock", "--seed=4294967296"], /--seed .*got "4294967296"/],
      [
        ["--problem=rosenbrock", "--learning-rate=0"],
        /--learning-rate needs positive numbers, got "0"/,
      ],
      [["--problem=rosenbrock", "--learning-rate=fast"], /--learning-rate .*got "fast"/],
      [["--problem=rosenbrock", "--tolerance=-1"], /--tolerance .*got "-1"/],
      [
        ["--problem=rosenbrock", "--method=newton"],
        /--method must be lanczos or power, got "newton"/,
      ],
      [
        ["--problem=rosenbrock", "--distribution=uniform"],
        /--distribution must be rademacher or gaussian, got "uniform"/,
      ],
      [["--problem=rosenbrock", "--batch=x"], /--batch .*got "x"/],
      [["--problem=rosenbrock", "--checkpoint="], /--checkpoint needs a file/],
      [["--problem=rosenbrock", "--frobnicate"], /frobnicate/],
      [["--problem=rosenbrock", "extra"], /extra/],
      [["--problem=nosuch"], /unknown problem "nosuch"; known problems: rosenbrock, /],
    ];
    for (const [args, message] of cases) {
      const { code, stdout, stderr } = await cli(["curvature", ...args]);
      assert.equal(code, 2, args.join(" "));
      assert.equal(stdout, "");
      assert.match(stderr, usage);
      assert.match(stderr, message);
    }
    const unknown = await cli(["curvature", "--problem=nosuch"]);
    assert.ok(unknown.stderr.includes(`known problems: ${problems.map((p) => p.name).join(", ")}`));
  });

  it("refuses a problem without Hessian-vector products, listing those that have them", async () => {
    const rosenbrock = findProblem("rosenbrock")!;
    const valueOnly: BenchProblem = {
      ...rosenbrock,
      name: "value-only",
      oracles: ["value", "valueAndGrad"],
    };
    const registry = [valueOnly, rosenbrock, findProblem("quadratic")!];
    const { code, stderr } = await cli(["curvature", "--problem=value-only"], {
      problems: registry,
    });
    assert.equal(code, 2);
    assert.match(stderr, usage);
    assert.match(
      stderr,
      /problem "value-only" has no Hessian-vector products \("hvp" oracle\); problems that have them: rosenbrock, quadratic\n/,
    );
    // A problem that claims the oracle but whose objective lacks it fails when built.
    const liar: BenchProblem = {
      ...rosenbrock,
      name: "liar",
      create: async (options) => {
        const instance = await rosenbrock.create(options);
        return { ...instance, objective: { ...instance.objective, hvp: undefined } };
      },
    };
    const built = await cli(["curvature", "--problem=liar"], { problems: [liar] });
    assert.equal(built.code, 1);
    assert.match(
      built.stderr,
      /problem liar \(objective "rosenbrock"\) has no Hessian-vector products/,
    );
    const help = await cli(["curvature", "--help"], { problems: registry });
    assert.ok(!help.stdout.includes("value-only"));
  });

  it("reports unreadable, corrupt and mismatched checkpoints with exit status 1", async () => {
    // A Rosenbrock checkpoint (x: [2]) does not fit the quadratic (x: [100]).
    const small = join(dir, "rosenbrock.safetensors");
    const trained = await cli([
      "train",
      "--problem=rosenbrock",
      "--optimizer=sgd",
      "--steps=3",
      `--out=${small}`,
    ]);
    assert.equal(trained.code, 0, trained.stderr);
    const mismatch = await cli(["curvature", "--problem=quadratic", `--checkpoint=${small}`]);
    assert.equal(mismatch.code, 1);
    assert.match(
      mismatch.stderr,
      /checkpoint .*rosenbrock\.safetensors does not fit problem quadratic: tensor "x" has shape \[2\] in the file, \[100\] here\n$/,
    );

    const missing = await cli([
      "curvature",
      "--problem=rosenbrock",
      `--checkpoint=${join(dir, "nowhere.safetensors")}`,
    ]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /^descend curvature: cannot read checkpoint .*nowhere\.safetensors: .*ENOENT/,
    );

    const bytes = await readFile(small);
    const corrupt = async (name: string, content: Uint8Array, message: RegExp) => {
      const file = join(dir, name);
      await writeFile(file, content);
      const result = await cli(["curvature", "--problem=rosenbrock", `--checkpoint=${file}`]);
      assert.equal(result.code, 1, name);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, message, name);
    };
    await corrupt(
      "truncated.safetensors",
      bytes.subarray(0, bytes.length - 5),
      /file is truncated/,
    );
    await corrupt("short.safetensors", bytes.subarray(0, 5), /file is truncated: 5 bytes/);
    await corrupt(
      "text.safetensors",
      new TextEncoder().encode("not a checkpoint at all"),
      /header is corrupt|truncated/,
    );
    const garbled = Uint8Array.from(bytes);
    garbled[9] = 0xff;
    await corrupt("garbled.safetensors", garbled, /header is corrupt: not UTF-8 JSON/);

    // An optimizer checkpoint saved without its parameters.
    const problem = findProblem("rosenbrock")!;
    const { objective, initial } = await problem.create({ seed: 0 });
    const opt = new Optimizer(new ParamSet(objective.layout, initial), sgd({ learningRate: 0.1 }));
    const stateOnly = join(dir, "state-only.safetensors");
    await saveOptimizer(opt, stateOnly);
    await corrupt(
      "state-only-copy.safetensors",
      await readFile(stateOnly),
      /holds no parameters \(it was saved without includeParams\)/,
    );

    // A parameter file with a tensor the problem lacks, and one holding NaN.
    const layout = objective.layout;
    const wider = ParamSet.zeros(
      [
        { name: "x", shape: [2] },
        { name: "bias", shape: [1] },
      ],
      "float64",
    );
    await corrupt(
      "extra.safetensors",
      serializeParams(wider.layout, wider.data),
      /tensor "bias", which the layout lacks/,
    );
    await corrupt(
      "nan.safetensors",
      serializeParams(layout, Float64Array.of(0.5, Number.NaN)),
      /holds a non-finite parameter: x\[1\] = NaN/,
    );
  });
});

describe("descend train errors", () => {
  it("rejects bad options with exit status 2 and fails on an unwritable file with 1", async () => {
    const usage = /^descend train: [\s\S]+\nRun "descend train --help" for usage\.\n$/;
    for (const [args, message] of [
      [["--optimizer=adam", "--out=x"], /--problem is required/],
      [["--problem=rosenbrock", "--out=x"], /--optimizer is required/],
      [["--problem=rosenbrock", "--optimizer=adam"], /--out needs the checkpoint file/],
      [
        ["--problem=rosenbrock", "--optimizer=nosuch", "--out=x"],
        /unknown optimizer "nosuch"; known optimizers: sgd, /,
      ],
      [["--problem=nosuch", "--optimizer=adam", "--out=x"], /unknown problem "nosuch"/],
      [
        ["--problem=rosenbrock", "--optimizer=adam", "--out=x", "--steps=0"],
        /--steps must be an integer .*got "0"/,
      ],
      [
        ["--problem=rosenbrock", "--optimizer=adam", "--out=x", "--learning-rate=-1"],
        /--learning-rate .*got "-1"/,
      ],
    ] as [string[], RegExp][]) {
      const { code, stdout, stderr } = await cli(["train", ...args]);
      assert.equal(code, 2, args.join(" "));
      assert.equal(stdout, "");
      assert.match(stderr, usage);
      assert.match(stderr, message);
    }
    const file = join(dir, "a-file");
    await writeFile(file, "");
    const unwritable = await cli([
      "train",
      "--problem=rosenbrock",
      "--optimizer=adam",
      "--steps=2",
      `--out=${join(file, "x.safetensors")}`,
    ]);
    assert.equal(unwritable.code, 1);
    assert.match(unwritable.stderr, /cannot write the checkpoint .*a-file\/x\.safetensors/);
    const diverging = await cli([
      "train",
      "--problem=rosenbrock",
      "--optimizer=sgd",
      "--learning-rate=10",
      "--steps=50",
      `--out=${join(dir, "diverged.safetensors")}`,
    ]);
    assert.equal(diverging.code, 1);
    assert.match(diverging.stderr, /no checkpoint written/);
  });
});

describe("help", () => {
  it("documents train and curvature in descend --help and in their own help", async () => {
    const main = await cli(["--help"]);
    assert.match(main.stdout, /\n {2}train {6}run one optimizer/);
    assert.match(main.stdout, /\n {2}curvature {2}measure a problem's Hessian/);
    for (const option of [
      "--checkpoint",
      "--probes",
      "--iterations",
      "--method",
      "--learning-rate",
      "--json",
    ]) {
      assert.ok(main.stdout.includes(option), option);
    }
    const own = await cli(["curvature", "--help"]);
    assert.equal(own.code, 0);
    assert.match(own.stdout, /^Usage: descend curvature --problem NAME/);
    for (const option of [
      "--problem",
      "--checkpoint",
      "--seed",
      "--probes",
      "--distribution",
      "--method",
      "--iterations",
      "--tolerance",
      "--learning-rate",
      "--batch",
      "--json",
    ]) {
      assert.ok(own.stdout.includes(option), option);
    }
    for (const p of problems.filter((q) => q.oracles.includes("hvp"))) {
      assert.ok(own.stdout.includes(`\n  ${p.name} `), p.name);
    }
    assert.deepEqual(await cli(["help", "curvature"]), own);
    const train = await cli(["train", "--help"]);
    assert.equal(train.code, 0);
    assert.match(train.stdout, /^Usage: descend train --problem NAME --optimizer NAME --out FILE/);
    assert.deepEqual(await cli(["help", "train"]), train);
  });
});
