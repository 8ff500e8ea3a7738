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
 * Speed. Panels of op(A) (a few rows) and op(B) (a few columns, stored transposed) are copied
 * into float64 scratch so that the inner loop reads two contiguous float64 runs, whatever the
 * inputs' precision and transposition, and a 4×4 block of outputs is accumulated in sixteen
 * scalars (each loaded value is used four times). The op(B) panel is sized to stay in a 256 KiB
 * cache. Scratch is kept between calls, so products in an optimizer's step allocate nothing
 * once the largest size has been seen.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";

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

/** Float64 entries of the op(B) panel kept per call: 32 768 doubles = 256 KiB. */
const B_PANEL_DOUBLES = 32768;
/** Float64 entries of the op(A) panel: 4 096 doubles = 32 KiB, an L1-sized strip of rows. */
const A_PANEL_DOUBLES = 4096;
/** The panels' widths never exceed these, so the accumulator tile stays small. */
const MAX_PANEL_COLUMNS = 256;
const MAX_PANEL_ROWS = 64;

// Scratch shared by every call; JavaScript runs one call at a time per realm, and no call
// re-enters another, so one set suffices.
let packedA: Float64Array = new Float64Array(0);
let packedB: Float64Array = new Float64Array(0);
let tile: Float64Array = new Float64Array(0);

function scratch(current: Float64Array, length: number): Float64Array {
  return current.length >= length ? current : new Float64Array(length);
}

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
  packedB = scratch(packedB, columnsPerPanel * k);
  packedA = scratch(packedA, rowsPerPanel * k);
  tile = scratch(tile, rowsPerPanel * columnsPerPanel);
  const bPanel = packedB;
  const aPanel = packedA;
  const sums = tile;
  for (let j0 = 0; j0 < n; j0 += columnsPerPanel) {
    const width = Math.min(columnsPerPanel, n - j0);
    packColumns(right, k, n, j0, width, bPanel);
    // In lower-only mode rows above j0 hold only entries right of the diagonal.
    const firstRow = lowerOnly ? j0 - (j0 % rowsPerPanel) : 0;
    for (let i0 = firstRow; i0 < m; i0 += rowsPerPanel) {
      const height = Math.min(rowsPerPanel, m - i0);
      packRows(left, m, k, i0, height, aPanel);
      multiplyPanels(aPanel, bPanel, k, height, width, sums, columnsPerPanel);
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

/** Copies op(B)[:, j0 : j0+width] transposed into `panel` (row j = column j0 + j, length k). */
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
    // Bᵀ is stored n×k: column j of op(B) is row j of the storage, already contiguous.
    for (let j = 0; j < width; j++) {
      const source = (j0 + j) * k;
      const target = j * k;
      for (let p = 0; p < k; p++) panel[target + p] = data[source + p];
    }
  } else {
    for (let p = 0; p < k; p++) {
      const source = p * n + j0;
      for (let j = 0; j < width; j++) panel[j * k + p] = data[source + j];
    }
  }
}

/** Copies op(A)[i0 : i0+height, :] into `panel` (row-major, height×k). */
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
    // Aᵀ is stored k×m: read each stored row along its contiguous run of height entries.
    for (let p = 0; p < k; p++) {
      const source = p * m + i0;
      for (let i = 0; i < height; i++) panel[i * k + p] = data[source + i];
    }
  } else {
    const source = i0 * k;
    const count = height * k;
    for (let q = 0; q < count; q++) panel[q] = data[source + q];
  }
}

/**
 * sums[i·stride + j] = Σ_p aPanel[i·k + p]·bPanel[j·k + p], each sum in ascending p with one
 * float64 accumulator, 4×4 entries at a time.
 */
function multiplyPanels(
  aPanel: Float64Array,
  bPanel: Float64Array,
  k: number,
  height: number,
  width: number,
  sums: Float64Array,
  stride: number,
): void {
  let i = 0;
  for (; i + 4 <= height; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    let j = 0;
    for (; j + 4 <= width; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let s00 = 0,
        s01 = 0,
        s02 = 0,
        s03 = 0;
      let s10 = 0,
        s11 = 0,
        s12 = 0,
        s13 = 0;
      let s20 = 0,
        s21 = 0,
        s22 = 0,
        s23 = 0;
      let s30 = 0,
        s31 = 0,
        s32 = 0,
        s33 = 0;
      for (let p = 0; p < k; p++) {
        const x0 = aPanel[a0 + p];
        const x1 = aPanel[a1 + p];
        const x2 = aPanel[a2 + p];
        const x3 = aPanel[a3 + p];
        const y0 = bPanel[b0 + p];
        const y1 = bPanel[b1 + p];
        const y2 = bPanel[b2 + p];
        const y3 = bPanel[b3 + p];
        s00 += x0 * y0;
        s01 += x0 * y1;
        s02 += x0 * y2;
        s03 += x0 * y3;
        s10 += x1 * y0;
        s11 += x1 * y1;
        s12 += x1 * y2;
        s13 += x1 * y3;
        s20 += x2 * y0;
        s21 += x2 * y1;
        s22 += x2 * y2;
        s23 += x2 * y3;
        s30 += x3 * y0;
        s31 += x3 * y1;
        s32 += x3 * y2;
        s33 += x3 * y3;
      }
      let t = i * stride + j;
      sums[t] = s00;
      sums[t + 1] = s01;
      sums[t + 2] = s02;
      sums[t + 3] = s03;
      t += stride;
      sums[t] = s10;
      sums[t + 1] = s11;
      sums[t + 2] = s12;
      sums[t + 3] = s13;
      t += stride;
      sums[t] = s20;
      sums[t + 1] = s21;
      sums[t + 2] = s22;
      sums[t + 3] = s23;
      t += stride;
      sums[t] = s30;
      sums[t + 1] = s31;
      sums[t + 2] = s32;
      sums[t + 3] = s33;
    }
    for (; j < width; j++) {
      const bj = j * k;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let p = 0; p < k; p++) {
        const y = bPanel[bj + p];
        s0 += aPanel[a0 + p] * y;
        s1 += aPanel[a1 + p] * y;
        s2 += aPanel[a2 + p] * y;
        s3 += aPanel[a3 + p] * y;
      }
      const t = i * stride + j;
      sums[t] = s0;
      sums[t + stride] = s1;
      sums[t + 2 * stride] = s2;
      sums[t + 3 * stride] = s3;
    }
  }
  for (; i < height; i++) {
    const ai = i * k;
    for (let j = 0; j < width; j++) {
      const bj = j * k;
      let s = 0;
      for (let p = 0; p < k; p++) s += aPanel[ai + p] * bPanel[bj + p];
      sums[i * stride + j] = s;
    }
  }
}
