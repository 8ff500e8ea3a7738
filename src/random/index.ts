/**
 * Counter-based random numbers: Philox4x32-10 streams addressed by (seed, stream, index), with
 * uniform, Gaussian, exponential and Rademacher samples that are bit-identical on every
 * JavaScript engine, a float32-native Gaussian sequence (four samples per block, float32
 * arithmetic); and WebAssembly SIMD (and, in Node.js, multi-threaded) Gaussian fills with the
 * same bits.
 */
export * from "./philox.js";
export * from "./portableMath.js";
export * from "./portableMathFloat32.js";
export * from "./distributions.js";
export * from "./normalFloat32.js";
export * from "./fast.js";
