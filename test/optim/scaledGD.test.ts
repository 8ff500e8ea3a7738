import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { InvalidArgumentError } from "../../src/errors.js";
import { matrixSensing } from "../../src/oracles/problems/matrixSensing.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import { scaleByScaledGD, scaledGD } from "../../src/optim/scaledGD.js";
import { sgd } from "../../src/optim/sgd.js";
import { ParamSet } from "../../src/params/paramset.js";

/** Dense reference: G·(UᵀU + λI)⁻¹ by Gauss–Jordan inversion of the k×k matrix. */
function denseDirection(u: number[][], g: number[][], lambda: number): number[][] {
  const n = u.length;
  const k = u[0].length;
  const aug = Array.from({ length: k }, (_, a) =>
    Array.from({ length: 2 * k }, (_, b) => {
      if (b >= k) return b - k === a ? 1 : 0;
      let s = a === b ? lambda : 0;
      for (let i = 0; i < n; i++) s += u[i][a] * u[i][b];
      return s;
    }),
  );
  for (let c = 0; c < k; c++) {
    const pivot = aug[c][c];
    for (let b = 0; b < 2 * k; b++) aug[c][b] /= pivot;
    for (let r = 0; r < k; r++) {
      if (r === c) continue;
      const f = aug[r][c];
      for (let b = 0; b < 2 * k; b++) aug[r][b] -= f * aug[c][b];
    }
  }
  return g.map((row) =>
    Array.from({ length: k }, (_, b) => row.reduce((s, x, a) => s + x * aug[a][k + b], 0)),
  );
}

describe("scaledGD", () => {
  it("right-multiplies each matrix gradient by (UᵀU + λI)⁻¹ and leaves vectors alone", () => {
    const u = [
      [1, 0.5, -0.2],
      [0.3, -1, 0.7],
      [0.2, 0.4, 2],
      [-0.6, 0.1, 0.3],
    ];
    const g = [
      [0.5, -1, 2],
      [1.5, 0.25, -0.75],
      [-2, 1, 0.5],
      [0.1, 0.2, 0.3],
    ];
    const params = ParamSet.fromRecord({ U: u, b: [1, 2] }, "float64");
    const layout = params.layout;
    const t = scaleByScaledGD({ damping: 0.3 });
    const state = t.init(layout);
    const updates = Float64Array.from([...g.flat(), 7, -8]);
    void t.update(updates, state, { params: params.data, layout });
    const expected = denseDirection(u, g, 0.3).flat();
    for (let i = 0; i < expected.length; i++) {
      assert.ok(Math.abs(updates[i] - expected[i]) < 1e-12, `entry ${i}`);
    }
    assert.deepEqual([updates[12], updates[13]], [7, -8]);
    assert.equal(state.count, 1);
  });

  it("recovers an ill-conditioned low-rank matrix far sooner than gradient descent", async () => {
    // κ = 100: gradient descent's last phase contracts at 1 − η·σ_min = 1 − η/100 per step,
    // ScaledGD(λ)'s at about 1 − η·σ_min/(σ_min + λ), independent of κ.
    const budget = 1000;
    const problem = () =>
      matrixSensing({ n: 20, rank: 2, k: 4, conditionNumber: 100, initScale: 1e-3 });
    const firstBelow = async (transform: ReturnType<typeof scaledGD>): Promise<number> => {
      const p = problem();
      const params = new ParamSet(p.layout, p.initialParams());
      const opt = new Optimizer(params, transform);
      for (let i = 0; i < budget; i++) {
        if (p.recoveryError(params.data) <= 1e-6) return i;
        await opt.step(p);
      }
      return p.recoveryError(params.data) <= 1e-6 ? budget : Infinity;
    };
    const scaled = await firstBelow(scaledGD({ learningRate: 0.5, damping: 1e-4 }));
    const plain = await firstBelow(sgd({ learningRate: 0.5 }));
    assert.ok(scaled <= 700, `ScaledGD(λ) needed ${scaled} steps`);
    assert.equal(plain, Infinity, `gradient descent reached 1e-6 within ${budget} steps`);
  });

  it("rejects bad options naming the parameter and value", () => {
    assert.throws(() => scaledGD({ damping: 0 }), /damping must be .*> 0.*got 0/);
    assert.throws(() => scaledGD({ learningRate: -1 }), InvalidArgumentError);
    assert.throws(() => scaleByScaledGD({ damping: Number.NaN }), /damping.*NaN/);
    assert.throws(() => scaledGD({ dampng: 1 } as never), /dampng/);
  });

  it("resumes bit for bit from a checkpoint", async () => {
    const p = matrixSensing({ n: 6, rank: 2, k: 3, conditionNumber: 10, initScale: 0.1 });
    const make = () => new Optimizer(new ParamSet(p.layout, p.initialParams()), scaledGD());
    const straight = make();
    for (let i = 0; i < 6; i++) await straight.step(p);
    const first = make();
    for (let i = 0; i < 3; i++) await first.step(p);
    const bytes = serializeOptimizer(first, { includeParams: true });
    const resumed = make();
    restoreOptimizer(resumed, bytes, { includeParams: true });
    for (let i = 0; i < 3; i++) await resumed.step(p);
    assert.deepEqual(resumed.params.data, straight.params.data);
    assert.deepEqual(serializeOptimizer(resumed), serializeOptimizer(straight));
  });
});
