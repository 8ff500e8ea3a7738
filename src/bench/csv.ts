/**
 * A user's own data as a benchmark problem (`descend bench --data file.csv`): logistic regression
 * when the file has two classes, softmax regression otherwise, on standardized features with the
 * same L2 penalty as the built-in linear problems. The file is read once, when the first run of
 * the problem starts; a file that cannot be read or parsed fails each run of the problem with the
 * loader's message (file, line and column), and the other problems go on.
 */
import { basename } from "node:path";
import type { CsvDatasetOptions, Dataset } from "../data/dataset.js";
import type { BenchProblem } from "./problems.js";
import { LINEAR_CLASSIFIER_RATES, LINEAR_L2, instanceOf } from "./problems.js";

/** Options of {@link csvProblem}: how to read the file. */
export type CsvProblemOptions = CsvDatasetOptions;

/** Steps of a run on a user's data set. */
export const CSV_STEPS = 300;

/** The problem name for a data file: `csv:` and the file's name. */
export function csvProblemName(path: string): string {
  return `csv:${basename(path)}`;
}

/**
 * The benchmark problem of the CSV file at `path` (read with `loadCsvDataset` and `options`,
 * then standardized). It has no target loss and no known optimum.
 */
export function csvProblem(path: string, options: CsvProblemOptions = {}): BenchProblem {
  let pending: Promise<Dataset> | undefined;
  const dataset = (): Promise<Dataset> => {
    pending ??= (async () => {
      const [{ loadCsvDataset }, { standardize }] = await Promise.all([
        import("../data/files.js"),
        import("../data/dataset.js"),
      ]);
      return standardize(loadCsvDataset(path, options));
    })();
    return pending;
  };
  return {
    name: csvProblemName(path),
    description: `your data ${basename(path)}: logistic regression for 2 classes, softmax regression for more, standardized features, L2 penalty ${LINEAR_L2}`,
    kind: "classification",
    defaultSteps: CSV_STEPS,
    seeded: false,
    oracles: ["value", "valueAndGrad", "hvp"],
    learningRates: LINEAR_CLASSIFIER_RATES,
    async create() {
      const data = await dataset();
      if (data.classes < 2) {
        throw new RangeError(
          `${basename(path)}: found ${data.classes} class; classification needs at least 2 (labels 0, 1, …)`,
        );
      }
      if (data.classes === 2) {
        const { logisticRegression } = await import("../oracles/problems/logistic.js");
        return instanceOf(logisticRegression(data, { l2: LINEAR_L2 }));
      }
      const { softmaxRegression } = await import("../oracles/problems/softmax.js");
      return instanceOf(softmaxRegression(data, { l2: LINEAR_L2 }));
    },
  };
}
