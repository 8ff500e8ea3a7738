import assert from "node:assert/strict";
import { existsSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { claims, findClaim } from "../../src/reproduce/claims.js";
import { reproduce } from "./helpers.js";

const NAMES = [
  "lion-vs-adamw",
  "sophia-vs-adamw",
  "adahessian-vs-adam",
  "mfac-vs-sgd",
  "muon-vs-adamw",
  "mezo-memory",
];

/** The claims with an experiment. */
const IMPLEMENTED = [
  "lion-vs-adamw",
  "sophia-vs-adamw",
  "adahessian-vs-adam",
  "mfac-vs-sgd",
  "muon-vs-adamw",
  "mezo-memory",
];

/** Words of each paper's title that its citation must contain. */
const TITLES: Record<string, string> = {
  "lion-vs-adamw": "Symbolic Discovery of Optimization Algorithms",
  "sophia-vs-adamw": "Sophia: A Scalable Stochastic Second-order Optimizer",
  "adahessian-vs-adam": "ADAHESSIAN: An Adaptive Second Order Optimizer",
  "mfac-vs-sgd": "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information",
  "muon-vs-adamw": "Muon is Scalable for LLM Training",
  "mezo-memory": "Fine-Tuning Language Models with Just Forward Passes",
};

/** `text` with line breaks and indentation folded into single spaces. */
function flat(text: string): string {
  return text.replace(/\s+/g, " ");
}

describe("the claims registry", () => {
  it("lists the six claims, each with its paper, year and claim", () => {
    assert.deepEqual(claims.map((c) => c.name).sort(), [...NAMES].sort());
    for (const claim of claims) {
      assert.ok(claim.paper.includes(TITLES[claim.name]), `${claim.name}: ${claim.paper}`);
      assert.match(claim.paper, /\b20(2[0-9])\b/, `${claim.name} cites a year`);
      assert.ok(claim.claim.length > 40, `${claim.name} states its claim`);
      assert.equal(findClaim(claim.name), claim);
    }
    assert.equal(findClaim("no-such-claim"), undefined);
  });

  it("implements the first-order and curvature claims and says what each other claim waits for", () => {
    for (const claim of claims) {
      if (IMPLEMENTED.includes(claim.name)) {
        assert.equal(claim.status, "implemented", claim.name);
        assert.equal(typeof (claim as { run?: unknown }).run, "function");
      } else {
        assert.equal(claim.status, "not yet implementable", claim.name);
        assert.ok(claim.status === "not yet implementable" && claim.waitsFor.length > 20);
      }
    }
  });
});

describe("descend reproduce", () => {
  it("reports a not-yet-implementable claim with exit code 0 and writes nothing", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-reproduce-"));
    try {
      for (const claim of claims) {
        if (claim.status !== "not yet implementable") continue;
        const out = join(dir, claim.name);
        const { code, stdout, stderr } = await reproduce([claim.name, "--out", out]);
        assert.equal(code, 0, `${claim.name}: ${stderr}`);
        assert.match(stdout, new RegExp(`^${claim.name}: not yet implementable`));
        assert.ok(flat(stdout).includes(claim.paper));
        assert.ok(flat(stdout).includes(`Waits for: ${claim.waitsFor}`));
        assert.equal(existsSync(out), false);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("rejects an unknown claim with exit code 2, listing the known ones", async () => {
    const { code, stdout, stderr } = await reproduce(["sophia-vs-lion"]);
    assert.equal(code, 2);
    assert.equal(stdout, "");
    assert.match(stderr, /unknown claim "sophia-vs-lion"/);
    for (const name of NAMES) assert.ok(stderr.includes(name), name);
  });

  it("asks for a claim when none is named, listing the known ones", async () => {
    const { code, stderr } = await reproduce([]);
    assert.equal(code, 2);
    for (const name of NAMES) assert.ok(stderr.includes(name), name);
  });

  it("lists every claim with its status and paper", async () => {
    const { code, stdout } = await reproduce(["--list"]);
    assert.equal(code, 0);
    for (const claim of claims) {
      assert.ok(stdout.includes(`${claim.name}  [${claim.status}]`), claim.name);
      assert.ok(flat(stdout).includes(claim.paper), claim.name);
      assert.ok(flat(stdout).includes(claim.claim), claim.name);
    }
  });

  it("rejects bad options and seeds with exit code 2", async () => {
    for (const args of [
      ["lion-vs-adamw", "--fast"],
      ["lion-vs-adamw", "--seed", "-1"],
      ["lion-vs-adamw", "--seed=-1"],
      ["lion-vs-adamw", "--seed", "1.5"],
      ["lion-vs-adamw", "--seed", "4294967296"],
      ["lion-vs-adamw", "--out", ""],
      ["lion-vs-adamw", "mezo-memory"],
    ]) {
      const { code, stderr } = await reproduce(args);
      assert.equal(code, 2, args.join(" "));
      assert.match(
        stderr,
        /^descend reproduce: [^]+\nRun "descend reproduce --help" for usage\.\n$/,
      );
    }
  });

  it("fails at once, before training, when it cannot write its record", async () => {
    const dir = await mkdtemp(join(tmpdir(), "descend-reproduce-"));
    try {
      const file = join(dir, "a-file");
      await writeFile(file, "");
      const { code, stderr } = await reproduce(["lion-vs-adamw", "--out", join(file, "sub")]);
      assert.equal(code, 1);
      assert.match(stderr, /cannot write the measurements to /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it("prints its help naming the options and claims", async () => {
    const { code, stdout } = await reproduce(["--help"]);
    assert.equal(code, 0);
    for (const word of ["--list", "--quick", "--seed", "--out", ...NAMES]) {
      assert.ok(stdout.includes(word), word);
    }
  });
});
