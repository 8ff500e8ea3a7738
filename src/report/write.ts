/**
 * Writing a report directory: `results.json` (rewritten as runs finish, so finished runs survive
 * a crash or an interruption), `index.html` (the figures inline) and `figures/*.png` (each figure
 * as an image of its own). Files are written to a temporary name and renamed, so a reader never
 * sees half a file.
 */
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { existsSync, readFileSync } from "node:fs";
import { arch, cpus, platform } from "node:os";
import { join } from "node:path";
import { benchFigures, renderFigures } from "./figures.js";
import { renderHtml } from "./html.js";
import type { BenchEnvironment, BenchResults } from "./results.js";
import { parseResults, stringifyResults } from "./results.js";

/** Name of the machine-readable record inside a report directory. */
export const RESULTS_FILE = "results.json";

/** Name of the report page inside a report directory. */
export const HTML_FILE = "index.html";

/** Directory of the PNG figures inside a report directory. */
export const FIGURES_DIR = "figures";

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

async function writeAtomically(path: string, content: string | Uint8Array): Promise<void> {
  const temporary = `${path}.partial`;
  await writeFile(temporary, content);
  await rename(temporary, path);
}

/** Writes `results.json` into `dir` (created if needed). */
export async function writeResults(dir: string, results: BenchResults): Promise<string> {
  await mkdir(dir, { recursive: true });
  const path = join(dir, RESULTS_FILE);
  await writeAtomically(path, stringifyResults(results));
  return path;
}

/** Options of {@link writeReport}. */
export interface WriteReportOptions {
  /** Draw the figures (default true); without them the page holds the tables only. */
  readonly figures?: boolean;
  /** Write a PNG of each figure (default true). */
  readonly png?: boolean;
}

/** Paths a report was written to, and what went wrong with its figures. */
export interface ReportPaths {
  /** `results.json`. */
  readonly results: string;
  /** `index.html`. */
  readonly html: string;
  /** The PNG figures written. */
  readonly pngs: readonly string[];
  /** Problems met while drawing the figures (the report is complete otherwise). */
  readonly figureErrors: readonly string[];
}

/**
 * Writes `results.json`, `index.html` and the PNG figures into `dir` (created if needed). A
 * figure that cannot be drawn is reported in `figureErrors`; the page and the record are still
 * written.
 */
export async function writeReport(
  dir: string,
  results: BenchResults,
  options: WriteReportOptions = {},
): Promise<ReportPaths> {
  const resultsPath = await writeResults(dir, results);
  const htmlPath = join(dir, HTML_FILE);
  const pngs: string[] = [];
  const errors: string[] = [];
  let html: string;
  if (options.figures ?? true) {
    const outcome = await renderFigures(benchFigures(results), { png: options.png ?? true });
    errors.push(...outcome.errors);
    const withPng = outcome.figures.filter((f) => f.png);
    if (withPng.length) {
      const figuresDir = join(dir, FIGURES_DIR);
      await mkdir(figuresDir, { recursive: true });
      for (const figure of withPng) {
        const path = join(figuresDir, figure.file);
        try {
          await writeAtomically(path, figure.png!);
          pngs.push(path);
        } catch (error) {
          errors.push(`${figure.file}: ${error instanceof Error ? error.message : String(error)}`);
        }
      }
    }
    html = renderHtml(results, {
      figures: outcome.figures,
      figureErrors: errors,
      pngDir: FIGURES_DIR,
    });
  } else {
    html = renderHtml(results);
  }
  await writeAtomically(htmlPath, html);
  return { results: resultsPath, html: htmlPath, pngs, figureErrors: errors };
}

/**
 * Reads a benchmark record: `path` is a `results.json` file or a report directory holding one.
 * Records of an older version are upgraded (see `parseResults`).
 */
export async function readResults(path: string): Promise<BenchResults> {
  const file = (await stat(path)).isDirectory() ? join(path, RESULTS_FILE) : path;
  return parseResults(await readFile(file, "utf8"));
}
