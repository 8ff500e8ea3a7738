/**
 * The report's figures, drawn with Vega-Lite (Satyanarayan, Moritz, Wongsuphasawat & Heer,
 * "Vega-Lite: A Grammar of Interactive Graphics", IEEE TVCG 2017) and rendered to SVG by Vega
 * without a browser, then to PNG by resvg. Per problem, four figures:
 *
 * - `steps`: loss against optimizer steps;
 * - `time`: loss against the wall time of the steps;
 * - `calls`: loss against oracle calls (every call of value, gradient, HVP or JVP counts one);
 * - `sweep`: the learning-rate sweep, the score of every rate tried.
 *
 * The first three draw, per optimizer at its chosen learning rate, the mean over the seeds as a
 * line and the range from the lowest to the highest seed as a band, on a log scale. Where the
 * problem's optimum f* is known and nonzero, they show f − f*. Values that are not positive
 * cannot sit on a log axis and are left out.
 *
 * Building the specifications is pure; rendering loads Vega, Vega-Lite and resvg on demand, so a
 * missing or broken plotting library costs the figures, never the rest of the report.
 */
import type * as Resvg from "@resvg/resvg-js";
import type * as Vega from "vega";
import type * as VegaLite from "vega-lite";
import type { TopLevelSpec } from "vega-lite";
import type { RunResult } from "../bench/run.js";
import type { PairSummary } from "../bench/summary.js";
import { TAIL_FRACTION } from "../bench/summary.js";
import { formatShort } from "../bench/table.js";
import type { BenchResults, ProblemSummary } from "./results.js";

/** What a figure plots. */
export type FigureKind = "steps" | "time" | "calls" | "sweep";

/** Every kind of figure, in report order. */
export const FIGURE_KINDS: readonly FigureKind[] = ["steps", "time", "calls", "sweep"];

/** A figure before rendering. */
export interface FigureSpec {
  /** The problem it belongs to. */
  readonly problem: string;
  /** What it plots. */
  readonly kind: FigureKind;
  /** Its title. */
  readonly title: string;
  /** File name of its PNG inside the report's figure directory. */
  readonly file: string;
  /** The Vega-Lite specification. */
  readonly spec: TopLevelSpec;
}

/** A rendered figure. */
export interface RenderedFigure extends FigureSpec {
  /** The SVG document. */
  readonly svg: string;
  /** The PNG image (twice the SVG's size), when it was rendered. */
  readonly png?: Uint8Array;
}

/** Font families, in order of preference: those resvg finds on most systems first. */
export const FONT_STACK = "DejaVu Sans, Liberation Sans, Arial, Helvetica, sans-serif";

/** Width and height of a figure's plotting area, in pixels. */
const WIDTH = 420;
const HEIGHT = 250;

/** Largest number of points per curve (longer curves are thinned evenly, ends kept). */
const MAX_POINTS = 400;

const AXIS_LABELS =
  "datum.value >= 0.001 && datum.value < 10000 ? format(datum.value, '~g') : format(datum.value, '.0e')";

/** A file name for `problem`'s figure of `kind`: lower-case letters, digits and dashes. */
export function figureFileName(problem: string, kind: FigureKind): string {
  const slug =
    problem
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, "-")
      .replace(/^-|-$/g, "") || "problem";
  return `${slug}-${kind}.png`;
}

/** A plotted value, or null when it cannot sit on a log axis. */
function positive(value: number): number | null {
  return Number.isFinite(value) && value > 0 ? value : null;
}

/** Indices 0 … length − 1 thinned to at most {@link MAX_POINTS}, first and last kept. */
function sampleIndices(length: number): number[] {
  if (length <= MAX_POINTS) return Array.from({ length }, (_, i) => i);
  const stride = Math.ceil(length / MAX_POINTS);
  const out: number[] = [];
  for (let i = 0; i < length; i += stride) out.push(i);
  if (out[out.length - 1] !== length - 1) out.push(length - 1);
  return out;
}

/** One plotted point of a curve. */
interface CurvePoint {
  optimizer: string;
  x: number;
  mean: number | null;
  lo: number | null;
  hi: number | null;
}

/** Mean, lowest and highest of the finite values, shifted by f*; null where none is usable. */
function band(values: readonly number[], shift: number): Omit<CurvePoint, "optimizer" | "x"> {
  const finite = values.filter(Number.isFinite);
  if (finite.length === 0) return { mean: null, lo: null, hi: null };
  const mean = finite.reduce((s, v) => s + v, 0) / finite.length;
  return {
    mean: positive(mean - shift),
    lo: positive(Math.min(...finite) - shift),
    hi: positive(Math.max(...finite) - shift),
  };
}

/** The runs of the chosen setting of each pair of `problem` that has one, in optimizer order. */
function chosenRuns(
  results: BenchResults,
  problem: string,
): { pair: PairSummary; runs: RunResult[] }[] {
  return results.summary
    .filter((pair) => pair.problem === problem && pair.learningRate !== null)
    .map((pair) => ({
      pair,
      runs: results.runs.filter(
        (r) =>
          r.problem === problem &&
          r.optimizer === pair.optimizer &&
          r.learningRate === pair.learningRate &&
          r.status === "ok",
      ),
    }))
    .filter(({ runs }) => runs.length > 0);
}

function stepPoints(optimizer: string, runs: readonly RunResult[], shift: number): CurvePoint[] {
  const length = Math.max(...runs.map((r) => r.losses.length));
  return sampleIndices(length).map((k) => ({
    optimizer,
    x: k,
    ...band(
      runs.map((r) => (k < r.losses.length ? r.losses[k] : Number.NaN)),
      shift,
    ),
  }));
}

/** Total oracle calls at each sample of a trace. */
function totalCallsAt(run: RunResult): number[] {
  const trace = run.trace!;
  const totals = new Array<number>(trace.step.length).fill(0);
  for (const column of Object.values(trace.calls)) {
    column.forEach((count, i) => (totals[i] += count));
  }
  return totals;
}

function costPoints(
  optimizer: string,
  runs: readonly RunResult[],
  shift: number,
  cost: (run: RunResult) => readonly number[],
  scale: number,
): CurvePoint[] {
  const traced = runs.filter((r) => r.trace !== null && r.trace.step.length > 0);
  if (traced.length === 0) return [];
  const samples = Math.min(...traced.map((r) => r.trace!.step.length));
  const costs = traced.map(cost);
  const out: CurvePoint[] = [];
  for (const i of sampleIndices(samples)) {
    const x = costs.reduce((s, c) => s + c[i], 0) / costs.length / scale;
    const losses = traced.map((r) => {
      const k = r.trace!.step[i];
      return k < r.losses.length ? r.losses[k] : Number.NaN;
    });
    out.push({ optimizer, x, ...band(losses, shift) });
  }
  return out;
}

/** The part of a specification every figure shares. */
function frame(title: string, subtitle: string | readonly string[]): Partial<TopLevelSpec> {
  return {
    width: WIDTH,
    height: HEIGHT,
    background: "white",
    padding: 8,
    title: {
      text: title,
      subtitle: typeof subtitle === "string" ? subtitle : [...subtitle],
      anchor: "start",
      subtitleColor: "#555",
    },
    config: {
      // No per-mark descriptions for screen readers: they repeat the data and triple the size;
      // the page labels each figure as a whole.
      aria: false,
      font: FONT_STACK,
      view: { stroke: "#ccc" },
      axis: { labelFontSize: 11, titleFontSize: 12, gridColor: "#eee" },
      legend: { labelFontSize: 11, titleFontSize: 12, symbolStrokeWidth: 2.5 },
      title: { fontSize: 14, subtitleFontSize: 11 },
    },
  };
}

function colorScale(optimizers: readonly string[]) {
  // Ten distinct hues while they last; tableau20 pairs each hue with a paler one after that.
  return { domain: [...optimizers], scheme: optimizers.length <= 10 ? "tableau10" : "tableau20" };
}

/** The legend, shared by the layers of a figure (set on the line layer only). */
const LEGEND = {
  title: "optimizer",
  symbolType: "stroke",
  symbolStrokeWidth: 2.5,
  symbolOpacity: 1,
} as const;

/**
 * Axis labels of a log scale: at decades only when the data span two decades or more (the
 * in-between ticks then keep their grid lines), else at every tick.
 */
function logAxis(values: readonly number[]) {
  const finite = values.filter((v) => Number.isFinite(v) && v > 0);
  const span = finite.length ? Math.log10(Math.max(...finite) / Math.min(...finite)) : 0;
  const decadesOnly = "abs(log(datum.value) / LN10 - round(log(datum.value) / LN10)) < 1e-6";
  const label = span >= 2 ? `${decadesOnly} ? (${AXIS_LABELS}) : ''` : AXIS_LABELS;
  return { labelExpr: label };
}

/** A figure with nothing to plot: its frame and a line saying so. */
function emptySpec(title: string, subtitle: string | readonly string[], why: string): TopLevelSpec {
  return {
    ...frame(title, subtitle),
    data: { values: [{ text: why }] },
    mark: { type: "text", fontSize: 13, color: "#777" },
    encoding: { text: { field: "text", type: "nominal" } },
  } as TopLevelSpec;
}

function curveSpec(
  title: string,
  subtitle: readonly string[],
  points: readonly CurvePoint[],
  xTitle: string,
  yTitle: string,
  optimizers: readonly string[],
  reference: { value: number; label: string } | null,
): TopLevelSpec {
  if (!points.some((p) => p.mean !== null)) {
    return emptySpec(title, subtitle, "no positive finite losses to plot");
  }
  const x = { field: "x", type: "quantitative", title: xTitle } as const;
  const y = {
    type: "quantitative",
    title: yTitle,
    scale: { type: "log" },
    axis: logAxis(points.flatMap((p) => [p.lo ?? NaN, p.hi ?? NaN, p.mean ?? NaN])),
  } as const;
  const color = { field: "optimizer", type: "nominal", scale: colorScale(optimizers) } as const;
  const layers: unknown[] = [
    {
      data: { values: points.filter((p) => p.lo !== null && p.hi !== null) },
      // fillOpacity, not opacity: the shared legend would take the band's opacity otherwise.
      mark: { type: "area", fillOpacity: 0.16 },
      encoding: { x, y: { ...y, field: "lo" }, y2: { field: "hi" }, color },
    },
    {
      data: { values: points.filter((p) => p.mean !== null) },
      mark: { type: "line", strokeWidth: 1.8 },
      encoding: { x, y: { ...y, field: "mean" }, color: { ...color, legend: LEGEND } },
    },
  ];
  if (reference && reference.value > 0) {
    layers.push({
      data: { values: [{ y: reference.value, label: reference.label }] },
      layer: [
        {
          mark: { type: "rule", strokeDash: [5, 4], color: "#777" },
          encoding: { y: { ...y, field: "y" } },
        },
        {
          mark: { type: "text", align: "right", baseline: "bottom", dx: -2, dy: -2, color: "#555" },
          encoding: { y: { ...y, field: "y" }, x: { value: WIDTH }, text: { field: "label" } },
        },
      ],
    });
  }
  return { ...frame(title, subtitle), layer: layers } as TopLevelSpec;
}

interface SweepRow {
  optimizer: string;
  learningRate: number;
  y: number;
}

function sweepSpec(
  problem: ProblemSummary,
  pairs: readonly PairSummary[],
  shift: number,
  yTitle: string,
  optimizers: readonly string[],
): TopLevelSpec {
  const title = `${problem.name}: learning-rate sweep`;
  const subtitle = [
    `score: mean over seeds of the loss over the last ${Math.round(100 * TAIL_FRACTION)}% of steps`,
    "large dot: chosen rate; cross at the top: diverged",
  ];
  const finite: SweepRow[] = [];
  const chosen: SweepRow[] = [];
  const diverged: Omit<SweepRow, "y">[] = [];
  for (const pair of pairs) {
    pair.sweep.forEach((point, i) => {
      if (point.score === Number.POSITIVE_INFINITY) {
        diverged.push({ optimizer: pair.optimizer, learningRate: point.learningRate });
        return;
      }
      const y = positive(point.score - shift);
      if (y === null) return;
      const row = { optimizer: pair.optimizer, learningRate: point.learningRate, y };
      finite.push(row);
      if (i === pair.chosen) chosen.push(row);
    });
  }
  if (finite.length === 0 && diverged.length === 0) {
    return emptySpec(title, subtitle, "no learning rate finished");
  }
  const ceiling = finite.length ? 3 * Math.max(...finite.map((r) => r.y)) : 1;
  const rates = [...finite, ...diverged].map((r) => r.learningRate);
  const x = {
    field: "learningRate",
    type: "quantitative",
    title: "learning rate",
    scale: { type: "log" },
    axis: logAxis(rates),
  } as const;
  const y = {
    field: "y",
    type: "quantitative",
    title: yTitle,
    scale: { type: "log" },
    axis: logAxis([...finite.map((r) => r.y), ceiling]),
  } as const;
  const color = { field: "optimizer", type: "nominal", scale: colorScale(optimizers) } as const;
  const layers: unknown[] = [
    {
      data: { values: finite },
      mark: { type: "line", point: { size: 30 }, strokeWidth: 1.5 },
      encoding: { x, y, color: { ...color, legend: LEGEND } },
    },
    {
      data: { values: chosen },
      mark: { type: "point", filled: true, opacity: 1, size: 130, stroke: "#222", strokeWidth: 1 },
      encoding: { x, y, color },
    },
  ];
  if (diverged.length) {
    layers.push({
      data: { values: diverged.map((row) => ({ ...row, y: ceiling })) },
      mark: { type: "point", shape: "cross", filled: true, opacity: 1, size: 110 },
      encoding: { x, y, color },
    });
  }
  return { ...frame(title, subtitle), layer: layers } as TopLevelSpec;
}

/** The four figures of `problem` (in {@link FIGURE_KINDS} order). */
export function problemFigures(results: BenchResults, problem: ProblemSummary): FigureSpec[] {
  const optimizers = results.options.optimizers;
  const optimum = problem.optimalValue;
  const shift = optimum !== null && Number.isFinite(optimum) ? optimum : 0;
  const yTitle = shift === 0 ? "loss" : "loss − f*";
  const shiftNote = shift === 0 ? "" : ` (f* = ${formatShort(Number(shift.toPrecision(6)))})`;
  const chosen = chosenRuns(results, problem.name);
  const seedNote = (() => {
    const counts = [...new Set(chosen.map(({ runs }) => runs.length))].sort((a, b) => a - b);
    if (counts.length === 0) return "no finished runs";
    const n = counts.length === 1 ? String(counts[0]) : `${counts[0]}–${counts[counts.length - 1]}`;
    return n === "1"
      ? "one run per optimizer at its best rate"
      : `mean of ${n} seeds at each optimizer's best rate, band: lowest to highest`;
  })();
  const reference =
    problem.targetLoss !== null
      ? { value: problem.targetLoss - shift, label: `target ${formatShort(problem.targetLoss)}` }
      : null;
  const stepPointsAll = chosen.flatMap(({ pair, runs }) => stepPoints(pair.optimizer, runs, shift));
  const maxMs = Math.max(
    0,
    ...chosen.flatMap(({ runs }) => runs.map((r) => r.trace?.ms.at(-1) ?? 0)),
  );
  const seconds = maxMs >= 2000;
  const timePoints = chosen.flatMap(({ pair, runs }) =>
    costPoints(pair.optimizer, runs, shift, (r) => r.trace!.ms, seconds ? 1000 : 1),
  );
  const callPoints = chosen.flatMap(({ pair, runs }) =>
    costPoints(pair.optimizer, runs, shift, totalCallsAt, 1),
  );
  const name = problem.name;
  const specs: Record<FigureKind, [string, TopLevelSpec]> = {
    steps: [
      `${name}: ${yTitle} vs steps${shiftNote}`,
      curveSpec(
        `${name}: ${yTitle} vs steps${shiftNote}`,
        [seedNote],
        stepPointsAll,
        "step",
        yTitle,
        optimizers,
        reference,
      ),
    ],
    time: [
      `${name}: ${yTitle} vs wall time`,
      curveSpec(
        `${name}: ${yTitle} vs wall time`,
        [seedNote, "time of the optimizer steps with their oracle calls"],
        timePoints,
        seconds ? "wall time (s)" : "wall time (ms)",
        yTitle,
        optimizers,
        reference,
      ),
    ],
    calls: [
      `${name}: ${yTitle} vs oracle calls`,
      curveSpec(
        `${name}: ${yTitle} vs oracle calls`,
        [seedNote, "calls of value, gradient, HVP and JVP, each counting one"],
        callPoints,
        "oracle calls",
        yTitle,
        optimizers,
        reference,
      ),
    ],
    sweep: [
      `${name}: learning-rate sweep`,
      sweepSpec(
        problem,
        results.summary.filter((p) => p.problem === name),
        shift,
        shift === 0 ? "score (loss)" : "score − f*",
        optimizers,
      ),
    ],
  };
  return FIGURE_KINDS.map((kind) => ({
    problem: name,
    kind,
    title: specs[kind][0],
    file: figureFileName(name, kind),
    spec: specs[kind][1],
  }));
}

/** Every figure of the report: four per problem that has runs. */
export function benchFigures(results: BenchResults): FigureSpec[] {
  return results.problems
    .filter((p) => results.runs.some((r) => r.problem === p.name))
    .flatMap((p) => problemFigures(results, p));
}

/** Options of {@link renderFigures}. */
export interface RenderOptions {
  /** Render PNG images too (default true). */
  readonly png?: boolean;
}

/** Rendered figures, or why they could not be rendered. */
export interface RenderOutcome {
  /** The figures that rendered. */
  readonly figures: readonly RenderedFigure[];
  /** Problems met on the way (a library that did not load, a figure that failed). */
  readonly errors: readonly string[];
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * Renders `specs` to SVG (and PNG unless `png` is false). Never throws: a library that fails to
 * load or a figure that fails to render is reported in `errors`, the others still render.
 */
export async function renderFigures(
  specs: readonly FigureSpec[],
  options: RenderOptions = {},
): Promise<RenderOutcome> {
  const errors: string[] = [];
  if (specs.length === 0) return { figures: [], errors };
  let vega: typeof Vega;
  let vegaLite: typeof VegaLite;
  try {
    [vega, vegaLite] = await Promise.all([import("vega"), import("vega-lite")]);
  } catch (error) {
    return { figures: [], errors: [`the plotting library did not load: ${messageOf(error)}`] };
  }
  let resvg: typeof Resvg | undefined;
  if (options.png ?? true) {
    try {
      resvg = await import("@resvg/resvg-js");
    } catch (error) {
      errors.push(`PNG rendering is unavailable: ${messageOf(error)}`);
    }
  }
  const figures: RenderedFigure[] = [];
  for (const figure of specs) {
    try {
      const view = new vega.View(vega.parse(vegaLite.compile(figure.spec).spec), {
        renderer: "none",
      });
      const svg = await view.toSVG();
      view.finalize();
      let png: Uint8Array | undefined;
      if (resvg) {
        try {
          png = new resvg.Resvg(svg, {
            fitTo: { mode: "zoom", value: 2 },
            background: "white",
            font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" },
          })
            .render()
            .asPng();
        } catch (error) {
          errors.push(`${figure.file}: ${messageOf(error)}`);
        }
      }
      figures.push({ ...figure, svg, ...(png ? { png } : {}) });
    } catch (error) {
      errors.push(`${figure.problem} ${figure.kind} figure: ${messageOf(error)}`);
    }
  }
  return { figures, errors };
}
