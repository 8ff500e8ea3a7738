/**
 * Character vocabularies for character-level language models: every distinct character of a text
 * gets an integer id, in code-point order, so the same text always gives the same ids.
 */
import { InvalidArgumentError } from "../errors.js";

/** The characters of a text and the maps between strings and ids. */
export interface CharVocabulary {
  /** The distinct characters (Unicode code points), sorted by code point; id i is `chars[i]`. */
  chars: string[];
  /** The ids of the characters of `text`; throws on a character outside the vocabulary. */
  encode(text: string): Int32Array;
  /** The text spelled by `ids`; throws on an id outside `0 … chars.length − 1`. */
  decode(ids: ArrayLike<number>): string;
}

/**
 * The vocabulary of `text`: its distinct code points in increasing order (so a surrogate pair
 * is one character).
 *
 * @example
 * ```ts
 * const vocab = charVocabulary("hello");
 * vocab.chars; // ["e", "h", "l", "o"]
 * vocab.decode(vocab.encode("hole")); // "hole"
 * ```
 */
export function charVocabulary(text: string): CharVocabulary {
  if (typeof text !== "string" || text.length === 0) {
    throw new InvalidArgumentError("charVocabulary", "text", text, "a non-empty string");
  }
  const chars = [...new Set(text)].sort((a, b) => a.codePointAt(0)! - b.codePointAt(0)!);
  const ids = new Map<string, number>();
  chars.forEach((c, i) => ids.set(c, i));
  return {
    chars,
    encode(s) {
      // Code points never outnumber UTF-16 units, so s.length bounds the count.
      const out = new Int32Array(s.length);
      let count = 0;
      for (const c of s) {
        const id = ids.get(c);
        if (id === undefined) {
          throw new InvalidArgumentError(
            "charVocabulary.encode",
            "text",
            c,
            `made of the vocabulary's ${chars.length} characters`,
          );
        }
        out[count++] = id;
      }
      return count === s.length ? out : out.slice(0, count);
    },
    decode(list) {
      let s = "";
      for (let i = 0; i < list.length; i++) {
        const id = list[i];
        if (!Number.isInteger(id) || id < 0 || id >= chars.length) {
          throw new InvalidArgumentError(
            "charVocabulary.decode",
            `ids[${i}]`,
            id,
            `an id in [0, ${chars.length})`,
          );
        }
        s += chars[id];
      }
      return s;
    },
  };
}
