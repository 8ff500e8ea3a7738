/**
 * Widening a learning-rate grid until its best rate is interior.
 *
 * A sweep over a fixed grid whose best rate is the grid's smallest or largest only bounds the
 * result: a rate beyond the edge might do better. {@link nextGridRate} decides, from the rates
 * tried so far, whether one more rate half a decade past the edge should be tried, and which.
 */

/** What one learning rate gave over its seeds. */
export interface RateTrial {
  /** The peak learning rate. */
  readonly learningRate: number;
  /** Runs at this rate (one per seed). */
  readonly runs: number;
  /** Runs that reached the target. */
  readonly reached: number;
  /** Runs that diverged (a non-finite loss or gradient). */
  readonly diverged: number;
}

/** Which way a grid is widened: toward smaller or larger rates. */
export type ExtensionDirection = "down" | "up";

/** Why a grid is not widened further. */
export type ExtensionStopReason =
  /** The best rate has a tried rate on either side: the grid brackets it. */
  | "interior"
  /** The best rate is at an edge already widened the allowed number of times. */
  | "limit"
  /**
   * The best rate is at an edge where every run diverged, so a rate further out is not expected
   * to do better.
   */
  | "failed";

/** The decision of {@link nextGridRate}. */
export type GridExtensionStep =
  | {
      readonly action: "try";
      /** The rate to try next. */
      readonly learningRate: number;
      /** Which edge it widens. */
      readonly direction: ExtensionDirection;
    }
  | { readonly action: "stop"; readonly reason: ExtensionStopReason };

/** What {@link nextGridRate} decides from. */
export interface GridExtensionState {
  /** Every rate tried so far (the initial grid and earlier extensions), in any order. */
  readonly trials: readonly RateTrial[];
  /** The rate the selection rule picked among `trials`. */
  readonly bestRate: number;
  /**
   * The grid swept before any extension; rates tried below its smallest (above its largest)
   * count as extensions downward (upward).
   */
  readonly initialGrid: readonly number[];
  /** How many rates may be added below, and how many above, the initial grid. */
  readonly maxExtensionsPerSide: number;
}

/** `x` to 3 significant digits, as the grids of the sweeps are written. */
function toThreeDigits(x: number): number {
  return Number(x.toPrecision(3));
}

/** Whether every run at `trial` diverged. */
function failed(trial: RateTrial): boolean {
  return trial.diverged === trial.runs;
}

/**
 * The rate half a decade beyond the edge of `ascending` in `direction`. With two rates or more
 * it is the rate next to the edge divided (multiplied) by 10, so that every extension stays on
 * the initial grid's lattice instead of compounding rounding errors (3.16e-4 ÷ √10 rounds to
 * 9.99e-5, 1e-3 ÷ 10 is 1e-4).
 */
function rateBeyond(ascending: readonly number[], direction: ExtensionDirection): number {
  const n = ascending.length;
  if (n < 2) {
    return toThreeDigits(
      direction === "down" ? ascending[0] / Math.sqrt(10) : ascending[0] * Math.sqrt(10),
    );
  }
  return toThreeDigits(direction === "down" ? ascending[1] / 10 : ascending[n - 2] * 10);
}

/**
 * The next step of widening a half-decade learning-rate grid: try one more rate half a decade
 * below the smallest rate tried when the best rate is the smallest, above the largest when it is
 * the largest, or stop. It stops when the best rate is interior; when every run at the best
 * rate, at an edge, diverged (reason `"failed"`); or when its edge has been widened
 * `maxExtensionsPerSide` times (reason `"limit"`: the result is then still only a bound). An
 * edge where no run reached the target is widened too: the selection rule only picks such a rate
 * when no rate reached the target, and then by its final loss, which a rate further out may
 * still lower. With a single rate tried, downward is tried before upward.
 *
 * Callers should select the best rate among the trials sorted by rate, so that ties resolve as
 * they would have on a grid that was that wide from the start.
 *
 * @throws RangeError when `trials` is empty or does not contain `bestRate`.
 */
export function nextGridRate(state: GridExtensionState): GridExtensionStep {
  const { trials, bestRate, initialGrid, maxExtensionsPerSide } = state;
  if (!trials.some((t) => t.learningRate === bestRate)) {
    throw new RangeError(`the best rate ${bestRate} is not among the rates tried`);
  }
  const sorted = [...trials].sort((a, b) => a.learningRate - b.learningRate);
  const rates = sorted.map((t) => t.learningRate);
  const initialLow = Math.min(...initialGrid);
  const initialHigh = Math.max(...initialGrid);
  const sides: { direction: ExtensionDirection; edge: RateTrial; extensions: number }[] = [];
  if (bestRate === rates[0]) {
    sides.push({
      direction: "down",
      edge: sorted[0],
      extensions: rates.filter((r) => r < initialLow).length,
    });
  }
  if (bestRate === rates[rates.length - 1]) {
    sides.push({
      direction: "up",
      edge: sorted[sorted.length - 1],
      extensions: rates.filter((r) => r > initialHigh).length,
    });
  }
  if (sides.length === 0) return { action: "stop", reason: "interior" };
  let reason: ExtensionStopReason = "failed";
  for (const side of sides) {
    if (failed(side.edge)) continue;
    if (side.extensions >= maxExtensionsPerSide) {
      reason = "limit";
      continue;
    }
    const learningRate = rateBeyond(rates, side.direction);
    return { action: "try", learningRate, direction: side.direction };
  }
  return { action: "stop", reason };
}
