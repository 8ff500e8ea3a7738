/**
 * Consensus-based optimization (CBO): a swarm of particles drawn towards a Gibbs-weighted
 * average of themselves, exploring with noise that vanishes as they agree. Needs only function
 * values, so it minimizes non-differentiable and non-convex objectives.
 *
 * Pinnau, Totzeck, Tse & Martin, "A consensus-based model for global optimization and its
 * mean-field limit", Mathematical Models and Methods in Applied Sciences 27(1), 2017 (the
 * method); Riedl, Klock, Geldhauser & Fornasier, "Gradient is All You Need?", arXiv:2306.09778,
 * 2023 (CBO as a stochastic relaxation of gradient descent, which lets it pass the local minima
 * where gradient descent stops, on objectives that need not be differentiable).
 * Reference implementation: CBXpy (PdIPS/CBXpy @ 1ff2b4a, cbx/dynamics/cbo.py `CBO`,
 * cbx/dynamics/pdyn.py, cbx/noise.py, cbx/scheduler.py).
 *
 * With N particles x_1 … x_N ∈ ℝ^d and energies E_i = f(x_i), one step (Euler–Maruyama with
 * time step dt) is
 *
 *     w_i = exp(−α·(E_i − min_j E_j)),         v = Σ_i w_i·x_i / Σ_i w_i   (consensus point)
 *     x_i ← x_i − λ·dt·(x_i − v) + σ·√dt·D_i·ξ_i,    ξ_i ~ N(0, I_d)
 *     isotropic:   D_i = ‖x_i − v‖₂·I_d
 *     anisotropic: D_i = diag(x_i − v)
 *     α ← min(α_max, γ·α)
 *
 * Subtracting min_j E_j is the log-sum-exp stabilization (CBXpy divides by exp of the
 * log-sum-exp, the same quotient): at any α the best particle has weight 1 and no exponent
 * overflows. As α → ∞, v tends to the best particle (Laplace principle). Energies that are NaN
 * or +∞ (infeasible points) get weight 0; at least one must be finite. After the move each
 * coordinate is clipped to [−1e8, 1e8] (CBXpy's default post-processing).
 *
 * Cost: N evaluations per step, as one batched call when the objective has a `valueBatch` hook
 * (src/zo/valueBatch.ts). The state is plain numbers and buffers (the particles, α, the step
 * count, the best point seen), so a saved state resumes bit-exactly: the initial particles are
 * the Philox uniforms of (seed, stream 0) and the noise of step t the normals of
 * (seed, stream t + 1), and the Gibbs weights use an exponential that is bit-identical on every
 * engine (src/kernels/cbo.ts).
 *
 * Defaults are CBXpy's: N = 20 particles drawn uniformly from [−1, 1]^d, dt = 0.01, λ = 1,
 * σ = 5.1, isotropic noise (`CBXDynamic.__init__`, `ParticleDynamic.__init__`,
 * `init_particles`), α starting at 1 and multiplied by γ = 1.05 after every step up to
 * α_max = 1e5 (the default scheduler `multiply(name='alpha', factor=1.05)` of `optimize()`, with
 * `param_update`'s maximum). CBXpy's random mini-batches of particles are not implemented.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { cboMove, consensusPoint } from "../kernels/cbo.js";
import type { FloatArray, Layout } from "../params/layout.js";
import type { State } from "../optim/transform.js";
import { checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { fillNormal, fillUniform } from "../random/distributions.js";
import { INDEX_LIMIT } from "../random/philox.js";
import type { BatchedObjective, BlackBox, BlackBoxLayout, ValueBatch } from "./valueBatch.js";
import { blackBoxObjective, evaluatePoints } from "./valueBatch.js";

/** Noise model of {@link Cbo}. */
export type CboNoise = "isotropic" | "anisotropic";

/** Options of {@link Cbo}. */
export interface CboOptions {
  /** Number N ≥ 1 of particles (default 20). */
  particles?: number;
  /** Time step dt > 0 (default 0.01). */
  dt?: number;
  /** Drift rate λ ≥ 0 towards the consensus point (default 1). */
  lambda?: number;
  /** Noise scale σ ≥ 0 (default 5.1). */
  sigma?: number;
  /** Initial inverse temperature α ≥ 0 of the Gibbs weights (default 1). */
  alpha?: number;
  /** Factor γ ≥ 1 multiplying α after every step (default 1.05; 1 keeps α fixed). */
  alphaGrowth?: number;
  /** Cap α_max ≥ α of the growing α (default 1e5). */
  alphaMax?: number;
  /** `"isotropic"` (default) or `"anisotropic"` noise. */
  noise?: CboNoise;
  /** Seed of the initial particles and of the noise (default 0). */
  seed?: number;
  /** Lower end of the box the initial particles are drawn from (default −1). */
  low?: number;
  /** Upper end of that box (default 1). */
  high?: number;
  /**
   * Initial particles instead of the random box: N·d numbers, particle i in entries
   * i·d … i·d + d − 1 (d the layout's size).
   */
  initialParticles?: ArrayLike<number>;
  /** Batched evaluation of the N particles (default: the objective's own `valueBatch`). */
  valueBatch?: ValueBatch;
  /**
   * The layout of one particle, when the objective is a bare function: a {@link Layout}, or d
   * for a float64 vector of d coordinates.
   */
  layout?: BlackBoxLayout;
}

/** State of {@link Cbo}: everything a resumed run needs. */
export interface CboState extends State {
  /** Steps taken. */
  count: number;
  /** α of the next step. */
  alpha: number;
  /** The N particles, row after row (N·d entries, the layout's element type). */
  particles: FloatArray;
  /** Consensus point of the last step (the layout's element type; zeros before the first). */
  consensus: FloatArray;
  /** The particle with the lowest energy evaluated so far. */
  best: FloatArray;
  /** Its energy (+∞ before the first step). */
  bestValue: number;
  /** Objective evaluations so far. */
  evaluations: number;
}

/** Outcome of one {@link Cbo.step}. */
export interface CboStepResult {
  /** The smallest energy among the particles evaluated in this step. */
  minValue: number;
  /** The lowest energy seen so far (that of {@link CboState.best}). */
  bestValue: number;
  /** The α this step used. */
  alpha: number;
}

const OWNER = "cbo";
const OPTIONS = [
  "particles",
  "dt",
  "lambda",
  "sigma",
  "alpha",
  "alphaGrowth",
  "alphaMax",
  "noise",
  "seed",
  "low",
  "high",
  "initialParticles",
  "valueBatch",
  "layout",
];
/** CBXpy's default post-processing clips particles to ±1e8. */
const COORDINATE_BOUND = 1e8;

/** Consensus-based optimization of a black-box objective (see the module comment). */
export class Cbo {
  /** The objective minimized. */
  readonly objective: BatchedObjective;
  /** Layout of one particle. */
  readonly layout: Layout;
  /** Number N of particles. */
  readonly particles: number;
  /** The run's state; replace it with a saved one to resume. */
  state: CboState;
  private readonly dt: number;
  private readonly lambda: number;
  private readonly sigma: number;
  private readonly alphaGrowth: number;
  private readonly alphaMax: number;
  private readonly anisotropic: boolean;
  private readonly seed: number;
  private readonly valueBatch: ValueBatch | undefined;
  private readonly energies: Float64Array;
  private readonly weights: Float64Array;
  private readonly consensus: Float64Array;
  private readonly noise: Float64Array;

  /**
   * @param blackBox - the objective (only `value`, or a `valueBatch` hook, is used), or a bare
   *   function `(x) => f(x)` with `options.layout`
   * @param options - see {@link CboOptions}; validated before anything is allocated
   */
  constructor(blackBox: BlackBox, options: CboOptions = {}) {
    checkKnownOptions(OWNER, options, OPTIONS);
    const objective = blackBoxObjective(OWNER, blackBox, options.layout);
    const count = checkNumber(OWNER, "particles", options.particles ?? 20, {
      integer: true,
      min: 1,
    });
    this.dt = checkNumber(OWNER, "dt", options.dt ?? 0.01, { above: 0 });
    this.lambda = checkNumber(OWNER, "lambda", options.lambda ?? 1, { min: 0 });
    this.sigma = checkNumber(OWNER, "sigma", options.sigma ?? 5.1, { min: 0 });
    const alpha = checkNumber(OWNER, "alpha", options.alpha ?? 1, { min: 0 });
    this.alphaGrowth = checkNumber(OWNER, "alphaGrowth", options.alphaGrowth ?? 1.05, { min: 1 });
    this.alphaMax = checkNumber(OWNER, "alphaMax", options.alphaMax ?? 1e5, { min: alpha });
    this.anisotropic =
      checkChoice(OWNER, "noise", options.noise ?? "isotropic", ["isotropic", "anisotropic"]) ===
      "anisotropic";
    this.seed = checkNumber(OWNER, "seed", options.seed ?? 0, {
      integer: true,
      min: 0,
      below: INDEX_LIMIT,
    });
    const low = checkNumber(OWNER, "low", options.low ?? -1);
    const high = checkNumber(OWNER, "high", options.high ?? 1, { min: low });
    const valueBatch = options.valueBatch ?? objective.valueBatch?.bind(objective);
    if (valueBatch !== undefined && typeof valueBatch !== "function") {
      throw new InvalidArgumentError(OWNER, "valueBatch", valueBatch, "a function (points)");
    }
    const layout = objective.layout;
    const d = layout.size;
    if (d === 0)
      throw new InvalidArgumentError(OWNER, "objective", objective.name, "a layout of size >= 1");
    const initial = options.initialParticles;
    if (initial !== undefined) {
      if (initial === null || typeof initial !== "object" || typeof initial.length !== "number") {
        throw new InvalidArgumentError(
          OWNER,
          "initialParticles",
          initial,
          "an array of N·d numbers",
        );
      }
      if (initial.length !== count * d) {
        throw new ShapeMismatchError(
          `${OWNER}: initialParticles has ${initial.length} entries, expected ${count}·${d} = ${count * d}`,
        );
      }
      for (let k = 0; k < initial.length; k++) {
        checkNumber(OWNER, `initialParticles[${k}]`, initial[k]);
      }
    }
    if (count * d > INDEX_LIMIT) {
      throw new InvalidArgumentError(OWNER, "particles", count, `at most 2^53 / ${d}`);
    }

    this.objective = objective;
    this.layout = layout;
    this.particles = count;
    this.valueBatch = valueBatch;
    const dtype = layout.dtype;
    const particles =
      dtype === "float32" ? new Float32Array(count * d) : new Float64Array(count * d);
    if (initial !== undefined) {
      for (let k = 0; k < initial.length; k++) particles[k] = initial[k];
    } else {
      const u = fillUniform(new Float64Array(count * d), this.seed, 0);
      for (let k = 0; k < u.length; k++) particles[k] = low + (high - low) * u[k];
    }
    this.state = {
      count: 0,
      alpha,
      particles,
      consensus: layout.zeros(),
      best: layout.zeros(),
      bestValue: Infinity,
      evaluations: 0,
    };
    this.energies = new Float64Array(count);
    this.weights = new Float64Array(count);
    this.consensus = new Float64Array(d);
    this.noise = new Float64Array(count * d);
  }

  /** Particle i of the current state (a view, valid until the state is replaced). */
  particle(index: number): FloatArray {
    checkNumber(OWNER, "index", index, { integer: true, min: 0, below: this.particles });
    const d = this.layout.size;
    return this.state.particles.subarray(index * d, (index + 1) * d);
  }

  /** The normalized Gibbs weights of the last step, one per particle (a copy). */
  lastWeights(): Float64Array {
    return this.weights.slice();
  }

  /**
   * One CBO step: evaluates the N particles, forms the consensus point and moves every particle.
   * Throws (leaving the state untouched) if an energy is −∞ or not a number, or if none is
   * finite.
   */
  async step(): Promise<CboStepResult> {
    const state = this.state;
    const n = this.particles;
    const d = this.layout.size;
    this.checkState(state);
    const points = Array.from({ length: n }, (_, i) =>
      state.particles.subarray(i * d, (i + 1) * d),
    );
    const energies = this.energies;
    await evaluatePoints(OWNER, this.objective, this.valueBatch, points, energies);
    for (let i = 0; i < n; i++) {
      const e = energies[i];
      if (typeof e !== "number" || e === -Infinity) {
        throw new InvalidArgumentError(
          OWNER,
          `objective value of particle ${i}`,
          e,
          "a number above -Infinity (NaN and Infinity mark infeasible points)",
        );
      }
    }
    const alpha = state.alpha;
    const best = consensusPoint(
      state.particles,
      energies,
      n,
      d,
      alpha,
      this.weights,
      this.consensus,
    );
    if (best < 0) {
      throw new InvalidArgumentError(
        OWNER,
        "objective values",
        "none finite",
        "finite for at least one particle",
      );
    }
    // Everything below only writes: the state changes only once the step cannot fail.
    const minValue = energies[best];
    if (minValue < state.bestValue) {
      state.bestValue = minValue;
      state.best.set(points[best]);
    }
    fillNormal(this.noise, this.seed, state.count + 1);
    cboMove(
      state.particles,
      this.consensus,
      this.noise,
      n,
      d,
      this.lambda * this.dt,
      this.sigma * Math.sqrt(this.dt),
      this.anisotropic,
      COORDINATE_BOUND,
    );
    for (let j = 0; j < d; j++) state.consensus[j] = this.consensus[j];
    state.evaluations += n;
    state.count++;
    state.alpha = Math.min(this.alphaMax, this.alphaGrowth * alpha);
    return { minValue, bestValue: state.bestValue, alpha };
  }

  /** Runs `steps` steps; returns the last step's result. */
  async run(steps: number): Promise<CboStepResult> {
    checkNumber(OWNER, "steps", steps, { integer: true, min: 1 });
    let result: CboStepResult | undefined;
    for (let k = 0; k < steps; k++) result = await this.step();
    return result!;
  }

  /** Checks a (possibly replaced) state against this run's layout and particle count. */
  private checkState(state: CboState): void {
    const d = this.layout.size;
    const expected = this.layout.dtype === "float32" ? Float32Array : Float64Array;
    if (!(state.particles instanceof expected) || state.particles.length !== this.particles * d) {
      throw new ShapeMismatchError(
        `${OWNER}: state.particles must be a ${expected.name} of ${this.particles}·${d} entries`,
      );
    }
    this.layout.assertBuffer(state.consensus, `${OWNER} state.consensus`);
    this.layout.assertBuffer(state.best, `${OWNER} state.best`);
    checkNumber(OWNER, "state.count", state.count, {
      integer: true,
      min: 0,
      below: INDEX_LIMIT - 1,
    });
    checkNumber(OWNER, "state.alpha", state.alpha, { min: 0 });
  }
}
