import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { promisify } from "node:util";
import { catalog } from "../../src/optim/catalog.js";
import { problems } from "../../src/bench/problems.js";
import type { RunResult } from "../../src/bench/run.js";
import { parseBenchArguments } from "../../src/cli/bench.js";
import type { CliIo } from "../../src/cli/bench.js";
import { runCli } from "../../src/cli/cli.js";
import { parseResults } from "../../src/report/results.js";

const run = promisify(execFile);

const OPTIONS = [
  "--suite",
  "--optimizers",
  "--problems",
  "--steps",
  "--seed",
  "--seeds",
  "--grid",
  "--data",
  "--out",
  "--compare",
];

/** A small, fast benchmark: no figures unless asked for. */
const TINY = ["--grid=1", "--seeds=1", "--figures=none"];

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

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "descend-cli-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function resultsIn(out: string) {
  return parseResults(await readFile(join(out, "results.json"), "utf8"));
}

function withoutTimes(runs: readonly RunResult[]): unknown[] {
  return runs.map((r) => ({
    ...r,
    times: undefined,
    trace: r.trace && { ...r.trace, ms: undefined },
  }));
}

describe("descend --help", () => {
  it("documents the commands and options (as an executable)", async () => {
    const { stdout } = await run(process.execPath, [
      "--import",
      "tsx",
      "src/cli/main.ts",
      "--help",
    ]);
    assert.match(stdout, /Usage:\n {2}descend <command>/);
    assert.match(stdout, /\n {2}bench {6}/);
    assert.match(stdout, /\n {2}reproduce {2}/);
    for (const option of OPTIONS) assert.ok(stdout.includes(option), option);
  });

  it("documents bench's options and names every suite, optimizer and problem", async () => {
    const { code, stdout } = await cli(["bench", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: descend bench \[options\]/);
    for (const option of [...OPTIONS, "--label-column", "--header", "--threshold", "--figures"]) {
      assert.ok(stdout.includes(option), option);
    }
    for (const suite of ["quick", "standard", "full"])
      assert.match(stdout, new RegExp(`\\n {2}${suite} `));
    for (const e of catalog) assert.match(stdout, new RegExp(`\\b${e.name}\\b`));
    for (const p of problems) assert.ok(stdout.includes(p.name) && stdout.includes(p.description));
    assert.match(stdout, /last 10% of steps/);
    assert.deepEqual(await cli(["help", "bench"]), { code: 0, stdout, stderr: "" });
  });
});

describe("descend bench arguments", () => {
  it("parses lists, numbers, grids, rates, data options and the report directory", () => {
    const parsed = parseBenchArguments([
      "--suite",
      "standard",
      "--optimizers",
      "adam, adamw",
      "-p",
      "rosenbrock",
      "-n",
      "10",
      "--seed=3",
      "--seeds",
      "4",
      "--grid",
      "1/10,0.5,1,3",
      "--lr",
      "adam=0.01,sgd=1/2",
      "--data",
      "a.csv",
      "--data",
      "b.csv",
      "--label-column=-2",
      "--header",
      "no",
      "--delimiter",
      "tab",
      "--figures",
      "svg",
      "--out",
      "x",
    ]);
    assert.deepEqual(parsed.options, {
      suite: "standard",
      optimizers: ["adam", "adamw"],
      problems: ["rosenbrock"],
      steps: 10,
      seed: 3,
      seeds: 4,
      grid: [0.1, 0.5, 1, 3],
      learningRates: { adam: 0.01, sgd: 0.5 },
    });
    assert.deepEqual(parsed.data, {
      paths: ["a.csv", "b.csv"],
      csv: { labelColumn: -2, header: false, delimiter: "\t" },
    });
    assert.equal(parsed.figures, "svg");
    assert.equal(parsed.out, "x");
    assert.equal(parsed.compare, undefined);
    assert.deepEqual(
      parseBenchArguments(["--optimizers", "all"]).options.optimizers,
      catalog.map((e) => e.name),
    );
    const compare = parseBenchArguments(["--compare", "a.json", "b.json", "--threshold", "0.2"]);
    assert.deepEqual(compare.compare, ["a.json", "b.json"]);
    assert.equal(compare.threshold, 0.2);
  });

  it("rejects mistakes with exit status 2 and a pointer to --help", async () => {
    for (const args of [
      ["bench", "--steps", "0"],
      ["bench", "--steps", "ten"],
      ["bench", "--seed=-1"],
      ["bench", "--seed"],
      ["bench", "--seeds=0"],
      ["bench", "--grid", "1,-3"],
      ["bench", "--grid", ","],
      ["bench", "--lr", "adam"],
      ["bench", "--lr", "nosuch=1"],
      ["bench", "--suite", "huge"],
      ["bench", "--header", "maybe"],
      ["bench", "--figures", "gif"],
      ["bench", "--frobnicate"],
      ["bench", "extra"],
      ["bench", "--compare", "a.json"],
      ["bench", "--optimizers", ","],
    ]) {
      const { code, stdout, stderr } = await cli(args);
      assert.equal(code, 2, args.join(" "));
      assert.equal(stdout, "");
      assert.match(stderr, /^descend bench: [\s\S]+\nRun "descend bench --help" for usage\.\n$/);
    }
    const unknownCommand = await cli(["banch"]);
    assert.equal(unknownCommand.code, 2);
    assert.match(
      unknownCommand.stderr,
      /unknown command "banch"; known commands: bench, train, curvature, reproduce, help/,
    );
  });

  it("names the known optimizers and problems when one is unknown", async () => {
    const optimizer = await cli(["bench", "--optimizers", "adam,nosuch"]);
    assert.equal(optimizer.code, 2);
    assert.ok(
      optimizer.stderr.includes(
        `unknown optimizer "nosuch"; known optimizers: ${catalog.map((e) => e.name).join(", ")}`,
      ),
    );
    const problem = await cli(["bench", "--problems", "nosuch"]);
    assert.equal(problem.code, 2);
    assert.ok(
      problem.stderr.includes(
        `unknown problem "nosuch"; known problems: ${problems.map((p) => p.name).join(", ")}`,
      ),
    );
  });
});

describe("descend bench", () => {
  it("sweeps, prints plain progress and the summary, and writes the report with PNGs", async () => {
    const out = join(dir, "report");
    const { code, stdout, stderr } = await cli([
      "bench",
      "--optimizers=adam,adamw",
      "--problems=rosenbrock",
      "--steps=40",
      "--seed=5",
      "--grid=1/3,1,3",
      "--figures=png",
      `--out=${out}`,
    ]);
    assert.equal(stderr, "");
    assert.equal(code, 0);
    assert.ok(!stdout.includes("\r") && !stdout.includes("\u001b"));
    assert.match(
      stdout,
      /^descend bench: suite quick, 6 runs \(2 optimizers × 1 problem, learning rate ×1\/3 ×1 ×3, seeds 5–6\)\n/,
    );
    assert.match(stdout, /\[6\/6\] adamw on rosenbrock \(lr [\d.e-]+, seed 5\): ok, 40\/40 steps/);
    assert.match(stdout, /\noptimizer +problem +best lr +final loss \(mean ± sd\) +seeds/);
    assert.match(stdout, /\nadamw +rosenbrock +/);
    assert.ok(stdout.includes(`report: ${join(out, "index.html")}`));
    assert.match(stdout, /figures: 4 PNGs in /);
    const results = await resultsIn(out);
    assert.equal(results.complete, true);
    // Neither Rosenbrock nor Adam is random: one seed per rate.
    assert.equal(results.runs.length, 6);
    assert.ok(results.runs.every((r) => r.seed === 5 && r.losses.length === 41));
    assert.equal(results.environment.node, process.version);
    assert.equal(results.summary.length, 2);
    const html = await readFile(join(out, "index.html"), "utf8");
    assert.equal(html.match(/<figure /g)?.length, 4);
    assert.equal((await readdir(join(out, "figures"))).length, 4);
  });

  it("is deterministic for a seed", async () => {
    const args = [
      "bench",
      "--optimizers=adam,random-scaling",
      "--problems=rosenbrock,matrix-sensing",
      "--steps=15",

      ...TINY,
      "--seeds=2",
    ];
    await cli([...args, `--out=${join(dir, "first")}`]);
    await cli([...args, `--out=${join(dir, "second")}`]);
    const [first, second] = [
      await resultsIn(join(dir, "first")),
      await resultsIn(join(dir, "second")),
    ];
    assert.equal(first.runs.length, 2 + 2 + 2 + 2 - 1);
    assert.deepEqual(withoutTimes(first.runs), withoutTimes(second.runs));
  });

  it("benchmarks a CSV file, and reports a malformed one per run while the others finish", async () => {
    const good = join(dir, "good.csv");
    await writeFile(good, "x,y,label\n0,1,0\n1,0,1\n2,2,1\n3,1,0\n1,1,2\n");
    const bad = join(dir, "bad.csv");
    await writeFile(bad, "1,2,0\n3,oops,1\n");
    const out = join(dir, "data");
    const { code, stdout, stderr } = await cli([
      "bench",
      "--optimizers=adam,sgd",
      `--data=${good}`,
      `--data=${bad}`,
      "--problems=rosenbrock",
      "--steps=20",
      ...TINY,
      `--out=${out}`,
    ]);
    assert.equal(code, 1, stderr);
    assert.match(stdout, /\[6\/6\]/);
    const results = await resultsIn(out);
    assert.deepEqual(results.options.problems, ["rosenbrock", "csv:good.csv", "csv:bad.csv"]);
    const status = (problem: string) =>
      results.runs.filter((r) => r.problem === problem).map((r) => r.status);
    assert.deepEqual(status("rosenbrock"), ["ok", "ok"]);
    assert.deepEqual(status("csv:good.csv"), ["ok", "ok"]);
    assert.deepEqual(status("csv:bad.csv"), ["error", "error"]);
    for (const r of results.runs.filter((x) => x.problem === "csv:bad.csv")) {
      assert.match(r.message ?? "", /bad\.csv:2: column 2 is "oops", not a number/);
    }
    // Three classes: softmax regression, starting at ln 3.
    const goodRun = results.runs.find((r) => r.problem === "csv:good.csv")!;
    assert.ok(Math.abs(goodRun.losses[0] - Math.log(3)) < 1e-12);
    assert.match(stdout, /\nadam +csv:bad\.csv +- +- +- +- +- +- +error\n/);
  });

  it("compares two results files side by side, exit status 0", async () => {
    const a = join(dir, "cmp-a");
    const b = join(dir, "cmp-b");
    const base = ["bench", "--optimizers=adam,sgd", "--problems=quadratic", "--steps=30", ...TINY];
    await cli([...base, `--out=${a}`]);
    await cli([...base, "--lr=adam=0.0003", `--out=${b}`]);
    // Times of runs this short are noise: only losses are judged here.
    const { code, stdout, stderr } = await cli([
      "bench",
      "--compare",
      join(a, "results.json"),
      b,
      "--time-threshold=1000",
    ]);
    assert.equal(stderr, "");
    assert.equal(code, 0);
    assert.match(stdout, /^a = .*cmp-a\/results\.json: /);
    assert.match(
      stdout,
      /\nquadratic +adam +0\.03 +0\.0003 +[\d.e+-]+ +[\d.e+-]+ +[\d.]+ .*REGRESSION loss \+\d+%/,
    );
    assert.match(stdout, /\nquadratic +sgd +1\.9 +1\.9 .* 1\.00 /);
    assert.match(
      stdout,
      /\n1 regression beyond 10% in loss \(distance to f\*\) or 100000% in time\n$/,
    );
    const missing = await cli(["bench", "--compare", join(dir, "nowhere.json"), b]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^descend bench --compare: .*nowhere\.json/);
  });

  it("exits 1 when a run fails, keeping the others", async () => {
    const out = join(dir, "failing");
    const { code, stdout } = await cli(
      [
        "bench",
        "--optimizers=adam",
        "--problems=rosenbrock,unloadable",
        "--steps=5",
        ...TINY,
        `--out=${out}`,
      ],
      {
        problems: [
          problems[0],
          {
            ...problems[0],
            name: "unloadable",
            create: () => Promise.reject(new Error("no such model")),
          },
        ],
      },
    );
    assert.equal(code, 1);
    assert.match(stdout, /unloadable \(lr [\d.e-]+, seed 0\): error, 0\/5 steps.*no such model/);
    const results = await resultsIn(out);
    assert.deepEqual(
      results.runs.map((r) => r.status),
      ["ok", "error"],
    );
  });

  it("keeps the finished runs when interrupted", async () => {
    const out = join(dir, "interrupted");
    const controller = new AbortController();
    let seen = 0;
    const { code, stderr } = await cli(
      [
        "bench",
        "--optimizers=adam,adamw,sgd",
        "--problems=rosenbrock",
        "--steps=20",
        ...TINY,
        `--out=${out}`,
      ],
      {
        signal: controller.signal,
        stdout: {
          isTTY: false,
          write: (t: string) => {
            if (/\[2\/3\]/.test(t) && ++seen === 1) controller.abort();
          },
        },
      },
    );
    assert.equal(code, 130);
    assert.match(stderr, /interrupted; 2 of 3 runs recorded/);
    const results = await resultsIn(out);
    assert.equal(results.complete, false);
    assert.equal(results.runs.length, 2);
  });

  it("fails before any run when the report cannot be written", async () => {
    const file = join(dir, "a-file");
    await writeFile(file, "");
    const { code, stdout, stderr } = await cli(["bench", `--out=${join(file, "report")}`]);
    assert.equal(code, 1);
    assert.equal(stdout, "");
    assert.match(stderr, /^descend bench: cannot write the report to .*a-file/);
  });
});

describe("descend reproduce", () => {
  it("forwards its arguments to the reproduction command", async () => {
    const { code, stdout } = await cli(["reproduce", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /descend reproduce/);
    const help = await cli(["help", "reproduce"]);
    assert.equal(help.stdout, stdout);
  });
});
