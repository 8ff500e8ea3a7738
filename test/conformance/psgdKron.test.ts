// PSGD Kron (whitening and Newton) against trajectories of the official implementation
// (lixilinx/psgd_torch, psgd.py), with every random draw of the reference replayed in its call
// order. Gradients and Hessian-vector products come from our own closed-form problems and are
// checked against the recording at every step (replay in test/helpers/conformance.ts).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { PsgdKronDraws, PsgdKronGeometry, PsgdKronOptions } from "../../src/optim/psgdKron.js";
import { psgdKron } from "../../src/optim/psgdKron.js";
import type { NestedArray } from "../../src/params/paramset.js";
import type { FixtureCase } from "../helpers/conformance.js";
import { loadCases, replay } from "../helpers/conformance.js";

interface RecordedDraw {
  fn: "rand" | "randn" | "randn_like";
  shape: number[];
  dtype: string;
  values: NestedArray;
}

function flatten(value: NestedArray, out: number[] = []): number[] {
  if (typeof value === "number") out.push(value);
  else for (const v of value) flatten(v, out);
  return out;
}

/**
 * Serves the recorded stream of each step in order, asserting that every draw has the kind and
 * shape the reference made, and that each step consumed its whole stream.
 */
class RecordedRandom {
  private open: { step: number; next: number } | null = null;
  constructor(private readonly c: FixtureCase) {}

  private streamOf(step: number): RecordedDraw[] {
    return (this.c.steps[step].probes as { random_stream: RecordedDraw[] }).random_stream;
  }

  /** Asserts that the last step's stream was used up. */
  finishOpenStep(): void {
    if (this.open === null) return;
    const stream = this.streamOf(this.open.step);
    assert.equal(
      this.open.next,
      stream.length,
      `${this.c.id} t=${this.open.step + 1}: ${stream.length - this.open.next} recorded draws left unused`,
    );
    this.open = null;
  }

  draws(step: number): PsgdKronDraws {
    this.finishOpenStep();
    const cursor = { step, next: 0 };
    this.open = cursor;
    const stream = this.streamOf(step);
    const nextDraw = (what: string): RecordedDraw => {
      const draw = stream[cursor.next++];
      assert.ok(draw !== undefined, `${this.c.id} t=${step + 1}: ${what} beyond the recording`);
      assert.equal(draw.dtype, "float64");
      return draw;
    };
    return {
      uniform: () => {
        const draw = nextDraw("rand");
        assert.equal(draw.fn, "rand", `${this.c.id} t=${step + 1} draw ${cursor.next - 1}`);
        assert.deepEqual(draw.shape, []);
        return draw.values as number;
      },
      normal: (out, shape) => {
        const draw = nextDraw("randn");
        assert.notEqual(draw.fn, "rand", `${this.c.id} t=${step + 1} draw ${cursor.next - 1}`);
        assert.deepEqual([...shape], draw.shape, `${this.c.id} t=${step + 1} draw shape`);
        const values = flatten(draw.values);
        assert.equal(values.length, out.length);
        out.set(values);
      },
    };
  }
}

function optionsOf(c: FixtureCase, random: RecordedRandom): PsgdKronOptions {
  const library = c.hyperparameters.library;
  const normalized = c.hyperparameters.normalized;
  const entryPoint = (c as unknown as { source: { entry_point: string } }).source.entry_point;
  assert.ok(["psgd.KronWhiten", "psgd.KronNewton"].includes(entryPoint), entryPoint);
  const fit = entryPoint === "psgd.KronNewton" ? "newton" : "whitening";
  const known = new Set([
    "preconditioner_init_scale",
    "lr_params",
    "lr_preconditioner",
    "momentum",
    "grad_clip_max_amps",
    "preconditioner_max_skew",
    "dQ",
  ]);
  for (const key of Object.keys(library)) assert.ok(known.has(key), `${c.id}: unhandled ${key}`);
  const options: PsgdKronOptions = {
    fit,
    geometry: normalized.dQ as PsgdKronGeometry,
    learningRate: library.lr_params as number,
    preconditionerLearningRate: library.lr_preconditioner as number,
    random: (step) => random.draws(step),
  };
  if (library.preconditioner_init_scale !== null) {
    options.initialScale = library.preconditioner_init_scale as number;
  }
  if (library.momentum !== undefined) options.momentum = library.momentum as number;
  if (library.grad_clip_max_amps !== undefined) {
    const [average, element] = library.grad_clip_max_amps as [number, number];
    options.maxAverageAmplitude = average;
    options.maxElementAmplitude = element;
  }
  if (library.preconditioner_max_skew !== undefined) {
    const skew = library.preconditioner_max_skew;
    options.maxSkew = skew === "inf" ? Infinity : (skew as number);
  }
  return options;
}

describe("PSGD Kron matches the official implementation with the recorded random stream", () => {
  const cases = loadCases("psgd_kron");
  it("covers whitening and Newton, dense and diagonal factors, two geometries", () => {
    assert.equal(cases.length, 4);
    assert.ok(cases.some((c) => c.id.includes("/newton/")));
    assert.ok(cases.some((c) => c.hyperparameters.normalized.dQ === "QUAD"));
    assert.ok(cases.some((c) => c.hyperparameters.library.preconditioner_init_scale === null));
  });
  for (const c of cases) {
    it(c.id, async () => {
      const random = new RecordedRandom(c);
      // rtol 1e-8: the README's tolerance for PSGD Kron (observed drift ≤ 2e-15).
      await replay(c, psgdKron(optionsOf(c, random)), { rtol: 1e-8 });
      random.finishOpenStep();
    });
  }
});
