import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError, ShapeMismatchError } from "../../src/errors.js";
import { consensusPoint, portableExp } from "../../src/kernels/cbo.js";
import type { Objective } from "../../src/oracles/objective.js";
import { rastrigin } from "../../src/oracles/problems/rastrigin.js";
import type { FloatArray } from "../../src/params/layout.js";
import { Layout } from "../../src/params/layout.js";
import { normal } from "../../src/random/distributions.js";
import type { CboOptions, CboState } from "../../src/zo/cbo.js";
import { Cbo } from "../../src/zo/cbo.js";
import type { ValueBatch } from "../../src/zo/valueBatch.js";
import {
  assertClose,
  assertInvalidArgument,
  assertSameBits,
  assertSameState,
  snapshotState,
} from "../helpers/assertions.js";

function maxAbs(x: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < x.length; i++) m = Math.max(m, Math.abs(x[i]));
  return m;
}

const plane = new Layout([{ name: "x", shape: [2] }], "float64");
/** f(x) = ‖x − (1, −2)‖₁: non-differentiable at its minimum. */
const absolute: Objective = {
  name: "l1",
  layout: plane,
  value: (x) => Math.abs(x[0] - 1) + Math.abs(x[1] + 2),
};

describe("consensus-based optimization: global minimum of Rastrigin", () => {
  it("gradient descent from the problem's start stops in a local minimum (f > 1)", async () => {
    const f = rastrigin({ dimension: 2 });
    const x = f.initialParams!();
    const g = f.layout.zeros();
    for (let k = 0; k < 2000; k++) {
      await f.valueAndGrad!(x, g);
      for (let i = 0; i < 2; i++) x[i] -= 1e-3 * g[i];
    }
    assert.ok((await f.value(x)) > 1, `gradient descent reached ${await f.value(x)}`);
    assert.ok(Math.abs(x[0]) > 1.5, "it stayed in a basin away from the origin");
  });

  it("reaches the global minimum 0 of 2-D Rastrigin from particles spread over [−5, 5]² (5 seeds)", async () => {
    // CBXpy's dynamics (dt 0.01, λ 1, σ 5.1, isotropic, α ← 1.05·α up to 1e5) with 100 particles.
    for (let seed = 0; seed < 5; seed++) {
      const f = rastrigin({ dimension: 2 });
      const cbo = new Cbo(f, { particles: 100, low: -5, high: 5, seed });
      const result = await cbo.run(500);
      assert.ok(
        maxAbs(cbo.state.consensus) < 1e-2,
        `seed ${seed}: consensus ${cbo.state.consensus}`,
      );
      assert.ok(result.bestValue < 1e-4, `seed ${seed}: best value ${result.bestValue}`);
      assert.ok(maxAbs(cbo.state.best) < 1e-3, `seed ${seed}: best point ${cbo.state.best}`);
      assert.equal(cbo.state.evaluations, 500 * 100);
    }
  });

  it("reaches it in 3-D with anisotropic noise from particles spread over [−4.5, 4.5]³", async () => {
    const f = rastrigin({ dimension: 3 });
    for (let seed = 0; seed < 3; seed++) {
      const cbo = new Cbo(f, { particles: 100, noise: "anisotropic", low: -4.5, high: 4.5, seed });
      await cbo.run(800);
      assert.ok(
        maxAbs(cbo.state.consensus) < 1e-2,
        `seed ${seed}: consensus ${cbo.state.consensus}`,
      );
    }
  });

  it("minimizes a non-differentiable objective", async () => {
    const cbo = new Cbo(absolute, { particles: 50, low: -4, high: 4, seed: 3 });
    await cbo.run(600);
    assertClose(cbo.state.consensus, [1, -2], 1e-2, "consensus", { floor: 1 });
  });
});

describe("consensus point and particle move", () => {
  const particles = Float64Array.of(0.5, -1, 2, 0.25, -1.5, 1, 0.75, 0.75);
  const count = 4;

  it("v = Σ exp(−α f_i) x_i / Σ exp(−α f_i), checked against the direct formula", async () => {
    const alpha = 1.7;
    const cbo = new Cbo(absolute, {
      particles: count,
      initialParticles: particles,
      alpha,
      sigma: 0,
    });
    await cbo.step();
    const energies = Array.from({ length: count }, (_, i) =>
      absolute.value(particles.subarray(2 * i, 2 * i + 2)),
    ) as number[];
    const weights = energies.map((e) => Math.exp(-alpha * e));
    const total = weights.reduce((s, w) => s + w, 0);
    const expected = [0, 1].map(
      (j) => weights.reduce((s, w, i) => s + w * particles[2 * i + j], 0) / total,
    );
    assertClose(cbo.state.consensus, expected, 1e-14, "consensus");
    assertClose(
      cbo.lastWeights(),
      weights.map((w) => w / total),
      1e-14,
      "weights",
    );
    // With σ = 0 the move is the drift alone: x_i − λ·dt·(x_i − v), λ = 1, dt = 0.01.
    const v = cbo.state.consensus;
    const moved = Array.from(particles, (x, k) => x - 0.01 * (x - v[k % 2]));
    assertClose(cbo.state.particles, moved, 1e-15, "particles after the drift");
    assert.equal(cbo.state.alpha, alpha * 1.05);
  });

  it("stays finite where the direct formula overflows: at large α v is the best particle", () => {
    const energies = [900, 3, 3.5, 1000];
    const weights = new Float64Array(count);
    const v = new Float64Array(2);
    const direct = energies.map((e) => Math.exp(-1e3 * e));
    assert.ok(
      direct.every((w) => w === 0),
      "the unstabilized weights all underflow (0/0)",
    );
    const best = consensusPoint(particles, energies, count, 2, 1e3, weights, v);
    assert.equal(best, 1);
    assertSameBits(v, particles.subarray(2, 4), "consensus at α = 1000");
    // Shifting every energy leaves the weights unchanged (the log-sum-exp shift cancels).
    const shifted = new Float64Array(2);
    consensusPoint(
      particles,
      energies.map((e) => e - 1e6),
      count,
      2,
      1e3,
      weights,
      shifted,
    );
    assertSameBits(shifted, v, "shifted energies");
  });

  it("gives NaN and +∞ energies weight 0 and reports when none is finite", () => {
    const weights = new Float64Array(count);
    const v = new Float64Array(2);
    consensusPoint(particles, [NaN, 1, Infinity, 1], count, 2, 1, weights, v);
    assertSameBits(weights, [0, 0.5, 0, 0.5], "weights");
    assertClose(
      v,
      [(particles[2] + particles[6]) / 2, (particles[3] + particles[7]) / 2],
      1e-15,
      "v",
    );
    assert.equal(consensusPoint(particles, [NaN, Infinity, NaN, NaN], count, 2, 1, weights, v), -1);
  });

  it("adds σ√dt‖x_i − v‖ξ_i with ξ the normals of (seed, step + 1) (isotropic), σ√dt(x_i − v)ξ_i (anisotropic)", async () => {
    for (const noise of ["isotropic", "anisotropic"] as const) {
      const seed = 8;
      const cbo = new Cbo(absolute, {
        particles: count,
        initialParticles: particles,
        lambda: 0,
        sigma: 2,
        dt: 0.04,
        noise,
        seed,
      });
      await cbo.step();
      await cbo.step();
      const before = Float64Array.from(cbo.state.particles);
      await cbo.step();
      const v = cbo.state.consensus;
      for (let i = 0; i < count; i++) {
        const drift = [before[2 * i] - v[0], before[2 * i + 1] - v[1]];
        const norm = Math.hypot(drift[0], drift[1]);
        for (let j = 0; j < 2; j++) {
          const xi = normal(seed, 3, 2 * i + j);
          const scale = noise === "isotropic" ? norm : drift[j];
          const expected = before[2 * i + j] + 2 * 0.2 * scale * xi;
          const actual = cbo.state.particles[2 * i + j];
          assert.ok(
            Math.abs(actual - expected) <= 1e-14,
            `${noise} particle ${i}.${j}: ${actual} vs ${expected}`,
          );
        }
      }
    }
  });

  it("portableExp is within 2 ulp of Math.exp and exact at the edges", () => {
    for (let k = 0; k <= 20000; k++) {
      const x = -745 + (1454 * k) / 20000;
      const exact = Math.exp(x);
      if (exact < 1e-300) continue;
      const got = portableExp(x);
      assert.ok(Math.abs(got - exact) <= 4.5e-16 * exact, `exp(${x}): ${got} vs ${exact}`);
    }
    assert.equal(portableExp(0), 1);
    assert.equal(portableExp(-746), 0);
    assert.equal(portableExp(710), Infinity);
    assert.ok(Number.isNaN(portableExp(NaN)));
    assert.ok(portableExp(-744) > 0, "subnormal results");
  });
});

describe("determinism, batching and resuming", () => {
  const options: CboOptions = { particles: 30, low: -5, high: 5, seed: 11 };

  it("same seed, same bits; another seed, another run", async () => {
    const run = async (o: CboOptions) => {
      const cbo = new Cbo(rastrigin({ dimension: 2 }), o);
      await cbo.run(40);
      return cbo.state;
    };
    const a = await run(options);
    assertSameState(a, await run(options));
    const other = await run({ ...options, seed: 12 });
    assert.notDeepEqual(Array.from(a.particles), Array.from(other.particles));
  });

  it("a batched objective gives the same bits, in one call of N points per step", async () => {
    const f = rastrigin({ dimension: 2 });
    let calls = 0;
    const valueBatch: ValueBatch = (points) => {
      calls++;
      assert.equal(points.length, 30);
      return points.map((p) => f.value(p) as number);
    };
    const plain = new Cbo(f, options);
    const batched = new Cbo(f, { ...options, valueBatch });
    await plain.run(25);
    await batched.run(25);
    assert.equal(calls, 25);
    assertSameState(plain.state, batched.state);
  });

  it("k steps, saved state, n − k more steps in a new run equals n steps uninterrupted", async () => {
    const whole = new Cbo(rastrigin({ dimension: 2 }), options);
    await whole.run(30);
    const first = new Cbo(rastrigin({ dimension: 2 }), options);
    await first.run(12);
    const saved = snapshotState(first.state) as CboState;
    const resumed = new Cbo(rastrigin({ dimension: 2 }), options);
    resumed.state = saved;
    await resumed.run(18);
    assertSameState(resumed.state, whole.state);
  });

  it("takes a bare function with its dimension and runs exactly as the objective does", async () => {
    const fromObjective = new Cbo(absolute, { particles: 10, seed: 2 });
    const fromFunction = new Cbo((x: FloatArray) => Math.abs(x[0] - 1) + Math.abs(x[1] + 2), {
      particles: 10,
      seed: 2,
      layout: 2,
    });
    await fromObjective.run(20);
    await fromFunction.run(20);
    assertSameState(fromFunction.state, fromObjective.state);
    assertInvalidArgument(() => new Cbo((x: FloatArray) => x[0]), "layout", undefined);
  });

  it("keeps float32 particles in float32", async () => {
    const f = rastrigin({ dimension: 2, dtype: "float32" });
    const cbo = new Cbo(f, { ...options });
    await cbo.run(5);
    assert.ok(cbo.state.particles instanceof Float32Array);
    assert.ok(cbo.particle(3) instanceof Float32Array);
    assert.equal(cbo.particle(3).length, 2);
  });
});

describe("validation", () => {
  it("rejects bad options, naming parameter and value", () => {
    assertInvalidArgument(() => new Cbo(absolute, { particles: 0 }), "particles", 0);
    assertInvalidArgument(() => new Cbo(absolute, { dt: -0.1 }), "dt", -0.1);
    assertInvalidArgument(() => new Cbo(absolute, { sigma: -1 }), "sigma", -1);
    assertInvalidArgument(() => new Cbo(absolute, { alphaGrowth: 0.9 }), "alphaGrowth", 0.9);
    assertInvalidArgument(() => new Cbo(absolute, { alpha: 10, alphaMax: 5 }), "alphaMax", 5);
    assertInvalidArgument(
      () => new Cbo(absolute, { noise: "pink" as "isotropic" }),
      "noise",
      "pink",
    );
    assertInvalidArgument(() => new Cbo(absolute, { low: 1, high: 0 }), "high", 0);
    assertInvalidArgument(() => new Cbo(absolute, { particle: 3 } as object), "particle", 3);
    assert.throws(
      () => new Cbo(absolute, { particles: 2, initialParticles: [1, 2, 3] }),
      ShapeMismatchError,
    );
    assertInvalidArgument(
      () => new Cbo(absolute, { particles: 1, initialParticles: [1, NaN] }),
      "initialParticles[1]",
      NaN,
    );
  });

  it("rejects −∞ or all-infeasible energies and leaves the state untouched", async () => {
    let answer = (x: FloatArray) => (x[0] > 0 ? -Infinity : 1);
    const tricky: Objective = { name: "tricky", layout: plane, value: (x) => answer(x) };
    const cbo = new Cbo(tricky, { particles: 6, seed: 1 });
    const before = snapshotState(cbo.state);
    await assert.rejects(cbo.step(), (e: unknown) => {
      assert.ok(e instanceof InvalidArgumentError);
      assert.match(e.message, /objective value of particle \d/);
      return true;
    });
    assertSameState(cbo.state, before);
    answer = () => NaN;
    await assert.rejects(cbo.step(), /finite for at least one particle/);
    assertSameState(cbo.state, before);
    answer = (x) => (x[0] > 0 ? NaN : x[1]);
    await cbo.step();
    assert.equal(cbo.state.count, 1);
  });

  it("rejects a replaced state of the wrong shape", async () => {
    const cbo = new Cbo(absolute, { particles: 3 });
    cbo.state = { ...cbo.state, particles: new Float64Array(5) };
    await assert.rejects(cbo.step(), ShapeMismatchError);
  });
});
