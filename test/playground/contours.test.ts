// The playground's level-set tracing, against closed forms: circles of x² + y², the bilinear
// interpolant's own topology in the ambiguous saddle cells, and the spacing of the levels.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Grid } from "../../playground/src/contours.js";
import {
  contourLevels,
  marchingSquares,
  niceTicks,
  sampleGrid,
} from "../../playground/src/contours.js";

/** A grid over the unit square from its four corner values (2 × 2 samples: one cell). */
function cell(a: number, b: number, c: number, d: number): Grid {
  // a = (0, 0), b = (1, 0), c = (1, 1), d = (0, 1); rows run along y.
  return {
    values: Float64Array.of(a, b, d, c),
    nx: 2,
    ny: 2,
    x: [0, 1],
    y: [0, 1],
    min: 0,
    max: 1,
  };
}

/** Segments as sorted strings of rounded endpoints, so their order does not matter. */
function segmentSet(segments: number[]): string[] {
  const out: string[] = [];
  for (let k = 0; k < segments.length; k += 4) {
    const ends = [
      `${segments[k].toFixed(6)},${segments[k + 1].toFixed(6)}`,
      `${segments[k + 2].toFixed(6)},${segments[k + 3].toFixed(6)}`,
    ].sort();
    out.push(ends.join(" "));
  }
  return out.sort();
}

describe("playground contours", () => {
  it("traces the circle x² + y² = r² with endpoints on it and its circumference", () => {
    const grid = sampleGrid((x, y) => x * x + y * y, [-2, 2], [-2, 2], 101, 101);
    for (const radius of [0.5, 1, 1.7]) {
      const segments = marchingSquares(grid, radius * radius);
      let length = 0;
      for (let k = 0; k < segments.length; k += 4) {
        for (const [x, y] of [
          [segments[k], segments[k + 1]],
          [segments[k + 2], segments[k + 3]],
        ]) {
          // Linear interpolation along an edge of length h = 0.04 misplaces the crossing of a
          // function with curvature 2 by at most h²/8·2/|f'| ≤ 4e-4 / r.
          assert.ok(Math.abs(Math.hypot(x, y) - radius) < 1e-3 / radius, `${x}, ${y}`);
        }
        length += Math.hypot(segments[k + 2] - segments[k], segments[k + 3] - segments[k + 1]);
      }
      assert.ok(Math.abs(length / (2 * Math.PI * radius) - 1) < 1e-3, `length ${length}`);
    }
  });

  it("resolves saddle cells as the bilinear interpolant does", () => {
    // a = c = 1, b = d = 0: f = (1 − x)(1 − y) + xy, whose level sets are the hyperbolas
    // (1 − 2x)(1 − 2y) = 2ℓ − 1. Below the centre value ½ they wrap b and d; above, a and c.
    assert.deepEqual(
      segmentSet(marchingSquares(cell(1, 0, 1, 0), 0.4)),
      segmentSet([0.6, 0, 1, 0.4, 0, 0.6, 0.4, 1]),
    );
    assert.deepEqual(
      segmentSet(marchingSquares(cell(1, 0, 1, 0), 0.6)),
      segmentSet([0.4, 0, 0, 0.4, 1, 0.6, 0.6, 1]),
    );
    // The mirror image: b = d = 1, a = c = 0.
    assert.deepEqual(
      segmentSet(marchingSquares(cell(0, 1, 0, 1), 0.4)),
      segmentSet([0.4, 0, 0, 0.4, 1, 0.6, 0.6, 1]),
    );
    assert.deepEqual(marchingSquares(cell(1, 1, 1, 1), 0.5), []);
  });

  it("spaces levels evenly, or evenly in log(f − min) five decades deep", () => {
    const grid = sampleGrid((x, y) => 3 + x * x + y * y, [-10, 10], [-10, 10], 21, 21);
    const even = contourLevels(grid, 4, false);
    assert.deepEqual(even, [3 + 40, 3 + 80, 3 + 120, 3 + 160]);
    const log = contourLevels(grid, 5, true);
    assert.equal(log.length, 5);
    assert.ok(Math.abs(log[0] - 3 - 200 * 1e-5) < 1e-12);
    for (let k = 1; k < log.length; k++) {
      assert.ok(Math.abs((log[k] - 3) / (log[k - 1] - 3) - 10) < 1e-9);
    }
  });

  it("picks round ticks", () => {
    assert.deepEqual(niceTicks(-2, 2, 4), [-2, -1, 0, 1, 2]);
    assert.deepEqual(niceTicks(-5.12, 5.12, 5), [-4, -2, 0, 2, 4]);
    assert.deepEqual(niceTicks(0, 500, 5), [0, 100, 200, 300, 400, 500]);
  });
});
