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

/** Keys of the measurements that hold wall-clock times, which differ from run to run. */
const TIME_KEYS = new Set([
  "trainingMs",
  "msPerStep",
  "meanTrainingMs",
  "timeRatio",
  "costPerStep",
]);

/** `value` with every wall-clock time removed, for comparing two runs bit for bit. */
export function withoutTimes(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutTimes);
  if (typeof value === "object" && value !== null) {
    return Object.fromEntries(
      Object.entries(value)
        .filter(([key]) => !TIME_KEYS.has(key))
        .map(([key, v]) => [key, withoutTimes(v)]),
    );
  }
  return value;
}
