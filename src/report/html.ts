/**
 * The benchmark report as one self-contained HTML page: inline CSS, inline SVG plots, no scripts
 * and no external resources, so it opens offline and can be attached or archived as one file.
 * For each problem: a log-scale loss plot (one line per run) and the table of its runs.
 */
import type { RunResult } from "../bench/run.js";
import { formatDuration, formatShort, formatLoss, resultsTable } from "../bench/table.js";
import type { BenchResults, ProblemSummary } from "./results.js";
import { escapeXml, linePlot } from "./svg.js";

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1d1f23;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 2px; }
section, .meta { background: #fff; border: 1px solid #dde1e6; border-radius: 8px;
  padding: 16px 20px; margin: 18px 0; }
.description { color: #555; margin: 0 0 10px; }
.meta dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
.meta dt { color: #666; }
.meta dd { margin: 0; }
.warning { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 6px; padding: 8px 12px; }
.plot { display: block; max-width: 100%; height: auto; margin: 8px 0 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef1; white-space: nowrap; }
th { text-align: left; font-weight: 600; color: #444; border-bottom: 2px solid #d5d9de; }
td.right, th.right { text-align: right; }
tr.best td { font-weight: 600; }
td.status-ok { color: #2e7d32; }
td.status-diverged { color: #b26a00; }
td.status-error, td.status-interrupted { color: #c62828; }
ul.messages { margin: 10px 0 0; padding-left: 18px; color: #444; }
ul.messages code { white-space: pre-wrap; }
footer { color: #777; font-size: 12px; margin-top: 24px; }
`;

function runLabel(run: RunResult, ambiguous: boolean): string {
  return ambiguous ? `${run.optimizer} (lr ${formatShort(run.learningRate)})` : run.optimizer;
}

/** Index of the run with the lowest finite final loss (-1 if none). */
function bestRun(runs: readonly RunResult[]): number {
  let best = -1;
  runs.forEach((run, i) => {
    if (run.status !== "ok" || !Number.isFinite(run.finalLoss)) return;
    if (best < 0 || run.finalLoss < runs[best].finalLoss) best = i;
  });
  return best;
}

function problemSection(
  problem: ProblemSummary,
  runs: readonly RunResult[],
  index: number,
): string {
  // Several runs of one optimizer (a learning-rate sweep) are told apart by their learning rate.
  const names = runs.map((r) => r.optimizer);
  const ambiguous = new Set(names).size !== names.length;
  // Near a nonzero minimum f* the losses differ in their last digits; f − f* on a log axis
  // shows how fast each run closes the gap.
  const optimum = problem.optimalValue ?? 0;
  const shift = Number.isFinite(optimum) ? optimum : 0;
  const series = runs.map((run) => ({
    label: runLabel(run, ambiguous),
    values: shift === 0 ? run.losses : run.losses.map((loss) => loss - shift),
    tooltip: `${run.optimizer}, lr ${formatShort(run.learningRate)}: ${run.status}, final loss ${formatLoss(run.finalLoss)}`,
  }));
  const plot = linePlot(series, {
    id: `plot-${index}-${problem.name}`,
    title:
      shift === 0
        ? `${problem.name}: loss per step`
        : `${problem.name}: loss − f* per step (f* = ${formatLoss(shift)})`,
    yLabel: shift === 0 ? "loss" : "loss − f*",
    width: 1020,
    height: 420,
    reference: {
      value: problem.targetLoss - shift,
      label: `target ${formatShort(problem.targetLoss)}`,
    },
  });
  const table = resultsTable(runs, { problem: false });
  const best = bestRun(runs);
  const head = table.columns
    .map((c) => `<th class="${c.align}">${escapeXml(c.title)}</th>`)
    .join("");
  const statusColumn = table.columns.length - 1;
  const body = table.rows
    .map((cells, i) => {
      const run = runs[i];
      const tds = cells.map((cell, c) => {
        const classes: string[] = [table.columns[c].align];
        if (c === statusColumn) classes.push(`status-${run.status}`);
        const title = c === statusColumn && run.message ? ` title="${escapeXml(run.message)}"` : "";
        return `<td class="${classes.join(" ")}"${title}>${escapeXml(cell)}</td>`;
      });
      return `<tr${i === best ? ' class="best"' : ""}>${tds.join("")}</tr>`;
    })
    .join("\n");
  const messages = runs
    .filter((r) => r.message)
    .map(
      (r) =>
        `<li><strong>${escapeXml(r.optimizer)}</strong> (${escapeXml(r.status)}): <code>${escapeXml(r.message ?? "")}</code></li>`,
    );
  return `<section id="problem-${escapeXml(problem.name)}">
<h2>${escapeXml(problem.name)}</h2>
<p class="description">${escapeXml(problem.description)}. Target loss ${escapeXml(formatShort(problem.targetLoss))}.</p>
${plot}
<table>
<thead><tr>${head}</tr></thead>
<tbody>
${body}
</tbody>
</table>
${messages.length ? `<ul class="messages">\n${messages.join("\n")}\n</ul>` : ""}
</section>`;
}

function metaBlock(results: BenchResults): string {
  const { options, environment: env, runs } = results;
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const statusText = [...counts].map(([status, n]) => `${n} ${status}`).join(", ") || "none";
  const rows: [string, string][] = [
    ["started", results.startedAt],
    ["wall time", formatDuration(results.wallMs)],
    ["runs", `${runs.length} of ${results.plannedRuns} (${statusText})`],
    ["optimizers", options.optimizers.join(", ")],
    ["problems", options.problems.join(", ")],
    ["steps", options.steps === null ? "each problem's default" : String(options.steps)],
    ["seed", String(options.seed)],
    ["Node.js", env.node],
    ["platform", `${env.platform} ${env.arch}, ${env.cpus} × ${env.cpuModel}`],
    ["descend", env.descend],
  ];
  const dl = rows.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join("\n");
  const warning = results.complete
    ? ""
    : `<p class="warning">This benchmark did not finish: ${runs.length} of ${results.plannedRuns} runs are recorded.</p>`;
  return `<div class="meta">${warning}<dl>\n${dl}\n</dl></div>`;
}

/** The report page for `results`. */
export function renderHtml(results: BenchResults): string {
  const byProblem = results.problems
    .map((problem) => ({ problem, runs: results.runs.filter((r) => r.problem === problem.name) }))
    .filter(({ runs }) => runs.length > 0);
  const sections = byProblem.map(({ problem, runs }, i) => problemSection(problem, runs, i));
  const title = `descend bench ${results.startedAt}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeXml(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<main>
<h1>descend bench</h1>
${metaBlock(results)}
${sections.join("\n")}
<footer>Loss after each step, the starting point at step 0. Steps to target: the first step whose loss is at most the problem's target. Time: the optimization steps and the final evaluation, without setup. Bold: lowest final loss of the problem.</footer>
</main>
</body>
</html>
`;
}
