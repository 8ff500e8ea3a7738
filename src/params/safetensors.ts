/**
 * Parameters in the safetensors layout (huggingface/safetensors): write a parameter set as a
 * file of named tensors, and read parameters back by name from such a file or from a descend
 * optimizer checkpoint saved with `includeParams` (src/optim/checkpoint.ts).
 *
 * File layout:
 *
 *     [8 bytes]  N, unsigned 64-bit little-endian: byte length of the header
 *     [N bytes]  UTF-8 JSON header: { "__metadata__": { string: string },
 *                  "<tensor>": { "dtype": "F32" | "F64", "shape": [...], "data_offsets": [b, e] } }
 *     [rest]     raw little-endian tensor data; offsets are relative to the start of this
 *                section, and the tensors cover it exactly, without gaps or overlaps
 *
 * A parameter file names each tensor as the layout does (`layer1.weight`), which is also how
 * other safetensors writers name model weights; an optimizer checkpoint keeps them under
 * `params/<name>` beside its state, with `%` and `/` in names escaped as `%25` and `%2F`.
 * Reading matches tensors by name, so the order in the file does not matter, and checks every
 * name, shape and byte range before it writes anything. Values are converted to the layout's
 * element type (float32 → float64 is exact; float64 → float32 rounds to nearest).
 *
 * Only bytes are handled here (no file system), so the module works in browsers too.
 */
import { ShapeMismatchError } from "../errors.js";
import type { FloatArray, Layout } from "./layout.js";

/** Value of `descend.format` in the metadata of a parameter file. */
export const PARAMS_FORMAT = "descend.params";

/** Version of the parameter file format written here. */
export const PARAMS_VERSION = 1;

/** `descend.format` of optimizer checkpoints, whose parameters live under `params/`. */
const OPTIMIZER_FORMAT = "descend.optimizer";

/** Largest header accepted, as the reference safetensors implementation. */
const MAX_HEADER_BYTES = 100_000_000;

/** A safetensors file that is malformed or truncated, or holds no parameters. */
export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SafetensorsError";
  }
}

/** Element types descend reads and writes. */
export type SafetensorsDType = "F32" | "F64";

/** One tensor of a parsed file. */
export interface SafetensorsTensor {
  /** Element type. */
  readonly dtype: SafetensorsDType;
  /** Dimensions, row-major. */
  readonly shape: readonly number[];
  /** Absolute byte offset of the first element in the file. */
  readonly begin: number;
  /** Absolute byte offset just past the last element. */
  readonly end: number;
}

/** The structure of a safetensors file: its metadata and where each tensor's bytes are. */
export interface SafetensorsFile {
  /** The `__metadata__` strings (empty when the file has none). */
  readonly metadata: Readonly<Record<string, string>>;
  /** Tensors by name, in header order. */
  readonly tensors: ReadonlyMap<string, SafetensorsTensor>;
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function bytesPer(dtype: SafetensorsDType): number {
  return dtype === "F64" ? 8 : 4;
}

/**
 * Parses and checks the structure of safetensors `bytes`: header length, UTF-8 JSON, every
 * tensor's dtype (F32 or F64), shape and byte range, and that the tensors cover the data exactly.
 * @throws SafetensorsError naming what is wrong
 */
export function parseSafetensors(bytes: Uint8Array): SafetensorsFile {
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError(`expected the bytes of a safetensors file, got ${typeof bytes}`);
  }
  if (bytes.length < 8) {
    throw new SafetensorsError(
      `file is truncated: ${bytes.length} bytes, fewer than the 8-byte header length`,
    );
  }
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw new SafetensorsError(
      `header is corrupt: it declares ${declared} header bytes (more than ${MAX_HEADER_BYTES})`,
    );
  }
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    throw new SafetensorsError(
      `file is truncated: the header declares ${headerLength} bytes but only ${bytes.length - 8} follow`,
    );
  }
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    );
    header = JSON.parse(text);
  } catch {
    throw new SafetensorsError("header is corrupt: not UTF-8 JSON");
  }
  if (!isRecord(header)) throw new SafetensorsError("header is corrupt: not a JSON object");
  const metadata: Record<string, string> = {};
  if (header.__metadata__ !== undefined) {
    if (!isRecord(header.__metadata__)) {
      throw new SafetensorsError("header is corrupt: __metadata__ is not an object");
    }
    for (const [key, value] of Object.entries(header.__metadata__)) {
      if (typeof value !== "string") {
        throw new SafetensorsError(`header is corrupt: __metadata__.${key} is not a string`);
      }
      metadata[key] = value;
    }
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsTensor>();
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const corrupt = (why: string) =>
      new SafetensorsError(`header is corrupt: tensor "${name}" ${why}`);
    if (!isRecord(raw)) throw corrupt("is not an object");
    const { dtype, shape, data_offsets: offsets } = raw;
    if (dtype !== "F32" && dtype !== "F64") {
      throw corrupt(`has dtype ${JSON.stringify(dtype)} (F32 and F64 are supported)`);
    }
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw corrupt(`has shape ${JSON.stringify(shape)} (expected non-negative integers)`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isCount) ||
      offsets[0] > offsets[1]
    ) {
      throw corrupt(`has data_offsets ${JSON.stringify(offsets)} (expected [begin, end])`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const needed = elements * bytesPer(dtype);
    if (offsets[1] - offsets[0] !== needed) {
      throw corrupt(
        `spans ${offsets[1] - offsets[0]} bytes, but ${dtype} ${formatShape(shape)} needs ${needed}`,
      );
    }
    tensors.set(name, {
      dtype,
      shape: Object.freeze([...(shape as number[])]),
      begin: dataStart + offsets[0],
      end: dataStart + offsets[1],
    });
    ranges.push({ name, begin: offsets[0], end: offsets[1] });
  }
  ranges.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  for (const range of ranges) {
    if (range.begin !== cursor) {
      throw new SafetensorsError(
        `header is corrupt: tensor "${range.name}" starts at byte ${range.begin} of the data, expected ${cursor} (tensors must cover the data without gaps or overlaps)`,
      );
    }
    cursor = range.end;
  }
  const available = bytes.length - dataStart;
  if (cursor > available) {
    throw new SafetensorsError(
      `file is truncated: the tensors need ${cursor} bytes of data, only ${available} are present`,
    );
  }
  if (cursor < available) {
    throw new SafetensorsError(
      `file is corrupt: ${available - cursor} bytes after the last tensor`,
    );
  }
  return { metadata, tensors };
}

/** Undoes the checkpoint's escaping of `%` and `/` in a path segment. */
function unescapeSegment(name: string): string {
  return name.replace(/%2F|%25/g, (code) => (code === "%2F" ? "/" : "%"));
}

function listNames(names: readonly string[]): string {
  const shown = names.slice(0, 8).map((n) => JSON.stringify(n));
  return names.length > 8 ? `${shown.join(", ")}, … (${names.length} in all)` : shown.join(", ");
}

/**
 * The parameter tensors of `file` by layout name: those under `params/` in an optimizer
 * checkpoint, every tensor otherwise.
 */
function parameterTensors(file: SafetensorsFile): Map<string, SafetensorsTensor> {
  const prefixed = [...file.tensors].filter(([name]) => name.startsWith("params/"));
  if (prefixed.length > 0) {
    return new Map(prefixed.map(([name, t]) => [unescapeSegment(name.slice(7)), t]));
  }
  if (file.metadata["descend.format"] === OPTIMIZER_FORMAT) {
    throw new SafetensorsError(
      "the optimizer checkpoint holds no parameters (it was saved without includeParams)",
    );
  }
  return new Map(file.tensors);
}

/**
 * Reads the parameters of `layout` by name from safetensors `bytes`: a parameter file (tensors
 * named as in the layout) or an optimizer checkpoint saved with `includeParams` (tensors under
 * `params/`). Every tensor of the layout must be present with its shape, and the file may hold
 * no other parameter; values are converted to the layout's element type. Nothing is written
 * unless every check passes.
 * @param out - where to write (default: a new buffer from `layout.zeros()`)
 * @returns `out`
 * @throws SafetensorsError for a malformed or truncated file or one without parameters;
 *   ShapeMismatchError naming the tensor that is missing, extra or of another shape
 */
export function readParams(bytes: Uint8Array, layout: Layout, out?: FloatArray): FloatArray {
  const file = parseSafetensors(bytes);
  const target = out ?? layout.zeros();
  layout.assertBuffer(target, "readParams out");
  const stored = parameterTensors(file);
  const copies: { tensor: SafetensorsTensor; offset: number; size: number }[] = [];
  for (const t of layout.tensors) {
    const tensor = stored.get(t.name);
    if (tensor === undefined) {
      throw new ShapeMismatchError(
        `tensor "${t.name}" ${formatShape(t.shape)} is not in the file, which holds ${listNames([...stored.keys()]) || "no tensors"}`,
      );
    }
    if (tensor.shape.length !== t.shape.length || tensor.shape.some((d, i) => d !== t.shape[i])) {
      throw new ShapeMismatchError(
        `tensor "${t.name}" has shape ${formatShape(tensor.shape)} in the file, ${formatShape(t.shape)} here`,
      );
    }
    copies.push({ tensor, offset: t.offset, size: t.size });
  }
  const extra = [...stored.keys()].filter((name) => !layout.has(name));
  if (extra.length > 0) {
    throw new ShapeMismatchError(
      `the file holds tensor "${extra[0]}", which the layout lacks (its tensors: ${listNames(layout.tensors.map((t) => t.name))})`,
    );
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (const { tensor, offset, size } of copies) {
    if (tensor.dtype === "F64") {
      for (let i = 0; i < size; i++)
        target[offset + i] = view.getFloat64(tensor.begin + 8 * i, true);
    } else {
      for (let i = 0; i < size; i++)
        target[offset + i] = view.getFloat32(tensor.begin + 4 * i, true);
    }
  }
  return target;
}

/**
 * The parameters `data` of `layout` as the bytes of a safetensors file: one tensor per
 * parameter, named as in the layout, in the layout's element type, and metadata recording the
 * format and the layout plus any `metadata` given (string values; keys starting with
 * `descend.` are reserved).
 */
export function serializeParams(
  layout: Layout,
  data: FloatArray,
  metadata: Readonly<Record<string, string>> = {},
): Uint8Array {
  layout.assertBuffer(data, "serializeParams data");
  for (const [key, value] of Object.entries(metadata)) {
    if (key.startsWith("descend.") || typeof value !== "string") {
      throw new SafetensorsError(
        `metadata ${JSON.stringify(key)} must be a string under a key not starting with "descend."`,
      );
    }
  }
  const dtype: SafetensorsDType = layout.dtype === "float64" ? "F64" : "F32";
  const width = bytesPer(dtype);
  const header: Record<string, unknown> = {
    __metadata__: {
      ...metadata,
      "descend.format": PARAMS_FORMAT,
      "descend.version": String(PARAMS_VERSION),
      "descend.layout": JSON.stringify({
        dtype: layout.dtype,
        tensors: layout.tensors.map((t) => ({ name: t.name, shape: t.shape })),
      }),
    },
  };
  for (const t of layout.tensors) {
    header[t.name] = {
      dtype,
      shape: t.shape,
      data_offsets: [t.offset * width, (t.offset + t.size) * width],
    };
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  // Spaces pad the header so the data starts at a multiple of 8 bytes: aligned for any reader.
  const headerLength = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + headerLength + layout.size * width);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerLength);
  const start = 8 + headerLength;
  if (dtype === "F64") {
    for (let i = 0; i < data.length; i++) view.setFloat64(start + 8 * i, data[i], true);
  } else {
    for (let i = 0; i < data.length; i++) view.setFloat32(start + 4 * i, data[i], true);
  }
  return out;
}
