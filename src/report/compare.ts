/**
 * Two benchmark records side by side (`descend bench --compare a.json b.json`): for every
 * (optimizer, problem) the chosen setting's mean final loss and time in each, their ratios, and
 * flags where b is worse than a beyond a threshold. Losses are compared by their distance to the
 * problem's optimum f* where it is known, so a loss near a nonzero optimum is judged by what is
 * left to gain; a b that reached the problem's target is never a loss regression.
 */
import type { PairSummary } from "../bench/summary.js";
import type { Column } from "../bench/table.js";
import { formatColumns, formatDuration, formatLoss, formatRate } from "../bench/table.js";
import type { BenchResults } from "./results.js";

/** Thresholds of {@link compareResults}. */
export interface CompareOptions {
  /** Relative increase of the loss gap (f − f*) that counts as a regression (default 0.1). */
  readonly lossThreshold?: number;
  /** Relative increase of the time per run that counts as a regression (default 0.5). */
  readonly timeThreshold?: number;
}

/** Default relative loss threshold. */
export const DEFAULT_LOSS_THRESHOLD = 0.1;

/** Default relative time threshold (times are noisy on shared machines). */
export const DEFAULT_TIME_THRESHOLD = 0.5;

/** One (optimizer, problem) in both records. */
export interface ComparisonRow {
  /** Problem name. */
  readonly problem: string;
  /** Optimizer name. */
  readonly optimizer: string;
  /** Its summary in a, or null when a lacks it. */
  readonly a: PairSummary | null;
  /** Its summary in b, or null when b lacks it. */
  readonly b: PairSummary | null;
  /** (b − f*) / (a − f*) of the mean final losses, when both are finite and a's gap positive. */
  readonly lossRatio: number | null;
  /** b's mean time per run over a's, when both are known. */
  readonly timeRatio: number | null;
  /** Short notes: regressions (`"loss +35%"`, `"slower ×1.8"`, `"diverged"`) and changes. */
  readonly flags: readonly string[];
  /** Whether b regressed beyond a threshold. */
  readonly regression: boolean;
}

/** The comparison of two records. */
export interface Comparison {
  /** One row per (optimizer, problem) in either record, a's order first. */
  readonly rows: readonly ComparisonRow[];
  /** Rows flagged as regressions. */
  readonly regressions: number;
  /** The thresholds used. */
  readonly lossThreshold: number;
  /** The thresholds used. */
  readonly timeThreshold: number;
}

function percent(ratio: number): string {
  return `${ratio >= 1 ? "+" : ""}${Math.round(100 * (ratio - 1))}%`;
}

function compareRow(
  problem: string,
  optimizer: string,
  a: PairSummary | null,
  b: PairSummary | null,
  optimum: number,
  target: number | null,
  lossThreshold: number,
  timeThreshold: number,
): ComparisonRow {
  const flags: string[] = [];
  let regression = false;
  let lossRatio: number | null = null;
  let timeRatio: number | null = null;
  if (!a || !b) {
    flags.push(a ? "only in a" : "only in b");
    return { problem, optimizer, a, b, lossRatio, timeRatio, flags, regression };
  }
  if (a.status === "ok" && b.status !== "ok") {
    flags.push(b.status === "diverged" ? "diverged at every rate" : b.status);
    regression = true;
  } else if (a.status !== "ok" && b.status === "ok") {
    flags.push(`was ${a.status}`);
  }
  if (a.finalLoss && b.finalLoss) {
    const gapA = a.finalLoss.mean - optimum;
    const gapB = b.finalLoss.mean - optimum;
    const reached = target !== null && b.finalLoss.mean <= target;
    if (Number.isFinite(gapA) && Number.isFinite(gapB) && gapA > 0) {
      lossRatio = gapB / gapA;
      if (lossRatio > 1 + lossThreshold && !reached) {
        flags.push(`loss ${percent(lossRatio)}`);
        regression = true;
      } else if (lossRatio < 1 / (1 + lossThreshold)) {
        flags.push(`loss ${percent(lossRatio)}`);
      }
    } else if (gapA <= 0 && gapB > 0 && !reached) {
      flags.push("loss left the optimum");
      regression = true;
    }
  }
  if (a.timeMs && b.timeMs && a.timeMs.mean > 0 && Number.isFinite(b.timeMs.mean)) {
    timeRatio = b.timeMs.mean / a.timeMs.mean;
    if (timeRatio > 1 + timeThreshold) {
      flags.push(`slower ×${timeRatio.toFixed(2)}`);
      regression = true;
    }
  }
  if (a.learningRate !== null && b.learningRate !== null && a.learningRate !== b.learningRate) {
    flags.push("other lr");
  }
  return { problem, optimizer, a, b, lossRatio, timeRatio, flags, regression };
}

/** Compares record `b` against record `a`. */
export function compareResults(
  a: BenchResults,
  b: BenchResults,
  options: CompareOptions = {},
): Comparison {
  const lossThreshold = options.lossThreshold ?? DEFAULT_LOSS_THRESHOLD;
  const timeThreshold = options.timeThreshold ?? DEFAULT_TIME_THRESHOLD;
  const key = (p: { problem: string; optimizer: string }): string =>
    `${p.problem}\u0000${p.optimizer}`;
  const inB = new Map(b.summary.map((p) => [key(p), p]));
  const seen = new Set<string>();
  const pairs: { problem: string; optimizer: string }[] = [];
  for (const p of [...a.summary, ...b.summary]) {
    if (seen.has(key(p))) continue;
    seen.add(key(p));
    pairs.push({ problem: p.problem, optimizer: p.optimizer });
  }
  const inA = new Map(a.summary.map((p) => [key(p), p]));
  const problemOf = (name: string) =>
    a.problems.find((p) => p.name === name) ?? b.problems.find((p) => p.name === name);
  const rows = pairs.map(({ problem, optimizer }) => {
    const summary = problemOf(problem);
    const optimum = summary?.optimalValue ?? 0;
    return compareRow(
      problem,
      optimizer,
      inA.get(key({ problem, optimizer })) ?? null,
      inB.get(key({ problem, optimizer })) ?? null,
      Number.isFinite(optimum) ? optimum : 0,
      summary?.targetLoss ?? null,
      lossThreshold,
      timeThreshold,
    );
  });
  return {
    rows,
    regressions: rows.filter((r) => r.regression).length,
    lossThreshold,
    timeThreshold,
  };
}

function describe(label: string, results: BenchResults): string {
  const env = results.environment;
  const runs = `${results.runs.length} runs${results.complete ? "" : " (unfinished)"}`;
  return `${label}: ${results.startedAt}, suite ${results.options.suite}, ${runs}, descend ${env.descend}, Node.js ${env.node}, ${env.cpus} × ${env.cpuModel}`;
}

function ratioCell(ratio: number | null): string {
  return ratio === null ? "-" : ratio.toPrecision(3);
}

/**
 * The comparison as text: what a and b are, a table (problem, optimizer, chosen learning rates,
 * mean final losses and their gap ratio, times and their ratio, flags), and a closing line
 * counting the regressions.
 */
export function formatComparison(
  comparison: Comparison,
  a: { label: string; results: BenchResults },
  b: { label: string; results: BenchResults },
): string {
  const columns: Column[] = [
    { title: "problem", align: "left" },
    { title: "optimizer", align: "left" },
    { title: "lr a", align: "right" },
    { title: "lr b", align: "right" },
    { title: "loss a", align: "right" },
    { title: "loss b", align: "right" },
    { title: "b/a", align: "right" },
    { title: "time a", align: "right" },
    { title: "time b", align: "right" },
    { title: "b/a", align: "right" },
    { title: "flags", align: "left" },
  ];
  const lr = (p: PairSummary | null) =>
    p?.learningRate !== null && p?.learningRate !== undefined ? formatRate(p.learningRate) : "-";
  const loss = (p: PairSummary | null) => (p?.finalLoss ? formatLoss(p.finalLoss.mean) : "-");
  const time = (p: PairSummary | null) => (p?.timeMs ? formatDuration(p.timeMs.mean) : "-");
  const rows = comparison.rows.map((r) => [
    r.problem,
    r.optimizer,
    lr(r.a),
    lr(r.b),
    loss(r.a),
    loss(r.b),
    ratioCell(r.lossRatio),
    time(r.a),
    time(r.b),
    ratioCell(r.timeRatio),
    `${r.regression ? "REGRESSION " : ""}${r.flags.join(", ")}`.trim(),
  ]);
  const table = formatColumns(
    { columns, rows },
    (i) => comparison.rows[i].problem !== comparison.rows[i - 1].problem,
  );
  const thresholds = `${Math.round(100 * comparison.lossThreshold)}% in loss (distance to f*) or ${Math.round(100 * comparison.timeThreshold)}% in time`;
  const verdict =
    comparison.regressions === 0
      ? `no regressions beyond ${thresholds}`
      : `${comparison.regressions} regression${comparison.regressions === 1 ? "" : "s"} beyond ${thresholds}`;
  return `${describe(`a = ${a.label}`, a.results)}\n${describe(`b = ${b.label}`, b.results)}\n\n${table}\n${verdict}\n`;
}
