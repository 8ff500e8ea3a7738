// The playground end to end: build it with Vite, serve the build, drive it in headless Chromium
// and read the results the page writes into its tables' data attributes.
import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { extname, join, resolve, sep } from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import { build } from "vite";

const CHROMIUM = "/usr/bin/chromium";
const CONFIG = fileURLToPath(new URL("../../playground/vite.config.ts", import.meta.url));

/** Longest wait for any one thing the page does. */
const WAIT_MS = 30_000;

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".gz": "application/gzip",
  ".png": "image/png",
  ".svg": "image/svg+xml",
  ".wasm": "application/wasm",
};

/** Serves the files under `root` on 127.0.0.1 at a free port. */
async function serve(root: string): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? "/", "http://localhost").pathname);
    const file = resolve(root, `.${path.endsWith("/") ? `${path}index.html` : path}`);
    if (!file.startsWith(root + sep)) {
      response.writeHead(403).end();
      return;
    }
    readFile(file).then(
      (body) => {
        const type = CONTENT_TYPES[extname(file)] ?? "application/octet-stream";
        response.writeHead(200, { "content-type": type }).end(body);
      },
      () => response.writeHead(404).end(),
    );
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/` };
}

/** The data attributes of each row of a results table. */
function tableRows(page: Page, tbody: string): Promise<Record<string, string>[]> {
  return page.$$eval(`${tbody} tr`, (rows) =>
    rows.map((row) => ({ ...(row as unknown as { dataset: Record<string, string> }).dataset })),
  );
}

/** Waits until the section's loop reports `done`; fails with the page's error if it has one. */
async function waitUntilDone(page: Page, section: string): Promise<void> {
  await page.waitForSelector(`${section}[data-state="done"], ${section}[data-error]`, {
    timeout: WAIT_MS,
  });
  const error = await page.getAttribute(section, "data-error");
  assert.equal(error, null, `${section} reported an error`);
}

const rosenbrock = (x: number, y: number) => (1 - x) ** 2 + 100 * (y - x * x) ** 2;

describe("playground", { timeout: 120_000 }, () => {
  let workdir = "";
  let server: Server | undefined;
  let url = "";
  let browser: Browser | undefined;
  let opened: Page | undefined;
  const pageErrors: string[] = [];

  /** The page, or (every test fails with this) how to install the missing browser. */
  function playground(): Page {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the playground test drives Chromium at ${CHROMIUM}, which is missing; ` +
          "install it with `apt-get install chromium` (Debian) and run the tests again",
      );
    }
    assert.ok(opened, "the playground did not open");
    return opened;
  }

  before(async () => {
    if (!existsSync(CHROMIUM)) return;
    workdir = await mkdtemp(join(tmpdir(), "descend-playground-"));
    const site = join(workdir, "site");
    await build({
      configFile: CONFIG,
      logLevel: "error",
      build: { outDir: site, emptyOutDir: true },
    });
    ({ server, url } = await serve(site));
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      timeout: WAIT_MS,
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
    const page = await browser.newPage({ viewport: { width: 1440, height: 1000 } });
    page.setDefaultTimeout(WAIT_MS);
    page.on("pageerror", (error) => pageErrors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") pageErrors.push(message.text());
    });
    await page.goto(url, { waitUntil: "load" });
    opened = page;
  });

  after(async () => {
    await browser?.close();
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
    if (workdir) await rm(workdir, { recursive: true, force: true });
  });

  it("races two optimizers on Rosenbrock's function and both get lower", async () => {
    const page = playground();
    const chosen = ["momentum", "adam"];
    const steps = 150;
    await page.selectOption("#function-select", "rosenbrock");
    for (const box of await page.$$("#optimizer-rows input[type=checkbox]")) {
      const name = await box.getAttribute("data-optimizer");
      await box.setChecked(chosen.includes(name ?? ""));
    }
    await page.fill("#race-steps", String(steps));
    await page.dispatchEvent("#race-steps", "change");
    await page.selectOption("#race-speed", "25");
    await page.click("#race-start");
    await waitUntilDone(page, "#race");

    const rows = await tableRows(page, "#race-results");
    assert.deepEqual(
      rows.map((r) => r.optimizer),
      chosen,
    );
    for (const row of rows) {
      const initial = Number(row.initialLoss);
      const loss = Number(row.loss);
      assert.equal(row.status, "finished", `${row.optimizer}: ${row.message ?? ""}`);
      assert.equal(Number(row.steps), steps);
      // The start (−1.2, 1) and the value the page reports at its final point, from the formula.
      assert.ok(
        Math.abs(initial - rosenbrock(-1.2, 1)) < 1e-9,
        `${row.optimizer} start ${initial}`,
      );
      const at = rosenbrock(Number(row.x), Number(row.y));
      assert.ok(Math.abs(loss - at) <= 1e-9 * Math.max(1, at), `${row.optimizer}: ${loss} ≠ ${at}`);
      assert.ok(loss < initial / 2, `${row.optimizer}: loss ${initial} → ${loss}`);
    }
  });

  it("trains the digits network for a few steps and its loss falls", async () => {
    const page = playground();
    const steps = 20;
    await page.fill("#mlp-steps", String(steps));
    await page.dispatchEvent("#mlp-steps", "change");
    await page.click("#mlp-start");
    await waitUntilDone(page, "#mlp");

    const rows = await tableRows(page, "#mlp-results");
    assert.deepEqual(
      rows.map((r) => r.optimizer),
      ["momentum", "adam"],
    );
    for (const row of rows) {
      const initial = Number(row.initialLoss);
      const loss = Number(row.loss);
      assert.equal(row.status, "finished", `${row.optimizer}: ${row.message ?? ""}`);
      assert.equal(Number(row.steps), steps);
      // Small initial weights predict nearly uniform class probabilities: loss ≈ ln 10.
      assert.ok(Math.abs(initial - Math.log(10)) < 0.5, `${row.optimizer} starts at ${initial}`);
      assert.ok(loss < initial, `${row.optimizer}: loss ${initial} → ${loss}`);
    }
  });

  it("renders a screenshot and raises no page errors", async () => {
    const page = playground();
    const path = join(workdir, "playground.png");
    await page.screenshot({ path, fullPage: true });
    const png = await readFile(path);
    assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    assert.ok(png.readUInt32BE(16) >= 1000 && png.readUInt32BE(20) >= 800, "page size");
    assert.ok(png.length > 20_000, `screenshot of ${png.length} bytes`);
    assert.deepEqual(pageErrors, []);
  });
});
