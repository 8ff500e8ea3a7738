/**
 * The benchmark report as one self-contained HTML page: inline CSS, the figures as inline SVG,
 * no scripts and no external resources, so it opens offline and can be attached or archived as
 * one file. It holds the summary table of every (optimizer, problem), and per problem its four
 * figures, the table of its optimizers, the whole learning-rate sweep and the messages of runs
 * that failed.
 */
import type { PairSummary } from "../bench/summary.js";
import { CRITERION } from "../bench/summary.js";
import {
  formatDuration,
  formatFactor,
  formatLoss,
  formatRate,
  formatShort,
  summaryTable,
} from "../bench/table.js";
import type { RenderedFigure } from "./figures.js";
import { FIGURE_KINDS } from "./figures.js";
import type { BenchResults, ProblemSummary } from "./results.js";

/** `text` with the characters that are special in HTML and XML escaped. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

const STYLE = `
:root { color-scheme: light; }
body { margin: 0; background: #f6f7f9; color: #1d1f23;
  font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, Helvetica, Arial, sans-serif; }
main { max-width: 1240px; margin: 0 auto; padding: 24px 28px 48px; }
h1 { font-size: 24px; margin: 0 0 4px; }
h2 { font-size: 19px; margin: 0 0 2px; }
h3 { font-size: 15px; margin: 16px 0 6px; }
section, .meta { background: #fff; border: 1px solid #dde1e6; border-radius: 8px;
  padding: 16px 20px; margin: 18px 0; overflow-x: auto; }
.description { color: #555; margin: 0 0 10px; }
.meta dl { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0; }
.meta dt { color: #666; }
.meta dd { margin: 0; }
.warning { background: #fff4e5; border: 1px solid #f0c36d; border-radius: 6px; padding: 8px 12px; }
.figures { display: grid; grid-template-columns: repeat(auto-fit, minmax(540px, 1fr)); gap: 12px; }
figure { margin: 0; }
figure svg { display: block; max-width: 100%; height: auto; }
figcaption { color: #666; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; margin: 6px 0; }
th, td { padding: 4px 10px; border-bottom: 1px solid #eceef1; white-space: nowrap; }
th { text-align: left; font-weight: 600; color: #444; border-bottom: 2px solid #d5d9de; }
td:last-child { white-space: normal; min-width: 9em; }
td.right, th.right { text-align: right; }
td.chosen { font-weight: 700; background: #eef6ee; }
td.diverged { color: #b26a00; }
td.failed { color: #c62828; }
td.status-ok { color: #2e7d32; }
td.status-diverged { color: #b26a00; }
td.status-error, td.status-unsupported { color: #c62828; }
tr.problem-start td { border-top: 2px solid #d5d9de; }
ul.messages { margin: 10px 0 0; padding-left: 18px; color: #444; }
ul.messages code { white-space: pre-wrap; }
footer { color: #777; font-size: 12px; margin-top: 24px; }
footer p { margin: 4px 0; }
`;

/** Options of {@link renderHtml}. */
export interface HtmlOptions {
  /** The rendered figures to inline (none: the page says the figures are missing). */
  readonly figures?: readonly RenderedFigure[];
  /** Problems met while rendering the figures, shown on the page. */
  readonly figureErrors?: readonly string[];
  /** Directory (relative to the page) where the PNG copies of the figures were written. */
  readonly pngDir?: string;
}

/**
 * An SVG document made fit to sit inline in HTML: without its XML namespace declarations (HTML
 * supplies them), with its ids prefixed so that several figures on one page cannot collide, and
 * labelled for screen readers.
 */
export function inlineSvg(svg: string, prefix: string, label: string): string {
  return svg
    .replace(/^<\?xml[^>]*>\s*/, "")
    .replace(/\s+xmlns(:\w+)?="[^"]*"/g, "")
    .replace(/\sid="([^"]+)"/g, ` id="${prefix}-$1"`)
    .replace(/url\(#([^)]+)\)/g, `url(#${prefix}-$1)`)
    .replace(/(\s(?:xlink:)?href)="#([^"]+)"/g, `$1="#${prefix}-$2"`)
    .replace(/^<svg/, `<svg role="img" aria-label="${escapeXml(label)}"`);
}

function tableHtml(
  columns: readonly { title: string; align: string }[],
  rows: readonly (readonly string[])[],
  rowClass: (i: number) => string = () => "",
  cellClass: (row: number, column: number) => string = () => "",
): string {
  const head = columns.map((c) => `<th class="${c.align}">${escapeXml(c.title)}</th>`).join("");
  const body = rows
    .map((cells, i) => {
      const tds = cells.map((cell, c) => {
        const classes = [columns[c].align, cellClass(i, c)].filter(Boolean).join(" ");
        return `<td class="${classes}">${escapeXml(cell)}</td>`;
      });
      const cls = rowClass(i);
      return `<tr${cls ? ` class="${cls}"` : ""}>${tds.join("")}</tr>`;
    })
    .join("\n");
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body}\n</tbody>\n</table>`;
}

function pairTable(pairs: readonly PairSummary[], withProblem: boolean): string {
  const table = summaryTable(pairs, { problem: withProblem, calls: true });
  const status = table.columns.length - 1;
  return tableHtml(
    table.columns,
    table.rows,
    (i) =>
      withProblem && i > 0 && pairs[i].problem !== pairs[i - 1].problem ? "problem-start" : "",
    (i, c) => (c === status ? `status-${pairs[i].status}` : ""),
  );
}

/** The sweep of every optimizer on one problem: one column per grid factor. */
function sweepTable(pairs: readonly PairSummary[]): string {
  const factors = [...new Set(pairs.flatMap((p) => p.sweep.map((s) => s.factor)))].sort(
    (a, b) => a - b,
  );
  const head = [
    `<th class="left">optimizer</th>`,
    ...factors.map((f) => `<th class="right">${escapeXml(formatFactor(f))}</th>`),
  ].join("");
  const rows = pairs.map((pair) => {
    const cells = factors.map((factor) => {
      const i = pair.sweep.findIndex((s) => s.factor === factor);
      if (i < 0) return `<td class="right">-</td>`;
      const point = pair.sweep[i];
      const rate = `lr ${formatRate(point.learningRate)}`;
      let text: string;
      let cls = "right";
      if (point.score === Number.POSITIVE_INFINITY) {
        text = `diverged (${point.diverged}/${point.runs})`;
        cls += " diverged";
      } else if (Number.isNaN(point.score)) {
        text = point.failed > 0 ? `failed (${point.failed}/${point.runs})` : "-";
        cls += " failed";
      } else {
        text = formatLoss(point.score);
      }
      if (i === pair.chosen) cls += " chosen";
      return `<td class="${cls}">${escapeXml(rate)}<br>${escapeXml(text)}</td>`;
    });
    return `<tr><td class="left">${escapeXml(pair.optimizer)}</td>${cells.join("")}</tr>`;
  });
  return `<table class="sweep">\n<thead><tr>${head}</tr></thead>\n<tbody>\n${rows.join("\n")}\n</tbody>\n</table>`;
}

function figureHtml(figure: RenderedFigure, index: number, pngDir: string | undefined): string {
  const svg = inlineSvg(figure.svg, `fig${index}`, figure.title);
  const png = figure.png && pngDir !== undefined ? ` PNG: ${pngDir}/${figure.file}` : "";
  return `<figure class="figure-${figure.kind}" data-problem="${escapeXml(figure.problem)}" data-kind="${figure.kind}">
${svg}
<figcaption>${escapeXml(figure.title)}.${escapeXml(png)}</figcaption>
</figure>`;
}

function problemSection(
  results: BenchResults,
  problem: ProblemSummary,
  figures: readonly RenderedFigure[],
  firstIndex: number,
  pngDir: string | undefined,
): string {
  const pairs = results.summary.filter((p) => p.problem === problem.name);
  const runs = results.runs.filter((r) => r.problem === problem.name);
  const mine = FIGURE_KINDS.flatMap((kind) =>
    figures.filter((f) => f.problem === problem.name && f.kind === kind),
  );
  const figureBlock = mine.length
    ? `<div class="figures">\n${mine.map((f, i) => figureHtml(f, firstIndex + i, pngDir)).join("\n")}\n</div>`
    : `<p class="warning">No figures for this problem (see the note at the top).</p>`;
  const facts = [
    problem.targetLoss !== null ? `target loss ${formatShort(problem.targetLoss)}` : "no target",
    problem.optimalValue !== null ? `f* = ${formatShort(problem.optimalValue)}` : "f* unknown",
    `${runs.length} run${runs.length === 1 ? "" : "s"}`,
  ];
  const messages = pairs
    .filter((p) => p.message !== undefined)
    .map(
      (p) =>
        `<li><strong>${escapeXml(p.optimizer)}</strong> (${escapeXml(p.status)}): <code>${escapeXml(p.message ?? "")}</code></li>`,
    );
  const diverging = pairs.filter((p) => p.status === "ok" && p.sweep.some((s) => s.diverged > 0));
  const divergedMessages = diverging.map((p) => {
    const run = runs.find((r) => r.optimizer === p.optimizer && r.status === "diverged");
    return `<li><strong>${escapeXml(p.optimizer)}</strong> diverged at some rates, e.g. lr ${escapeXml(formatRate(run?.learningRate ?? Number.NaN))}: <code>${escapeXml(run?.message ?? "")}</code></li>`;
  });
  const allMessages = [...messages, ...divergedMessages];
  return `<section id="problem-${escapeXml(problem.name)}">
<h2>${escapeXml(problem.name)}</h2>
<p class="description">${escapeXml(problem.description)}. ${escapeXml(facts.join(", "))}.</p>
${figureBlock}
<h3>Best setting per optimizer</h3>
${pairTable(pairs, false)}
<h3>Learning-rate sweep (score per rate; bold: chosen)</h3>
${sweepTable(pairs)}
${allMessages.length ? `<ul class="messages">\n${allMessages.join("\n")}\n</ul>` : ""}
</section>`;
}

function metaBlock(results: BenchResults, notes: readonly string[]): string {
  const { options, environment: env, runs } = results;
  const counts = new Map<string, number>();
  for (const r of runs) counts.set(r.status, (counts.get(r.status) ?? 0) + 1);
  const statusText = [...counts].map(([status, n]) => `${n} ${status}`).join(", ") || "none";
  const rows: [string, string][] = [
    ["started", results.startedAt],
    ["wall time", formatDuration(results.wallMs)],
    ["suite", options.suite],
    ["runs", `${runs.length} of ${results.plannedRuns} (${statusText})`],
    ["optimizers", options.optimizers.join(", ")],
    ["problems", options.problems.join(", ")],
    ["steps", options.steps === null ? "each problem's own" : String(options.steps)],
    ["learning rates", `tuned rate ${options.grid.map(formatFactor).join(", ")}`],
    ["seeds", options.seeds.join(", ")],
    ["best setting", results.criterion],
    ["Node.js", env.node],
    ["platform", `${env.platform} ${env.arch}, ${env.cpus} × ${env.cpuModel}`],
    ["descend", env.descend],
  ];
  const dl = rows.map(([k, v]) => `<dt>${escapeXml(k)}</dt><dd>${escapeXml(v)}</dd>`).join("\n");
  const warnings = [
    results.complete
      ? ""
      : `<p class="warning">This benchmark did not finish: ${runs.length} of ${results.plannedRuns} runs are recorded.</p>`,
    ...notes.map((n) => `<p class="warning">${escapeXml(n)}</p>`),
  ].join("");
  return `<div class="meta">${warnings}<dl>\n${dl}\n</dl></div>`;
}

/** The report page for `results`, with the figures given in `options`. */
export function renderHtml(results: BenchResults, options: HtmlOptions = {}): string {
  const figures = options.figures ?? [];
  const notes = [...(options.figureErrors ?? [])].map((e) => `Figures: ${e}`);
  if (!options.figures) notes.push("Figures were not rendered for this page.");
  const problems = results.problems.filter((p) => results.runs.some((r) => r.problem === p.name));
  let index = 0;
  const sections = problems.map((problem) => {
    const section = problemSection(results, problem, figures, index, options.pngDir);
    index += FIGURE_KINDS.length;
    return section;
  });
  const calls = results.summary.some((p) => p.calls !== null)
    ? ""
    : "<p>Oracle calls were not recorded in this file.</p>";
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
${metaBlock(results, notes)}
<section id="summary">
<h2>Summary</h2>
<p class="description">Per optimizer and problem: the learning rate chosen by the sweep, and over the seeds of that rate the final loss (mean ± sample standard deviation), steps to the target (mean over the seeds that reached it), time of the steps per run and oracle calls per run.</p>
${pairTable(results.summary, true)}
${calls}
</section>
${sections.join("\n")}
<footer>
<p>Best setting: ${escapeXml(CRITERION)}. Ties go to the rate closest to the tuned one.</p>
<p>Loss curves: f(θ_k) after k steps, the starting point at step 0, on the minibatch of step k for stochastic problems. Bands span the lowest to the highest seed. Wall time counts the optimizer steps and their oracle calls, not the benchmark's own evaluations. Oracle calls are those the optimizer made, counted per oracle (values, gradients, Hessian-vector and Jacobian-vector products, gradients on sampled labels); the loss at the final point, validation losses and accuracies are evaluated on the side and not counted.</p>
<p>A rate marked "lowest tried" or "highest tried" sits at the edge of the grid: a wider grid may find a better one.</p>
</footer>
</main>
</body>
</html>
`;
}
