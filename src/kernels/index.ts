/**
 * The elementwise kernels behind every optimizer, and the switch to their fast path.
 *
 * By default buffers are plain typed arrays and kernels run as JavaScript loops. Buffers made by
 * the allocator of {@link useFastKernels} (or {@link fastAllocator}) live in WebAssembly memory:
 * kernels given only such buffers run as WebAssembly SIMD code, and in Node.js large calls are
 * split across worker threads. Results are the same bit for bit on every path.
 */
export type { FastKernelOptions, FastKernels } from "./fast.js";
export { fastAllocator, useFastKernels } from "./fast.js";
export type { Floats, Runs } from "./apply.js";
export { addInPlace, axpby, firstNonFinite, zeroNonFinite } from "./apply.js";
export { adamDirection, adamStep } from "./adam.js";
export { sgdMomentum, sgdMomentumStep } from "./sgd.js";
