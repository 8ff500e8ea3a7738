/**
 * Level sets of a function sampled on a regular grid: the grid itself, the choice of levels
 * (evenly or logarithmically spaced) and marching squares, which turns each level into line
 * segments by linear interpolation along the edges of every grid cell.
 */

/** Values of f on an nx × ny grid over [x0, x1] × [y0, y1]; row j holds y = y0 + j·dy. */
export interface Grid {
  /** Row-major values, `values[j * nx + i] = f(x_i, y_j)`. */
  values: Float64Array;
  /** Samples along x (columns). */
  nx: number;
  /** Samples along y (rows). */
  ny: number;
  /** The x range covered, first and last column included. */
  x: [number, number];
  /** The y range covered, first and last row included. */
  y: [number, number];
  /** Smallest finite value. */
  min: number;
  /** Largest finite value. */
  max: number;
}

/** Samples `f` on an `nx` × `ny` grid spanning the given ranges (edges included). */
export function sampleGrid(
  f: (x: number, y: number) => number,
  x: [number, number],
  y: [number, number],
  nx: number,
  ny: number,
): Grid {
  const values = new Float64Array(nx * ny);
  let min = Infinity;
  let max = -Infinity;
  for (let j = 0; j < ny; j++) {
    const yj = y[0] + ((y[1] - y[0]) * j) / (ny - 1);
    for (let i = 0; i < nx; i++) {
      const v = f(x[0] + ((x[1] - x[0]) * i) / (nx - 1), yj);
      values[j * nx + i] = v;
      if (Number.isFinite(v)) {
        if (v < min) min = v;
        if (v > max) max = v;
      }
    }
  }
  return { values, nx, ny, x, y, min, max };
}

/**
 * Where a value sits between the grid's minimum (0) and maximum (1). On a log scale the
 * distance to the minimum is what is spaced evenly in log, so a function whose minimum is 0
 * (Rosenbrock) shows its valley floor rather than one flat colour.
 */
export function valueScale(grid: Grid, logScale: boolean): (value: number) => number {
  const span = grid.max - grid.min;
  if (!(span > 0)) return () => 0;
  if (!logScale) return (v) => clamp01((v - grid.min) / span);
  const floor = logFloor(grid);
  const lo = Math.log(floor);
  const range = Math.log(span) - lo;
  return (v) => clamp01((Math.log(Math.max(v - grid.min, floor)) - lo) / range);
}

function clamp01(t: number): number {
  return t < 0 ? 0 : t > 1 ? 1 : Number.isNaN(t) ? 0 : t;
}

/** The smallest distance above the minimum a log scale resolves: five decades below the span. */
function logFloor(grid: Grid): number {
  return (grid.max - grid.min) * 1e-5;
}

/**
 * `count` levels strictly inside the grid's value range: evenly spaced, or (on a log scale)
 * evenly spaced in log(f − min) from five decades below the range up to the range.
 */
export function contourLevels(grid: Grid, count: number, logScale: boolean): number[] {
  const span = grid.max - grid.min;
  if (!(span > 0) || count < 1) return [];
  const levels: number[] = [];
  if (logScale) {
    const lo = Math.log(logFloor(grid));
    const hi = Math.log(span);
    for (let k = 0; k < count; k++) {
      levels.push(grid.min + Math.exp(lo + ((hi - lo) * k) / count));
    }
  } else {
    for (let k = 1; k <= count; k++) levels.push(grid.min + (span * k) / (count + 1));
  }
  return levels;
}

/**
 * Segments of the level set f = `level`, as consecutive (x1, y1, x2, y2) quadruples in the
 * grid's coordinates. Each cell's corners are classified as above or below the level (16 cases);
 * the two ambiguous saddle cases are resolved by the mean of the four corners, the value at the
 * cell's centre under bilinear interpolation.
 */
export function marchingSquares(grid: Grid, level: number): number[] {
  const { values, nx, ny } = grid;
  const dx = (grid.x[1] - grid.x[0]) / (nx - 1);
  const dy = (grid.y[1] - grid.y[0]) / (ny - 1);
  const out: number[] = [];
  // Edge e of the cell at (i, j): 0 bottom (a→b), 1 right (b→c), 2 top (d→c), 3 left (a→d),
  // with corners a = (i, j), b = (i + 1, j), c = (i + 1, j + 1), d = (i, j + 1).
  const point = (e: number, i: number, j: number, a: number, b: number, c: number, d: number) => {
    const x0 = grid.x[0] + i * dx;
    const y0 = grid.y[0] + j * dy;
    switch (e) {
      case 0:
        return [x0 + dx * crossing(a, b, level), y0];
      case 1:
        return [x0 + dx, y0 + dy * crossing(b, c, level)];
      case 2:
        return [x0 + dx * crossing(d, c, level), y0 + dy];
      default:
        return [x0, y0 + dy * crossing(a, d, level)];
    }
  };
  for (let j = 0; j < ny - 1; j++) {
    for (let i = 0; i < nx - 1; i++) {
      const a = values[j * nx + i];
      const b = values[j * nx + i + 1];
      const c = values[(j + 1) * nx + i + 1];
      const d = values[(j + 1) * nx + i];
      if (!(Number.isFinite(a) && Number.isFinite(b) && Number.isFinite(c) && Number.isFinite(d))) {
        continue;
      }
      const index =
        (a >= level ? 1 : 0) | (b >= level ? 2 : 0) | (c >= level ? 4 : 0) | (d >= level ? 8 : 0);
      const edges = cellEdges(index, (a + b + c + d) / 4 >= level);
      for (let k = 0; k < edges.length; k += 2) {
        const [x1, y1] = point(edges[k], i, j, a, b, c, d);
        const [x2, y2] = point(edges[k + 1], i, j, a, b, c, d);
        out.push(x1, y1, x2, y2);
      }
    }
  }
  return out;
}

/** Fraction of the way from p to q at which the linear interpolant crosses `level`. */
function crossing(p: number, q: number, level: number): number {
  return p === q ? 0.5 : (level - p) / (q - p);
}

/** Pairs of edges joined by a segment, for each corner classification. */
const SEGMENTS: readonly (readonly number[])[] = [
  [],
  [3, 0],
  [0, 1],
  [3, 1],
  [1, 2],
  [], // saddle, see cellEdges
  [0, 2],
  [3, 2],
  [2, 3],
  [0, 2],
  [], // saddle, see cellEdges
  [1, 2],
  [3, 1],
  [0, 1],
  [3, 0],
  [],
];

function cellEdges(index: number, centreAbove: boolean): readonly number[] {
  // Case 5 has a and c above; case 10 has b and d above. When the centre sides with the
  // diagonal that is above, that diagonal is connected and the other two corners are cut off.
  if (index === 5) return centreAbove ? [0, 1, 2, 3] : [3, 0, 1, 2];
  if (index === 10) return centreAbove ? [3, 0, 1, 2] : [0, 1, 2, 3];
  return SEGMENTS[index];
}

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of 10). */
export function niceTicks(lo: number, hi: number, count: number): number[] {
  if (!(hi > lo) || count < 1) return [lo];
  const raw = (hi - lo) / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const unit = raw / power;
  const step = (unit < 1.5 ? 1 : unit < 3.5 ? 2 : unit < 7.5 ? 5 : 10) * power;
  const ticks: number[] = [];
  for (let k = Math.ceil(lo / step - 1e-9); k * step <= hi + step * 1e-9; k++) {
    ticks.push(Math.abs(k * step) < step * 1e-9 ? 0 : k * step);
  }
  return ticks;
}
