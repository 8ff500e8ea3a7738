/**
 * The digits perceptron: descend's standard small non-convex benchmark. Node.js only, because it
 * reads the bundled data file; in a browser build {@link mlpClassifier} on a parsed data set.
 */
import { loadDigits } from "../../data/digits.js";
import type { MlpObjective, MlpOptions } from "./mlp.js";
import { mlpClassifier } from "./mlp.js";

/** Options of {@link digitsMlp}. */
export type DigitsMlpOptions = MlpOptions;

/** The perceptron 64 → hidden → 10 on the UCI digits ({@link loadDigits}). */
export async function digitsMlp(options: DigitsMlpOptions = {}): Promise<MlpObjective> {
  return mlpClassifier(loadDigits(), options);
}
