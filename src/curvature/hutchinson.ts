/**
 * Hutchinson's stochastic estimator of the Hessian diagonal, and AdaHessian's spatial averaging.
 *
 * Hutchinson, "A stochastic estimator of the trace of the influence matrix for Laplacian
 * smoothing splines", Communications in Statistics – Simulation and Computation, 1990, showed
 * that E[vᵀHv] = tr(H) for probes with E[vvᵀ] = I. Bekas, Kokiopoulou & Saad, "An estimator for
 * the diagonal of a matrix", Applied Numerical Mathematics, 2007, gave the diagonal form
 *
 *     diag(H) ≈ (1/S) Σ_s v_s ⊙ (H v_s),
 *
 * unbiased because E[v_i v_j] = δ_ij. With Rademacher probes (v_i = ±1) the i-th coordinate
 * of one probe is H_ii + Σ_{j≠i} H_ij v_i v_j, so its variance is Σ_{j≠i} H_ij² (exact for a
 * diagonal H); Gaussian probes add 2 H_ii² to that.
 *
 * Probe s is element block [s·n, (s+1)·n) of the Philox sequence (seed, stream) of src/random
 * (n = the layout's size), so an estimate is a pure function of (seed, stream, probe count):
 * pass the step count as `stream` to get fresh, reproducible probes at every step.
 *
 * Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, "ADAHESSIAN: An Adaptive Second Order
 * Optimizer for Machine Learning", AAAI 2021, smooth the estimate of 4-D convolution kernels by
 * averaging |diag| over the two spatial dimensions (official code, amirgholami/adahessian,
 * `image_classification/optim_adahessian.py`); the transformer variant of the same repository
 * (`instruction/adahessian.py`) also averages 2-D tensors over their last dimension.
 */
import { InvalidArgumentError, NonFiniteError, ShapeMismatchError } from "../errors.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import type { Awaitable } from "../oracles/objective.js";
import type { FloatArray, Layout } from "../params/layout.js";
import { INDEX_LIMIT, fillNormal, fillRademacher } from "../random/index.js";

/** A Hessian-vector product oracle: ∇²f(params)·vector into `out`. */
export type HvpOracle = (
  params: FloatArray,
  vector: FloatArray,
  out: FloatArray,
) => Awaitable<void>;

/** Distribution of the probe vectors: ±1 with equal probability, or standard normal. */
export type ProbeDistribution = "rademacher" | "gaussian";

/** Options of {@link hutchinsonDiagonal}. */
export interface HutchinsonOptions {
  /** Number of probes averaged (default 1). */
  probes?: number;
  /** Probe distribution (default `"rademacher"`, the lower-variance choice). */
  distribution?: ProbeDistribution;
  /** Philox seed (default 0). */
  seed?: number;
  /** Philox stream, e.g. the optimizer's step count (default 0). */
  stream?: number;
}

/** Validated {@link HutchinsonOptions}. */
export interface ProbeSettings {
  /** Number of probes. */
  readonly probes: number;
  /** Probe distribution. */
  readonly distribution: ProbeDistribution;
  /** Philox seed. */
  readonly seed: number;
  /** Philox stream. */
  readonly stream: number;
}

/** Checks probe options for `owner`; `extra` names further options the caller accepts. */
export function checkProbeOptions(
  owner: string,
  options: HutchinsonOptions,
  extra: readonly string[] = [],
): ProbeSettings {
  checkKnownOptions(owner, options, ["probes", "distribution", "seed", "stream", ...extra]);
  const probes = checkNumber(owner, "probes", options.probes ?? 1, { min: 1, integer: true });
  const distribution = checkChoice(owner, "distribution", options.distribution ?? "rademacher", [
    "rademacher",
    "gaussian",
  ]);
  const bounds = { min: 0, below: INDEX_LIMIT, integer: true };
  const seed = checkNumber(owner, "seed", options.seed ?? 0, bounds);
  const stream = checkNumber(owner, "stream", options.stream ?? 0, bounds);
  return { probes, distribution, seed, stream };
}

/**
 * Fills `out` with probe number `probeIndex` of (seed, stream): elements
 * [probeIndex·n, (probeIndex + 1)·n) of the chosen distribution's sequence, n = `out.length`.
 * @returns `out`
 */
export function drawProbe<T extends FloatArray>(
  out: T,
  distribution: ProbeDistribution,
  seed: number,
  stream: number,
  probeIndex: number,
): T {
  const start = probeIndex * out.length;
  return distribution === "rademacher"
    ? fillRademacher(out, seed, stream, start)
    : fillNormal(out, seed, stream, start);
}

/**
 * The single-probe estimate `out = v ⊙ hv` (elementwise), where `hv` = H·v.
 * @returns `out`
 */
export function probeDiagonal<T extends FloatArray>(v: FloatArray, hv: FloatArray, out: T): T {
  if (hv.length !== v.length || out.length !== v.length) {
    throw new ShapeMismatchError(
      `probeDiagonal: v, hv and out must have equal lengths, got ${v.length}, ${hv.length}, ${out.length}`,
    );
  }
  for (let i = 0; i < v.length; i++) out[i] = v[i] * hv[i];
  return out;
}

/**
 * Throws a {@link NonFiniteError} naming the tensor and index of the first non-finite entry of
 * a Hessian-vector product, so a broken oracle fails loudly instead of poisoning an estimate.
 */
export function assertFiniteProduct(what: string, layout: Layout, hv: FloatArray): void {
  for (let i = 0; i < hv.length; i++) {
    if (Number.isFinite(hv[i])) continue;
    const tensor = layout.tensors.find((t) => i >= t.offset && i < t.offset + t.size);
    const name = tensor?.name ?? "?";
    const index = tensor ? i - tensor.offset : i;
    const error = new NonFiniteError(what, name, index, hv[i]);
    // The stock message suggests an optimizer policy, which does not apply to an estimator.
    error.message = `${what} is not finite: ${name}[${index}] = ${hv[i]}`;
    throw error;
  }
}

/**
 * Hutchinson's estimate of diag(∇²f(params)) averaged over `probes` probes, written to `out`
 * (a buffer of `layout`). Makes one `hvp` call per probe; allocates two probe buffers per call.
 * @returns `out`
 */
export async function hutchinsonDiagonal<T extends FloatArray>(
  hvp: HvpOracle,
  layout: Layout,
  params: FloatArray,
  out: T,
  options: HutchinsonOptions = {},
): Promise<T> {
  const owner = "hutchinsonDiagonal";
  if (typeof hvp !== "function") {
    throw new InvalidArgumentError(owner, "hvp", hvp, "a Hessian-vector product function");
  }
  const settings = checkProbeOptions(owner, options);
  layout.assertBuffer(params, `${owner} params`);
  layout.assertBuffer(out, `${owner} out`);
  const v = layout.zeros();
  const hv = layout.zeros();
  const sum = new Float64Array(layout.size);
  for (let s = 0; s < settings.probes; s++) {
    drawProbe(v, settings.distribution, settings.seed, settings.stream, s);
    await hvp(params, v, hv);
    assertFiniteProduct(`${owner}: Hessian-vector product`, layout, hv);
    for (let i = 0; i < sum.length; i++) sum[i] += v[i] * hv[i];
  }
  for (let i = 0; i < sum.length; i++) out[i] = sum[i] / settings.probes;
  return out;
}

/** Options of {@link spatialAverage}. */
export interface SpatialAverageOptions {
  /**
   * Also average each row of a 2-D tensor over its last dimension, as the transformer variant
   * of the official code does (default false).
   */
  matrixRows?: boolean;
  /** Where the result goes (default: `diag` itself, in place). */
  out?: FloatArray;
}

/**
 * AdaHessian's smoothing of a diagonal estimate: |diag| everywhere, and for every 4-D tensor
 * [out, in, kh, kw] each entry replaced by the mean of |diag| over its kh×kw kernel window
 * (with `matrixRows`, each entry of a 2-D tensor by the mean of |diag| over its row).
 * @returns the output buffer
 */
export function spatialAverage(
  diag: FloatArray,
  layout: Layout,
  options: SpatialAverageOptions = {},
): FloatArray {
  const owner = "spatialAverage";
  checkKnownOptions(owner, options, ["matrixRows", "out"]);
  const matrixRows = options.matrixRows ?? false;
  if (typeof matrixRows !== "boolean") {
    throw new InvalidArgumentError(owner, "matrixRows", matrixRows, "true or false");
  }
  const out = options.out ?? diag;
  layout.assertBuffer(diag, `${owner} diag`);
  layout.assertBuffer(out, `${owner} out`);
  for (const t of layout.tensors) {
    const rank = t.shape.length;
    let block = 1;
    if (rank === 4) block = t.shape[2] * t.shape[3];
    else if (rank === 2 && matrixRows) block = t.shape[1];
    if (block === 0) continue;
    for (let start = t.offset; start < t.offset + t.size; start += block) {
      let total = 0;
      for (let i = start; i < start + block; i++) total += Math.abs(diag[i]);
      const mean = total / block;
      for (let i = start; i < start + block; i++) out[i] = mean;
    }
  }
  return out;
}
