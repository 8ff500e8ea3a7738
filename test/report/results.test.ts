import assert from "node:assert/strict";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FIGURE_KINDS, figureFileName } from "../../src/report/figures.js";
import { RESULTS_VERSION, parseResults, stringifyResults } from "../../src/report/results.js";
import { readResults, writeReport } from "../../src/report/write.js";
import { tinyResults } from "./helpers.js";

/** A record as version 1 wrote it: one run per optimizer and problem, a single seed. */
const VERSION_1 = `{
  "format": "descend-bench-results",
  "version": 1,
  "startedAt": "2024-01-02T03:04:05.000Z",
  "complete": true,
  "plannedRuns": 2,
  "wallMs": 120,
  "options": { "optimizers": ["adam", "sgd"], "problems": ["rosenbrock"], "steps": 3, "seed": 4, "learningRates": {} },
  "environment": { "node": "v20.1.0", "platform": "linux", "arch": "x64", "cpus": 2, "cpuModel": "old", "descend": "0.1.0" },
  "problems": [{ "name": "rosenbrock", "description": "banana", "kind": "function", "targetLoss": 0.0001, "optimalValue": 0, "defaultSteps": 2000 }],
  "optimizers": [],
  "runs": [
    { "optimizer": "adam", "problem": "rosenbrock", "learningRate": 0.1, "learningRateSource": "tuned", "seed": 4, "steps": 3, "targetLoss": 0.0001,
      "status": "ok", "losses": [24.2, 4, 2, 1], "stepsDone": 3, "finalLoss": 1, "bestLoss": 1, "stepsToTarget": null, "accuracy": null,
      "times": { "setupMs": 1, "runMs": 6, "msPerStep": 2 } },
    { "optimizer": "sgd", "problem": "rosenbrock", "learningRate": 0.5, "learningRateSource": "tuned", "seed": 4, "steps": 3, "targetLoss": 0.0001,
      "status": "diverged", "message": "loss became Infinity at step 2", "losses": [24.2, 1e300, "Infinity"], "stepsDone": 2,
      "finalLoss": "Infinity", "bestLoss": 24.2, "stepsToTarget": null, "accuracy": null,
      "times": { "setupMs": 1, "runMs": 2, "msPerStep": 1 } }
  ]
}`;

describe("results.json", () => {
  it("round-trips a record, non-finite losses and scores included", async () => {
    const results = await tinyResults({ learningRates: { adam: 1e200 } });
    const diverged = results.runs[0];
    assert.equal(diverged.status, "diverged");
    assert.ok(!Number.isFinite(diverged.finalLoss));
    const text = stringifyResults(results);
    // Plain JSON: any parser reads it.
    const plain = JSON.parse(text) as { runs: { losses: unknown[] }[] };
    assert.equal(typeof plain.runs[0].losses.at(-1), "string");
    assert.deepEqual(parseResults(text), results);
  });

  it("holds the options, the criterion, the runs with their costs, and the summary", async () => {
    const results = await tinyResults();
    const plain = JSON.parse(stringifyResults(results)) as Record<string, unknown>;
    assert.equal(plain.format, "descend-bench-results");
    assert.equal(plain.version, RESULTS_VERSION);
    assert.equal(RESULTS_VERSION, 2);
    assert.deepEqual(plain.options, {
      suite: "quick",
      optimizers: ["adam", "adamw"],
      problems: ["rosenbrock", "quadratic"],
      steps: 30,
      seeds: [0],
      grid: [1, 3],
      learningRates: {},
    });
    assert.match(plain.criterion as string, /last 10% of steps/);
    assert.equal((plain.environment as { node: string }).node, "v20.0.0");
    const runs = plain.runs as Record<string, unknown>[];
    assert.equal(runs.length, 8);
    for (const key of [
      "optimizer",
      "problem",
      "learningRate",
      "learningRateFactor",
      "seed",
      "losses",
      "calls",
      "trace",
      "times",
      "status",
    ]) {
      assert.ok(key in runs[0], key);
    }
    assert.equal((runs[0].losses as number[]).length, 31);
    assert.deepEqual(runs[0].calls, {
      value: 0,
      valueAndGrad: 30,
      hvp: 0,
      jvp: 0,
      sampledLabelGrad: 0,
      outputJacobian: 0,
      layerStatistics: 0,
    });
    const summary = plain.summary as { problem: string; optimizer: string; sweep: unknown[] }[];
    assert.deepEqual(
      summary.map((p) => `${p.problem}/${p.optimizer}/${p.sweep.length}`),
      ["rosenbrock/adam/2", "rosenbrock/adamw/2", "quadratic/adam/2", "quadratic/adamw/2"],
    );
  });

  it("reads a version-1 record as a one-point sweep", () => {
    const results = parseResults(VERSION_1);
    assert.equal(results.version, RESULTS_VERSION);
    assert.deepEqual(results.options.seeds, [4]);
    assert.deepEqual(results.options.grid, [1]);
    assert.equal(results.runs[0].learningRateFactor, 1);
    assert.equal(results.runs[0].calls, null);
    assert.equal(results.runs[1].finalLoss, Number.POSITIVE_INFINITY);
    const [adam, sgd] = results.summary;
    assert.equal(adam.learningRate, 0.1);
    assert.equal(adam.finalLoss!.mean, 1);
    assert.equal(adam.score, 1);
    assert.equal(sgd.status, "diverged");
    assert.equal(sgd.message, "loss became Infinity at step 2");
  });

  it("rejects files of another format or version", () => {
    assert.throws(() => parseResults("{}"), /not a benchmark results file/);
    assert.throws(() => parseResults("[1]"), /not a benchmark results file/);
    assert.throws(
      () => parseResults('{"format": "descend-bench-results", "version": 99}'),
      /unsupported benchmark results version 99/,
    );
  });

  it("writes results.json, index.html and one PNG per figure into a directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-report-"));
    try {
      const results = await tinyResults({ problems: ["rosenbrock"] });
      const out = join(dir, "nested", "out");
      const paths = await writeReport(out, results);
      assert.deepEqual(paths.figureErrors, []);
      assert.deepEqual(await readResults(out), results);
      assert.deepEqual(await readResults(paths.results), results);
      assert.match(await readFile(paths.html, "utf8"), /^<!doctype html>/);
      const pngs = (await readdir(join(out, "figures"))).sort();
      assert.deepEqual(pngs, FIGURE_KINDS.map((k) => figureFileName("rosenbrock", k)).sort());
      for (const name of pngs) {
        const bytes = await readFile(join(out, "figures", name));
        // The PNG signature, then an IHDR chunk whose width is twice the SVG's.
        assert.deepEqual([...bytes.subarray(0, 8)], [137, 80, 78, 71, 13, 10, 26, 10]);
        assert.ok(bytes.readUInt32BE(16) > 800, `${name} is ${bytes.readUInt32BE(16)} wide`);
      }
      assert.deepEqual(paths.pngs.length, 4);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
