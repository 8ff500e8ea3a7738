/**
 * Replay: the parameters of a zeroth-order run rebuilt bit for bit from the base weights and
 * the run's seed log, optionally starting from a snapshot, and {@link ZoHistory}, which keeps
 * the three together while a run goes on (base-weights fingerprint, log, periodic snapshots).
 *
 * That a MeZO run is determined by its base weights and its (seed, projected gradient) pairs,
 * and can be stored and rebuilt that way, is observed by Malladi, Gao, Nichani, Damian, Lee,
 * Chen & Arora, "Fine-Tuning Language Models with Just Forward Passes", NeurIPS 2023; here the
 * stored scalar is the one applied (learning rate and rounding included), which is what makes
 * the rebuild exact.
 *
 * ## What replays from the records alone
 *
 * A record of step t, direction j means θ_i ← fl(θ_i − s_j·z_j,i) (record.ts; fl rounds to the
 * layout's dtype, z_j is the direction of the record's Philox address, directions.ts) for
 *
 * - `zoSgd` (MeZO): s_j = q(fround(lr_t·g_j / n)), the learning rate folded in, so schedules
 *   replay as they ran;
 * - `zoCons`: s_j = ±trial or 0, whichever candidate the step kept;
 *
 * when the run used virtual perturbations (θ written only by the update). Replaying such a log
 * applies its records in order to a copy of the base weights: the same operations on the same
 * numbers in the same order as the live run, so the same bits. The records are applied one chunk
 * of the parameters at a time, every record to a chunk before the next chunk; each element still
 * sees the records in log order, so the bits are those of record-by-record application, with
 * z generated one chunk at a time (apply.ts, `directionChunkLength`: at most `DIRECTION_CHUNK`
 * elements), so there is no parameter-sized temporary.
 *
 * Refused, naming the record's field:
 * - `zoMomentum`, `zoAdam`: the update reads state (momentum, moments) that the records do
 *   not hold; rerun the method itself on the records (`ZoOptimizer.replay`), which rebuilds the
 *   state step by step and is just as deterministic.
 * - `zoSignEstimate` (`zoSign({ signOf: "estimate" })`): its update takes the sign of the whole
 *   estimate, which the scalars do not determine coordinate by coordinate; rerun the method
 *   (`ZoOptimizer.replay`). The default projected `zoSign` replays here like zoSgd.
 * - `perturbation: "inPlace"`: the live run also wrote θ ± εz and restored it, and float32
 *   restoration is inexact, so applying the scalars alone does not give its bits; the method's
 *   own replay repeats those writes.
 *
 * ## Direction distribution
 *
 * A log holds the direction distribution its run drew from (directions.ts; seedLog.ts, header
 * byte 21), and a replay regenerates z from that one. A caller that knows which one it expects
 * passes it (`directionDistribution`), and a log written with the other is refused, naming
 * both, before anything is written; a {@link ZoHistory} keeps its run's and refuses records of
 * the other. A `FastRandom` handle (`random`) makes the replay generate z with WebAssembly SIMD,
 * the same bits.
 *
 * ## Snapshots
 *
 * A {@link Snapshot} holds the raw bits of the parameters after every record of the steps
 * before `step`, and their fingerprint (hash.ts). A replay to step T starts from the latest
 * snapshot at or before T (checking its fingerprint first) instead of the base weights, so
 * taking one every k steps bounds the cost of a replay by k steps' records. Snapshots are exact
 * copies, so a replay from a snapshot equals the replay from the base weights bit for bit.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { FloatArray, Layout } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import type { FastRandom } from "../random/index.js";
import type { DirectionRef } from "./apply.js";
import { DirectionScratch, addDirections } from "./apply.js";
import type { ZoDirectionDistribution } from "./directions.js";
import { checkDirectionDistribution, checkFastRandom } from "./directions.js";
import { hashBits } from "./hash.js";
import type { ZoStepRecord } from "./record.js";
import type { SeedLogOptions, SeedLogRun } from "./seedLog.js";
import { SeedLog } from "./seedLog.js";

/** Methods whose records alone rebuild the parameters (with virtual perturbations). */
export const REPLAYABLE_METHODS: readonly string[] = Object.freeze(["zoSgd", "zoSign", "zoCons"]);

/** Records applied per pass over the parameters. */
const RECORDS_PER_PASS = 256;

/** The parameters at one point of a run, as raw bits. */
export interface Snapshot {
  /** The parameters after every record of steps 0 … step − 1 (and none of later steps). */
  readonly step: number;
  /** A copy of the parameters' flat buffer. */
  readonly params: FloatArray;
  /** {@link hashBits} of `params`. */
  readonly hash: string;
}

/** Options of {@link replay}. */
export interface ReplayOptions {
  /** Snapshots of the same run; the replay starts from the latest one at or before `toStep`. */
  snapshots?: readonly Snapshot[];
  /** Apply the records of steps before this one (default: every record). */
  toStep?: number;
  /**
   * Where to write the result: a buffer like the base weights (default: a new one). It may be
   * the base buffer itself, for an in-place replay.
   */
  out?: FloatArray;
  /** The direction distribution the log must have been written with (default: the log's own). */
  directionDistribution?: ZoDirectionDistribution;
  /** A handle from `useFastRandom` to generate the directions with (same bits, faster). */
  random?: FastRandom;
}

/**
 * The flat buffer of `params` (a {@link ParamSet} or a float array), or an
 * `InvalidArgumentError` naming `owner` and `parameter`.
 */
export function dataOf(owner: string, parameter: string, params: unknown): FloatArray {
  if (params instanceof ParamSet) return params.data;
  if (params instanceof Float32Array || params instanceof Float64Array) return params;
  throw new InvalidArgumentError(
    owner,
    parameter,
    params,
    "a ParamSet, Float32Array or Float64Array",
  );
}

function sameKind(a: FloatArray, b: FloatArray): boolean {
  return a.constructor === b.constructor && a.length === b.length;
}

function describeBuffer(x: FloatArray): string {
  return `${x.constructor.name} of ${x.length}`;
}

/**
 * Throws unless records of `run` replay from their scalars alone (see the file header).
 * @param owner - names the caller in the error
 */
export function checkReplayable(owner: string, run: SeedLogRun): void {
  if (!REPLAYABLE_METHODS.includes(run.method)) {
    const why =
      run.method === "zoSignEstimate"
        ? "(the sign of the whole estimate is not determined by the scalars; rerun the method with ZoOptimizer.replay)"
        : "(its state is not in the records; rerun the method with ZoOptimizer.replay)";
    throw new InvalidArgumentError(
      owner,
      "record.method",
      run.method,
      `one of ${REPLAYABLE_METHODS.map((m) => JSON.stringify(m)).join(", ")} ${why}`,
    );
  }
  if (run.perturbation !== "virtual") {
    throw new InvalidArgumentError(
      owner,
      "record.perturbation",
      run.perturbation,
      '"virtual" (in-place perturbations leave restore drift that the scalars do not carry; rerun the method with ZoOptimizer.replay)',
    );
  }
}

/**
 * Throws unless `run` drew its directions from `expected` (the error names both).
 * @param owner - names the caller in the error
 */
export function checkRunDistribution(
  owner: string,
  run: SeedLogRun | undefined,
  expected: ZoDirectionDistribution,
): void {
  if (run !== undefined && run.directionDistribution !== expected) {
    throw new InvalidArgumentError(
      owner,
      "directionDistribution",
      run.directionDistribution,
      `${expected}, the expected direction distribution (the log was written with ${run.directionDistribution})`,
    );
  }
}

/** A validated log: a SeedLog as it is, an array of records checked by appending them to one. */
function asLog(owner: string, log: unknown): SeedLog {
  if (log instanceof SeedLog) return log;
  if (Array.isArray(log)) {
    const built = new SeedLog();
    built.appendAll(log as ZoStepRecord[]);
    return built;
  }
  throw new InvalidArgumentError(owner, "log", log, "a SeedLog or an array of step records");
}

/** Checks a snapshot against the parameters it stands for; `checkHash` recomputes its fingerprint. */
function checkSnapshot(
  owner: string,
  snapshot: Snapshot,
  like: FloatArray,
  index: number,
  checkHash: boolean,
): void {
  const s = snapshot as Partial<Snapshot> | null;
  if (
    typeof s !== "object" ||
    s === null ||
    typeof s.step !== "number" ||
    !Number.isInteger(s.step) ||
    s.step < 0 ||
    !(s.params instanceof Float32Array || s.params instanceof Float64Array) ||
    typeof s.hash !== "string"
  ) {
    throw new InvalidArgumentError(
      owner,
      `snapshots[${index}]`,
      snapshot,
      "a Snapshot { step, params, hash }",
    );
  }
  if (!sameKind(s.params, like)) {
    throw new ShapeMismatchError(
      `${owner}: snapshot at step ${s.step} holds a ${describeBuffer(s.params)}, the base weights a ${describeBuffer(like)}`,
    );
  }
  if (checkHash) {
    const actual = hashBits(s.params);
    if (actual !== s.hash) {
      throw new InvalidArgumentError(
        owner,
        `snapshots[${index}].hash`,
        s.hash,
        `the fingerprint of the snapshot's parameters (${actual}): the snapshot was altered`,
      );
    }
  }
}

/** Applies records `start … end − 1` of `log` to `target` in place. */
function applyRange(
  target: FloatArray,
  log: SeedLog,
  start: number,
  end: number,
  scratch: DirectionScratch,
): void {
  const refs: DirectionRef[] = [];
  const coefficients: number[] = [];
  for (let first = start; first < end; first += RECORDS_PER_PASS) {
    refs.length = 0;
    coefficients.length = 0;
    for (const r of log.records(first, Math.min(end, first + RECORDS_PER_PASS))) {
      refs.push({ seed: r.seed, stream: r.stream, directionDistribution: r.directionDistribution });
      coefficients.push(-r.scalar);
    }
    addDirections(target, refs, coefficients, scratch);
  }
}

/**
 * Applies the records of steps `fromStep` ≤ t < `toStep` of `log` to `target` in place: what a
 * replay does after choosing its starting point, and how a peer that already holds the
 * parameters after step `fromStep` catches up. The records are checked for replayability
 * first; `target` must be the parameters after the steps before `fromStep`, or the result means
 * nothing. With `random` (a handle from `useFastRandom`) z is generated with WebAssembly SIMD,
 * the same bits.
 */
export function applySteps(
  target: FloatArray,
  log: SeedLog,
  fromStep: number,
  toStep = Infinity,
  random: FastRandom | null = null,
): void {
  const owner = "applySteps";
  if (!(target instanceof Float32Array || target instanceof Float64Array)) {
    throw new InvalidArgumentError(owner, "target", target, "a Float32Array or Float64Array");
  }
  if (!(log instanceof SeedLog)) throw new InvalidArgumentError(owner, "log", log, "a SeedLog");
  if (typeof fromStep !== "number" || !(fromStep >= 0)) {
    throw new InvalidArgumentError(owner, "fromStep", fromStep, "a number >= 0");
  }
  if (typeof toStep !== "number" || !(toStep >= fromStep)) {
    throw new InvalidArgumentError(owner, "toStep", toStep, `a number >= fromStep (${fromStep})`);
  }
  if (random !== null) checkFastRandom(owner, random);
  if (log.run !== undefined) checkReplayable(owner, log.run);
  const first = log.indexOfStep(fromStep);
  const last = log.indexOfStep(toStep);
  if (last > first) applyRange(target, log, first, last, DirectionScratch.for(target, random));
}

/**
 * The parameters after the records of steps before `options.toStep` (default: all), rebuilt
 * from `base` (the weights the run started from) and the run's log, bit for bit as the live run
 * computed them. Only records that replay from their scalars alone are accepted (file header);
 * everything is checked before anything is written, and `base` is never modified unless it is
 * also `options.out`.
 *
 * @param base - the base weights (a ParamSet or its flat buffer)
 * @param log - the run's log, or its records in order
 * @throws InvalidArgumentError for records that cannot replay here, a log of another direction
 *   distribution than `options.directionDistribution`, bad options or a snapshot whose
 *   fingerprint does not match its bits; ShapeMismatchError for buffers of another type or
 *   length
 */
export function replay(
  base: ParamSet | FloatArray,
  log: SeedLog | readonly ZoStepRecord[],
  options: ReplayOptions = {},
): FloatArray {
  const owner = "replay";
  const start = dataOf(owner, "base", base);
  const theLog = asLog(owner, log);
  if (typeof options !== "object" || options === null) {
    throw new InvalidArgumentError(owner, "options", options, "an object");
  }
  for (const key of Object.keys(options)) {
    if (!["snapshots", "toStep", "out", "directionDistribution", "random"].includes(key)) {
      throw new InvalidArgumentError(
        owner,
        key,
        (options as Record<string, unknown>)[key],
        "a known option (snapshots, toStep, out, directionDistribution, random)",
      );
    }
  }
  const random = options.random === undefined ? null : checkFastRandom(owner, options.random);
  if (options.directionDistribution !== undefined) {
    const expected = checkDirectionDistribution(owner, options.directionDistribution);
    checkRunDistribution(owner, theLog.run, expected);
  }
  const toStep = options.toStep ?? Infinity;
  if (typeof toStep !== "number" || Number.isNaN(toStep) || toStep < 0) {
    throw new InvalidArgumentError(owner, "toStep", toStep, "a number >= 0");
  }
  const out =
    options.out ??
    (start instanceof Float32Array
      ? new Float32Array(start.length)
      : new Float64Array(start.length));
  if (!(out instanceof Float32Array || out instanceof Float64Array) || !sameKind(out, start)) {
    throw new ShapeMismatchError(
      `${owner}: out must be a buffer like the base weights (${describeBuffer(start)}), got ${out instanceof Float32Array || out instanceof Float64Array ? describeBuffer(out) : typeof out}`,
    );
  }
  if (theLog.run !== undefined) checkReplayable(owner, theLog.run);
  const snapshots = options.snapshots ?? [];
  if (!Array.isArray(snapshots)) {
    throw new InvalidArgumentError(owner, "snapshots", snapshots, "an array of snapshots");
  }
  let from: Snapshot | undefined;
  let fromIndex = -1;
  snapshots.forEach((s, i) => {
    checkSnapshot(owner, s, start, i, false);
    if (s.step <= toStep && (from === undefined || s.step > from.step)) {
      from = s;
      fromIndex = i;
    }
  });
  if (from !== undefined) checkSnapshot(owner, from, start, fromIndex, true);

  // Every check passed; nothing below can fail.
  const origin = from?.params ?? start;
  if (origin !== out) out.set(origin);
  const first = from === undefined ? 0 : theLog.indexOfStep(from.step);
  const last = theLog.indexOfStep(toStep);
  if (last > first) applyRange(out, theLog, first, last, DirectionScratch.for(out, random));
  return out;
}

/** A snapshot of `params` after the steps before `step` (a copy of the bits and their fingerprint). */
export function takeSnapshot(step: number, params: ParamSet | FloatArray): Snapshot {
  const data = dataOf("takeSnapshot", "params", params);
  if (!Number.isInteger(step) || step < 0) {
    throw new InvalidArgumentError("takeSnapshot", "step", step, "an integer >= 0");
  }
  const copy = data.slice();
  return Object.freeze({ step, params: copy, hash: hashBits(copy) });
}

/** Options of {@link ZoHistory}. */
export interface ZoHistoryOptions extends SeedLogOptions {
  /** Take a snapshot after every k-th step (k ≥ 1), or never with 0 (the default). */
  snapshotEvery?: number;
  /** The run's direction distribution (default `"normal"`); records of the other are refused. */
  directionDistribution?: ZoDirectionDistribution;
}

/** The parts a {@link ZoHistory} is made of, e.g. as read from a checkpoint. */
export interface ZoHistoryParts {
  /** Names, shapes and dtype of the parameters. */
  readonly layout: Layout;
  /** Fingerprint ({@link hashBits}) of the base weights. */
  readonly baseHash: string;
  /** The run's log. */
  readonly log: SeedLog;
  /** Snapshots, in increasing step order. */
  readonly snapshots: readonly Snapshot[];
  /** The snapshot period k (0: none). */
  readonly snapshotEvery: number;
  /**
   * The run's direction distribution (default: the log's, or `"normal"` for an empty log); it
   * must agree with the log's.
   */
  readonly directionDistribution?: ZoDirectionDistribution;
}

function checkSnapshotEvery(owner: string, k: unknown): number {
  if (typeof k !== "number" || !Number.isInteger(k) || k < 0) {
    throw new InvalidArgumentError(owner, "snapshotEvery", k, "an integer >= 0 (0: no snapshots)");
  }
  return k;
}

const HASH_PATTERN = /^[0-9a-f]{16}$/;

/**
 * A zeroth-order run's history while it runs: the fingerprint of the base weights, the seed
 * log, and a snapshot every `snapshotEvery` steps. Start one with {@link ZoHistory.start} and
 * feed it each step's records with the parameters after that step; it refuses runs that cannot
 * replay from their records (file header) at their first record, before anything is kept.
 */
export class ZoHistory {
  /** Names, shapes and dtype of the parameters. */
  readonly layout: Layout;
  /** Fingerprint of the base weights. */
  readonly baseHash: string;
  /** The run's log. */
  readonly log: SeedLog;
  /** The snapshot period k (0: none). */
  readonly snapshotEvery: number;
  /** The run's direction distribution: every record must have been drawn from it. */
  readonly directionDistribution: ZoDirectionDistribution;
  private readonly snapshotList: Snapshot[];

  private constructor(
    layout: Layout,
    baseHash: string,
    log: SeedLog,
    snapshotEvery: number,
    snapshots: Snapshot[],
    directionDistribution: ZoDirectionDistribution,
  ) {
    this.directionDistribution = directionDistribution;
    this.layout = layout;
    this.baseHash = baseHash;
    this.log = log;
    this.snapshotEvery = snapshotEvery;
    this.snapshotList = snapshots;
  }

  /**
   * A history for a run starting from `base` (only its layout and fingerprint are kept).
   * @param options - the log's options and the snapshot period
   */
  static start(base: ParamSet, options: ZoHistoryOptions = {}): ZoHistory {
    const owner = "ZoHistory.start";
    if (!(base instanceof ParamSet)) {
      throw new InvalidArgumentError(owner, "base", base, "a ParamSet");
    }
    if (typeof options !== "object" || options === null) {
      throw new InvalidArgumentError(owner, "options", options, "an object");
    }
    const { snapshotEvery, directionDistribution, ...logOptions } = options;
    const every = checkSnapshotEvery(owner, snapshotEvery ?? 0);
    const distribution = checkDirectionDistribution(owner, directionDistribution ?? "normal");
    return new ZoHistory(
      base.layout,
      hashBits(base.data),
      new SeedLog(logOptions),
      every,
      [],
      distribution,
    );
  }

  /**
   * A history from its parts (what a checkpoint holds), checked for consistency: fingerprint
   * form, snapshots of the layout whose bits match their fingerprints, snapshot steps increasing
   * and within the log, and a log that replays from its records.
   */
  static fromParts(parts: ZoHistoryParts): ZoHistory {
    const owner = "ZoHistory.fromParts";
    const { layout, baseHash, log, snapshots, snapshotEvery } = parts;
    let distribution: ZoDirectionDistribution;
    if (typeof baseHash !== "string" || !HASH_PATTERN.test(baseHash)) {
      throw new InvalidArgumentError(
        owner,
        "baseHash",
        baseHash,
        "16 lowercase hexadecimal digits",
      );
    }
    if (!(log instanceof SeedLog)) throw new InvalidArgumentError(owner, "log", log, "a SeedLog");
    if (log.run !== undefined) checkReplayable(owner, log.run);
    if (parts.directionDistribution === undefined) {
      distribution = log.run?.directionDistribution ?? "normal";
    } else {
      distribution = checkDirectionDistribution(owner, parts.directionDistribution);
      checkRunDistribution(owner, log.run, distribution);
    }
    if (!Array.isArray(snapshots)) {
      throw new InvalidArgumentError(owner, "snapshots", snapshots, "an array of snapshots");
    }
    const like = layout.zeros();
    let previous = -1;
    const lastStep = log.lastStep ?? -1;
    snapshots.forEach((s, i) => {
      checkSnapshot(owner, s, like, i, true);
      if (s.step <= previous) {
        throw new InvalidArgumentError(
          owner,
          `snapshots[${i}].step`,
          s.step,
          `> the previous snapshot's step (${previous})`,
        );
      }
      if (s.step > lastStep + 1) {
        throw new InvalidArgumentError(
          owner,
          `snapshots[${i}].step`,
          s.step,
          `<= the step after the log's last (${lastStep + 1})`,
        );
      }
      previous = s.step;
    });
    const every = checkSnapshotEvery(owner, snapshotEvery);
    const kept = snapshots.map((s) =>
      Object.freeze({ step: s.step, params: s.params, hash: s.hash }),
    );
    return new ZoHistory(layout, baseHash, log, every, kept, distribution);
  }

  /** The snapshots taken so far, in step order. */
  get snapshots(): readonly Snapshot[] {
    return this.snapshotList;
  }

  /**
   * Records one step: its records (all n of them, or none for a step that was skipped) and the
   * parameters after it. Takes a snapshot when the step count reaches a multiple of
   * `snapshotEvery`. All checks run before anything is kept.
   */
  record(stepRecords: readonly ZoStepRecord[], params: ParamSet | FloatArray): void {
    const owner = "ZoHistory.record";
    const data = dataOf(owner, "params", params);
    this.layout.assertBuffer(data, `${owner}: params`);
    if (!Array.isArray(stepRecords)) {
      throw new InvalidArgumentError(owner, "stepRecords", stepRecords, "the records of one step");
    }
    if (stepRecords.length === 0) return;
    const run = this.log.checkAppend(stepRecords)!;
    checkReplayable(owner, run);
    if (run.directionDistribution !== this.directionDistribution) {
      throw new InvalidArgumentError(
        owner,
        "directionDistribution of the records",
        run.directionDistribution,
        `${this.directionDistribution}, this history's direction distribution`,
      );
    }
    const first = stepRecords[0];
    if (
      stepRecords.length !== run.directions ||
      stepRecords.some((r) => r.step !== first.step) ||
      !this.log.complete
    ) {
      throw new InvalidArgumentError(
        owner,
        "stepRecords",
        `${stepRecords.length} records`,
        `the ${run.directions} records of one step`,
      );
    }
    this.log.appendAll(stepRecords);
    const done = first.step + 1;
    if (this.snapshotEvery > 0 && done % this.snapshotEvery === 0) {
      this.snapshotList.push(takeSnapshot(done, data));
    }
  }

  /**
   * The parameters after the steps before `toStep` (default: all recorded), replayed from the
   * latest snapshot at or before it, or from `base` (checked against the base fingerprint).
   * @param random - a handle from `useFastRandom` to generate the directions with (same bits)
   */
  replay(base: ParamSet | FloatArray, toStep?: number, random?: FastRandom): FloatArray {
    const owner = "ZoHistory.replay";
    const data = dataOf(owner, "base", base);
    this.layout.assertBuffer(data, `${owner}: base`);
    const hash = hashBits(data);
    if (hash !== this.baseHash) {
      throw new InvalidArgumentError(
        owner,
        "base",
        `weights with fingerprint ${hash}`,
        `the run's base weights (fingerprint ${this.baseHash})`,
      );
    }
    return replay(data, this.log, {
      snapshots: this.snapshotList,
      toStep: toStep ?? Infinity,
      ...(random === undefined ? {} : { random }),
    });
  }
}
