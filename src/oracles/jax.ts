/**
 * The bridge between jax-js models and descend's optimizers.
 *
 * A model written in jax-js is a loss function of a pytree of arrays (plain objects and JS arrays
 * nesting `Array`s). {@link jaxObjective} wraps it as an {@link Objective}: parameters travel as
 * one flat buffer in a {@link Layout} whose tensor names are the tree's dotted paths, and jax-js
 * autodiff supplies the gradient (reverse mode), the directional derivative (forward mode) and the
 * Hessian-vector product (see {@link HvpMode}). Optimizer math stays in descend's kernels on the
 * flat buffer; jax-js does what it is good at, the model and its derivatives.
 *
 * A classifier that also gives its logits gets `sampledLabelGrad`, the input of the
 * Gauss-Newton-Bartlett estimator (Liu, Li, Hall, Liang & Ma, "Sophia: A Scalable Stochastic
 * Second-order Optimizer for Language Model Pre-training", ICLR 2024, Algorithm 2). With logits
 * z_i ∈ ℝ^K for the B predictions of the batch and p_i = softmax(z_i), every label is redrawn from
 * the model itself by inverting its cumulative distribution, and the loss is taken on those
 * labels:
 *
 *     c_ik = Σ_{j ≤ k} p_ij,   ŷ_i = min(#{k : c_ik ≤ u_i}, K − 1)   ~  Categorical(p_i)
 *     f̂(θ) = −(1/B) Σ_i log p_i[ŷ_i],   returned with ∇f̂(θ) (ŷ held fixed)
 *
 * u_i is element i of the Philox uniform sequence (seed, count) (src/random), the rule of
 * `softmaxRegression`'s closed form: the first class whose cumulative probability exceeds u_i,
 * the last class when rounding leaves the total below u_i. The uniforms are bit-identical on
 * every engine; the labels then depend only on the model's probabilities. Sampling, loss and
 * gradient run in one traced (for float32, compiled) function, at the cost of about one gradient.
 * (The Gumbel-max trick, argmax_k z_ik − log(−log U_ik), draws the same distribution but needs
 * B·K uniforms and two logarithms each; on the digits perceptron that noise alone cost 0.8 of a
 * gradient, the whole oracle 1.9 gradients against 1.35 for the inversion.)

 * jax-js arrays are reference counted: every operation consumes its array arguments. The objective
 * owns all of this bookkeeping. Each oracle call builds fresh arrays from the buffer, lends the
 * loss one reference to the data, and reads every result back, so after a call nothing it created
 * is alive; data arrays live until they are replaced or the objective is disposed. Optimizers and
 * users only ever see typed arrays. (The one exception is inside jax-js itself: see
 * {@link JaxObjectiveOptions.jit} for the buffers its eager second-order rules keep.)
 */
import {
  Array as JaxArray,
  grad,
  jit,
  jvp,
  lax,
  makeJaxpr,
  nn,
  numpy as np,
  valueAndGrad,
} from "@jax-js/jax";
import type { OwnedFunction } from "@jax-js/jax";
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import type { DType, FloatArray } from "../params/layout.js";
import { Layout } from "../params/layout.js";
import { ParamSet } from "../params/paramset.js";
import { checkBoolean, checkChoice, checkKnownOptions, checkNumber } from "../optim/validate.js";
import { fillUniform } from "../random/distributions.js";
import { INDEX_LIMIT } from "../random/philox.js";
import type { Objective } from "./objective.js";

/** A pytree of jax-js arrays: an array, or plain objects and JS arrays nesting arrays. */
export type JaxTree = JaxArray | readonly JaxTree[] | { readonly [key: string]: JaxTree };

/** Typed arrays {@link jaxArray} accepts. */
export type JaxArraySource = Float32Array | Float64Array | Int32Array | Uint32Array;

/**
 * jax-js 0.1.25 tests `data instanceof Float16Array` before it tests for Float64Array when it
 * builds an array from typed data. Node 20 has no Float16Array, so that test throws a
 * ReferenceError for every float64 input. A placeholder class (nothing is ever an instance of it)
 * lets the test fall through to the Float64Array branch. It is defined only while `build` runs
 * (synchronously, so no other code can observe it) and only when the platform lacks the real one.
 */
function withFloat16Placeholder<T>(build: () => T): T {
  const scope = globalThis as { Float16Array?: unknown };
  if (scope.Float16Array !== undefined) return build();
  scope.Float16Array = class Float16Placeholder {
    readonly placeholder = true;
  };
  try {
    return build();
  } finally {
    delete scope.Float16Array;
  }
}

function shapeProduct(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/**
 * A new jax-js array holding a copy of `values` with the given row-major `shape` (default 1-D;
 * one dimension may be −1, inferred from the length, as in numpy's `reshape`). The dtype follows
 * the typed array (Float64Array gives float64, and so on). Works around the jax-js float64
 * construction bug on platforms without Float16Array. The caller owns the result.
 *
 * @example
 * ```ts
 * const x = jaxArray(new Float64Array([1, 2, 3, 4, 5, 6]), [-1, 2]); // float64 [3, 2]
 * ```
 */
export function jaxArray(
  values: JaxArraySource,
  shape: readonly number[] = [values.length],
): JaxArray {
  const inferred = shape.indexOf(-1);
  const known = shapeProduct(shape.filter((_, i) => i !== inferred));
  const dims = [...shape];
  if (inferred >= 0 && known > 0 && values.length % known === 0) {
    dims[inferred] = values.length / known;
  }
  const valid = dims.every((d) => Number.isInteger(d) && d >= 0);
  if (!valid || shapeProduct(dims) !== values.length) {
    throw new ShapeMismatchError(
      `jaxArray: shape [${shape.join(", ")}] does not fit ${values.length} values`,
    );
  }
  const options = { shape: dims };
  if (values instanceof Float64Array)
    return withFloat16Placeholder(() => np.array(values, options));
  return np.array(values, options);
}

/** Where each leaf of a tree sits: leaves are replaced by their index in layout order. */
type Skeleton = number | Skeleton[] | { [key: string]: Skeleton };

/** jax-js treats exactly these objects as tree nodes; anything else is a leaf. */
function isTreeObject(x: unknown): x is Readonly<Record<string, unknown>> {
  return typeof x === "object" && x !== null && !Array.isArray(x) && x.constructor === Object;
}

function pathName(path: readonly string[], rootName: string): string {
  return path.length === 0 ? rootName : path.join(".");
}

/**
 * Walks a tree whose leaves must be jax-js arrays, collecting them in traversal order (object
 * keys in insertion order, then array indices) with their dotted names.
 */
function describeTree(
  owner: string,
  what: string,
  node: unknown,
  path: string[],
  leaves: { name: string; array: JaxArray }[],
): Skeleton {
  if (node instanceof JaxArray) {
    leaves.push({ name: pathName(path, what), array: node });
    return leaves.length - 1;
  }
  if (Array.isArray(node)) {
    return node.map((child: unknown, i) =>
      describeTree(owner, what, child, [...path, String(i)], leaves),
    );
  }
  if (isTreeObject(node)) {
    const out: { [key: string]: Skeleton } = {};
    for (const key of Object.keys(node)) {
      out[key] = describeTree(owner, what, node[key], [...path, key], leaves);
    }
    return out;
  }
  throw new InvalidArgumentError(
    owner,
    pathName(path, what),
    node,
    "a jax-js array or a plain object / JS array of them (keep other values in the loss's closure)",
  );
}

/** Rebuilds a tree from dotted names: numeric segments 0..n−1 become JS arrays. */
function skeletonFromNames(owner: string, names: readonly string[]): Skeleton {
  if (names.length === 1 && names[0] === "params") return 0;
  type Node = { [key: string]: Node | number };
  const root: Node = {};
  names.forEach((name, index) => {
    const parts = name.split(".");
    let node = root;
    for (let k = 0; k < parts.length; k++) {
      const key = parts[k];
      const existing = Object.hasOwn(node, key) ? node[key] : undefined;
      const last = k === parts.length - 1;
      if (last ? existing !== undefined : typeof existing === "number") {
        throw new InvalidArgumentError(
          owner,
          "tensor names",
          name,
          "a tree path: no name may also be the prefix of another (e.g. `a` and `a.b`)",
        );
      }
      if (last) node[key] = index;
      else node = (existing as Node | undefined) ?? (node[key] = {});
    }
  });
  const toSkeleton = (node: Node | number): Skeleton => {
    if (typeof node === "number") return node;
    const keys = Object.keys(node);
    if (keys.length > 0 && keys.every((key, i) => key === String(i))) {
      return keys.map((key) => toSkeleton(node[key]));
    }
    const out: { [key: string]: Skeleton } = {};
    for (const key of keys) out[key] = toSkeleton(node[key]);
    return out;
  };
  return toSkeleton(root);
}

function buildTree(skeleton: Skeleton, leaf: (index: number) => JaxArray): JaxTree {
  if (typeof skeleton === "number") return leaf(skeleton);
  if (Array.isArray(skeleton)) return skeleton.map((child) => buildTree(child, leaf));
  const out: { [key: string]: JaxTree } = {};
  for (const key of Object.keys(skeleton)) out[key] = buildTree(skeleton[key], leaf);
  return out;
}

/** The arrays of `node` (a tree shaped like `skeleton`) in layout order. */
function gatherLeaves(node: unknown, skeleton: Skeleton, out: JaxArray[], what: string): void {
  if (typeof skeleton === "number") {
    if (!(node instanceof JaxArray)) {
      throw new TypeError(`${what}: jax-js returned ${typeof node} where an array was expected`);
    }
    out[skeleton] = node;
    return;
  }
  const children = node as Record<string, unknown>;
  if (typeof node !== "object" || node === null) {
    throw new TypeError(`${what}: jax-js returned a tree of a different structure`);
  }
  if (Array.isArray(skeleton)) {
    skeleton.forEach((child, i) => gatherLeaves(children[i], child, out, what));
  } else {
    for (const key of Object.keys(skeleton)) gatherLeaves(children[key], skeleton[key], out, what);
  }
}

/**
 * The leaves of `node` (a tree shaped like `skeleton`) in layout order. Inside a jax-js transform
 * the leaves are tracers, which are not `Array` instances, so they are taken by position alone.
 */
function tracedLeaves(node: unknown, skeleton: Skeleton): JaxArray[] {
  const out: JaxArray[] = [];
  const walk = (at: unknown, shape: Skeleton): void => {
    if (typeof shape === "number") {
      out[shape] = at as JaxArray;
      return;
    }
    const children = at as Record<string, unknown>;
    if (Array.isArray(shape)) shape.forEach((child, i) => walk(children[i], child));
    else for (const key of Object.keys(shape)) walk(children[key], shape[key]);
  };
  walk(node, skeleton);
  return out;
}

function allArrays(node: unknown): JaxArray[] {
  if (node instanceof JaxArray) return [node];
  if (Array.isArray(node)) return node.flatMap(allArrays);
  if (isTreeObject(node)) return Object.values(node).flatMap(allArrays);
  return [];
}

/** Disposes an array unless jax-js already consumed it. */
function release(array: JaxArray): void {
  if (array.refCount > 0) array.dispose();
}

/**
 * Frees an array this module created and lent to jax-js. A jax-js call that throws may have
 * taken references of its own that it never drops; nobody else can hold them, so drop them all.
 */
function releaseAll(array: JaxArray): void {
  while (array.refCount > 0) array.dispose();
}

function takeReference(array: JaxArray): JaxArray {
  return array.ref;
}

function floatDType(owner: string, name: string, dtype: string): DType {
  if (dtype === "float32" || dtype === "float64") return dtype;
  throw new InvalidArgumentError(owner, `dtype of ${name}`, dtype, '"float32" or "float64"');
}

/**
 * Reads `arrays` (consuming them) into `out` at the layout's offsets. If a read fails, the arrays
 * not yet read are released so that a failing call leaks nothing.
 */
async function readInto(
  arrays: readonly JaxArray[],
  layout: Layout,
  out: FloatArray,
  what: string,
): Promise<void> {
  let next = 0;
  try {
    for (; next < arrays.length; next++) {
      const t = layout.tensors[next];
      const data = await arrays[next].data();
      if (data.length !== t.size) {
        throw new ShapeMismatchError(
          `${what}: ${t.name} came back with ${data.length} elements, expected ${t.size}`,
        );
      }
      out.set(data as ArrayLike<number>, t.offset);
    }
  } finally {
    for (let k = next; k < arrays.length; k++) release(arrays[k]);
  }
}

async function readScalar(array: JaxArray, what: string): Promise<number> {
  if (array.size !== 1) {
    const shape = array.shape;
    release(array);
    throw new TypeError(`${what}: the loss must return a scalar, got shape [${shape.join(", ")}]`);
  }
  const data = await array.data();
  return Number(data[0]);
}

/**
 * Copies a pytree of jax-js arrays into a new {@link ParamSet}: tensor names are the dotted tree
 * paths (`{ layer1: { weight } }` → `layer1.weight`, `{ layers: [w] }` → `layers.0`; a bare array
 * is called `params`), packed in traversal order (object keys in insertion order). Every array
 * must be float32, or every array float64; that is the ParamSet's dtype.
 *
 * Like every jax-js function it consumes the arrays; pass `tree.ref(t)` to keep yours.
 */
export async function paramSetFromTree(tree: JaxTree): Promise<ParamSet> {
  const owner = "paramSetFromTree";
  const leaves: { name: string; array: JaxArray }[] = [];
  let layout: Layout;
  try {
    describeTree(owner, "params", tree, [], leaves);
    layout = layoutOf(owner, leaves);
  } catch (error) {
    for (const array of allArrays(tree)) release(array);
    throw error;
  }
  const params = new ParamSet(layout);
  await readInto(
    leaves.map((leaf) => leaf.array),
    layout,
    params.data,
    owner,
  );
  return params;
}

function layoutOf(owner: string, leaves: readonly { name: string; array: JaxArray }[]): Layout {
  if (leaves.length === 0) {
    throw new InvalidArgumentError(
      owner,
      "params",
      "an empty tree",
      "a tree with at least one array",
    );
  }
  const dtype = floatDType(owner, leaves[0].name, leaves[0].array.dtype);
  for (const leaf of leaves) {
    if (floatDType(owner, leaf.name, leaf.array.dtype) !== dtype) {
      throw new InvalidArgumentError(
        owner,
        `dtype of ${leaf.name}`,
        leaf.array.dtype,
        `${dtype}, like ${leaves[0].name} (a ParamSet has one dtype)`,
      );
    }
  }
  return new Layout(
    leaves.map((leaf) => ({ name: leaf.name, shape: leaf.array.shape })),
    dtype,
  );
}

function arraysFromBuffer(layout: Layout, buffer: FloatArray): JaxArray[] {
  return layout.tensors.map((t) => jaxArray(buffer.subarray(t.offset, t.offset + t.size), t.shape));
}

/**
 * Writes a {@link ParamSet} into a pytree of new jax-js arrays (the caller owns them). The tree is
 * rebuilt from the dotted names: `layer1.weight` becomes `{ layer1: { weight } }`, and a level
 * whose keys are `0, 1, …, n−1` becomes a JS array. This inverts {@link paramSetFromTree}.
 */
export function treeFromParamSet(params: ParamSet): JaxTree {
  const names = params.layout.tensors.map((t) => t.name);
  const skeleton = skeletonFromNames("treeFromParamSet", names);
  const arrays = arraysFromBuffer(params.layout, params.data);
  return buildTree(skeleton, (i) => arrays[i]);
}

/**
 * Options of {@link jaxObjective}.
 * @typeParam P - the parameter tree the loss receives
 * @typeParam D - the data tree the loss receives (`undefined` when there is none)
 */
export interface JaxObjectiveOptions<P extends JaxTree, D extends JaxTree | undefined> {
  /**
   * The scalar loss, written in jax-js. It receives the parameters as a tree of arrays shaped like
   * `params`, and the current data. Follow jax-js's rule inside it: an array used twice needs
   * `.ref` on all uses but the last. Do not close over jax-js arrays (the first call would consume
   * them): pass arrays through `data`, plain numbers may live in the closure.
   */
  loss: (params: P, data: D) => JaxArray;
  /**
   * The parameters' structure and starting values: a tree of float arrays (consumed, like jax-js
   * functions consume their arguments; pass `tree.ref(t)` to keep yours) or a {@link ParamSet}
   * (its layout is used as is, its tree rebuilt from the dotted names).
   */
  params: P | ParamSet;
  /**
   * Fixed data (a tree of arrays the objective takes ownership of), or a mini-batch source: a
   * function of the batch index returning a fresh tree of arrays, called by
   * {@link JaxObjective.setBatch}. Omit it when the loss needs no data.
   */
  data?: D | ((batchIndex: number) => D);
  /** Name used in messages and reports (default `"jax"`). */
  name?: string;
  /**
   * The logits behind a cross-entropy loss: for the same parameters and data as `loss`, an array
   * [..., K] whose last axis scores the K classes of each prediction, every other position being
   * one prediction (a batch of rows [B, K], or tokens [batch, context, K]). Giving it adds the
   * `sampledLabelGrad` oracle: the mean over predictions of −log softmax(logits)[ŷ] with labels
   * ŷ drawn from softmax(logits) itself (see the module comment), which is meaningful when `loss`
   * is the mean cross-entropy of these logits. Same rules as `loss` (`.ref`, no captured arrays).
   */
  logits?: (params: P, data: D) => JaxArray;
  /**
   * Compile each oracle with jax-js `jit`. Default: true for float32 parameters, false for
   * float64. Compiled gradients are faster on the wasm backend, and compiled second-order calls
   * release every buffer, whereas jax-js 0.1.25 keeps a few buffers on each eager
   * Hessian-vector product through `max` (hence `logSoftmax`) or through `log`, `sqrt` or a
   * division of an intermediate value (and, reverse over reverse, through `tanh` of a matrix
   * product). But its compiler emits float64 constants as float32
   * (`mean` and `x * 0.1` lose precision, a constant gradient can come back as float32 bits),
   * so `true` is refused for float64 parameters. A compiled loss must be traceable: it may not
   * read values (`item`, `data`) inside.
   */
  jit?: boolean;
  /**
   * How {@link JaxObjective.hvp} computes ∇²f(θ)·v. Default: the fastest exact formulation
   * measured for the objective's kind, `"reverse-over-forward"` when compiled and
   * `"forward-over-reverse"` when eager ({@link defaultHvpMode}; costs in {@link HvpMode}).
   */
  hvpMode?: HvpMode;
  /**
   * Relative step ε₀ of the `"finite-difference"` HVP, in (0, 1) (default 5e-3 ≈ ∛ε for ε the
   * float32 machine epsilon, in both dtypes: jax-js evaluates transcendental functions to about
   * float32 accuracy even in float64, so float64 gradients carry float32-like noise). The step
   * taken is h = ε₀·(1 + ‖θ‖)/‖v‖; see {@link HvpMode}. Only allowed with
   * `hvpMode: "finite-difference"`.
   */
  hvpEpsilon?: number;
}

/**
 * The ways {@link JaxObjective.hvp} can compute H·v = ∇²f(θ)·v. The three exact ones give the
 * same product up to rounding and differ only in cost; by default (see {@link defaultHvpMode})
 * a compiled objective uses reverse over forward, an eager one forward over reverse, the
 * fastest of each kind measured with `npm run bench:hvp` (jax-js 0.1.25, Node 20, 2 cores; in
 * units of one gradient of the same kind; digits perceptron 64→32→10 on 1797 rows, character
 * transformer of 107k parameters):
 *
 * | mode | digits, compiled | transformer, compiled | digits, eager |
 * | --- | --- | --- | --- |
 * | `"reverse-over-forward"` | 2.0–2.6 | 2.7–2.9 | 4.0–10 |
 * | `"forward-over-reverse"` | 4.8–6.9 | 9.2–10 | 3.3–6.8 |
 * | `"reverse-over-reverse"` | 13–20 | 27–28 | 6.9–9.6 |
 * | `"finite-difference"` | 1.7–2.2 | 2.1–2.4 | 1.9–2.5 |
 *
 * - `"reverse-over-forward"`: the gradient of the directional derivative θ ↦ ∇f(θ)·v, computed
 *   by forward mode (grad of jvp): ∇_θ(∇f(θ)·v) = H·v. The forward pass carries v alongside θ
 *   once, and one reverse pass differentiates both.
 * - `"forward-over-reverse"`: the forward-mode derivative of the gradient along v,
 *   H·v = d/dt ∇f(θ + t·v) at t = 0 (jvp of grad).
 * - `"reverse-over-reverse"`: the gradient of the scalar θ ↦ ⟨∇f(θ), v⟩ (grad of grad), which
 *   equals H·v since H is symmetric.
 * - `"finite-difference"`: central differences of two gradients,
 *   H·v ≈ (∇f(θ + h·v) − ∇f(θ − h·v)) / 2h, with h = ε₀·(1 + ‖θ‖)/‖v‖ so the perturbation
 *   h‖v‖ is ε₀ relative to the size of θ (a common scaling; the error analysis is that of
 *   Nocedal & Wright, Numerical Optimization, 2nd ed., §8.1). Its error per component is about
 *   (h²/6)·‖∇⁴f‖·‖v‖³ (truncation: the third derivative of ∇f along v) plus about δ·‖∇f‖/h
 *   (the relative noise δ of the gradients), which ε₀ ≈ ∛δ balances: relative accuracy of order
 *   δ^⅔ when the curvature varies on the scale of ‖θ‖. The default ε₀ = 5e-3 takes δ to be the
 *   float32 machine epsilon, right for float32 and for jax-js float64 (its transcendental
 *   functions are about float32-accurate); measured 7e-5 relative error on the digits
 *   perceptron in float32. Polynomial losses (least squares) come out exact up to rounding. It
 *   costs two gradients (1.6–2× one gradient measured) and needs no second-order autodiff.
 */
export type HvpMode =
  "reverse-over-forward" | "forward-over-reverse" | "reverse-over-reverse" | "finite-difference";

/** Every {@link HvpMode}, in the order of its documentation. */
export const HVP_MODES: readonly HvpMode[] = [
  "reverse-over-forward",
  "forward-over-reverse",
  "reverse-over-reverse",
  "finite-difference",
];

/** The {@link HvpMode}s that compute H·v exactly by automatic differentiation. */
export type ExactHvpMode = Exclude<HvpMode, "finite-difference">;

/**
 * The HVP formulation used when none is chosen: the fastest exact one measured for compiled
 * (`jit`, float32) objectives, `"reverse-over-forward"`, and for eager ones (float64),
 * `"forward-over-reverse"` (see {@link HvpMode}).
 */
export function defaultHvpMode(jit: boolean): ExactHvpMode {
  return jit ? "reverse-over-forward" : "forward-over-reverse";
}

/** The HVP settings of a model built on {@link jaxObjective}. */
export interface HvpOptions {
  /** How `hvp` computes ∇²f(θ)·v (default: {@link defaultHvpMode}). */
  hvpMode?: HvpMode;
  /** Relative step of the `"finite-difference"` HVP, in (0, 1); only with that mode. */
  hvpEpsilon?: number;
}

/**
 * Validates `hvpMode` and `hvpEpsilon` for `owner` (errors name it) and returns them; each is
 * left undefined unless given (the default mode depends on compilation, see
 * {@link defaultHvpMode}).
 */
export function checkHvpOptions(owner: string, options: HvpOptions): HvpOptions {
  const hvpMode =
    options.hvpMode === undefined
      ? undefined
      : checkChoice(owner, "hvpMode", options.hvpMode, HVP_MODES);
  if (options.hvpEpsilon === undefined) return { hvpMode, hvpEpsilon: undefined };
  if (hvpMode !== "finite-difference") {
    throw new InvalidArgumentError(
      owner,
      "hvpEpsilon",
      options.hvpEpsilon,
      'unset unless hvpMode is "finite-difference"',
    );
  }
  const hvpEpsilon = checkNumber(owner, "hvpEpsilon", options.hvpEpsilon, { above: 0, below: 1 });
  return { hvpMode, hvpEpsilon };
}

/**
 * An {@link Objective} backed by a jax-js loss. Oracles are asynchronous; they never keep a
 * reference to the buffers they are given.
 * @typeParam P - the parameter tree the loss receives
 * @typeParam D - the data tree the loss receives
 */
export interface JaxObjective<
  P extends JaxTree = JaxTree,
  D extends JaxTree | undefined = undefined,
> extends Objective {
  /** f(θ). */
  value(params: FloatArray): Promise<number>;
  /** f(θ), writing ∇f(θ) into `gradOut` (reverse mode). */
  valueAndGrad(params: FloatArray, gradOut: FloatArray): Promise<number>;
  /** ∇²f(θ)·v into `out`, computed as {@link JaxObjectiveOptions.hvpMode} says. */
  hvp(params: FloatArray, vector: FloatArray, out: FloatArray): Promise<void>;
  /** ∇f(θ)·v (forward mode). */
  jvp(params: FloatArray, vector: FloatArray): Promise<number>;
  /**
   * Present when the objective was given {@link JaxObjectiveOptions.logits}: the mean
   * cross-entropy on labels drawn from the model's own predictions (prediction i inverts its
   * cumulative distribution at element i of the Philox uniforms (seed, count), both integers in
   * [0, 2^53); see the module comment), with its gradient written into `gradOut`. Returns that
   * sampled loss.
   */
  sampledLabelGrad?(
    params: FloatArray,
    gradOut: FloatArray,
    seed: number,
    count: number,
  ): Promise<number>;
  /** How `hvp` is computed. */
  readonly hvpMode: HvpMode;
  /** The starting values given as `params` (a fresh buffer each call). */
  initialParams(): FloatArray;
  /** A new {@link ParamSet} in this objective's layout holding the starting values. */
  paramSet(): ParamSet;
  /** The parameters in `buffer` as a tree of new jax-js arrays shaped like `params` (caller owns). */
  toTree(buffer: FloatArray): P;
  /**
   * Makes batch `batchIndex` of the data source current (the previous batch is freed). Calling it
   * again with the current index does nothing, so a training loop may call it every step.
   * Oracles called before any `setBatch` use batch 0.
   */
  setBatch(batchIndex: number): void;
  /** Replaces the data by `data` (the objective takes ownership; the previous data is freed). */
  setData(data: D): void;
  /** Index of the current batch, or undefined for fixed data / before the first batch. */
  readonly batchIndex: number | undefined;
  /** Frees the data and the compiled functions; the objective cannot be used afterwards. */
  dispose(): void;
}

/** The data argument handed through jax-js: `{}` when the loss takes no data. */
type DataBox = { readonly data?: JaxTree };

// jax-js types its transforms by mapping every argument tree type to another; on trees of
// unknown shape that mapping never terminates in the type checker, so the adapter sees them
// through these plain signatures (the runtime functions are jax-js's own).
type TreeFunction<R> = (...trees: JaxTree[]) => R;
const valueAndGradOf = valueAndGrad as unknown as (
  f: TreeFunction<JaxArray>,
) => TreeFunction<[JaxArray, JaxTree]>;
const gradOf = grad as unknown as (f: TreeFunction<JaxArray>) => TreeFunction<JaxTree>;
const jvpOf = jvp as unknown as <R extends JaxTree>(
  f: (tree: JaxTree) => R,
  primals: [JaxTree],
  tangents: [JaxTree],
) => [R, R];
const jitOf = jit as unknown as <F extends TreeFunction<JaxTree>>(f: F) => OwnedFunction<F>;

const JAX_OBJECTIVE_OPTIONS = [
  "loss",
  "params",
  "data",
  "name",
  "logits",
  "jit",
  "hvpMode",
  "hvpEpsilon",
];

/** The shape of the array `fn` returns for these arguments, found by tracing (nothing is run). */
function tracedShape(fn: TreeFunction<JaxArray>, args: JaxTree[]): number[] {
  const traceOf = makeJaxpr as unknown as (
    f: TreeFunction<JaxArray>,
  ) => (...trees: JaxTree[]) => { jaxpr: ClosedJaxprLike };
  const { jaxpr } = traceOf(fn)(...args);
  try {
    return [...jaxpr.jaxpr.outs[0].aval.shape];
  } finally {
    jaxpr.dispose();
  }
}

/** What {@link tracedShape} reads of a traced program. */
interface ClosedJaxprLike {
  readonly jaxpr: { readonly outs: readonly { readonly aval: { readonly shape: number[] } }[] };
  dispose(): void;
}

/**
 * Wraps a jax-js loss as an {@link Objective} with `value`, `valueAndGrad`, `jvp` and `hvp`.
 *
 * @example
 * ```ts
 * import { numpy as np, nn } from "@jax-js/jax";
 *
 * const objective = await jaxObjective({
 *   params: { weight: np.zeros([64, 10]), bias: np.zeros([10]) },
 *   data: (batch) => loadBatch(batch), // { x: [32, 64], y: one-hot [32, 10] }, fresh arrays
 *   loss: (p, { x, y }) => {
 *     const logits = np.add(np.matmul(x, p.weight), p.bias);
 *     return np.negative(np.mean(np.sum(np.multiply(nn.logSoftmax(logits, -1), y), -1)));
 *   },
 * });
 * const opt = new Optimizer(objective.paramSet(), adam({ learningRate: 1e-2 }));
 * for (let step = 0; step < 100; step++) {
 *   objective.setBatch(step);
 *   await opt.step(objective);
 * }
 * objective.dispose();
 * ```
 */
export async function jaxObjective<
  P extends JaxTree = JaxTree,
  D extends JaxTree | undefined = undefined,
>(options: JaxObjectiveOptions<P, D>): Promise<JaxObjective<P, D>> {
  const owner = "jaxObjective";
  let name: string;
  let compiled: boolean;
  let hvpMode: HvpMode;
  let hvpEpsilon = 5e-3;
  let layout: Layout;
  let skeleton: Skeleton;
  let initial: FloatArray;
  try {
    checkKnownOptions(owner, options, JAX_OBJECTIVE_OPTIONS);
    if (typeof options.loss !== "function") {
      throw new InvalidArgumentError(
        owner,
        "loss",
        options.loss,
        "a function (params, data) => scalar",
      );
    }
    name = options.name ?? "jax";
    if (typeof name !== "string") throw new InvalidArgumentError(owner, "name", name, "a string");
    if (options.logits !== undefined && typeof options.logits !== "function") {
      throw new InvalidArgumentError(
        owner,
        "logits",
        options.logits,
        "a function (params, data) => logits [..., classes]",
      );
    }
    if (options.jit !== undefined) checkBoolean(owner, "jit", options.jit);
    const hvp = checkHvpOptions(owner, options);
    hvpEpsilon = hvp.hvpEpsilon ?? hvpEpsilon;
    if (options.params instanceof ParamSet) {
      layout = options.params.layout;
      skeleton = skeletonFromNames(
        owner,
        layout.tensors.map((t) => t.name),
      );
      initial = options.params.data.slice();
    } else {
      const leaves: { name: string; array: JaxArray }[] = [];
      skeleton = describeTree(owner, "params", options.params, [], leaves);
      layout = layoutOf(owner, leaves);
      initial = layout.zeros();
      await readInto(
        leaves.map((leaf) => leaf.array),
        layout,
        initial,
        `${owner} params`,
      );
    }
    compiled = options.jit ?? layout.dtype === "float32";
    hvpMode = hvp.hvpMode ?? defaultHvpMode(compiled);
    if (compiled && layout.dtype === "float64") {
      throw new InvalidArgumentError(
        owner,
        "jit",
        true,
        "false for float64 parameters (jax-js 0.1.25 compiles float64 constants as float32)",
      );
    }
  } catch (error) {
    // The objective took ownership of the arrays it was given, so a failed construction frees them.
    if (!(options.params instanceof ParamSet)) {
      for (const array of allArrays(options.params)) release(array);
    }
    if (typeof options.data !== "function") {
      for (const array of allArrays(options.data)) release(array);
    }
    throw error;
  }

  const source = typeof options.data === "function" ? options.data : undefined;
  let current: JaxTree | undefined;
  let currentIndex: number | undefined;
  // With a batch source and no explicit data yet, the first oracle call loads batch 0.
  let awaitingBatch = source !== undefined;
  let disposed = false;

  const checkData = (data: unknown, what: string): JaxTree | undefined => {
    if (data === undefined) return undefined;
    try {
      describeTree(owner, what, data, [], []);
    } catch (error) {
      for (const leaf of allArrays(data)) release(leaf);
      throw error;
    }
    return data as JaxTree;
  };
  const freeData = (): void => {
    for (const array of allArrays(current)) release(array);
    current = undefined;
  };
  if (!source) current = checkData(options.data, "data");

  const loss = options.loss;
  const lossOf = (p: JaxTree, box: DataBox): JaxArray => loss(p as P, box.data as D);
  const value = (p: JaxTree, box: JaxTree): JaxArray => lossOf(p, box as DataBox);
  /** ⟨∇f(θ), v⟩, whose gradient in θ is H·v (v and the data are held fixed). */
  const gradientDotVector = (p: JaxTree, v: JaxTree, box: JaxTree): JaxArray => {
    const g = tracedLeaves(gradOf(value)(p, box), skeleton);
    const vs = tracedLeaves(v, skeleton);
    let sum = np.sum(np.multiply(g[0], vs[0]));
    for (let i = 1; i < g.length; i++) sum = np.add(sum, np.sum(np.multiply(g[i], vs[i])));
    return sum;
  };
  /** ∇f(θ)·v by forward mode: the directional derivative, whose gradient in θ is H·v. */
  const directional = (p: JaxTree, v: JaxTree, box: JaxTree): JaxArray => {
    const [y, dy] = jvpOf((q) => value(q, box), [p], [v]);
    y.dispose();
    return dy;
  };
  const exactHvp: Record<ExactHvpMode, TreeFunction<JaxTree>> = {
    "reverse-over-forward": (p, v, box) => gradOf((q: JaxTree) => directional(q, v, box))(p),
    "forward-over-reverse": (p, v, box) => {
      const [g, hv] = jvpOf((q) => gradOf(value)(q, box), [p], [v]);
      for (const array of allArrays(g)) array.dispose();
      return hv;
    },
    "reverse-over-reverse": (p, v, box) => gradOf((q: JaxTree) => gradientDotVector(q, v, box))(p),
  };
  const plain = {
    value,
    valueAndGrad: valueAndGradOf(value),
    jvp: directional,
    hvp: exactHvp[hvpMode === "finite-difference" ? defaultHvpMode(compiled) : hvpMode],
  };
  const owned: OwnedFunction<TreeFunction<JaxTree>>[] = [];
  const compile = <F extends TreeFunction<JaxTree>>(fn: F): F => {
    if (!compiled) return fn;
    const traced = jitOf(fn);
    owned.push(traced);
    return traced;
  };
  const fns = {
    value: compile(plain.value),
    valueAndGrad: compile(plain.valueAndGrad),
    jvp: compile(plain.jvp),
    hvp: compile(plain.hvp),
  };

  const logits = options.logits;
  const logitsOf = (p: JaxTree, box: JaxTree): JaxArray =>
    logits!(p as P, (box as DataBox).data as D);
  /**
   * Mean cross-entropy of the logits on labels drawn by inverting each prediction's cumulative
   * distribution at its uniform. The probabilities are taken with the gradient stopped, so
   * differentiating in θ holds ŷ fixed.
   */
  const sampledLoss = (p: JaxTree, box: JaxTree, uniforms: JaxTree): JaxArray => {
    const z = logitsOf(p, box);
    const classes = z.shape[z.shape.length - 1];
    // One log-softmax serves both the loss and, gradient stopped, the probabilities;
    // exp(logSoftmax) rather than softmax: jax-js 0.1.25's eager gradient keeps a buffer for
    // every division of an intermediate, even one whose gradient is stopped.
    const logProbabilities = nn.logSoftmax(z, -1);
    const probabilities = np.exp(lax.stopGradient(logProbabilities.ref));
    // The cumulative distribution as a product with the upper-triangular ones (K×K): cheaper than
    // jax-js's cumsum here (a sampled-label gradient measured 1.5 instead of 2.1 gradients).
    const upper = np.triu(np.ones([classes, classes], { dtype: z.dtype }));
    const cumulative = np.matmul(probabilities, upper);
    const below = np.lessEqual(cumulative, uniforms as JaxArray);
    const label = np.minimum(np.sum(np.astype(below, np.int32), -1), classes - 1);
    const labels = np.astype(nn.oneHot(label, classes), z.dtype);
    return np.negative(np.mean(np.sum(np.multiply(logProbabilities, labels), -1)));
  };
  const sampledValueAndGrad = logits ? compile(valueAndGradOf(sampledLoss)) : undefined;
  // The logits' shape per data shape (a batch source may change it), and the uniforms' buffer.
  const logitsShapes = new Map<string, number[]>();
  let uniforms: Float32Array | Float64Array | undefined;
  /** The uniforms u_i, one per prediction, shaped [..., 1] against logits [..., K]. */
  const labelUniforms = (p: JaxTree, box: JaxTree, seed: number, count: number): JaxArray => {
    const key = allArrays((box as DataBox).data)
      .map((a) => `${a.dtype}[${a.shape.join(",")}]`)
      .join(";");
    let shape = logitsShapes.get(key);
    if (shape === undefined) {
      shape = tracedShape(logitsOf, [p, box]);
      if (shape.length === 0) {
        throw new ShapeMismatchError(
          `${name}.sampledLabelGrad: the logits need a class axis, got a scalar`,
        );
      }
      logitsShapes.set(key, shape);
    }
    const predictions = shapeProduct(shape.slice(0, -1));
    if (uniforms?.length !== predictions) {
      uniforms =
        layout.dtype === "float64" ? new Float64Array(predictions) : new Float32Array(predictions);
    }
    fillUniform(uniforms, seed, count);
    return jaxArray(uniforms, [...shape.slice(0, -1), 1]);
  };

  const ensureLive = (what: string): void => {
    if (disposed) throw new Error(`${name}.${what}: the objective has been disposed`);
  };
  const setBatch = (batchIndex: number): void => {
    ensureLive("setBatch");
    if (!source) {
      throw new TypeError(
        `${name}.setBatch: this objective has fixed data; pass \`data\` as a function of the batch index to use mini-batches`,
      );
    }
    if (!Number.isInteger(batchIndex) || batchIndex < 0) {
      throw new InvalidArgumentError(
        `${name}.setBatch`,
        "batchIndex",
        batchIndex,
        "a non-negative integer",
      );
    }
    if (batchIndex === currentIndex) return;
    const next = checkData(source(batchIndex), `batch ${batchIndex}`);
    freeData();
    current = next;
    currentIndex = batchIndex;
    awaitingBatch = false;
  };

  /**
   * Runs one oracle: builds the argument arrays from `inputs`, lends the loss one reference to the
   * data, calls `call` (synchronously, so the data's reference counts are back to their baseline
   * before anything else can run), then reads the result with `read`. Afterwards no reference
   * this call created survives, whether it succeeded or threw: jax-js 0.1.25 can leave a reference
   * behind on an argument (eager second-order rules of `log` and `reciprocal`), and a call that
   * throws midway may not consume its arguments; nobody else holds these arrays, so the
   * objective drops whatever is left.
   */
  const oracle = async <Out, Result>(
    what: string,
    inputs: FloatArray[],
    call: (...trees: JaxTree[]) => Out,
    read: (out: Out) => Promise<Result>,
  ): Promise<Result> => {
    ensureLive(what);
    for (const buffer of inputs) layout.assertBuffer(buffer, `${name}.${what}`);
    if (awaitingBatch) setBatch(0);
    const arrays = inputs.map((buffer) => arraysFromBuffer(layout, buffer));
    const dataArrays = allArrays(current);
    const baseline = dataArrays.map((a) => a.refCount);
    const box: DataBox = current === undefined ? {} : { data: mapArrays(current, takeReference) };
    const releaseInputs = (): void => {
      for (const list of arrays) for (const array of list) releaseAll(array);
    };
    let out: Out;
    try {
      out = call(...arrays.map((list) => buildTree(skeleton, (i) => list[i])), box as JaxTree);
    } catch (error) {
      releaseInputs();
      throw error;
    } finally {
      dataArrays.forEach((array, i) => {
        while (array.refCount > baseline[i]) array.dispose();
      });
    }
    try {
      return await read(out);
    } finally {
      releaseInputs();
    }
  };

  /** Reads a result tree shaped like the parameters into `target`. */
  const readTree = async (tree: unknown, target: FloatArray, what: string): Promise<void> => {
    const leaves: JaxArray[] = [];
    try {
      gatherLeaves(tree, skeleton, leaves, what);
    } catch (error) {
      for (const array of allArrays(tree)) release(array);
      throw error;
    }
    await readInto(leaves, layout, target, what);
  };

  /** Reads a (loss, gradient tree) pair: the loss is returned, the gradient goes to `gradOut`. */
  const readLossAndGrad = async (
    [out, grads]: [JaxArray, JaxTree],
    gradOut: FloatArray,
    what: string,
  ): Promise<number> => {
    let loss: number;
    try {
      loss = await readScalar(out, what);
    } catch (error) {
      for (const array of allArrays(grads)) release(array);
      throw error;
    }
    await readTree(grads, gradOut, what);
    return loss;
  };

  // Scratch of the finite-difference HVP, allocated on first use and reused.
  let shifted: { plus: FloatArray; minus: FloatArray; gradMinus: FloatArray } | undefined;
  const finiteDifferenceHvp = async (
    params: FloatArray,
    vector: FloatArray,
    out: FloatArray,
  ): Promise<void> => {
    ensureLive("hvp");
    layout.assertBuffer(params, `${name}.hvp`);
    layout.assertBuffer(vector, `${name}.hvp`);
    let thetaSquared = 0;
    let vectorSquared = 0;
    for (let i = 0; i < params.length; i++) {
      thetaSquared += params[i] * params[i];
      vectorSquared += vector[i] * vector[i];
    }
    if (vectorSquared === 0) {
      out.fill(0);
      return;
    }
    const step = (hvpEpsilon * (1 + Math.sqrt(thetaSquared))) / Math.sqrt(vectorSquared);
    shifted ??= { plus: layout.zeros(), minus: layout.zeros(), gradMinus: layout.zeros() };
    const { plus, minus, gradMinus } = shifted;
    for (let i = 0; i < params.length; i++) {
      plus[i] = params[i] + step * vector[i];
      minus[i] = params[i] - step * vector[i];
    }
    // The actual half-distance between the two points after rounding, so rounding of θ ± hv does
    // not bias the quotient.
    let distance = 0;
    for (let i = 0; i < params.length; i++) distance += (plus[i] - minus[i]) * vector[i];
    const half = distance / (2 * vectorSquared);
    await objective.valueAndGrad(minus, gradMinus);
    await objective.valueAndGrad(plus, out);
    for (let i = 0; i < out.length; i++) out[i] = (out[i] - gradMinus[i]) / (2 * half);
  };

  const objective: JaxObjective<P, D> = {
    name,
    layout,
    value(params) {
      return oracle("value", [params], fns.value, (out) => readScalar(out, `${name}.value`));
    },
    valueAndGrad(params, gradOut) {
      layout.assertBuffer(gradOut, `${name}.valueAndGrad gradOut`);
      return oracle("valueAndGrad", [params], fns.valueAndGrad, (result) =>
        readLossAndGrad(result, gradOut, `${name}.valueAndGrad`),
      );
    },
    jvp(params, vector) {
      return oracle("jvp", [params, vector], fns.jvp, (out) => readScalar(out, `${name}.jvp`));
    },
    async hvp(params, vector, out) {
      layout.assertBuffer(out, `${name}.hvp out`);
      if (hvpMode === "finite-difference") {
        await finiteDifferenceHvp(params, vector, out);
        return;
      }
      await oracle("hvp", [params, vector], fns.hvp, (product) =>
        readTree(product, out, `${name}.hvp`),
      );
    },
    hvpMode,
    initialParams() {
      return initial.slice();
    },
    paramSet() {
      return new ParamSet(layout, initial.slice());
    },
    toTree(buffer) {
      ensureLive("toTree");
      layout.assertBuffer(buffer, `${name}.toTree`);
      const arrays = arraysFromBuffer(layout, buffer);
      return buildTree(skeleton, (i) => arrays[i]) as P;
    },
    setBatch,
    setData(data) {
      ensureLive("setData");
      const next = checkData(data, "data");
      freeData();
      current = next;
      currentIndex = undefined;
      awaitingBatch = false;
    },
    get batchIndex() {
      return currentIndex;
    },
    dispose() {
      if (disposed) return;
      disposed = true;
      freeData();
      for (const fn of owned) fn.dispose();
    },
  };
  if (sampledValueAndGrad) {
    objective.sampledLabelGrad = async (params, gradOut, seed, count) => {
      const what = `${name}.sampledLabelGrad`;
      const bounds = { integer: true, min: 0, below: INDEX_LIMIT };
      checkNumber(what, "seed", seed, bounds);
      checkNumber(what, "count", count, bounds);
      layout.assertBuffer(gradOut, `${what} gradOut`);
      const call = (p: JaxTree, box: JaxTree): [JaxArray, JaxTree] => {
        const u = labelUniforms(p, box, seed, count);
        try {
          return sampledValueAndGrad(p, box, u);
        } finally {
          releaseAll(u);
        }
      };
      return oracle("sampledLabelGrad", [params], call, (result) =>
        readLossAndGrad(result, gradOut, what),
      );
    };
  }
  return objective;
}

function mapArrays(node: JaxTree, fn: (array: JaxArray) => JaxArray): JaxTree {
  if (node instanceof JaxArray) return fn(node);
  if (Array.isArray(node)) return (node as readonly JaxTree[]).map((child) => mapArrays(child, fn));
  const out: { [key: string]: JaxTree } = {};
  const record = node as { readonly [key: string]: JaxTree };
  for (const key of Object.keys(record)) out[key] = mapArrays(record[key], fn);
  return out;
}
