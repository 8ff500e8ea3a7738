/**
 * Optimizer checkpoints in the safetensors layout, so that training resumes bit for bit:
 * k steps, save, load into an optimizer built the same way, n − k more steps equals n steps.
 *
 * File layout (safetensors, huggingface/safetensors):
 *
 *     [8 bytes]  N, unsigned 64-bit little-endian: byte length of the header
 *     [N bytes]  UTF-8 JSON header: { "__metadata__": { string: string },
 *                  "<tensor>": { "dtype": "F32" | "F64", "shape": [...], "data_offsets": [b, e] } }
 *     [rest]     raw little-endian tensor data; offsets are relative to the start of this
 *                section, and the tensors cover it exactly, without gaps or overlaps
 *
 * The header is padded with spaces so the data section starts at a multiple of 8 bytes, and
 * float64 tensors are written before float32 ones, so every tensor is aligned to its element size.
 *
 * What is stored:
 * - `__metadata__` holds the descend header: `descend.format` and `descend.version`, the
 *   optimizer's `count` and `skippedSteps`, the transform's name, the parameter layout (names,
 *   shapes, dtype), every number of the state tree (exact: JavaScript's shortest round-trip form,
 *   including NaN, ±Infinity and −0), and how each state buffer was stored.
 * - A state buffer as long as the layout it lives in is stored per parameter, under
 *   `state/<state path>/<parameter name>` (e.g. `state/0:scaleByAdam/mu/layer1.weight`), so a
 *   checkpoint loads by name even into a layout that lists the tensors in another order. Inside a
 *   `partition` group the group's own sub-layout is used. Other buffers are stored whole
 *   under `state/<state path>`.
 * - Optionally the parameters themselves, under `params/<name>`.
 * Path segments escape `%` and `/` as `%25` and `%2F`.
 *
 * Loading checks everything (format and version, transform name, layout by name, the set of state
 * entries, every tensor's dtype, shape and byte range, truncation) before it changes anything, then
 * writes into the optimizer's existing buffers, which therefore stay where their allocator put
 * them.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type { SafetensorsDType, SafetensorsFile } from "../params/safetensors.js";
import {
  SafetensorsError,
  isLayoutRecord,
  layOutSafetensors,
  layoutRecord,
  parseSafetensors,
  readFileBytes,
  readLittleEndian,
  writeFileAtomically,
  writeLittleEndian,
} from "../params/safetensors.js";
import type { Optimizer } from "./optimizer.js";
import { isPartition } from "./partition.js";
import type { GradientTransform, State } from "./transform.js";
import { isChain, partKey } from "./transform.js";

/** Value of `descend.format` in a checkpoint's metadata. */
export const CHECKPOINT_FORMAT = "descend.optimizer";
/** Checkpoint format version written by this library (and the only one it reads). */
export const CHECKPOINT_VERSION = 1;

/** A checkpoint that is malformed, truncated, or was written by a different optimizer. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CheckpointError";
  }
}

/** Options of {@link serializeOptimizer} and {@link saveOptimizer}. */
export interface SerializeOptions {
  /** Also store the parameters, so one file resumes training completely (default false). */
  includeParams?: boolean;
}

/** Options of {@link restoreOptimizer} and {@link loadOptimizer}. */
export interface RestoreOptions {
  /**
   * Restore the parameters too: `true` requires them in the checkpoint, `false` ignores them,
   * left out restores them when the checkpoint has them.
   */
  includeParams?: boolean;
}

type StorageMode = "perParameter" | "whole";

interface ScalarEntry {
  readonly holder: State;
  readonly key: string;
}

interface BufferEntry {
  readonly buffer: FloatArray;
  readonly layout: Layout;
  readonly mode: StorageMode;
}

interface StateInventory {
  readonly scalars: Map<string, ScalarEntry>;
  readonly buffers: Map<string, BufferEntry>;
}

/** A tensor to write or to read: where its values live in the optimizer. */
interface TensorSlot {
  readonly name: string;
  readonly view: FloatArray;
  readonly shape: readonly number[];
}

function escapeSegment(segment: string): string {
  return segment.replace(/%/g, "%25").replace(/\//g, "%2F");
}

function dtypeOf(buffer: FloatArray): SafetensorsDType {
  return buffer instanceof Float64Array ? "F64" : "F32";
}

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(", ")}]`;
}

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i]);
}

/** Exact text form of a state number (`String` loses only the sign of −0). */
function numberToText(x: number): string {
  return Object.is(x, -0) ? "-0" : String(x);
}

function textToNumber(text: unknown, what: string): number {
  const value = typeof text === "string" && text.trim() !== "" ? Number(text) : NaN;
  if (typeof text !== "string" || (Number.isNaN(value) && text !== "NaN")) {
    throw new CheckpointError(`checkpoint metadata: ${what} is not a number (${String(text)})`);
  }
  return value;
}

/**
 * The child transform governing `state[key]`, and the layout its buffers live in: chains keep the
 * layout, partition groups use their sub-layout, wrappers keep their inner state under `inner`.
 */
function childOf(
  transform: GradientTransform | undefined,
  key: string,
  layout: Layout,
): { transform: GradientTransform | undefined; layout: Layout } {
  if (transform === undefined) return { transform, layout };
  if (isChain(transform)) {
    const index = transform.parts.findIndex((p, i) => partKey(i, p) === key);
    return { transform: index >= 0 ? transform.parts[index] : undefined, layout };
  }
  if (isPartition(transform) && transform.groups.includes(key)) {
    return { transform: transform.transforms[key], layout: transform.subLayout(layout, key) };
  }
  const inner = (transform as { inner?: unknown }).inner;
  if (key === "inner" && typeof inner === "object" && inner !== null) {
    return { transform: inner as GradientTransform, layout };
  }
  return { transform: undefined, layout };
}

function inventory(opt: Optimizer): StateInventory {
  const scalars = new Map<string, ScalarEntry>();
  const buffers = new Map<string, BufferEntry>();
  const walk = (
    transform: GradientTransform | undefined,
    state: State,
    layout: Layout,
    prefix: string,
  ): void => {
    for (const key of Object.keys(state)) {
      const value = state[key];
      const path = prefix === "" ? escapeSegment(key) : `${prefix}/${escapeSegment(key)}`;
      if (typeof value === "number") {
        scalars.set(path, { holder: state, key });
      } else if (value instanceof Float32Array || value instanceof Float64Array) {
        const perParameter = layout.size > 0 && value.length === layout.size;
        buffers.set(path, { buffer: value, layout, mode: perParameter ? "perParameter" : "whole" });
      } else if (typeof value === "object" && value !== null && !ArrayBuffer.isView(value)) {
        const child = childOf(transform, key, layout);
        walk(child.transform, value, child.layout, path);
      } else {
        throw new CheckpointError(
          `optimizer state ${path} holds ${Object.prototype.toString.call(value)}, which a checkpoint cannot store (numbers, Float32Array, Float64Array and nested objects only)`,
        );
      }
    }
  };
  walk(opt.transform, opt.state, opt.params.layout, "");
  return { scalars, buffers };
}

/** Every tensor the checkpoint of `opt` holds, with the memory it comes from or goes to. */
function slotsOf(opt: Optimizer, inv: StateInventory, withParams: boolean): TensorSlot[] {
  const slots: TensorSlot[] = [];
  for (const [path, entry] of inv.buffers) {
    if (entry.mode === "perParameter") {
      for (const t of entry.layout.tensors) {
        slots.push({
          name: `state/${path}/${escapeSegment(t.name)}`,
          view: entry.buffer.subarray(t.offset, t.offset + t.size),
          shape: t.shape,
        });
      }
    } else {
      slots.push({ name: `state/${path}`, view: entry.buffer, shape: [entry.buffer.length] });
    }
  }
  if (withParams) {
    const { layout, data } = opt.params;
    for (const t of layout.tensors) {
      slots.push({
        name: `params/${escapeSegment(t.name)}`,
        view: data.subarray(t.offset, t.offset + t.size),
        shape: t.shape,
      });
    }
  }
  return slots;
}

function checkOptimizer(owner: string, opt: unknown): Optimizer {
  const o = opt as Partial<Optimizer> | null;
  if (
    typeof o !== "object" ||
    o === null ||
    typeof o.transform !== "object" ||
    typeof o.state !== "object" ||
    typeof o.params !== "object"
  ) {
    throw new InvalidArgumentError(owner, "opt", opt, "an Optimizer");
  }
  return o as Optimizer;
}

function checkIncludeParams(owner: string, value: unknown): boolean | undefined {
  if (value !== undefined && typeof value !== "boolean") {
    throw new InvalidArgumentError(owner, "includeParams", value, "true, false or left out");
  }
  return value;
}

/**
 * The optimizer's state (and optionally its parameters) as the bytes of a safetensors file.
 * Nothing is modified.
 */
export function serializeOptimizer(opt: Optimizer, options: SerializeOptions = {}): Uint8Array {
  const owner = "serializeOptimizer";
  checkOptimizer(owner, opt);
  const withParams = checkIncludeParams(owner, options.includeParams) ?? false;
  const inv = inventory(opt);
  const slots = slotsOf(opt, inv, withParams);
  // float64 first: with an 8-aligned data section every tensor is then aligned to its element.
  const ordered = [
    ...slots.filter((s) => s.view instanceof Float64Array),
    ...slots.filter((s) => !(s.view instanceof Float64Array)),
  ];
  const metadata: Record<string, string> = {
    "descend.format": CHECKPOINT_FORMAT,
    "descend.version": String(CHECKPOINT_VERSION),
    "descend.transform": opt.transform.name,
    "descend.count": String(opt.count),
    "descend.skippedSteps": String(opt.skippedSteps),
    "descend.layout": layoutRecord(opt.params.layout),
    "descend.scalars": JSON.stringify(
      [...inv.scalars].map(([path, s]) => [path, numberToText(s.holder[s.key] as number)]),
    ),
    "descend.buffers": JSON.stringify([...inv.buffers].map(([path, b]) => [path, b.mode])),
    "descend.params": String(withParams),
  };
  const file = layOutSafetensors(
    metadata,
    ordered.map((slot) => ({ name: slot.name, dtype: dtypeOf(slot.view), shape: slot.shape })),
  );
  ordered.forEach((slot, k) => writeLittleEndian(slot.view, file.bytes, file.begins[k]));
  return file.bytes;
}

/** The safetensors structure of `bytes` (not yet the descend content), as checkpoint errors. */
function parseCheckpointFile(bytes: Uint8Array): SafetensorsFile {
  try {
    return parseSafetensors(bytes, { subject: "checkpoint", explainUndecodableHeader: true });
  } catch (e) {
    if (e instanceof SafetensorsError) throw new CheckpointError(e.message);
    throw e;
  }
}

function metadataField(metadata: Readonly<Record<string, string>>, key: string): string {
  const value = metadata[key];
  if (value === undefined) {
    throw new CheckpointError(`checkpoint metadata lacks "${key}"`);
  }
  return value;
}

function parseJsonField(metadata: Readonly<Record<string, string>>, key: string): unknown {
  const text = metadataField(metadata, key);
  try {
    return JSON.parse(text);
  } catch {
    throw new CheckpointError(`checkpoint metadata "${key}" is not valid JSON`);
  }
}

function parseCount(metadata: Readonly<Record<string, string>>, key: string): number {
  const text = metadataField(metadata, key);
  const value = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value)) {
    throw new CheckpointError(
      `checkpoint metadata "${key}" must be a non-negative integer, got ${JSON.stringify(text)}`,
    );
  }
  return value;
}

function checkLayout(metadata: Readonly<Record<string, string>>, layout: Layout): void {
  const record = parseJsonField(metadata, "descend.layout");
  if (!isLayoutRecord(record)) {
    throw new CheckpointError(`checkpoint metadata "descend.layout" is malformed`);
  }
  const saved = record.tensors;
  const what = "checkpoint layout does not match the optimizer's parameters";
  if (record.dtype !== layout.dtype) {
    throw new ShapeMismatchError(
      `${what}: dtype ${record.dtype} in the checkpoint, ${layout.dtype} here`,
    );
  }
  const byName = new Map(saved.map((t) => [t.name, t.shape]));
  for (const t of layout.tensors) {
    const shape = byName.get(t.name);
    if (shape === undefined) {
      throw new ShapeMismatchError(`${what}: tensor ${t.name} is not in the checkpoint`);
    }
    if (!sameShape(shape, t.shape)) {
      throw new ShapeMismatchError(
        `${what}: tensor ${t.name} has shape ${formatShape(shape)} in the checkpoint, ${formatShape(t.shape)} here`,
      );
    }
  }
  const here = new Set(layout.tensors.map((t) => t.name));
  const extra = saved.find((t) => !here.has(t.name));
  if (extra !== undefined || saved.length !== layout.tensors.length) {
    throw new ShapeMismatchError(
      `${what}: the checkpoint has tensor ${extra?.name ?? "(duplicate name)"}, which this layout lacks`,
    );
  }
}

function parsePairs(metadata: Readonly<Record<string, string>>, key: string): Map<string, string> {
  const raw = parseJsonField(metadata, key);
  if (
    !Array.isArray(raw) ||
    !raw.every(
      (p) =>
        Array.isArray(p) && p.length === 2 && typeof p[0] === "string" && typeof p[1] === "string",
    )
  ) {
    throw new CheckpointError(`checkpoint metadata "${key}" is malformed`);
  }
  return new Map(raw as [string, string][]);
}

function describeDifference(kind: string, missing: string[], extra: string[]): string[] {
  const parts: string[] = [];
  const list = (xs: string[]) => xs.slice(0, 5).join(", ") + (xs.length > 5 ? ", ..." : "");
  if (missing.length > 0) parts.push(`${kind} missing from the checkpoint: ${list(missing)}`);
  if (extra.length > 0) parts.push(`${kind} this optimizer lacks: ${list(extra)}`);
  return parts;
}

/**
 * Restores `opt` from checkpoint bytes written by {@link serializeOptimizer} for an optimizer
 * built the same way. Every check runs before anything changes: on any error the optimizer,
 * its state and its parameters are exactly as they were.
 *
 * @throws CheckpointError for malformed, truncated or foreign files and for a different
 *   transform structure; ShapeMismatchError when the parameter layout differs (by name, shape
 *   or dtype).
 */
export function restoreOptimizer(
  opt: Optimizer,
  bytes: Uint8Array,
  options: RestoreOptions = {},
): void {
  const owner = "restoreOptimizer";
  checkOptimizer(owner, opt);
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError(owner, "bytes", bytes, "a Uint8Array");
  }
  const wantParams = checkIncludeParams(owner, options.includeParams);
  const file = parseCheckpointFile(bytes);
  const { metadata } = file;

  const format = metadata["descend.format"];
  if (format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(
      format === undefined
        ? "not a descend optimizer checkpoint: its metadata has no descend.format"
        : `not a descend optimizer checkpoint: descend.format is ${JSON.stringify(format)}`,
    );
  }
  const version = metadataField(metadata, "descend.version");
  if (version !== String(CHECKPOINT_VERSION)) {
    throw new CheckpointError(
      `checkpoint format version ${JSON.stringify(version)} is not supported (this library reads version ${CHECKPOINT_VERSION})`,
    );
  }
  const transformName = metadataField(metadata, "descend.transform");
  if (transformName !== opt.transform.name) {
    throw new CheckpointError(
      `checkpoint was written by transform "${transformName}", this optimizer's is "${opt.transform.name}"`,
    );
  }
  const count = parseCount(metadata, "descend.count");
  const skippedSteps = parseCount(metadata, "descend.skippedSteps");
  checkLayout(metadata, opt.params.layout);

  const hasParams = metadataField(metadata, "descend.params") === "true";
  if (wantParams === true && !hasParams) {
    throw new CheckpointError(
      "checkpoint holds no parameters (it was saved without includeParams)",
    );
  }
  const withParams = wantParams ?? hasParams;

  const inv = inventory(opt);
  const savedScalars = parsePairs(metadata, "descend.scalars");
  const savedBuffers = parsePairs(metadata, "descend.buffers");
  const differences = [
    ...describeDifference(
      "numbers",
      [...inv.scalars.keys()].filter((p) => !savedScalars.has(p)),
      [...savedScalars.keys()].filter((p) => !inv.scalars.has(p)),
    ),
    ...describeDifference(
      "buffers",
      [...inv.buffers.keys()].filter((p) => !savedBuffers.has(p)),
      [...savedBuffers.keys()].filter((p) => !inv.buffers.has(p)),
    ),
  ];
  for (const [path, entry] of inv.buffers) {
    const saved = savedBuffers.get(path);
    if (saved !== undefined && saved !== entry.mode) {
      differences.push(`buffer ${path} is stored ${saved} in the checkpoint, ${entry.mode} here`);
    }
  }
  if (differences.length > 0) {
    throw new CheckpointError(
      `checkpoint state does not match this optimizer (transform "${opt.transform.name}"): ${differences.join("; ")}`,
    );
  }
  const scalarValues = new Map<string, number>();
  for (const [path, text] of savedScalars) {
    scalarValues.set(path, textToNumber(text, `state number ${path}`));
  }

  const slots = slotsOf(opt, inv, withParams);
  const expected = new Set(slots.map((s) => s.name));
  for (const name of file.tensors.keys()) {
    if (!expected.has(name) && !(name.startsWith("params/") && !withParams)) {
      throw new CheckpointError(
        `checkpoint state does not match this optimizer (transform "${opt.transform.name}"): tensor "${name}" has no place in it`,
      );
    }
  }
  const copies: { view: FloatArray; at: number }[] = [];
  for (const slot of slots) {
    const info = file.tensors.get(slot.name);
    if (info === undefined) {
      throw new CheckpointError(`checkpoint is missing tensor "${slot.name}"`);
    }
    const dtype = dtypeOf(slot.view);
    if (info.dtype !== dtype || !sameShape(info.shape, slot.shape)) {
      throw new CheckpointError(
        `checkpoint tensor "${slot.name}" is ${info.dtype} ${formatShape(info.shape)}, this optimizer holds ${dtype} ${formatShape(slot.shape)}`,
      );
    }
    copies.push({ view: slot.view, at: info.begin });
  }

  // Every check passed: nothing below can fail.
  for (const { view, at } of copies) readLittleEndian(bytes, at, view);
  for (const [path, value] of scalarValues) {
    const entry = inv.scalars.get(path)!;
    entry.holder[entry.key] = value;
  }
  opt.count = count;
  opt.skippedSteps = skippedSteps;
}

/**
 * Writes {@link serializeOptimizer}'s bytes to `path` (Node.js). The file is written beside
 * `path` first and then renamed over it, so an interrupted save leaves any previous checkpoint
 * intact.
 */
export async function saveOptimizer(
  opt: Optimizer,
  path: string,
  options: SerializeOptions = {},
): Promise<void> {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError("saveOptimizer", "path", path, "a non-empty file path");
  }
  await writeFileAtomically(path, serializeOptimizer(opt, options));
}

/** Reads the checkpoint at `path` (Node.js) and applies {@link restoreOptimizer}. */
export async function loadOptimizer(
  opt: Optimizer,
  path: string,
  options: RestoreOptions = {},
): Promise<void> {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError("loadOptimizer", "path", path, "a non-empty file path");
  }
  restoreOptimizer(opt, await readFileBytes(path), options);
}
