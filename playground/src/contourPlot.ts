/**
 * The race track: a 2-D test function drawn as shaded level sets, with each optimizer's path
 * as a coloured polyline and a dot at its current point.
 */
import type { Frame, LegendEntry } from "./canvas.js";
import { drawAxes, drawLegend, prepareCanvas, toCanvasX, toCanvasY } from "./canvas.js";
import type { Grid } from "./contours.js";
import { contourLevels, marchingSquares, sampleGrid, valueScale } from "./contours.js";
import type { TestFunction2d } from "./functions.js";

/** What the plot needs to know about one optimizer's run. */
export interface TrackView {
  /** Line colour. */
  color: string;
  /** Legend text. */
  label: string;
  /** Visited points as x0, y0, x1, y1, …; the last pair is the current point. */
  path: readonly number[];
  /** Whether the run stopped because it left the plane or produced a non-finite value. */
  failed: boolean;
}

/** Samples per axis of the function grid (shading and level sets). */
const GRID_SIZE = 241;
/** Number of level sets drawn. */
const LEVELS = 22;

/**
 * Colour stops of the shading, low values first: a light sequential ramp, pale enough that the
 * darker trajectory colours stay readable over it.
 */
const SHADES: readonly [number, number, number][] = [
  [104, 160, 207],
  [162, 202, 230],
  [213, 231, 243],
  [246, 244, 236],
  [250, 225, 191],
  [244, 190, 146],
];

function shade(t: number): [number, number, number] {
  const position = t * (SHADES.length - 1);
  const k = Math.min(SHADES.length - 2, Math.floor(position));
  const f = position - k;
  const [r0, g0, b0] = SHADES[k];
  const [r1, g1, b1] = SHADES[k + 1];
  return [r0 + (r1 - r0) * f, g0 + (g1 - g0) * f, b0 + (b1 - b0) * f];
}

/** Draws a test function and the optimizers' paths on one canvas. */
export class ContourPlot {
  private readonly canvas: HTMLCanvasElement;
  private fn: TestFunction2d | undefined;
  private grid: Grid | undefined;
  private shading: HTMLCanvasElement | undefined;
  private levels: number[][] = [];

  constructor(canvas: HTMLCanvasElement) {
    this.canvas = canvas;
  }

  /** Samples `fn` on the grid and prepares its shading and level sets. */
  setFunction(fn: TestFunction2d): void {
    const objective = fn.objective();
    const point = objective.layout.zeros();
    const grid = sampleGrid(
      (x, y) => {
        point[0] = x;
        point[1] = y;
        const value = objective.value(point);
        // Closed-form test functions answer synchronously, so the grid is sampled in one pass.
        if (typeof value !== "number") throw new Error(`${fn.name}: the plot needs plain values`);
        return value;
      },
      fn.domain.x,
      fn.domain.y,
      GRID_SIZE,
      GRID_SIZE,
    );
    this.fn = fn;
    this.grid = grid;
    this.shading = this.shade(grid, fn.logScale);
    this.levels = contourLevels(grid, LEVELS, fn.logScale).map((level) =>
      marchingSquares(grid, level),
    );
  }

  private shade(grid: Grid, logScale: boolean): HTMLCanvasElement {
    const scale = valueScale(grid, logScale);
    const image = new ImageData(grid.nx, grid.ny);
    for (let j = 0; j < grid.ny; j++) {
      // Image rows run top to bottom, grid rows bottom to top.
      const row = (grid.ny - 1 - j) * grid.nx;
      for (let i = 0; i < grid.nx; i++) {
        const [r, g, b] = shade(scale(grid.values[j * grid.nx + i]));
        const at = (row + i) * 4;
        image.data[at] = r;
        image.data[at + 1] = g;
        image.data[at + 2] = b;
        image.data[at + 3] = 255;
      }
    }
    const canvas = document.createElement("canvas");
    canvas.width = grid.nx;
    canvas.height = grid.ny;
    canvas.getContext("2d")!.putImageData(image, 0, 0);
    return canvas;
  }

  /** Redraws the function, the minima, the start and every track. */
  draw(tracks: readonly TrackView[]): void {
    const { ctx, width, height } = prepareCanvas(this.canvas);
    ctx.clearRect(0, 0, width, height);
    const fn = this.fn;
    if (!fn || !this.grid || !this.shading) return;
    const frame: Frame = {
      left: 46,
      top: 12,
      width: width - 58,
      height: height - 56,
      x: fn.domain.x,
      y: fn.domain.y,
    };
    ctx.save();
    ctx.beginPath();
    ctx.rect(frame.left, frame.top, frame.width, frame.height);
    ctx.clip();
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(this.shading, frame.left, frame.top, frame.width, frame.height);
    this.drawLevels(ctx, frame);
    for (const [x, y] of fn.minima) drawStar(ctx, toCanvasX(frame, x), toCanvasY(frame, y));
    drawStart(ctx, toCanvasX(frame, fn.start[0]), toCanvasY(frame, fn.start[1]));
    for (const track of tracks) drawTrack(ctx, frame, track);
    ctx.restore();
    drawAxes(ctx, frame, { xLabel: "x", yLabel: "y" });
    const legend: LegendEntry[] = tracks.map((t) => ({ color: t.color, label: t.label }));
    const shown = [toCanvasX(frame, fn.start[0]), toCanvasY(frame, fn.start[1])];
    for (const [x, y] of fn.minima) shown.push(toCanvasX(frame, x), toCanvasY(frame, y));
    for (const { path } of tracks) {
      for (let k = 0; k < path.length; k += 2) {
        shown.push(toCanvasX(frame, path[k]), toCanvasY(frame, path[k + 1]));
      }
    }
    drawLegend(ctx, frame, legend, shown);
  }

  private drawLevels(ctx: CanvasRenderingContext2D, frame: Frame): void {
    ctx.lineWidth = 0.8;
    ctx.strokeStyle = "rgba(48, 72, 102, 0.45)";
    ctx.beginPath();
    for (const segments of this.levels) {
      for (let k = 0; k < segments.length; k += 4) {
        ctx.moveTo(toCanvasX(frame, segments[k]), toCanvasY(frame, segments[k + 1]));
        ctx.lineTo(toCanvasX(frame, segments[k + 2]), toCanvasY(frame, segments[k + 3]));
      }
    }
    ctx.stroke();
  }
}

/** Canvas coordinates stay within a few plot widths so a diverging run cannot overflow them. */
function bounded(value: number, frame: Frame, horizontal: boolean): number {
  const lo = horizontal ? frame.left - 4 * frame.width : frame.top - 4 * frame.height;
  const hi = horizontal ? frame.left + 5 * frame.width : frame.top + 5 * frame.height;
  return Math.min(hi, Math.max(lo, Number.isFinite(value) ? value : hi));
}

function drawTrack(ctx: CanvasRenderingContext2D, frame: Frame, track: TrackView): void {
  const { path } = track;
  if (path.length < 2) return;
  const cx = (k: number) => bounded(toCanvasX(frame, path[k]), frame, true);
  const cy = (k: number) => bounded(toCanvasY(frame, path[k + 1]), frame, false);
  ctx.save();
  ctx.lineJoin = "round";
  ctx.lineCap = "round";
  ctx.beginPath();
  ctx.moveTo(cx(0), cy(0));
  for (let k = 2; k < path.length; k += 2) ctx.lineTo(cx(k), cy(k));
  // A white casing under the coloured line keeps it legible over dark shading and other tracks.
  ctx.strokeStyle = "rgba(255, 255, 255, 0.75)";
  ctx.lineWidth = 4;
  ctx.stroke();
  ctx.strokeStyle = track.color;
  ctx.lineWidth = 2;
  ctx.stroke();
  const last = path.length - 2;
  const hx = cx(last);
  const hy = cy(last);
  ctx.lineWidth = 2;
  if (track.failed) {
    ctx.strokeStyle = track.color;
    ctx.lineWidth = 3;
    ctx.beginPath();
    ctx.moveTo(hx - 6, hy - 6);
    ctx.lineTo(hx + 6, hy + 6);
    ctx.moveTo(hx + 6, hy - 6);
    ctx.lineTo(hx - 6, hy + 6);
    ctx.stroke();
  } else {
    ctx.fillStyle = track.color;
    ctx.strokeStyle = "#ffffff";
    ctx.beginPath();
    ctx.arc(hx, hy, 5.5, 0, 2 * Math.PI);
    ctx.fill();
    ctx.stroke();
  }
  ctx.restore();
}

function drawStar(ctx: CanvasRenderingContext2D, x: number, y: number): void {
  ctx.save();
  ctx.beginPath();
  for (let k = 0; k < 10; k++) {
    const radius = k % 2 === 0 ? 8 : 3.4;
    const angle = -Math.PI / 2 + (k * Math.PI) / 5;
    const px = x + radius * Math.cos(angle);
    const py = y + radius * Math.sin(angle);
    if (k === 0) ctx.moveTo(px, py);
    else ctx.lineTo(px, py);
  }
  ctx.closePath();
  ctx.fillStyle = "#ffd84d";
  ctx.strokeStyle = "#5a4500";
  ctx.lineWidth = 1.2;
  ctx.fill();
  ctx.stroke();
  ctx.restore();
}

function drawStart(ctx: CanvasRenderingContext2D, x: number, y: number): void {
  ctx.save();
  ctx.beginPath();
  ctx.arc(x, y, 6, 0, 2 * Math.PI);
  ctx.fillStyle = "#ffffff";
  ctx.strokeStyle = "#1d2733";
  ctx.lineWidth = 2;
  ctx.fill();
  ctx.stroke();
  ctx.restore();
}
