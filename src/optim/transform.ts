/**
 * Gradient transforms: the unit optimizers are built from.
 *
 * A transform owns some state and rewrites the update buffer in place: a gradient comes in, the
 * step to add to the parameters comes out. {@link chain} runs transforms one after another over
 * the same buffer, so `chain(scaleByAdam(), addDecayedWeights(0.01), scaleByLearningRate(1e-3))`
 * is AdamW. This is optax's design, on flat buffers that are updated in place (no allocation per
 * step).
 */
import type { Runs } from "../kernels/apply.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type { Objective, OracleName } from "../oracles/objective.js";

/**
 * Transform state: named flat buffers, numbers and nested states. Buffers whose length equals the
 * layout's size are saved per tensor (keyed by parameter name); everything else is saved whole.
 */
export interface State {
  [key: string]: FloatArray | number | State;
}

/** What a transform may read besides the update buffer. */
export interface StepContext {
  /** Current parameters (read-only by convention), same layout as the update buffer. */
  readonly params: FloatArray;
  /** Layout of `params` and of the update buffer. */
  readonly layout: Layout;
  /** The objective, when the step was driven by one (curvature and line-search methods). */
  readonly objective?: Objective;
  /** f(θ) at `params`, when known. */
  readonly loss?: number;
}

/**
 * Coefficients of an affine update `u ← scale·u + decay[t]·p`, with one `decay` per tensor.
 * Transforms of this form (learning-rate scaling, decoupled weight decay) are fused by the
 * {@link Optimizer} into the final parameter write, saving full passes over memory.
 */
export interface Affine {
  /** Multiplier of the update. */
  scale: number;
  /**
   * Coefficient of the parameters, per tensor in layout order. Read it before the next call:
   * transforms reuse the array between steps.
   */
  decay: Float64Array;
}

/**
 * A gradient transform. `update` must not allocate per call on the hot path and must leave
 * `state` untouched when it throws.
 */
export interface GradientTransform<S extends State = State> {
  /** Short name used in state files and messages, e.g. `"scaleByAdam"`. */
  readonly name: string;
  /** Oracles beyond the gradient that this transform asks of `ctx.objective`. */
  readonly needs?: readonly OracleName[];
  /** Fresh state for parameters of `layout`. */
  init(layout: Layout): S;
  /** Rewrites `updates` in place and advances `state`. May be asynchronous (oracle calls). */
  update(updates: FloatArray, state: S, ctx: StepContext): void | Promise<void>;
  /**
   * For transforms that are affine in (u, p): advances `state` exactly as `update` would and
   * returns the coefficients instead of touching the buffer.
   */
  affine?(state: S, ctx: StepContext): Affine;
  /**
   * One-pass form of `update` followed by the parameter write, used by the {@link Optimizer}
   * when only affine transforms follow this one. It advances `state` exactly as `update` would
   * and, with `d` what `update` would have left in the buffer, writes
   * `params ← a[r]·params + scale·d` run by run. `updates` keeps the gradient.
   */
  fusedApply?(updates: FloatArray, state: S, ctx: StepContext, write: FusedWrite): void;
}

/** The parameter write a {@link GradientTransform.fusedApply} performs. */
export interface FusedWrite {
  /** The parameters, written in place. */
  readonly params: FloatArray;
  /** Multiplier of the direction (the composed affine tail's scale, e.g. −lr). */
  readonly scale: number;
  /** Per-tensor multipliers of the parameters (1 + composed decay). */
  readonly runs: Runs;
}

/** A transform whose parts are known, so the {@link Optimizer} can fuse its affine tail. */
export interface ChainTransform extends GradientTransform<State> {
  /** The chained transforms, in order (nested chains are flattened). */
  readonly parts: readonly GradientTransform[];
}

/** Whether `t` is a chain built by {@link chain}. */
export function isChain(t: GradientTransform): t is ChainTransform {
  return Array.isArray((t as Partial<ChainTransform>).parts);
}

/** Key of the i-th part in a chain's state (`"0:scaleByAdam"`), stable across runs. */
export function partKey(index: number, part: GradientTransform): string {
  return `${index}:${part.name}`;
}

/** Applies an affine transform's coefficients to the buffer (the unfused path). */
export function applyAffine(
  updates: FloatArray,
  params: FloatArray,
  layout: Layout,
  a: Affine,
): void {
  const { scale, decay } = a;
  for (let t = 0; t < layout.tensors.length; t++) {
    const { offset, size } = layout.tensors[t];
    const d = decay[t];
    const end = offset + size;
    if (d === 0) {
      if (scale !== 1) for (let i = offset; i < end; i++) updates[i] *= scale;
    } else {
      for (let i = offset; i < end; i++) updates[i] = scale * updates[i] + d * params[i];
    }
  }
}

/**
 * Composes transforms left to right over one update buffer. The state is an object with one
 * entry per part, keyed `"<index>:<name>"`.
 */
export function chain(...transforms: GradientTransform[]): ChainTransform {
  const parts: GradientTransform[] = [];
  for (const t of transforms) {
    if (isChain(t)) parts.push(...t.parts);
    else parts.push(t);
  }
  const keys = parts.map((p, i) => partKey(i, p));
  const needs = [...new Set(parts.flatMap((p) => p.needs ?? []))];
  return {
    name: "chain",
    parts,
    needs,
    init(layout) {
      const state: State = {};
      parts.forEach((p, i) => (state[keys[i]] = p.init(layout)));
      return state;
    },
    update(updates, state, ctx) {
      // Stays synchronous unless a part returns a promise (an oracle call), so purely
      // elementwise chains can be driven from synchronous code.
      for (let i = 0; i < parts.length; i++) {
        const pending = parts[i].update(updates, state[keys[i]] as State, ctx);
        if (pending instanceof Promise) {
          return (async () => {
            await pending;
            for (let j = i + 1; j < parts.length; j++) {
              await parts[j].update(updates, state[keys[j]] as State, ctx);
            }
          })();
        }
      }
    },
  };
}

/**
 * A transform that is affine in (u, p): defining `affine` gives `update` for free, and lets the
 * {@link Optimizer} fuse it into the parameter write.
 */
export function affineTransform<S extends State>(
  name: string,
  init: (layout: Layout) => S,
  affine: (state: S, ctx: StepContext) => Affine,
): GradientTransform<S> {
  return {
    name,
    init,
    affine,
    update(updates, state, ctx) {
      applyAffine(updates, ctx.params, ctx.layout, affine(state, ctx));
    },
  };
}
