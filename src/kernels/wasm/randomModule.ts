/**
 * The WebAssembly module of the fast random fills: the float64-definition Gaussian kernels
 * (philoxNormal.ts, writing float32 or float64) and the float32 Gaussian kernel
 * (philoxNormalFloat32.ts), in one module so that one memory and one set of worker threads serve
 * them all.
 */
import { ModuleBuilder } from "./encoder.js";
import { normalKernel, normalKernelName } from "./philoxNormal.js";
import { NORMAL_FLOAT32_KERNEL_NAME, normalFloat32Kernel } from "./philoxNormalFloat32.js";

/** Names of the module's exports, in the order of its functions. */
export const RANDOM_KERNEL_NAMES: readonly string[] = [
  normalKernelName("f32"),
  normalKernelName("f64"),
  NORMAL_FLOAT32_KERNEL_NAME,
];

/** The module's bytes, importing a shared or an ordinary `env.memory`. */
export function randomModuleBytes(shared: boolean): Uint8Array {
  const module = new ModuleBuilder();
  module.add(normalKernelName("f32"), normalKernel("f32"));
  module.add(normalKernelName("f64"), normalKernel("f64"));
  module.add(NORMAL_FLOAT32_KERNEL_NAME, normalFloat32Kernel());
  return module.encode(
    shared
      ? { shared: true, minimumPages: 0, maximumPages: 65536 }
      : { shared: false, minimumPages: 0 },
  );
}
