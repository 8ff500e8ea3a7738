// The random layer inside headless Chromium (another JavaScript engine build than the Node.js
// running the tests): the library's browser entry, bundled with esbuild, must reproduce the
// golden vectors of test/fixtures/random-golden.json bit for bit, on the JavaScript fills, on
// the WebAssembly Gaussian fills (the float64 definition's and the float32-native one), and in a
// Web Worker.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import type { Server } from "node:http";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";
import type { Browser, Page } from "playwright-core";
import { chromium } from "playwright-core";
import type { FastRandom } from "../../src/random/fast.js";
import type * as Golden from "../random/golden.js";
import type { GoldenRecord, GoldenSlice, RandomApi } from "../random/golden.js";

const CHROMIUM = "/usr/bin/chromium";
const WAIT_MS = 30_000;

interface GoldenFile {
  records: GoldenRecord[];
}

/** What the page's scripts define: the bundled library and the golden-record helpers. */
interface PageGlobals {
  descend: RandomApi & { useFastRandom(options?: object): Promise<FastRandom> };
  golden: typeof Golden;
}

/** The Gaussians of one slice from the WebAssembly fills. */
interface SliceGaussians {
  normal64: string[];
  normal32: string[];
  normalFloat32: string[];
}

/** What the Web Worker posts back. */
interface WorkerResult {
  records: GoldenRecord[];
  windows: SliceGaussians[];
  enabled: boolean;
}

/** The page's Worker constructor (the tests compile without DOM types). */
interface PageWorkers {
  Worker: new (url: string) => {
    onmessage: (event: { data: WorkerResult }) => void;
    onerror: (event: { message: string }) => void;
    postMessage(message: unknown): void;
  };
}

/** The normal samples of each slice from the WebAssembly fills, and how those fills ran. */
interface FastResult {
  enabled: boolean;
  threads: number;
  windows: SliceGaussians[];
}

const golden = JSON.parse(
  readFileSync(fileURLToPath(new URL("../fixtures/random-golden.json", import.meta.url)), "utf8"),
) as GoldenFile;
const slices: GoldenSlice[] = golden.records.map(({ seed, stream, start, count }) => ({
  seed,
  stream,
  start,
  count,
}));

/** One file bundled as a script that defines the global `name`. */
async function bundle(entry: string, name: string): Promise<string> {
  const result = await build({
    entryPoints: [fileURLToPath(new URL(entry, import.meta.url))],
    bundle: true,
    platform: "browser",
    format: "iife",
    globalName: name,
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].text;
}

// Runs in a Web Worker: the same computations as the page, posted back.
const WORKER = `
importScripts("descend.js", "golden.js");
onmessage = async (event) => {
  const slices = event.data;
  const fast = await descend.useFastRandom();
  postMessage({
    records: golden.goldenRecords(descend, slices),
    windows: slices.map((s) => ({
      ...golden.normalFromWindow(fast.fillNormal.bind(fast), s),
      normalFloat32: golden.normalFloat32FromWindow(fast.fillNormalFloat32.bind(fast), s),
    })),
    enabled: fast.enabled,
  });
};
`;

/** Serves the page, the two bundles and the worker on 127.0.0.1 at a free port. */
async function serve(files: Record<string, string>): Promise<{ server: Server; url: string }> {
  const server = createServer((request, response) => {
    const path = new URL(request.url ?? "/", "http://localhost").pathname.slice(1) || "index.html";
    const body = files[path];
    if (body === undefined) {
      response.writeHead(404).end();
      return;
    }
    const type = path.endsWith(".html") ? "text/html" : "text/javascript";
    response.writeHead(200, { "content-type": `${type}; charset=utf-8` }).end(body);
  });
  await new Promise<void>((done) => server.listen(0, "127.0.0.1", done));
  const { port } = server.address() as AddressInfo;
  return { server, url: `http://127.0.0.1:${port}/` };
}

describe("random numbers in headless Chromium", { timeout: 60_000 }, () => {
  let server: Server | undefined;
  let browser: Browser | undefined;
  let opened: Page | undefined;
  const pageErrors: string[] = [];

  /** The page, or (every test fails with this) how to install the missing browser. */
  function page(): Page {
    if (!existsSync(CHROMIUM)) {
      throw new Error(
        `the random-number browser test drives Chromium at ${CHROMIUM}, which is missing; ` +
          "install it with `apt-get install chromium` (Debian) and run the tests again",
      );
    }
    assert.ok(opened, "the test page did not open");
    return opened;
  }

  before(async () => {
    if (!existsSync(CHROMIUM)) return;
    const [library, helpers] = await Promise.all([
      bundle("../../src/browser.ts", "descend"),
      bundle("../random/golden.ts", "golden"),
    ]);
    ({ server } = await serve({
      "index.html":
        '<!doctype html><meta charset="utf-8"><title>random</title><link rel="icon" href="data:,">' +
        '<script src="descend.js"></script><script src="golden.js"></script>',
      "descend.js": library,
      "golden.js": helpers,
      "worker.js": WORKER,
    }).then(async (served) => {
      browser = await chromium.launch({
        executablePath: CHROMIUM,
        timeout: WAIT_MS,
        args: ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"],
      });
      const tab = await browser.newPage();
      tab.setDefaultTimeout(WAIT_MS);
      tab.on("pageerror", (error) => pageErrors.push(String(error)));
      tab.on("console", (message) => {
        if (message.type() === "error") pageErrors.push(message.text());
      });
      await tab.goto(served.url, { waitUntil: "load" });
      opened = tab;
      return served;
    }));
  });

  after(async () => {
    await browser?.close();
    await new Promise((done) => (server ? server.close(done) : done(undefined)));
  });

  it("runs a Chromium engine, not the Node.js one", async () => {
    const agent = await page().evaluate(
      () => (globalThis as unknown as { navigator: { userAgent: string } }).navigator.userAgent,
    );
    assert.match(agent, /Chrome\/\d+/);
  });

  it("JavaScript fills reproduce every golden record bit for bit", async () => {
    const records = await page().evaluate((list) => {
      const { descend, golden: helpers } = globalThis as unknown as PageGlobals;
      return helpers.goldenRecords(descend, list);
    }, slices);
    assert.equal(records.length, golden.records.length);
    for (let k = 0; k < records.length; k++) {
      assert.deepEqual(records[k], golden.records[k], `slice ${JSON.stringify(slices[k])}`);
    }
  });

  it("the WebAssembly Gaussian fills reproduce the golden Gaussians bit for bit", async () => {
    const result: FastResult = await page().evaluate(async (list) => {
      const { descend, golden: helpers } = globalThis as unknown as PageGlobals;
      const fast = await descend.useFastRandom();
      return {
        enabled: fast.enabled,
        threads: fast.threads,
        windows: list.map((s) => ({
          ...helpers.normalFromWindow(fast.fillNormal.bind(fast), s),
          normalFloat32: helpers.normalFloat32FromWindow(fast.fillNormalFloat32.bind(fast), s),
        })),
      };
    }, slices);
    assert.equal(result.enabled, true, "WebAssembly SIMD is available in Chromium");
    assert.equal(result.threads, 1, "no worker threads in a page");
    for (let k = 0; k < slices.length; k++) {
      assert.deepEqual(result.windows[k].normal64, golden.records[k].normal64);
      assert.deepEqual(result.windows[k].normal32, golden.records[k].normal32);
      assert.deepEqual(result.windows[k].normalFloat32, golden.records[k].normalFloat32);
    }
  });

  it("a Web Worker computes the same bits as the file", async () => {
    const result = await page().evaluate(
      (list) =>
        new Promise<WorkerResult>((resolve, reject) => {
          const { Worker } = globalThis as unknown as PageWorkers;
          const worker = new Worker("worker.js");
          worker.onmessage = (event) => resolve(event.data);
          worker.onerror = (event) => reject(new Error(event.message));
          worker.postMessage(list);
        }),
      slices,
    );
    assert.equal(result.enabled, true);
    assert.deepEqual(result.records, golden.records);
    for (let k = 0; k < slices.length; k++) {
      assert.deepEqual(result.windows[k].normal64, golden.records[k].normal64);
      assert.deepEqual(result.windows[k].normal32, golden.records[k].normal32);
      assert.deepEqual(result.windows[k].normalFloat32, golden.records[k].normalFloat32);
    }
  });

  it("raises no page errors", () => {
    page();
    assert.deepEqual(pageErrors, []);
  });
});
