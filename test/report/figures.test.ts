import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { TopLevelSpec } from "vega-lite";
import {
  FIGURE_KINDS,
  benchFigures,
  figureFileName,
  problemFigures,
  renderFigures,
} from "../../src/report/figures.js";
import { tinyResults } from "./helpers.js";

interface Point {
  optimizer: string;
  x: number;
  mean: number | null;
  lo: number | null;
  hi: number | null;
}

/** The data of every layer of a specification, flattened. */
function layerData(spec: TopLevelSpec): Record<string, unknown>[][] {
  const layers = (spec as { layer?: { data?: { values?: Record<string, unknown>[] } }[] }).layer;
  return (layers ?? []).map((l) => l.data?.values ?? []);
}

describe("figure specifications", () => {
  it("are four per problem with runs, named after problem and kind", async () => {
    const results = await tinyResults();
    const figures = benchFigures(results);
    assert.deepEqual(
      figures.map((f) => `${f.problem}:${f.kind}`),
      ["rosenbrock", "quadratic"].flatMap((p) => FIGURE_KINDS.map((k) => `${p}:${k}`)),
    );
    assert.equal(figures[0].file, "rosenbrock-steps.png");
    assert.equal(figureFileName("csv:My Data.csv", "sweep"), "csv-my-data-csv-sweep.png");
    assert.match(figures[0].title, /rosenbrock: loss vs steps/);
  });

  it("draw the mean over the seeds with a band from the lowest to the highest", async () => {
    const results = await tinyResults({
      optimizers: ["adam"],
      problems: ["seeded-bowl"],
      steps: 5,
      seeds: 3,
      grid: [1],
    });
    const runs = results.runs;
    assert.equal(runs.length, 3);
    const [steps] = problemFigures(results, results.problems[0]);
    const [band, line] = layerData(steps.spec) as unknown as Point[][];
    assert.equal(line.length, 6);
    for (const k of [0, 3, 5]) {
      const values = runs.map((r) => r.losses[k]);
      const point = line.find((p) => p.x === k)!;
      assert.ok(Math.abs(point.mean! - values.reduce((s, v) => s + v, 0) / 3) < 1e-15);
      assert.equal(point.lo, Math.min(...values));
      assert.equal(point.hi, Math.max(...values));
    }
    assert.equal(band.length, 6);
  });

  it("plot the distance to a nonzero optimum and leave out what a log axis cannot show", async () => {
    const results = await tinyResults({
      optimizers: ["adam"],
      problems: ["rosenbrock"],
      grid: [1],
    });
    const shifted = {
      ...results,
      problems: [{ ...results.problems[0], optimalValue: 0.5 }],
      runs: results.runs.map((r) => ({ ...r, losses: [1.5, 0.75, 0.5, 0.25] })),
    };
    const [steps] = problemFigures(shifted, shifted.problems[0]);
    assert.match(steps.title, /loss − f\* vs steps \(f\* = 0\.5\)/);
    const line = layerData(steps.spec)[1] as unknown as Point[];
    // 1, 0.25 above f*; at f* and below it there is nothing to draw.
    assert.deepEqual(
      line.map((p) => [p.x, p.mean]),
      [
        [0, 1],
        [1, 0.25],
      ],
    );
  });

  it("show the sweep with the chosen rate and the diverged ones", async () => {
    const results = await tinyResults({
      optimizers: ["adam"],
      problems: ["rosenbrock"],
      grid: [1, 1e200],
    });
    const sweep = problemFigures(results, results.problems[0])[3];
    assert.equal(sweep.kind, "sweep");
    const [finite, chosen, diverged] = layerData(sweep.spec);
    assert.equal(finite.length, 1);
    assert.deepEqual(chosen, finite);
    assert.equal(diverged.length, 1);
    assert.equal(diverged[0].learningRate, results.runs[1].learningRate);
    assert.ok((diverged[0].y as number) > (finite[0].y as number));
  });

  it("say so when there is nothing to plot", async () => {
    const results = await tinyResults({
      optimizers: ["adam"],
      problems: ["rosenbrock"],
      grid: [1e200],
    });
    const figures = problemFigures(results, results.problems[0]);
    const steps = figures[0].spec as {
      mark?: { type: string };
      data?: { values: { text: string }[] };
    };
    assert.equal(steps.mark?.type, "text");
    assert.match(steps.data!.values[0].text, /no positive finite losses/);
  });
});

describe("rendering", () => {
  it("gives an SVG with the title and a PNG, and reports a figure that fails", async () => {
    const results = await tinyResults({
      optimizers: ["adam"],
      problems: ["rosenbrock"],
      grid: [1],
    });
    const [steps] = problemFigures(results, results.problems[0]);
    const broken = {
      ...steps,
      kind: "time" as const,
      spec: { mark: "nonsense" } as unknown as TopLevelSpec,
    };
    const outcome = await renderFigures([steps, broken]);
    assert.equal(outcome.figures.length, 1);
    assert.equal(outcome.errors.length, 1);
    assert.match(outcome.errors[0], /rosenbrock time figure/);
    const [figure] = outcome.figures;
    assert.match(figure.svg, /^<svg/);
    assert.ok(figure.svg.includes("rosenbrock: loss vs steps"));
    assert.ok(figure.svg.includes(">adam<"), "the legend names the optimizer");
    assert.deepEqual([...figure.png!.subarray(0, 4)], [137, 80, 78, 71]);
    const svgOnly = await renderFigures([steps], { png: false });
    assert.equal(svgOnly.figures[0].png, undefined);
  });
});
