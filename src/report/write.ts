/**
 * Writing a report directory: `results.json` (rewritten after every run, so finished runs survive
 * a crash or an interruption) and `index.html`. Files are written to a temporary name and renamed,
 * so a reader never sees half a file.
 */
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { arch, cpus, platform } from "node:os";
import { join } from "node:path";
import { renderHtml } from "./html.js";
import type { BenchEnvironment, BenchResults } from "./results.js";
import { parseResults, stringifyResults } from "./results.js";

/** Name of the machine-readable record inside a report directory. */
export const RESULTS_FILE = "results.json";

/** Name of the report page inside a report directory. */
export const HTML_FILE = "index.html";

/** The version field of descend's package.json ("unknown" when it cannot be read). */
export function packageVersion(): string {
  try {
    const text = readFileSync(new URL("../../package.json", import.meta.url), "utf8");
    const version: unknown = (JSON.parse(text) as { version?: unknown }).version;
    return typeof version === "string" ? version : "unknown";
  } catch {
    return "unknown";
  }
}

/** Where this process runs. */
export function collectEnvironment(): BenchEnvironment {
  const processors = cpus();
  return {
    node: process.version,
    platform: platform(),
    arch: arch(),
    cpus: processors.length,
    cpuModel: processors[0]?.model.trim() ?? "unknown",
    descend: packageVersion(),
  };
}

/**
 * A fresh directory name under `parent` for a benchmark started at `date`:
 * `reports/2024-05-01T12-30-05Z`, with `-2`, `-3`, … appended if that already exists.
 */
export function defaultReportDir(date: Date, parent = "reports"): string {
  const stamp = date
    .toISOString()
    .replace(/\.\d+Z$/, "Z")
    .replace(/:/g, "-");
  let dir = join(parent, stamp);
  for (let n = 2; existsSync(dir); n++) dir = join(parent, `${stamp}-${n}`);
  return dir;
}

async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.partial`;
  await writeFile(temporary, text, "utf8");
  await rename(temporary, path);
}

/** Writes `results.json` into `dir` (created if needed). */
export async function writeResults(dir: string, results: BenchResults): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, RESULTS_FILE);
  await writeAtomically(path, stringifyResults(results));
  return path;
}

/** Writes `results.json` and `index.html` into `dir` (created if needed). */
export async function writeReport(
  dir: string,
  results: BenchResults,
): Promise<{ results: string; html: string }> {
  const resultsPath = await writeResults(dir, results);
  const htmlPath = join(dir, HTML_FILE);
  await writeAtomically(htmlPath, renderHtml(results));
  return { results: resultsPath, html: htmlPath };
}

/** Reads the `results.json` of a report directory. */
export async function readResults(dir: string): Promise<BenchResults> {
  return parseResults(await readFile(join(dir, RESULTS_FILE), "utf8"));
}
