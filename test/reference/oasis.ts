// Ground truth for the fused OASIS path: Algorithm 1 of the paper written plainly, one tensor
// and one element at a time in float64, with probes drawn element by element from the scalar
// Rademacher sampler.
import { rademacher } from "../../src/random/distributions.js";
import type { Layout } from "../../src/params/layout.js";

export interface ReferenceOasisOptions {
  eta0: number;
  adaptive: boolean;
  beta: number;
  alpha: number;
  warm: number;
  seed: number;
}

export interface ReferenceOasisState {
  k: number;
  d: Map<string, Float64Array>;
  wPrev: Map<string, Float64Array>;
  gPrev: Map<string, Float64Array>;
  eta: number;
  theta: number;
}

export function referenceOasisInit(layout: Layout): ReferenceOasisState {
  const zeros = () => new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)]));
  return { k: 0, d: zeros(), wPrev: zeros(), gPrev: zeros(), eta: 0, theta: Infinity };
}

/** One step in place on `w` (flat), gradient `g` (flat), `hvp(w, z)` returning H z. */
export function referenceOasisStep(
  layout: Layout,
  w: Float64Array,
  g: Float64Array,
  hvp: (w: Float64Array, z: Float64Array) => Float64Array,
  s: ReferenceOasisState,
  o: ReferenceOasisOptions,
): void {
  const n = layout.size;
  const probe = (stream: number, index: number) => {
    const z = new Float64Array(n);
    for (const t of layout.tensors)
      for (let i = 0; i < t.size; i++)
        z[t.offset + i] = rademacher(o.seed, stream, index * n + t.offset + i);
    return z;
  };
  if (s.k === 0) {
    for (let p = 0; p < o.warm; p++) {
      const z = probe(0, p);
      const hz = hvp(w, z);
      for (const t of layout.tensors) {
        const d = s.d.get(t.name)!;
        for (let i = 0; i < t.size; i++) d[i] += (z[t.offset + i] * hz[t.offset + i]) / o.warm;
      }
    }
  } else {
    const z = probe(s.k, 0);
    const hz = hvp(w, z);
    for (const t of layout.tensors) {
      const d = s.d.get(t.name)!;
      for (let i = 0; i < t.size; i++)
        d[i] = o.beta * d[i] + (1 - o.beta) * z[t.offset + i] * hz[t.offset + i];
    }
  }
  const dHat = (name: string, i: number) => Math.max(Math.abs(s.d.get(name)![i]), o.alpha);
  let eta = o.eta0;
  if (o.adaptive && s.k > 0) {
    let primal = 0;
    let dual = 0;
    for (const t of layout.tensors) {
      const wp = s.wPrev.get(t.name)!;
      const gp = s.gPrev.get(t.name)!;
      for (let i = 0; i < t.size; i++) {
        const dw = w[t.offset + i] - wp[i];
        const dg = g[t.offset + i] - gp[i];
        primal += dHat(t.name, i) * dw * dw;
        dual += (dg * dg) / dHat(t.name, i);
      }
    }
    eta = Math.min(Math.sqrt(1 + s.theta) * s.eta, Math.sqrt(primal) / (2 * Math.sqrt(dual)));
    s.theta = eta / s.eta;
  }
  for (const t of layout.tensors) {
    s.wPrev.get(t.name)!.set(w.subarray(t.offset, t.offset + t.size));
    s.gPrev.get(t.name)!.set(g.subarray(t.offset, t.offset + t.size));
    for (let i = 0; i < t.size; i++) w[t.offset + i] -= (eta * g[t.offset + i]) / dHat(t.name, i);
  }
  s.eta = eta;
  s.k++;
}
