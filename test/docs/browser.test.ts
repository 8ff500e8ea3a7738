// The package's `browser` entry point must bundle for browsers: no Node.js built-in may be
// reachable from it (bundlers fail or ship broken code when one is).
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

describe("browser entry point", () => {
  it("bundles for the browser platform without Node.js built-ins", async () => {
    const result = await build({
      entryPoints: [fileURLToPath(new URL("../../src/browser.ts", import.meta.url))],
      bundle: true,
      platform: "browser",
      format: "esm",
      write: false,
      logLevel: "silent",
      metafile: true,
    });
    const inputs = Object.keys(result.metafile.inputs);
    assert.ok(
      inputs.some((f) => f.endsWith("src/optim/adam.ts")),
      "optimizers are included",
    );
    assert.ok(!inputs.some((f) => f.endsWith("src/data/files.ts")), "file loaders are left out");
    assert.equal(result.errors.length, 0);
  });
});
