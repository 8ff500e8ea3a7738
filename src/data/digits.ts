/**
 * The UCI "Optical Recognition of Handwritten Digits" data set (E. Alpaydin, C. Kaynak; CC BY
 * 4.0), shipped in the package as `data/digits.csv.gz`: 1797 images of 8×8 grey levels 0–16,
 * each row 64 pixel values then the digit 0–9.
 */
import type { Dataset } from "./dataset.js";
import { parseCsvDataset } from "./dataset.js";
import { readTextFile } from "./files.js";

/** Number of pixels per image (8 × 8). */
export const DIGITS_PIXELS = 64;

/** The largest grey level in the raw data. */
const GREY_LEVELS = 16;

/**
 * Loads the 1797 digits with pixel values scaled to [0, 1] (divided by 16), 10 classes named
 * `"0"` … `"9"`. Each call reads the file afresh and returns arrays the caller owns.
 */
export function loadDigits(): Dataset {
  // Resolves against this module, so it finds the data from both the sources and the build.
  const url = new URL("../../data/digits.csv.gz", import.meta.url);
  const ds = parseCsvDataset(readTextFile(url), {
    source: "digits.csv.gz",
    header: false,
    classNames: ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"],
  });
  if (ds.cols !== DIGITS_PIXELS) {
    throw new Error(`digits.csv.gz: expected ${DIGITS_PIXELS} pixel columns, found ${ds.cols}`);
  }
  for (let i = 0; i < ds.features.length; i++) ds.features[i] /= GREY_LEVELS;
  return ds;
}
