/**
 * A start / pause / reset loop that runs one unit of work per animation frame, so the page
 * repaints between steps and a paused or reset run stops after the step in flight.
 */

/** Where a loop stands. */
export type LoopState = "idle" | "running" | "paused" | "done";

/** Resolves at the next animation frame. */
export function nextFrame(): Promise<void> {
  return new Promise((resolve) => requestAnimationFrame(() => resolve()));
}

/** Drives `tick` once per frame while running. */
export class FrameLoop {
  private current: LoopState = "idle";
  private active = false;
  private generation = 0;
  private readonly tick: () => Promise<boolean>;
  private readonly onState: (state: LoopState) => void;
  private readonly onError: (error: unknown) => void;

  /**
   * @param tick - one unit of work; resolves to false once there is nothing left to do
   * @param onState - told of every change of state
   * @param onError - told when `tick` throws (the loop pauses)
   */
  constructor(
    tick: () => Promise<boolean>,
    onState: (state: LoopState) => void,
    onError: (error: unknown) => void,
  ) {
    this.tick = tick;
    this.onState = onState;
    this.onError = onError;
  }

  /** The current state. */
  get state(): LoopState {
    return this.current;
  }

  /** Starts or resumes. */
  start(): void {
    if (this.current === "running") return;
    this.set("running");
    if (!this.active) void this.run();
  }

  /** Pauses after the step in flight. */
  pause(): void {
    if (this.current === "running") this.set("paused");
  }

  /** Stops; the caller rebuilds its runs. */
  reset(): void {
    this.generation++;
    this.set("idle");
  }

  private set(state: LoopState): void {
    this.current = state;
    this.onState(state);
  }

  private async run(): Promise<void> {
    this.active = true;
    try {
      while (this.current === "running") {
        await nextFrame();
        if (this.current !== "running") break;
        const generation = this.generation;
        const more = await this.tick();
        // A reset during the tick means its answer is about runs that no longer exist.
        if (!more && this.current === "running" && generation === this.generation) {
          this.set("done");
        }
      }
    } catch (error) {
      this.set("paused");
      this.onError(error);
    } finally {
      this.active = false;
    }
  }
}
