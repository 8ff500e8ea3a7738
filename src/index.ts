/**
 * descend: optimizers of current research for machine learning in TypeScript.
 *
 * Parameters live in one flat buffer ({@link ParamSet}); problems expose oracles through
 * {@link Objective}; optimizers are chains of small {@link GradientTransform}s driven by an
 * {@link Optimizer}. See the README for a quick start and the table of optimizers.
 *
 * This is the Node.js entry point: everything of the browser entry point (src/browser.ts) plus
 * the loaders that read the bundled data files.
 *
 * @packageDocumentation
 */

export * from "./browser.js";

// Node.js only: reading files.
export * from "./data/files.js";
export * from "./data/digits.js";
export * from "./data/breastCancer.js";
export * from "./oracles/problems/digitsMlp.js";
export * from "./data/text.js";
export * from "./oracles/problems/shakespeareTransformer.js";
