/**
 * A ParamSet owns one flat buffer holding every parameter of a model, with a {@link Layout} that
 * names the tensors inside it. Tensor views share the buffer, so writing through a view updates
 * the parameters and the optimizer sees every tensor in one contiguous array.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { Allocator, DType, FloatArray, Selector, TensorSpec } from "./layout.js";
import { Layout, plainAllocator } from "./layout.js";

/** A number or an arbitrarily nested array of numbers (row-major). */
export type NestedArray = number | readonly NestedArray[];

/** A tensor given explicitly: its shape and row-major data. */
export interface ShapedData {
  /** Dimensions. */
  readonly shape: readonly number[];
  /** Row-major values; `data.length` must equal the product of `shape`. */
  readonly data: ArrayLike<number>;
}

/** Anything {@link ParamSet.fromRecord} accepts as one tensor. */
export type TensorInit = NestedArray | FloatArray | ShapedData;

/** A tree of tensors: nested objects whose leaves are tensors; paths become dotted names. */
export interface TensorTree {
  readonly [key: string]: TensorInit | TensorTree;
}

function isShapedData(x: unknown): x is ShapedData {
  return (
    typeof x === "object" &&
    x !== null &&
    !Array.isArray(x) &&
    "shape" in x &&
    "data" in x &&
    Array.isArray((x as ShapedData).shape)
  );
}

function isLeaf(x: unknown): x is TensorInit {
  return (
    typeof x === "number" ||
    Array.isArray(x) ||
    x instanceof Float32Array ||
    x instanceof Float64Array ||
    isShapedData(x)
  );
}

/** Shape of a nested array; throws if it is ragged. */
export function nestedShape(value: NestedArray, name = "value"): number[] {
  const shape: number[] = [];
  let cursor: NestedArray = value;
  while (Array.isArray(cursor)) {
    shape.push(cursor.length);
    cursor = (cursor as readonly NestedArray[])[0];
    if (cursor === undefined) break;
  }
  const check = (v: NestedArray, depth: number): void => {
    if (depth === shape.length) {
      if (typeof v !== "number") {
        throw new ShapeMismatchError(
          `${name}: ragged nested array (expected a number at depth ${depth})`,
        );
      }
      return;
    }
    if (!Array.isArray(v) || v.length !== shape[depth]) {
      throw new ShapeMismatchError(
        `${name}: ragged nested array (expected length ${shape[depth]} at depth ${depth})`,
      );
    }
    for (const item of v as readonly NestedArray[]) check(item, depth + 1);
  };
  check(value, 0);
  return shape;
}

function flattenNested(value: NestedArray, out: FloatArray, offset: number): number {
  if (typeof value === "number") {
    out[offset] = value;
    return offset + 1;
  }
  for (const item of value) offset = flattenNested(item, out, offset);
  return offset;
}

/** Builds a nested array of the given shape from row-major data. */
export function toNested(data: ArrayLike<number>, shape: readonly number[]): NestedArray {
  if (shape.length === 0) return data[0];
  const build = (depth: number, start: number): NestedArray[] => {
    const stride = shape.slice(depth + 1).reduce((a, b) => a * b, 1);
    const out: NestedArray[] = [];
    for (let i = 0; i < shape[depth]; i++) {
      const s = start + i * stride;
      out.push(depth === shape.length - 1 ? data[s] : build(depth + 1, s));
    }
    return out;
  };
  return build(0, 0);
}

function collectLeaves(
  tree: TensorTree,
  prefix: string,
  out: { name: string; value: TensorInit }[],
): void {
  for (const key of Object.keys(tree)) {
    const value = tree[key];
    const name = prefix ? `${prefix}.${key}` : key;
    if (isLeaf(value)) out.push({ name, value });
    else if (typeof value === "object" && value !== null)
      collectLeaves(value as TensorTree, name, out);
    else
      throw new InvalidArgumentError(
        "ParamSet.fromRecord",
        name,
        value,
        "a tensor or a tree of tensors",
      );
  }
}

/** Named tensors in one contiguous buffer. */
export class ParamSet {
  /** Tensor names, shapes and offsets. */
  readonly layout: Layout;
  /** The flat buffer; tensors are views into it. */
  readonly data: FloatArray;

  /**
   * Wraps an existing buffer (no copy).
   * @param layout - where each tensor lives in `data`
   * @param data - the flat buffer; allocated with `layout.zeros()` when omitted
   */
  constructor(layout: Layout, data?: FloatArray) {
    this.layout = layout;
    if (data === undefined) data = layout.zeros();
    layout.assertBuffer(data, "ParamSet data");
    this.data = data;
  }

  /** Zero-filled parameters with the given names and shapes. */
  static zeros(
    specs: readonly { name: string; shape: readonly number[] }[],
    dtype: DType = "float32",
    allocate: Allocator = plainAllocator,
  ): ParamSet {
    return new ParamSet(new Layout(specs, dtype, allocate));
  }

  /**
   * Copies a tree of tensors into one buffer. Leaves may be numbers, nested arrays, typed
   * arrays (1-D) or `{ shape, data }`; nested object keys become dotted names (`{layer1:
   * {weight}}` → `layer1.weight`). Key order is the packing order.
   */
  static fromRecord(
    tree: TensorTree,
    dtype: DType = "float32",
    allocate: Allocator = plainAllocator,
  ): ParamSet {
    const leaves: { name: string; value: TensorInit }[] = [];
    collectLeaves(tree, "", leaves);
    const specs = leaves.map(({ name, value }) => {
      if (value instanceof Float32Array || value instanceof Float64Array) {
        return { name, shape: [value.length] };
      }
      if (isShapedData(value)) return { name, shape: [...value.shape] };
      return { name, shape: nestedShape(value as NestedArray, name) };
    });
    const set = new ParamSet(new Layout(specs, dtype, allocate));
    leaves.forEach(({ name, value }, i) => {
      const t = set.layout.tensors[i];
      if (isShapedData(value)) {
        if (value.data.length !== t.size) {
          throw new ShapeMismatchError(
            `${name}: data has ${value.data.length} elements, shape [${t.shape.join(", ")}] needs ${t.size}`,
          );
        }
        for (let k = 0; k < t.size; k++) set.data[t.offset + k] = value.data[k];
      } else if (value instanceof Float32Array || value instanceof Float64Array) {
        set.data.set(value, t.offset);
      } else {
        flattenNested(value as NestedArray, set.data, t.offset);
      }
    });
    return set;
  }

  /** The view of tensor `name` (shares memory with {@link ParamSet.data}). */
  view(name: string): FloatArray {
    return this.layout.view(this.data, name);
  }

  /** Tensor `name` as a nested array (a copy). */
  get(name: string): NestedArray {
    const t = this.layout.tensor(name);
    return toNested(this.view(name), t.shape);
  }

  /** Overwrites tensor `name` from a nested array or flat data of the right size. */
  set(name: string, value: NestedArray | ArrayLike<number>): void {
    const t = this.layout.tensor(name);
    const view = this.view(name);
    if (typeof value === "number" || (Array.isArray(value) && Array.isArray(value[0]))) {
      const shape = nestedShape(value as NestedArray, name);
      if (shape.join(",") !== t.shape.join(",")) {
        throw new ShapeMismatchError(
          `${name}: value has shape [${shape.join(", ")}], tensor has [${t.shape.join(", ")}]`,
        );
      }
      flattenNested(value as NestedArray, view, 0);
      return;
    }
    const flat = value as ArrayLike<number>;
    if (flat.length !== t.size) {
      throw new ShapeMismatchError(
        `${name}: value has ${flat.length} elements, tensor has ${t.size}`,
      );
    }
    for (let k = 0; k < t.size; k++) view[k] = flat[k];
  }

  /** Every tensor as a nested array, keyed by name (a copy). */
  toRecord(): Record<string, NestedArray> {
    const out: Record<string, NestedArray> = {};
    for (const t of this.layout.tensors) out[t.name] = this.get(t.name);
    return out;
  }

  /** A deep copy with the same layout. */
  clone(): ParamSet {
    const copy = this.layout.zeros();
    copy.set(this.data);
    return new ParamSet(this.layout, copy);
  }

  /** Tensors chosen by `selector`. */
  select(selector: Selector): TensorSpec[] {
    return this.layout.select(selector);
  }

  /** Number of scalar parameters. */
  get size(): number {
    return this.layout.size;
  }
}
