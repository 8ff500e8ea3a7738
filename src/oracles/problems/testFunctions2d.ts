/**
 * Two-dimensional test functions for drawing optimizer trajectories: each is an {@link Objective}
 * with closed-form value, gradient and Hessian-vector product, plus what a contour plot needs (a
 * plotting window, a start, the global minima and whether the values span so many decades that
 * the contours should be drawn on a log scale).
 *
 * - Rosenbrock, "An automatic method for finding the greatest or least value of a function", The
 *   Computer Journal 3(3), 1960: a curved, narrow valley.
 * - Rastrigin, "Systems of Extremal Control", 1974: a bowl covered in local minima.
 * - Himmelblau, "Applied Nonlinear Programming", McGraw-Hill, 1972: four global minima of value 0
 *   and a local maximum between them.
 * - Beale, "On an iterative method for finding a local minimum of a function of more than one
 *   variable", Princeton technical report 25, 1958: flat plateaus and sharp ridges.
 * - A saddle x² − y² + y⁴/4 with a strict saddle at the origin and two minima.
 * - A rotated ill-conditioned quadratic, where coordinate-wise methods lose their edge.
 */
import { InvalidArgumentError } from "../../errors.js";
import type { FloatArray } from "../../params/layout.js";
import { Layout } from "../../params/layout.js";
import type { Objective } from "../objective.js";
import { rastrigin } from "./rastrigin.js";
import { rosenbrock } from "./rosenbrock.js";

/** A 2-D test function and the metadata of its contour plot. */
export interface TestFunction2d {
  /** Identifier, e.g. `"himmelblau"` (what {@link findTestFunction} takes). */
  name: string;
  /** Human-readable title. */
  title: string;
  /** One or two sentences on the landscape and what it shows about an optimizer. */
  description: string;
  /** A new objective over parameters `x` of shape [2] (float64); `initialParams()` is {@link start}. */
  objective(): Objective;
  /** The plotting window. */
  domain: {
    /** Range [min, max] of the first coordinate. */
    x: [number, number];
    /** Range [min, max] of the second coordinate. */
    y: [number, number];
  };
  /** The suggested starting point. */
  start: [number, number];
  /** Every global minimizer (within the domain). */
  minima: [number, number][];
  /** Whether contour levels should be spaced logarithmically (values span many decades). */
  logScale: boolean;
}

/** A function of (x, y) with its gradient and Hessian in closed form. */
interface Smooth2d {
  value(x: number, y: number): number;
  /** Writes [∂f/∂x, ∂f/∂y] into `g`; returns f. */
  gradient(x: number, y: number, g: number[]): number;
  /** Writes [∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²] into `h`. */
  hessian(x: number, y: number, h: number[]): void;
}

function objective2d(
  name: string,
  fn: Smooth2d,
  start: readonly [number, number],
  optimalValue: number,
): Objective {
  const layout = new Layout([{ name: "x", shape: [2] }], "float64");
  const g = [0, 0];
  const h = [0, 0, 0];
  return {
    name,
    layout,
    optimalValue,
    value(p) {
      return fn.value(p[0], p[1]);
    },
    valueAndGrad(p, out) {
      const f = fn.gradient(p[0], p[1], g);
      out[0] = g[0];
      out[1] = g[1];
      return f;
    },
    hvp(p, v, out) {
      fn.hessian(p[0], p[1], h);
      const v0 = v[0];
      const v1 = v[1];
      out[0] = h[0] * v0 + h[1] * v1;
      out[1] = h[1] * v0 + h[2] * v1;
    },
    initialParams(): FloatArray {
      return Float64Array.from(start);
    },
  };
}

/** An objective built elsewhere, renamed and started at `start`. */
function startingAt(objective: Objective, name: string, start: [number, number]): Objective {
  return { ...objective, name, initialParams: () => Float64Array.from(start) };
}

/** Himmelblau: (x² + y − 11)² + (x + y² − 7)². */
const himmelblau: Smooth2d = {
  value(x, y) {
    const r1 = x * x + y - 11;
    const r2 = x + y * y - 7;
    return r1 * r1 + r2 * r2;
  },
  gradient(x, y, g) {
    const r1 = x * x + y - 11;
    const r2 = x + y * y - 7;
    g[0] = 4 * x * r1 + 2 * r2;
    g[1] = 2 * r1 + 4 * y * r2;
    return r1 * r1 + r2 * r2;
  },
  hessian(x, y, h) {
    const r1 = x * x + y - 11;
    const r2 = x + y * y - 7;
    h[0] = 4 * r1 + 8 * x * x + 2;
    h[1] = 4 * (x + y);
    h[2] = 2 + 4 * r2 + 8 * y * y;
  },
};

/** Beale's constants c_k in r_k = c_k − x + x·y^k, k = 1, 2, 3. */
const BEALE = [1.5, 2.25, 2.625];

/** Beale: Σ_k r_k², r_k = c_k − x + x·y^k; ∂r_k/∂x = y^k − 1, ∂r_k/∂y = k·x·y^(k−1). */
const beale: Smooth2d = {
  value(x, y) {
    let f = 0;
    let yk = 1;
    for (let k = 1; k <= 3; k++) {
      yk *= y;
      const r = BEALE[k - 1] - x + x * yk;
      f += r * r;
    }
    return f;
  },
  gradient(x, y, g) {
    let f = 0;
    let gx = 0;
    let gy = 0;
    let ykm1 = 1;
    for (let k = 1; k <= 3; k++) {
      const yk = ykm1 * y;
      const r = BEALE[k - 1] - x + x * yk;
      f += r * r;
      gx += 2 * r * (yk - 1);
      gy += 2 * r * k * x * ykm1;
      ykm1 = yk;
    }
    g[0] = gx;
    g[1] = gy;
    return f;
  },
  hessian(x, y, h) {
    // ∇²f = 2 Σ_k (∇r_k ∇r_kᵀ + r_k ∇²r_k), with ∂²r_k/∂x² = 0, ∂²r_k/∂x∂y = k·y^(k−1) and
    // ∂²r_k/∂y² = k(k−1)·x·y^(k−2).
    let hxx = 0;
    let hxy = 0;
    let hyy = 0;
    let ykm2 = 0;
    let ykm1 = 1;
    for (let k = 1; k <= 3; k++) {
      const yk = ykm1 * y;
      const r = BEALE[k - 1] - x + x * yk;
      const rx = yk - 1;
      const ry = k * x * ykm1;
      hxx += 2 * rx * rx;
      hxy += 2 * (rx * ry + r * k * ykm1);
      hyy += 2 * (ry * ry + r * k * (k - 1) * x * ykm2);
      ykm2 = ykm1;
      ykm1 = yk;
    }
    h[0] = hxx;
    h[1] = hxy;
    h[2] = hyy;
  },
};

/** The saddle x² − y² + y⁴/4: Hessian diag(2, −2) at the origin, minima −1 at (0, ±√2). */
const saddle: Smooth2d = {
  value(x, y) {
    const y2 = y * y;
    return x * x - y2 + 0.25 * y2 * y2;
  },
  gradient(x, y, g) {
    const y2 = y * y;
    g[0] = 2 * x;
    g[1] = -2 * y + y2 * y;
    return x * x - y2 + 0.25 * y2 * y2;
  },
  hessian(_x, y, h) {
    h[0] = 2;
    h[1] = 0;
    h[2] = -2 + 3 * y * y;
  },
};

/** Condition number of {@link rotatedQuadratic}. */
const ELLIPSE_CONDITION = 25;

/**
 * ½(u² + κ v²) in the coordinates u = (x + y)/√2, v = (x − y)/√2 (axes at 45°), κ = 25. In x, y:
 * ¼[(1 + κ)(x² + y²) + 2(1 − κ)xy], Hessian ½[[1 + κ, 1 − κ], [1 − κ, 1 + κ]].
 */
const rotatedQuadratic: Smooth2d = {
  value(x, y) {
    const k = ELLIPSE_CONDITION;
    return 0.25 * ((1 + k) * (x * x + y * y) + 2 * (1 - k) * x * y);
  },
  gradient(x, y, g) {
    const k = ELLIPSE_CONDITION;
    g[0] = 0.5 * ((1 + k) * x + (1 - k) * y);
    g[1] = 0.5 * ((1 - k) * x + (1 + k) * y);
    return 0.25 * ((1 + k) * (x * x + y * y) + 2 * (1 - k) * x * y);
  },
  hessian(_x, _y, h) {
    const k = ELLIPSE_CONDITION;
    h[0] = 0.5 * (1 + k);
    h[1] = 0.5 * (1 - k);
    h[2] = 0.5 * (1 + k);
  },
};

const RASTRIGIN_START: [number, number] = [2.3, -3.5];

/**
 * The 2-D test functions, in the order a menu should list them. Every objective works in float64
 * and returns `start` from `initialParams()`.
 */
export const testFunctions2d: readonly TestFunction2d[] = Object.freeze([
  {
    name: "rosenbrock",
    title: "Rosenbrock",
    description:
      "(1 − x)² + 100(y − x²)²: a long, curved, flat-bottomed valley. Finding the valley is easy; " +
      "following it to the minimum at (1, 1) is slow for plain gradient descent.",
    objective: () => startingAt(rosenbrock(), "rosenbrock", [-1.2, 1]),
    domain: { x: [-2, 2], y: [-1, 3] },
    start: [-1.2, 1],
    minima: [[1, 1]],
    logScale: true,
  },
  {
    name: "rastrigin",
    title: "Rastrigin",
    description:
      "20 + Σ (x_i² − 10 cos 2πx_i): a bowl covered in local minima near every integer point. " +
      "Gradient descent stops in the nearest basin; the global minimum is 0 at the origin.",
    objective: () => startingAt(rastrigin(), "rastrigin", RASTRIGIN_START),
    domain: { x: [-5.12, 5.12], y: [-5.12, 5.12] },
    start: RASTRIGIN_START,
    minima: [[0, 0]],
    logScale: false,
  },
  {
    name: "himmelblau",
    title: "Himmelblau",
    description:
      "(x² + y − 11)² + (x + y² − 7)²: four global minima of value 0 around a local maximum; " +
      "which one an optimizer reaches depends on its path.",
    objective: () => objective2d("himmelblau", himmelblau, [0, 0], 0),
    domain: { x: [-5, 5], y: [-5, 5] },
    start: [0, 0],
    minima: [
      [3, 2],
      [-2.805118086952745, 3.131312518250573],
      [-3.779310253377747, -3.28318599128617],
      [3.584428340330492, -1.848126526964404],
    ],
    logScale: true,
  },
  {
    name: "beale",
    title: "Beale",
    description:
      "(1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²: flat plateaus and steep " +
      "ridges around a narrow valley leading to the minimum at (3, 0.5).",
    objective: () => objective2d("beale", beale, [1, 1.5], 0),
    domain: { x: [-4.5, 4.5], y: [-4.5, 4.5] },
    start: [1, 1.5],
    minima: [[3, 0.5]],
    logScale: true,
  },
  {
    name: "saddle",
    title: "Saddle",
    description:
      "x² − y² + y⁴/4: a strict saddle at the origin (Hessian diag(2, −2)) between two minima " +
      "of value −1 at (0, ±√2). Started almost on the ridge y = 0, gradient descent lingers near " +
      "the saddle before it escapes; noise and momentum leave sooner.",
    objective: () => objective2d("saddle", saddle, [1.8, 0.02], -1),
    domain: { x: [-2, 2], y: [-2.5, 2.5] },
    start: [1.8, 0.02],
    minima: [
      [0, Math.SQRT2],
      [0, -Math.SQRT2],
    ],
    logScale: false,
  },
  {
    name: "rotated-quadratic",
    title: "Rotated ellipse",
    description:
      "A quadratic with condition number 25 whose axes lie at 45° to the coordinates: momentum " +
      "helps, while diagonal (per-coordinate) preconditioners cannot undo the rotation.",
    objective: () => objective2d("rotated-quadratic", rotatedQuadratic, [-2.5, -1], 0),
    domain: { x: [-3, 3], y: [-3, 3] },
    start: [-2.5, -1],
    minima: [[0, 0]],
    logScale: false,
  },
] satisfies TestFunction2d[]);

/** The test function called `name`; throws an {@link InvalidArgumentError} listing the names. */
export function findTestFunction(name: string): TestFunction2d {
  const found = testFunctions2d.find((fn) => fn.name === name);
  if (!found) {
    throw new InvalidArgumentError(
      "findTestFunction",
      "name",
      name,
      `one of ${testFunctions2d.map((fn) => JSON.stringify(fn.name)).join(", ")}`,
    );
  }
  return found;
}
