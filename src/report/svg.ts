/**
 * Line plots as self-contained SVG markup (no scripts, fonts or links), for loss curves: y on a
 * logarithmic or linear axis, x the step, one line per series, ticks, axis labels, a legend
 * beside the plot and an optional dashed reference line (the target loss).
 *
 * Non-finite values break a line, and a line that ends in one gets a marker at its last finite
 * point. Values above the plotted range leave the plot through its top edge (the range is capped
 * near the curves' starting values, so one diverging run does not flatten the others).
 */

/** Escapes text for use in XML and HTML content and attribute values. */
export function escapeXml(text: string): string {
  return text
    .replace(/&/g, "&amp;")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;")
    .replace(/'/g, "&#39;");
}

/** One line of a plot. */
export interface PlotSeries {
  /** Legend text. */
  readonly label: string;
  /** `values[i]` is plotted at x = i. */
  readonly values: readonly number[];
  /** Hover text of the line (defaults to the label). */
  readonly tooltip?: string;
}

/** A horizontal dashed line, e.g. the target loss. */
export interface ReferenceLine {
  /** Its y value. */
  readonly value: number;
  /** Text next to it. */
  readonly label: string;
}

/** Options of {@link linePlot}. */
export interface LinePlotOptions {
  /** Prefix of ids inside the SVG; must be unique within the page. */
  readonly id: string;
  /** Heading drawn above the plot. */
  readonly title?: string;
  /** Label under the x axis (default `"step"`). */
  readonly xLabel?: string;
  /** Label beside the y axis (default `"loss"`). */
  readonly yLabel?: string;
  /** Logarithmic y axis (default true). */
  readonly logY?: boolean;
  /** Total width in pixels (default 760). */
  readonly width?: number;
  /** Total height in pixels (default 380). */
  readonly height?: number;
  /** Optional dashed horizontal line. */
  readonly reference?: ReferenceLine;
}

/** Line colors (Tableau 10), cycled with dash patterns beyond ten series. */
export const PALETTE: readonly string[] = [
  "#4e79a7",
  "#f28e2b",
  "#e15759",
  "#76b7b2",
  "#59a14f",
  "#edc948",
  "#b07aa1",
  "#ff9da7",
  "#9c755f",
  "#bab0ac",
];

const DASHES = ["", "7 4", "2 3", "10 3 2 3"];

/** Color and dash pattern of the i-th series. */
export function seriesStyle(i: number): { color: string; dash: string } {
  return {
    color: PALETTE[i % PALETTE.length],
    dash: DASHES[Math.floor(i / PALETTE.length) % DASHES.length],
  };
}

/** Ticks of a linear axis over [min, max]: multiples of 1, 2 or 5 × 10^k, about `target` of them. */
export function linearTicks(min: number, max: number, target = 6): number[] {
  if (!(max > min)) return [min];
  const raw = (max - min) / target;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  const step =
    [1, 2, 5, 10].map((m) => m * magnitude).find((s) => (max - min) / s <= target) ??
    10 * magnitude;
  const ticks: number[] = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) {
    ticks.push(Math.abs(v) < step * 1e-9 ? 0 : v);
  }
  return ticks;
}

/** Decimal exponents of the decade ticks of a log axis over [10^lo, 10^hi], at most `target`. */
export function decadeTicks(lo: number, hi: number, target = 8): number[] {
  const step = Math.max(1, Math.ceil((hi - lo) / target));
  const ticks: number[] = [];
  for (let e = Math.ceil(lo / step) * step; e <= hi; e += step) ticks.push(e);
  return ticks;
}

function formatTick(value: number): string {
  if (value === 0) return "0";
  const abs = Math.abs(value);
  if (abs >= 1e5 || abs < 1e-3) return value.toExponential(0).replace("e+", "e");
  return String(Number(value.toPrecision(6)));
}

function round(value: number): string {
  return (Math.round(value * 10) / 10).toString();
}

/** The largest finite value in `values` and the first finite one, and the smallest positive one. */
function scan(values: readonly number[]): { first: number; max: number; minPositive: number } {
  let first = Number.NaN;
  let max = Number.NEGATIVE_INFINITY;
  let minPositive = Number.POSITIVE_INFINITY;
  for (const v of values) {
    if (!Number.isFinite(v)) continue;
    if (Number.isNaN(first)) first = v;
    if (v > max) max = v;
    if (v > 0 && v < minPositive) minPositive = v;
  }
  return { first, max, minPositive };
}

interface Point {
  readonly x: number;
  readonly y: number;
}

/**
 * Keeps at most about `2·buckets` points of a long curve: per bucket of consecutive indices its
 * smallest and largest value in index order, so oscillations keep their envelope. Non-finite
 * values are kept as breaks.
 */
function decimate(values: readonly number[], buckets: number): { index: number; value: number }[] {
  const out: { index: number; value: number }[] = [];
  if (values.length <= 2 * buckets) {
    values.forEach((value, index) => out.push({ index, value }));
    return out;
  }
  const size = values.length / buckets;
  for (let b = 0; b < buckets; b++) {
    const start = Math.floor(b * size);
    const end = Math.min(values.length, Math.floor((b + 1) * size));
    let lo = -1;
    let hi = -1;
    for (let i = start; i < end; i++) {
      const v = values[i];
      if (!Number.isFinite(v)) {
        if (lo >= 0) out.push(...[lo, hi].sort((a, c) => a - c).map(pick));
        out.push({ index: i, value: v });
        lo = hi = -1;
        continue;
      }
      if (lo < 0 || v < values[lo]) lo = i;
      if (hi < 0 || v > values[hi]) hi = i;
    }
    if (lo >= 0) {
      const keep = lo === hi ? [lo] : [lo, hi].sort((a, c) => a - c);
      out.push(...keep.map(pick));
    }
  }
  // The last point is where the run ended; keep it exactly.
  const last = values.length - 1;
  if (out[out.length - 1].index !== last) out.push(pick(last));
  return out;

  function pick(index: number): { index: number; value: number } {
    return { index, value: values[index] };
  }
}

/** An SVG line plot of `series` (see the module comment for how edge cases are drawn). */
export function linePlot(series: readonly PlotSeries[], options: LinePlotOptions): string {
  const logY = options.logY ?? true;
  const id = options.id.replace(/[^A-Za-z0-9_-]/g, "_");
  const legendWidth = 170;
  const legendRow = 18;
  const margin = { left: 64, right: legendWidth + 16, top: options.title ? 34 : 14, bottom: 46 };
  const width = options.width ?? 760;
  // Tall enough for one legend row per series.
  const height = Math.max(
    options.height ?? 380,
    margin.top + margin.bottom + 16 + series.length * legendRow,
  );
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const left = margin.left;
  const top = margin.top;
  const right = left + plotWidth;
  const bottom = top + plotHeight;

  // y range: every finite value (positive ones on a log axis), capped near the starting values.
  let yMin = Number.POSITIVE_INFINITY;
  let yMax = Number.NEGATIVE_INFINITY;
  let firstMax = Number.NEGATIVE_INFINITY;
  let xMax = 1;
  for (const s of series) {
    const { first, max, minPositive } = scan(s.values);
    xMax = Math.max(xMax, s.values.length - 1);
    if (Number.isNaN(first)) continue;
    firstMax = Math.max(firstMax, first);
    yMax = Math.max(yMax, max);
    if (logY) yMin = Math.min(yMin, minPositive);
    else for (const v of s.values) if (Number.isFinite(v)) yMin = Math.min(yMin, v);
  }
  const reference = options.reference;
  if (reference && Number.isFinite(reference.value) && (!logY || reference.value > 0)) {
    yMin = Math.min(yMin, reference.value);
    yMax = Math.max(yMax, reference.value);
  }
  const hasData = Number.isFinite(yMin) && Number.isFinite(yMax);
  if (hasData && Number.isFinite(firstMax)) {
    const cap = logY ? Math.abs(firstMax) * 100 : firstMax + 2 * Math.abs(firstMax - yMin);
    if (cap > yMin) yMax = Math.min(yMax, cap);
  }

  let toY: (v: number) => number;
  let yTicks: { value: number; label: string; minor?: boolean }[] = [];
  if (!hasData) {
    toY = () => bottom;
  } else if (logY) {
    let lo = Math.floor(Math.log10(yMin));
    let hi = Math.ceil(Math.log10(yMax));
    if (hi <= lo) hi = lo + 1;
    lo = Math.max(lo, -320);
    const span = hi - lo;
    toY = (v) => bottom - ((Math.log10(v) - lo) / span) * plotHeight;
    yTicks = decadeTicks(lo, hi).map((e) => ({ value: 10 ** e, label: String(e) }));
    if (span <= 4) {
      for (let e = lo; e < hi; e++) {
        for (let m = 2; m <= 9; m++) yTicks.push({ value: m * 10 ** e, label: "", minor: true });
      }
    }
  } else {
    const ticks = linearTicks(yMin, yMax);
    const lo = Math.min(yMin, ticks[0]);
    const hi = Math.max(yMax, ticks[ticks.length - 1], lo + 1e-12);
    toY = (v) => bottom - ((v - lo) / (hi - lo)) * plotHeight;
    yTicks = ticks.map((value) => ({ value, label: formatTick(value) }));
  }
  const toX = (i: number): number => left + (i / xMax) * plotWidth;
  // Points far outside the plot are pulled in to a finite distance; the clip path hides them.
  const clampY = (y: number): number => Math.min(bottom + 50, Math.max(top - 50, y));
  const yOf = (v: number): number => {
    if (logY && v <= 0) return bottom + 50;
    return clampY(toY(v));
  };

  const parts: string[] = [];
  parts.push(
    `<svg class="plot" role="img" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif" font-size="12">`,
  );
  if (options.title) parts.push(`<title>${escapeXml(options.title)}</title>`);
  parts.push(
    `<defs><clipPath id="${id}-clip"><rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}"/></clipPath></defs>`,
  );
  parts.push(`<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>`);
  if (options.title) {
    parts.push(
      `<text x="${left}" y="${top - 14}" font-size="14" font-weight="600" fill="#222">${escapeXml(options.title)}</text>`,
    );
  }

  // Grid and y ticks.
  for (const tick of yTicks) {
    const y = toY(tick.value);
    if (y < top - 0.5 || y > bottom + 0.5) continue;
    parts.push(
      `<line x1="${left}" x2="${right}" y1="${round(y)}" y2="${round(y)}" stroke="${tick.minor ? "#f3f3f3" : "#e2e2e2"}"/>`,
    );
    if (tick.minor) continue;
    parts.push(
      `<line x1="${left - 5}" x2="${left}" y1="${round(y)}" y2="${round(y)}" stroke="#444"/>`,
    );
    const label = logY
      ? `10<tspan dy="-6" font-size="9">${escapeXml(tick.label.replace("-", "−"))}</tspan>`
      : escapeXml(tick.label);
    parts.push(
      `<text x="${left - 8}" y="${round(y + 4)}" text-anchor="end" fill="#333">${label}</text>`,
    );
  }
  for (const value of linearTicks(0, xMax)) {
    if (!Number.isInteger(value)) continue;
    const x = toX(value);
    parts.push(
      `<line x1="${round(x)}" x2="${round(x)}" y1="${top}" y2="${bottom}" stroke="#eeeeee"/>`,
    );
    parts.push(
      `<line x1="${round(x)}" x2="${round(x)}" y1="${bottom}" y2="${bottom + 5}" stroke="#444"/>`,
    );
    parts.push(
      `<text x="${round(x)}" y="${bottom + 18}" text-anchor="middle" fill="#333">${escapeXml(formatTick(value))}</text>`,
    );
  }
  parts.push(
    `<rect x="${left}" y="${top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#444"/>`,
  );
  parts.push(
    `<text x="${round(left + plotWidth / 2)}" y="${height - 8}" text-anchor="middle" fill="#222">${escapeXml(options.xLabel ?? "step")}</text>`,
  );
  const yLabel = `${options.yLabel ?? "loss"}${logY ? " (log scale)" : ""}`;
  parts.push(
    `<text transform="translate(16 ${round(top + plotHeight / 2)}) rotate(-90)" text-anchor="middle" fill="#222">${escapeXml(yLabel)}</text>`,
  );

  if (reference && hasData && Number.isFinite(reference.value) && (!logY || reference.value > 0)) {
    const y = round(toY(reference.value));
    parts.push(
      `<line class="reference" x1="${left}" x2="${right}" y1="${y}" y2="${y}" stroke="#666" stroke-dasharray="5 4"/>`,
    );
    parts.push(
      `<text x="${right - 4}" y="${round(toY(reference.value) - 5)}" text-anchor="end" font-size="11" fill="#555">${escapeXml(reference.label)}</text>`,
    );
  }

  // The lines.
  const buckets = Math.max(1, Math.round(plotWidth));
  parts.push(
    `<g clip-path="url(#${id}-clip)" fill="none" stroke-width="1.6" stroke-linejoin="round">`,
  );
  const markers: string[] = [];
  series.forEach((s, i) => {
    const { color, dash } = seriesStyle(i);
    const commands: string[] = [];
    let pen = false;
    let last: Point | undefined;
    for (const { index, value } of decimate(s.values, buckets)) {
      if (!Number.isFinite(value)) {
        pen = false;
        continue;
      }
      const x = toX(index);
      const y = yOf(value);
      commands.push(`${pen ? "L" : "M"}${round(x)} ${round(y)}`);
      pen = true;
      last = { x, y };
    }
    if (commands.length === 0) return;
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : "";
    parts.push(
      `<path d="${commands.join("")}" stroke="${color}"${dashAttr}><title>${escapeXml(s.tooltip ?? s.label)}</title></path>`,
    );
    const end = s.values[s.values.length - 1];
    if (last && !Number.isFinite(end)) {
      markers.push(
        `<circle cx="${round(last.x)}" cy="${round(last.y)}" r="3.5" fill="${color}" stroke="#fff"><title>${escapeXml(`${s.label}: loss became ${end}`)}</title></circle>`,
      );
    }
  });
  parts.push(...markers, "</g>");
  if (!hasData) {
    parts.push(
      `<text x="${round(left + plotWidth / 2)}" y="${round(top + plotHeight / 2)}" text-anchor="middle" fill="#888">no finite values to plot</text>`,
    );
  }

  // Legend, beside the plot so it never hides a line.
  const legendX = right + 16;
  series.forEach((s, i) => {
    const { color, dash } = seriesStyle(i);
    const y = top + 8 + i * legendRow;
    const dashAttr = dash ? ` stroke-dasharray="${dash}"` : "";
    const empty = !s.values.some((v) => Number.isFinite(v));
    parts.push(
      `<line x1="${legendX}" x2="${legendX + 22}" y1="${y}" y2="${y}" stroke="${color}" stroke-width="2.5"${dashAttr}/>`,
    );
    parts.push(
      `<text x="${legendX + 28}" y="${y + 4}" fill="${empty ? "#999" : "#222"}">${escapeXml(s.label)}${empty ? " (no data)" : ""}</text>`,
    );
  });
  parts.push("</svg>");
  return parts.join("\n");
}
