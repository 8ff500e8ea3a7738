/**
 * The character-level transformer on tiny Shakespeare: descend's language-model benchmark.
 * Node.js only, because it reads the bundled text; in a browser build {@link charTransformer} on
 * text you fetched.
 */
import { loadTinyShakespeare } from "../../data/text.js";
import type { CharTransformerObjective, CharTransformerOptions } from "./charTransformer.js";
import { charTransformer } from "./charTransformer.js";

/** Options of {@link shakespeareTransformer}. */
export type ShakespeareTransformerOptions = CharTransformerOptions;

/**
 * {@link charTransformer} on {@link loadTinyShakespeare} (65 characters; 90% of the text for
 * training, the last 10% held out), named `shakespeare-transformer` unless `name` is given.
 */
export async function shakespeareTransformer(
  options: ShakespeareTransformerOptions = {},
): Promise<CharTransformerObjective> {
  return charTransformer(loadTinyShakespeare(), { name: "shakespeare-transformer", ...options });
}
