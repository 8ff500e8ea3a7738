import assert from "node:assert/strict";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { csvProblem, csvProblemName } from "../../src/bench/csv.js";
import { problems } from "../../src/bench/problems.js";
import { planBench, runBench } from "../../src/bench/run.js";

let dir = "";
before(async () => {
  dir = await mkdtemp(join(tmpdir(), "descend-csv-"));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Writes `text` to a file in the temporary directory. */
async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

describe("a user's CSV file as a problem", () => {
  it("is logistic regression for two classes, softmax for more, on standardized features", async () => {
    const two = csvProblem(await file("two.csv", "a,b,label\n0,1,0\n1,0,1\n2,2,1\n3,1,0\n"));
    assert.equal(two.name, "csv:two.csv");
    assert.equal(csvProblemName("/some/where/two.csv"), "csv:two.csv");
    const instance = await two.create({ seed: 0 });
    // Two classes: weight [2] and bias [1]; at zero weights the loss is ln 2.
    assert.equal(instance.objective.layout.size, 3);
    assert.ok(Math.abs((await instance.objective.value(instance.initial)) - Math.log(2)) < 1e-12);
    const three = csvProblem(await file("three.csv", "0;1;2\n1;0;1\n2;2;0\n3;1;1\n"), {
      delimiter: ";",
      labelColumn: 0,
      header: false,
    });
    const softmax = await three.create({ seed: 0 });
    // Label in the first column, values 0, 1, 2, 3: four classes, weight [2, 4] and bias [4].
    assert.equal(softmax.objective.layout.size, 2 * 4 + 4);
    assert.ok(Math.abs((await softmax.objective.value(softmax.initial)) - Math.log(4)) < 1e-12);
    // Standardized features: the gradient of the weights at zero is −(1/n) Σ x_i (y_i − ½) for
    // logistic regression; with standardized columns Σ x_i = 0, so only the label correlation is
    // left. Check the first column's standardization directly: mean 0, variance 1.
    const xs = [0, 1, 2, 3];
    const mean = 1.5;
    const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / 4);
    const z = xs.map((x) => (x - mean) / sd);
    const labels = [0, 1, 1, 0];
    const g = new Float64Array(3);
    await instance.objective.valueAndGrad!(instance.initial, g);
    const expected = z.reduce((s, zi, i) => s + zi * (0.5 - labels[i]), 0) / 4;
    assert.ok(Math.abs(g[0] - expected) < 1e-12, `${g[0]} vs ${expected}`);
  });

  it("reports a malformed file on each of its runs, and the other problems go on", async () => {
    const bad = csvProblem(await file("bad.csv", "1,2,0\n3,x,1\n"));
    const registry = [problems[0], bad];
    const plan = planBench(
      {
        optimizers: ["adam", "sgd"],
        problems: ["rosenbrock", bad.name],
        steps: 5,
        grid: [1, 3],
        seeds: 1,
      },
      { problems: registry },
    );
    const results = await runBench(plan, { problems: registry });
    const mine = results.filter((r) => r.problem === bad.name);
    assert.equal(mine.length, 4);
    for (const r of mine) {
      assert.equal(r.status, "error");
      assert.match(r.message ?? "", /setup failed: .*bad\.csv:2: column 2 is "x", not a number/);
    }
    assert.ok(results.filter((r) => r.problem === "rosenbrock").every((r) => r.status === "ok"));
  });

  it("reports a missing file and a single class the same way", async () => {
    const missing = csvProblem(join(dir, "nowhere.csv"));
    const one = csvProblem(await file("one.csv", "1,0\n2,0\n"));
    const registry = [missing, one];
    const results = await runBench(
      planBench(
        { optimizers: ["adam"], problems: registry.map((p) => p.name), grid: [1], seeds: 1 },
        { problems: registry },
      ),
      { problems: registry },
    );
    assert.deepEqual(
      results.map((r) => r.status),
      ["error", "error"],
    );
    assert.match(results[0].message ?? "", /ENOENT|no such file/);
    assert.match(results[1].message ?? "", /found 1 class; classification needs at least 2/);
  });
});
