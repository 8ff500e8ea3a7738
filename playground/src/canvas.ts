/** Canvas plumbing shared by the plots: sharp drawing on high-density screens, axes, colours. */
import { niceTicks } from "./contours.js";

/** A plot area inside a canvas, in CSS pixels, mapping data coordinates to the canvas. */
export interface Frame {
  /** Left edge of the plot area. */
  left: number;
  /** Top edge of the plot area. */
  top: number;
  /** Width of the plot area. */
  width: number;
  /** Height of the plot area. */
  height: number;
  /** Data range shown along x. */
  x: [number, number];
  /** Data range shown along y (bottom to top). */
  y: [number, number];
}

/** Canvas x of data x. */
export function toCanvasX(frame: Frame, x: number): number {
  return frame.left + ((x - frame.x[0]) / (frame.x[1] - frame.x[0])) * frame.width;
}

/** Canvas y of data y (data y grows upwards). */
export function toCanvasY(frame: Frame, y: number): number {
  return frame.top + (1 - (y - frame.y[0]) / (frame.y[1] - frame.y[0])) * frame.height;
}

/**
 * Sizes the canvas backing store to its CSS size times the device pixel ratio and returns a
 * context that draws in CSS pixels, so lines stay sharp on high-density screens.
 */
export function prepareCanvas(canvas: HTMLCanvasElement): {
  ctx: CanvasRenderingContext2D;
  width: number;
  height: number;
} {
  const ratio = window.devicePixelRatio || 1;
  const width = canvas.clientWidth || canvas.width;
  const height = canvas.clientHeight || canvas.height;
  const pixelWidth = Math.round(width * ratio);
  const pixelHeight = Math.round(height * ratio);
  if (canvas.width !== pixelWidth || canvas.height !== pixelHeight) {
    canvas.width = pixelWidth;
    canvas.height = pixelHeight;
  }
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("this browser cannot draw on a 2-D canvas");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  return { ctx, width, height };
}

/** Text colour of axes and labels. */
export const INK = "#1d2733";
/** Colour of grid lines and frames. */
export const RULE = "#c9d1db";
/** Font of tick labels. */
export const TICK_FONT = "11px system-ui, -apple-system, 'Segoe UI', sans-serif";

/** Formats a tick value compactly: 0.5, 2, 1e-3, 1e+4. */
export function formatTick(value: number): string {
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  if (magnitude >= 1e4 || magnitude < 1e-2) {
    return value.toExponential(0).replace("e+", "e");
  }
  return String(Number(value.toPrecision(3)));
}

/** Options of {@link drawAxes}. */
export interface AxesOptions {
  /** Label under the x axis. */
  xLabel?: string;
  /** Label left of the y axis. */
  yLabel?: string;
  /** Tick positions on y when they are not evenly spaced data values (e.g. powers of 10). */
  yTicks?: { at: number; label: string }[];
  /** Draw light grid lines across the plot area at each tick. */
  grid?: boolean;
}

/** Draws the frame, ticks, tick labels and axis labels around `frame`. */
export function drawAxes(ctx: CanvasRenderingContext2D, frame: Frame, options: AxesOptions = {}) {
  ctx.save();
  ctx.font = TICK_FONT;
  ctx.fillStyle = INK;
  ctx.strokeStyle = RULE;
  ctx.lineWidth = 1;
  const bottom = frame.top + frame.height;
  const xTicks = niceTicks(frame.x[0], frame.x[1], Math.max(2, Math.floor(frame.width / 70)));
  const yTicks =
    options.yTicks ??
    niceTicks(frame.y[0], frame.y[1], Math.max(2, Math.floor(frame.height / 45))).map((at) => ({
      at,
      label: formatTick(at),
    }));
  ctx.textAlign = "center";
  ctx.textBaseline = "top";
  for (const t of xTicks) {
    const cx = Math.round(toCanvasX(frame, t)) + 0.5;
    if (options.grid) line(ctx, cx, frame.top, cx, bottom);
    line(ctx, cx, bottom, cx, bottom + 4);
    ctx.fillText(formatTick(t), cx, bottom + 6);
  }
  ctx.textAlign = "right";
  ctx.textBaseline = "middle";
  for (const t of yTicks) {
    const cy = Math.round(toCanvasY(frame, t.at)) + 0.5;
    if (options.grid) line(ctx, frame.left, cy, frame.left + frame.width, cy);
    line(ctx, frame.left - 4, cy, frame.left, cy);
    ctx.fillText(t.label, frame.left - 6, cy);
  }
  ctx.strokeStyle = "#8795a6";
  ctx.strokeRect(frame.left + 0.5, frame.top + 0.5, frame.width - 1, frame.height - 1);
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
  if (options.xLabel) {
    ctx.textAlign = "center";
    ctx.textBaseline = "bottom";
    ctx.fillText(options.xLabel, frame.left + frame.width / 2, frame.top + frame.height + 36);
  }
  if (options.yLabel) {
    ctx.translate(14, frame.top + frame.height / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    ctx.fillText(options.yLabel, 0, 0);
  }
  ctx.restore();
}

function line(ctx: CanvasRenderingContext2D, x1: number, y1: number, x2: number, y2: number) {
  ctx.beginPath();
  ctx.moveTo(x1, y1);
  ctx.lineTo(x2, y2);
  ctx.stroke();
}

/** One entry of a legend: a colour and its label. */
export interface LegendEntry {
  /** Line colour. */
  color: string;
  /** Text. */
  label: string;
}

/**
 * Draws a legend box in the corner of `frame` that hides the fewest of `points` (canvas x, y
 * pairs of what the plot shows), preferring the top right.
 */
export function drawLegend(
  ctx: CanvasRenderingContext2D,
  frame: Frame,
  entries: LegendEntry[],
  points: readonly number[] = [],
) {
  if (entries.length === 0) return;
  ctx.save();
  ctx.font = "12px system-ui, -apple-system, 'Segoe UI', sans-serif";
  const rowHeight = 17;
  const textWidth = Math.max(...entries.map((e) => ctx.measureText(e.label).width));
  const width = textWidth + 40;
  const height = entries.length * rowHeight + 10;
  const right = frame.left + frame.width - width - 8;
  const bottom = frame.top + frame.height - height - 8;
  const corners: [number, number][] = [
    [right, frame.top + 8],
    [frame.left + 8, frame.top + 8],
    [right, bottom],
    [frame.left + 8, bottom],
  ];
  let best = corners[0];
  let fewest = Infinity;
  for (const corner of corners) {
    let hidden = 0;
    for (let k = 0; k < points.length; k += 2) {
      const dx = points[k] - corner[0];
      const dy = points[k + 1] - corner[1];
      if (dx >= 0 && dx <= width && dy >= 0 && dy <= height) hidden++;
    }
    if (hidden < fewest) {
      fewest = hidden;
      best = corner;
    }
  }
  const [left, top] = best;
  ctx.fillStyle = "rgba(255, 255, 255, 0.88)";
  ctx.strokeStyle = "#b7c1cd";
  ctx.beginPath();
  ctx.roundRect(left + 0.5, top + 0.5, width, height, 4);
  ctx.fill();
  ctx.stroke();
  ctx.textAlign = "left";
  ctx.textBaseline = "middle";
  entries.forEach((entry, k) => {
    const cy = top + 5 + rowHeight * k + rowHeight / 2;
    ctx.strokeStyle = entry.color;
    ctx.lineWidth = 3;
    line(ctx, left + 8, cy, left + 26, cy);
    ctx.fillStyle = INK;
    ctx.fillText(entry.label, left + 32, cy);
  });
  ctx.restore();
}
