/**
 * Helpers the benchmark scripts share: the median of timing samples and the reading of size
 * arguments such as `64K` or `16M`.
 */
export { median } from "../src/reproduce/common.js";

/**
 * A size written as digits with an optional `K` (×1024) or `M` (×2^20) suffix, any case.
 * @param flag - the command-line option it came from, for the error message
 * @throws RangeError naming `flag` and the text when it cannot be read
 */
export function parseSize(flag: string, text: string): number {
  const match = /^(\d+)([kKmM]?)$/.exec(text.trim());
  if (!match) throw new RangeError(`${flag}: cannot read ${JSON.stringify(text)} (e.g. 64K or 1M)`);
  const suffix = match[2].toLowerCase();
  const unit = suffix === "m" ? 2 ** 20 : suffix === "k" ? 1024 : 1;
  return Number(match[1]) * unit;
}
