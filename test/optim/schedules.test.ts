import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Schedule } from "../../src/optim/hyper.js";
import {
  constantSchedule,
  cosineDecay,
  exponentialDecay,
  joinSchedules,
  linearSchedule,
  polynomialSchedule,
  warmupCosine,
  warmupStableDecay,
} from "../../src/optim/schedules.js";
import { UNIT_FLOOR, assertClose, assertInvalidArgument } from "../helpers/assertions.js";

// Schedule values within 1e-14, relative above 1 and absolute below.
const near = (actual: number, expected: number, what: string): void =>
  assertClose([actual], [expected], 1e-14, what, UNIT_FLOOR);

function expectValues(s: Schedule, table: [number, number][], what: string): void {
  for (const [count, value] of table) near(s(count), value, `${what} at ${count}`);
}

describe("schedules", () => {
  it("constantSchedule holds its value", () => {
    const s = constantSchedule(3e-4);
    for (const t of [0, 1, 10, 1e6]) assert.equal(s(t), 3e-4);
  });

  it("linearSchedule: hold, interpolate, hold", () => {
    const s = linearSchedule({ start: 1, end: 0.2, steps: 4, begin: 2 });
    expectValues(
      s,
      [
        [0, 1],
        [2, 1],
        [3, 0.8],
        [4, 0.6],
        [5, 0.4],
        [6, 0.2],
        [100, 0.2],
      ],
      "linear",
    );
    // Endpoints are exact, not merely close.
    assert.equal(s(2), 1);
    assert.equal(s(6), 0.2);
  });

  it("polynomialSchedule matches optax's documented values and reduces to linear for p = 1", () => {
    // optax.polynomial_schedule docstring: init 1, end 0.01, 100 steps, begin 5, power 2.
    const s = polynomialSchedule({ start: 1, end: 0.01, steps: 100, begin: 5, power: 2 });
    expectValues(
      s,
      [
        [0, 1],
        [5, 1],
        [6, 0.99 * 0.99 ** 2 + 0.01],
        [104, 0.99 * 0.01 ** 2 + 0.01],
        [105, 0.01],
        [110, 0.01],
      ],
      "polynomial",
    );
    assert.equal(Math.round(s(6) * 1e4) / 1e4, 0.9803);
    assert.equal(Math.round(s(104) * 1e4) / 1e4, 0.0101);
    const p1 = polynomialSchedule({ start: 3, end: -1, steps: 8, power: 1 });
    const lin = linearSchedule({ start: 3, end: -1, steps: 8 });
    for (let t = 0; t <= 10; t++) near(p1(t), lin(t), `p=1 at ${t}`);
  });

  it("cosineDecay: ½(1 + cos πt/T) between start and alpha·start, held after T", () => {
    const s = cosineDecay({ start: 2, steps: 10, alpha: 0.1 });
    expectValues(
      s,
      [
        [0, 2],
        [5, 0.2 + 1.8 * 0.5],
        [10, 0.2],
        [25, 0.2],
      ],
      "cosine",
    );
    near(s(2.5), 0.2 + 1.8 * 0.5 * (1 + Math.SQRT1_2), "cosine at T/4");
    assert.equal(s(0), 2);
    assert.equal(s(10), 2 * 0.1);
    const squared = cosineDecay({ start: 2, steps: 10, alpha: 0.1, exponent: 2 });
    near(squared(5), 0.2 + 1.8 * 0.25, "exponent 2 at T/2");
    // `end` instead of alpha, here increasing (e.g. a momentum schedule).
    const rising = cosineDecay({ start: 1, steps: 4, end: 3 });
    expectValues(
      rising,
      [
        [0, 1],
        [2, 2],
        [4, 3],
        [9, 3],
      ],
      "rising cosine",
    );
  });

  it("warmupCosine: linear warmup to the peak, cosine to the end value over totalSteps", () => {
    const s = warmupCosine({ peak: 1, warmupSteps: 4, totalSteps: 14, end: 0.1 });
    expectValues(
      s,
      [
        [0, 0],
        [1, 0.25],
        [2, 0.5],
        [4, 1],
        [9, 0.1 + 0.9 * 0.5],
        [14, 0.1],
        [1000, 0.1],
      ],
      "warmupCosine",
    );
    assert.equal(s(4), 1);
    assert.equal(s(14), 0.1);
    const fromStart = warmupCosine({ peak: 2, warmupSteps: 2, totalSteps: 4, start: 1, end: 0 });
    expectValues(
      fromStart,
      [
        [0, 1],
        [1, 1.5],
        [2, 2],
        [3, 1],
        [4, 0],
      ],
      "warmupCosine with start",
    );
    // No warmup: starts at the peak.
    assert.equal(warmupCosine({ peak: 0.5, warmupSteps: 0, totalSteps: 10 })(0), 0.5);
  });

  it("warmupCosine equals the join of a linear warmup and a cosine decay (optax's definition)", () => {
    const s = warmupCosine({ peak: 3e-3, warmupSteps: 7, totalSteps: 40, end: 3e-5, start: 1e-4 });
    const joined = joinSchedules(
      [
        linearSchedule({ start: 1e-4, end: 3e-3, steps: 7 }),
        cosineDecay({ start: 3e-3, steps: 33, end: 3e-5 }),
      ],
      [7],
    );
    for (let t = 0; t <= 50; t++) near(s(t), joined(t), `count ${t}`);
  });

  it("warmupStableDecay: warmup, stable plateau, then a linear, cosine or 1-sqrt tail", () => {
    const common = { peak: 1, warmupSteps: 2, decaySteps: 4, totalSteps: 10 };
    const plateau: [number, number][] = [
      [0, 0],
      [1, 0.5],
      [2, 1],
      [4, 1],
      [6, 1],
    ];
    const linear = warmupStableDecay({ ...common, decayShape: "linear" });
    expectValues(
      linear,
      [...plateau, [7, 0.75], [8, 0.5], [9, 0.25], [10, 0], [50, 0]],
      "wsd linear",
    );
    const cosine = warmupStableDecay({ ...common, decayShape: "cosine" });
    expectValues(
      cosine,
      [...plateau, [7, 0.5 * (1 + Math.SQRT1_2)], [8, 0.5], [10, 0]],
      "wsd cosine",
    );
    const sqrt = warmupStableDecay({ ...common, decayShape: "1-sqrt", end: 0.1 });
    expectValues(
      sqrt,
      [...plateau, [7, 0.1 + 0.9 * 0.5], [8, 0.1 + 0.9 * (1 - Math.SQRT1_2)], [10, 0.1], [11, 0.1]],
      "wsd 1-sqrt",
    );
    // Default shape is linear; the decay may fill everything after warmup (no plateau).
    const noPlateau = warmupStableDecay({ peak: 2, warmupSteps: 0, decaySteps: 5, totalSteps: 5 });
    expectValues(
      noPlateau,
      [
        [0, 2],
        [1, 1.6],
        [5, 0],
      ],
      "wsd without plateau",
    );
  });

  it("exponentialDecay: continuous, staircase, delayed and clipped (optax conventions)", () => {
    const s = exponentialDecay({ start: 1, rate: 0.5, transitionSteps: 10 });
    expectValues(
      s,
      [
        [0, 1],
        [5, Math.SQRT1_2],
        [10, 0.5],
        [30, 0.125],
      ],
      "exponential",
    );
    const stairs = exponentialDecay({ start: 1, rate: 0.5, transitionSteps: 10, staircase: true });
    expectValues(
      stairs,
      [
        [9, 1],
        [10, 0.5],
        [19, 0.5],
        [20, 0.25],
      ],
      "staircase",
    );
    const delayed = exponentialDecay({ start: 2, rate: 0.5, transitionSteps: 10, begin: 5 });
    expectValues(
      delayed,
      [
        [0, 2],
        [5, 2],
        [15, 1],
      ],
      "delayed",
    );
    const floored = exponentialDecay({ start: 1, rate: 0.5, transitionSteps: 10, end: 0.3 });
    expectValues(
      floored,
      [
        [10, 0.5],
        [20, 0.3],
        [1000, 0.3],
      ],
      "floor",
    );
    const capped = exponentialDecay({ start: 1, rate: 2, transitionSteps: 10, end: 3 });
    expectValues(
      capped,
      [
        [10, 2],
        [20, 3],
      ],
      "ceiling",
    );
  });

  it("joinSchedules hands each piece the count since its boundary", () => {
    const s = joinSchedules(
      [constantSchedule(1), linearSchedule({ start: 1, end: 0, steps: 10 }), constantSchedule(0.5)],
      [5, 20],
    );
    expectValues(
      s,
      [
        [0, 1],
        [4, 1],
        [5, 1],
        [10, 0.5],
        [15, 0],
        [19, 0],
        [20, 0.5],
        [99, 0.5],
      ],
      "join",
    );
    const single = joinSchedules([(t) => 2 * t], []);
    assert.equal(single(21), 42);
  });

  it("joins of pieces that meet are continuous at the boundary", () => {
    const warmup = linearSchedule({ start: 0, end: 1, steps: 5 });
    const decay = cosineDecay({ start: 1, steps: 20, alpha: 0 });
    const s = joinSchedules([warmup, decay], [5]);
    // Continuity: the value at the boundary is the first piece's limit there, and the jump
    // across it is no larger than one step of the pieces themselves.
    assert.equal(s(5), warmup(5));
    assert.ok(Math.abs(s(5) - s(4)) <= 0.2 + 1e-15);
    assert.ok(Math.abs(s(6) - s(5)) <= 1 - 0.5 * (1 + Math.cos(Math.PI / 20)) + 1e-15);
    const wsd = warmupStableDecay({ peak: 1, warmupSteps: 3, decaySteps: 4, totalSteps: 12 });
    for (const b of [3, 8]) assert.equal(wsd(b), 1, `WSD continuous at ${b}`);
  });

  it("schedules are pure: the same count gives the same value in any order", () => {
    const s = warmupCosine({ peak: 1, warmupSteps: 3, totalSteps: 30 });
    const first = [7, 3, 29, 0, 7].map(s);
    const again = [29, 0, 7, 3, 7].map(s);
    assert.deepEqual(first, [again[2], again[3], again[0], again[1], again[4]]);
  });

  it("validates every argument, naming the parameter and value", () => {
    assertInvalidArgument(() => constantSchedule(NaN), "value", NaN);
    assertInvalidArgument(() => linearSchedule({ start: 1, end: 0, steps: 0 }), "steps", 0);
    assertInvalidArgument(() => linearSchedule({ start: 1, end: 0, steps: 2.5 }), "steps", 2.5);
    assertInvalidArgument(
      () => linearSchedule({ start: 1, end: 0, steps: 3, begin: -1 }),
      "begin",
      -1,
    );
    assertInvalidArgument(
      () => linearSchedule({ start: "1" as unknown as number, end: 0, steps: 3 }),
      "start",
      "1",
    );
    assertInvalidArgument(() => linearSchedule({ start: 1, end: 0, step: 3 } as never), "step", 3);
    assertInvalidArgument(() => linearSchedule(null as never), "options", null);
    assertInvalidArgument(
      () => polynomialSchedule({ start: 1, end: 0, steps: 3, power: 0 }),
      "power",
      0,
    );
    assertInvalidArgument(() => cosineDecay({ start: 1, steps: 10, alpha: 1.5 }), "alpha", 1.5);
    assertInvalidArgument(
      () => cosineDecay({ start: 1, steps: 10, alpha: 0.1, end: 0.1 }),
      "alpha",
      0.1,
    );
    assertInvalidArgument(() => cosineDecay({ start: Infinity, steps: 10 }), "start", Infinity);
    assertInvalidArgument(() => cosineDecay({ start: 1, steps: 10, exponent: -1 }), "exponent", -1);
    assertInvalidArgument(
      () => warmupCosine({ peak: 1, warmupSteps: 10, totalSteps: 10 }),
      "totalSteps",
      10,
    );
    assertInvalidArgument(
      () => warmupCosine({ peak: 1, warmupSteps: -1, totalSteps: 10 }),
      "warmupSteps",
      -1,
    );
    assertInvalidArgument(
      () => warmupCosine({ peak: NaN, warmupSteps: 1, totalSteps: 10 }),
      "peak",
      NaN,
    );
    assertInvalidArgument(
      () => warmupStableDecay({ peak: 1, warmupSteps: 5, decaySteps: 6, totalSteps: 10 }),
      "totalSteps",
      10,
    );
    assertInvalidArgument(
      () => warmupStableDecay({ peak: 1, warmupSteps: 1, decaySteps: 0, totalSteps: 10 }),
      "decaySteps",
      0,
    );
    assertInvalidArgument(
      () =>
        warmupStableDecay({
          peak: 1,
          warmupSteps: 1,
          decaySteps: 2,
          totalSteps: 10,
          decayShape: "exp" as never,
        }),
      "decayShape",
      "exp",
    );
    assertInvalidArgument(
      () => exponentialDecay({ start: 1, rate: 0, transitionSteps: 10 }),
      "rate",
      0,
    );
    assertInvalidArgument(
      () => exponentialDecay({ start: 1, rate: 0.5, transitionSteps: 0 }),
      "transitionSteps",
      0,
    );
    assertInvalidArgument(
      () =>
        exponentialDecay({
          start: 1,
          rate: 0.5,
          transitionSteps: 3,
          staircase: "yes" as unknown as boolean,
        }),
      "staircase",
      "yes",
    );
    assertInvalidArgument(
      () => exponentialDecay({ start: 1, rate: 0.5, transitionSteps: 3, end: NaN }),
      "end",
      NaN,
    );
    assertInvalidArgument(() => joinSchedules([], []), "schedules", []);
    assertInvalidArgument(
      () => joinSchedules([constantSchedule(1), 2 as never], [3]),
      "schedules[1]",
      2,
    );
    assertInvalidArgument(
      () => joinSchedules([constantSchedule(1), constantSchedule(2)], []),
      "boundaries",
      [],
    );
    assertInvalidArgument(
      () => joinSchedules([constantSchedule(1), constantSchedule(2), constantSchedule(3)], [5, 5]),
      "boundaries[1]",
      5,
    );
    assertInvalidArgument(
      () => joinSchedules([constantSchedule(1), constantSchedule(2)], [-1]),
      "boundaries[0]",
      -1,
    );
  });
});
