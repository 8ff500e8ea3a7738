import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import { charVocabulary } from "../../src/data/charVocab.js";
import { loadTinyShakespeare } from "../../src/data/text.js";
import { InvalidArgumentError } from "../../src/errors.js";
import type { CharTransformerObjective } from "../../src/oracles/problems/charTransformer.js";
import { charTransformer } from "../../src/oracles/problems/charTransformer.js";
import { shakespeareTransformer } from "../../src/oracles/problems/shakespeareTransformer.js";
import { adam } from "../../src/optim/adam.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { FloatArray } from "../../src/params/layout.js";
import { fillUniform } from "../helpers/inputs.js";
import { liveBufferCounter } from "./liveBuffers.js";

const shakespeare = loadTinyShakespeare();
/** A short excerpt keeps the small models' set-up cheap; its vocabulary is smaller than 65. */
const excerpt = shakespeare.slice(0, 6000);

/** A tiny model for derivative and masking checks (hundreds of parameters). */
const TINY = { layers: 2, dModel: 8, heads: 2, context: 6, batchSize: 2 } as const;

function dot(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/** The initial parameters moved by uniform noise of `scale`: a generic point, not GPT-2's init. */
function perturbed(model: CharTransformerObjective, seed: number, scale: number): FloatArray {
  const params = model.initialParams();
  const noise = fillUniform(model.layout.zeros(), seed, scale);
  for (let i = 0; i < params.length; i++) params[i] += noise[i];
  return params;
}

function sampleStd(values: ArrayLike<number>): number {
  let mean = 0;
  for (let i = 0; i < values.length; i++) mean += values[i];
  mean /= values.length;
  let v = 0;
  for (let i = 0; i < values.length; i++) v += (values[i] - mean) ** 2;
  return Math.sqrt(v / values.length);
}

describe("character data", () => {
  it("loads tiny Shakespeare: 1,115,394 characters over 65 symbols", () => {
    assert.equal(shakespeare.length, 1115394);
    assert.ok(shakespeare.startsWith("First Citizen:\nBefore we proceed any further"));
    const vocab = charVocabulary(shakespeare);
    assert.equal(vocab.chars.length, 65);
    assert.equal(vocab.chars[0], "\n");
    assert.equal(vocab.chars[1], " ");
    assert.equal(vocab.chars.at(-1), "z");
  });

  it("charVocabulary sorts code points, round-trips text and rejects unknown symbols", () => {
    const vocab = charVocabulary("hello, wörld 🙂");
    assert.deepEqual(vocab.chars, [" ", ",", "d", "e", "h", "l", "o", "r", "w", "ö", "🙂"]);
    const ids = vocab.encode("hello 🙂");
    assert.deepEqual([...ids], [4, 3, 5, 5, 6, 0, 10]);
    assert.equal(vocab.decode(ids), "hello 🙂");
    assert.equal(vocab.decode(vocab.encode("wörld")), "wörld");
    assert.throws(() => vocab.encode("hex"), /"x"/);
    assert.throws(() => vocab.decode([11]), InvalidArgumentError);
    assert.throws(() => vocab.decode([1.5]), InvalidArgumentError);
    assert.throws(() => charVocabulary(""), InvalidArgumentError);
  });
});

describe("character transformer", () => {
  it("starts near ln(vocab) with GPT-2's initialization (defaults, float32)", async () => {
    const model = await shakespeareTransformer();
    try {
      const { layers, dModel, context } = model.config;
      assert.equal(model.vocabulary.chars.length, 65);
      assert.equal(model.layout.dtype, "float32");
      assert.equal(model.splitSizes.train, Math.floor(0.9 * 1115394));
      // Logits are LN(x)·Eᵀ with E ~ N(0, 0.02²): about N(0, 0.02²·d), sd ≈ 0.16 for d = 64,
      // so the cross-entropy is within a few hundredths of the uniform predictor's ln 65.
      const params = model.initialParams();
      model.setBatch(0);
      const loss = await model.value(params);
      assert.ok(Math.abs(loss - Math.log(65)) < 0.05, `initial loss ${loss}`);
      const heldOut = await model.validationLoss(params);
      assert.ok(Math.abs(heldOut - Math.log(65)) < 0.05, `initial validation loss ${heldOut}`);

      const view = (name: string): FloatArray => model.layout.view(params, name);
      assert.deepEqual(model.layout.tensor("positionEmbedding").shape, [context, dModel]);
      const residual = 0.02 / Math.sqrt(2 * layers);
      for (const [name, std] of [
        ["tokenEmbedding", 0.02],
        ["positionEmbedding", 0.02],
        ["blocks.0.attention.qkv.weight", 0.02],
        ["blocks.1.mlp.hidden.weight", 0.02],
        ["blocks.0.attention.output.weight", residual],
        ["blocks.1.mlp.output.weight", residual],
      ] as const) {
        // ≥ 3072 normals each: the sample sd is within 4% of σ with overwhelming probability.
        const measured = sampleStd(view(name));
        assert.ok(Math.abs(measured / std - 1) < 0.04, `${name}: sd ${measured}, expected ${std}`);
      }
      for (const t of model.layout.tensors) {
        if (t.name.endsWith(".bias"))
          assert.ok(
            view(t.name).every((x) => x === 0),
            t.name,
          );
        if (/norm\d?\.weight$|finalNorm\.weight$/i.test(t.name)) {
          assert.ok(
            view(t.name).every((x) => x === 1),
            t.name,
          );
        }
      }
      assert.deepEqual(model.initialParams(), params, "the same start every call");
    } finally {
      model.dispose();
    }
  });

  it("gradient and HVP match central differences (float64)", async () => {
    // One block holds every kind of tensor; eager float64 jax-js costs ~40 ms per evaluation.
    const model = await charTransformer(excerpt, { ...TINY, layers: 1, dtype: "float64", seed: 3 });
    try {
      const { layout } = model;
      const theta = perturbed(model, 5, 0.3);
      const grad = layout.zeros();
      model.setBatch(4);
      await model.valueAndGrad(theta, grad);
      // jax-js evaluates exp, log and tanh to about float32 accuracy even in float64 (the loss is
      // smooth only to ~1e-8), so the step is large, and each direction moves one tensor so that
      // the O(h²) error stays small: measured errors are ≤ 1e-5, the tolerance 1e-4.
      const h = 1e-3;
      const tol = 1e-4;
      const shifted = (v: FloatArray, sign: number): FloatArray =>
        theta.map((x, i) => x + sign * h * v[i]);
      for (const [k, t] of layout.tensors.entries()) {
        const v = layout.zeros();
        fillUniform(v.subarray(t.offset, t.offset + t.size), 10 + k);
        const fd =
          ((await model.value(shifted(v, 1))) - (await model.value(shifted(v, -1)))) / (2 * h);
        const directional = dot(grad, v);
        assert.ok(
          Math.abs(directional - fd) <= tol * Math.max(1, Math.abs(fd)),
          `${t.name}: ∇f·v ${directional} vs ${fd}`,
        );
      }
      const v = fillUniform(layout.zeros(), 9);
      const norm = Math.sqrt(dot(v, v));
      for (let i = 0; i < v.length; i++) v[i] /= norm;
      const gPlus = layout.zeros();
      const gMinus = layout.zeros();
      const hv = layout.zeros();
      await model.valueAndGrad(shifted(v, 1), gPlus);
      await model.valueAndGrad(shifted(v, -1), gMinus);
      await model.hvp(theta, v, hv);
      const scale = Math.max(1, ...hv.map(Math.abs));
      for (let i = 0; i < hv.length; i++) {
        const fdHv = (gPlus[i] - gMinus[i]) / (2 * h);
        assert.ok(Math.abs(hv[i] - fdHv) <= tol * scale, `Hv[${i}] ${hv[i]} vs ${fdHv}`);
      }
    } finally {
      model.dispose();
    }
  });

  it("is causal: a later character never changes the predictions before it", async () => {
    const model = await charTransformer(excerpt, { ...TINY, context: 12 });
    try {
      const params = perturbed(model, 8, 0.5);
      const vocab = model.vocabulary.chars.length;
      const ids = model.vocabulary.encode("First Citize");
      const base = await model.logits(params, ids);
      assert.equal(base.length, 12 * vocab);
      for (const changed of [3, 7, 11]) {
        const other = ids.slice();
        other[changed] = (other[changed] + 5) % vocab;
        const logits = await model.logits(params, other);
        for (let i = 0; i < changed * vocab; i++) {
          assert.ok(Math.abs(logits[i] - base[i]) <= 1e-6, `position ${Math.floor(i / vocab)}`);
        }
        let moved = 0;
        for (let i = changed * vocab; i < (changed + 1) * vocab; i++) {
          moved = Math.max(moved, Math.abs(logits[i] - base[i]));
        }
        assert.ok(moved > 1e-3, `position ${changed} sees its own input (moved ${moved})`);
      }
      // A prefix gives the prefix's rows: nothing after it is attended to.
      const prefix = await model.logits(params, ids.subarray(0, 5));
      for (let i = 0; i < prefix.length; i++) assert.ok(Math.abs(prefix[i] - base[i]) <= 1e-6);
    } finally {
      model.dispose();
    }
  });

  it("the loss is the mean next-character cross-entropy of the step's windows", async () => {
    const model = await charTransformer(excerpt, { ...TINY, batchSize: 3, seed: 2 });
    try {
      const params = perturbed(model, 9, 0.5);
      const { context } = model.config;
      const vocab = model.vocabulary.chars.length;
      const ids = model.vocabulary.encode(excerpt); // the training split is a prefix
      const starts = model.batchStarts(6);
      let total = 0;
      for (const start of starts) {
        const logits = await model.logits(params, ids.subarray(start, start + context));
        for (let t = 0; t < context; t++) {
          const row = logits.subarray(t * vocab, (t + 1) * vocab);
          const top = Math.max(...row);
          let sum = 0;
          for (const z of row) sum += Math.exp(z - top);
          const logSum = top + Math.log(sum);
          total += logSum - row[ids[start + t + 1]];
        }
      }
      model.setBatch(6);
      const loss = await model.value(params);
      const expected = total / (starts.length * context);
      assert.ok(Math.abs(loss - expected) < 1e-5 * expected, `${loss} vs ${expected}`);
    } finally {
      model.dispose();
    }
  });

  it("mini-batches are a deterministic function of (seed, step) inside the training split", async () => {
    const a = await charTransformer(excerpt, { ...TINY, seed: 11 });
    const b = await charTransformer(excerpt, { ...TINY, seed: 11 });
    const c = await charTransformer(excerpt, { ...TINY, seed: 12 });
    try {
      const limit = a.splitSizes.train - a.config.context - 1;
      const seen = new Set<number>();
      for (let step = 0; step < 50; step++) {
        const starts = a.batchStarts(step);
        assert.deepEqual(starts, b.batchStarts(step));
        for (const s of starts) {
          assert.ok(s >= 0 && s <= limit, `start ${s}`);
          seen.add(s);
        }
      }
      assert.ok(seen.size > 80, "windows spread over the split");
      assert.notDeepEqual(a.batchStarts(0), c.batchStarts(0));
      assert.notDeepEqual(a.batchStarts(0), a.batchStarts(1));
      const params = a.initialParams();
      assert.deepEqual(b.initialParams(), params);
      assert.notDeepEqual(c.initialParams(), params);
      const losses: number[] = [];
      for (const step of [3, 5, 3]) {
        a.setBatch(step);
        b.setBatch(step);
        const value = await a.value(params);
        assert.equal(await b.value(params), value);
        losses.push(value);
      }
      assert.equal(losses[2], losses[0], "returning to a step gives its batch again");
      assert.notEqual(losses[1], losses[0]);
    } finally {
      a.dispose();
      b.dispose();
      c.dispose();
    }
  });

  it("learns: Adam lowers the training and held-out loss of a small model", async () => {
    const model = await charTransformer(excerpt, {
      layers: 1,
      dModel: 16,
      heads: 2,
      context: 16,
      batchSize: 8,
      validationWindows: 16,
    });
    try {
      const optimizer = new Optimizer(model.paramSet(), adam({ learningRate: 1e-2 }));
      const before = await model.validationLoss(optimizer.params.data);
      const losses: number[] = [];
      for (let step = 0; step < 80; step++) {
        model.setBatch(step);
        losses.push((await optimizer.step(model)).loss!);
      }
      const mean = (xs: number[]): number => xs.reduce((s, x) => s + x, 0) / xs.length;
      const first = mean(losses.slice(0, 5));
      const last = mean(losses.slice(-10));
      const after = await model.validationLoss(optimizer.params.data);
      assert.ok(last < first - 0.8, `training loss ${first} → ${last}`);
      assert.ok(after < before - 0.6, `validation loss ${before} → ${after}`);
    } finally {
      model.dispose();
    }
  });

  it("leaks no jax-js buffers over training steps, validation and logits", async () => {
    const liveBuffers = await liveBufferCounter();
    const before = liveBuffers();
    const model = await charTransformer(excerpt, TINY);
    const optimizer = new Optimizer(model.paramSet(), adam({ learningRate: 1e-2 }));
    const ids = model.vocabulary.encode("Citize");
    let steady = -1;
    for (let step = 0; step < 6; step++) {
      model.setBatch(step);
      await optimizer.step(model);
      await model.validationLoss(optimizer.params.data);
      await model.logits(optimizer.params.data, ids);
      if (step === 1) steady = liveBuffers();
    }
    assert.equal(liveBuffers(), steady, "no growth from step to step");
    model.dispose();
    assert.equal(liveBuffers(), before, "dispose frees both objectives' data and compiled code");
  });

  it("rejects bad options and inputs", async () => {
    await assert.rejects(charTransformer(excerpt, { dModel: 10, heads: 4 }), /divisor of dModel/);
    await assert.rejects(charTransformer(excerpt, { layers: 0 }), InvalidArgumentError);
    await assert.rejects(charTransformer(excerpt, { trainFraction: 1 }), InvalidArgumentError);
    await assert.rejects(charTransformer(excerpt, { context: 700 }), /long enough/);
    await assert.rejects(
      charTransformer(excerpt, { dtype: "float16" as never }),
      InvalidArgumentError,
    );
    await assert.rejects(charTransformer(excerpt, { width: 3 } as never), /known option/);
    const model = await charTransformer(excerpt, TINY);
    try {
      const params = model.initialParams();
      await assert.rejects(model.logits(params, []), InvalidArgumentError);
      await assert.rejects(model.logits(params, new Int32Array(7)), InvalidArgumentError);
      await assert.rejects(model.logits(params, [1, 999]), /ids\[1\]/);
      assert.throws(() => model.batchStarts(-1), InvalidArgumentError);
    } finally {
      model.dispose();
    }
  });

  it("the browser-safe modules bundle without Node.js built-ins", async () => {
    const modules = [
      "../../src/oracles/problems/charTransformer.ts",
      "../../src/oracles/problems/matrixSensing.ts",
      "../../src/oracles/problems/testFunctions2d.ts",
      "../../src/oracles/problems/rastrigin.ts",
      "../../src/data/charVocab.ts",
    ];
    const result = await build({
      entryPoints: modules.map((m) => fileURLToPath(new URL(m, import.meta.url))),
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      outdir: "bundle",
      logLevel: "silent",
      metafile: true,
    });
    assert.equal(result.errors.length, 0);
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(!inputs.some((f) => f.endsWith("src/data/files.ts") || f.startsWith("node:")));
  });
});
