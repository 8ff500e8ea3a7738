/**
 * ZO-SGD-Cons: conservative ZO-SGD, which takes the SPSA step only if it does not increase the
 * loss, and otherwise the opposite step or none.
 *
 * Zhang, Li, Hong, Li, Zhang, Zheng, Chen, Lee, Yin, Hong, Wang, Liu & Chen, "Revisiting
 * Zeroth-Order Optimization for Memory-Efficient LLM Fine-Tuning: A Benchmark", ICML 2024
 * (ZO-SGD-Cons). Official
 * implementation: ZO-Bench/ZO-LLM @ bf210fa (`zo-bench/trainer.py`, `zo_conserv_step`).
 *
 * Step t with projected gradients g_j and directions z_j:
 *
 *     s_j = q(fround(lr·g_j / n)),   Δ = Σ_j s_j·z_j
 *     f0 = f(θ) (before perturbing),  f1 = f(θ − Δ),  f2 = f(θ + Δ)
 *     if f1 > f0:  keep θ if f0 < f2, else take θ + Δ
 *     else:        take θ − Δ if f1 < f2, else take θ + Δ
 *
 * exactly the official comparisons (ties go to θ + Δ, as there). The recorded scalar is s_j
 * when θ − Δ is taken, −s_j for θ + Δ and 0 for no step, so a record always means θ ← θ − scalar·z
 * and a virtual-path run replays from the records alone; `trialScalar` keeps s_j.
 *
 * Candidates. Virtual (default): θ − Δ and θ + Δ are built in the evaluation buffer, θ is written
 * once, by the accepted step. In place, as the official code: θ ← θ − Δ, f1; θ ← θ + 2Δ, f2; then
 * θ ← θ − Δ (keep) or θ ← θ − 2Δ (θ − Δ) or nothing (θ + Δ), each direction in order, each write
 * rounded; a replay repeats these writes from `trialScalar` and the sign of `scalar`.
 *
 * Cost per step: 2n + 3 evaluations with the two-point estimator (n + 3 with one-point, which
 * shares f(θ)). Defaults: ε = 1e-3, lr = 1e-6 (the ZO-Bench sweep's grid is {1e-5, 1e-6}), one
 * direction.
 */
import { InvalidArgumentError } from "../errors.js";
import { addDirections } from "./apply.js";
import type {
  ZoCommitContext,
  ZoCommitResult,
  ZoCommonOptions,
  ZoMethod,
  ZoState,
} from "./method.js";
import type { ZoStepRecord } from "./record.js";
import { isFloat32Value } from "./record.js";
import { checkZoOptions } from "./method.js";

/** Options of {@link zoCons} (all common; see {@link ZoCommonOptions}). */
export type ZoConsOptions = ZoCommonOptions;

/** Which candidate a conservative step keeps. */
type Choice = "minus" | "plus" | "none";

function choose(f0: number, f1: number, f2: number): Choice {
  if (f1 > f0) return f0 < f2 ? "none" : "plus";
  return f1 < f2 ? "minus" : "plus";
}

function scaled(values: ArrayLike<number>, factor: number): number[] {
  return Array.from(values, (v) => factor * v);
}

async function liveCommit(ctx: ZoCommitContext, trial: Float64Array): Promise<ZoCommitResult> {
  const { params, directions, scratch } = ctx;
  const evaluate = ctx.evaluate as (
    point: Float64Array | Float32Array,
    where: string,
  ) => Promise<number>;
  const f0 = ctx.baseValue as number;
  let f1: number;
  let f2: number;
  if (ctx.perturbation === "virtual") {
    const point = (ctx.pointBuffer as () => Float32Array | Float64Array)();
    point.set(params);
    addDirections(point, directions, scaled(trial, -1), scratch);
    f1 = await evaluate(point, "θ − Δ");
    point.set(params);
    addDirections(point, directions, trial, scratch);
    f2 = await evaluate(point, "θ + Δ");
  } else {
    addDirections(params, directions, scaled(trial, -1), scratch);
    try {
      f1 = await evaluate(params, "θ − Δ");
    } catch (error) {
      addDirections(params, directions, trial, scratch);
      throw error;
    }
    addDirections(params, directions, scaled(trial, 2), scratch);
    try {
      f2 = await evaluate(params, "θ + Δ");
    } catch (error) {
      addDirections(params, directions, scaled(trial, -1), scratch);
      throw error;
    }
  }
  const choice = choose(f0, f1, f2);
  const recorded = Float64Array.from(trial, (s) =>
    choice === "minus" ? s : choice === "plus" ? -s : 0,
  );
  if (ctx.perturbation === "virtual") {
    addDirections(params, directions, scaled(recorded, -1), scratch);
  } else if (choice === "none") {
    addDirections(params, directions, scaled(trial, -1), scratch);
  } else if (choice === "minus") {
    addDirections(params, directions, scaled(trial, -2), scratch);
  }
  return { scalars: recorded, trialScalars: trial };
}

/** The candidate a step kept, read from its trial and recorded scalars (null if they disagree). */
function recordedChoice(trial: ArrayLike<number>, scalars: ArrayLike<number>): Choice | null {
  let choice: Choice | null = null;
  for (let j = 0; j < trial.length; j++) {
    const s = trial[j];
    const r = scalars[j];
    if (s === 0) {
      if (r !== 0) return null;
      continue;
    }
    let c: Choice;
    if (r === s) c = "minus";
    else if (r === -s) c = "plus";
    else if (r === 0) c = "none";
    else return null;
    if (choice !== null && c !== choice) return null;
    choice = c;
  }
  return choice ?? "none";
}

function checkConsRecords(records: readonly ZoStepRecord[]): void {
  records.forEach((r, j) => {
    if (typeof r.trialScalar !== "number" || !isFloat32Value(r.trialScalar)) {
      throw new InvalidArgumentError(
        "zoCons replay",
        `trialScalar of record ${j}`,
        r.trialScalar,
        "a finite float32 value",
      );
    }
  });
  const trial = records.map((r) => r.trialScalar as number);
  const scalars = records.map((r) => r.scalar);
  if (recordedChoice(trial, scalars) === null) {
    throw new InvalidArgumentError(
      "zoCons replay",
      "scalars",
      scalars,
      "all trialScalar, all −trialScalar or all 0 (one candidate per step)",
    );
  }
}

function replayCommit(ctx: ZoCommitContext, scalars: Float64Array): ZoCommitResult {
  const { params, directions, scratch } = ctx;
  const records = ctx.records ?? [];
  if (ctx.perturbation === "virtual") {
    addDirections(params, directions, scaled(scalars, -1), scratch);
    return { scalars };
  }
  const trial = Float64Array.from(records, (r) => r.trialScalar as number);
  const choice = recordedChoice(trial, scalars) ?? "none";
  addDirections(params, directions, scaled(trial, -1), scratch);
  addDirections(params, directions, scaled(trial, 2), scratch);
  if (choice === "none") addDirections(params, directions, scaled(trial, -1), scratch);
  else if (choice === "minus") addDirections(params, directions, scaled(trial, -2), scratch);
  return { scalars, trialScalars: trial };
}

/** ZO-SGD-Cons. */
export function zoCons(options: ZoConsOptions = {}): ZoMethod {
  const settings = checkZoOptions("zoCons", options, 1e-6, []);
  return {
    name: "zoCons",
    settings,
    needsBaseValue: true,
    init: (): ZoState => ({}),
    scalar: (g, lr, n) => (lr * g) / n,
    commit: (ctx, scalars) =>
      ctx.records !== undefined ? replayCommit(ctx, scalars) : liveCommit(ctx, scalars),
    checkRecords: (records) => {
      if (settings.perturbation === "inPlace") checkConsRecords(records);
    },
  };
}
