/**
 * What the reproductions share: the digits splits, seeds and schedules of a plan, statistics
 * over seeds (means, spreads, paired differences), training runs that record a loss curve and
 * the time spent stepping, the steps-to-target measurement, plain-text tables and the pieces of
 * a JSON record.
 */
import type { Dataset } from "../data/dataset.js";
import { trainTestSplit } from "../data/dataset.js";
import { loadDigits } from "../data/digits.js";
import { NonFiniteError } from "../errors.js";
import type { Schedule } from "../optim/hyper.js";
import { Optimizer } from "../optim/optimizer.js";
import { warmupCosine } from "../optim/schedules.js";
import type { GradientTransform } from "../optim/transform.js";
import type { Objective } from "../oracles/objective.js";
import type { ParamSet } from "../params/paramset.js";
import type { JsonValue } from "./claims.js";

/** Fraction of all rows held out for testing, and of the rest for validation. */
export const HELD_OUT_FRACTION = 0.2;

/** The rows of one split of the digits. */
export interface Splits {
  /** Rows the optimizers train on. */
  readonly train: Dataset;
  /** Rows that select each side's best setting. */
  readonly validation: Dataset;
  /** Rows the reported accuracy is measured on. */
  readonly test: Dataset;
}

/**
 * The three parts of the digits a seed trains, selects and tests on: the test rows are a fifth
 * of all rows, the validation rows a fifth of the rest.
 */
export function digitsSplits(seed: number, all: Dataset = loadDigits()): Splits {
  const { train: rest, test } = trainTestSplit(all, HELD_OUT_FRACTION, seed);
  const { train, test: validation } = trainTestSplit(rest, HELD_OUT_FRACTION, seed);
  return { train, validation, test };
}

/** The rows of each part of `splits`, as a record states them. */
export function splitRows(splits: Splits): { train: number; validation: number; test: number } {
  return {
    train: splits.train.rows,
    validation: splits.validation.rows,
    test: splits.test.rows,
  };
}

/** `count` consecutive seeds from `base`: every seed of a plan follows from its base seed. */
export function seedsFrom(base: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => base + i);
}

/**
 * Opens one resource per seed (a model, a split with its scores), hands them to `use` in seed
 * order, and disposes of every one that opened, also when opening a later one or `use` fails.
 */
export async function withEachSeed<Opened extends { dispose(): void }, Result>(
  seeds: readonly number[],
  open: (seed: number) => Promise<Opened>,
  use: (opened: readonly Opened[]) => Promise<Result>,
): Promise<Result> {
  const opened: Opened[] = [];
  try {
    for (const seed of seeds) opened.push(await open(seed));
    return await use(opened);
  } finally {
    for (const o of opened) o.dispose();
  }
}

/**
 * nanoGPT's schedule for a run of `steps` steps at peak rate `peak`: linear warmup over 2% of
 * the steps (at least one), then cosine decay to 1/20 of the peak.
 */
export function warmupCosineToTwentieth(peak: number, steps: number): Schedule {
  return warmupCosine({
    peak,
    warmupSteps: Math.max(1, Math.round(steps / 50)),
    totalSteps: steps,
    end: peak / 20,
  });
}

/**
 * The schedule of a run of `steps` steps at peak rate `peak`: linear warmup over 5% of the
 * steps, then cosine decay to 0.
 */
export function warmupCosineToZero(peak: number, steps: number): Schedule {
  return warmupCosine({ peak, warmupSteps: Math.round(steps / 20), totalSteps: steps });
}

/** `x` to 3 significant digits, as a plain number. */
export function round3(x: number): number {
  return Number(x.toPrecision(3));
}

/** `count` values half a decade apart from 10^(first / 2), to 3 digits: −4 → 0.01, 0.0316, …. */
export function halfDecades(first: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => round3(10 ** ((first + i) / 2)));
}

/** Mean and spread of a metric over seeds. */
export interface Summary {
  /** Per-seed values, in seed order. */
  readonly values: readonly number[];
  /** Their mean. */
  readonly mean: number;
  /** Their sample standard deviation (NaN for one value). */
  readonly sd: number;
}

/** Mean and sample standard deviation of `values`. */
export function summarize(values: readonly number[]): Summary {
  const n = values.length;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const sd = n < 2 ? NaN : Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { values, mean, sd };
}

/** Seed-by-seed differences of two sides measured on the same seeds. */
export interface PairedDifference {
  /** challenger − baseline, seed by seed. */
  readonly differences: readonly number[];
  /** Their mean. */
  readonly mean: number;
  /** Standard error of the mean: sample standard deviation / √n (NaN for one seed). */
  readonly standardError: number;
}

/**
 * The seed-by-seed differences `challenger[i] − baseline[i]`. Both sides of a reproduction train
 * on the same seeds (the same split, initial weights and batch order), so the differences cancel
 * what the seeds share and measure the optimizers alone.
 */
export function pairedDifference(
  challenger: readonly number[],
  baseline: readonly number[],
): PairedDifference {
  if (challenger.length !== baseline.length || challenger.length === 0) {
    throw new RangeError(
      `paired seeds: ${challenger.length} against ${baseline.length} values; need the same, at least one`,
    );
  }
  const differences = challenger.map((x, i) => x - baseline[i]);
  const s = summarize(differences);
  return { differences, mean: s.mean, standardError: s.sd / Math.sqrt(differences.length) };
}

/** Whether a challenger improved on its baseline in one metric. */
export type Improvement = "better" | "not better" | "unclear";

/**
 * The rule every "better than" claim uses, on a paired difference oriented so that positive is
 * an improvement: `"better"` when the mean difference is positive and more than twice its
 * standard error (a one-sided test at about the 5% level for a few seeds, leaning on the
 * normal approximation); `"not better"` when it is zero or negative; `"unclear"` in between, or
 * when no standard error could be measured (one seed, or a non-finite value).
 */
export function improvementOf(difference: PairedDifference): Improvement {
  const { mean, standardError } = difference;
  if (!Number.isFinite(mean)) return "unclear";
  if (mean <= 0) return "not better";
  if (!Number.isFinite(standardError)) return "unclear";
  return mean > 2 * standardError ? "better" : "unclear";
}

/** Scores of any parameters on one seed's split, the models' full-batch losses and accuracies. */
export interface SplitScorer {
  /** Mean cross-entropy on all training rows. */
  trainLoss(params: ParamSet): Promise<number>;
  /** Mean cross-entropy on the validation rows. */
  validationLoss(params: ParamSet): Promise<number>;
  /** Fraction of validation rows classified correctly. */
  validationAccuracy(params: ParamSet): Promise<number>;
  /** Fraction of test rows classified correctly. */
  testAccuracy(params: ParamSet): Promise<number>;
}

/**
 * The scores of a run's final parameters on its seed's split; all NaN when the run stopped
 * early on non-finite numbers.
 */
export interface FinalScores {
  /** Loss on all training rows after the last step. */
  readonly trainLoss: number;
  /** Loss on the validation rows (breaks ties of the validation-accuracy selection). */
  readonly validationLoss: number;
  /** Fraction of validation rows classified correctly. */
  readonly validationAccuracy: number;
  /** Fraction of test rows classified correctly. */
  readonly testAccuracy: number;
}

/** One point of a loss curve. */
export interface CurvePoint {
  /** Optimizer steps taken before the measurement. */
  readonly step: number;
  /** The monitored loss after those steps. */
  readonly loss: number;
  /** Milliseconds spent in those steps (oracle calls and updates; measurements excluded). */
  readonly trainingMs: number;
}

/** A model one training run steps on. */
export interface TrainingModel {
  /** What the optimizer calls: gradient and whatever else it needs. */
  readonly objective: Objective;
  /** Makes the mini-batch of step k current (omit for full-batch training). */
  setBatch?(step: number): void;
  /** The starting parameters, a fresh copy each call. */
  initialParams(): ParamSet;
}

/** A model trained on mini-batches: it makes the batch of a step current, and starts afresh. */
export interface MiniBatchObjective extends Objective {
  /** Makes the mini-batch of step `step` current. */
  setBatch(step: number): void;
  /** The starting parameters, a fresh copy each call. */
  paramSet(): ParamSet;
}

/** `model` as a training run steps on it: batch k at step k, from its starting parameters. */
export function miniBatchTraining(model: MiniBatchObjective): TrainingModel {
  return {
    objective: model,
    setBatch: (k) => model.setBatch(k),
    initialParams: () => model.paramSet(),
  };
}

/** What one training run produced. */
export interface TrainingRun {
  /** The parameters after the last step (or where the run stopped). */
  readonly params: ParamSet;
  /** The monitored loss every `evalEvery` steps (not at step 0). */
  readonly curve: readonly CurvePoint[];
  /** Whether the run stopped on a non-finite gradient, Hessian estimate or loss. */
  readonly diverged: boolean;
  /** Milliseconds spent stepping, in all. */
  readonly trainingMs: number;
  /** What {@link TrainingOptions.inspect} read from the optimizer at the end, if asked. */
  readonly inspected?: number;
}

/** Options of {@link trainAndMonitor}. */
export interface TrainingOptions {
  /** Optimizer steps. */
  readonly steps: number;
  /** Measure the monitored loss after every this many steps (and after the last). */
  readonly evalEvery: number;
  /** The monitored loss of parameters (not timed). */
  readonly monitor: (params: ParamSet) => Promise<number>;
  /** A statistic of the optimizer's state after the last step (not timed). */
  readonly inspect?: (opt: Optimizer) => number;
}

/** Whether `error` says a run left the finite numbers (the optimizer's own checks). */
export function isDivergence(error: unknown): boolean {
  return (
    error instanceof NonFiniteError ||
    (error instanceof RangeError && /not finite/.test(error.message))
  );
}

/**
 * Trains `model` with `transform` for `steps` steps, measuring the monitored loss every
 * `evalEvery` steps. A non-finite gradient or curvature estimate stops the run as diverged, and
 * so does a non-finite monitored loss; the time of the measurements is not counted as training.
 */
export async function trainAndMonitor(
  model: TrainingModel,
  transform: GradientTransform,
  options: TrainingOptions,
): Promise<TrainingRun> {
  const { steps, evalEvery, monitor, inspect } = options;
  const opt = new Optimizer(model.initialParams(), transform);
  const curve: CurvePoint[] = [];
  let trainingMs = 0;
  const finish = (diverged: boolean): TrainingRun => ({
    params: opt.params,
    curve,
    diverged,
    trainingMs,
    ...(inspect === undefined ? {} : { inspected: inspect(opt) }),
  });
  for (let k = 0; k < steps; k++) {
    const started = performance.now();
    try {
      model.setBatch?.(k);
      await opt.step(model.objective);
    } catch (error) {
      if (!isDivergence(error)) throw error;
      trainingMs += performance.now() - started;
      return finish(true);
    }
    trainingMs += performance.now() - started;
    if ((k + 1) % evalEvery === 0 || k + 1 === steps) {
      const loss = await monitor(opt.params);
      curve.push({ step: k + 1, loss, trainingMs });
      if (!Number.isFinite(loss)) return finish(true);
    }
  }
  return finish(false);
}

/**
 * Calls every oracle of `model` an optimizer could ask for once, untimed, so that compiling the
 * jax-js functions is not charged to the first run's training time.
 */
export async function warmUp(model: TrainingModel): Promise<void> {
  const { objective } = model;
  const params = model.initialParams().data;
  const out = objective.layout.zeros();
  if (objective.valueAndGrad) await objective.valueAndGrad(params, out);
  if (objective.hvp) await objective.hvp(params, objective.layout.zeros().fill(1), out);
  if (objective.sampledLabelGrad) await objective.sampledLabelGrad(params, out, 0, 0);
}

/** The first point of `curve` at or below `target`, or undefined when it never gets there. */
export function firstReach(curve: readonly CurvePoint[], target: number): CurvePoint | undefined {
  return curve.find((p) => p.loss <= target);
}

/** Median of `values` (NaN for none). */
export function median(values: readonly number[]): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Whether `value` is the smallest or the largest of `grid` (of more than one value). */
export function atEdge(grid: readonly number[], value: number): boolean {
  return grid.length > 1 && (value === Math.min(...grid) || value === Math.max(...grid));
}

/** Mean ± standard deviation of `s` times `scale`, to `digits` decimals. */
export function formatMeanSd(s: Summary, scale: number, digits: number): string {
  const mean = (scale * s.mean).toFixed(digits);
  return Number.isFinite(s.sd) ? `${mean} ± ${(scale * s.sd).toFixed(digits)}` : mean;
}

/** `x` with an explicit sign and 3 significant digits: `"+0.0123"`, `"−1.20"`. */
export function formatSigned(x: number): string {
  return `${x >= 0 ? "+" : "−"}${Math.abs(x).toPrecision(3)}`;
}

/** A ratio to 2 decimals with its sign of times, `"0.67×"` (`"-"` when it is not finite). */
export function formatRatio(x: number): string {
  return Number.isFinite(x) ? `${x.toFixed(2)}×` : "-";
}

/** A difference of fractions in percentage points, signed: `"+0.28"`. */
export function formatPoints(fraction: number): string {
  const points = 100 * fraction;
  const size = Math.abs(points).toFixed(2);
  if (size === "0.00") return size;
  return `${points >= 0 ? "+" : "−"}${size}`;
}

/** A spread of fractions in percentage points (`"-"` when there is none). */
export function formatSpreadPoints(fraction: number): string {
  return Number.isFinite(fraction) ? (100 * fraction).toFixed(2) : "-";
}

/** Plain-text table; the first `leftColumns` columns are aligned left, the rest right. */
export function table(
  header: readonly string[],
  rows: readonly (readonly string[])[],
  leftColumns = 1,
): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => [...r[i]].length)));
  const line = (cells: readonly string[]): string =>
    `  ${cells
      .map((c, i) => {
        const fill = " ".repeat(widths[i] - [...c].length);
        return i < leftColumns ? c + fill : fill + c;
      })
      .join("  ")}`.trimEnd();
  return [line(header), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)].join("\n");
}

/** `value` as JSON data: non-finite numbers become null, as `JSON.stringify` writes them. */
export function toJson(value: unknown): JsonValue {
  return JSON.parse(JSON.stringify(value)) as JsonValue;
}

/** What one side of a tuning budget got: its grid's size, and the seeds and steps of each run. */
export interface SideBudget {
  /** Settings tried. */
  readonly gridSize: number;
  /** Seeds each setting ran on. */
  readonly seeds: number;
  /** Steps of every run. */
  readonly steps: number;
}

/**
 * The budget of every side for a record, by side name: `gridSizes` lists each side with the
 * size of its grid; the seeds and steps are the same on every side.
 */
export function tuningBudget(
  gridSizes: readonly (readonly [side: string, gridSize: number])[],
  seeds: number,
  steps: number,
): Record<string, SideBudget> {
  return Object.fromEntries(
    gridSizes.map(([side, gridSize]) => [side, { gridSize, seeds, steps }]),
  );
}

/** The closing lines of a quick run's report. */
export const QUICK_RUN_NOTE: readonly string[] = [
  "",
  "This was the quick version: too few steps and seeds to settle the claim; run without --quick for the reproduction.",
];

/** A report's text from its lines: one per line, ending with the quick-run note when `quick`. */
export function reportText(lines: readonly string[], quick: boolean): string {
  return `${[...lines, ...(quick ? QUICK_RUN_NOTE : [])].join("\n")}\n`;
}
