// The README's optimizer table is the user's index of the catalog: keep them in step.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { catalog } from "../../src/optim/catalog.js";

const readme = readFileSync(new URL("../../README.md", import.meta.url), "utf8");

describe("README", () => {
  it("lists every catalog optimizer with its title, paper and reference", () => {
    const table = readme.slice(
      readme.indexOf("## Optimizers"),
      readme.indexOf("## How it fits together"),
    );
    const rows = table.split("\n").filter((line) => line.startsWith("| `"));
    for (const entry of catalog) {
      const row = rows.find((r) => r.startsWith(`| \`${entry.name}\` |`));
      assert.ok(row, `no README row for ${entry.name}`);
      const cells = row.split(" | ").map((c) => c.trim());
      assert.equal(cells[1], entry.title, `${entry.name} title`);
      assert.equal(cells[2], entry.paper, `${entry.name} paper`);
      assert.equal(cells[3], entry.reference, `${entry.name} reference`);
    }
    const names = rows.map((r) => r.slice(3, r.indexOf("`", 3)));
    assert.deepEqual(
      names.filter((n) => !catalog.some((e) => e.name === n)),
      [],
      "rows without a catalog entry",
    );
  });

  it("shows the two commands", () => {
    assert.match(readme, /npm ci && npm start/);
    assert.match(readme, /npm test/);
  });
});
