/**
 * Batched evaluation for zeroth-order methods: many points f(θ_1), …, f(θ_B) in one call.
 *
 * Coordinate-wise estimators and particle methods evaluate the objective at many points that
 * share everything but a few numbers. A model that can run them as one batched forward pass
 * (stacked parameters through `vmap`, a batched simulator, a GPU inference server) gives the
 * hook {@link ValueBatch}; everything else is evaluated one point at a time through `value`.
 */
import { InvalidArgumentError } from "../errors.js";
import type { Awaitable, Objective } from "../oracles/objective.js";
import type { FloatArray } from "../params/layout.js";
import { Layout } from "../params/layout.js";

/**
 * f at each of `points` (buffers in the objective's layout, read-only), in order. The points may
 * be views or scratch buffers the caller reuses: read them before returning or resolving.
 */
export type ValueBatch = (points: readonly FloatArray[]) => Awaitable<ArrayLike<number>>;

/** An objective that may also evaluate many points in one call. */
export interface BatchedObjective extends Objective {
  /** f at many points in one call (see {@link ValueBatch}). */
  valueBatch?: ValueBatch;
}

/**
 * A black-box objective: an {@link Objective} (only `value` is used, plus `valueBatch` if it has
 * one), or a bare function `(params) => f(params)` together with the layout of its parameters.
 */
export type BlackBox = BatchedObjective | ((params: FloatArray) => Awaitable<number>);

/**
 * The layout a bare-function {@link BlackBox} takes: a {@link Layout}, or a number d for one
 * float64 vector `x` of d coordinates.
 */
export type BlackBoxLayout = Layout | number;

/**
 * `objective` as a {@link BatchedObjective}: objects are checked and returned as they are; a
 * bare function is wrapped with `layout`, which it requires (named `"layout"` in the error).
 */
export function blackBoxObjective(
  owner: string,
  objective: BlackBox,
  layout: BlackBoxLayout | undefined,
): BatchedObjective {
  if (typeof objective === "function") {
    let resolved: Layout;
    if (layout instanceof Layout) resolved = layout;
    else if (typeof layout === "number" && Number.isInteger(layout) && layout >= 1) {
      resolved = new Layout([{ name: "x", shape: [layout] }], "float64");
    } else {
      throw new InvalidArgumentError(
        owner,
        "layout",
        layout,
        "a Layout or a dimension >= 1 when the objective is a plain function",
      );
    }
    const value = objective;
    return { name: value.name || "black-box", layout: resolved, value: (p) => value(p) };
  }
  if (
    objective === null ||
    typeof objective !== "object" ||
    typeof objective.value !== "function" ||
    !(objective.layout instanceof Layout)
  ) {
    throw new InvalidArgumentError(
      owner,
      "objective",
      objective,
      "an Objective (with layout and value) or a function (params) => number",
    );
  }
  if (layout !== undefined) {
    throw new InvalidArgumentError(owner, "layout", layout, "given only with a plain function");
  }
  return objective;
}

/**
 * Evaluates `objective` at `points` into `out` (from index `offset`): through `valueBatch` when
 * given, otherwise through `value`, one point after another. A batch hook that answers with the
 * wrong number of values is named in the error.
 */
export async function evaluatePoints(
  owner: string,
  objective: Objective,
  valueBatch: ValueBatch | undefined,
  points: readonly FloatArray[],
  out: Float64Array,
  offset = 0,
): Promise<void> {
  if (valueBatch === undefined) {
    for (let k = 0; k < points.length; k++) out[offset + k] = await objective.value(points[k]);
    return;
  }
  const values = await valueBatch(points);
  if (values === null || typeof values !== "object" || values.length !== points.length) {
    throw new InvalidArgumentError(
      owner,
      "valueBatch result",
      values === null || typeof values !== "object" ? values : `${values.length} values`,
      `one value per point (${points.length})`,
    );
  }
  for (let k = 0; k < points.length; k++) out[offset + k] = values[k];
}
