import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseResults, stringifyResults } from "../../src/report/results.js";
import { readResults, writeReport } from "../../src/report/write.js";
import { tinyResults } from "./helpers.js";

describe("results.json", () => {
  it("round-trips a record, non-finite losses included", async () => {
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

  it("holds the options, the environment and per run the curve, times and status", async () => {
    const results = await tinyResults();
    const plain = JSON.parse(stringifyResults(results)) as Record<string, unknown>;
    assert.equal(plain.format, "descend-bench-results");
    assert.deepEqual(plain.options, {
      optimizers: ["adam", "adamw"],
      problems: ["rosenbrock", "quadratic"],
      steps: 30,
      seed: 0,
      learningRates: {},
    });
    assert.equal((plain.environment as { node: string }).node, "v20.0.0");
    const run = (plain.runs as Record<string, unknown>[])[0];
    for (const key of [
      "optimizer",
      "problem",
      "learningRate",
      "seed",
      "losses",
      "times",
      "status",
    ]) {
      assert.ok(key in run, key);
    }
    assert.equal((run.losses as number[]).length, 31);
  });

  it("rejects files of another format or version", () => {
    assert.throws(() => parseResults("{}"), /not a benchmark results file/);
    assert.throws(
      () => parseResults('{"format": "descend-bench-results", "version": 99}'),
      /unsupported benchmark results version 99/,
    );
  });

  it("writes results.json and index.html into a directory", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-report-"));
    try {
      const results = await tinyResults();
      const paths = await writeReport(join(dir, "nested", "out"), results);
      assert.deepEqual(await readResults(join(dir, "nested", "out")), results);
      assert.match(await readFile(paths.html, "utf8"), /^<!doctype html>/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
