// Ground truth for the fused SANIA path: the root of the preconditioned quadratic model written
// plainly, one
// tensor and one element at a time in float64, probes from the scalar Rademacher sampler.
import { rademacher } from "../../src/random/distributions.js";
import type { Layout } from "../../src/params/layout.js";

export interface ReferenceSaniaOptions {
  preconditioner: "hutchinson" | "adamSqr" | "adagradSqr" | "identity";
  fStar: number;
  beta: number;
  alpha: number;
  eps: number;
  seed: number;
}

export interface ReferenceSaniaState {
  t: number;
  b: Map<string, Float64Array>;
}

export function referenceSaniaInit(layout: Layout): ReferenceSaniaState {
  return { t: 0, b: new Map(layout.tensors.map((t) => [t.name, new Float64Array(t.size)])) };
}

export function referenceSaniaStep(
  layout: Layout,
  w: Float64Array,
  f: number,
  g: Float64Array,
  hvp: (w: Float64Array, z: Float64Array) => Float64Array,
  s: ReferenceSaniaState,
  o: ReferenceSaniaOptions,
): void {
  const t = ++s.t;
  let hz: Float64Array | null = null;
  let z: Float64Array | null = null;
  if (o.preconditioner === "hutchinson") {
    z = new Float64Array(layout.size);
    for (const ts of layout.tensors)
      for (let i = 0; i < ts.size; i++) z[ts.offset + i] = rademacher(o.seed, t - 1, ts.offset + i);
    hz = hvp(w, z);
  }
  const entry: (name: string, i: number) => number = (name, i) => {
    const b = s.b.get(name)![i];
    if (o.preconditioner === "identity") return 1;
    if (o.preconditioner === "hutchinson")
      return Math.max(Math.abs(b) / (1 - o.beta ** t), o.alpha);
    if (o.preconditioner === "adamSqr") return Math.max(b / (1 - o.beta ** t), o.eps);
    return Math.max(b, o.eps);
  };
  for (const ts of layout.tensors) {
    const b = s.b.get(ts.name)!;
    for (let i = 0; i < ts.size; i++) {
      const gi = g[ts.offset + i];
      if (o.preconditioner === "hutchinson")
        b[i] = o.beta * b[i] + (1 - o.beta) * z![ts.offset + i] * hz![ts.offset + i];
      else if (o.preconditioner === "adamSqr") b[i] = o.beta * b[i] + (1 - o.beta) * gi * gi;
      else if (o.preconditioner === "adagradSqr") b[i] += gi * gi;
    }
  }
  let norm = 0;
  for (const ts of layout.tensors)
    for (let i = 0; i < ts.size; i++) {
      const e = entry(ts.name, i);
      if (e > 0) norm += g[ts.offset + i] ** 2 / e;
    }
  // The paper's closed form, as written: γ = 1 − √(1 − 2(f − f*)/N), or 1 when there is no root.
  let gamma = 0;
  if (norm > 0 && f > o.fStar) {
    const discriminant = 1 - (2 * (f - o.fStar)) / norm;
    gamma = discriminant > 0 ? 1 - Math.sqrt(discriminant) : 1;
  }
  for (const ts of layout.tensors)
    for (let i = 0; i < ts.size; i++) {
      const e = entry(ts.name, i);
      if (e > 0) w[ts.offset + i] -= (gamma * g[ts.offset + i]) / e;
    }
}
