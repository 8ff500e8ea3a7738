import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { renderHtml } from "../../src/report/html.js";
import { tinyResults } from "./helpers.js";

/** The <svg>…</svg> elements of a page. */
function svgs(html: string): string[] {
  return html.match(/<svg[\s\S]*?<\/svg>/g) ?? [];
}

describe("HTML report", () => {
  it("is self-contained", async () => {
    const html = renderHtml(await tinyResults());
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /https?:/i);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|@import|url\((?!#)/i);
    assert.doesNotMatch(html, /\ssrc=|\shref=/i);
  });

  it("has one plot per problem with one line per optimizer", async () => {
    const results = await tinyResults();
    const plots = svgs(renderHtml(results));
    assert.equal(plots.length, 2);
    for (const [i, problem] of ["rosenbrock", "quadratic"].entries()) {
      assert.ok(plots[i].includes(`${problem}: loss per step`));
      assert.equal(plots[i].match(/<path /g)?.length, 2);
      assert.ok(plots[i].includes(">adam<") && plots[i].includes(">adamw<"));
      assert.match(plots[i], /\(log scale\)/);
      assert.match(plots[i], />step</);
    }
  });

  it("has the table and the metadata, escaped", async () => {
    const html = renderHtml(await tinyResults());
    assert.equal(html.match(/<table>/g)?.length, 2);
    assert.equal(html.match(/<tbody>[\s\S]*?<\/tbody>/g)?.[0].match(/<tr/g)?.length, 2);
    assert.ok(html.includes('<th class="right">final loss</th>'));
    assert.ok(html.includes("Test CPU &lt;fast&gt;"));
    assert.ok(!html.includes("<fast>"));
    assert.ok(html.includes("v20.0.0"));
  });

  it("plots the distance to a nonzero optimum", async () => {
    const results = await tinyResults();
    const shifted = {
      ...results,
      problems: results.problems.map((p, i) => (i === 0 ? { ...p, optimalValue: 0.5 } : p)),
      runs: results.runs.map((r, i) => (i === 0 ? { ...r, losses: [1.5, 0.75, 0.5625] } : r)),
    };
    const [plot] = svgs(renderHtml(shifted));
    assert.match(plot, /rosenbrock: loss − f\* per step \(f\* = 5\.000e-1\)/);
    // 1, 1/4, 1/16 above f*: equal steps down the log axis.
    const d = plot.match(/<path d="([^"]*)"/)![1];
    const ys = d
      .split(/[ML]/)
      .filter(Boolean)
      .map((pair) => Number(pair.trim().split(" ")[1]));
    assert.equal(ys.length, 3);
    assert.ok(Math.abs(ys[1] - ys[0] - (ys[2] - ys[1])) <= 0.2, `${ys}`);
    assert.ok(ys[1] > ys[0]);
  });

  it("reports failed runs with their messages and marks an unfinished benchmark", async () => {
    const results = await tinyResults({ learningRates: { adam: 1e200 } });
    const html = renderHtml({ ...results, complete: false, plannedRuns: 6 });
    assert.match(html, /class="warning">This benchmark did not finish: 4 of 6 runs/);
    assert.match(html, /<td class="left status-diverged" title="[^"]+">diverged @\d+<\/td>/);
    assert.match(html, /<li><strong>adam<\/strong> \(diverged\): <code>/);
    // The diverged line ends in a marker.
    assert.match(svgs(html)[0], /<circle /);
  });
});
