import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decadeTicks, escapeXml, linePlot, linearTicks } from "../../src/report/svg.js";

/** The points of each path's d attribute, split into sub-paths at every M. */
function paths(svg: string): [number, number][][][] {
  return [...svg.matchAll(/<path d="([^"]*)"/g)].map((m) =>
    m[1]
      .split("M")
      .filter(Boolean)
      .map((sub) =>
        sub.split("L").map((pair) => pair.trim().split(" ").map(Number) as [number, number]),
      ),
  );
}

describe("ticks", () => {
  it("places linear ticks on 1-2-5 multiples", () => {
    assert.deepEqual(linearTicks(0, 2000), [0, 500, 1000, 1500, 2000]);
    assert.deepEqual(linearTicks(0, 30), [0, 5, 10, 15, 20, 25, 30]);
    assert.deepEqual(linearTicks(0, 7), [0, 2, 4, 6]);
  });

  it("thins decade ticks on wide ranges", () => {
    assert.deepEqual(decadeTicks(-3, 1), [-3, -2, -1, 0, 1]);
    assert.deepEqual(decadeTicks(-30, 2), [-28, -24, -20, -16, -12, -8, -4, 0]);
  });
});

describe("linePlot", () => {
  it("draws one path per series, equal ratios at equal heights on the log axis", () => {
    const svg = linePlot(
      [
        { label: "halving", values: [1, 0.5, 0.25, 0.125] },
        { label: "tenfold", values: [10, 1, 0.1, 0.01] },
      ],
      { id: "t" },
    );
    const [halving, tenfold] = paths(svg);
    assert.equal(halving.length, 1);
    const ys = tenfold[0].map(([, y]) => y);
    const gaps = ys.slice(1).map((y, i) => y - ys[i]);
    for (const gap of gaps) assert.ok(Math.abs(gap - gaps[0]) <= 0.2, `${gaps}`);
    const xs = halving[0].map(([x]) => x);
    assert.ok(Math.abs(xs[1] - xs[0] - (xs[3] - xs[2])) <= 0.2);
    // Same value, same height.
    assert.ok(Math.abs(halving[0][0][1] - tenfold[0][1][1]) <= 0.1);
    assert.match(svg, />halving</);
    assert.match(svg, />tenfold</);
  });

  it("labels axes and decade ticks", () => {
    const svg = linePlot([{ label: "a", values: [100, 1e-3] }], {
      id: "t",
      xLabel: "iteration",
      yLabel: "objective",
    });
    assert.match(svg, />iteration</);
    assert.match(svg, />objective \(log scale\)</);
    for (const e of ["−3", "−2", "−1", "0", "1", "2"]) {
      assert.ok(svg.includes(`10<tspan dy="-6" font-size="9">${e}</tspan>`), e);
    }
  });

  it("breaks lines at non-finite values and marks a diverged end", () => {
    const svg = linePlot(
      [{ label: "gap", values: [1, 0.5, Number.NaN, 0.2, 0.1, Number.POSITIVE_INFINITY] }],
      { id: "t" },
    );
    const [gap] = paths(svg);
    assert.equal(gap.length, 2);
    assert.equal(gap[0].length, 2);
    assert.equal(gap[1].length, 2);
    assert.equal(svg.match(/<circle /g)?.length, 1);
  });

  it("draws a dashed reference line and escapes text", () => {
    const svg = linePlot([{ label: "a<b>", values: [1, 0.1] }], {
      id: "t",
      title: "x & y",
      reference: { value: 1e-3, label: "target" },
    });
    assert.match(svg, /class="reference"[^>]*stroke-dasharray/);
    assert.ok(svg.includes("a&lt;b&gt;"));
    assert.ok(svg.includes("x &amp; y"));
    assert.equal(escapeXml(`<"'&>`), "&lt;&quot;&#39;&amp;&gt;");
  });

  it("keeps long curves to about two points per pixel column, ends included", () => {
    const values = Array.from({ length: 20001 }, (_, i) => 1 / (1 + i));
    const [[curve]] = paths(linePlot([{ label: "long", values }], { id: "t", width: 760 }));
    assert.ok(curve.length < 2 * 760, `${curve.length}`);
    assert.ok(curve.length > 300);
    const [x0] = curve[0];
    const [x1] = curve[curve.length - 1];
    const plain = paths(linePlot([{ label: "short", values: [1, 0.5] }], { id: "t" }))[0][0];
    assert.equal(x0, plain[0][0]);
    assert.equal(x1, plain[1][0]);
  });

  it("says so when there is nothing to plot", () => {
    const svg = linePlot([{ label: "empty", values: [] }], { id: "t" });
    assert.equal(paths(svg).length, 0);
    assert.match(svg, /no finite values to plot/);
    assert.match(svg, /empty \(no data\)/);
  });
});
