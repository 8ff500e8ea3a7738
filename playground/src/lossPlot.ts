/**
 * Loss curves: one line per optimizer against the step count, on a log scale when every value
 * is positive (a linear one otherwise, e.g. a function unbounded below).
 */
import type { Frame } from "./canvas.js";
import { drawAxes, drawLegend, prepareCanvas, toCanvasX, toCanvasY } from "./canvas.js";

/** One curve. */
export interface Curve {
  /** Line colour. */
  color: string;
  /** Legend text. */
  label: string;
  /** Loss at step 0, 1, 2, … */
  losses: readonly number[];
}

/** Options of {@link drawLossPlot}. */
export interface LossPlotOptions {
  /** The x axis spans at least this many steps, so curves grow into a fixed frame. */
  steps: number;
  /** Label of the y axis. */
  yLabel: string;
  /** Text shown in the empty frame before any curve has points. */
  placeholder: string;
}

/** The lowest value a log axis shows, relative to the highest: twelve decades. */
const LOG_RANGE = 1e-12;

/** Draws `curves` on `canvas`, replacing what was there. */
export function drawLossPlot(
  canvas: HTMLCanvasElement,
  curves: readonly Curve[],
  options: LossPlotOptions,
): void {
  const { ctx, width, height } = prepareCanvas(canvas);
  ctx.clearRect(0, 0, width, height);
  let lo = Infinity;
  let hi = -Infinity;
  let longest = 0;
  for (const curve of curves) {
    longest = Math.max(longest, curve.losses.length);
    for (const v of curve.losses) {
      if (!Number.isFinite(v)) continue;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
    }
  }
  const frame: Frame = {
    left: 58,
    top: 10,
    width: width - 70,
    height: height - 52,
    x: [0, Math.max(options.steps, longest - 1, 1)],
    y: [0, 1],
  };
  if (!(hi >= lo)) {
    drawAxes(ctx, frame, { xLabel: "step", yLabel: options.yLabel, grid: true });
    ctx.save();
    ctx.fillStyle = "#6b7785";
    ctx.font = "13px system-ui, -apple-system, 'Segoe UI', sans-serif";
    ctx.textAlign = "center";
    ctx.fillText(options.placeholder, frame.left + frame.width / 2, frame.top + frame.height / 2);
    ctx.restore();
    return;
  }
  const log = lo > 0;
  let transform: (v: number) => number;
  let yTicks: { at: number; label: string }[] | undefined;
  if (log) {
    const bottom = Math.floor(Math.log10(Math.max(lo, hi * LOG_RANGE)));
    const top = Math.max(Math.ceil(Math.log10(hi)), bottom + 1);
    frame.y = [bottom, top];
    transform = (v) => Math.log10(Math.max(v, 10 ** bottom));
    const stride = Math.max(1, Math.ceil((top - bottom) / 6));
    yTicks = [];
    for (let e = bottom; e <= top; e += stride) {
      yTicks.push({ at: e, label: e === 0 ? "1" : e === 1 ? "10" : `1e${e}` });
    }
  } else {
    const pad = hi > lo ? (hi - lo) * 0.05 : Math.max(Math.abs(hi) * 0.05, 1);
    frame.y = [lo - pad, hi + pad];
    transform = (v) => v;
  }
  drawAxes(ctx, frame, { xLabel: "step", yLabel: options.yLabel, yTicks, grid: true });
  ctx.save();
  ctx.beginPath();
  ctx.rect(frame.left, frame.top, frame.width, frame.height);
  ctx.clip();
  ctx.lineJoin = "round";
  ctx.lineWidth = 2;
  const shown: number[] = [];
  for (const curve of curves) {
    ctx.strokeStyle = curve.color;
    ctx.beginPath();
    let drawing = false;
    curve.losses.forEach((v, step) => {
      if (!Number.isFinite(v)) {
        drawing = false;
        return;
      }
      const x = toCanvasX(frame, step);
      const y = toCanvasY(frame, transform(v));
      if (drawing) ctx.lineTo(x, y);
      else ctx.moveTo(x, y);
      drawing = true;
      shown.push(x, y);
    });
    ctx.stroke();
  }
  ctx.restore();
  drawLegend(
    ctx,
    frame,
    curves.map((c) => {
      const last = c.losses[c.losses.length - 1];
      const value = last === undefined ? "" : `  ${formatLoss(last)}`;
      return { color: c.color, label: `${c.label}${value}` };
    }),
    shown,
  );
}

/** A loss for tables and legends: four significant digits, exponent form when tiny or huge. */
export function formatLoss(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (value === 0) return "0";
  const magnitude = Math.abs(value);
  return magnitude < 1e-3 || magnitude >= 1e5 ? value.toExponential(3) : value.toPrecision(4);
}
