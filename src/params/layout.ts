/**
 * The layout of a parameter set: named tensors packed one after another in a single flat buffer.
 * Optimizer kernels loop once over the whole buffer; per-tensor and matrix-aware code uses the
 * offsets. A layout is immutable and shared by the parameters, the gradient and every optimizer
 * state buffer of the same model.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";

/** Element type of a parameter buffer. */
export type DType = "float32" | "float64";

/** The flat buffers descend works on. */
export type FloatArray = Float32Array | Float64Array;

/** One named tensor inside a layout. */
export interface TensorSpec {
  /** Dotted path such as `layer1.weight`. */
  readonly name: string;
  /** Dimensions, row-major (last index fastest). `[]` is a scalar. */
  readonly shape: readonly number[];
  /** Index of the tensor's first element in the flat buffer. */
  readonly offset: number;
  /** Number of elements (product of `shape`). */
  readonly size: number;
}

/**
 * Chooses tensors by name. A string is a glob over dotted names (`*` matches within one path
 * segment, `**` across segments: `"**.bias"`, `"layer1.*"`); a RegExp is tested against the name;
 * an array lists exact names; a function sees the whole {@link TensorSpec}.
 */
export type Selector = string | RegExp | readonly string[] | ((tensor: TensorSpec) => boolean);

function globToRegExp(glob: string): RegExp {
  let source = "";
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i];
    if (c === "*") {
      if (glob[i + 1] === "*") {
        source += ".*";
        i++;
      } else source += "[^.]*";
    } else if (c === "?") source += "[^.]";
    else source += c.replace(/[\\^$+.()|{}[\]]/g, "\\$&");
  }
  return new RegExp(`^${source}$`);
}

/** Turns a {@link Selector} into a predicate on tensors. */
export function selectorPredicate(selector: Selector): (tensor: TensorSpec) => boolean {
  if (typeof selector === "function") return selector;
  if (selector instanceof RegExp) return (t) => selector.test(t.name);
  if (typeof selector === "string") {
    const re = globToRegExp(selector);
    return (t) => re.test(t.name);
  }
  const names = new Set(selector);
  return (t) => names.has(t.name);
}

/** Product of a shape's dimensions (1 for a scalar). */
export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Allocates a zero-filled buffer; kernels may supply one that lives in WebAssembly memory. */
export type Allocator = (dtype: DType, length: number) => FloatArray;

/** The default allocator: ordinary typed arrays. */
export const plainAllocator: Allocator = (dtype, length) =>
  dtype === "float32" ? new Float32Array(length) : new Float64Array(length);

/** Names, shapes and offsets of the tensors in a flat buffer. */
export class Layout {
  /** Element type of every buffer with this layout. */
  readonly dtype: DType;
  /** Tensors in buffer order. */
  readonly tensors: readonly TensorSpec[];
  /** Total number of elements. */
  readonly size: number;
  /** Allocator used by {@link Layout.zeros}. */
  readonly allocate: Allocator;
  private readonly byName: Map<string, TensorSpec>;

  /**
   * @param specs - tensor names and shapes, in the order they are packed
   * @param dtype - element type (default `"float32"`)
   * @param allocate - where buffers come from (default: plain typed arrays)
   */
  constructor(
    specs: readonly { name: string; shape: readonly number[] }[],
    dtype: DType = "float32",
    allocate: Allocator = plainAllocator,
  ) {
    if (dtype !== "float32" && dtype !== "float64") {
      throw new InvalidArgumentError("Layout", "dtype", dtype, '"float32" or "float64"');
    }
    const tensors: TensorSpec[] = [];
    const byName = new Map<string, TensorSpec>();
    let offset = 0;
    for (const spec of specs) {
      if (typeof spec.name !== "string" || spec.name.length === 0) {
        throw new InvalidArgumentError("Layout", "name", spec.name, "a non-empty string");
      }
      if (byName.has(spec.name)) {
        throw new InvalidArgumentError("Layout", "name", spec.name, "unique within the layout");
      }
      for (const d of spec.shape) {
        if (!Number.isInteger(d) || d < 0) {
          throw new InvalidArgumentError(
            "Layout",
            `shape of ${spec.name}`,
            spec.shape,
            "a list of non-negative integers",
          );
        }
      }
      const t: TensorSpec = Object.freeze({
        name: spec.name,
        shape: Object.freeze([...spec.shape]),
        offset,
        size: shapeSize(spec.shape),
      });
      tensors.push(t);
      byName.set(t.name, t);
      offset += t.size;
    }
    this.dtype = dtype;
    this.tensors = Object.freeze(tensors);
    this.size = offset;
    this.allocate = allocate;
    this.byName = byName;
  }

  /** The tensor called `name`; throws naming the known tensors if there is none. */
  tensor(name: string): TensorSpec {
    const t = this.byName.get(name);
    if (!t) {
      throw new InvalidArgumentError(
        "Layout",
        "name",
        name,
        `one of the layout's tensors (${[...this.byName.keys()].join(", ")})`,
      );
    }
    return t;
  }

  /** Whether a tensor called `name` exists. */
  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** A new zero-filled buffer of this layout's size and dtype. */
  zeros(): FloatArray {
    return this.allocate(this.dtype, this.size);
  }

  /** The view of `buffer` holding tensor `name` (no copy). */
  view(buffer: FloatArray, name: string): FloatArray {
    const t = this.tensor(name);
    return buffer.subarray(t.offset, t.offset + t.size);
  }

  /** Tensors chosen by `selector`, in buffer order. */
  select(selector: Selector): TensorSpec[] {
    const keep = selectorPredicate(selector);
    return this.tensors.filter(keep);
  }

  /** One flag per tensor (1 = selected), in buffer order: the form masks are stored in. */
  mask(selector: Selector): Uint8Array {
    const keep = selectorPredicate(selector);
    return Uint8Array.from(this.tensors, (t) => (keep(t) ? 1 : 0));
  }

  /** Whether two layouts have the same tensors (names, shapes, order) and dtype. */
  equals(other: Layout): boolean {
    if (other === this) return true;
    if (other.dtype !== this.dtype || other.tensors.length !== this.tensors.length) return false;
    return this.tensors.every((t, i) => {
      const o = other.tensors[i];
      return (
        o.name === t.name &&
        o.shape.length === t.shape.length &&
        o.shape.every((d, k) => d === t.shape[k])
      );
    });
  }

  /** Throws a {@link ShapeMismatchError} describing the first difference unless layouts match. */
  assertSame(other: Layout, what: string): void {
    if (this.equals(other)) return;
    if (other.dtype !== this.dtype) {
      throw new ShapeMismatchError(`${what}: dtype ${other.dtype} does not match ${this.dtype}`);
    }
    for (let i = 0; i < Math.max(this.tensors.length, other.tensors.length); i++) {
      const a = this.tensors[i];
      const b = other.tensors[i];
      const da = a ? `${a.name} [${a.shape.join(", ")}]` : "nothing";
      const db = b ? `${b.name} [${b.shape.join(", ")}]` : "nothing";
      if (da !== db) {
        throw new ShapeMismatchError(`${what}: tensor ${i} is ${db}, expected ${da}`);
      }
    }
  }

  /** Checks that `buffer` is a buffer of this layout (length and element type). */
  assertBuffer(buffer: FloatArray, what: string): void {
    const expected = this.dtype === "float32" ? Float32Array : Float64Array;
    if (!(buffer instanceof expected)) {
      throw new ShapeMismatchError(
        `${what}: expected a ${expected.name} (layout dtype ${this.dtype}), got ${buffer?.constructor?.name ?? typeof buffer}`,
      );
    }
    if (buffer.length !== this.size) {
      throw new ShapeMismatchError(
        `${what}: expected ${this.size} elements (the layout's size), got ${buffer.length}`,
      );
    }
  }

  /** The layout restricted to `tensors` (packed contiguously, new offsets). */
  subset(tensors: readonly TensorSpec[]): Layout {
    return new Layout(tensors, this.dtype, this.allocate);
  }
}
