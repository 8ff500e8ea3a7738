/**
 * M-FAC benchmark: one step with the O(m²) update of the m×m Cholesky factor against one step
 * that refactors it from scratch (O(m³), what the official code does every step).
 *
 * For each window size m at d parameters (float32), two `scaleByMfac` transforms start from
 * the same full window: `refactorInterval: Infinity` (the update every step; the checks never
 * fired here, which the table confirms) and `refactorInterval: 1` (a refactorization every
 * step). Filling a window by m real steps would take minutes at m = 1024, so the window starts
 * as m gradients with disjoint supports, whose Gram matrix is diagonal and cheap to write; every
 * timed step then replaces one of them by a dense gradient, and from there the transforms keep
 * their state themselves. Steps of the two run interleaved on the same gradients.
 *
 * Reported per m: median step time of each (the O(d·m) products are in both), their ratio, the
 * amortized step time with the default refactorization every m steps, and the m×m work alone
 * (remove the oldest + border + two triangular solves + the backward-error check, against
 * refactoring + two triangular solves), timed on the state's own matrices.
 *
 *     npx tsx bench/mfac.ts [-- --sizes 32,256,1024 --dimension 100000 --repeats 5]
 */
import {
  dampedGramBackwardError,
  dampedGramInAgeOrder,
  toAgeOrder,
  toSlotOrder,
  windowDots,
} from "../src/kernels/mfac.js";
import { choleskyFactor } from "../src/linalg/cholesky.js";
import {
  choleskyAppendLast,
  choleskyRemoveFirst,
  choleskyUpperSolve,
  choleskyLowerToUpper,
} from "../src/linalg/choleskyUpdate.js";
import type { MfacState } from "../src/optim/mfac.js";
import { scaleByMfac } from "../src/optim/mfac.js";
import type { FloatArray } from "../src/params/layout.js";
import { Layout } from "../src/params/layout.js";
import { fillUniform } from "../src/random/distributions.js";
import { median } from "./common.js";

interface Options {
  sizes: number[];
  dimension: number;
  repeats: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sizes: [32, 256, 1024], dimension: 100_000, repeats: 5 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    const positive = (text: string): number => {
      const n = Number(text);
      if (!Number.isInteger(n) || n < 1) {
        throw new RangeError(`${argv[i]} needs positive integers, got ${text}`);
      }
      return n;
    };
    if (argv[i] === "--sizes") options.sizes = value.split(",").map(positive);
    else if (argv[i] === "--dimension") options.dimension = positive(value);
    else if (argv[i] === "--repeats") options.repeats = positive(value);
    else throw new RangeError(`unknown argument ${argv[i]} (use --sizes, --dimension, --repeats)`);
    i++;
  }
  return options;
}

const DAMP = 1e-5;
/** The m×m work alone is short, so it is timed more often (the median drops the JIT's warm-up). */
const SMALL_REPEATS = 15;

/** A window of m gradients with disjoint supports (uniform in [−1, 1)), and its Gram matrix. */
function fillWindow(state: MfacState, m: number, d: number, seed: number): void {
  const { window, gram, factor } = state;
  const values = fillUniform(new Float64Array(d), seed, 0);
  const shift = DAMP * m;
  for (let j = 0; j < m; j++) {
    const from = Math.floor((j * d) / m);
    const to = Math.floor(((j + 1) * d) / m);
    let norm = 0;
    for (let i = from; i < to; i++) {
      const v = 2 * values[i] - 1;
      window[j * d + i] = v;
      norm += v * v;
    }
    gram[j * m + j] = norm;
    // The age order starts at position 0, so the factor's diagonal follows the rows.
    factor[j * m + j] = Math.sqrt(norm + shift);
  }
}

interface Row {
  m: number;
  updatedMs: number;
  refactoredMs: number;
  amortizedMs: number;
  smallUpdateMs: number;
  smallRefactorMs: number;
  fallbacks: number;
}

function time(run: () => void): number {
  const start = performance.now();
  run();
  return performance.now() - start;
}

/**
 * The m×m work of a step with gradient `g`, on the matrices of a state, timed both ways; each
 * sample runs it often enough (about 2²⁰ / m² times) to be well above the timer's resolution.
 */
function smallWork(state: MfacState, m: number, g: FloatArray, repeats: number): [number, number] {
  const d = g.length;
  const shift = DAMP * m;
  const position = state.position;
  const oldest = (position + 1) % m;
  const dots = new Float64Array(m);
  windowDots(state.window, d, m, g, dots, position);
  const rhs = new Float64Array(m);
  toAgeOrder(dots, m, oldest, rhs);
  const factor = new Float64Array(m * m);
  const solution = new Float64Array(m);
  const slotSolution = new Float64Array(m);
  const scratch = new Float64Array(m);
  let ok = true;
  const updated: number[] = [];
  const refactored: number[] = [];
  const times = Math.max(1, Math.round(2 ** 20 / (m * m)));
  const timeEach = (run: () => void): number =>
    time(() => {
      for (let k = 0; k < times; k++) run();
    }) / times;
  for (let r = 0; r < repeats; r++) {
    updated.push(
      timeEach(() => {
        choleskyRemoveFirst(state.factor, m, factor, scratch);
        ok = choleskyAppendLast(factor, m, rhs, dots[position] + shift, scratch) && ok;
        choleskyUpperSolve(factor, m, rhs, solution);
        toSlotOrder(solution, m, oldest, slotSolution);
        const error = dampedGramBackwardError(
          state.gram,
          dots,
          position,
          m,
          shift,
          slotSolution,
          dots,
        );
        ok = error <= 1e-10 && ok;
      }),
    );
    refactored.push(
      timeEach(() => {
        dampedGramInAgeOrder(state.gram, dots, position, m, shift, oldest, factor);
        ok = choleskyFactor(factor, m, factor) && ok;
        choleskyLowerToUpper(factor, m);
        choleskyUpperSolve(factor, m, rhs, solution);
        toSlotOrder(solution, m, oldest, slotSolution);
      }),
    );
  }
  if (!ok) throw new Error(`m = ${m}: the m×m work failed its checks, so its timing is void`);
  return [median(updated), median(refactored)];
}

function benchWindow(m: number, d: number, repeats: number): Row {
  const layout = new Layout([{ name: "x", shape: [d] }], "float32");
  const params = layout.zeros();
  const updatedTransform = scaleByMfac({ numGradients: m, damp: DAMP, refactorInterval: Infinity });
  const refactoredTransform = scaleByMfac({ numGradients: m, damp: DAMP, refactorInterval: 1 });
  const updated = updatedTransform.init(layout);
  const refactored = refactoredTransform.init(layout);
  fillWindow(updated, m, d, 11);
  fillWindow(refactored, m, d, 11);
  const u = layout.zeros();
  const updatedTimes: number[] = [];
  const refactoredTimes: number[] = [];
  // One untimed step each warms up the code paths.
  for (let step = 0; step <= repeats; step++) {
    fillUniform(u, 12, step);
    for (let i = 0; i < d; i++) u[i] = 2 * u[i] - 1;
    const gradient = u.slice();
    const a = time(() => void updatedTransform.update(u, updated, { params, layout }));
    u.set(gradient);
    const b = time(() => void refactoredTransform.update(u, refactored, { params, layout }));
    if (step > 0) {
      updatedTimes.push(a);
      refactoredTimes.push(b);
    }
  }
  const updatedMs = median(updatedTimes);
  const refactoredMs = median(refactoredTimes);
  fillUniform(u, 12, repeats + 1);
  for (let i = 0; i < d; i++) u[i] = 2 * u[i] - 1;
  const [smallUpdateMs, smallRefactorMs] = smallWork(updated, m, u, SMALL_REPEATS);
  return {
    m,
    updatedMs,
    refactoredMs,
    amortizedMs: updatedMs + (refactoredMs - updatedMs) / m,
    smallUpdateMs,
    smallRefactorMs,
    fallbacks: updated.refactorizations,
  };
}

function main(): void {
  const options = parseArgs(process.argv.slice(2));
  const d = options.dimension;
  console.log(
    `M-FAC step, d = ${d} float32 parameters, λ = ${DAMP}, median of ${options.repeats} steps (ms)`,
  );
  const header = [
    "m",
    "updated step",
    "refactored step",
    "ratio",
    "amortized (every m)",
    "m×m update",
    "m×m refactor",
    "ratio",
    "refactorizations",
  ];
  console.log(header.join(" | "));
  for (const m of options.sizes) {
    const row = benchWindow(m, d, options.repeats);
    console.log(
      [
        row.m,
        row.updatedMs.toFixed(1),
        row.refactoredMs.toFixed(1),
        (row.refactoredMs / row.updatedMs).toFixed(2),
        row.amortizedMs.toFixed(1),
        row.smallUpdateMs.toFixed(2),
        row.smallRefactorMs.toFixed(2),
        (row.smallRefactorMs / row.smallUpdateMs).toFixed(1),
        row.fallbacks,
      ].join(" | "),
    );
  }
}

main();
