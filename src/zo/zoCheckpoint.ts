/**
 * Zeroth-order checkpoints: a run's history (the fingerprint of its base weights, its seed log
 * and its snapshots) in one file, from which the model is rebuilt bit for bit given the base
 * weights. The base weights themselves are not stored: they are the pretrained model everyone
 * already has, and the file names them by fingerprint, so a checkpoint of a fine-tuning run is
 * its log plus whatever snapshots were taken.
 *
 * ## File layout (version 1): a safetensors file (huggingface/safetensors)
 *
 *     [8 bytes]  N, unsigned 64-bit little-endian: byte length of the header
 *     [N bytes]  UTF-8 JSON header, padded with spaces so the data starts at a multiple of 8:
 *                { "__metadata__": { …, see below },
 *                  "snapshot/<step>": { "dtype": "F32" | "F64", "shape": [d], "data_offsets": [b, e] }, …
 *                  "log":      { "dtype": "U8", "shape": [L], "data_offsets": [b, e] },
 *                  "checksum": { "dtype": "U8", "shape": [8], "data_offsets": [b, e] } }
 *     [rest]     the tensors' bytes, in that order, covering the data section exactly:
 *                snapshots (raw little-endian parameter bits, one flat tensor each, by step),
 *                the log (its own byte layout, seedLog.ts, with its own checksum), and last
 *                the checksum: FNV-1a 64 (hash.ts) of every byte of the file before it, least
 *                significant byte first
 *
 * so any safetensors reader can open it (the snapshots are ordinary tensors). Metadata, all
 * strings:
 *
 * | key | value |
 * | --- | --- |
 * | `descend.format` | `"descend.zo-history"` |
 * | `descend.version` | `"1"` |
 * | `descend.layout` | JSON `{ "dtype": "float32" \| "float64", "tensors": [{ "name", "shape" }] }`, in buffer order |
 * | `descend.baseHash` | fingerprint ({@link hashBits}) of the base weights, 16 hex digits |
 * | `descend.finalHash` | fingerprint of the parameters when the file was written |
 * | `descend.snapshotEvery` | the snapshot period k (0: none) |
 * | `descend.snapshots` | JSON `[[step, fingerprint], …]`, steps increasing |
 *
 * ## Loading
 *
 * {@link restoreZoCheckpoint} checks, in this order, and stops at the first failure with a
 * {@link ZoCheckpointError} whose `reason` names it: the file's structure and length
 * (`"truncated"`, `"malformed"`), that it is a descend ZO checkpoint (`"format"`) of a version
 * read here (`"version"`), the checksum (`"checksum"`: any changed byte is caught, since FNV-1a
 * maps two inputs that differ in one byte to different values), the metadata, log and snapshots
 * (`"malformed"`), the layout of the given base weights (`"layout"`) and their fingerprint
 * (`"base"`). Only then does it replay, from the latest snapshot (or from the base through every
 * snapshot, checking each, with `verifySnapshots`), into a new buffer, and it compares the
 * result with the recorded final fingerprint (`"replay"`). The base weights are never written,
 * and `into` only after every check has passed: a bad file is never partially applied.
 */
import type * as NodeFs from "node:fs/promises";
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { CheckpointError } from "../optim/checkpoint.js";
import type { DType, FloatArray } from "../params/layout.js";
import { Layout } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import { Fnv1a64, hashBits } from "./hash.js";
import type { Snapshot } from "./replay.js";
import { ZoHistory, applySteps } from "./replay.js";
import { SeedLog, SeedLogError } from "./seedLog.js";

/** Value of `descend.format` in a ZO checkpoint's metadata. */
export const ZO_CHECKPOINT_FORMAT = "descend.zo-history";

/** Version of the ZO checkpoint format written here (and the only one read). */
export const ZO_CHECKPOINT_VERSION = 1;

/** Largest header accepted, as the reference safetensors implementation. */
const MAX_HEADER_BYTES = 100_000_000;

/** What is wrong with a ZO checkpoint that was refused. */
export type ZoCheckpointErrorReason =
  "truncated" | "malformed" | "format" | "version" | "checksum" | "layout" | "base" | "replay";

/** A ZO checkpoint that is truncated, corrupted, foreign, or does not fit the base weights. */
export class ZoCheckpointError extends CheckpointError {
  /** Which check refused the file (see the file header of zoCheckpoint.ts). */
  readonly reason: ZoCheckpointErrorReason;

  constructor(reason: ZoCheckpointErrorReason, message: string) {
    super(message);
    this.name = "ZoCheckpointError";
    this.reason = reason;
  }
}

/** What a ZO checkpoint holds, checked ({@link readZoCheckpoint}). */
export interface ZoCheckpointContents {
  /** The history: layout, base fingerprint, log, snapshots and snapshot period. */
  readonly history: ZoHistory;
  /** Fingerprint of the parameters when the file was written. */
  readonly finalHash: string;
}

/** Options of {@link restoreZoCheckpoint} and {@link loadZoCheckpoint}. */
export interface RestoreZoOptions {
  /** Write the rebuilt parameters here (after every check passed) instead of a new ParamSet. */
  into?: ParamSet;
  /**
   * Replay from the base weights through every snapshot, checking each one's fingerprint
   * (cost: the whole log), instead of from the latest snapshot (default false).
   */
  verifySnapshots?: boolean;
}

/** The result of {@link restoreZoCheckpoint}. */
export interface RestoredZoCheckpoint {
  /** The parameters when the file was written (`options.into` when given). */
  readonly params: ParamSet;
  /** The run's history, ready to record further steps. */
  readonly history: ZoHistory;
}

type TensorDType = "F32" | "F64" | "U8";

interface TensorEntry {
  readonly dtype: TensorDType;
  readonly shape: number[];
  readonly begin: number;
  readonly end: number;
}

const littleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const HASH_PATTERN = /^[0-9a-f]{16}$/;

function bytesPer(dtype: TensorDType): number {
  return dtype === "F64" ? 8 : dtype === "F32" ? 4 : 1;
}

function dtypeTag(dtype: DType): TensorDType {
  return dtype === "float64" ? "F64" : "F32";
}

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === "object" && x !== null && !Array.isArray(x);
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
}

function floatBytes(values: FloatArray): Uint8Array {
  if (littleEndian) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
  const out = new Uint8Array(values.byteLength);
  const view = new DataView(out.buffer);
  for (let i = 0; i < values.length; i++) {
    if (values instanceof Float64Array) view.setFloat64(8 * i, values[i], true);
    else view.setFloat32(4 * i, values[i], true);
  }
  return out;
}

function floatsFrom(bytes: Uint8Array, dtype: DType): FloatArray {
  const width = dtype === "float64" ? 8 : 4;
  const n = bytes.length / width;
  const out = dtype === "float64" ? new Float64Array(n) : new Float32Array(n);
  if (littleEndian) {
    new Uint8Array(out.buffer).set(bytes);
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < n; i++) {
    out[i] = width === 8 ? view.getFloat64(8 * i, true) : view.getFloat32(4 * i, true);
  }
  return out;
}

function dataOf(owner: string, parameter: string, params: unknown): FloatArray {
  if (params instanceof ParamSet) return params.data;
  if (params instanceof Float32Array || params instanceof Float64Array) return params;
  throw new InvalidArgumentError(
    owner,
    parameter,
    params,
    "a ParamSet, Float32Array or Float64Array",
  );
}

function layoutRecord(layout: Layout): string {
  return JSON.stringify({
    dtype: layout.dtype,
    tensors: layout.tensors.map((t) => ({ name: t.name, shape: t.shape })),
  });
}

/**
 * The history `history` with `current` (the parameters now, which the log must rebuild) as the
 * bytes of a ZO checkpoint. Refuses a history whose last step is incomplete. Nothing is modified.
 */
export function serializeZoCheckpoint(
  history: ZoHistory,
  current: ParamSet | FloatArray,
): Uint8Array {
  const owner = "serializeZoCheckpoint";
  if (!(history instanceof ZoHistory)) {
    throw new InvalidArgumentError(owner, "history", history, "a ZoHistory");
  }
  const data = dataOf(owner, "current", current);
  history.layout.assertBuffer(data, `${owner}: current`);
  if (!history.log.complete) {
    throw new InvalidArgumentError(
      owner,
      "history",
      `a log ending inside step ${history.log.lastStep}`,
      "a history whose last step has all its records",
    );
  }
  const dtype = dtypeTag(history.layout.dtype);
  const logBytes = history.log.encode();
  const tensors: [string, TensorDType, number[], Uint8Array | null][] = [
    ...history.snapshots.map((s): [string, TensorDType, number[], Uint8Array] => [
      `snapshot/${s.step}`,
      dtype,
      [s.params.length],
      floatBytes(s.params),
    ]),
    ["log", "U8", [logBytes.length], logBytes],
    ["checksum", "U8", [8], null],
  ];
  const metadata: Record<string, string> = {
    "descend.format": ZO_CHECKPOINT_FORMAT,
    "descend.version": String(ZO_CHECKPOINT_VERSION),
    "descend.layout": layoutRecord(history.layout),
    "descend.baseHash": history.baseHash,
    "descend.finalHash": hashBits(data),
    "descend.snapshotEvery": String(history.snapshotEvery),
    "descend.snapshots": JSON.stringify(history.snapshots.map((s) => [s.step, s.hash])),
  };
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const [name, tag, shape, bytes] of tensors) {
    const length = bytes?.length ?? 8;
    header[name] = { dtype: tag, shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerLength = json.length + ((8 - ((8 + json.length) % 8)) % 8);
  const dataStart = 8 + headerLength;
  const out = new Uint8Array(dataStart + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, dataStart);
  let at = dataStart;
  for (const [, , , bytes] of tensors) {
    if (bytes !== null) {
      out.set(bytes, at);
      at += bytes.length;
    }
  }
  out.set(new Fnv1a64().update(out.subarray(0, at)).digestBytes(), at);
  return out;
}

/** Parses the safetensors structure; checks format, version, lengths and the checksum. */
function parseStructure(bytes: Uint8Array): {
  metadata: Record<string, string>;
  tensors: Map<string, TensorEntry>;
  dataStart: number;
} {
  const fail = (reason: ZoCheckpointErrorReason, message: string) =>
    new ZoCheckpointError(reason, `ZO checkpoint ${message}`);
  if (bytes.length < 8) {
    throw fail(
      "truncated",
      `is truncated: ${bytes.length} bytes, fewer than the 8-byte header length`,
    );
  }
  const declared = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (declared > BigInt(MAX_HEADER_BYTES)) {
    throw fail("malformed", `header is corrupt: it declares ${declared} header bytes`);
  }
  const headerLength = Number(declared);
  if (8 + headerLength > bytes.length) {
    throw fail(
      "truncated",
      `is truncated: the header declares ${headerLength} bytes but only ${bytes.length - 8} follow`,
    );
  }
  let header: unknown;
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(
      bytes.subarray(8, 8 + headerLength),
    );
    header = JSON.parse(text);
  } catch {
    throw fail("malformed", "header is corrupt: not UTF-8 JSON");
  }
  if (!isRecord(header) || !isRecord(header.__metadata__)) {
    throw fail("format", "is not a descend ZO checkpoint: its header has no metadata");
  }
  const metadata: Record<string, string> = {};
  for (const [key, value] of Object.entries(header.__metadata__)) {
    if (typeof value !== "string") throw fail("malformed", `metadata ${key} is not a string`);
    metadata[key] = value;
  }
  const format = metadata["descend.format"];
  if (format !== ZO_CHECKPOINT_FORMAT) {
    throw fail(
      "format",
      `is not a descend ZO checkpoint: descend.format is ${format === undefined ? "missing" : JSON.stringify(format)}, expected "${ZO_CHECKPOINT_FORMAT}"`,
    );
  }
  const version = metadata["descend.version"];
  if (version !== String(ZO_CHECKPOINT_VERSION)) {
    throw fail(
      "version",
      `version ${JSON.stringify(version)} is not supported (this library reads version ${ZO_CHECKPOINT_VERSION})`,
    );
  }
  const dataStart = 8 + headerLength;
  const tensors = new Map<string, TensorEntry>();
  for (const [name, raw] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    const bad = (why: string) => fail("malformed", `header is corrupt: tensor "${name}" ${why}`);
    if (!isRecord(raw)) throw bad("is not an object");
    const { dtype, shape, data_offsets: offsets } = raw;
    if (dtype !== "F32" && dtype !== "F64" && dtype !== "U8")
      throw bad(`has dtype ${JSON.stringify(dtype)}`);
    if (!Array.isArray(shape) || !shape.every(isCount))
      throw bad(`has shape ${JSON.stringify(shape)}`);
    if (
      !Array.isArray(offsets) ||
      offsets.length !== 2 ||
      !offsets.every(isCount) ||
      offsets[0] > offsets[1]
    ) {
      throw bad(`has data_offsets ${JSON.stringify(offsets)}`);
    }
    const elements = (shape as number[]).reduce((a, b) => a * b, 1);
    if (offsets[1] - offsets[0] !== elements * bytesPer(dtype)) {
      throw bad(
        `covers ${offsets[1] - offsets[0]} bytes, its dtype and shape need ${elements * bytesPer(dtype)}`,
      );
    }
    tensors.set(name, { dtype, shape: shape as number[], begin: offsets[0], end: offsets[1] });
  }
  const ordered = [...tensors.entries()].sort(
    (a, b) => a[1].begin - b[1].begin || a[1].end - b[1].end,
  );
  let covered = 0;
  for (const [name, t] of ordered) {
    if (t.begin !== covered) {
      throw fail(
        "malformed",
        `header is corrupt: tensor "${name}" starts at ${t.begin}, expected ${covered}`,
      );
    }
    covered = t.end;
  }
  const present = bytes.length - dataStart;
  if (present < covered) {
    throw fail(
      "truncated",
      `is truncated: its tensors need ${covered} data bytes, ${present} are present`,
    );
  }
  if (present > covered) {
    throw fail("malformed", `has ${present - covered} bytes after its last tensor`);
  }
  const checksum = tensors.get("checksum");
  if (
    checksum === undefined ||
    checksum.dtype !== "U8" ||
    checksum.end !== covered ||
    checksum.end - checksum.begin !== 8
  ) {
    throw fail("malformed", "has no checksum as its last tensor (U8, 8 bytes)");
  }
  const sumAt = dataStart + checksum.begin;
  const expected = new Fnv1a64().update(bytes.subarray(0, sumAt)).digestBytes();
  if (!expected.every((b, i) => b === bytes[sumAt + i])) {
    throw fail("checksum", "is corrupt: its checksum does not match its contents");
  }
  return { metadata, tensors, dataStart };
}

function parseLayout(text: string | undefined): Layout {
  let record: unknown;
  try {
    record = JSON.parse(text ?? "");
  } catch {
    record = undefined;
  }
  if (
    !isRecord(record) ||
    (record.dtype !== "float32" && record.dtype !== "float64") ||
    !Array.isArray(record.tensors) ||
    !record.tensors.every(
      (t) =>
        isRecord(t) &&
        typeof t.name === "string" &&
        Array.isArray(t.shape) &&
        t.shape.every(isCount),
    )
  ) {
    throw new ZoCheckpointError(
      "malformed",
      'ZO checkpoint metadata "descend.layout" is malformed',
    );
  }
  try {
    return new Layout(record.tensors as { name: string; shape: number[] }[], record.dtype);
  } catch (e) {
    throw new ZoCheckpointError(
      "malformed",
      `ZO checkpoint metadata "descend.layout" is malformed: ${(e as Error).message}`,
    );
  }
}

/**
 * Reads and checks a ZO checkpoint without the base weights: structure, format, version,
 * checksum, metadata, log and snapshots (everything but the base fingerprint and the replay).
 * @throws ZoCheckpointError naming what is wrong
 */
export function readZoCheckpoint(bytes: Uint8Array): ZoCheckpointContents {
  if (!(bytes instanceof Uint8Array)) {
    throw new InvalidArgumentError("readZoCheckpoint", "bytes", bytes, "a Uint8Array");
  }
  const { metadata, tensors, dataStart } = parseStructure(bytes);
  const malformed = (what: string) => new ZoCheckpointError("malformed", `ZO checkpoint ${what}`);
  const layout = parseLayout(metadata["descend.layout"]);
  const baseHash = metadata["descend.baseHash"];
  const finalHash = metadata["descend.finalHash"];
  for (const [key, value] of [
    ["descend.baseHash", baseHash],
    ["descend.finalHash", finalHash],
  ]) {
    if (value === undefined || !HASH_PATTERN.test(value)) {
      throw malformed(`metadata "${key}" is ${JSON.stringify(value)}, not 16 hexadecimal digits`);
    }
  }
  const every = Number(metadata["descend.snapshotEvery"]);
  if (!isCount(every) || metadata["descend.snapshotEvery"] !== String(every)) {
    throw malformed(
      `metadata "descend.snapshotEvery" is ${JSON.stringify(metadata["descend.snapshotEvery"])}`,
    );
  }
  let listed: unknown;
  try {
    listed = JSON.parse(metadata["descend.snapshots"] ?? "");
  } catch {
    listed = undefined;
  }
  if (
    !Array.isArray(listed) ||
    !listed.every(
      (p) =>
        Array.isArray(p) &&
        p.length === 2 &&
        isCount(p[0]) &&
        typeof p[1] === "string" &&
        HASH_PATTERN.test(p[1]),
    )
  ) {
    throw malformed('metadata "descend.snapshots" is malformed');
  }
  const expectedNames = new Set([
    "log",
    "checksum",
    ...(listed as [number, string][]).map(([step]) => `snapshot/${step}`),
  ]);
  for (const name of tensors.keys()) {
    if (!expectedNames.has(name))
      throw malformed(`holds tensor "${name}", which its metadata does not list`);
  }
  const logEntry = tensors.get("log");
  if (logEntry === undefined || logEntry.dtype !== "U8")
    throw malformed('has no "log" tensor (U8)');
  let log: SeedLog;
  try {
    log = SeedLog.decode(bytes.subarray(dataStart + logEntry.begin, dataStart + logEntry.end));
  } catch (e) {
    if (e instanceof SeedLogError) throw malformed(`log is unreadable: ${e.message}`);
    throw e;
  }
  const tag = dtypeTag(layout.dtype);
  const snapshots: Snapshot[] = [];
  for (const [step, hash] of listed as [number, string][]) {
    const name = `snapshot/${step}`;
    const t = tensors.get(name);
    if (t === undefined) throw malformed(`lists snapshot ${step} but holds no tensor "${name}"`);
    if (t.dtype !== tag || t.shape.length !== 1 || t.shape[0] !== layout.size) {
      throw malformed(
        `tensor "${name}" is ${t.dtype} [${t.shape.join(", ")}], the layout needs ${tag} [${layout.size}]`,
      );
    }
    const params = floatsFrom(bytes.subarray(dataStart + t.begin, dataStart + t.end), layout.dtype);
    snapshots.push({ step, params, hash });
  }
  // fromParts checks each snapshot's bits against its fingerprint, among the rest.
  let history: ZoHistory;
  try {
    history = ZoHistory.fromParts({ layout, baseHash, log, snapshots, snapshotEvery: every });
  } catch (e) {
    if (e instanceof InvalidArgumentError || e instanceof ShapeMismatchError) {
      throw malformed(`history is inconsistent: ${e.message}`);
    }
    throw e;
  }
  return { history, finalHash };
}

/**
 * Rebuilds the parameters a ZO checkpoint describes from `base`, the weights its run started
 * from: every check of the file header first, then the replay, then the final fingerprint.
 * `base` is never modified; `options.into` is written only when everything passed.
 * @throws ZoCheckpointError naming what is wrong (its `reason`)
 */
export function restoreZoCheckpoint(
  bytes: Uint8Array,
  base: ParamSet,
  options: RestoreZoOptions = {},
): RestoredZoCheckpoint {
  const owner = "restoreZoCheckpoint";
  if (!(base instanceof ParamSet))
    throw new InvalidArgumentError(owner, "base", base, "a ParamSet");
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(owner, "options", options, "an object");
  }
  for (const key of Object.keys(options)) {
    if (key !== "into" && key !== "verifySnapshots") {
      throw new InvalidArgumentError(
        owner,
        key,
        (options as Record<string, unknown>)[key],
        "a known option (into, verifySnapshots)",
      );
    }
  }
  const { into, verifySnapshots = false } = options;
  if (typeof verifySnapshots !== "boolean") {
    throw new InvalidArgumentError(owner, "verifySnapshots", verifySnapshots, "true or false");
  }
  if (into !== undefined) {
    if (!(into instanceof ParamSet))
      throw new InvalidArgumentError(owner, "into", into, "a ParamSet");
    base.layout.assertSame(into.layout, `${owner}: into`);
  }
  const { history, finalHash } = readZoCheckpoint(bytes);
  if (!history.layout.equals(base.layout)) {
    let detail = "";
    try {
      history.layout.assertSame(base.layout, "the base weights' layout");
    } catch (e) {
      detail = `: ${(e as Error).message}`;
    }
    throw new ZoCheckpointError(
      "layout",
      `ZO checkpoint was written for another parameter layout${detail}`,
    );
  }
  const baseHash = hashBits(base.data);
  if (baseHash !== history.baseHash) {
    throw new ZoCheckpointError(
      "base",
      `ZO checkpoint was written for base weights with fingerprint ${history.baseHash}; the given base weights have ${baseHash}`,
    );
  }
  const result = base.data.slice();
  if (verifySnapshots) {
    let step = 0;
    for (const s of history.snapshots) {
      applySteps(result, history.log, step, s.step);
      const hash = hashBits(result);
      if (hash !== s.hash) {
        throw new ZoCheckpointError(
          "replay",
          `ZO checkpoint's log does not rebuild its snapshot at step ${s.step}: replay gives fingerprint ${hash}, the snapshot has ${s.hash}`,
        );
      }
      step = s.step;
    }
    applySteps(result, history.log, step);
  } else {
    const last = history.snapshots.at(-1);
    if (last !== undefined) result.set(last.params);
    applySteps(result, history.log, last?.step ?? 0);
  }
  const hash = hashBits(result);
  if (hash !== finalHash) {
    throw new ZoCheckpointError(
      "replay",
      `ZO checkpoint's log does not rebuild the saved parameters: replay gives fingerprint ${hash}, the file recorded ${finalHash}`,
    );
  }
  if (into !== undefined) {
    into.data.set(result);
    return { params: into, history };
  }
  return { params: new ParamSet(base.layout, result), history };
}

type NodeFsPromises = typeof NodeFs;

/** Node's file-system promises, loaded on first use through a computed specifier so that
 * bundlers do not pull a Node built-in into browser builds. */
async function nodeFs(): Promise<NodeFsPromises> {
  const specifier = ["node", "fs/promises"].join(":");
  return (await import(specifier)) as NodeFsPromises;
}

/**
 * Writes {@link serializeZoCheckpoint}'s bytes to `path` (Node.js), beside it first and then
 * renamed over it, so an interrupted save leaves any previous file intact.
 */
export async function saveZoCheckpoint(
  history: ZoHistory,
  current: ParamSet | FloatArray,
  path: string,
): Promise<void> {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError("saveZoCheckpoint", "path", path, "a non-empty file path");
  }
  const bytes = serializeZoCheckpoint(history, current);
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

/** Reads the ZO checkpoint at `path` (Node.js) and applies {@link restoreZoCheckpoint}. */
export async function loadZoCheckpoint(
  path: string,
  base: ParamSet,
  options: RestoreZoOptions = {},
): Promise<RestoredZoCheckpoint> {
  if (typeof path !== "string" || path.length === 0) {
    throw new InvalidArgumentError("loadZoCheckpoint", "path", path, "a non-empty file path");
  }
  const { readFile } = await nodeFs();
  const bytes = await readFile(path);
  return restoreZoCheckpoint(
    new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    base,
    options,
  );
}
