/**
 * Matrices inside a flat parameter buffer, for the matrix-aware optimizers (Muon, AdaGO, FISMO,
 * LMO, Shampoo, SOAP, PSGD Kron, K-FAC, MKOR): how a tensor is seen as a matrix, its views into
 * the buffer, identity factors, products along one dimension of a tensor, and the check that
 * gradient statistics stayed finite.
 */
import { InvalidArgumentError, NonFiniteError } from "../errors.js";
import { firstNonFiniteIndex } from "../kernels/shampoo.js";
import { gram, matmul } from "../linalg/matmul.js";
import type { FloatArray, Layout, TensorSpec } from "../params/layout.js";
import { perLayout } from "./perLayout.js";

// ---------------------------------------------------------------------------------------------
// A tensor as a matrix

/** How a matrix-aware transform sees a tensor: the first dimension by all the others. */
export interface MatrixShape {
  /** shape[0]. */
  readonly rows: number;
  /** Product of the remaining dimensions. */
  readonly cols: number;
}

const ORTHOGONALIZE_EACH_TENSOR =
  "a matrix (two or more dimensions), since this transform orthogonalizes each tensor; route vectors and scalars to an element-wise optimizer (e.g. muonWithAdamw, or partition)";

/**
 * The matrix view of `tensor` for a matrix-aware transform; throws an
 * {@link InvalidArgumentError} naming the tensor when it has fewer than two dimensions, with
 * `requirement` as the reason (by default that of the orthogonalizing transforms).
 */
export function matrixShape(
  owner: string,
  tensor: TensorSpec,
  requirement: string = ORTHOGONALIZE_EACH_TENSOR,
): MatrixShape {
  if (tensor.shape.length < 2) {
    throw new InvalidArgumentError(owner, `shape of ${tensor.name}`, tensor.shape, requirement);
  }
  const rows = tensor.shape[0];
  return { rows, cols: rows === 0 ? 0 : tensor.size / rows };
}

/**
 * The matrix views of every tensor of a layout, made once per layout; a layout holding a vector
 * or a scalar is rejected (see {@link matrixShape}) when it is first seen.
 */
export function matrixShapes(owner: string): (layout: Layout) => readonly MatrixShape[] {
  return perLayout((layout) => layout.tensors.map((t) => matrixShape(owner, t)));
}

const viewCache = new WeakMap<FloatArray, { layout: Layout; views: FloatArray[] }>();

/**
 * The per-tensor views of `buffer` (a buffer of `layout`), made once per buffer and layout so
 * that per-tensor loops do not allocate on every step.
 */
export function tensorViews(buffer: FloatArray, layout: Layout): readonly FloatArray[] {
  const cached = viewCache.get(buffer);
  if (cached && cached.layout === layout) return cached.views;
  const views = layout.tensors.map((t) => buffer.subarray(t.offset, t.offset + t.size));
  viewCache.set(buffer, { layout, views });
  return views;
}

// ---------------------------------------------------------------------------------------------
// Factors

/** Writes `diagonal·I` (n×n, row-major) into `out` and returns it. */
export function setIdentity(out: Float64Array, n: number, diagonal = 1): Float64Array {
  out.fill(0);
  for (let i = 0; i < n; i++) out[i * n + i] = diagonal;
  return out;
}

/** A fresh n×n `diagonal·I`, row-major. */
export function identityMatrix(n: number, diagonal = 1): Float64Array {
  return setIdentity(new Float64Array(n * n), n, diagonal);
}

// ---------------------------------------------------------------------------------------------
// Products along one dimension of a tensor

/**
 * One dimension of a row-major tensor, seen as `before × size × after`: the products of the
 * dimensions ahead of it and behind it.
 */
export interface TensorMode {
  /** The dimension's length n. */
  readonly size: number;
  /** Product of the dimensions ahead of this one. */
  readonly before: number;
  /** Product of the dimensions behind this one. */
  readonly after: number;
}

/** The modes of a tensor with dimensions `dims`, one per dimension. */
export function tensorModes(dims: readonly number[]): TensorMode[] {
  return dims.map((size, i) => {
    let before = 1;
    let after = 1;
    for (let j = 0; j < i; j++) before *= dims[j];
    for (let j = i + 1; j < dims.length; j++) after *= dims[j];
    return { size, before, after };
  });
}

/**
 * `out[b, :, a] ← op(M)·x[b, :, a]` with op(M) = M or Mᵀ (n×n): M applied along one dimension
 * of `x`. Each entry is one dot product summed in the order of {@link matmul}.
 */
export function modeProduct(
  m: Float64Array,
  transposeM: boolean,
  x: Float64Array,
  mode: TensorMode,
  out: Float64Array,
): void {
  const { size: n, before, after } = mode;
  if (before === 1) {
    matmul(m, x, n, n, after, out, { transposeA: transposeM });
  } else if (after === 1) {
    // Rows x_b: out_b = op(M)·x_b is the row x_b·op(M)ᵀ.
    matmul(x, m, before, n, n, out, { transposeB: !transposeM });
  } else {
    const slab = n * after;
    for (let b = 0; b < before; b++) {
      matmul(
        m,
        x.subarray(b * slab, (b + 1) * slab),
        n,
        n,
        after,
        out.subarray(b * slab, (b + 1) * slab),
        { transposeA: transposeM },
      );
    }
  }
}

/**
 * `out ← Σ_b x[b, :, :]·x[b, :, :]ᵀ`, the Gram matrix (n×n) of the unfolding of `x` along one
 * dimension, or `out + Σ_b …` with `add`. The result is exactly symmetric.
 */
export function modeGram(x: Float64Array, mode: TensorMode, out: Float64Array, add = false): void {
  const { size: n, before, after } = mode;
  const beta = add ? 1 : 0;
  if (before === 1) gram(x, n, after, out, "left", { beta });
  else if (after === 1) gram(x, before, n, out, "right", { beta });
  else {
    const slab = n * after;
    for (let b = 0; b < before; b++) {
      gram(x.subarray(b * slab, (b + 1) * slab), n, after, out, "left", {
        beta: b === 0 ? beta : 1,
      });
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Checks

/**
 * Throws a {@link NonFiniteError} naming the tensor when the statistic `values` (a Gram matrix
 * of gradients, or a root of one) holds NaN or ±Infinity.
 */
export function requireFinite(
  owner: string,
  what: string,
  tensor: string,
  values: Float64Array,
): void {
  const bad = firstNonFiniteIndex(values);
  if (bad >= 0) {
    throw new NonFiniteError(
      `${owner}: ${what} (squares of the gradient overflowed; lower the learning rate or clip the gradients)`,
      tensor,
      bad,
      values[bad],
    );
  }
}
