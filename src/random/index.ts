/**
 * Counter-based random numbers: Philox4x32-10 streams addressed by (seed, stream, index), with
 * uniform, Gaussian, exponential and Rademacher samples that are bit-identical on every
 * JavaScript engine; and a WebAssembly SIMD (and, in Node.js, multi-threaded) Gaussian fill with
 * the same bits.
 */
export * from "./philox.js";
export * from "./portableMath.js";
export * from "./distributions.js";
export * from "./fast.js";
