/**
 * Polyak step sizes: SGD whose step size comes from the optimality gap.
 *
 * - Polyak, "Introduction to Optimization", Optimization Software, 1987 (the step
 *   (f − f*) / ‖g‖², from Polyak's 1969 subgradient method).
 * - Loizou, Vaswani, Laradji & Lacoste-Julien, "Stochastic Polyak Step-size for SGD: An Adaptive
 *   Learning Rate for Fast Convergence", AISTATS 2021 (SPS and its capped form SPS_max).
 *
 * Step t, with f, g = ∇f evaluated at θ_{t−1} (on a minibatch: that minibatch's loss, and f* its
 * optimal value, often 0 for interpolating models):
 *
 *     γ_t = min( (f − f*) / (c·‖g‖² + ε),  γ_b )
 *     θ_t = θ_{t−1} − γ_t·g
 *
 * γ_t = 0 when g = 0 or f < f* (a wrong f* must not turn the step into ascent), as in the
 * official code. c = 1 with γ_b = ∞ is Polyak's original step size; c = 1/2 is the value the
 * SPS analysis uses for convex problems. ‖g‖ is the norm of the whole flat gradient.
 *
 * Defaults from the official implementation (IssamLaradji/sps, `sps/sps.py`, mode "constant"):
 * c = 0.5, γ_b = ∞ (`eta_max=None`). ε defaults to 0 as in the paper's formula; the official
 * code adds ε = 1e-8 to the denominator, which stalls progress once ‖g‖² falls below about 1e-8,
 * so pass `eps: 1e-8` to reproduce it.
 *
 * f* comes from the `optimalValue` option, else from the objective's `optimalValue`; the loss
 * from the step context (filled by `opt.step(objective)`).
 */
import { InvalidArgumentError } from "../errors.js";
import { scaleInPlace, sumOfSquares } from "../kernels/polyak.js";
import { requireLoss } from "./primitives.js";
import type { Hyper } from "./hyper.js";
import { valueAt } from "./hyper.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkHyper, checkKnownOptions, checkNumber } from "./validate.js";

/** Options of {@link polyak} and {@link scaleByPolyakStepSize}. */
export interface PolyakOptions {
  /** f*, the optimal value (default: the objective's `optimalValue`). */
  optimalValue?: number;
  /** c > 0: the step is (f − f*)/(c‖g‖²) (default 0.5; 1 is Polyak's original). */
  c?: number;
  /** γ_b > 0: cap on the step size, SPS_max (constant or schedule; default ∞, no cap). */
  maxStepSize?: Hyper;
  /** ε ≥ 0 added to c‖g‖² (default 0; the official code uses 1e-8). */
  eps?: number;
}

/** State of {@link scaleByPolyakStepSize}. */
export interface PolyakState extends State {
  /** Steps taken. */
  count: number;
  /** γ of the last step (for monitoring). */
  stepSize: number;
}

const OPTIONS = ["optimalValue", "c", "maxStepSize", "eps"];

function resolve(owner: string, options: PolyakOptions) {
  checkKnownOptions(owner, options, OPTIONS);
  return {
    optimalValue:
      options.optimalValue === undefined
        ? undefined
        : checkNumber(owner, "optimalValue", options.optimalValue),
    c: checkNumber(owner, "c", options.c ?? 0.5, { above: 0 }),
    maxStepSize:
      options.maxStepSize === undefined
        ? Infinity
        : checkHyper(owner, "maxStepSize", options.maxStepSize, { above: 0 }),
    eps: checkNumber(owner, "eps", options.eps ?? 0, { min: 0 }),
  };
}

/**
 * Turns the gradient into the Polyak step `−γ_t·g` (signed and scaled; chain nothing after it
 * that expects a direction). Needs `ctx.loss`, and f* from the options or `ctx.objective`.
 */
export function scaleByPolyakStepSize(options: PolyakOptions = {}): GradientTransform<PolyakState> {
  const owner = "scaleByPolyakStepSize";
  const { optimalValue, c, maxStepSize, eps } = resolve(owner, options);
  return {
    name: "scaleByPolyakStepSize",
    init() {
      return { count: 0, stepSize: 0 };
    },
    update(u, state, ctx) {
      const loss = requireLoss(owner, ctx);
      const fStar = optimalValue ?? ctx.objective?.optimalValue;
      if (typeof fStar !== "number" || !Number.isFinite(fStar)) {
        throw new InvalidArgumentError(
          owner,
          "optimalValue",
          fStar,
          "a finite number f*: pass the optimalValue option, or step with an objective that declares optimalValue",
        );
      }
      const cap = valueAt(maxStepSize, state.count);
      const squaredNorm = sumOfSquares(u);
      const gap = loss - fStar;
      let step = 0;
      if (squaredNorm > 0 && gap > 0) step = Math.min(gap / (c * squaredNorm + eps), cap);
      scaleInPlace(u, -step);
      state.stepSize = step;
      state.count++;
    },
  };
}

/**
 * SGD with the (stochastic) Polyak step size, SPS_max (Loizou et al., AISTATS 2021).
 * @example `new Optimizer(params, polyak({ optimalValue: 0, maxStepSize: 1 }))`
 */
export function polyak(options: PolyakOptions = {}): ChainTransform {
  resolve("polyak", options);
  return chain(scaleByPolyakStepSize(options));
}
