// The mezo-memory reproduction: its budget and verdict rules, the memory probe against buffers
// of known size, the memory of each configuration against the closed form of what it keeps
// (MeZO in place: the chunk scratch of src/zo/apply.ts; virtual: one parameter-sized point
// more; AdamW: update buffer and two moments), and a quick run end to end.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { numpy as np } from "@jax-js/jax";
import type { FinetuneTask } from "../../src/cli/finetuneTask.js";
import { finetuneTask } from "../../src/cli/finetuneTask.js";
import { InvalidArgumentError } from "../../src/errors.js";
import { jaxArray } from "../../src/oracles/jax.js";
import type { MemoryWatch } from "../../src/reproduce/memoryProbe.js";
import { DEFAULT_WARMUPS, MemoryProbe } from "../../src/reproduce/memoryProbe.js";
import type { FinetuneMemory, MemoryConfiguration } from "../../src/reproduce/mezoMemory.js";
import {
  STEP_RATIO,
  judgeMezo,
  measureFinetuneMemory,
  memoryHeld,
  mezoMemoryPlan,
  qualityOutcome,
  reproduceMezoMemory,
} from "../../src/reproduce/mezoMemory.js";
import { directionChunkLength } from "../../src/zo/apply.js";

describe("mezo-memory plan and verdict", () => {
  for (const quick of [true, false]) {
    it(`gives MeZO ${STEP_RATIO}× AdamW's steps and grids of the same size (quick: ${quick})`, () => {
      const plan = mezoMemoryPlan(quick, 5);
      assert.equal(plan.mezoSteps, STEP_RATIO * plan.adamwSteps);
      assert.equal(plan.adamwRates.length, plan.mezoRates.length);
      assert.equal(plan.seeds[0], 5);
      assert.equal(new Set(plan.seeds).size, plan.seeds.length);
      if (!quick) {
        assert.ok(plan.adamwRates.length >= 3 && plan.seeds.length >= 2);
        const ratios = plan.adamwRates.slice(1).map((r, i) => r / plan.adamwRates[i]);
        for (const ratio of ratios) assert.ok(Math.abs(ratio - Math.sqrt(10)) < 0.01, `${ratio}`);
      }
    });
  }

  it("holds memory within 5% of inference and quality at half of AdamW's gain", () => {
    assert.equal(memoryHeld(105, 100), true);
    assert.equal(memoryHeld(105.1, 100), false);
    assert.equal(memoryHeld(Number.NaN, 100), null);
    assert.equal(qualityOutcome(0.05, 0.1), "comparable");
    assert.equal(qualityOutcome(0.0499, 0.1), "worse");
    assert.equal(qualityOutcome(-0.01, 0.1), "worse");
    assert.equal(qualityOutcome(0.05, 0), "unclear");
    assert.equal(qualityOutcome(0.05, -0.1), "unclear");
    assert.equal(qualityOutcome(Number.NaN, 0.1), "unclear");
    assert.equal(judgeMezo(true, "comparable"), "held");
    assert.equal(judgeMezo(true, "worse"), "did not hold");
    assert.equal(judgeMezo(false, "comparable"), "did not hold");
    assert.equal(judgeMezo(true, "unclear"), "inconclusive");
    assert.equal(judgeMezo(null, "comparable"), "inconclusive");
    assert.equal(judgeMezo(null, "worse"), "did not hold");
  });
});

describe("the memory probe", () => {
  let probe: MemoryProbe;
  before(async () => {
    probe = await MemoryProbe.open();
  });
  after(() => probe.close());

  const layoutless = (watch: MemoryWatch, value: () => Promise<number>) =>
    watch.wrap({
      name: "probe test",
      layout: undefined as never,
      value,
      valueAndGrad: value,
    });

  it("counts an ArrayBuffer an operation keeps, exactly", async () => {
    const bytes = 4 * 100_000;
    const m = await probe.measure(async () => new Float32Array(bytes / 4));
    assert.equal(m.bufferRetainedBytes, bytes);
    assert.ok(m.jsPeakBytes >= bytes);
  });

  it("counts buffers dropped inside an oracle call in the peak, not in what is kept", async () => {
    const bytes = 8 * 200_000;
    const m = await probe.measure(async (watch) => {
      const objective = layoutless(watch, async () => new Float64Array(bytes / 8).fill(1)[0]);
      return objective.value(new Float32Array(1));
    });
    assert.equal(m.bufferRetainedBytes, 0);
    assert.ok(m.jsPeakBytes >= bytes, `peak ${m.jsPeakBytes}`);
    assert.equal(m.oracleCalls, 1);
  });

  it("runs the operation warmups + repeats times, and rejects bad counts before running it", async () => {
    let runs = 0;
    const operation = async () => {
      runs++;
      return null;
    };
    const m = await probe.measure(operation, { repeats: 3, warmups: 2 });
    assert.ok(m.attempts >= 3);
    assert.equal(runs, 2 + m.attempts);
    runs = 0;
    const single = await probe.measure(operation, 1);
    assert.equal(runs, DEFAULT_WARMUPS + single.attempts);
    for (const [options, parameter] of [
      [{ repeats: 0 }, "repeats"],
      [{ repeats: 1.5 }, "repeats"],
      [{ warmups: -1 }, "warmups"],
      [{ warmups: Number.NaN }, "warmups"],
    ] as const) {
      runs = 0;
      await assert.rejects(
        probe.measure(operation, options),
        (e: unknown) => e instanceof InvalidArgumentError && e.parameter === parameter,
      );
      assert.equal(runs, 0);
    }
  });

  it("tracks the jax-js buffers alive during a call", async () => {
    assert.ok(probe.tracksJax);
    const elements = 250_000;
    const m = await probe.measure(async (watch) => {
      const objective = layoutless(watch, async () => {
        const a = jaxArray(new Float32Array(elements).fill(1));
        return (await np.sum(a).data())[0];
      });
      return objective.value(new Float32Array(1));
    });
    assert.ok(m.jaxPeakBytes >= 4 * elements, `jax-js peak ${m.jaxPeakBytes}`);
    assert.ok(m.jaxPeakBytes < 3 * 4 * elements, `jax-js peak ${m.jaxPeakBytes}`);
    assert.ok(Math.abs(m.retainedBytes - m.jsRetainedBytes) < 1024, "no jax-js buffer kept");
  });
});

describe("fine-tuning memory on a small transformer", () => {
  let task: FinetuneTask;
  let memory: FinetuneMemory;
  before(async () => {
    task = await finetuneTask({
      config: { layers: 1, dModel: 16, heads: 2, context: 8, batchSize: 4 },
    });
    task.selectBatch("finetune", 0);
    const probe = await MemoryProbe.open();
    try {
      memory = await measureFinetuneMemory(task, task.model.paramSet(), probe);
    } finally {
      probe.close();
    }
  });
  after(() => task.dispose());

  const of = (c: MemoryConfiguration) =>
    memory.configurations.find((x) => x.configuration === c)!.measurement;

  it("keeps the chunk scratch in place, a parameter-sized point more when virtual", () => {
    // A float32 chunk of z sized by the parameter count; the float64 estimate chunk is allocated
    // only by the methods that use it.
    const scratch = directionChunkLength(memory.parameters) * 4;
    assert.ok(scratch <= 0.05 * memory.parameterBytes || memory.parameters < 5120);
    assert.equal(of("inference").bufferRetainedBytes, 0);
    assert.equal(of("mezo-in-place").bufferRetainedBytes, scratch);
    assert.equal(of("mezo-virtual").bufferRetainedBytes, scratch + memory.parameterBytes);
  });

  it("keeps AdamW's update buffer and two moments (and a few numbers per tensor)", () => {
    const tensors = task.layout.tensors.length;
    const extra = of("adamw").bufferRetainedBytes - 3 * memory.parameterBytes;
    assert.ok(extra >= 0 && extra <= 64 * tensors, `beyond 3 × parameters: ${extra}`);
  });

  it("needs the jax-js buffers of a forward pass for MeZO, more for AdamW", () => {
    const forward = of("inference").jaxPeakBytes;
    assert.ok(forward > memory.parameterBytes, "the forward pass copies the parameters");
    assert.equal(of("mezo-in-place").jaxPeakBytes, forward);
    assert.equal(of("mezo-virtual").jaxPeakBytes, forward);
    assert.ok(of("adamw").jaxPeakBytes > 2 * forward);
    assert.equal(of("mezo-in-place").oracleCalls, 2);
    assert.equal(of("adamw").oracleCalls, 1);
  });
});

describe("mezo-memory quick reproduction", () => {
  it("measures memory and quality and reaches a verdict by the rules", async () => {
    const lines: string[] = [];
    const result = await reproduceMezoMemory({
      quick: true,
      seed: 0,
      progress: (l) => lines.push(l),
    });
    assert.equal(result.claim, "mezo-memory");
    const m = result.measurements as {
      memory: { held: boolean | null; mezoOverInference: number; adamwOverMezo: number };
      quality: {
        outcome: "comparable" | "worse" | "unclear";
        adamw: { steps: number };
        mezo: { steps: number };
      };
    };
    assert.equal(m.quality.mezo.steps, STEP_RATIO * m.quality.adamw.steps);
    assert.equal(result.verdict, judgeMezo(m.memory.held, m.quality.outcome));
    assert.ok(m.memory.adamwOverMezo > 1, `AdamW ÷ MeZO ${m.memory.adamwOverMezo}`);
    assert.match(result.report, /MeZO step, in place/);
    assert.match(result.reason, /forward pass/);
    assert.ok(lines.length >= 3);
  });
});
