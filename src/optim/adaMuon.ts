/**
 * AdaMuon, variance-adapted Muon: Muon's orthogonalized momentum divided elementwise by the root
 * of its own running second moment.
 *
 * - Frans, Abbeel & Levine, "What Really Matters in Matrix-Whitening Optimizers?",
 *   arXiv:2510.25000, 2025: matrix whitening both normalizes the spectrum and adapts to the
 *   variance, and the variance-adapted version of Muon beats Muon. Code: kvfrans/matrix-whitening
 *   @ 71a03e9, `optimizers/adamuon.py` (`make_adamuon`), the form implemented here.
 * - Si, Zhang & Shen, "AdaMuon: Adaptive Muon Optimizer", arXiv:2507.11005, 2025, which also
 *   takes the sign of the momentum before orthogonalizing and rescales the update to Adam's root
 *   mean square; the matrix-whitening paper leaves both out, and so does this file.
 *
 * Per matrix G at step t:
 *
 *     M ← β₁·M + (1 − β₁)·G
 *     O = NS₅(M)                 (the Newton–Schulz polar factor, src/linalg/newtonSchulz.ts)
 *     V ← β₂·V + (1 − β₂)·O²
 *     D = O / (√(V/(1 − β₂ᵗ)) + ε)
 *     θ ← θ − lr·(D + wd·θ)
 *
 * As a chain: {@link scaleByMuon} without Nesterov and without shape scaling, then
 * {@link scaleByAdam} with β₁ = 0 (so its first moment is O itself). The reference code
 * orthogonalizes the bias-corrected momentum M/(1 − β₁ᵗ) and scales O by √max(1, cols/rows);
 * both are constant factors that the division by √V removes (up to ε and the ε of the
 * Newton–Schulz normalization). Its Newton–Schulz runs five steps with per-step coefficients;
 * here Muon's quintic (3.4445, −4.7750, 2.0315) by default.
 *
 * Defaults are `make_adamuon`'s: β₁ = 0.9, β₂ = 0.95, ε = 1e-8, 5 Newton–Schulz steps; the
 * learning rate 1e-3 (an Adam-sized step, since D has entries of order one) and weight decay 0
 * are chosen here. Matrices only: route vectors to an element-wise optimizer with
 * `routeMatrices`.
 */
import { scaleByAdam } from "./adam.js";
import type { DecoupledDecayOptions } from "./decoupledDecay.js";
import { withDecoupledDecay } from "./decoupledDecay.js";
import type { Hyper } from "./hyper.js";
import type { OrthogonalizationOptions } from "./muon.js";
import { ORTHOGONALIZATION_OPTIONS, scaleByMuon } from "./muon.js";
import { checkBeta } from "./primitives.js";
import type { ChainTransform } from "./transform.js";
import { checkNumber } from "./validate.js";

/** Options of {@link adaMuon}. */
export interface AdaMuonOptions extends OrthogonalizationOptions, DecoupledDecayOptions {
  /** Step size (constant or schedule; default 1e-3). */
  learningRate?: Hyper;
  /** Decay β₁ ∈ [0, 1) of the momentum that is orthogonalized (default 0.9). */
  beta1?: number;
  /** Decay β₂ ∈ [0, 1) of the second moment of the orthogonalized update (default 0.95). */
  beta2?: number;
  /** Added to the root of the second moment (default 1e-8). */
  eps?: number;
  /** Decoupled weight decay, θ ← θ − lr·wd·θ (default 0). */
  weightDecay?: Hyper;
}

/** AdaMuon as the matrix-whitening paper runs it, for layouts made only of matrices. */
export function adaMuon(options: AdaMuonOptions = {}): ChainTransform {
  const owner = "adaMuon";
  return withDecoupledDecay(
    owner,
    options,
    [
      "learningRate",
      "beta1",
      "beta2",
      "eps",
      "weightDecay",
      "weightDecayMask",
      ...ORTHOGONALIZATION_OPTIONS,
    ],
    { learningRate: 1e-3, weightDecay: 0 },
    ({ beta1 = 0.9, beta2 = 0.95, eps = 1e-8, ...orthogonalization }) => [
      scaleByMuon({
        momentum: checkBeta(owner, "beta1", beta1),
        nesterov: false,
        updateScale: "none",
        ...orthogonalization,
      }),
      scaleByAdam({
        beta1: 0,
        beta2: checkBeta(owner, "beta2", beta2),
        eps: checkNumber(owner, "eps", eps, { min: 0 }),
      }),
    ],
  );
}
