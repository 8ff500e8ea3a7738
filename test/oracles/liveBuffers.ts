// Counts the jax-js buffers alive on the wasm backend, for leak tests.
//
// jax-js has no public count of live arrays. Its wasm backend object has public `malloc`,
// `incRef` and `decRef` methods, and the package's internal chunk `dist/backend-<hash>.js` exports
// `getBackend` under a minified alias. This helper finds that chunk next to the package entry at
// run time, picks the export whose function name is `getBackend`, and wraps the three methods on
// the backend instance to keep its own reference count per buffer slot. Importing the chunk by
// the same URL the package uses gives the same module instance, hence the same backend.
import { readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

interface CountedBackend {
  malloc(size: number, initialData?: Uint8Array): number;
  incRef(slot: number): void;
  decRef(slot: number): void;
}

let live: Map<number, number> | undefined;

async function wasmBackend(): Promise<CountedBackend> {
  const entry = fileURLToPath(import.meta.resolve("@jax-js/jax"));
  const dir = dirname(entry);
  const chunk = readdirSync(dir).find((file) => /^backend-.*\.js$/.test(file));
  if (!chunk) throw new Error(`no backend-*.js chunk next to ${entry}`);
  const module = (await import(pathToFileURL(join(dir, chunk)).href)) as Record<string, unknown>;
  const getBackend = Object.values(module).find(
    (value): value is (device: string) => CountedBackend =>
      typeof value === "function" && value.name === "getBackend",
  );
  if (!getBackend) throw new Error(`${chunk} exports no function named getBackend`);
  return getBackend("wasm");
}

/**
 * Starts counting (once per process) and returns a function giving the number of live buffers.
 * Buffers allocated before the first call are not counted, so compare counts, not absolutes.
 */
export async function liveBufferCounter(): Promise<() => number> {
  if (!live) {
    const counts = new Map<number, number>();
    const backend = await wasmBackend();
    const malloc = backend.malloc.bind(backend);
    const incRef = backend.incRef.bind(backend);
    const decRef = backend.decRef.bind(backend);
    backend.malloc = (size, initialData) => {
      const slot = malloc(size, initialData);
      counts.set(slot, 1);
      return slot;
    };
    backend.incRef = (slot) => {
      incRef(slot);
      if (counts.has(slot)) counts.set(slot, counts.get(slot)! + 1);
    };
    backend.decRef = (slot) => {
      decRef(slot);
      const count = counts.get(slot);
      if (count === undefined) return;
      if (count <= 1) counts.delete(slot);
      else counts.set(slot, count - 1);
    };
    live = counts;
  }
  const counts = live;
  return () => counts.size;
}
