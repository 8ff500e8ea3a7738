/**
 * The results table: one row per run, shared by the terminal (plain text, aligned columns) and
 * the HTML report (which renders the same cells).
 */
import type { RunResult } from "./run.js";

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

/** How a column's cells are aligned. */
export type Alignment = "left" | "right";

/** A table column. */
export interface Column {
  /** Header text. */
  readonly title: string;
  /** Alignment of header and cells. */
  readonly align: Alignment;
}

/** A table ready to render: columns, and for each run its cells in column order. */
export interface ResultsTable {
  /** The columns. */
  readonly columns: readonly Column[];
  /** One row of cells per run, in the runs' order. */
  readonly rows: readonly (readonly string[])[];
}

/** Status cell: `"ok"`, or the status with the step where it happened. */
export function statusCell(result: RunResult): string {
  if (result.status === "ok") return "ok";
  if (result.status === "error" && result.losses.length === 0) return "error";
  return `${result.status} @${result.stepsDone}`;
}

/** Options of {@link resultsTable}. */
export interface ResultsTableOptions {
  /** Include the problem column (default true; a table of one problem may leave it out). */
  readonly problem?: boolean;
}

/**
 * The cells of the results table. The accuracy column appears when some run measured accuracy
 * (classification problems).
 */
export function resultsTable(
  results: readonly RunResult[],
  options: ResultsTableOptions = {},
): ResultsTable {
  const withProblem = options.problem ?? true;
  const withAccuracy = results.some((r) => r.accuracy !== null);
  const columns: Column[] = [{ title: "optimizer", align: "left" }];
  if (withProblem) columns.push({ title: "problem", align: "left" });
  columns.push(
    { title: "lr", align: "right" },
    { title: "final loss", align: "right" },
    { title: "best loss", align: "right" },
    { title: "steps to target", align: "right" },
  );
  if (withAccuracy) columns.push({ title: "accuracy", align: "right" });
  columns.push({ title: "time", align: "right" }, { title: "status", align: "left" });
  const rows = results.map((r) => {
    const hasLoss = r.losses.length > 0;
    const cells = [r.optimizer];
    if (withProblem) cells.push(r.problem);
    cells.push(
      formatShort(r.learningRate),
      hasLoss ? formatLoss(r.finalLoss) : "-",
      Number.isNaN(r.bestLoss) ? "-" : formatLoss(r.bestLoss),
      r.stepsToTarget === null ? "-" : String(r.stepsToTarget),
    );
    if (withAccuracy) cells.push(r.accuracy === null ? "-" : formatPercent(r.accuracy));
    cells.push(r.stepsDone > 0 ? formatDuration(r.times.runMs) : "-", statusCell(r));
    return cells;
  });
  return { columns, rows };
}

function pad(text: string, width: number, align: Alignment): string {
  const length = [...text].length;
  const fill = " ".repeat(Math.max(0, width - length));
  return align === "left" ? text + fill : fill + text;
}

/**
 * The results table as aligned plain text, a rule under the header and a blank line between
 * problems, ending with a newline.
 */
export function formatTable(results: readonly RunResult[]): string {
  const { columns, rows } = resultsTable(results);
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
    if (i > 0 && results[i].problem !== results[i - 1].problem) out.push("");
    out.push(line(row));
  });
  return `${out.join("\n")}\n`;
}
