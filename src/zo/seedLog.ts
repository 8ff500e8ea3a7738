/**
 * The seed log: a zeroth-order run's whole history as data. Every direction of every step is
 * one {@link ZoStepRecord} (record.ts); the log validates each record as it is appended, keeps
 * them in a compact binary form, and gives them back by index, by step range or by iteration.
 * Together with the base weights, the log of a ZO-SGD run is the model (replay.ts; the idea is
 * MeZO's: Malladi et al., "Fine-Tuning Language Models with Just Forward Passes", NeurIPS 2023).
 *
 * ## What a log holds
 *
 * The fields that cannot change during a run (seed, directions per step n, method, estimator,
 * perturbation, whether directions are fresh or drawn from a seed pool, and the direction
 * distribution) are stored once, in the header, and are fixed by the first record appended. Each
 * record then stores its step t, direction j, pool member k (pool runs), learning rate and ε as
 * used (float64, exact), the scalar, and for zoCons the trial scalar. The Philox stream is not
 * stored: directions.ts fixes it as a function of (t, j) or of k, and the log checks every record
 * against that mapping. The projected gradient g_j is a diagnostic that no replay reads; it is kept
 * only with `keepProjectedGradients: true` (decoded records otherwise carry NaN there).
 *
 * Scalars are stored as float32 (`scalarEncoding: "float32"`, the default) or as one-byte codes
 * of the fixed table of scalarCode.ts at a power-of-two scale 2^p (`"code8"`). With codes, the
 * log accepts only scalars that are table values: the sender must have applied the decoded
 * scalar (give the optimizer `scalarCodeQuantizer(p)`), otherwise a replay could not rebuild
 * what it did, and such a record is refused rather than rounded.
 *
 * Records must arrive in run order: steps never decrease; a step's records have directions
 * 0, 1, …, n − 1 in that order, with one learning rate and one ε; a new step starts only after
 * the previous one is complete (a step number may be skipped: a skipped step leaves no record).
 * A bad record is refused with an {@link InvalidArgumentError} naming the field and the value,
 * and the log is left as it was.
 *
 * ## Byte layout (version 1; all integers and floats little-endian)
 *
 *     offset size  field
 *       0     8    magic, ASCII "DZSEEDLG"
 *       8     2    version (u16) = 1
 *      10     2    header size (u16) = 48
 *      12     2    record size R (u16), 0 while no record fixed the run
 *      14     1    scalar encoding: 0 float32, 1 one-byte code
 *      15     1    scale exponent p (i8) of the codes; 0 with float32
 *      16     1    flags: bit 0 projected gradients kept, bit 1 run fixed; other bits 0
 *      17     1    method: 0 zoSgd, 1 zoMomentum, 2 zoAdam, 3 zoSign, 4 zoCons, 5 zoSignEstimate
 *      18     1    estimator: 0 twoPoint, 1 onePoint
 *      19     1    perturbation: 0 virtual, 1 inPlace
 *      20     1    direction source: 0 fresh, 1 seed pool
 *      21     1    direction distribution (directions.ts): 0 normal, 1 normalFloat32
 *      22     2    zero
 *      24     4    directions per step n (u32)
 *      28     4    zero
 *      32     8    seed (u64, below 2^53)
 *      40     8    record count N (u64, below 2^53)
 *      48   N·R    records
 *    48+N·R   8    checksum: FNV-1a 64 (hash.ts) of every byte before it, least significant first
 *
 * While no record has fixed the run (an empty log), bytes 17…21, n and the seed are 0.
 * A log whose byte 21 is zero, as in every log written before that byte was assigned, reads as
 * `"normal"`.
 * A record, R bytes, fields in this order (optional ones only where stated):
 *
 *     step t (u32) · direction j (u32) · [pool runs: pool member k (u32)] · learning rate (f64) ·
 *     ε (f64) · [projected gradients kept: g_j (f64)] · scalar (f32, or u8 code) ·
 *     [zoCons: trial scalar (f32, or u8 code)]
 *
 * so R runs from 25 bytes (fresh directions, codes) to 45. Decoding checks the magic, the
 * version, the length against N·R (a truncated log is named as such), the checksum, and then
 * every record as {@link SeedLog.append} would, so a log that decodes is one that could have
 * been appended record by record.
 */
import { InvalidArgumentError } from "../errors.js";
import { checkChoice, checkKnownOptions } from "../optim/validate.js";
import type { ZoDirectionDistribution } from "./directions.js";
import {
  DIRECTIONS_PER_STEP_LIMIT,
  DIRECTION_DISTRIBUTIONS,
  FRESH_STEP_LIMIT,
  POOL_SIZE_LIMIT,
  checkDirectionDistribution,
  freshStream,
  poolStream,
} from "./directions.js";
import { Fnv1a64 } from "./hash.js";
import type { Estimator, Perturbation, ZoMethodName, ZoStepRecord } from "./record.js";
import { isFloat32Value } from "./record.js";
import { checkScaleExponent, decodeScalarCode, exactScalarCode } from "./scalarCode.js";

/** First bytes of every encoded seed log. */
export const SEED_LOG_MAGIC = "DZSEEDLG";

/** Version of the byte layout written here (and the only one read). */
export const SEED_LOG_VERSION = 1;

/** Bytes before the first record. */
export const SEED_LOG_HEADER_BYTES = 48;

/** Bytes of the trailing checksum. */
export const SEED_LOG_CHECKSUM_BYTES = 8;

/** How a log stores scalars: float32 values, or one-byte codes of scalarCode.ts's table. */
export type ScalarEncoding = "float32" | "code8";

/** Options of a {@link SeedLog}. */
export interface SeedLogOptions {
  /** `"float32"` (default) or `"code8"` (one byte per scalar; requires `scaleExponent`). */
  scalarEncoding?: ScalarEncoding;
  /** p of the code table's scale 2^p, an integer in [−100, 100]; only with `"code8"`. */
  scaleExponent?: number;
  /** Also store each record's projected gradient g_j (8 more bytes per record; default false). */
  keepProjectedGradients?: boolean;
}

/** The fields every record of one run shares, fixed by the log's first record. */
export interface SeedLogRun {
  /** Philox key of every direction. */
  readonly seed: number;
  /** Directions per step n. */
  readonly directions: number;
  /** Update rule. */
  readonly method: ZoMethodName;
  /** Finite difference. */
  readonly estimator: Estimator;
  /** How perturbed parameters were evaluated. */
  readonly perturbation: Perturbation;
  /** `"fresh"` directions per (step, direction), or members of a seed `"pool"`. */
  readonly source: "fresh" | "pool";
  /** The Gaussian sequence of every direction (directions.ts). */
  readonly directionDistribution: ZoDirectionDistribution;
}

/** What went wrong with bytes that do not decode to a seed log. */
export type SeedLogErrorReason = "format" | "version" | "truncated" | "checksum" | "malformed";

/** Bytes that are not a seed log, are truncated or corrupted, or hold an invalid record. */
export class SeedLogError extends Error {
  /** The kind of failure, for programs that react to it. */
  readonly reason: SeedLogErrorReason;

  constructor(reason: SeedLogErrorReason, message: string) {
    super(message);
    this.name = "SeedLogError";
    this.reason = reason;
  }
}

const METHODS: readonly ZoMethodName[] = [
  "zoSgd",
  "zoMomentum",
  "zoAdam",
  "zoSign",
  "zoCons",
  "zoSignEstimate",
];
const ESTIMATORS: readonly Estimator[] = ["twoPoint", "onePoint"];
const PERTURBATIONS: readonly Perturbation[] = ["virtual", "inPlace"];
const SOURCES: readonly ("fresh" | "pool")[] = ["fresh", "pool"];

const RECORD_KEYS: readonly string[] = [
  "step",
  "direction",
  "directions",
  "seed",
  "stream",
  "seedIndex",
  "directionDistribution",
  "scalar",
  "learningRate",
  "epsilon",
  "projectedGradient",
  "method",
  "estimator",
  "perturbation",
  "trialScalar",
];

const FLAG_PROJECTED = 1;
const FLAG_RUN_FIXED = 2;
const INITIAL_CAPACITY = 64;
const TWO_POW_32 = 4294967296;
const SEED_LIMIT = 9007199254740992;

/** Byte offsets of a record's fields for one (run, options) combination. */
interface RecordShape {
  readonly size: number;
  readonly seedIndex: number;
  readonly learningRate: number;
  readonly epsilon: number;
  readonly projectedGradient: number;
  readonly scalar: number;
  readonly trialScalar: number;
}

function recordShape(run: SeedLogRun, code8: boolean, keepProjected: boolean): RecordShape {
  let at = 8;
  const seedIndex = run.source === "pool" ? at : -1;
  if (run.source === "pool") at += 4;
  const learningRate = at;
  const epsilon = at + 8;
  at += 16;
  const projectedGradient = keepProjected ? at : -1;
  if (keepProjected) at += 8;
  const scalarBytes = code8 ? 1 : 4;
  const scalar = at;
  at += scalarBytes;
  const trialScalar = run.method === "zoCons" ? at : -1;
  if (run.method === "zoCons") at += scalarBytes;
  return { size: at, seedIndex, learningRate, epsilon, projectedGradient, scalar, trialScalar };
}

/** Where the log stands after its last record: what the next record must agree with. */
interface Cursor {
  step: number;
  direction: number;
  learningRate: number;
  epsilon: number;
}

/** A record checked against the log, in the form it is written. */
interface CheckedRecord {
  readonly run: SeedLogRun;
  readonly step: number;
  readonly direction: number;
  readonly seedIndex: number;
  readonly learningRate: number;
  readonly epsilon: number;
  readonly projectedGradient: number;
  readonly scalar: number;
  readonly trialScalar: number;
}

function isInteger(x: unknown, below: number, min = 0): x is number {
  return typeof x === "number" && Number.isInteger(x) && x >= min && x < below;
}

function writeU64(view: DataView, at: number, value: number): void {
  view.setUint32(at, value % TWO_POW_32, true);
  view.setUint32(at + 4, Math.floor(value / TWO_POW_32), true);
}

function readU64(view: DataView, at: number): number {
  return view.getUint32(at + 4, true) * TWO_POW_32 + view.getUint32(at, true);
}

/** The history of a zeroth-order run: validated step records in a compact binary form. */
export class SeedLog implements Iterable<ZoStepRecord> {
  /** How scalars are stored. */
  readonly scalarEncoding: ScalarEncoding;
  /** p of the code table's scale 2^p (`"code8"`); 0 with float32 scalars. */
  readonly scaleExponent: number;
  /** Whether records keep their projected gradient. */
  readonly keepProjectedGradients: boolean;

  private runValue: SeedLogRun | undefined;
  private shape: RecordShape | undefined;
  private bytes: Uint8Array;
  private view: DataView;
  private count = 0;
  private cursor: Cursor | undefined;

  /** An empty log; the first record appended fixes the run's shared fields. */
  constructor(options: SeedLogOptions = {}) {
    const owner = "SeedLog";
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(owner, "options", options, "an object");
    }
    checkKnownOptions(owner, options, [
      "scalarEncoding",
      "scaleExponent",
      "keepProjectedGradients",
    ]);
    this.scalarEncoding = checkChoice(
      owner,
      "scalarEncoding",
      options.scalarEncoding ?? "float32",
      ["float32", "code8"],
    );
    if (this.scalarEncoding === "code8") {
      if (options.scaleExponent === undefined) {
        throw new InvalidArgumentError(
          owner,
          "scaleExponent",
          undefined,
          'given with scalarEncoding "code8" (the table\'s scale 2^p)',
        );
      }
      this.scaleExponent = checkScaleExponent(owner, options.scaleExponent);
    } else {
      if (options.scaleExponent !== undefined) {
        throw new InvalidArgumentError(
          owner,
          "scaleExponent",
          options.scaleExponent,
          'left out with scalarEncoding "float32"',
        );
      }
      this.scaleExponent = 0;
    }
    const keep = options.keepProjectedGradients ?? false;
    if (typeof keep !== "boolean") {
      throw new InvalidArgumentError(owner, "keepProjectedGradients", keep, "true or false");
    }
    this.keepProjectedGradients = keep;
    this.bytes = new Uint8Array(SEED_LOG_HEADER_BYTES + INITIAL_CAPACITY * 48);
    this.view = new DataView(this.bytes.buffer);
  }

  /** The options this log was built with (to make another log like it). */
  get options(): SeedLogOptions {
    return this.scalarEncoding === "code8"
      ? {
          scalarEncoding: "code8",
          scaleExponent: this.scaleExponent,
          keepProjectedGradients: this.keepProjectedGradients,
        }
      : { scalarEncoding: "float32", keepProjectedGradients: this.keepProjectedGradients };
  }

  /** The run's shared fields, once a record has fixed them. */
  get run(): SeedLogRun | undefined {
    return this.runValue;
  }

  /** Number of records. */
  get length(): number {
    return this.count;
  }

  /** Bytes per record (0 while the run is not fixed). */
  get recordBytes(): number {
    return this.shape?.size ?? 0;
  }

  /** Step of the last record, or undefined for an empty log. */
  get lastStep(): number | undefined {
    return this.cursor?.step;
  }

  /** Whether the last step has all its n records (true for an empty log). */
  get complete(): boolean {
    return this.cursor === undefined || this.cursor.direction === this.runValue!.directions - 1;
  }

  /**
   * Appends one record after checking it (see the file header for the rules).
   * @throws InvalidArgumentError naming the field and value of a bad record; the log is unchanged
   */
  append(record: ZoStepRecord): void {
    this.commit(this.checkAll("SeedLog.append", [record]));
  }

  /**
   * Appends records in order, all or none: every record is checked (against the log and the
   * records before it) before the first is written.
   * @throws InvalidArgumentError naming the record, field and value; the log is unchanged
   */
  appendAll(records: readonly ZoStepRecord[]): void {
    this.commit(this.checkAll("SeedLog.appendAll", records));
  }

  /** Writes records that passed checkAll; nothing here can fail. */
  private commit({
    checked,
    cursor,
  }: {
    checked: CheckedRecord[];
    cursor: Cursor | undefined;
  }): void {
    if (checked.length === 0) return;
    if (this.runValue === undefined) {
      this.runValue = Object.freeze({ ...checked[0].run });
      this.shape = recordShape(
        this.runValue,
        this.scalarEncoding === "code8",
        this.keepProjectedGradients,
      );
    }
    this.reserve(this.count + checked.length);
    for (const c of checked) this.write(this.count++, c);
    this.cursor = cursor;
  }

  /**
   * Checks that `records` could be appended, in order, without appending them.
   * @returns the run the log would have after them (undefined if it stays empty)
   * @throws InvalidArgumentError as {@link SeedLog.appendAll} would
   */
  checkAppend(records: readonly ZoStepRecord[]): SeedLogRun | undefined {
    const { checked } = this.checkAll("SeedLog.checkAppend", records);
    return checked.length > 0 ? checked[0].run : this.runValue;
  }

  private checkAll(
    owner: string,
    records: readonly ZoStepRecord[],
  ): { checked: CheckedRecord[]; cursor: Cursor | undefined } {
    if (!Array.isArray(records)) {
      throw new InvalidArgumentError(owner, "records", records, "an array of records");
    }
    let run = this.runValue;
    let cursor = this.cursor === undefined ? undefined : { ...this.cursor };
    const checked: CheckedRecord[] = [];
    records.forEach((record, i) => {
      const c = this.check(
        records.length === 1 ? owner : `${owner} (record ${i})`,
        record,
        run,
        cursor,
      );
      run = c.run;
      cursor = {
        step: c.step,
        direction: c.direction,
        learningRate: c.learningRate,
        epsilon: c.epsilon,
      };
      checked.push(c);
    });
    return { checked, cursor };
  }

  /** The record at `index` (0-based, negative counts from the end). */
  at(index: number): ZoStepRecord {
    const i = index < 0 ? this.count + index : index;
    if (!isInteger(i, this.count)) {
      throw new InvalidArgumentError(
        "SeedLog.at",
        "index",
        index,
        `an integer in [${-this.count}, ${this.count})`,
      );
    }
    return this.read(i);
  }

  /** The step of record `index` without decoding the rest of it. */
  stepAt(index: number): number {
    if (!isInteger(index, this.count)) {
      throw new InvalidArgumentError(
        "SeedLog.stepAt",
        "index",
        index,
        `an integer in [0, ${this.count})`,
      );
    }
    return this.view.getUint32(this.offsetOf(index), true);
  }

  /** Index of the first record whose step is ≥ `step` (the length when there is none). */
  indexOfStep(step: number): number {
    if (typeof step !== "number" || Number.isNaN(step)) {
      throw new InvalidArgumentError("SeedLog.indexOfStep", "step", step, "a number");
    }
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.stepAt(mid) < step) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Records `start` … `end − 1` (defaults: all), decoded one at a time. */
  *records(start = 0, end = this.count): Generator<ZoStepRecord> {
    const owner = "SeedLog.records";
    if (!isInteger(start, this.count + 1)) {
      throw new InvalidArgumentError(owner, "start", start, `an integer in [0, ${this.count}]`);
    }
    if (!isInteger(end, this.count + 1, start)) {
      throw new InvalidArgumentError(owner, "end", end, `an integer in [${start}, ${this.count}]`);
    }
    for (let i = start; i < end; i++) yield this.read(i);
  }

  /** Every record in order. */
  [Symbol.iterator](): Iterator<ZoStepRecord> {
    return this.records();
  }

  /**
   * A new log, with this one's options, holding the records of steps `fromStep` ≤ t < `toStep`
   * (default: to the end).
   */
  sliceSteps(fromStep: number, toStep = Infinity): SeedLog {
    const owner = "SeedLog.sliceSteps";
    if (typeof fromStep !== "number" || !(fromStep >= 0)) {
      throw new InvalidArgumentError(owner, "fromStep", fromStep, "a number >= 0");
    }
    if (typeof toStep !== "number" || !(toStep >= fromStep)) {
      throw new InvalidArgumentError(owner, "toStep", toStep, `a number >= fromStep (${fromStep})`);
    }
    const start = this.indexOfStep(fromStep);
    const end = this.indexOfStep(toStep);
    const out = new SeedLog(this.options);
    if (end > start) {
      out.runValue = this.runValue;
      out.shape = this.shape;
      out.reserve(end - start);
      out.bytes.set(
        this.bytes.subarray(this.offsetOf(start), this.offsetOf(end)),
        SEED_LOG_HEADER_BYTES,
      );
      out.count = end - start;
      const last = this.read(end - 1);
      out.cursor = {
        step: last.step,
        direction: last.direction,
        learningRate: last.learningRate,
        epsilon: last.epsilon,
      };
    }
    return out;
  }

  /** A copy of this log. */
  clone(): SeedLog {
    return this.sliceSteps(0);
  }

  /** The log in the byte layout of the file header, checksum included. */
  encode(): Uint8Array {
    const size = this.shape?.size ?? 0;
    const body = SEED_LOG_HEADER_BYTES + this.count * size;
    const out = new Uint8Array(body + SEED_LOG_CHECKSUM_BYTES);
    out.set(this.bytes.subarray(SEED_LOG_HEADER_BYTES, body), SEED_LOG_HEADER_BYTES);
    const view = new DataView(out.buffer);
    for (let i = 0; i < SEED_LOG_MAGIC.length; i++) out[i] = SEED_LOG_MAGIC.charCodeAt(i);
    view.setUint16(8, SEED_LOG_VERSION, true);
    view.setUint16(10, SEED_LOG_HEADER_BYTES, true);
    view.setUint16(12, size, true);
    out[14] = this.scalarEncoding === "code8" ? 1 : 0;
    view.setInt8(15, this.scaleExponent);
    const run = this.runValue;
    out[16] = (this.keepProjectedGradients ? FLAG_PROJECTED : 0) | (run ? FLAG_RUN_FIXED : 0);
    if (run) {
      out[17] = METHODS.indexOf(run.method);
      out[18] = ESTIMATORS.indexOf(run.estimator);
      out[19] = PERTURBATIONS.indexOf(run.perturbation);
      out[20] = SOURCES.indexOf(run.source);
      out[21] = DIRECTION_DISTRIBUTIONS.indexOf(run.directionDistribution);
      view.setUint32(24, run.directions, true);
      writeU64(view, 32, run.seed);
    }
    writeU64(view, 40, this.count);
    out.set(new Fnv1a64().update(out.subarray(0, body)).digestBytes(), body);
    return out;
  }

  /**
   * Reads bytes written by {@link SeedLog.encode}.
   * @throws SeedLogError naming what is wrong: not a seed log, unknown version, truncated,
   *   checksum mismatch, or a malformed header or record
   */
  static decode(bytes: Uint8Array): SeedLog {
    if (!(bytes instanceof Uint8Array)) {
      throw new InvalidArgumentError("SeedLog.decode", "bytes", bytes, "a Uint8Array");
    }
    const minimum = SEED_LOG_HEADER_BYTES + SEED_LOG_CHECKSUM_BYTES;
    const magicLength = Math.min(bytes.length, SEED_LOG_MAGIC.length);
    for (let i = 0; i < magicLength; i++) {
      if (bytes[i] !== SEED_LOG_MAGIC.charCodeAt(i)) {
        throw new SeedLogError(
          "format",
          `not a seed log: it does not start with "${SEED_LOG_MAGIC}"`,
        );
      }
    }
    if (bytes.length < 10) {
      throw new SeedLogError("truncated", `seed log is truncated: ${bytes.length} bytes`);
    }
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    const version = view.getUint16(8, true);
    if (version !== SEED_LOG_VERSION) {
      throw new SeedLogError(
        "version",
        `seed log version ${version} is not supported (this library reads version ${SEED_LOG_VERSION})`,
      );
    }
    if (bytes.length < minimum) {
      throw new SeedLogError(
        "truncated",
        `seed log is truncated: ${bytes.length} bytes, fewer than the ${minimum} of an empty log`,
      );
    }
    const recordSize = view.getUint16(12, true);
    const count = readU64(view, 40);
    const expected = minimum + count * recordSize;
    if (bytes.length !== expected) {
      throw new SeedLogError(
        bytes.length < expected ? "truncated" : "malformed",
        `seed log is ${bytes.length < expected ? "truncated" : "malformed"}: its header declares ${count} records of ${recordSize} bytes (${expected} bytes in all), but ${bytes.length} bytes are present`,
      );
    }
    const body = expected - SEED_LOG_CHECKSUM_BYTES;
    const sum = new Fnv1a64().update(bytes.subarray(0, body)).digestBytes();
    if (!sum.every((b, i) => b === bytes[body + i])) {
      throw new SeedLogError(
        "checksum",
        "seed log is corrupt: its checksum does not match its contents",
      );
    }
    const malformed = (what: string) =>
      new SeedLogError("malformed", `seed log header is malformed: ${what}`);
    if (view.getUint16(10, true) !== SEED_LOG_HEADER_BYTES) {
      throw malformed(`header size ${view.getUint16(10, true)}, expected ${SEED_LOG_HEADER_BYTES}`);
    }
    const encodingByte = bytes[14];
    if (encodingByte > 1) throw malformed(`scalar encoding ${encodingByte}`);
    const flags = bytes[16];
    if ((flags & ~(FLAG_PROJECTED | FLAG_RUN_FIXED)) !== 0) throw malformed(`flags ${flags}`);
    for (const at of [22, 23, 28, 29, 30, 31]) {
      if (bytes[at] !== 0) throw malformed(`reserved byte ${at} is ${bytes[at]}, not 0`);
    }
    const scale = view.getInt8(15);
    let log: SeedLog;
    try {
      log = new SeedLog(
        encodingByte === 1
          ? {
              scalarEncoding: "code8",
              scaleExponent: scale,
              keepProjectedGradients: (flags & FLAG_PROJECTED) !== 0,
            }
          : { scalarEncoding: "float32", keepProjectedGradients: (flags & FLAG_PROJECTED) !== 0 },
      );
    } catch (e) {
      throw malformed((e as Error).message);
    }
    if (encodingByte === 0 && scale !== 0)
      throw malformed(`scale exponent ${scale} with float32 scalars`);
    if ((flags & FLAG_RUN_FIXED) === 0) {
      if (count !== 0 || recordSize !== 0 || bytes.subarray(17, 40).some((b) => b !== 0)) {
        throw malformed("records or run fields without a fixed run");
      }
      return log;
    }
    const choose = <T>(list: readonly T[], at: number, what: string): T => {
      if (bytes[at] >= list.length) throw malformed(`${what} code ${bytes[at]}`);
      return list[bytes[at]];
    };
    const run: SeedLogRun = {
      seed: readU64(view, 32),
      directions: view.getUint32(24, true),
      method: choose(METHODS, 17, "method"),
      estimator: choose(ESTIMATORS, 18, "estimator"),
      perturbation: choose(PERTURBATIONS, 19, "perturbation"),
      source: choose(SOURCES, 20, "direction source"),
      directionDistribution: choose(DIRECTION_DISTRIBUTIONS, 21, "direction distribution"),
    };
    if (!isInteger(run.seed, SEED_LIMIT)) throw malformed(`seed ${run.seed}`);
    if (!isInteger(run.directions, DIRECTIONS_PER_STEP_LIMIT + 1, 1)) {
      throw malformed(`directions per step ${run.directions}`);
    }
    const shape = recordShape(run, log.scalarEncoding === "code8", log.keepProjectedGradients);
    if (shape.size !== recordSize) {
      throw malformed(`record size ${recordSize}, expected ${shape.size} for this run`);
    }
    // Every record is checked as append would; a failure names the record.
    log.runValue = Object.freeze(run);
    log.shape = shape;
    let cursor: Cursor | undefined;
    log.reserve(count);
    for (let i = 0; i < count; i++) {
      const at = SEED_LOG_HEADER_BYTES + i * recordSize;
      const record = readRecordFrom(view, at, run, shape, log);
      let c: CheckedRecord;
      try {
        c = log.check(`seed log record ${i}`, record, run, cursor);
      } catch (e) {
        throw new SeedLogError("malformed", `seed log is malformed: ${(e as Error).message}`);
      }
      cursor = {
        step: c.step,
        direction: c.direction,
        learningRate: c.learningRate,
        epsilon: c.epsilon,
      };
    }
    log.bytes.set(bytes.subarray(SEED_LOG_HEADER_BYTES, body), SEED_LOG_HEADER_BYTES);
    log.count = count;
    log.cursor = cursor;
    return log;
  }

  private offsetOf(index: number): number {
    return SEED_LOG_HEADER_BYTES + index * (this.shape?.size ?? 0);
  }

  private reserve(records: number): void {
    const needed = SEED_LOG_HEADER_BYTES + records * (this.shape?.size ?? 0);
    if (needed <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(needed, 2 * this.bytes.length));
    grown.set(this.bytes);
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  private write(index: number, c: CheckedRecord): void {
    const shape = this.shape!;
    const view = this.view;
    const at = this.offsetOf(index);
    view.setUint32(at, c.step, true);
    view.setUint32(at + 4, c.direction, true);
    if (shape.seedIndex >= 0) view.setUint32(at + shape.seedIndex, c.seedIndex, true);
    view.setFloat64(at + shape.learningRate, c.learningRate, true);
    view.setFloat64(at + shape.epsilon, c.epsilon, true);
    if (shape.projectedGradient >= 0) {
      view.setFloat64(at + shape.projectedGradient, c.projectedGradient, true);
    }
    this.writeScalar(at + shape.scalar, c.scalar);
    if (shape.trialScalar >= 0) this.writeScalar(at + shape.trialScalar, c.trialScalar);
  }

  private writeScalar(at: number, value: number): void {
    if (this.scalarEncoding === "code8")
      this.view.setUint8(at, exactScalarCode(value, this.scaleExponent));
    else this.view.setFloat32(at, value, true);
  }

  private read(index: number): ZoStepRecord {
    return readRecordFrom(this.view, this.offsetOf(index), this.runValue!, this.shape!, this);
  }

  /** Checks `record` against the run and the cursor; returns it in written form. */
  private check(
    owner: string,
    record: ZoStepRecord,
    run: SeedLogRun | undefined,
    cursor: Cursor | undefined,
  ): CheckedRecord {
    if (typeof record !== "object" || record === null) {
      throw new InvalidArgumentError(owner, "record", record, "a step record");
    }
    const r = record as unknown as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!RECORD_KEYS.includes(key)) {
        throw new InvalidArgumentError(
          owner,
          key,
          r[key],
          `absent: a step record has no field "${key}"`,
        );
      }
    }
    const bad = (field: string, requirement: string): never => {
      throw new InvalidArgumentError(owner, field, r[field], requirement);
    };
    const method = checkChoice(owner, "method", r.method, METHODS);
    const estimator = checkChoice(owner, "estimator", r.estimator, ESTIMATORS);
    const perturbation = checkChoice(owner, "perturbation", r.perturbation, PERTURBATIONS);
    if (!isInteger(r.seed, SEED_LIMIT)) bad("seed", "an integer in [0, 2^53)");
    if (!isInteger(r.directions, DIRECTIONS_PER_STEP_LIMIT + 1, 1)) {
      bad("directions", "an integer in [1, 2^20]");
    }
    const source = r.seedIndex === undefined ? "fresh" : "pool";
    // Absent means "normal", the only distribution there was before the choice existed.
    const directionDistribution = checkDirectionDistribution(
      owner,
      r.directionDistribution ?? "normal",
    );
    const here: SeedLogRun = {
      seed: r.seed as number,
      directions: r.directions as number,
      method,
      estimator,
      perturbation,
      source,
      directionDistribution,
    };
    if (run !== undefined) {
      for (const key of ["seed", "directions", "method", "estimator", "perturbation"] as const) {
        if (here[key] !== run[key]) bad(key, `the log's ${key} (${String(run[key])})`);
      }
      if (directionDistribution !== run.directionDistribution) {
        throw new InvalidArgumentError(
          owner,
          "directionDistribution",
          directionDistribution,
          `the log's directionDistribution (${run.directionDistribution})`,
        );
      }
      if (source !== run.source) {
        bad(
          "seedIndex",
          run.source === "pool"
            ? "an integer: this log's directions come from a seed pool"
            : "absent: this log's directions are fresh, not from a seed pool",
        );
      }
    }
    if (!isInteger(r.step, FRESH_STEP_LIMIT)) bad("step", "an integer in [0, 2^32)");
    if (!isInteger(r.direction, here.directions)) {
      bad("direction", `an integer in [0, ${here.directions}) (directions per step)`);
    }
    const step = r.step as number;
    const direction = r.direction as number;
    let seedIndex = 0;
    if (source === "pool") {
      if (!isInteger(r.seedIndex, POOL_SIZE_LIMIT)) bad("seedIndex", "an integer in [0, 2^32)");
      seedIndex = r.seedIndex as number;
    }
    if (cursor !== undefined) {
      if (step < cursor.step) bad("step", `>= the previous record's step (${cursor.step})`);
      if (step === cursor.step && direction !== cursor.direction + 1) {
        bad("direction", `${cursor.direction + 1}, the next direction of step ${step}`);
      }
      if (step !== cursor.step && cursor.direction !== here.directions - 1) {
        bad(
          "step",
          `${cursor.step}: step ${cursor.step} has ${cursor.direction + 1} of its ${here.directions} records`,
        );
      }
    }
    if ((cursor === undefined || step !== cursor.step) && direction !== 0) {
      bad("direction", `0, the first direction of step ${step}`);
    }
    const stream = source === "pool" ? poolStream(seedIndex) : freshStream(step, direction);
    if (r.stream !== stream) {
      bad(
        "stream",
        source === "pool"
          ? `the stream of pool member ${seedIndex} (${stream})`
          : `the stream of step ${step}, direction ${direction} (${stream})`,
      );
    }
    const learningRate = r.learningRate;
    if (typeof learningRate !== "number" || !Number.isFinite(learningRate)) {
      bad("learningRate", "a finite number");
    }
    const epsilon = r.epsilon;
    if (typeof epsilon !== "number" || !Number.isFinite(epsilon) || !(epsilon > 0)) {
      bad("epsilon", "a finite number > 0");
    }
    if (cursor !== undefined && step === cursor.step) {
      if (!Object.is(learningRate, cursor.learningRate)) {
        bad(
          "learningRate",
          `the learning rate of step ${step}'s other records (${cursor.learningRate})`,
        );
      }
      if (!Object.is(epsilon, cursor.epsilon)) {
        bad("epsilon", `the epsilon of step ${step}'s other records (${cursor.epsilon})`);
      }
    }
    const g = r.projectedGradient;
    if (typeof g !== "number" || (this.keepProjectedGradients && !Number.isFinite(g))) {
      bad("projectedGradient", this.keepProjectedGradients ? "a finite number" : "a number");
    }
    const scalar = this.checkScalar(owner, "scalar", r.scalar);
    let trialScalar = 0;
    if (method === "zoCons") trialScalar = this.checkScalar(owner, "trialScalar", r.trialScalar);
    else if (r.trialScalar !== undefined) bad("trialScalar", "absent (zoCons records only)");
    return {
      run: run ?? here,
      step,
      direction,
      seedIndex,
      learningRate: learningRate as number,
      epsilon: epsilon as number,
      projectedGradient: g as number,
      scalar,
      trialScalar,
    };
  }

  private checkScalar(owner: string, field: string, value: unknown): number {
    if (typeof value !== "number" || !isFloat32Value(value)) {
      throw new InvalidArgumentError(owner, field, value, "a finite float32 value");
    }
    if (this.scalarEncoding === "code8" && exactScalarCode(value, this.scaleExponent) < 0) {
      throw new InvalidArgumentError(
        owner,
        field,
        value,
        `a value of the one-byte code table at scale 2^${this.scaleExponent} (apply and record scalarCodeQuantizer(${this.scaleExponent})'s output)`,
      );
    }
    return value;
  }
}

/** Decodes the record starting at byte `at` of `source`. */
function readRecordFrom(
  source: DataView,
  at: number,
  run: SeedLogRun,
  shape: RecordShape,
  log: SeedLog,
): ZoStepRecord {
  const step = source.getUint32(at, true);
  const direction = source.getUint32(at + 4, true);
  const readScalar = (offset: number): number =>
    log.scalarEncoding === "code8"
      ? decodeCode(source.getUint8(at + offset), log.scaleExponent)
      : source.getFloat32(at + offset, true);
  const common = {
    step,
    direction,
    directions: run.directions,
    seed: run.seed,
  };
  const distribution =
    run.directionDistribution === "normal"
      ? {}
      : { directionDistribution: run.directionDistribution };
  const tail = {
    scalar: readScalar(shape.scalar),
    learningRate: source.getFloat64(at + shape.learningRate, true),
    epsilon: source.getFloat64(at + shape.epsilon, true),
    projectedGradient:
      shape.projectedGradient >= 0 ? source.getFloat64(at + shape.projectedGradient, true) : NaN,
    method: run.method,
    estimator: run.estimator,
    perturbation: run.perturbation,
  };
  const trial = shape.trialScalar >= 0 ? { trialScalar: readScalar(shape.trialScalar) } : {};
  if (shape.seedIndex >= 0) {
    const seedIndex = source.getUint32(at + shape.seedIndex, true);
    return {
      ...common,
      stream: poolStream(seedIndex),
      seedIndex,
      ...distribution,
      ...tail,
      ...trial,
    };
  }
  return {
    ...common,
    stream: freshStreamUnchecked(step, direction),
    ...distribution,
    ...tail,
    ...trial,
  };
}

/** A stored code, or NaN for the two invalid bytes (the record check then refuses it). */
function decodeCode(code: number, scaleExponent: number): number {
  return (code & 0x7f) === 0x7f ? NaN : decodeScalarCode(code, scaleExponent);
}

function freshStreamUnchecked(step: number, direction: number): number {
  return step < FRESH_STEP_LIMIT && direction < DIRECTIONS_PER_STEP_LIMIT
    ? freshStream(step, direction)
    : NaN;
}
