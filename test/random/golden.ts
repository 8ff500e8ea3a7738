// The golden-vector records of the random layer: which slices, and how a slice's outputs are
// written down (exact bit patterns in hexadecimal). Shared by the generator script, the Node.js
// test, and the Chromium test, where it runs inside the page against the bundled browser entry;
// so it imports nothing at run time and receives the fill functions as an argument.
import type {
  fillExponential,
  fillNormal,
  fillRademacher,
  fillUniform,
} from "../../src/random/distributions.js";
import type { fillNormalFloat32 } from "../../src/random/normalFloat32.js";
import type { fillBits } from "../../src/random/philox.js";

/** A range of one stream: elements start … start + count − 1 of (seed, stream). */
export interface GoldenSlice {
  seed: number;
  stream: number;
  start: number;
  count: number;
}

/** The outputs of one slice, each as exact bit patterns. */
export interface GoldenRecord extends GoldenSlice {
  /** Philox words start … start + count − 1, as 8 hex digits. */
  bits: string[];
  /** fillNormal into a Float64Array: 16 hex digits of each IEEE double. */
  normal64: string[];
  /** fillNormal into a Float32Array: 8 hex digits of each IEEE single. */
  normal32: string[];
  /** fillNormalFloat32 (the float32-native sequence) into a Float32Array. */
  normalFloat32: string[];
  /** fillUniform into a Float64Array. */
  uniform64: string[];
  /** fillUniform into a Float32Array. */
  uniform32: string[];
  /** fillExponential into a Float64Array. */
  exponential64: string[];
  /** fillRademacher: "+" for +1, "-" for −1, one character per element. */
  rademacher: string;
}

/** The functions a record is computed with (the library's, in Node.js or in a page). */
export interface RandomApi {
  fillBits: typeof fillBits;
  fillNormal: typeof fillNormal;
  fillNormalFloat32: typeof fillNormalFloat32;
  fillUniform: typeof fillUniform;
  fillExponential: typeof fillExponential;
  fillRademacher: typeof fillRademacher;
}

const TWO_POW_32 = 4294967296;

/**
 * The slices of the golden file: seed 0 and stream 0, odd starts (a Box–Muller pair split), the
 * block counter's low word wrapping (normal element 2^33 is block 2^32), seed and stream words
 * that fill both key and counter halves, and the last indices below 2^53.
 */
export const GOLDEN_SLICES: readonly GoldenSlice[] = [
  { seed: 0, stream: 0, start: 0, count: 16 },
  { seed: 0, stream: 1, start: 1, count: 9 },
  { seed: 1, stream: 0, start: 0, count: 70 },
  { seed: 20240601, stream: 3, start: 1001, count: 24 },
  { seed: 42, stream: 7, start: 2 * TWO_POW_32 - 5, count: 10 },
  { seed: TWO_POW_32, stream: TWO_POW_32 + 1, start: 123456789, count: 12 },
  { seed: 2 ** 53 - 1, stream: 2 ** 53 - 1, start: 2 ** 53 - 12, count: 12 },
  { seed: 123456789012345, stream: 0, start: 2 ** 52 + 3, count: 8 },
];

/** Hex digits of the 32-bit word `value`. */
export function wordHex(value: number): string {
  return (value >>> 0).toString(16).padStart(8, "0");
}

/** The IEEE bit patterns of a float array, as hex strings (16 digits for doubles, 8 for singles). */
export function floatHex(values: Float32Array | Float64Array): string[] {
  const view = new DataView(values.buffer, values.byteOffset, values.byteLength);
  const out: string[] = [];
  if (values instanceof Float32Array) {
    for (let i = 0; i < values.length; i++) out.push(wordHex(view.getUint32(4 * i, true)));
  } else {
    for (let i = 0; i < values.length; i++) {
      out.push(wordHex(view.getUint32(8 * i + 4, true)) + wordHex(view.getUint32(8 * i, true)));
    }
  }
  return out;
}

/** The double whose IEEE bit pattern is the 16 hex digits `hex`. */
export function doubleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(8));
  view.setUint32(0, parseInt(hex.slice(0, 8), 16));
  view.setUint32(4, parseInt(hex.slice(8), 16));
  return view.getFloat64(0);
}

/** The single whose IEEE bit pattern is the 8 hex digits `hex`, as a number. */
export function singleFromHex(hex: string): number {
  const view = new DataView(new ArrayBuffer(4));
  view.setUint32(0, parseInt(hex, 16));
  return view.getFloat32(0);
}

/** The record of one slice, computed with `api`. */
export function goldenRecord(api: RandomApi, slice: GoldenSlice): GoldenRecord {
  const { seed, stream, start, count } = slice;
  const signs = api.fillRademacher(new Int8Array(count), seed, stream, start);
  return {
    seed,
    stream,
    start,
    count,
    bits: Array.from(api.fillBits(new Uint32Array(count), seed, stream, start), wordHex),
    normal64: floatHex(api.fillNormal(new Float64Array(count), seed, stream, start)),
    normal32: floatHex(api.fillNormal(new Float32Array(count), seed, stream, start)),
    normalFloat32: floatHex(api.fillNormalFloat32(new Float32Array(count), seed, stream, start)),
    uniform64: floatHex(api.fillUniform(new Float64Array(count), seed, stream, start)),
    uniform32: floatHex(api.fillUniform(new Float32Array(count), seed, stream, start)),
    exponential64: floatHex(api.fillExponential(new Float64Array(count), seed, stream, start)),
    rademacher: Array.from(signs, (s) => (s === 1 ? "+" : "-")).join(""),
  };
}

/** The records of every slice. */
export function goldenRecords(api: RandomApi, slices: readonly GoldenSlice[]): GoldenRecord[] {
  return slices.map((slice) => goldenRecord(api, slice));
}

/** A fill with the signature of `fillNormal` (e.g. `FastRandom.fillNormal`). */
export type NormalFill = <T extends Float32Array | Float64Array>(
  out: T,
  seed: number,
  stream: number,
  startIndex?: number,
) => T;

/**
 * The slice's normal samples (float64 and float32 hex) taken from the middle of a larger fill
 * around it: a fill that starts at an even index and whose length is a multiple of 16, so a
 * fast path computes every sample of the slice itself rather than handing the ends back to
 * `fillNormal`.
 */
export function normalFromWindow(
  fill: NormalFill,
  slice: GoldenSlice,
): { normal64: string[]; normal32: string[] } {
  const limit = 2 ** 53;
  const count = Math.ceil((slice.count + 256) / 16) * 16;
  let start = Math.max(0, 2 * Math.floor((slice.start - 128) / 2));
  if (start + count > limit) start = limit - count;
  const offset = slice.start - start;
  const pick = (values: Float32Array | Float64Array) =>
    floatHex(values.subarray(offset, offset + slice.count));
  return {
    normal64: pick(fill(new Float64Array(count), slice.seed, slice.stream, start)),
    normal32: pick(fill(new Float32Array(count), slice.seed, slice.stream, start)),
  };
}

/**
 * The slice's float32-native normal samples (hex) taken from the middle of a larger fill around
 * it: a fill that starts at a multiple of 4 and whose length is a multiple of 32, so a fast path
 * computes every sample of the slice itself rather than handing the ends back to
 * `fillNormalFloat32`.
 */
export function normalFloat32FromWindow(fill: NormalFill, slice: GoldenSlice): string[] {
  const limit = 2 ** 53;
  const count = Math.ceil((slice.count + 512) / 32) * 32;
  let start = Math.max(0, 4 * Math.floor((slice.start - 256) / 4));
  if (start + count > limit) start = limit - count;
  const offset = slice.start - start;
  const values = fill(new Float32Array(count), slice.seed, slice.stream, start);
  return floatHex(values.subarray(offset, offset + slice.count));
}
