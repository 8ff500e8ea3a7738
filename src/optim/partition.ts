/**
 * Parameter groups: route each tensor to one of several transforms, as optax's `partition`
 * (formerly `multi_transform`) and torch.optim's parameter groups. A typical use gives matrices
 * to one optimizer and biases and norm scales to another without weight decay:
 *
 *     partition(
 *       { matrices: (t) => t.shape.length >= 2, vectors: (t) => t.shape.length < 2 },
 *       { matrices: adamw({ weightDecay: 0.1 }), vectors: adam() },
 *     )
 *
 * Every tensor must belong to exactly one group. Each group's transform sees a compact layout of
 * its own tensors (`layout.subset`) and keeps its own state. A group whose tensors sit next to
 * each other in the parent buffer works on `subarray` views (no copy); otherwise its update and
 * parameters are gathered into scratch buffers allocated once per layout, and the result is
 * scattered back.
 */
import { InvalidArgumentError } from "../errors.js";
import type { FloatArray, Layout, Selector, TensorSpec } from "../params/layout.js";
import { selectorPredicate } from "../params/layout.js";
import type { Objective } from "../oracles/objective.js";
import type { GradientTransform, State, StepContext } from "./transform.js";

/** A transform built by {@link partition}: one inner transform and state per group. */
export interface PartitionTransform extends GradientTransform<State> {
  /** Group names, in the order given. The state has one entry per group, under its name. */
  readonly groups: readonly string[];
  /** The transform of each group. */
  readonly transforms: Readonly<Record<string, GradientTransform>>;
  /** The compact layout a group's transform (and its state) works in, for parent `layout`. */
  subLayout(layout: Layout, group: string): Layout;
}

/** Whether `t` was built by {@link partition}. */
export function isPartition(t: GradientTransform): t is PartitionTransform {
  const p = t as Partial<PartitionTransform>;
  return Array.isArray(p.groups) && typeof p.subLayout === "function";
}

interface GroupPlan {
  readonly name: string;
  readonly transform: GradientTransform;
  readonly tensors: readonly TensorSpec[];
  readonly layout: Layout;
  /** Start of the group in the parent buffer, when its tensors are adjacent; else -1. */
  readonly start: number;
  /** Scratch buffers for gathered groups (null when contiguous). */
  readonly scratchUpdates: FloatArray | null;
  readonly scratchParams: FloatArray | null;
  /** Views of the last buffers seen, reused while the caller passes the same buffers. */
  viewSource: FloatArray | null;
  view: FloatArray | null;
  paramsSource: FloatArray | null;
  paramsView: FloatArray | null;
}

function describeAssignment(unassigned: string[], multiple: string[]): string {
  const parts: string[] = [];
  if (unassigned.length > 0) parts.push(`in no group: ${unassigned.join(", ")}`);
  if (multiple.length > 0) parts.push(`in several groups: ${multiple.join("; ")}`);
  return parts.join("; ");
}

function checkSelector(group: string, selector: unknown): Selector {
  const ok =
    typeof selector === "string" ||
    typeof selector === "function" ||
    selector instanceof RegExp ||
    (Array.isArray(selector) && selector.every((s) => typeof s === "string"));
  if (!ok) {
    throw new InvalidArgumentError(
      "partition",
      `selectors.${group}`,
      selector,
      "a selector (glob string, RegExp, list of names or predicate)",
    );
  }
  return selector as Selector;
}

function checkTransform(group: string, transform: unknown): GradientTransform {
  const t = transform as Partial<GradientTransform> | null;
  if (
    typeof t !== "object" ||
    t === null ||
    typeof t.init !== "function" ||
    typeof t.update !== "function"
  ) {
    throw new InvalidArgumentError(
      "partition",
      `transforms.${group}`,
      transform,
      "a gradient transform (with init and update)",
    );
  }
  return t as GradientTransform;
}

function gather(from: FloatArray, into: FloatArray, tensors: readonly TensorSpec[]): void {
  let at = 0;
  for (const t of tensors) {
    into.set(from.subarray(t.offset, t.offset + t.size), at);
    at += t.size;
  }
}

function scatter(from: FloatArray, into: FloatArray, tensors: readonly TensorSpec[]): void {
  let at = 0;
  for (const t of tensors) {
    into.set(from.subarray(at, at + t.size), t.offset);
    at += t.size;
  }
}

/**
 * Routes each tensor to the transform of the group whose selector picks it.
 *
 * @param selectors - group name → {@link Selector}; every tensor must match exactly one group
 *   (checked when the state is created, with an error listing unassigned and doubly-assigned
 *   tensors). A group may match no tensor (its transform is then never run).
 * @param transforms - group name → transform, with the same group names. Inner transforms may be
 *   asynchronous. Each sees a context whose `params` and `layout` are its group's; `objective`
 *   and `loss` are passed through unchanged, so oracle calls still take the full parameters.
 *
 * If a group's update throws, groups already run keep their advanced state.
 */
export function partition(
  selectors: Readonly<Record<string, Selector>>,
  transforms: Readonly<Record<string, GradientTransform>>,
): PartitionTransform {
  const owner = "partition";
  if (typeof selectors !== "object" || selectors === null) {
    throw new InvalidArgumentError(owner, "selectors", selectors, "an object of group selectors");
  }
  if (typeof transforms !== "object" || transforms === null) {
    throw new InvalidArgumentError(
      owner,
      "transforms",
      transforms,
      "an object of group transforms",
    );
  }
  const groups = Object.keys(selectors);
  if (groups.length === 0) {
    throw new InvalidArgumentError(owner, "selectors", selectors, "at least one group");
  }
  for (const g of groups) {
    if (g.length === 0 || g.includes("/")) {
      throw new InvalidArgumentError(owner, "group name", g, "non-empty and without '/'");
    }
    if (!Object.hasOwn(transforms, g)) {
      throw new InvalidArgumentError(
        owner,
        "transforms",
        Object.keys(transforms),
        `a transform for every group (missing "${g}")`,
      );
    }
  }
  for (const g of Object.keys(transforms)) {
    if (!Object.hasOwn(selectors, g)) {
      throw new InvalidArgumentError(
        owner,
        "selectors",
        groups,
        `a selector for every transform (missing "${g}")`,
      );
    }
  }
  const predicates = groups.map((g) => selectorPredicate(checkSelector(g, selectors[g])));
  const inner: Record<string, GradientTransform> = {};
  for (const g of groups) inner[g] = checkTransform(g, transforms[g]);
  Object.freeze(inner);

  const plans = new WeakMap<Layout, GroupPlan[]>();
  const planFor = (layout: Layout): GroupPlan[] => {
    const cached = plans.get(layout);
    if (cached) return cached;
    const members: TensorSpec[][] = groups.map(() => []);
    const unassigned: string[] = [];
    const multiple: string[] = [];
    for (const t of layout.tensors) {
      const hits: number[] = [];
      predicates.forEach((keep, g) => {
        if (keep(t)) hits.push(g);
      });
      if (hits.length === 0) unassigned.push(t.name);
      else if (hits.length > 1)
        multiple.push(`${t.name} (${hits.map((g) => groups[g]).join(", ")})`);
      else members[hits[0]].push(t);
    }
    if (unassigned.length > 0 || multiple.length > 0) {
      throw new InvalidArgumentError(
        owner,
        "selectors",
        describeAssignment(unassigned, multiple),
        "an assignment of every tensor to exactly one group",
      );
    }
    const plan = groups.map((name, g): GroupPlan => {
      const tensors = members[g];
      const sub = layout.subset(tensors);
      let contiguous = true;
      for (let i = 1; i < tensors.length; i++) {
        if (tensors[i].offset !== tensors[i - 1].offset + tensors[i - 1].size) contiguous = false;
      }
      return {
        name,
        transform: inner[name],
        tensors,
        layout: sub,
        start: contiguous ? (tensors[0]?.offset ?? 0) : -1,
        scratchUpdates: contiguous ? null : sub.zeros(),
        scratchParams: contiguous ? null : sub.zeros(),
        viewSource: null,
        view: null,
        paramsSource: null,
        paramsView: null,
      };
    });
    plans.set(layout, plan);
    return plan;
  };

  const runGroup = (
    group: GroupPlan,
    updates: FloatArray,
    state: State,
    ctx: StepContext,
  ): Promise<void> | undefined => {
    const size = group.layout.size;
    if (group.tensors.length === 0) return undefined;
    let subUpdates: FloatArray;
    let subParams: FloatArray;
    if (group.start >= 0) {
      if (group.viewSource !== updates) {
        group.view = updates.subarray(group.start, group.start + size);
        group.viewSource = updates;
      }
      if (group.paramsSource !== ctx.params) {
        group.paramsView = ctx.params.subarray(group.start, group.start + size);
        group.paramsSource = ctx.params;
      }
      subUpdates = group.view!;
      subParams = group.paramsView!;
    } else {
      subUpdates = group.scratchUpdates!;
      subParams = group.scratchParams!;
      gather(updates, subUpdates, group.tensors);
      gather(ctx.params, subParams, group.tensors);
    }
    const subContext: { params: FloatArray; layout: Layout; objective?: Objective; loss?: number } =
      { params: subParams, layout: group.layout };
    if (ctx.objective !== undefined) subContext.objective = ctx.objective;
    if (ctx.loss !== undefined) subContext.loss = ctx.loss;
    const pending = group.transform.update(subUpdates, state[group.name] as State, subContext);
    if (group.start >= 0) return pending instanceof Promise ? pending : undefined;
    if (pending instanceof Promise) {
      return pending.then(() => scatter(subUpdates, updates, group.tensors));
    }
    scatter(subUpdates, updates, group.tensors);
    return undefined;
  };

  return {
    name: "partition",
    groups: Object.freeze([...groups]),
    transforms: inner,
    needs: [...new Set(groups.flatMap((g) => inner[g].needs ?? []))],
    subLayout(layout, group) {
      const found = planFor(layout).find((p) => p.name === group);
      if (!found) {
        throw new InvalidArgumentError(owner, "group", group, `one of ${groups.join(", ")}`);
      }
      return found.layout;
    },
    init(layout) {
      const state: State = {};
      for (const group of planFor(layout)) state[group.name] = group.transform.init(group.layout);
      return state;
    },
    update(updates, state, ctx) {
      const plan = planFor(ctx.layout);
      // Synchronous unless an inner transform returns a promise, like chain().
      for (let g = 0; g < plan.length; g++) {
        const pending = runGroup(plan[g], updates, state, ctx);
        if (pending) {
          return (async () => {
            await pending;
            for (let h = g + 1; h < plan.length; h++) {
              await runGroup(plan[h], updates, state, ctx);
            }
          })();
        }
      }
    },
  };
}
