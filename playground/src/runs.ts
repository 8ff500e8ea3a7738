/**
 * One optimizer's run on a problem: its parameters, the descend {@link Optimizer} driving them,
 * and the losses seen so far. The 2-D race also records the path; the digits network records
 * its accuracy.
 */
import type { MlpObjective, Objective, OptimizerEntry } from "descend";
import { Optimizer, ParamSet } from "descend";
import type { TestFunction2d } from "./functions.js";

/** Where a run stands. */
export type RunStatus = "ready" | "running" | "finished" | "diverged" | "failed";

/** A run leaving the plotted domain by this many domain widths counts as diverged. */
const ESCAPE_WIDTHS = 20;

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** What every run shares. */
abstract class Run {
  /** The catalog entry. */
  readonly entry: OptimizerEntry;
  /** Line colour. */
  readonly color: string;
  /** The learning rate the optimizer was built with. */
  readonly learningRate: number;
  /** Loss at step 0, 1, … */
  readonly losses: number[] = [];
  /** Steps taken. */
  steps = 0;
  /** Where the run stands. */
  status: RunStatus = "ready";
  /** Why the run stopped early, when it did. */
  message = "";
  protected optimizer: Optimizer | undefined;

  constructor(entry: OptimizerEntry, color: string, learningRate: number) {
    this.entry = entry;
    this.color = color;
    this.learningRate = learningRate;
  }

  /** Builds the optimizer over `params`; a bad learning rate fails the run, not the page. */
  protected build(params: ParamSet): void {
    try {
      this.optimizer = new Optimizer(
        params,
        this.entry.create({ learningRate: this.learningRate }),
      );
    } catch (error) {
      this.fail(error);
    }
  }

  /** Whether the run can take another step. */
  get active(): boolean {
    return this.status === "ready" || this.status === "running";
  }

  protected fail(error: unknown): void {
    this.status = "failed";
    this.message = describe(error);
  }
}

/** An optimizer racing on a 2-D test function. */
export class TrackRun extends Run {
  /** Visited points x0, y0, x1, y1, … (the last pair is the current point). */
  readonly path: number[] = [];
  private readonly objective: Objective;
  private readonly params: ParamSet;
  private readonly fn: TestFunction2d;

  constructor(entry: OptimizerEntry, color: string, learningRate: number, fn: TestFunction2d) {
    super(entry, color, learningRate);
    this.fn = fn;
    this.objective = fn.objective();
    this.params = new ParamSet(this.objective.layout);
    this.params.data.set(fn.start);
    this.path.push(fn.start[0], fn.start[1]);
    this.build(this.params);
  }

  /** Evaluates the starting point (f may be asynchronous in general). */
  async init(): Promise<void> {
    try {
      this.losses.push(await this.objective.value(this.params.data));
    } catch (error) {
      this.fail(error);
    }
  }

  /** One step, then f at the new point; stops the run when it leaves the plane. */
  async step(limit: number): Promise<void> {
    if (!this.active || !this.optimizer) return;
    if (this.steps >= limit) {
      this.status = "finished";
      return;
    }
    this.status = "running";
    try {
      await this.optimizer.step(this.objective);
      const [x, y] = this.params.data;
      const loss = await this.objective.value(this.params.data);
      this.steps++;
      this.path.push(x, y);
      this.losses.push(loss);
      const { domain } = this.fn;
      const width = Math.max(domain.x[1] - domain.x[0], domain.y[1] - domain.y[0]);
      const far =
        Math.max(domain.x[0] - x, x - domain.x[1], domain.y[0] - y, y - domain.y[1]) >
        ESCAPE_WIDTHS * width;
      if (!Number.isFinite(loss) || !Number.isFinite(x) || !Number.isFinite(y) || far) {
        this.status = "diverged";
        this.message = far ? "left the plot far behind" : "reached a non-finite value";
      } else if (this.steps >= limit) {
        this.status = "finished";
      }
    } catch (error) {
      this.fail(error);
    }
  }

  /** Distance from the current point to the nearest known minimum. */
  get distanceToMinimum(): number {
    const x = this.path[this.path.length - 2];
    const y = this.path[this.path.length - 1];
    let best = Infinity;
    for (const [mx, my] of this.fn.minima) best = Math.min(best, Math.hypot(x - mx, y - my));
    return best;
  }
}

/** An optimizer training the digits network. */
export class MlpRun extends Run {
  /** Training-set accuracy at the last check, NaN before the first. */
  accuracy = NaN;
  /** Mean wall time of a step in milliseconds (gradient and update). */
  msPerStep = NaN;
  private readonly objective: MlpObjective;
  private readonly params: ParamSet;
  private elapsed = 0;

  constructor(entry: OptimizerEntry, color: string, learningRate: number, objective: MlpObjective) {
    super(entry, color, learningRate);
    this.objective = objective;
    // Every optimizer starts from the same seeded initial weights.
    this.params = new ParamSet(objective.layout, objective.initialParams());
    this.build(this.params);
  }

  /**
   * One step. The loss recorded is f before the step (what the gradient evaluation returns), so
   * after k steps `losses` holds f(θ₀) … f(θ_{k−1}); {@link MlpRun.finish} adds f(θ_k).
   */
  async step(limit: number): Promise<void> {
    if (!this.active || !this.optimizer) return;
    this.status = "running";
    try {
      if (this.steps >= limit) {
        await this.finish();
        return;
      }
      const started = performance.now();
      const { loss } = await this.optimizer.step(this.objective);
      this.elapsed += performance.now() - started;
      this.steps++;
      this.msPerStep = this.elapsed / this.steps;
      this.losses.push(loss ?? NaN);
      if (loss === undefined || !Number.isFinite(loss)) {
        this.status = "diverged";
        this.message = "reached a non-finite loss";
      } else if (this.steps % 25 === 0) {
        this.accuracy = await this.objective.accuracy(this.params.data);
      }
      if (this.steps >= limit && this.active) await this.finish();
    } catch (error) {
      this.fail(error);
    }
  }

  /** Records the loss and accuracy at the final parameters. */
  private async finish(): Promise<void> {
    this.losses.push(await this.objective.value(this.params.data));
    this.accuracy = await this.objective.accuracy(this.params.data);
    this.status = "finished";
  }
}
