/**
 * The parts of the WebAssembly JavaScript API the kernels use, typed here so that the library
 * compiles without DOM type declarations, and looked up at run time so that a missing API is a
 * fallback, not a crash.
 */

/** A WebAssembly linear memory. */
export interface WasmMemory {
  /** The current buffer (a new object after each growth). */
  readonly buffer: ArrayBuffer | SharedArrayBuffer;
  /** Adds `pages` 64 KiB pages; returns the previous size in pages. */
  grow(pages: number): number;
}

/** A compiled module (opaque; may be sent to worker threads). */
export interface WasmModule {
  readonly __wasmModule?: never;
}

/** An instantiated module. */
export interface WasmInstance {
  /** The module's exports by name. */
  readonly exports: Record<string, unknown>;
}

/** The global `WebAssembly` object. */
export interface WasmApi {
  Memory: new (descriptor: { initial: number; maximum?: number; shared?: boolean }) => WasmMemory;
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (
    module: WasmModule,
    imports: Record<string, Record<string, unknown>>,
  ) => WasmInstance;
  compile(bytes: Uint8Array): Promise<WasmModule>;
  validate(bytes: Uint8Array): boolean;
}

/** The host's WebAssembly API, or null where there is none. */
export function wasmApi(): WasmApi | null {
  return (globalThis as { WebAssembly?: WasmApi }).WebAssembly ?? null;
}
