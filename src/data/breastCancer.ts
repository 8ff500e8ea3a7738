/**
 * The UCI "Breast Cancer Wisconsin (Diagnostic)" data set (W. Wolberg, W. Street,
 * O. Mangasarian; CC BY 4.0), shipped in the package as `data/breast_cancer.csv`: a header line
 * `rows,features,name of class 0,name of class 1`, then 569 rows of 30 real features and the
 * label (0 = malignant, 1 = benign).
 */
import type { Dataset } from "./dataset.js";
import { parseCsvDataset } from "./dataset.js";
import { readTextFile } from "./files.js";

/**
 * Loads the 569 examples, 30 raw (unscaled) features each, 2 classes named from the header
 * (`["malignant", "benign"]`). The features span several orders of magnitude, so most
 * optimizers want them standardized first (`standardize` in dataset.ts). Each call returns arrays the caller owns.
 */
export function loadBreastCancer(): Dataset {
  const source = "breast_cancer.csv";
  // Resolves against this module, so it finds the data from both the sources and the build.
  const text = readTextFile(new URL("../../data/breast_cancer.csv", import.meta.url));
  const newline = text.indexOf("\n");
  const header = text.slice(0, newline < 0 ? text.length : newline).trim().split(",");
  const rows = Number(header[0]);
  const cols = Number(header[1]);
  const classNames = header.slice(2).map((name) => name.trim());
  if (!Number.isInteger(rows) || !Number.isInteger(cols) || classNames.length < 2) {
    throw new Error(
      `${source}:1: expected a header "rows,features,class names…", found ${JSON.stringify(header.join(","))}`,
    );
  }
  const ds = parseCsvDataset(newline < 0 ? "" : text.slice(newline + 1), {
    source,
    lineOffset: 1,
    header: false,
    classNames,
  });
  if (ds.rows !== rows || ds.cols !== cols) {
    throw new Error(
      `${source}: the header announces ${rows} rows of ${cols} features, the file holds ${ds.rows} of ${ds.cols}`,
    );
  }
  return ds;
}
