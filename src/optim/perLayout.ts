/**
 * Per-layout memoization for transforms. The plans and scratch buffers a transform derives from a
 * parameter layout are configuration, not state: they are made once for each layout the
 * transform meets, so that steps do not allocate, and dropped with the layout.
 */
import type { Layout } from "../params/layout.js";

/**
 * `make(layout)`, computed on the first call for each layout and remembered while the layout
 * lives. A `make` that throws leaves nothing behind, so the next call tries again.
 */
export function perLayout<T>(make: (layout: Layout) => T): (layout: Layout) => T {
  const made = new WeakMap<Layout, T>();
  return (layout) => {
    let value = made.get(layout);
    if (value === undefined) made.set(layout, (value = make(layout)));
    return value;
  };
}
