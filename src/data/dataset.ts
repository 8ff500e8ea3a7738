/**
 * Tabular classification data sets: a dense row-major feature matrix and integer class labels,
 * with the preprocessing every benchmark needs (standardization, a seeded train/test split,
 * row subsets) and a loader for a user's own CSV files.
 */
import { InvalidArgumentError, ShapeMismatchError } from "../errors.js";
import { checkKnownOptions, checkNumber } from "../optim/validate.js";
import { randomBits } from "../random/philox.js";

/** A classification data set held in memory. */
export interface Dataset {
  /** Row-major features: row i is `features.subarray(i * cols, (i + 1) * cols)`. */
  features: Float64Array;
  /** Class of each row, in `0 … classes − 1`. */
  labels: Int32Array;
  /** Number of examples. */
  rows: number;
  /** Number of features per example. */
  cols: number;
  /** Number of classes. */
  classes: number;
  /** Name of each class, indexed by label, when known. */
  classNames?: string[];
}

function checkDataset(owner: string, ds: Dataset): void {
  if (
    !(ds.features instanceof Float64Array) ||
    !(ds.labels instanceof Int32Array) ||
    ds.features.length !== ds.rows * ds.cols ||
    ds.labels.length !== ds.rows
  ) {
    throw new ShapeMismatchError(
      `${owner}: dataset needs Float64Array features of rows × cols and Int32Array labels of rows`,
    );
  }
}

/** The rows `indices` of `ds`, in that order (a copy). */
export function subset(ds: Dataset, indices: ArrayLike<number>): Dataset {
  checkDataset("subset", ds);
  const features = new Float64Array(indices.length * ds.cols);
  const labels = new Int32Array(indices.length);
  for (let k = 0; k < indices.length; k++) {
    const row = indices[k];
    if (!Number.isInteger(row) || row < 0 || row >= ds.rows) {
      throw new InvalidArgumentError("subset", `indices[${k}]`, row, `a row index in [0, ${ds.rows})`);
    }
    features.set(ds.features.subarray(row * ds.cols, (row + 1) * ds.cols), k * ds.cols);
    labels[k] = ds.labels[row];
  }
  const out: Dataset = { features, labels, rows: indices.length, cols: ds.cols, classes: ds.classes };
  if (ds.classNames) out.classNames = [...ds.classNames];
  return out;
}

/**
 * Rescales every feature column to mean 0 and standard deviation 1, with the mean and (population)
 * standard deviation measured on `reference` (default `ds` itself). Pass the training set as
 * `reference` when standardizing a test set, so both see the same transformation. Constant
 * columns are centred and left unscaled.
 */
export function standardize(ds: Dataset, reference: Dataset = ds): Dataset {
  checkDataset("standardize", ds);
  checkDataset("standardize", reference);
  if (reference.cols !== ds.cols) {
    throw new ShapeMismatchError(
      `standardize: reference has ${reference.cols} columns, the data set ${ds.cols}`,
    );
  }
  if (reference.rows === 0) {
    throw new InvalidArgumentError("standardize", "reference", "0 rows", "a data set with rows");
  }
  const { cols } = ds;
  const mean = new Float64Array(cols);
  const scale = new Float64Array(cols);
  for (let i = 0; i < reference.rows; i++) {
    for (let j = 0; j < cols; j++) mean[j] += reference.features[i * cols + j];
  }
  for (let j = 0; j < cols; j++) mean[j] /= reference.rows;
  for (let i = 0; i < reference.rows; i++) {
    for (let j = 0; j < cols; j++) {
      const d = reference.features[i * cols + j] - mean[j];
      scale[j] += d * d;
    }
  }
  for (let j = 0; j < cols; j++) {
    const sd = Math.sqrt(scale[j] / reference.rows);
    scale[j] = sd > 0 ? 1 / sd : 1;
  }
  const features = new Float64Array(ds.features.length);
  for (let i = 0; i < ds.rows; i++) {
    for (let j = 0; j < cols; j++) {
      features[i * cols + j] = (ds.features[i * cols + j] - mean[j]) * scale[j];
    }
  }
  const out: Dataset = { ...ds, features, labels: ds.labels.slice() };
  if (ds.classNames) out.classNames = [...ds.classNames];
  return out;
}

/**
 * A seeded random permutation of `0 … length − 1` (Fisher–Yates). Step i (from `length − 1` down
 * to 1) swaps position i with position j = ⌊w·(i + 1) / 2³²⌋, where w is 32-bit word i of the
 * Philox stream (seed, stream); the product stays below 2⁵³, so j is exact, and the result is the
 * same on every platform.
 */
export function permutation(length: number, seed: number, stream = 0): Int32Array {
  checkNumber("permutation", "length", length, { integer: true, min: 0 });
  checkNumber("permutation", "seed", seed, { integer: true, min: 0 });
  checkNumber("permutation", "stream", stream, { integer: true, min: 0 });
  const order = new Int32Array(length);
  for (let i = 0; i < length; i++) order[i] = i;
  for (let i = length - 1; i > 0; i--) {
    const j = Math.floor((randomBits(seed, stream, i) * (i + 1)) / 4294967296);
    const held = order[i];
    order[i] = order[j];
    order[j] = held;
  }
  return order;
}

/** The two parts of a {@link trainTestSplit}. */
export interface TrainTestSplit {
  /** The training rows, in their original order. */
  train: Dataset;
  /** The held-out rows, in their original order. */
  test: Dataset;
}

/**
 * Splits `ds` into training and test rows: the test set is the first round(rows · testFraction)
 * entries of {@link permutation}(rows, seed); both parts keep the original row order. The same
 * seed always gives the same split.
 */
export function trainTestSplit(ds: Dataset, testFraction: number, seed: number): TrainTestSplit {
  checkDataset("trainTestSplit", ds);
  checkNumber("trainTestSplit", "testFraction", testFraction, { above: 0, below: 1 });
  checkNumber("trainTestSplit", "seed", seed, { integer: true, min: 0 });
  const testRows = Math.round(ds.rows * testFraction);
  if (testRows === 0 || testRows === ds.rows) {
    throw new InvalidArgumentError(
      "trainTestSplit",
      "testFraction",
      testFraction,
      `a fraction leaving both parts non-empty for ${ds.rows} rows`,
    );
  }
  const order = permutation(ds.rows, seed);
  const test = order.slice(0, testRows).sort();
  const train = order.slice(testRows).sort();
  return { train: subset(ds, train), test: subset(ds, test) };
}

/** Options of {@link loadCsvDataset} and {@link parseCsvDataset}. */
export interface CsvDatasetOptions {
  /** Column holding the class label; negative counts from the end (default −1, the last). */
  labelColumn?: number;
  /**
   * Whether the first line is a header to skip. Default: it is when one of its fields is not a
   * number.
   */
  header?: boolean;
  /** Field separator (default `","`). */
  delimiter?: string;
  /**
   * Class names indexed by label; the number of classes is then their count. Default: classes
   * is the largest label + 1, without names.
   */
  classNames?: string[];
}

/** {@link CsvDatasetOptions} plus where the text came from, for error messages. */
export interface CsvTextOptions extends CsvDatasetOptions {
  /** Name of the source in error messages (default `"CSV"`). */
  source?: string;
  /** Lines of the source before `text`, so messages cite the source's line numbers (default 0). */
  lineOffset?: number;
}

/** Option names accepted by the CSV loaders. */
export const CSV_OPTIONS: readonly string[] = ["labelColumn", "header", "delimiter", "classNames"];

function parseNumber(field: string): number {
  const trimmed = field.trim();
  return trimmed === "" ? NaN : Number(trimmed);
}

/**
 * Parses CSV text of numeric columns, one example per line, into a {@link Dataset}. Blank lines
 * are skipped. Malformed input throws an error naming the source, the line and the column
 * (1-based), e.g. `digits.csv:12: column 3 is "x1", not a number`.
 */
export function parseCsvDataset(text: string, options: CsvTextOptions = {}): Dataset {
  const owner = "parseCsvDataset";
  checkKnownOptions(owner, options, [...CSV_OPTIONS, "source", "lineOffset"]);
  const source = options.source ?? "CSV";
  const delimiter = options.delimiter ?? ",";
  if (typeof delimiter !== "string" || delimiter.length === 0) {
    throw new InvalidArgumentError(owner, "delimiter", delimiter, "a non-empty string");
  }
  const lineOffset = checkNumber(owner, "lineOffset", options.lineOffset ?? 0, {
    integer: true,
    min: 0,
  });
  const labelOption = checkNumber(owner, "labelColumn", options.labelColumn ?? -1, {
    integer: true,
  });
  const classNames = options.classNames;
  if (classNames !== undefined && (!Array.isArray(classNames) || classNames.length === 0)) {
    throw new InvalidArgumentError(owner, "classNames", classNames, "a non-empty array of names");
  }

  const lines = text.split(/\r?\n/);
  let first = lines.findIndex((line) => line.trim() !== "");
  if (first < 0) throw new Error(`${source}: no data rows`);
  const firstFields = lines[first].split(delimiter);
  const header = options.header ?? firstFields.some((f) => Number.isNaN(parseNumber(f)));
  if (header) first++;

  let width = -1;
  let labelColumn = -1;
  const values: number[] = [];
  const labels: number[] = [];
  for (let n = first; n < lines.length; n++) {
    const line = lines[n];
    if (line.trim() === "") continue;
    const where = `${source}:${n + 1 + lineOffset}`;
    const fields = line.split(delimiter);
    if (width < 0) {
      width = fields.length;
      labelColumn = labelOption < 0 ? width + labelOption : labelOption;
      if (width < 2 || labelColumn < 0 || labelColumn >= width) {
        throw new Error(
          `${where}: ${width} field(s) leave no feature beside label column ${labelOption}`,
        );
      }
    } else if (fields.length !== width) {
      throw new Error(`${where}: expected ${width} fields like the first row, found ${fields.length}`);
    }
    for (let c = 0; c < width; c++) {
      const value = parseNumber(fields[c]);
      if (c === labelColumn) {
        if (!Number.isInteger(value) || value < 0) {
          throw new Error(
            `${where}: column ${c + 1} (the label) is ${JSON.stringify(fields[c])}, not a class index 0, 1, 2, …`,
          );
        }
        if (classNames && value >= classNames.length) {
          throw new Error(
            `${where}: column ${c + 1} (the label) is ${value}, but only ${classNames.length} class names were given`,
          );
        }
        labels.push(value);
      } else {
        if (!Number.isFinite(value)) {
          throw new Error(`${where}: column ${c + 1} is ${JSON.stringify(fields[c])}, not a number`);
        }
        values.push(value);
      }
    }
  }
  if (labels.length === 0) throw new Error(`${source}: no data rows`);
  let largest = 0;
  for (const label of labels) largest = Math.max(largest, label);
  const classes = classNames ? classNames.length : largest + 1;
  const ds: Dataset = {
    features: Float64Array.from(values),
    labels: Int32Array.from(labels),
    rows: labels.length,
    cols: width - 1,
    classes,
  };
  if (classNames) ds.classNames = [...classNames];
  return ds;
}
