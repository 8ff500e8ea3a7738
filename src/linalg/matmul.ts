/**
 * Dense matrix products for the matrix-aware optimizers: the general product
 * `C ← α·op(A)·op(B) + β·C` (BLAS's GEMM) and the symmetric Gram products `A·Aᵀ` and `Aᵀ·A`
 * (BLAS's SYRK), on row-major `Float32Array` / `Float64Array` matrices in any mix.
 *
 * Rounding. Every entry is one float64 dot product summed in ascending order of the inner
 * index, `s = ((a₀b₀ + a₁b₁) + a₂b₂) + …`, then `α·s + β·c` in float64, rounded once to the
 * output's precision. So the result equals the textbook triple loop evaluated in float64 bit
 * for bit, whatever the sizes, transposes or blocking, and a float32 output carries one
 * float32 rounding (relative error ≤ 2⁻²⁴ on top of the float64 sum's `k·2⁻⁵³·Σ|aᵢbᵢ|`).
 * JavaScript never contracts `x·y + z` into a fused multiply-add, so this holds on every engine.
 *
 * Speed. Panels of op(A) (up to 64 rows) and op(B) (up to 128 columns) are copied into float64
 * scratch, four rows (columns) interleaved, whatever the inputs' precision and transposition;
 * the kernel in ./gemmKernel.ts then accumulates 4×4 blocks of outputs, in WebAssembly SIMD
 * where available (see {@link matmulBackend}) and in JavaScript otherwise, with identical bits.
 * Panels are sized so that op(B)'s stays within 256 KiB and op(A)'s within 128 KiB. Scratch
 * is kept between calls, so products in an optimizer's step allocate nothing once the largest
 * size has been seen.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { reserve, runPanels } from "./gemmKernel.js";

export { matmulBackend } from "./gemmKernel.js";
export type { GemmBackend } from "./gemmKernel.js";

/** A dense row-major matrix's entries, in single or double precision. */
export type MatrixData = Float32Array | Float64Array;

/** Options of {@link matmul}. */
export interface MatmulOptions {
  /** Read `a` as the k×m matrix Aᵀ stored row-major, so op(A) = Aᵀ (default false). */
  transposeA?: boolean;
  /** Read `b` as the n×k matrix Bᵀ stored row-major, so op(B) = Bᵀ (default false). */
  transposeB?: boolean;
  /** Factor α of the product (default 1). */
  alpha?: number;
  /** Factor β of the previous `out`; with β = 0 `out` is not read, so NaN there is ignored (default 0). */
  beta?: number;
}

/** Options of {@link gram}. */
export interface GramOptions {
  /** Factor α of the product (default 1). */
  alpha?: number;
  /**
   * Factor β of the previous `out` (default 0). With β ≠ 0 only the lower triangle of `out` is
   * read, and the result is written to both triangles.
   */
  beta?: number;
}

/** Which Gram matrix {@link gram} forms: `"left"` is A·Aᵀ (rows×rows), `"right"` is Aᵀ·A (cols×cols). */
export type GramSide = "left" | "right";

const MATMUL_OPTIONS = ["transposeA", "transposeB", "alpha", "beta"] as const;
const GRAM_OPTIONS = ["alpha", "beta"] as const;

/** Float64 entries of the op(B) panel: 32 768 doubles = 256 KiB, an L2-sized block. */
const B_PANEL_DOUBLES = 32768;
/** Float64 entries of the op(A) panel: 16 384 doubles = 128 KiB. */
const A_PANEL_DOUBLES = 16384;
/** The panels' widths never exceed these, so the accumulator tile stays small. */
const MAX_PANEL_COLUMNS = 128;
const MAX_PANEL_ROWS = 64;

/** How a stored operand maps to its logical op(·) matrix. */
interface Operand {
  readonly data: MatrixData;
  /** op(A)[i, p] at data[i·k + p] (false) or data[p·m + i] (true). */
  readonly transposed: boolean;
}

/**
 * C ← α·op(A)·op(B) + β·C for row-major matrices, with op(A) of size m×k, op(B) of size k×n and
 * C = `out` of size m×n. `a` holds A (m×k) or, with `transposeA`, Aᵀ stored as a k×m matrix;
 * `b` holds B (k×n) or, with `transposeB`, a n×k matrix. Any mix of float32 and float64 is
 * accepted; see the module comment for the rounding (equal to the float64 triple loop).
 *
 * @param a - op(A)'s storage, m·k entries
 * @param b - op(B)'s storage, k·n entries
 * @param m - rows of op(A) and of C
 * @param k - columns of op(A), rows of op(B)
 * @param n - columns of op(B) and of C
 * @param out - C, m·n entries; must not overlap `a` or `b`
 * @param options - transposes and the factors α, β
 * @throws `InvalidArgumentError` for a bad size or option, or when `out` overlaps an input
 * @throws `ShapeMismatchError` when an array's length is not the size it must have
 */
export function matmul(
  a: MatrixData,
  b: MatrixData,
  m: number,
  k: number,
  n: number,
  out: MatrixData,
  options: Readonly<MatmulOptions> = {},
): void {
  const owner = "matmul";
  checkKnownOptions(owner, options, MATMUL_OPTIONS);
  const transposeA =
    options.transposeA === undefined
      ? false
      : checkBoolean(owner, "transposeA", options.transposeA);
  const transposeB =
    options.transposeB === undefined
      ? false
      : checkBoolean(owner, "transposeB", options.transposeB);
  const alpha = options.alpha === undefined ? 1 : checkNumber(owner, "alpha", options.alpha);
  const beta = options.beta === undefined ? 0 : checkNumber(owner, "beta", options.beta);
  checkDimension(owner, "m", m);
  checkDimension(owner, "k", k);
  checkDimension(owner, "n", n);
  checkLength(owner, "a", a, m * k, transposeA ? `${k}×${m} (Aᵀ)` : `${m}×${k}`);
  checkLength(owner, "b", b, k * n, transposeB ? `${n}×${k} (Bᵀ)` : `${k}×${n}`);
  checkLength(owner, "out", out, m * n, `${m}×${n}`);
  checkNoOverlap(owner, "a", a, out);
  checkNoOverlap(owner, "b", b, out);
  multiply(
    { data: a, transposed: transposeA },
    { data: b, transposed: transposeB },
    m,
    k,
    n,
    out,
    alpha,
    beta,
    false,
  );
}

/**
 * The Gram matrix of the row-major `rows×cols` matrix A: `out ← α·A·Aᵀ + β·out` (rows×rows)
 * for `side = "left"`, `out ← α·Aᵀ·A + β·out` (cols×cols) for `"right"`. Only blocks on and
 * below the diagonal are computed; the upper triangle is a copy of the lower one, so the result
 * is exactly symmetric. Entries are rounded as in {@link matmul}.
 *
 * @param a - A, rows·cols entries
 * @param rows - rows of A
 * @param cols - columns of A
 * @param out - the Gram matrix; must not overlap `a`
 * @param side - `"left"` for A·Aᵀ, `"right"` for Aᵀ·A
 * @param options - the factors α, β
 * @throws `InvalidArgumentError` for a bad size, side or option, or when `out` overlaps `a`
 * @throws `ShapeMismatchError` when an array's length is not the size it must have
 */
export function gram(
  a: MatrixData,
  rows: number,
  cols: number,
  out: MatrixData,
  side: GramSide,
  options: Readonly<GramOptions> = {},
): void {
  const owner = "gram";
  checkKnownOptions(owner, options, GRAM_OPTIONS);
  checkChoice(owner, "side", side, ["left", "right"] as const);
  const alpha = options.alpha === undefined ? 1 : checkNumber(owner, "alpha", options.alpha);
  const beta = options.beta === undefined ? 0 : checkNumber(owner, "beta", options.beta);
  checkDimension(owner, "rows", rows);
  checkDimension(owner, "cols", cols);
  const size = side === "left" ? rows : cols;
  checkLength(owner, "a", a, rows * cols, `${rows}×${cols}`);
  checkLength(owner, "out", out, size * size, `${size}×${size}`);
  checkNoOverlap(owner, "a", a, out);
  if (side === "left") {
    // A·Aᵀ: op(A) = A (k = cols), op(B) = Aᵀ, whose transposed storage is A itself.
    multiply(
      { data: a, transposed: false },
      { data: a, transposed: true },
      rows,
      cols,
      rows,
      out,
      alpha,
      beta,
      true,
    );
  } else {
    // Aᵀ·A: op(A) = Aᵀ (stored as A, k = rows), op(B) = A.
    multiply(
      { data: a, transposed: true },
      { data: a, transposed: false },
      cols,
      rows,
      cols,
      out,
      alpha,
      beta,
      true,
    );
  }
}

function checkDimension(owner: string, parameter: string, value: unknown): void {
  checkNumber(owner, parameter, value, { min: 0, integer: true });
}

function checkLength(
  owner: string,
  parameter: string,
  array: MatrixData,
  expected: number,
  shape: string,
): void {
  if (!(array instanceof Float32Array || array instanceof Float64Array)) {
    throw new InvalidArgumentError(owner, parameter, array, "a Float32Array or Float64Array");
  }
  if (array.length !== expected) {
    throw new ShapeMismatchError(
      `${owner}: ${parameter} must hold ${expected} entries (${shape}), got ${array.length}`,
    );
  }
}

function checkNoOverlap(
  owner: string,
  parameter: string,
  input: MatrixData,
  out: MatrixData,
): void {
  if (input.buffer !== out.buffer || input.length === 0 || out.length === 0) return;
  const inputEnd = input.byteOffset + input.byteLength;
  const outEnd = out.byteOffset + out.byteLength;
  if (input.byteOffset < outEnd && out.byteOffset < inputEnd) {
    throw new InvalidArgumentError(
      owner,
      "out",
      `a view overlapping ${parameter}`,
      `memory disjoint from ${parameter} (the product reads ${parameter} after writing out)`,
    );
  }
}

/** Largest multiple of 4 (at least 4) of `budget / k`, capped at `cap` and at `extent` rounded up. */
function panelWidth(budget: number, k: number, cap: number, extent: number): number {
  const fit = Math.floor(budget / Math.max(k, 1)) & ~3;
  const wanted = Math.min(Math.max(fit, 4), cap);
  return Math.min(wanted, (extent + 3) & ~3);
}

/**
 * The shared driver: packs op(B) column panels and op(A) row panels into float64 scratch,
 * multiplies them, and writes α·s + β·c. With `lowerOnly` (square C, op(B) = op(A)ᵀ) it skips
 * blocks above the diagonal, writes entries with i ≥ j and mirrors them.
 */
function multiply(
  left: Operand,
  right: Operand,
  m: number,
  k: number,
  n: number,
  out: MatrixData,
  alpha: number,
  beta: number,
  lowerOnly: boolean,
): void {
  if (m === 0 || n === 0) return;
  const columnsPerPanel = panelWidth(B_PANEL_DOUBLES, k, MAX_PANEL_COLUMNS, n);
  const rowsPerPanel = panelWidth(A_PANEL_DOUBLES, k, MAX_PANEL_ROWS, m);
  const buffers = reserve(rowsPerPanel * k, columnsPerPanel * k, rowsPerPanel * columnsPerPanel);
  const bPanel = buffers.b;
  const aPanel = buffers.a;
  const sums = buffers.tile;
  for (let j0 = 0; j0 < n; j0 += columnsPerPanel) {
    const width = Math.min(columnsPerPanel, n - j0);
    packColumns(right, k, n, j0, width, bPanel);
    // In lower-only mode rows above j0 hold only entries right of the diagonal.
    const firstRow = lowerOnly ? j0 - (j0 % rowsPerPanel) : 0;
    for (let i0 = firstRow; i0 < m; i0 += rowsPerPanel) {
      const height = Math.min(rowsPerPanel, m - i0);
      packRows(left, m, k, i0, height, aPanel);
      runPanels(buffers, k, (height + 3) >> 2, (width + 3) >> 2, columnsPerPanel);
      for (let i = 0; i < height; i++) {
        const row = i0 + i;
        const outRow = row * n + j0;
        const tileRow = i * columnsPerPanel;
        const end = lowerOnly ? Math.min(width, row - j0 + 1) : width;
        if (beta === 0) {
          if (alpha === 1) for (let j = 0; j < end; j++) out[outRow + j] = sums[tileRow + j];
          else for (let j = 0; j < end; j++) out[outRow + j] = alpha * sums[tileRow + j];
        } else {
          for (let j = 0; j < end; j++) {
            out[outRow + j] = alpha * sums[tileRow + j] + beta * out[outRow + j];
          }
        }
      }
    }
  }
  if (lowerOnly) {
    for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i];
  }
}

/**
 * Copies op(B)[:, j0 : j0+width] into `panel` in groups of four columns: column j0 + 4g + c,
 * inner index p, at panel[4gk + 4p + c]; columns past `width` in the last group are zeros.
 */
function packColumns(
  right: Operand,
  k: number,
  n: number,
  j0: number,
  width: number,
  panel: Float64Array,
): void {
  const data = right.data;
  if (right.transposed) {
    // Bᵀ is stored n×k: column j of op(B) is row j of the storage, contiguous.
    for (let j = 0; j < width; j++) {
      const target = 4 * (j >> 2) * k + (j & 3);
      const source = (j0 + j) * k;
      for (let p = 0; p < k; p++) panel[target + 4 * p] = data[source + p];
    }
  } else {
    // Row p of B holds op(B)[p, j0 …] contiguously.
    for (let p = 0; p < k; p++) {
      const source = p * n + j0;
      for (let j = 0; j < width; j++) panel[4 * (j >> 2) * k + 4 * p + (j & 3)] = data[source + j];
    }
  }
  zeroPadding(panel, k, width);
}

/**
 * Copies op(A)[i0 : i0+height, :] into `panel` in groups of four rows: row i0 + 4g + r, inner
 * index p, at panel[4gk + 4p + r]; rows past `height` in the last group are zeros.
 */
function packRows(
  left: Operand,
  m: number,
  k: number,
  i0: number,
  height: number,
  panel: Float64Array,
): void {
  const data = left.data;
  if (left.transposed) {
    // Aᵀ is stored k×m: row p of the storage holds op(A)[i0 …, p] contiguously.
    for (let p = 0; p < k; p++) {
      const source = p * m + i0;
      for (let i = 0; i < height; i++) panel[4 * (i >> 2) * k + 4 * p + (i & 3)] = data[source + i];
    }
  } else {
    for (let i = 0; i < height; i++) {
      const target = 4 * (i >> 2) * k + (i & 3);
      const source = (i0 + i) * k;
      for (let p = 0; p < k; p++) panel[target + 4 * p] = data[source + p];
    }
  }
  zeroPadding(panel, k, height);
}

/** Zeros the lanes of the last group of four beyond `used` rows or columns. */
function zeroPadding(panel: Float64Array, k: number, used: number): void {
  const groups = (used + 3) >> 2;
  const base = 4 * (groups - 1) * k;
  for (let lane = used - 4 * (groups - 1); lane < 4; lane++) {
    for (let p = 0; p < k; p++) panel[base + 4 * p + lane] = 0;
  }
}
