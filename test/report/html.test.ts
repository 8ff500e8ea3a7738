import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { FIGURE_KINDS, benchFigures, renderFigures } from "../../src/report/figures.js";
import { escapeXml, inlineSvg, renderHtml } from "../../src/report/html.js";
import type { BenchResults } from "../../src/report/results.js";
import { tinyResults } from "./helpers.js";

async function page(results: BenchResults): Promise<string> {
  const { figures, errors } = await renderFigures(benchFigures(results), { png: false });
  assert.deepEqual(errors, []);
  return renderHtml(results, { figures, pngDir: "figures" });
}

describe("HTML report", () => {
  it("is self-contained: no scripts, links or external resources", async () => {
    const html = await page(await tinyResults());
    assert.match(html, /^<!doctype html>/);
    assert.doesNotMatch(html, /https?:/i);
    assert.doesNotMatch(html, /<script|<link|<img|<iframe|<object|<embed|@import/i);
    assert.doesNotMatch(html, /url\((?!#)/i);
    assert.doesNotMatch(html, /\ssrc=/i);
    // Links may only point inside the page.
    for (const [, target] of html.matchAll(/href="([^"]*)"/g)) assert.match(target, /^#/);
  });

  it("has one figure per problem and kind, each an inline SVG", async () => {
    const results = await tinyResults();
    const html = await page(results);
    const figures = [...html.matchAll(/<figure [^>]*data-problem="([^"]+)" data-kind="([^"]+)">/g)];
    const expected = ["rosenbrock", "quadratic"].flatMap((p) =>
      FIGURE_KINDS.map((k) => `${p}/${k}`),
    );
    assert.deepEqual(
      figures.map((m) => `${m[1]}/${m[2]}`),
      expected,
    );
    const blocks = html.match(/<figure [\s\S]*?<\/figure>/g)!;
    assert.equal(blocks.length, expected.length);
    for (const block of blocks) {
      assert.equal(block.match(/<svg /g)?.length, 1);
      assert.match(block, /<svg role="img" aria-label="[^"]+"/);
      assert.match(block, /<figcaption>[^<]+<\/figcaption>/);
    }
    assert.ok(html.includes("rosenbrock: loss vs steps"));
  });

  it("keeps the ids of several figures apart", () => {
    const svg = `<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"><defs><clipPath id="clip1"><rect/></clipPath></defs><g clip-path="url(#clip1)"><use href="#clip1"/></g></svg>`;
    const out = inlineSvg(svg, "fig3", `a "title"`);
    assert.equal(
      out,
      `<svg role="img" aria-label="a &quot;title&quot;"><defs><clipPath id="fig3-clip1"><rect/></clipPath></defs><g clip-path="url(#fig3-clip1)"><use href="#fig3-clip1"/></g></svg>`,
    );
  });

  it("has the summary, the per-problem tables and the sweep, escaped", async () => {
    const results = await tinyResults();
    const html = await page(results);
    // The summary, then per problem its optimizers and its sweep.
    assert.equal(html.match(/<table/g)?.length, 1 + 2 * 2);
    assert.ok(html.includes('<th class="right">best lr</th>'));
    assert.ok(html.includes('<th class="right">oracle calls/run</th>'));
    assert.ok(html.includes("30 grad"));
    const sweep = html.match(/<table class="sweep">[\s\S]*?<\/table>/)![0];
    assert.ok(sweep.includes('<th class="right">×1</th><th class="right">×3</th>'));
    assert.equal(sweep.match(/class="right chosen"/g)?.length, 2);
    assert.ok(html.includes("Test CPU &lt;fast&gt;"));
    assert.ok(!html.includes("<fast>"));
    assert.ok(html.includes("v20.0.0"));
    assert.ok(html.includes("last 10% of steps"));
    assert.equal(escapeXml(`<"'&>`), "&lt;&quot;&#39;&amp;&gt;");
  });

  it("reports failed runs with their messages and marks an unfinished benchmark", async () => {
    const results = await tinyResults({ learningRates: { adam: 1e200 } });
    const html = renderHtml({ ...results, complete: false, plannedRuns: 12 });
    assert.match(html, /class="warning">This benchmark did not finish: 8 of 12 runs/);
    assert.match(html, /Figures were not rendered/);
    assert.match(html, /<td class="right diverged">lr 1e200<br>diverged \(1\/1\)<\/td>/);
    assert.match(html, /<td class="left status-diverged">diverged at every rate<\/td>/);
    assert.match(html, /<li><strong>adam<\/strong> \(diverged\): <code>[^<]+<\/code><\/li>/);
  });
});
