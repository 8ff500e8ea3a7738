import assert from "node:assert/strict";
import { it } from "node:test";
import { main } from "../../examples/quickstart.js";
import { liveBufferCounter } from "./liveBuffers.js";

it("the quick-start example trains: the loss falls from about ln 10 to under 0.2", async () => {
  const liveBuffers = await liveBufferCounter();
  const before = liveBuffers();
  const losses = await main(100);
  assert.equal(losses.length, 100);
  // Small random weights give near-uniform predictions over the 10 digits at the start.
  assert.ok(Math.abs(losses[0] - Math.LN10) < 0.2, `first loss ${losses[0]}`);
  assert.ok(losses[99] < 0.2, `last loss ${losses[99]}`);
  assert.equal(liveBuffers(), before, "the example frees its jax-js arrays");
});
