/**
 * Writes test/fixtures/random-golden.json: the exact bits of the random layer's outputs (Philox
 * words, Gaussian, uniform and exponential samples in float64 and float32, the float32-native
 * Gaussian sequence, Rademacher signs) for a handful of (seed, stream, start, count) slices.
 *
 * The file pins the outputs down: the tests check that Node.js and headless Chromium reproduce
 * it bit for bit, and, independently of this implementation, that each value follows from the
 * Philox words by the documented formula. Regenerate it only when the outputs are meant to
 * change (every seeded result changes with them):
 *
 *     npx tsx scripts/random-golden.ts
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import {
  fillExponential,
  fillNormal,
  fillRademacher,
  fillUniform,
} from "../src/random/distributions.js";
import { fillNormalFloat32 } from "../src/random/normalFloat32.js";
import { fillBits } from "../src/random/philox.js";
import { GOLDEN_SLICES, goldenRecords } from "../test/random/golden.js";

const target = fileURLToPath(new URL("../test/fixtures/random-golden.json", import.meta.url));

const records = goldenRecords(
  { fillBits, fillNormal, fillNormalFloat32, fillUniform, fillExponential, fillRademacher },
  GOLDEN_SLICES,
);

const file = {
  format_version: 1,
  generator: "scripts/random-golden.ts",
  notes:
    "Outputs of descend's random layer for each slice (elements start .. start+count-1 of stream " +
    "(seed, stream)). Floats are IEEE-754 bit patterns in hex, most significant digit first " +
    "(16 digits for float64, 8 for float32); bits are Philox4x32-10 words; rademacher is one " +
    "'+' or '-' per element. Mapping: key = [seed mod 2^32, floor(seed / 2^32)], word w is " +
    "output[w mod 4] of the block with counter [b mod 2^32, floor(b / 2^32), stream mod 2^32, " +
    "floor(stream / 2^32)], b = floor(w / 4). Normal pair j (elements 2j, 2j+1) uses block j: " +
    "u1 = ((x0 >>> 5) 2^26 + (x1 >>> 6) + 1) 2^-53, u2 = ((x2 >>> 5) 2^26 + (x3 >>> 6)) 2^-53, " +
    "r = sqrt(-2 ln u1), z = r cos(2 pi u2), r sin(2 pi u2). normalFloat32 element i uses block " +
    "floor(i / 4), words (a, c) = (x0, x1) for i mod 4 in {0, 1}, (x2, x3) for {2, 3}: " +
    "u1 = ((a >>> 8) + 1) 2^-24, u2 = (c >>> 8) 2^-24, z = r cos(2 pi u2) for even i, " +
    "r sin(2 pi u2) for odd i, every operation in float32 arithmetic with the float32 log, sin " +
    "and cos of src/random/portableMathFloat32.ts. Uniform element i uses words 2i, " +
    "2i+1: float64 ((a >>> 5) 2^26 + (b >>> 6)) 2^-53, float32 (a >>> 8) 2^-24. Exponential " +
    "-ln u with u = ((a >>> 5) 2^26 + (b >>> 6) + 1) 2^-53. Rademacher element i is -1 where " +
    "bit (i mod 32) of word floor(i / 32) is set.",
  records,
};

writeFileSync(target, `${JSON.stringify(file, null, 1)}\n`);
console.log(`wrote ${records.length} slices to ${target}`);
