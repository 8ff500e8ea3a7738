/**
 * `descend reproduce`: runs a named reproduction of a paper's headline claim, prints what was
 * measured and whether the claim held at this scale, and writes the measurements as JSON.
 */
import { mkdir, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { collectEnvironment, defaultReportDir } from "../report/write.js";
import type { Claim, Reproduction } from "./claims.js";
import { claims, findClaim } from "./claims.js";

/** Exit status of a command-line mistake (bad option, unknown claim). */
const EXIT_USAGE = 2;

/** Largest accepted `--seed` (the seeds of a run count up from it). */
const MAX_SEED = 0xffffffff;

/** The text of `descend reproduce --help`. */
export function reproduceHelp(): string {
  const width = Math.max(...claims.map((c) => c.name.length));
  const list = claims.map((c) => `  ${c.name.padEnd(width)}  ${c.status}`).join("\n");
  return `Usage:
  descend reproduce --list
  descend reproduce <claim> [--quick] [--seed S] [--out DIR]

Runs a small-scale reproduction of a paper's headline claim: the method and its baseline get
the same tuning budget (learning-rate grid size, seeds, steps) and the same criterion picks
each one's best setting. Prints the claim, what was measured, and whether the claim held at
this scale (held, did not hold or inconclusive), and writes the measurements to
DIR/<claim>.json. A claim that cannot be run yet says what it waits for.

Options:
  -l, --list      list the claims with their status and paper
  -q, --quick     the tiny version (seconds): fewer learning rates, seeds and steps
  -s, --seed S    base seed of every random choice, an integer in [0, 2^32) (default 0)
      --out DIR   where to write <claim>.json (default: reports/reproduce/<UTC timestamp>)
  -h, --help      show this help

Claims:
${list}

Exit status: 0 when the reproduction ran (whatever its verdict) or the claim is not yet
implementable, 1 when it failed with an error, ${EXIT_USAGE} for a command-line mistake.
`;
}

/** `text` broken into lines of at most `width` characters (longer words stand alone). */
function wrap(text: string, indent: string, width = 96): string {
  const lines: string[] = [];
  let line = "";
  for (const word of text.split(/\s+/)) {
    if (line !== "" && indent.length + line.length + 1 + word.length > width) {
      lines.push(indent + line);
      line = word;
    } else {
      line = line === "" ? word : `${line} ${word}`;
    }
  }
  if (line !== "") lines.push(indent + line);
  return lines.join("\n");
}

/** The text of `descend reproduce --list`. */
function listClaims(): string {
  return claims
    .map((c) => `${c.name}  [${c.status}]\n${wrap(c.paper, "  ")}\n${wrap(c.claim, "  ")}\n`)
    .join("\n");
}

function header(claim: Claim): string {
  return (
    `${claim.name}: ${claim.status}\n` +
    `${wrap(`Paper: ${claim.paper}`, "")}\n${wrap(`Claim: ${claim.claim}`, "")}\n`
  );
}

function knownClaims(): string {
  return claims.map((c) => c.name).join(", ");
}

async function writeJson(dir: string, name: string, record: unknown): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.json`);
  const partial = `${path}.partial`;
  await writeFile(partial, `${JSON.stringify(record, null, 2)}\n`, "utf8");
  await rename(partial, path);
  return path;
}

interface Parsed {
  readonly help: boolean;
  readonly list: boolean;
  readonly quick: boolean;
  readonly seed: number;
  readonly out?: string;
  readonly claim?: string;
}

/** A mistake on the command line. */
class UsageError extends Error {}

function parse(args: readonly string[]): Parsed {
  let parsed;
  try {
    parsed = parseArgs({
      args: [...args],
      options: {
        list: { type: "boolean", short: "l" },
        quick: { type: "boolean", short: "q" },
        seed: { type: "string", short: "s" },
        out: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      strict: true,
      allowPositionals: true,
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const v = parsed.values;
  if (parsed.positionals.length > 1) {
    throw new UsageError(`one claim at a time, got ${parsed.positionals.join(" ")}`);
  }
  let seed = 0;
  if (v.seed !== undefined) {
    const text = v.seed.trim();
    seed = /^\d+$/.test(text) ? Number(text) : NaN;
    if (!Number.isSafeInteger(seed) || seed > MAX_SEED) {
      throw new UsageError(
        `--seed must be an integer in [0, ${MAX_SEED}], got ${JSON.stringify(v.seed)}`,
      );
    }
  }
  if (v.out !== undefined && v.out.trim() === "") throw new UsageError("--out needs a directory");
  return {
    help: v.help === true,
    list: v.list === true,
    quick: v.quick === true,
    seed,
    ...(v.out === undefined ? {} : { out: v.out }),
    ...(parsed.positionals[0] === undefined ? {} : { claim: parsed.positionals[0] }),
  };
}

/**
 * Runs `descend reproduce` with `args` (the words after `reproduce`).
 * @returns the exit status: 0 when the reproduction ran or the claim is not yet implementable,
 *   1 on an error while running, 2 for a command-line mistake (an unknown claim among them)
 */
export async function reproduceCommand(
  args: string[],
  io: { stdout: NodeJS.WritableStream; stderr: NodeJS.WritableStream },
): Promise<number> {
  let parsed: Parsed;
  try {
    parsed = parse(args);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend reproduce: ${message}\nRun "descend reproduce --help" for usage.\n`);
    return EXIT_USAGE;
  }
  if (parsed.help) {
    io.stdout.write(reproduceHelp());
    return 0;
  }
  if (parsed.list) {
    io.stdout.write(listClaims());
    return 0;
  }
  if (parsed.claim === undefined) {
    io.stderr.write(
      `descend reproduce: name a claim to reproduce; known claims: ${knownClaims()}\n` +
        `Run "descend reproduce --list" to see them with their papers.\n`,
    );
    return EXIT_USAGE;
  }
  const claim = findClaim(parsed.claim);
  if (claim === undefined) {
    io.stderr.write(
      `descend reproduce: unknown claim ${JSON.stringify(parsed.claim)}; known claims: ${knownClaims()}\n`,
    );
    return EXIT_USAGE;
  }

  io.stdout.write(header(claim));
  if (claim.status === "not yet implementable") {
    io.stdout.write(`${wrap(`Waits for: ${claim.waitsFor}.`, "")}\n`);
    return 0;
  }

  const startedAt = new Date();
  const dir = parsed.out ?? defaultReportDir(startedAt, join("reports", "reproduce"));
  try {
    // Made up front, so an unwritable place fails before minutes of training.
    await mkdir(dir, { recursive: true });
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend reproduce: cannot write the measurements to ${dir}: ${message}\n`);
    return 1;
  }
  const clock = performance.now();
  io.stdout.write(
    `\nRunning the ${parsed.quick ? "quick" : "full"} reproduction with seed ${parsed.seed} ` +
      "(progress on stderr)...\n\n",
  );
  let result: Reproduction;
  try {
    result = await claim.run({
      quick: parsed.quick,
      seed: parsed.seed,
      progress: (line) => io.stderr.write(`  ${line}\n`),
    });
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    io.stderr.write(`descend reproduce ${claim.name}: failed: ${message}\n`);
    return 1;
  }
  const wallMs = performance.now() - clock;
  io.stdout.write(result.report);
  io.stdout.write(`\nVerdict: ${result.verdict}. ${result.reason}\n`);

  const record = {
    claim: claim.name,
    paper: claim.paper,
    statement: claim.claim,
    status: claim.status,
    verdict: result.verdict,
    reason: result.reason,
    quick: result.quick,
    seed: result.seed,
    startedAt: startedAt.toISOString(),
    wallSeconds: Math.round(wallMs) / 1000,
    environment: collectEnvironment(),
    measurements: result.measurements,
  };
  try {
    const path = await writeJson(dir, claim.name, record);
    io.stdout.write(`Measurements written to ${path} (${(wallMs / 1000).toFixed(1)} s)\n`);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    io.stderr.write(`descend reproduce: cannot write the measurements to ${dir}: ${message}\n`);
    return 1;
  }
  return 0;
}
