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
 * The reader ({@link parseSafetensors}) and the writer ({@link layOutSafetensors}) of the format
 * serve every descend file: parameter files, optimizer checkpoints and zeroth-order checkpoints.
 * They handle bytes only, so they work in browsers too; the two file helpers
 * ({@link writeFileAtomically}, {@link readFileBytes}) load Node's file system on first use.
 */
import type * as NodeFs from "node:fs/promises";
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { FloatArray, Layout } from "./layout.js";

/** Value of `descend.format` in the metadata of a parameter file. */
export const PARAMS_FORMAT = "descend.params";

/** Version of the parameter file format written here. */
export const PARAMS_VERSION = 1;

/** `descend.format` of optimizer checkpoints, whose parameters live under `params/`. */
const OPTIMIZER_FORMAT = "descend.optimizer";

/** Largest header accepted, as the reference safetensors implementation. */
const MAX_HEADER_BYTES = 100_000_000;

/** What {@link parseSafetensors} found wrong: bytes missing, or bytes that do not fit. */
export type SafetensorsProblem = "truncated" | "corrupt";

/** A safetensors file that is malformed or truncated, or holds no parameters. */
export class SafetensorsError extends Error {
  /** `"truncated"` when the file ends early, `"corrupt"` otherwise. */
  readonly problem: SafetensorsProblem;

  constructor(message: string, problem: SafetensorsProblem = "corrupt") {
    super(message);
    this.name = "SafetensorsError";
    this.problem = problem;
  }
}

/**
 * Element types descend reads and writes: F32 and F64 for parameters and optimizer state, U8
 * for byte tensors (the log and checksum of a zeroth-order checkpoint).
 */
export type SafetensorsDType = "F32" | "F64" | "U8";

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

/** Options of {@link parseSafetensors}. */
export interface ParseSafetensorsOptions {
  /**
   * What the file is called in messages (default `"file"`: "file is truncated: …", "file header
   * is corrupt: …").
   */
  readonly subject?: string;
  /** The element types accepted (default F32 and F64). */
  readonly dtypes?: readonly SafetensorsDType[];
  /**
   * Tell a header that is not UTF-8 from one that is not JSON, with the JSON parser's message
   * (default false: both are "not UTF-8 JSON").
   */
  readonly explainUndecodableHeader?: boolean;
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
  return dtype === "F64" ? 8 : dtype === "F32" ? 4 : 1;
}

const FLOAT_DTYPES: readonly SafetensorsDType[] = ["F32", "F64"];

/** "F32 and F64", "F32, F64 and U8". */
function listDTypes(dtypes: readonly SafetensorsDType[]): string {
  return dtypes.length < 2
    ? dtypes.join("")
    : `${dtypes.slice(0, -1).join(", ")} and ${dtypes[dtypes.length - 1]}`;
}

/** The JSON text of the header, or a message saying why there is none. */
function decodeHeader(
  bytes: Uint8Array,
  explain: boolean,
): { header: unknown } | { failure: string } {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    return { failure: explain ? "not valid UTF-8" : "not UTF-8 JSON" };
  }
  try {
    return { header: JSON.parse(text) as unknown };
  } catch (e) {
    return { failure: explain ? `not valid JSON (${(e as Error).message})` : "not UTF-8 JSON" };
  }
}

/**
 * Parses and checks the structure of safetensors `bytes`: header length, UTF-8 JSON, every
 * tensor's dtype (F32 or F64 unless `options.dtypes` says otherwise), shape and byte range, and
 * that the tensors cover the data exactly.
 * @throws SafetensorsError naming what is wrong, with `problem` `"truncated"` when bytes are
 *   missing
 */
export function parseSafetensors(
  bytes: Uint8Array,
  options: ParseSafetensorsOptions = {},
): SafetensorsFile {
  const subject = options.subject ?? "file";
  const dtypes = options.dtypes ?? FLOAT_DTYPES;
  const truncated = (why: string) =>
    new SafetensorsError(`${subject} is truncated: ${why}`, "truncated");
  const corrupt = (why: string) => new SafetensorsError(`${subject} header is corrupt: ${why}`);
  if (!(bytes instanceof Uint8Array)) {
    throw new SafetensorsError(`expected the bytes of a safetensors file, got ${typeof bytes}`);
  }
  if (bytes.length < 8) {
    throw truncated(`${bytes.length} bytes, fewer than the 8-byte header length`);
  }
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw corrupt(`it declares ${declared} header bytes (more than ${MAX_HEADER_BYTES})`);
  }
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    throw truncated(
      `the header declares ${headerLength} bytes but only ${bytes.length - 8} follow`,
    );
  }
  const decoded = decodeHeader(
    bytes.subarray(8, 8 + headerLength),
    options.explainUndecodableHeader ?? false,
  );
  if ("failure" in decoded) throw corrupt(decoded.failure);
  const { header } = decoded;
  if (!isRecord(header)) throw corrupt("not a JSON object");
  const metadata: Record<string, string> = {};
  if (header.__metadata__ !== undefined) {
    if (!isRecord(header.__metadata__)) throw corrupt("__metadata__ is not an object");
    for (const [key, value] of Object.entries(header.__metadata__)) {
      if (typeof value !== "string") throw corrupt(`__metadata__.${key} is not a string`);
      metadata[key] = value;
    }
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, SafetensorsTensor>();
  const ranges: { name: string; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const bad = (why: string) => corrupt(`tensor "${name}" ${why}`);
    if (!isRecord(raw)) throw bad("is not an object");
    const { dtype, shape, data_offsets: offsets } = raw;
    if (!(dtypes as readonly unknown[]).includes(dtype)) {
      throw bad(`has dtype ${JSON.stringify(dtype)} (${listDTypes(dtypes)} are supported)`);
    }
    const type = dtype as SafetensorsDType;
    if (!Array.isArray(shape) || !shape.every(isCount)) {
      throw bad(`has shape ${JSON.stringify(shape)} (expected non-negative integers)`);
    }
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isCount) ||
      offsets[0] > offsets[1]
    ) {
      throw bad(`has data_offsets ${JSON.stringify(offsets)} (expected [begin, end])`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    const needed = elements * bytesPer(type);
    if (offsets[1] - offsets[0] !== needed) {
      throw bad(
        `spans ${offsets[1] - offsets[0]} bytes, but ${type} ${formatShape(shape)} needs ${needed}`,
      );
    }
    tensors.set(name, {
      dtype: type,
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
      throw corrupt(
        `tensor "${range.name}" starts at byte ${range.begin} of the data, expected ${cursor} (tensors must cover the data without gaps or overlaps)`,
      );
    }
    cursor = range.end;
  }
  const available = bytes.length - dataStart;
  if (cursor > available) {
    throw truncated(`the tensors need ${cursor} bytes of data, only ${available} are present`);
  }
  if (cursor < available) {
    throw new SafetensorsError(
      `${subject} is corrupt: ${available - cursor} bytes after the last tensor`,
    );
  }
  return { metadata, tensors };
}

/** A tensor for {@link layOutSafetensors} to make room for. */
export interface SafetensorsEntry {
  /** Its name in the header. */
  readonly name: string;
  /** Element type. */
  readonly dtype: SafetensorsDType;
  /** Dimensions, row-major; the tensor takes their product times the element size in bytes. */
  readonly shape: readonly number[];
}

/** A safetensors file laid out by {@link layOutSafetensors}, its data still to be written. */
export interface SafetensorsLayout {
  /** The whole file: header written, data section zero-filled. */
  readonly bytes: Uint8Array;
  /** Absolute byte offset of the data section. */
  readonly dataStart: number;
  /** Absolute byte offset of each entry's data, in the order of the entries. */
  readonly begins: readonly number[];
}

/**
 * The bytes of a safetensors file with `metadata` and the tensors `entries`, whose data follow
 * one another in the order given. The header is padded with spaces so that the data section
 * starts at a multiple of 8 bytes: a tensor whose offset in it is a multiple of its element size
 * is then aligned for any reader. The caller writes each tensor's bytes at `begins`.
 */
export function layOutSafetensors(
  metadata: Readonly<Record<string, string>>,
  entries: readonly SafetensorsEntry[],
): SafetensorsLayout {
  const header: Record<string, unknown> = { __metadata__: metadata };
  const offsets: number[] = [];
  let offset = 0;
  for (const { name, dtype, shape } of entries) {
    const end = offset + shape.reduce((a, b) => a * b, 1) * bytesPer(dtype);
    header[name] = { dtype, shape, data_offsets: [offset, end] };
    offsets.push(offset);
    offset = end;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const dataStart = 8 + headerLength;
  const bytes = new Uint8Array(dataStart + offset);
  new DataView(bytes.buffer).setBigUint64(0, BigInt(headerLength), true);
  bytes.set(json, 8);
  bytes.fill(0x20, 8 + json.length, dataStart);
  return { bytes, dataStart, begins: offsets.map((o) => dataStart + o) };
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** Writes `values` into `out` from byte `at`, little-endian, as safetensors stores them. */
export function writeLittleEndian(values: FloatArray, out: Uint8Array, at: number): void {
  if (littleEndian) {
    out.set(new Uint8Array(values.buffer, values.byteOffset, values.byteLength), at);
    return;
  }
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  if (values instanceof Float64Array) {
    for (let i = 0; i < values.length; i++) view.setFloat64(at + 8 * i, values[i], true);
  } else {
    for (let i = 0; i < values.length; i++) view.setFloat32(at + 4 * i, values[i], true);
  }
}

/** Fills `out` with the little-endian values of its element type stored in `bytes` from byte `at`. */
export function readLittleEndian(bytes: Uint8Array, at: number, out: FloatArray): void {
  if (littleEndian) {
    new Uint8Array(out.buffer, out.byteOffset, out.byteLength).set(
      bytes.subarray(at, at + out.byteLength),
    );
    return;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (out instanceof Float64Array) {
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat64(at + 8 * i, true);
  } else {
    for (let i = 0; i < out.length; i++) out[i] = view.getFloat32(at + 4 * i, true);
  }
}

/** One tensor of a {@link LayoutRecord}. */
export interface LayoutRecordTensor {
  /** The tensor's name in the layout. */
  readonly name: string;
  /** Its dimensions. */
  readonly shape: readonly number[];
}

/** The `descend.layout` metadata of descend's files: the parameters' dtype, names and shapes. */
export interface LayoutRecord {
  /** The layout's dtype (`"float32"` or `"float64"` when written by descend). */
  readonly dtype: string;
  /** Every tensor, in buffer order. */
  readonly tensors: readonly LayoutRecordTensor[];
}

/** The `descend.layout` metadata value of `layout` (JSON of its {@link LayoutRecord}). */
export function layoutRecord(layout: Layout): string {
  return JSON.stringify({
    dtype: layout.dtype,
    tensors: layout.tensors.map((t) => ({ name: t.name, shape: t.shape })),
  });
}

/** Whether `x` (parsed JSON) has the form of a {@link LayoutRecord}. */
export function isLayoutRecord(x: unknown): x is LayoutRecord {
  return (
    isRecord(x) &&
    typeof x.dtype === "string" &&
    Array.isArray(x.tensors) &&
    x.tensors.every(
      (t) =>
        isRecord(t) &&
        typeof t.name === "string" &&
        Array.isArray(t.shape) &&
        (t.shape as unknown[]).every(isCount),
    )
  );
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
  const file = layOutSafetensors(
    {
      ...metadata,
      "descend.format": PARAMS_FORMAT,
      "descend.version": String(PARAMS_VERSION),
      "descend.layout": layoutRecord(layout),
    },
    layout.tensors.map((t) => ({ name: t.name, dtype, shape: t.shape })),
  );
  // The layout's tensors tile its buffer in order, as they tile the data section.
  writeLittleEndian(data, file.bytes, file.dataStart);
  return file.bytes;
}

// ---------------------------------------------------------------------------------------------
// Files (Node.js)

type NodeFsPromises = typeof NodeFs;

/**
 * Node's file-system promises, loaded on first use through a computed specifier so that bundlers
 * do not pull a Node built-in into browser builds of the library.
 */
async function nodeFs(): Promise<NodeFsPromises> {
  const specifier = ["node", "fs/promises"].join(":");
  return (await import(specifier)) as NodeFsPromises;
}

function checkPath(owner: string, path: unknown): void {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError(owner, "path", path, "a non-empty file path");
  }
}

/**
 * Writes `bytes` to the file `path` (Node.js): beside it first, then renamed over it, so an
 * interrupted write leaves any previous file intact.
 */
export async function writeFileAtomically(path: string, bytes: Uint8Array): Promise<void> {
  checkPath("writeFileAtomically", path);
  const { writeFile, rename, rm } = await nodeFs();
  const partial = `${path}.${process.pid}.partial`;
  try {
    await writeFile(partial, bytes);
    await rename(partial, path);
  } catch (e) {
    await rm(partial, { force: true });
    throw e;
  }
}

/** The bytes of the file `path` (Node.js). */
export async function readFileBytes(path: string): Promise<Uint8Array> {
  checkPath("readFileBytes", path);
  const { readFile } = await nodeFs();
  const bytes = await readFile(path);
  return new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}
