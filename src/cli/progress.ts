/**
 * Progress display of a benchmark. On a terminal each run gets a progress bar, redrawn in place
 * (with its loss, elapsed time and estimated time left) and left behind as a summary line when the
 * run ends. Elsewhere (a pipe, a CI log) it writes plain lines: one per finished run, and one
 * every few seconds during a long run, so logs stay readable.
 */
import type { BenchObserver, RunResult, RunSpec } from "../bench/run.js";
import { formatDuration, formatLoss, formatRate } from "../bench/table.js";

/** Where progress is written (e.g. `process.stdout`). */
export interface ProgressOutput {
  /** Writes text. */
  write(text: string): unknown;
  /** Whether the output is a terminal. */
  readonly isTTY?: boolean;
  /** Terminal width in characters. */
  readonly columns?: number;
}

/** Options of {@link BenchProgress}. */
export interface ProgressOptions {
  /** Draw bars in place (default: whether the output is a terminal). */
  readonly tty?: boolean;
  /** Clock in milliseconds (default `performance.now`). */
  readonly now?: () => number;
  /** Least time between two redraws of a bar (default 80 ms). */
  readonly redrawMs?: number;
  /** Time between two plain progress lines of one run (default 10 s). */
  readonly plainEveryMs?: number;
}

const PARTIAL_BLOCKS = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"];

/** A bar `width` characters wide, filled to `fraction` (with eighth-block precision). */
export function progressBar(fraction: number, width: number): string {
  const f = Math.min(1, Math.max(0, Number.isFinite(fraction) ? fraction : 0));
  const eighths = Math.round(f * width * 8);
  const full = Math.floor(eighths / 8);
  const partial = PARTIAL_BLOCKS[eighths % 8];
  const filled = "█".repeat(full) + partial;
  return filled + "░".repeat(width - [...filled].length);
}

/** Estimated time left after `done` of `total` steps took `elapsedMs` (NaN before any step). */
export function estimateRemainingMs(done: number, total: number, elapsedMs: number): number {
  if (done <= 0) return Number.NaN;
  return (elapsedMs / done) * Math.max(0, total - done);
}

/**
 * Estimated time of the runs not yet finished: each run's steps at the pace measured so far on
 * its problem (time per step of the finished runs, setup included). `lowerBound` is set when some
 * problem has no finished run yet, whose runs are then left out.
 */
export function estimateBenchRemainingMs(
  pending: readonly RunSpec[],
  msPerStep: ReadonlyMap<string, number>,
): { ms: number; lowerBound: boolean } {
  let ms = 0;
  let lowerBound = false;
  for (const spec of pending) {
    if (spec.unsupported !== undefined) continue;
    const pace = msPerStep.get(spec.problem);
    if (pace === undefined) lowerBound = true;
    else ms += pace * spec.steps;
  }
  return { ms, lowerBound };
}

function truncate(text: string, width: number): string {
  const chars = [...text];
  return chars.length <= width ? text : `${chars.slice(0, Math.max(0, width - 1)).join("")}…`;
}

/** Renders benchmark progress; pass it to `runBench` as the observer. */
export class BenchProgress implements BenchObserver {
  private readonly out: ProgressOutput;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly redrawMs: number;
  private readonly plainEveryMs: number;
  private optimizerWidth = 8;
  private problemWidth = 10;
  private runStartedAt = 0;
  private lastDraw = Number.NEGATIVE_INFINITY;
  private lineOpen = false;
  private counter = "";
  private barWidth = 20;
  private rateWidth = 6;
  private plan: readonly RunSpec[] = [];
  private readonly pace = new Map<string, { ms: number; steps: number }>();
  private afterCurrent: { ms: number; lowerBound: boolean } = { ms: 0, lowerBound: false };

  /**
   * @param out - where to write, e.g. `process.stdout`
   * @param options - see {@link ProgressOptions}
   */
  constructor(out: ProgressOutput, options: ProgressOptions = {}) {
    this.out = out;
    this.tty = options.tty ?? out.isTTY === true;
    this.now = options.now ?? (() => performance.now());
    this.redrawMs = options.redrawMs ?? 80;
    this.plainEveryMs = options.plainEveryMs ?? 10_000;
  }

  /** Aligns the bars of all runs (optional; call with the plan's runs before the first run). */
  begin(runs: readonly RunSpec[]): void {
    this.plan = runs;
    for (const run of runs) {
      this.optimizerWidth = Math.max(this.optimizerWidth, [...run.optimizer].length);
      this.problemWidth = Math.max(this.problemWidth, [...run.problem].length);
      this.rateWidth = Math.max(this.rateWidth, formatRate(run.learningRate).length);
    }
  }

  /** Estimated time of the runs after run `index` (see {@link estimateBenchRemainingMs}). */
  private remainingAfter(index: number): { ms: number; lowerBound: boolean } {
    if (index < 0 || index + 1 >= this.plan.length) return { ms: 0, lowerBound: false };
    const paces = new Map([...this.pace].map(([problem, p]) => [problem, p.ms / p.steps]));
    return estimateBenchRemainingMs(this.plan.slice(index + 1), paces);
  }

  /** Time left for the whole benchmark after run `index`, as text (empty when unknown). */
  remainingText(index: number): string {
    const { ms, lowerBound } = this.remainingAfter(index);
    if (ms === 0) return "";
    return `${lowerBound ? "more than " : "about "}${formatDuration(ms)} left in all`;
  }

  /** {@inheritDoc BenchObserver.onRunStart} */
  onRunStart(spec: RunSpec, index: number, total: number): void {
    this.counter = `[${String(index + 1).padStart(String(total).length)}/${total}]`;
    // The bar takes the room a line with the widest fields leaves (10 to 30 characters), fixed
    // for the run so it does not jump as the numbers change.
    const stepDigits = String(spec.steps).length;
    const widest = [...this.names(spec)].length + 4 + 2 * stepDigits + 1 + 24 + 14 + 7 + 6 * 2;
    this.barWidth = Math.max(10, Math.min(30, this.width - widest));
    this.afterCurrent = this.remainingAfter(index);
    this.runStartedAt = this.now();
    this.lastDraw = this.runStartedAt;
    if (this.tty) this.draw(this.barLine(spec, 0, Number.NaN, 0));
  }

  /** {@inheritDoc BenchObserver.onStep} */
  onStep(spec: RunSpec, _index: number, step: number, loss: number): void {
    const t = this.now();
    if (this.tty) {
      if (t - this.lastDraw < this.redrawMs && step < spec.steps) return;
      this.lastDraw = t;
      this.draw(this.barLine(spec, step, loss, t - this.runStartedAt));
    } else if (t - this.lastDraw >= this.plainEveryMs) {
      this.lastDraw = t;
      const eta = estimateRemainingMs(step, spec.steps, t - this.runStartedAt);
      this.out.write(
        `${this.counter} ${spec.optimizer} on ${spec.problem}: ${step}/${spec.steps} steps, loss ${formatLoss(loss)}, about ${formatDuration(eta)} left\n`,
      );
    }
  }

  /** {@inheritDoc BenchObserver.onRunEnd} */
  onRunEnd(result: RunResult, index = -1): void {
    if (result.stepsDone > 0) {
      const p = this.pace.get(result.problem) ?? { ms: 0, steps: 0 };
      p.ms += result.times.runMs + result.times.setupMs;
      p.steps += result.stepsDone;
      this.pace.set(result.problem, p);
    }
    const left = index >= 0 ? this.remainingText(index) : "";
    if (this.tty) {
      this.draw(this.endLine(result));
      this.out.write("\n");
      this.lineOpen = false;
    } else {
      this.out.write(`${this.plainEndLine(result)}${left ? `; ${left}` : ""}\n`);
    }
  }

  /** Ends a bar left open (e.g. when the benchmark is interrupted mid-run). */
  close(): void {
    if (this.lineOpen) {
      this.out.write("\n");
      this.lineOpen = false;
    }
  }

  private get width(): number {
    const columns = this.out.columns;
    return columns !== undefined && columns > 20 ? columns - 1 : 99;
  }

  private draw(line: string): void {
    this.out.write(`\r\x1b[2K${truncate(line, this.width)}`);
    this.lineOpen = true;
  }

  private names(spec: RunSpec): string {
    const rate = `lr ${formatRate(spec.learningRate).padEnd(this.rateWidth)}`;
    return `${this.counter} ${spec.optimizer.padEnd(this.optimizerWidth)}  ${spec.problem.padEnd(this.problemWidth)}  ${rate}  seed ${spec.seed}`;
  }

  /** Names, bar, fields and tail on one line. */
  private line(spec: RunSpec, step: number, fields: readonly string[], tail: string): string {
    const fraction = step / spec.steps;
    const digits = String(spec.steps).length;
    const rest = [
      `${String(Math.floor(100 * fraction)).padStart(3)}%`,
      `${String(step).padStart(digits)}/${spec.steps}`,
      ...fields,
    ].join("  ");
    return [this.names(spec), progressBar(fraction, this.barWidth), rest, tail]
      .join("  ")
      .trimEnd();
  }

  // The time left comes before the loss, so that a narrow terminal cuts the loss, not the ETA.
  private barLine(spec: RunSpec, step: number, loss: number, elapsedMs: number): string {
    const eta = estimateRemainingMs(step, spec.steps, elapsedMs);
    const { ms, lowerBound } = this.afterCurrent;
    const all =
      Number.isNaN(eta) || ms === 0
        ? ""
        : ` (all ${lowerBound ? ">" : "~"}${formatDuration(eta + ms)})`;
    return this.line(
      spec,
      step,
      [
        Number.isNaN(eta) ? "ETA -" : `ETA ${formatDuration(eta)}${all}`,
        `loss ${Number.isNaN(loss) ? "-" : formatLoss(loss)}`,
      ],
      formatDuration(elapsedMs),
    );
  }

  private endLine(result: RunResult): string {
    return this.line(
      result,
      result.stepsDone,
      [result.status, `loss ${result.losses.length ? formatLoss(result.finalLoss) : "-"}`],
      `${formatDuration(result.times.runMs)}${result.message ? `: ${result.message}` : ""}`,
    );
  }

  private plainEndLine(result: RunResult): string {
    const head = `${this.counter} ${result.optimizer} on ${result.problem} (lr ${formatRate(result.learningRate)}, seed ${result.seed}): ${result.status}`;
    const details = [`${result.stepsDone}/${result.steps} steps`];
    if (result.losses.length) {
      details.push(`final loss ${formatLoss(result.finalLoss)}`);
      if (!Number.isNaN(result.bestLoss)) details.push(`best ${formatLoss(result.bestLoss)}`);
    }
    details.push(formatDuration(result.times.runMs));
    const message = result.message ? ` (${result.message})` : "";
    return `${head}, ${details.join(", ")}${message}`;
  }
}
