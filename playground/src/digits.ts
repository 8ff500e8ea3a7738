/**
 * The digits network in the browser: fetch the bundled UCI digits (gzip-compressed CSV), parse
 * them with descend's CSV parser, start jax-js on its WebAssembly backend and build the same
 * perceptron the benchmark trains.
 */
import { defaultDevice, init } from "@jax-js/jax";
import type { Dataset, MlpObjective } from "descend";
import { mlpClassifier, parseCsvDataset } from "descend";
import digitsUrl from "../../data/digits.csv.gz?url";

/** Width of the hidden layer (the benchmark's). */
export const HIDDEN_UNITS = 32;

/** Grey levels of the raw pixels run from 0 to 16; the network sees them scaled to [0, 1]. */
const GREY_LEVELS = 16;

/**
 * The text of a gzip file. Servers that label `.gz` files with `Content-Encoding: gzip` make the
 * browser inflate them already, so the magic bytes decide whether to decompress here.
 */
async function gunzipText(response: Response): Promise<string> {
  const bytes = new Uint8Array(await response.arrayBuffer());
  if (bytes[0] !== 0x1f || bytes[1] !== 0x8b) return new TextDecoder().decode(bytes);
  const stream = new Blob([bytes]).stream().pipeThrough(new DecompressionStream("gzip"));
  return new Response(stream).text();
}

/** Downloads and parses the 1797 digits, pixels scaled to [0, 1]. */
export async function fetchDigits(): Promise<Dataset> {
  const response = await fetch(digitsUrl);
  if (!response.ok) throw new Error(`digits.csv.gz: HTTP ${response.status}`);
  const digits = parseCsvDataset(await gunzipText(response), {
    source: "digits.csv.gz",
    header: false,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  });
  for (let i = 0; i < digits.features.length; i++) digits.features[i] /= GREY_LEVELS;
  return digits;
}

let network: Promise<MlpObjective> | undefined;

/**
 * The perceptron 64 → 32 (tanh) → 10 on the full digits set, built once. jax-js runs on its
 * WebAssembly backend, which computes the same numbers on every machine (WebGPU would not).
 */
export function digitsNetwork(): Promise<MlpObjective> {
  if (!network) {
    network = (async () => {
      const [digits] = await Promise.all([fetchDigits(), init("wasm")]);
      defaultDevice("wasm");
      return mlpClassifier(digits, { hidden: HIDDEN_UNITS, seed: 0 });
    })();
    // A failed attempt is forgotten, so the next click retries.
    network.catch(() => {
      network = undefined;
    });
  }
  return network;
}
