/**
 * The bundled text corpus (Node.js only: it reads a file; in a browser, fetch the text and pass
 * it to the character-level model directly).
 */
import { readTextFile } from "./files.js";

/**
 * The tiny Shakespeare corpus shipped as `data/tinyshakespeare.txt`: about 40,000 lines of
 * Shakespeare's plays (1,115,394 characters, 65 distinct), the usual small data set for
 * character-level language models. Each call reads the file afresh.
 */
export function loadTinyShakespeare(): string {
  // Resolves against this module, so it finds the data from both the sources and the build.
  return readTextFile(new URL("../../data/tinyshakespeare.txt", import.meta.url));
}
