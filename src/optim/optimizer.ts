/**
 * The stateful training-loop wrapper: `await opt.step(objective)` or `await opt.update(grads)`.
 * It owns the update buffer (gradients are written straight into it, no copy), guards against
 * non-finite gradients before any state changes, and fuses the affine tail of a chain (learning
 * rate, decoupled weight decay) into a single pass that writes the parameters.
 */
import { NonFiniteError } from "../errors.js";
import { axpby, firstNonFinite, zeroNonFinite } from "../kernels/apply.js";
import type { FloatArray } from "../params/layout.js";
import type { ParamSet } from "../params/paramset.js";
import type { Objective } from "../oracles/objective.js";
import { requireOracle } from "../oracles/objective.js";
import type { GradientTransform, State, StepContext } from "./transform.js";
import { isChain, partKey } from "./transform.js";
import { checkChoice, checkKnownOptions } from "./validate.js";

/** What to do when a gradient holds NaN or ±Infinity. */
export type NonFinitePolicy = "throw" | "skip" | "zero" | "pass";

/** Options of an {@link Optimizer}. */
export interface OptimizerOptions {
  /**
   * `"throw"` (default): raise a {@link NonFiniteError} naming the tensor and index, leaving
   * parameters and state untouched. `"skip"`: leave them untouched and count the step in
   * {@link Optimizer.skippedSteps}. `"zero"`: replace the bad entries by 0 and step.
   * `"pass"`: do not check; the transform handles them (e.g. `applyIfFinite`, `zeroNonFinite`).
   */
  nonFinite?: NonFinitePolicy;
}

/** Outcome of one optimizer step. */
export interface StepResult {
  /** f(θ) before the step, when an objective was evaluated. */
  loss?: number;
  /** Whether the step was skipped under the `"skip"` policy. */
  skipped: boolean;
}

/** Drives a {@link GradientTransform} over a {@link ParamSet}. */
export class Optimizer {
  /** The parameters, updated in place. */
  readonly params: ParamSet;
  /** The transform (usually a chain) producing each step. */
  readonly transform: GradientTransform;
  /** The transform's state; to restore a saved one use `restoreOptimizer` (src/optim/checkpoint.ts). */
  state: State;
  /** Number of steps applied (skipped steps excluded). */
  count = 0;
  /** Number of steps skipped under the `"skip"` policy. */
  skippedSteps = 0;
  /** Policy for non-finite gradients. */
  readonly nonFinite: NonFinitePolicy;
  /**
   * The update buffer: write a gradient here and call {@link Optimizer.apply}. After a step it
   * holds the step taken, except for one-pass steps (Adam, momentum SGD followed only by a
   * learning rate and decoupled decay), after which it still holds the gradient.
   */
  readonly updates: FloatArray;
  private readonly fusedFrom: number;
  private readonly decay: Float64Array;
  private readonly runs: { ends: Int32Array; a: Float64Array };

  /**
   * @param params - parameters to optimize (updated in place)
   * @param transform - e.g. `adamw({ learningRate: 1e-3 })`
   * @param options - see {@link OptimizerOptions}
   */
  constructor(params: ParamSet, transform: GradientTransform, options: OptimizerOptions = {}) {
    checkKnownOptions("Optimizer", options, ["nonFinite"]);
    this.nonFinite = checkChoice("Optimizer", "nonFinite", options.nonFinite ?? "throw", [
      "throw",
      "skip",
      "zero",
      "pass",
    ]);
    this.params = params;
    this.transform = transform;
    this.state = transform.init(params.layout);
    this.updates = params.layout.zeros();
    this.decay = new Float64Array(params.layout.tensors.length);
    this.runs = {
      ends: Int32Array.from(params.layout.tensors, (t) => t.offset + t.size),
      a: new Float64Array(params.layout.tensors.length),
    };
    let from = isChain(transform) ? transform.parts.length : Infinity;
    if (isChain(transform)) {
      while (from > 0 && transform.parts[from - 1].affine) from--;
    }
    this.fusedFrom = from;
  }

  /**
   * Evaluates the objective's gradient at the current parameters and applies one step.
   * @returns the loss before the step and whether the step was skipped
   */
  async step(objective: Objective): Promise<StepResult> {
    objective.layout.assertSame(this.params.layout, "Optimizer.step objective");
    const valueAndGrad = requireOracle(
      objective,
      "valueAndGrad",
      `optimizer ${this.transform.name}`,
    );
    for (const oracle of this.transform.needs ?? []) {
      requireOracle(objective, oracle, `optimizer ${this.transform.name}`);
    }
    const loss = await valueAndGrad(this.params.data, this.updates);
    return this.apply({
      params: this.params.data,
      layout: this.params.layout,
      objective,
      loss,
    });
  }

  /**
   * Applies one step from a gradient computed elsewhere (copied into the update buffer).
   * @param grads - a flat buffer in the parameters' layout, or a ParamSet of the same layout
   */
  async update(grads: FloatArray | ParamSet, objective?: Objective): Promise<StepResult> {
    const flat = "layout" in grads ? grads.data : grads;
    if ("layout" in grads) grads.layout.assertSame(this.params.layout, "Optimizer.update grads");
    this.params.layout.assertBuffer(flat, "Optimizer.update grads");
    this.updates.set(flat);
    return this.apply({ params: this.params.data, layout: this.params.layout, objective });
  }

  /**
   * Applies one step using the gradient already written into {@link Optimizer.updates} (the
   * zero-copy path: compute your gradient straight into that buffer, then call this).
   */
  async apply(
    ctx: StepContext = { params: this.params.data, layout: this.params.layout },
  ): Promise<StepResult> {
    const u = this.updates;
    const { layout } = this.params;
    const bad = this.nonFinite === "pass" ? -1 : firstNonFinite(u);
    if (bad >= 0) {
      if (this.nonFinite === "skip") {
        this.skippedSteps++;
        return { loss: ctx.loss, skipped: true };
      }
      if (this.nonFinite === "throw") {
        const t = layout.tensors.find((s) => bad < s.offset + s.size)!;
        throw new NonFiniteError("gradient", t.name, bad - t.offset, u[bad]);
      }
      zeroNonFinite(u);
    }
    const p = this.params.data;
    const transform = this.transform;
    if (!isChain(transform) || this.fusedFrom === transform.parts.length) {
      await transform.update(u, this.state, ctx);
      axpby(p, u, 1, 1);
    } else {
      const parts = transform.parts;
      // The part just before the affine tail may write the parameters itself in the same pass
      // that computes its direction (Adam, momentum): one sweep over memory instead of two.
      const last = this.fusedFrom > 0 ? parts[this.fusedFrom - 1] : undefined;
      const writesParams = last?.fusedApply !== undefined;
      const unfused = writesParams ? this.fusedFrom - 1 : this.fusedFrom;
      for (let i = 0; i < unfused; i++) {
        await parts[i].update(u, this.state[partKey(i, parts[i])] as State, ctx);
      }
      // Compose the affine tail: u ← s·u + d·p per part gives u_final = S·u + D·p, and the
      // parameters become (1 + D)·p + S·u in one pass.
      let scale = 1;
      const decay = this.decay.fill(0);
      for (let i = this.fusedFrom; i < parts.length; i++) {
        const a = parts[i].affine!(this.state[partKey(i, parts[i])] as State, ctx);
        scale *= a.scale;
        for (let t = 0; t < decay.length; t++) decay[t] = a.scale * decay[t] + a.decay[t];
      }
      if (writesParams) {
        const a = this.runs.a;
        for (let t = 0; t < a.length; t++) a[t] = 1 + decay[t];
        const lastState = this.state[partKey(unfused, last!)] as State;
        last!.fusedApply!(u, lastState, ctx, { params: p, scale, runs: this.runs });
      } else {
        for (let t = 0; t < layout.tensors.length; t++) {
          const { offset, size } = layout.tensors[t];
          axpby(p, u, 1 + decay[t], scale, offset, offset + size);
        }
      }
    }
    this.count++;
    return { loss: ctx.loss, skipped: false };
  }
}
