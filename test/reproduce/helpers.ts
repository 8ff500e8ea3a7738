// Runs `descend reproduce` in-process with its output captured.
import { Writable } from "node:stream";
import { reproduceCommand } from "../../src/reproduce/cli.js";

/** A writable stream that keeps what is written to it. */
function collector(): { stream: Writable; text: () => string } {
  let text = "";
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  return { stream, text: () => text };
}

/** Runs `descend reproduce` with `args` and returns its exit code and output. */
export async function reproduce(
  args: string[],
): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = collector();
  const stderr = collector();
  const code = await reproduceCommand(args, { stdout: stdout.stream, stderr: stderr.stream });
  return { code, stdout: stdout.text(), stderr: stderr.text() };
}
