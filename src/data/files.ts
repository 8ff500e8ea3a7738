/**
 * Reading data sets from files (Node.js only; the rest of descend also runs in browsers, where
 * data arrives as text through `parseCsvDataset`).
 */
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import { checkKnownOptions } from "../optim/validate.js";
import type { CsvDatasetOptions, Dataset } from "./dataset.js";
import { CSV_OPTIONS, parseCsvDataset } from "./dataset.js";

/** The text of a file, gunzipped when its name ends in `.gz`. */
export function readTextFile(path: string | URL): string {
  const bytes = readFileSync(path);
  const name = typeof path === "string" ? path : path.pathname;
  return (name.endsWith(".gz") ? gunzipSync(bytes) : bytes).toString("utf8");
}

function fileName(path: string | URL): string {
  const full = typeof path === "string" ? path : decodeURIComponent(path.pathname);
  return full.slice(full.lastIndexOf("/") + 1);
}

/**
 * Loads a CSV file (gzip-compressed when its name ends in `.gz`) of numeric columns, one
 * example per line, the class label in the last column unless `labelColumn` says otherwise.
 *
 * @example
 * ```ts
 * const ds = loadCsvDataset("iris.csv", { header: true, classNames: ["setosa", "versicolor", "virginica"] });
 * const { train, test } = trainTestSplit(standardize(ds), 0.2, 0);
 * ```
 */
export function loadCsvDataset(path: string | URL, options: CsvDatasetOptions = {}): Dataset {
  checkKnownOptions("loadCsvDataset", options, CSV_OPTIONS);
  return parseCsvDataset(readTextFile(path), { ...options, source: fileName(path) });
}
