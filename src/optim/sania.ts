/**
 * SANIA: a Polyak-type step that solves a second-order model of the loss for its root, with a
 * diagonal preconditioner that makes it scale invariant.
 *
 * Abdukhakimov, Xiang, Kamzolov, Gower & Takáč, "SANIA: Polyak-type Optimization Framework
 * Leads to Scale Invariant Stochastic Algorithms", arXiv:2312.17369, 2023 (§3, the SANIA
 * update; official code: the authors' `SANIA`, `SANIA_AdamSQR` and `SANIA_AdagradSQR` classes).
 *
 * The step is the B-closest point where the quadratic model of the loss gap reaches 0 (the
 * paper's f* = 0 with the gap f − f* in place of f):
 *
 *     w_{t+1} = argmin ‖w − w_t‖²_B  s.t.  (f − f*) + gᵀ(w − w_t) + ½‖w − w_t‖²_B = 0
 *
 * The minimizer lies on the ray w_t − γ·B⁻¹g, where (f − f*) − γ·N + ½γ²·N = 0 with
 * N = ‖g‖²_{B⁻¹} = gᵀB⁻¹g:
 *
 *     γ = 1 − √(1 − 2(f − f*)/N)      if 2(f − f*) ≤ N
 *     γ = 1                           otherwise (no root: the model's minimizer, a Newton step)
 *
 * computed as x / (1 + √(1 − x)) with x = 2(f − f*)/N, which is the same number without the
 * cancellation of 1 − √(1 − x) when the gap is small next to N. With B equal to the Hessian of
 * a quadratic, N = 2(f − f*) and γ = 1: one exact Newton step. (The earlier preconditioned
 * Polyak step, PSPS, takes the linear model instead and γ = (f − f*)/N.)
 *
 * The diagonal B_t is chosen by `preconditioner`:
 *
 *     "hutchinson"  D_t = β·D_{t−1} + (1−β)·z ⊙ Hz,  B_t = max(|D_t| / (1−β^t), α)   (AdaHessian-like)
 *     "adamSqr"     v_t = β·v_{t−1} + (1−β)·g ⊙ g,   B_t = max(v_t / (1−β^t), ε)     (Adam-SQR)
 *     "adagradSqr"  v_t = v_{t−1} + g ⊙ g,           B_t = max(v_t, ε)               (AdaGrad-SQR)
 *     "identity"    B_t = I
 *
 * "SQR": the squared-gradient averages are used without the square root Adam and AdaGrad take;
 * that is what makes the step invariant to a rescaling w = V w̃ of the coordinates (B scales
 * as V², N and ‖·‖_B are unchanged, so the iterates map onto each other exactly). Entries of B
 * that read 0 (ε = 0 and a gradient coordinate that has always been 0) are skipped. The step
 * is 0 when f ≤ f* or N = 0, so a wrong f* never turns it into ascent.
 *
 * f* comes from `optimalValue`, else from the objective's `optimalValue`; f from the step
 * context (`opt.step(objective)`). Hutchinson probes: probe of update t (0-based count) is the
 * Rademacher sequence of stream t of `seed` (src/random); `probes` replaces them. The transform
 * returns the signed step: chain nothing after it that expects a direction.
 *
 * Defaults: Hutchinson preconditioner, β = 0.999 (the official Adam-SQR class, as AdaHessian and
 * Adam), α = 1e-5 (as OASIS), ε = 0: the paper's formula. The official PyTorch classes floor the
 * squared-gradient average at ε = 0.1 (their default), which bounds the step where gradients are
 * tiny but is not scale invariant; pass `eps: 0.1` to reproduce them. Their learning-rate factor
 * (default 1) is left out: chain `scale(lr)` after SANIA for it.
 */
import { InvalidArgumentError } from "../errors.js";
import { sumOfSquares, scaleInPlace } from "../kernels/polyak.js";
import { saniaAccumulate, saniaDualSquaredNorm, saniaStep } from "../kernels/sania.js";
import type { FloatArray, Layout } from "../params/layout.js";
import { requireLoss } from "./primitives.js";
import type { FlatProbeSource } from "./oasis.js";
import { assertFiniteHvp, resolveProbeSource, stepHvp } from "./oasis.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform, GradientTransform, State } from "./transform.js";
import { chain } from "./transform.js";
import { checkChoice, checkKnownOptions, checkNumber } from "./validate.js";

/** The diagonal preconditioner of {@link sania}. */
export type SaniaPreconditioner = "hutchinson" | "adamSqr" | "adagradSqr" | "identity";

/** Options of {@link sania} and {@link scaleBySania}. */
export interface SaniaOptions {
  /** Which diagonal B (default `"hutchinson"`). */
  preconditioner?: SaniaPreconditioner;
  /** f*, the optimal value (default: the objective's `optimalValue`). */
  optimalValue?: number;
  /** Decay β of the Hutchinson or Adam-SQR average (default 0.999). */
  beta2?: number;
  /** Floor α > 0 of the Hutchinson preconditioner (default 1e-5). */
  alpha?: number;
  /** Floor ε ≥ 0 of the squared-gradient preconditioners (default 0). */
  eps?: number;
  /** Seed of the default Rademacher probes: an integer in [0, 2^53) (default 0). */
  seed?: number;
  /** Replaces the default Rademacher probes (Hutchinson only). */
  probes?: FlatProbeSource;
}

/** State of {@link scaleBySania}. */
export interface SaniaState extends State {
  /** Updates applied so far. */
  count: number;
  /** The running average behind B (unused by `"identity"`). */
  precond: FloatArray;
  /** The factor γ of the last update, in [0, 1] (for monitoring). */
  stepSize: number;
}

const OPTIONS = ["preconditioner", "optimalValue", "beta2", "alpha", "eps", "seed", "probes"];

function resolve(owner: string, options: SaniaOptions) {
  checkKnownOptions(owner, options, OPTIONS);
  const preconditioner = checkChoice(
    owner,
    "preconditioner",
    options.preconditioner ?? "hutchinson",
    ["hutchinson", "adamSqr", "adagradSqr", "identity"],
  );
  const optimalValue =
    options.optimalValue === undefined
      ? undefined
      : checkNumber(owner, "optimalValue", options.optimalValue);
  const beta2 = checkBeta(owner, "beta2", options.beta2 ?? 0.999);
  const alpha = checkNumber(owner, "alpha", options.alpha ?? 1e-5, { above: 0 });
  const eps = checkNumber(owner, "eps", options.eps ?? 0, { min: 0 });
  const probes = resolveProbeSource(owner, options);
  return { preconditioner, optimalValue, beta2, alpha, eps, probes };
}

interface Scratch {
  probe: FloatArray;
  hv: FloatArray;
}

/**
 * SANIA's factor γ for a loss gap `gap` = f − f* and `squaredNorm` N = ‖g‖²_{B⁻¹}: the root
 * 1 − √(1 − 2·gap/N) of the quadratic model when it has one, else 1; 0 when there is nothing to
 * descend (gap ≤ 0 or N = 0).
 */
export function saniaStepSize(gap: number, squaredNorm: number): number {
  if (!(gap > 0) || !(squaredNorm > 0)) return 0;
  const x = (2 * gap) / squaredNorm;
  return x >= 1 ? 1 : x / (1 + Math.sqrt(1 - x));
}

/**
 * Turns the gradient into SANIA's signed step `−γ·B⁻¹g` (see {@link saniaStepSize}). Needs
 * `ctx.loss`, f* from the options or `ctx.objective`, and with the Hutchinson preconditioner one
 * Hessian-vector product per update.
 */
export function scaleBySania(options: SaniaOptions = {}): GradientTransform<SaniaState> {
  const owner = "scaleBySania";
  const { preconditioner, optimalValue, beta2, alpha, eps, probes } = resolve(owner, options);
  const scratches = new WeakMap<Layout, Scratch>();
  const scratchFor = (layout: Layout): Scratch => {
    let s = scratches.get(layout);
    if (!s) {
      s = { probe: layout.zeros(), hv: layout.zeros() };
      scratches.set(layout, s);
    }
    return s;
  };
  const hutchinson = preconditioner === "hutchinson";
  return {
    name: owner,
    ...(hutchinson ? { needs: ["hvp" as const] } : {}),
    init(layout) {
      if (hutchinson) scratchFor(layout);
      return { count: 0, precond: layout.zeros(), stepSize: 0 };
    },
    async update(u, state, ctx) {
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
      const t = state.count + 1;
      let bc = 1;
      let floor = eps;
      if (hutchinson) {
        const hvp = stepHvp(owner, ctx);
        const { probe, hv } = scratchFor(ctx.layout);
        probes(probe, state.count, 0);
        await hvp(ctx.params, probe, hv);
        assertFiniteHvp(owner, ctx.layout, hv, state.count);
        saniaAccumulate(state.precond, probe, hv, beta2, 1 - beta2);
        bc = 1 - beta2 ** t;
        floor = alpha;
      } else if (preconditioner === "adamSqr") {
        saniaAccumulate(state.precond, u, u, beta2, 1 - beta2);
        bc = 1 - beta2 ** t;
      } else if (preconditioner === "adagradSqr") {
        saniaAccumulate(state.precond, u, u, 1, 1);
      }
      const gap = loss - fStar;
      if (preconditioner === "identity") {
        const step = saniaStepSize(gap, sumOfSquares(u));
        scaleInPlace(u, -step);
        state.stepSize = step;
      } else {
        const step = saniaStepSize(gap, saniaDualSquaredNorm(u, state.precond, bc, floor));
        saniaStep(u, state.precond, bc, floor, step);
        state.stepSize = step;
      }
      state.count = t;
    },
  };
}

/**
 * SANIA (Abdukhakimov et al., 2023): the root of a preconditioned second-order model of the
 * loss gap, with Hutchinson (needs an
 * objective with an `hvp` oracle), Adam-SQR, AdaGrad-SQR or identity preconditioning.
 * @example `new Optimizer(params, sania({ preconditioner: "adamSqr", optimalValue: 0 }))`
 */
export function sania(options: SaniaOptions = {}): ChainTransform {
  resolve("sania", options);
  return chain(scaleBySania(options));
}
