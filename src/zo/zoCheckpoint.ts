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
 * | `descend.directionDistribution` | `"normal"` or `"normalFloat32"` (directions.ts); a missing key means `"normal"` |
 *
 * The distribution is also in the log's header; a file whose two disagree is refused as
 * `"malformed"`, naming both, and one without the key (written before the distribution could
 * be chosen) is a `"normal"` run, which is what it was.
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
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { CheckpointError } from "../optim/checkpoint.js";
import type { DType, FloatArray } from "../params/layout.js";
import { Layout } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
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
import type { FastRandom } from "../random/index.js";
import type { ZoDirectionDistribution } from "./directions.js";
import { checkFastRandom } from "./directions.js";
import { Fnv1a64, hashBits } from "./hash.js";
import type { Snapshot } from "./replay.js";
import { ZoHistory, applySteps, dataOf } from "./replay.js";
import { SeedLog, SeedLogError } from "./seedLog.js";

/** Value of `descend.format` in a ZO checkpoint's metadata. */
export const ZO_CHECKPOINT_FORMAT = "descend.zo-history";

/** Version of the ZO checkpoint format written here (and the only one read). */
export const ZO_CHECKPOINT_VERSION = 1;

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
  /** A handle from `useFastRandom` to generate the replay's directions with (same bits, faster). */
  random?: FastRandom;
}

/** The result of {@link restoreZoCheckpoint}. */
export interface RestoredZoCheckpoint {
  /** The parameters when the file was written (`options.into` when given). */
  readonly params: ParamSet;
  /** The run's history, ready to record further steps. */
  readonly history: ZoHistory;
}

const HASH_PATTERN = /^[0-9a-f]{16}$/;

function dtypeTag(dtype: DType): SafetensorsDType {
  return dtype === "float64" ? "F64" : "F32";
}

function isCount(x: unknown): x is number {
  return typeof x === "number" && Number.isSafeInteger(x) && x >= 0;
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
  const metadata: Record<string, string> = {
    "descend.format": ZO_CHECKPOINT_FORMAT,
    "descend.version": String(ZO_CHECKPOINT_VERSION),
    "descend.layout": layoutRecord(history.layout),
    "descend.baseHash": history.baseHash,
    "descend.finalHash": hashBits(data),
    "descend.snapshotEvery": String(history.snapshotEvery),
    "descend.snapshots": JSON.stringify(history.snapshots.map((s) => [s.step, s.hash])),
    "descend.directionDistribution": history.directionDistribution,
  };
  const { snapshots } = history;
  const file = layOutSafetensors(metadata, [
    ...snapshots.map((s) => ({ name: `snapshot/${s.step}`, dtype, shape: [s.params.length] })),
    { name: "log", dtype: "U8", shape: [logBytes.length] },
    { name: "checksum", dtype: "U8", shape: [8] },
  ]);
  const { bytes, begins } = file;
  snapshots.forEach((s, k) => writeLittleEndian(s.params, bytes, begins[k]));
  bytes.set(logBytes, begins[snapshots.length]);
  const sumAt = begins[snapshots.length + 1];
  bytes.set(new Fnv1a64().update(bytes.subarray(0, sumAt)).digestBytes(), sumAt);
  return bytes;
}

/** Parses the safetensors structure; checks format, version, lengths and the checksum. */
function parseStructure(bytes: Uint8Array): SafetensorsFile {
  const fail = (reason: ZoCheckpointErrorReason, message: string) =>
    new ZoCheckpointError(reason, `ZO checkpoint ${message}`);
  let file: SafetensorsFile;
  try {
    file = parseSafetensors(bytes, { subject: "ZO checkpoint", dtypes: ["F32", "F64", "U8"] });
  } catch (e) {
    if (e instanceof SafetensorsError) {
      throw new ZoCheckpointError(e.problem === "truncated" ? "truncated" : "malformed", e.message);
    }
    throw e;
  }
  const { metadata, tensors } = file;
  if (Object.keys(metadata).length === 0) {
    throw fail("format", "is not a descend ZO checkpoint: its header has no metadata");
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
  const checksum = tensors.get("checksum");
  if (
    checksum === undefined ||
    checksum.dtype !== "U8" ||
    checksum.end !== bytes.length ||
    checksum.end - checksum.begin !== 8
  ) {
    throw fail("malformed", "has no checksum as its last tensor (U8, 8 bytes)");
  }
  const expected = new Fnv1a64().update(bytes.subarray(0, checksum.begin)).digestBytes();
  if (!expected.every((b, i) => b === bytes[checksum.begin + i])) {
    throw fail("checksum", "is corrupt: its checksum does not match its contents");
  }
  return file;
}

function parseLayout(text: string | undefined): Layout {
  let record: unknown;
  try {
    record = JSON.parse(text ?? "");
  } catch {
    record = undefined;
  }
  if (!isLayoutRecord(record) || (record.dtype !== "float32" && record.dtype !== "float64")) {
    throw new ZoCheckpointError(
      "malformed",
      'ZO checkpoint metadata "descend.layout" is malformed',
    );
  }
  try {
    return new Layout(record.tensors, record.dtype);
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
  const { metadata, tensors } = parseStructure(bytes);
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
  const distributionText = metadata["descend.directionDistribution"] ?? "normal";
  if (distributionText !== "normal" && distributionText !== "normalFloat32") {
    throw malformed(
      `metadata "descend.directionDistribution" is ${JSON.stringify(distributionText)}, not "normal" or "normalFloat32"`,
    );
  }
  const directionDistribution: ZoDirectionDistribution = distributionText;
  const logEntry = tensors.get("log");
  if (logEntry === undefined || logEntry.dtype !== "U8")
    throw malformed('has no "log" tensor (U8)');
  let log: SeedLog;
  try {
    log = SeedLog.decode(bytes.subarray(logEntry.begin, logEntry.end));
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
    const params =
      layout.dtype === "float64" ? new Float64Array(layout.size) : new Float32Array(layout.size);
    readLittleEndian(bytes, t.begin, params);
    snapshots.push({ step, params, hash });
  }
  // fromParts checks each snapshot's bits against its fingerprint, among the rest.
  let history: ZoHistory;
  try {
    history = ZoHistory.fromParts({
      layout,
      baseHash,
      log,
      snapshots,
      snapshotEvery: every,
      directionDistribution,
    });
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
    if (key !== "into" && key !== "verifySnapshots" && key !== "random") {
      throw new InvalidArgumentError(
        owner,
        key,
        (options as Record<string, unknown>)[key],
        "a known option (into, verifySnapshots, random)",
      );
    }
  }
  const { into, verifySnapshots = false } = options;
  const random = options.random === undefined ? null : checkFastRandom(owner, options.random);
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
      applySteps(result, history.log, step, s.step, random);
      const hash = hashBits(result);
      if (hash !== s.hash) {
        throw new ZoCheckpointError(
          "replay",
          `ZO checkpoint's log does not rebuild its snapshot at step ${s.step}: replay gives fingerprint ${hash}, the snapshot has ${s.hash}`,
        );
      }
      step = s.step;
    }
    applySteps(result, history.log, step, Infinity, random);
  } else {
    const last = history.snapshots.at(-1);
    if (last !== undefined) result.set(last.params);
    applySteps(result, history.log, last?.step ?? 0, Infinity, random);
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
  await writeFileAtomically(path, serializeZoCheckpoint(history, current));
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
  return restoreZoCheckpoint(await readFileBytes(path), base, options);
}
