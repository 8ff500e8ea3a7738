import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { catalog } from "../../src/optim/catalog.js";
import { problems } from "../../src/bench/problems.js";
import { parseBenchArguments } from "../../src/cli/bench.js";
import { runCli } from "../../src/cli/cli.js";
import { parseResults } from "../../src/report/results.js";

const run = promisify(execFile);

const OPTIONS = ["--optimizers", "--problems", "--steps", "--seed", "--out", "--help"];

/** Runs the command line in-process, capturing its output. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  let stdout = "";
  let stderr = "";
  const code = await runCli(args, {
    stdout: { isTTY: false, write: (t: string) => (stdout += t) },
    stderr: { write: (t: string) => (stderr += t) },
  });
  return { code, stdout, stderr };
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
    assert.match(stdout, /bench/);
    for (const option of OPTIONS) assert.ok(stdout.includes(option), option);
  });

  it("documents bench's options and names every optimizer and problem", async () => {
    const { code, stdout } = await cli(["bench", "--help"]);
    assert.equal(code, 0);
    assert.match(stdout, /^Usage: descend bench \[options\]/);
    for (const option of OPTIONS) assert.ok(stdout.includes(option), option);
    for (const e of catalog) assert.match(stdout, new RegExp(`\\b${e.name}\\b`));
    for (const p of problems) assert.ok(stdout.includes(p.name) && stdout.includes(p.description));
    assert.deepEqual(await cli(["help", "bench"]), { code: 0, stdout, stderr: "" });
  });
});

describe("descend bench arguments", () => {
  it("parses lists, numbers and the report directory", () => {
    assert.deepEqual(
      parseBenchArguments([
        "--optimizers",
        "adam, adamw",
        "-p",
        "rosenbrock",
        "-n",
        "10",
        "--seed=3",
        "--out",
        "x",
      ]),
      {
        help: false,
        options: { optimizers: ["adam", "adamw"], problems: ["rosenbrock"], steps: 10, seed: 3 },
        out: "x",
      },
    );
    assert.deepEqual(
      parseBenchArguments(["--optimizers", "all"]).options.optimizers,
      catalog.map((e) => e.name),
    );
  });

  it("rejects mistakes with exit status 2 and a pointer to --help", async () => {
    for (const args of [
      ["bench", "--steps", "0"],
      ["bench", "--steps", "ten"],
      ["bench", "--seed=-1"],
      ["bench", "--seed"],
      ["bench", "--frobnicate"],
      ["bench", "extra"],
      ["bench", "--optimizers", ","],
    ]) {
      const { code, stdout, stderr } = await cli(args);
      assert.equal(code, 2, args.join(" "));
      assert.equal(stdout, "");
      assert.match(stderr, /^descend bench: [\s\S]+\nRun "descend bench --help" for usage\.\n$/);
    }
    const unknownCommand = await cli(["banch"]);
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command "banch"; known commands: bench/);
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
  it("runs, prints plain progress and the table, and writes the report", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-cli-"));
    try {
      const out = join(dir, "report");
      const { code, stdout, stderr } = await cli([
        "bench",
        "--optimizers=adam,adamw",
        "--problems=rosenbrock,quadratic",
        "--steps=40",
        "--seed=5",
        `--out=${out}`,
      ]);
      assert.equal(stderr, "");
      assert.equal(code, 0);
      assert.ok(!stdout.includes("\r") && !stdout.includes("\u001b"));
      assert.match(stdout, /^descend bench: 4 runs \(2 optimizers × 2 problems\), seed 5\n/);
      assert.match(stdout, /\[4\/4\] adamw on quadratic \(lr [\d.e-]+\): ok, 40\/40 steps/);
      assert.match(stdout, /\noptimizer +problem +lr +final loss/);
      assert.match(stdout, /\nadamw +quadratic +/);
      assert.ok(stdout.includes(`report: ${join(out, "index.html")}`));
      const results = parseResults(await readFile(join(out, "results.json"), "utf8"));
      assert.equal(results.complete, true);
      assert.equal(results.runs.length, 4);
      assert.ok(results.runs.every((r) => r.seed === 5 && r.losses.length === 41));
      assert.equal(results.environment.node, process.version);
      assert.equal(results.environment.platform, process.platform);
      const html = await readFile(join(out, "index.html"), "utf8");
      assert.equal(html.match(/<svg/g)?.length, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("exits 1 when a run fails, keeping the others", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-cli-"));
    try {
      let stdout = "";
      const code = await runCli(
        [
          "bench",
          "--optimizers=adam",
          "--problems=rosenbrock,unloadable",
          "--steps=5",
          `--out=${dir}`,
        ],
        {
          stdout: { write: (t: string) => (stdout += t) },
          stderr: { write: () => true },
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
      assert.match(stdout, /unloadable \(lr [\d.e-]+\): error, 0\/5 steps.*no such model/);
      const results = parseResults(await readFile(join(dir, "results.json"), "utf8"));
      assert.deepEqual(
        results.runs.map((r) => r.status),
        ["ok", "error"],
      );
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("fails before any run when the report cannot be written", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-cli-"));
    try {
      const file = join(dir, "a-file");
      await writeFile(file, "");
      const { code, stdout, stderr } = await cli(["bench", `--out=${join(file, "report")}`]);
      assert.equal(code, 1);
      assert.equal(stdout, "");
      assert.match(stderr, /^descend bench: cannot write the report to .*a-file/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
