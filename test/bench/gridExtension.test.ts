import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { nextGridRate } from "../../src/bench/gridExtension.js";
import type { RateTrial } from "../../src/bench/gridExtension.js";

/** Two seeds at `learningRate`, `reached` of them at the target, `diverged` of them diverged. */
function trial(learningRate: number, reached = 2, diverged = 0): RateTrial {
  return { learningRate, runs: 2, reached, diverged };
}

const HALF_DECADES = [0.001, 0.00316, 0.01, 0.0316];

/** The decision on the 4-rate grid {@link HALF_DECADES}, widened at most 4 times a side. */
function onHalfDecades(trials: readonly RateTrial[], bestRate: number) {
  return nextGridRate({ trials, bestRate, initialGrid: HALF_DECADES, maxExtensionsPerSide: 4 });
}

describe("nextGridRate", () => {
  it("stops when the best rate has a tried rate on either side", () => {
    const step = onHalfDecades(
      HALF_DECADES.map((lr) => trial(lr)),
      0.00316,
    );
    assert.deepEqual(step, { action: "stop", reason: "interior" });
  });

  it("tries half a decade below the smallest rate when that is the best", () => {
    const step = onHalfDecades(
      HALF_DECADES.map((lr) => trial(lr)),
      0.001,
    );
    assert.deepEqual(step, { action: "try", learningRate: 0.000316, direction: "down" });
  });

  it("tries half a decade above the largest rate when that is the best", () => {
    const step = onHalfDecades(
      HALF_DECADES.map((lr) => trial(lr)),
      0.0316,
    );
    assert.deepEqual(step, { action: "try", learningRate: 0.1, direction: "up" });
  });

  it("stays on the grid's lattice instead of compounding rounding", () => {
    // 3.16e-4 / √10 is 9.993e-5, which three digits would keep as 9.99e-5.
    const trials = [0.000316, ...HALF_DECADES].map((lr) => trial(lr));
    const step = onHalfDecades(trials, 0.000316);
    assert.deepEqual(step, { action: "try", learningRate: 0.0001, direction: "down" });
  });

  it("extends a grid that is not centred on a power of ten", () => {
    const grid = [0.0949, 0.3, 0.949, 3];
    const once = nextGridRate({
      trials: grid.map((lr) => trial(lr)),
      bestRate: 3,
      initialGrid: grid,
      maxExtensionsPerSide: 4,
    });
    assert.deepEqual(once, { action: "try", learningRate: 9.49, direction: "up" });
    const twice = nextGridRate({
      trials: [...grid, 9.49].map((lr) => trial(lr)),
      bestRate: 9.49,
      initialGrid: grid,
      maxExtensionsPerSide: 4,
    });
    assert.deepEqual(twice, { action: "try", learningRate: 30, direction: "up" });
  });

  it("reads the trials in any order", () => {
    const step = nextGridRate({
      trials: [0.01, 0.001, 0.0316, 0.00316].map((lr) => trial(lr)),
      bestRate: 0.001,
      initialGrid: [0.0316, 0.001, 0.01, 0.00316],
      maxExtensionsPerSide: 4,
    });
    assert.deepEqual(step, { action: "try", learningRate: 0.000316, direction: "down" });
  });

  it("stops at the limit, counting only the extensions on the best rate's side", () => {
    const below = [0.00001, 0.0000316, 0.0001, 0.000316];
    const atLimit = onHalfDecades(
      [...below, ...HALF_DECADES].map((lr) => trial(lr)),
      0.00001,
    );
    assert.deepEqual(atLimit, { action: "stop", reason: "limit" });
    const oneShort = onHalfDecades(
      [...below.slice(1), ...HALF_DECADES].map((lr) => trial(lr)),
      0.0000316,
    );
    assert.deepEqual(oneShort, { action: "try", learningRate: 0.00001, direction: "down" });
    const above = [0.1, 0.316, 1, 3.16];
    const otherSide = onHalfDecades(
      [...HALF_DECADES, ...above].map((lr) => trial(lr)),
      0.001,
    );
    assert.deepEqual(otherSide, { action: "try", learningRate: 0.000316, direction: "down" });
  });

  it("does not extend at all with a limit of zero", () => {
    const step = nextGridRate({
      trials: HALF_DECADES.map((lr) => trial(lr)),
      bestRate: 0.0316,
      initialGrid: HALF_DECADES,
      maxExtensionsPerSide: 0,
    });
    assert.deepEqual(step, { action: "stop", reason: "limit" });
  });

  it("widens toward the lowest final loss when no rate reached the target", () => {
    // Nothing reached the target; the selection fell back to the lowest final loss.
    const step = onHalfDecades(
      HALF_DECADES.map((lr) => trial(lr, 0)),
      0.0316,
    );
    assert.deepEqual(step, { action: "try", learningRate: 0.1, direction: "up" });
  });

  it("stops past an edge rate where every run diverged and none reached the target", () => {
    const trials = [...HALF_DECADES.slice(0, 3).map((lr) => trial(lr, 0)), trial(0.0316, 0, 2)];
    const step = onHalfDecades(trials, 0.0316);
    assert.deepEqual(step, { action: "stop", reason: "failed" });
  });

  it("stops past an edge rate where every run diverged, even after reaching the target", () => {
    const trials = [...HALF_DECADES.slice(0, 3).map((lr) => trial(lr, 0)), trial(0.0316, 1, 2)];
    const step = onHalfDecades(trials, 0.0316);
    assert.deepEqual(step, { action: "stop", reason: "failed" });
  });

  it("extends past an edge rate where only some runs diverged", () => {
    const trials = [...HALF_DECADES.slice(0, 3).map((lr) => trial(lr, 0)), trial(0.0316, 1, 1)];
    const step = onHalfDecades(trials, 0.0316);
    assert.deepEqual(step, { action: "try", learningRate: 0.1, direction: "up" });
  });

  it("widens a single rate downward first, then upward", () => {
    const down = nextGridRate({
      trials: [trial(0.1)],
      bestRate: 0.1,
      initialGrid: [0.1],
      maxExtensionsPerSide: 1,
    });
    assert.deepEqual(down, { action: "try", learningRate: 0.0316, direction: "down" });
    // The rate below failed, so the single rate is now the smallest of two and also the largest.
    const afterDown = nextGridRate({
      trials: [trial(0.0316, 0), trial(0.1)],
      bestRate: 0.1,
      initialGrid: [0.1],
      maxExtensionsPerSide: 1,
    });
    assert.deepEqual(afterDown, { action: "try", learningRate: 0.316, direction: "up" });
  });

  it("rejects a best rate that was not tried", () => {
    assert.throws(
      () =>
        onHalfDecades(
          HALF_DECADES.map((lr) => trial(lr)),
          0.1,
        ),
      RangeError,
    );
  });
});
