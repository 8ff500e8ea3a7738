// Assertions and small drivers shared by the optimizer tests: approximate and bit-exact
// equality, rejected hyperparameters, lookups in a chain's state, per-tensor splits of flat
// buffers, minimization runs, the fused-path-versus-reference loop and checkpoint resumes.
import assert from "node:assert/strict";
import { it } from "node:test";
import { InvalidArgumentError, formatValue } from "../../src/errors.js";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform, State } from "../../src/optim/transform.js";
import type { Objective } from "../../src/oracles/objective.js";
import type { DType, FloatArray, Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { sampleGradients, sampleLayout, sampleParams } from "./inputs.js";

// ---------------------------------------------------------------------------------------------
// Approximate equality

/** How {@link assertClose} floors the scale that its relative tolerance multiplies. */
export interface CloseOptions {
  /** An absolute lower bound on every coordinate's scale (default 0). */
  floor?: number;
  /**
   * A lower bound on every coordinate's scale relative to the largest `|expected|` of the
   * array, so that coordinates passing through zero are judged on the array's scale
   * (default 1e-12; 0 turns it off).
   */
  relativeFloor?: number;
}

/**
 * Scale `max(1, |expected|)`: a relative tolerance for values above 1 and an absolute one
 * (equal to `rtol`) below it. Pass it to {@link assertClose} where a test checks
 * `|a − b| ≤ rtol·max(1, |b|)`.
 */
export const UNIT_FLOOR: Readonly<CloseOptions> = Object.freeze({ floor: 1, relativeFloor: 0 });

/**
 * Tolerances of a fused optimizer path against its float64 reference loop, by the precision
 * the fused path keeps its parameters in.
 */
export const FUSED_RTOL: Readonly<Record<DType, number>> = Object.freeze({
  float64: 1e-12,
  float32: 1e-5,
});

/**
 * Asserts elementwise `|a − b| ≤ rtol·max(|b|, floor)` and equal lengths.
 *
 * With the default options `floor = 1e-12·max|b|` over the array (the conformance README's
 * check, with a floor for coordinates passing through zero); `options.floor` raises it to an
 * absolute minimum, and {@link UNIT_FLOOR} gives `rtol·max(1, |b|)`.
 *
 * @param actual - the values under test
 * @param expected - the values they must match
 * @param rtol - the relative tolerance
 * @param what - names the compared quantity in failure messages
 * @param options - how the scale is floored
 */
export function assertClose(
  actual: ArrayLike<number>,
  expected: ArrayLike<number>,
  rtol: number,
  what: string,
  options: Readonly<CloseOptions> = {},
): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  const relativeFloor = options.relativeFloor ?? 1e-12;
  let floor = options.floor ?? 0;
  if (relativeFloor > 0) {
    let scale = 0;
    for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
    floor = Math.max(relativeFloor * scale, floor);
  }
  for (let i = 0; i < expected.length; i++) {
    const err = Math.abs(actual[i] - expected[i]);
    const tol = rtol * Math.max(Math.abs(expected[i]), floor);
    if (!(err <= tol)) {
      assert.fail(
        `${what}[${i}]: got ${actual[i]}, expected ${expected[i]} (|diff| ${err} > ${tol})`,
      );
    }
  }
}

/**
 * Asserts {@link assertClose} tensor by tensor: the view of `actual` (a flat buffer in
 * `layout`) of each tensor against the reference's array for it, looked up by tensor name in
 * a map or by the tensor's position in an array.
 *
 * @param layout - the layout of `actual`
 * @param actual - a flat buffer, e.g. an optimizer's state buffer
 * @param expected - the reference's per-tensor arrays
 * @param rtol - the relative tolerance
 * @param what - names the compared quantity (the tensor's name is appended)
 * @param options - how the scale is floored, as in {@link assertClose}
 */
export function assertTensorsClose(
  layout: Layout,
  actual: FloatArray,
  expected: ReadonlyMap<string, ArrayLike<number>> | readonly ArrayLike<number>[],
  rtol: number,
  what: string,
  options: Readonly<CloseOptions> = {},
): void {
  layout.tensors.forEach((t, k) => {
    const theirs = isMap(expected) ? expected.get(t.name) : expected[k];
    assert.ok(theirs, `${what}: no reference values for ${t.name}`);
    assertClose(layout.view(actual, t.name), theirs, rtol, `${what} ${t.name}`, options);
  });
}

function isMap<V>(value: ReadonlyMap<string, V> | readonly V[]): value is ReadonlyMap<string, V> {
  return value instanceof Map;
}

// ---------------------------------------------------------------------------------------------
// Bit-exact equality

/** Asserts equal lengths and `Object.is` equality of every element (so `0 !== -0`, `NaN = NaN`). */
export function assertSameBits(a: ArrayLike<number>, b: ArrayLike<number>, what: string): void {
  assert.equal(a.length, b.length, `${what}: length`);
  for (let i = 0; i < a.length; i++) {
    if (!Object.is(a[i], b[i])) assert.fail(`${what}[${i}]: ${a[i]} !== ${b[i]}`);
  }
}

/** A deep copy of a state tree (buffers copied), for before/after comparisons. */
export function snapshotState(state: State): State {
  const out: State = {};
  for (const [k, v] of Object.entries(state)) {
    out[k] = typeof v === "number" ? v : ArrayBuffer.isView(v) ? v.slice() : snapshotState(v);
  }
  return out;
}

/** Asserts that two state trees have the same keys, in order, and bit-identical leaves. */
export function assertSameState(a: State, b: State, path = "state"): void {
  assert.deepEqual(Object.keys(a), Object.keys(b), `${path} keys`);
  for (const k of Object.keys(a)) {
    const x = a[k];
    const y = b[k];
    if (typeof x === "number") assert.ok(Object.is(x, y), `${path}.${k}: ${x} vs ${String(y)}`);
    else if (ArrayBuffer.isView(x)) assertSameBits(x, y as FloatArray, `${path}.${k}`);
    else assertSameState(x, y as State, `${path}.${k}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Rejected hyperparameters

/**
 * Asserts that `build` throws an {@link InvalidArgumentError} whose `parameter` is exactly
 * `parameter` and whose message names the parameter and shows `value` as the library renders
 * values ({@link formatValue}: strings quoted, numbers as `String` writes them).
 *
 * @param build - constructs the transform (or schedule) with the bad argument
 * @param parameter - the expected `parameter` of the error, e.g. `"beta1"` or
 *   `"learningRate (schedule at step 0)"`
 * @param value - the rejected value the message must show
 */
export function assertInvalidArgument(
  build: () => unknown,
  parameter: string,
  value: unknown,
): void {
  assert.throws(build, (e: unknown) => {
    assert.ok(e instanceof InvalidArgumentError, `expected InvalidArgumentError, got ${String(e)}`);
    assert.equal(e.parameter, parameter);
    assert.ok(e.message.includes(parameter), e.message);
    const shown = formatValue(value);
    assert.ok(e.message.includes(shown), `${e.message} should show ${shown}`);
    return true;
  });
}

// ---------------------------------------------------------------------------------------------
// Optimizer state and buffers

/**
 * The state of the chain part named `name` (the key ending in `:<name>`, keys being
 * `<index>:<name>`); fails if there is none.
 */
export function partState<S>(opt: Optimizer, name: string): S {
  const entry = Object.entries(opt.state).find(([key]) => key.endsWith(`:${name}`));
  assert.ok(entry, `no state for ${name}`);
  return entry[1] as S;
}

/**
 * The state of the first chain part whose state has a field `field` (for transforms whose
 * part name depends on their options); fails if there is none.
 */
export function partStateWith<S>(opt: Optimizer, field: string): S {
  const found = Object.values(opt.state).find((s) => field in (s as State));
  assert.ok(found, `no part state with ${field}`);
  return found as S;
}

/** Copies of each tensor's slice of a flat buffer, in layout order (same element type). */
export function perTensor(layout: Layout, buffer: FloatArray): FloatArray[] {
  return layout.tensors.map((t) => buffer.slice(t.offset, t.offset + t.size));
}

// ---------------------------------------------------------------------------------------------
// Drivers

/**
 * One Optimizer step from a given loss and gradient, through the zero-copy path (for
 * transforms that read the loss, such as AEGD and Polyak step sizes).
 */
export async function updateWithLoss(
  opt: Optimizer,
  loss: number,
  grad: ArrayLike<number>,
): Promise<void> {
  opt.updates.set(grad);
  await opt.apply({ params: opt.params.data, layout: opt.params.layout, loss });
}

/** Runs `steps` Optimizer steps of `transform` on `f` from its initial point. */
export async function optimize(
  f: Objective,
  transform: GradientTransform,
  steps: number,
): Promise<ParamSet> {
  const params = new ParamSet(f.layout, f.initialParams!());
  const opt = new Optimizer(params, transform);
  for (let i = 0; i < steps; i++) await opt.step(f);
  return params;
}

/** Runs {@link optimize} and returns the final loss `f(θ)`. */
export async function minimize(
  f: Objective,
  transform: GradientTransform,
  steps: number,
): Promise<number> {
  const params = await optimize(f, transform, steps);
  return await f.value(params.data);
}

/** What {@link runBesideReference} runs. */
export interface ReferenceRun {
  /** Precision of the fused path's parameters (the reference always keeps float64). */
  dtype: DType;
  /** The transform under test, driven by an {@link Optimizer}. */
  transform: GradientTransform;
  /**
   * How many seeded gradients to feed ({@link sampleGradients} of the parameters' layout), or
   * a function giving the gradients for that layout.
   */
  gradients: number | ((layout: Layout) => FloatArray[]);
  /**
   * Advances the reference by one step on `expected` (float64 copies of the same starting
   * parameters) with a float64 copy of the gradient the Optimizer just took.
   */
  reference: (expected: ParamSet, gradient: Float64Array, step: number, opt: Optimizer) => void;
  /** Feeds one gradient to the Optimizer (default `opt.update(gradient)`). */
  update?: (opt: Optimizer, gradient: FloatArray, step: number) => Promise<void>;
}

/** The result of {@link runBesideReference}. */
export interface ReferenceResult {
  /** The Optimizer of the fused path, for its state. */
  opt: Optimizer;
  /** The fused path's parameters, in `dtype`. */
  params: ParamSet;
  /** The reference's parameters, in float64. */
  expected: ParamSet;
}

/**
 * Drives the fused Optimizer path ({@link sampleParams} in `dtype`) and a per-tensor reference
 * loop (the same starting values in float64) through the same gradients, step by step, and
 * returns both for the caller's comparisons.
 */
export async function runBesideReference(run: ReferenceRun): Promise<ReferenceResult> {
  const params = sampleParams(run.dtype);
  const expected = sampleParams("float64");
  const opt = new Optimizer(params, run.transform);
  const gradients =
    typeof run.gradients === "number"
      ? sampleGradients(params.layout, run.gradients)
      : run.gradients(params.layout);
  const update = run.update ?? ((o: Optimizer, g: FloatArray) => o.update(g));
  for (const [k, g] of gradients.entries()) {
    await update(opt, g, k);
    run.reference(expected, Float64Array.from(g), k, opt);
  }
  return { opt, params, expected };
}

/** One case of {@link itMatchesReferenceLoop}: options of the transform and of its reference. */
export interface ReferenceVariant<Options, ReferenceOptions> {
  /** The test's name (the dtype is appended). */
  label: string;
  /** Options of the transform under test. */
  options: Options;
  /** The same settings in the reference's terms. */
  ref: ReferenceOptions;
}

/** What {@link itMatchesReferenceLoop} compares. */
export interface ReferenceLoop<Options, ReferenceOptions, ReferenceState> {
  /** The cases, each tested in float64 and in float32. */
  variants: readonly ReferenceVariant<Options, ReferenceOptions>[];
  /** Builds the transform under test. */
  transform: (options: Options) => GradientTransform;
  /** How many seeded gradients to feed. */
  gradients: number;
  /** The reference's state for {@link sampleLayout}. */
  init: (layout: Layout) => ReferenceState;
  /** One step of the reference on float64 parameters. */
  step: (
    layout: Layout,
    params: FloatArray,
    gradient: FloatArray,
    state: ReferenceState,
    ref: ReferenceOptions,
  ) => void;
  /**
   * The family's own checks of the Optimizer's state against the reference's, run once the
   * parameters have agreed; `rtol` is {@link FUSED_RTOL} of the run's dtype.
   */
  checkState: (
    opt: Optimizer,
    params: ParamSet,
    state: ReferenceState,
    ref: ReferenceOptions,
    rtol: number,
  ) => void;
}

/**
 * Registers one test per variant and dtype (float64, then float32): the transform runs beside
 * its per-tensor reference loop ({@link runBesideReference}), the parameters must agree within
 * {@link FUSED_RTOL} (unit floor), then `checkState` compares the state.
 */
export function itMatchesReferenceLoop<Options, ReferenceOptions, ReferenceState>(
  loop: ReferenceLoop<Options, ReferenceOptions, ReferenceState>,
): void {
  for (const { label, options, ref } of loop.variants) {
    for (const dtype of ["float64", "float32"] as const) {
      it(`${label} (${dtype})`, async () => {
        const state = loop.init(sampleLayout());
        const { opt, params, expected } = await runBesideReference({
          dtype,
          transform: loop.transform(options),
          gradients: loop.gradients,
          reference: (x, g) => loop.step(x.layout, x.data, g, state, ref),
        });
        const rtol = FUSED_RTOL[dtype];
        assertClose(params.data, expected.data, rtol, "params", UNIT_FLOOR);
        loop.checkState(opt, params, state, ref, rtol);
      });
    }
  }
}

/**
 * Checks, for float32 and float64 {@link sampleParams}, that 3 steps, a checkpoint with the
 * parameters, a restore into fresh parameters and the remaining 4 of 7 seeded gradients give
 * the bits and the checkpoint of 7 steps straight through.
 */
export async function assertResumesBitExactly(build: () => GradientTransform): Promise<void> {
  for (const dtype of ["float32", "float64"] as const) {
    const gradients = sampleGradients(sampleParams(dtype).layout, 7);
    const straight = new Optimizer(sampleParams(dtype), build());
    for (const g of gradients) await straight.update(g);
    const first = new Optimizer(sampleParams(dtype), build());
    for (const g of gradients.slice(0, 3)) await first.update(g);
    const bytes = serializeOptimizer(first, { includeParams: true });
    const resumed = new Optimizer(new ParamSet(sampleParams(dtype).layout), build());
    restoreOptimizer(resumed, bytes, { includeParams: true });
    for (const g of gradients.slice(3)) await resumed.update(g);
    assertSameBits(resumed.params.data, straight.params.data, `${dtype} params`);
    assert.deepEqual(serializeOptimizer(resumed), serializeOptimizer(straight), `${dtype} state`);
  }
}
