/**
 * The summary table: one row per (optimizer, problem) with the chosen learning rate, the mean
 * and spread of the final loss over the seeds, steps to the target, time and status. Shared by
 * the terminal (plain text, aligned columns) and the HTML report (which renders the same cells).
 */
import type { OracleCounts } from "../oracles/counting.js";
import type { PairSummary, Stats } from "./summary.js";

/**
 * A loss in scientific notation with four significant digits (`"1.235e-4"`: enough to tell
 * apart runs close to a nonzero optimum), or its kind.
 */
export function formatLoss(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Number.POSITIVE_INFINITY) return "Inf";
  if (value === Number.NEGATIVE_INFINITY) return "-Inf";
  return value.toExponential(3);
}

/** A duration: `"850 µs"`, `"42 ms"`, `"1.25 s"`, `"2m 05s"`. */
export function formatDuration(ms: number): string {
  if (!Number.isFinite(ms) || ms < 0) return "-";
  if (ms < 1) return `${Math.round(ms * 1000)} µs`;
  if (ms < 1000) return `${ms < 10 ? ms.toFixed(1) : Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(s < 10 ? 2 : 1)} s`;
  const minutes = Math.floor(s / 60);
  const seconds = Math.round(s - 60 * minutes);
  return `${minutes}m ${String(seconds).padStart(2, "0")}s`;
}

/** A fraction as a percentage with one decimal (`"97.3%"`). */
export function formatPercent(fraction: number): string {
  return `${(100 * fraction).toFixed(1)}%`;
}

/** A number in its shortest exact form (`"0.001"`, `"5e-5"`), for learning rates and targets. */
export function formatShort(value: number): string {
  return String(value).replace(/e([+-])/, (_m, sign: string) => (sign === "-" ? "e-" : "e"));
}

/** A learning rate to three significant digits (`"0.0333"`, `"3e-5"`). */
export function formatRate(value: number): string {
  return Number.isFinite(value) ? formatShort(Number(value.toPrecision(3))) : String(value);
}

/** A grid factor: `"×1/3"`, `"×1"`, `"×3"`, `"×0.25"`. */
export function formatFactor(factor: number): string {
  if (factor < 1) {
    const inverse = 1 / factor;
    if (Math.abs(inverse - Math.round(inverse)) < 1e-9) return `×1/${Math.round(inverse)}`;
  }
  return `×${formatShort(Number(factor.toPrecision(3)))}`;
}

/** Mean ± sample standard deviation (`"1.235e-4 ± 2.1e-5"`); the mean alone for one value. */
export function formatSpread(s: Stats): string {
  if (s.n === 0) return "-";
  if (s.n === 1 || !Number.isFinite(s.std)) return formatLoss(s.mean);
  return `${formatLoss(s.mean)} ± ${s.std.toExponential(1)}`;
}

/** Oracle calls per run, largest first: `"300 grad"`, `"300 grad + 300 hvp"`. */
export function formatCalls(calls: OracleCounts | null): string {
  if (!calls) return "-";
  const names: [keyof OracleCounts, string][] = [
    ["valueAndGrad", "grad"],
    ["value", "value"],
    ["hvp", "hvp"],
    ["jvp", "jvp"],
    ["sampledLabelGrad", "label-grad"],
    ["outputJacobian", "jacobian"],
    ["layerStatistics", "layer-stats"],
  ];
  const parts = names
    .filter(([key]) => calls[key] > 0)
    .map(([key, label]) => `${formatCount(calls[key])} ${label}`);
  return parts.length ? parts.join(" + ") : "0";
}

function formatCount(n: number): string {
  const rounded = Math.round(n * 10) / 10;
  return Number.isInteger(rounded) ? String(rounded) : rounded.toFixed(1);
}

/** How a column's cells are aligned. */
export type Alignment = "left" | "right";

/** A table column. */
export interface Column {
  /** Header text. */
  readonly title: string;
  /** Alignment of header and cells. */
  readonly align: Alignment;
}

/** A table ready to render: columns, and for each row its cells in column order. */
export interface SummaryTable {
  /** The columns. */
  readonly columns: readonly Column[];
  /** One row of cells per pair, in the pairs' order. */
  readonly rows: readonly (readonly string[])[];
}

/** The chosen learning rate, marked when it lies at the edge of the grid. */
export function rateCell(pair: PairSummary): string {
  if (pair.learningRate === null || pair.chosen === null) return "-";
  const rate = formatRate(pair.learningRate);
  if (!pair.atEdge) return rate;
  return `${rate} (${pair.chosen === 0 ? "lowest" : "highest"} tried)`;
}

/** Steps to the target: the mean over the seeds that reached it, and how many did if not all. */
export function targetCell(pair: PairSummary): string {
  const t = pair.stepsToTarget;
  if (!t || t.mean === null) return "-";
  const mean = String(Math.round(t.mean));
  return t.reached === t.runs ? mean : `${mean} (${t.reached}/${t.runs})`;
}

/** Status cell: `"ok"`, with the count of diverged rates, or why nothing was chosen. */
export function statusCell(pair: PairSummary): string {
  if (pair.status === "ok") {
    const diverged = pair.sweep.filter((p) => p.diverged > 0).length;
    return diverged === 0 ? "ok" : `ok (${diverged}/${pair.sweep.length} rates diverged)`;
  }
  if (pair.status === "diverged") return "diverged at every rate";
  return pair.status;
}

/** Options of {@link summaryTable}. */
export interface SummaryTableOptions {
  /** Include the problem column (default true; a table of one problem may leave it out). */
  readonly problem?: boolean;
  /** Include the oracle-calls column (default false). */
  readonly calls?: boolean;
}

/**
 * The cells of the summary table. Accuracy and validation-loss columns appear when some pair
 * measured them.
 */
export function summaryTable(
  pairs: readonly PairSummary[],
  options: SummaryTableOptions = {},
): SummaryTable {
  const withProblem = options.problem ?? true;
  const withAccuracy = pairs.some((p) => p.accuracy !== null);
  const withValidation = pairs.some((p) => p.validationLoss !== null);
  const columns: Column[] = [{ title: "optimizer", align: "left" }];
  if (withProblem) columns.push({ title: "problem", align: "left" });
  columns.push(
    { title: "best lr", align: "right" },
    { title: "final loss (mean ± sd)", align: "right" },
    { title: "seeds", align: "right" },
    { title: "steps to target", align: "right" },
  );
  if (withAccuracy) columns.push({ title: "accuracy", align: "right" });
  if (withValidation) columns.push({ title: "val loss", align: "right" });
  columns.push({ title: "time/run", align: "right" });
  if (options.calls) columns.push({ title: "oracle calls/run", align: "right" });
  columns.push({ title: "status", align: "left" });
  const rows = pairs.map((p) => {
    const cells = [p.optimizer];
    if (withProblem) cells.push(p.problem);
    cells.push(
      rateCell(p),
      p.finalLoss ? formatSpread(p.finalLoss) : "-",
      p.finalLoss ? String(p.finalLoss.n) : "-",
      targetCell(p),
    );
    if (withAccuracy) cells.push(p.accuracy ? formatPercent(p.accuracy.mean) : "-");
    if (withValidation) cells.push(p.validationLoss ? formatLoss(p.validationLoss.mean) : "-");
    cells.push(p.timeMs ? formatDuration(p.timeMs.mean) : "-");
    if (options.calls) cells.push(formatCalls(p.calls));
    cells.push(statusCell(p));
    return cells;
  });
  return { columns, rows };
}

function pad(text: string, width: number, align: Alignment): string {
  const length = [...text].length;
  const fill = " ".repeat(Math.max(0, width - length));
  return align === "left" ? text + fill : fill + text;
}

/** A table as aligned plain text with a rule under the header, ending with a newline. */
export function formatColumns(
  table: SummaryTable,
  breakBefore: (row: number) => boolean = () => false,
): string {
  const { columns, rows } = table;
  const widths = columns.map((c, i) =>
    Math.max([...c.title].length, ...rows.map((row) => [...row[i]].length)),
  );
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, i) => pad(cell, widths[i], columns[i].align))
      .join("  ")
      .trimEnd();
  const out = [line(columns.map((c) => c.title)), widths.map((w) => "-".repeat(w)).join("  ")];
  rows.forEach((row, i) => {
    if (i > 0 && breakBefore(i)) out.push("");
    out.push(line(row));
  });
  return `${out.join("\n")}\n`;
}

/** The summary table as aligned plain text, a blank line between problems. */
export function formatTable(pairs: readonly PairSummary[]): string {
  return formatColumns(summaryTable(pairs), (i) => pairs[i].problem !== pairs[i - 1].problem);
}
