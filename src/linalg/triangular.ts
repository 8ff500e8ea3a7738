/**
 * Triangular solves with many right-hand sides (BLAS's TRSM): `op(T)·X = B` or `X·op(T) = B`
 * for a square triangular `T` and `op(T)` either `T` or `Tᵀ`, on row-major `Float32Array` /
 * `Float64Array` matrices. Forward or back substitution, chosen by which triangle `op(T)`
 * occupies; every entry is accumulated in float64 and rounded once to the output's precision.
 *
 * Only the named triangle of `T` is read, so a matrix whose other triangle holds rounding
 * noise (or another factor) solves as its triangular part. A zero diagonal entry gives
 * ±Infinity or NaN, as IEEE division does; callers that cannot tolerate it check the diagonal.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";

/** A dense row-major matrix's entries, in single or double precision. */
export type TriangularData = Float32Array | Float64Array;

/** Which triangle of the stored matrix holds T. */
export type Triangle = "upper" | "lower";

/** On which side of the unknown the triangular matrix stands. */
export type SolveSide = "left" | "right";

/** Options of {@link solveTriangular}. */
export interface TriangularSolveOptions {
  /** The triangle of `t` that holds T; the other is not read (default `"upper"`). */
  triangle?: Triangle;
  /** Solve with Tᵀ instead of T (default false). */
  transpose?: boolean;
  /**
   * `"left"` solves op(T)·X = B with B of size n×count; `"right"` solves X·op(T) = B with B of
   * size count×n (default `"left"`).
   */
  side?: SolveSide;
  /** Take every diagonal entry of T as 1 without reading it (default false). */
  unitDiagonal?: boolean;
}

const OPTIONS = ["triangle", "transpose", "side", "unitDiagonal"] as const;

// Float64 accumulators of one row of X, kept between calls (one call runs at a time).
let rowSums = new Float64Array(0);

function checkLength(
  parameter: string,
  array: TriangularData,
  expected: number,
  shape: string,
): void {
  if (!(array instanceof Float32Array || array instanceof Float64Array)) {
    throw new InvalidArgumentError(
      "solveTriangular",
      parameter,
      array,
      "a Float32Array or Float64Array",
    );
  }
  if (array.length !== expected) {
    throw new ShapeMismatchError(
      `solveTriangular: ${parameter} must hold ${expected} entries (${shape}), got ${array.length}`,
    );
  }
}

/**
 * Solves `op(T)·X = B` (`side: "left"`, B n×count) or `X·op(T) = B` (`side: "right"`,
 * B count×n) for X, with T the n×n triangular matrix stored in `t`.
 *
 * @param t - T's storage, n·n entries; only the triangle named by `options.triangle` is read
 * @param n - order of T
 * @param b - the right-hand sides B
 * @param count - number of right-hand sides (columns of B for `"left"`, rows for `"right"`)
 * @param out - receives X (same size as B); may be `b` itself, but must not otherwise overlap it
 * @param options - triangle, transpose, side and unit diagonal
 * @throws {@link InvalidArgumentError} for a bad size or option
 * @throws {@link ShapeMismatchError} when an array's length is not the size it must have
 */
export function solveTriangular(
  t: TriangularData,
  n: number,
  b: TriangularData,
  count: number,
  out: TriangularData,
  options: Readonly<TriangularSolveOptions> = {},
): void {
  const owner = "solveTriangular";
  checkKnownOptions(owner, options, OPTIONS);
  const triangle = checkChoice(owner, "triangle", options.triangle ?? "upper", [
    "upper",
    "lower",
  ] as const);
  const transpose = checkBoolean(owner, "transpose", options.transpose ?? false);
  const side = checkChoice(owner, "side", options.side ?? "left", ["left", "right"] as const);
  const unit = checkBoolean(owner, "unitDiagonal", options.unitDiagonal ?? false);
  checkNumber(owner, "n", n, { min: 0, integer: true });
  checkNumber(owner, "count", count, { min: 0, integer: true });
  checkLength("t", t, n * n, `${n}×${n}`);
  const shape = side === "left" ? `${n}×${count}` : `${count}×${n}`;
  checkLength("b", b, n * count, shape);
  checkLength("out", out, n * count, shape);
  if (n === 0 || count === 0) return;
  // op(T)[i][j] lives at t[i·n + j], or at t[j·n + i] when transposed; which triangle op(T)
  // occupies decides the substitution order.
  const rowStride = transpose ? 1 : n;
  const columnStride = transpose ? n : 1;
  const opUpper = (triangle === "upper") !== transpose;
  if (rowSums.length < count) rowSums = new Float64Array(count);
  const sums = rowSums;
  if (side === "left") {
    // Row i of X: (B[i] − Σ_k op(T)[i][k]·X[k]) / op(T)[i][i], k over the solved rows.
    for (let step = 0; step < n; step++) {
      const i = opUpper ? n - 1 - step : step;
      for (let c = 0; c < count; c++) sums[c] = b[i * count + c];
      const kFrom = opUpper ? i + 1 : 0;
      const kTo = opUpper ? n : i;
      for (let k = kFrom; k < kTo; k++) {
        const coefficient = t[i * rowStride + k * columnStride];
        if (coefficient === 0) continue;
        const row = k * count;
        for (let c = 0; c < count; c++) sums[c] -= coefficient * out[row + c];
      }
      const diagonal = unit ? 1 : t[i * rowStride + i * columnStride];
      for (let c = 0; c < count; c++) out[i * count + c] = sums[c] / diagonal;
    }
    return;
  }
  // X·op(T) = B row by row: x_j = (b_j − Σ_i x_i·op(T)[i][j]) / op(T)[j][j], i over solved
  // entries (i < j for an upper op(T), i > j for a lower one).
  for (let r = 0; r < count; r++) {
    const row = r * n;
    for (let step = 0; step < n; step++) {
      const j = opUpper ? step : n - 1 - step;
      let sum = b[row + j];
      const iFrom = opUpper ? 0 : j + 1;
      const iTo = opUpper ? j : n;
      for (let i = iFrom; i < iTo; i++) sum -= out[row + i] * t[i * rowStride + j * columnStride];
      const diagonal = unit ? 1 : t[j * rowStride + j * columnStride];
      out[row + j] = sum / diagonal;
    }
  }
}
