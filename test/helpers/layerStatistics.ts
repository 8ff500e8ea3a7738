// Dense-layer statistics for the Kronecker-factored optimizer tests: seeded statistics, a fake
// objective that serves them, and runs of a real dense network (loss after some steps, repeated
// and resumed runs).
import assert from "node:assert/strict";
import { restoreOptimizer, serializeOptimizer } from "../../src/optim/checkpoint.js";
import { Optimizer } from "../../src/optim/optimizer.js";
import type { GradientTransform } from "../../src/optim/transform.js";
import type {
  DenseLayer,
  DenseLayerStatistics,
  DenseNetworkObjective,
  LayerStatisticsObjective,
  LayerStatisticsOptions,
} from "../../src/oracles/denseLayers.js";
import type { Layout } from "../../src/params/layout.js";
import { ParamSet } from "../../src/params/paramset.js";
import { assertSameBits } from "./assertions.js";
import { fillUniform } from "./inputs.js";

/** Where {@link seededLayerStatistics} draws from: one seed per layer and call, from a base. */
export interface StatisticsSeeds {
  /** Seed of layer l's inputs at call k: `inputs + 10k + l`. */
  inputs: number;
  /** Seed of layer l's output gradients at call k: `outputGradients + 10k + l`. */
  outputGradients: number;
}

/**
 * Statistics of call `k` for `layers` over `rows` examples: every layer's inputs and output
 * gradients seeded uniform in [−scale, scale), with loss 0.
 */
export function seededLayerStatistics(
  layers: readonly DenseLayer[],
  rows: number,
  seeds: StatisticsSeeds,
  k: number,
  scale: number,
): DenseLayerStatistics {
  return {
    examples: rows,
    loss: 0,
    layers: layers.map((layer, l) => ({
      inputs: fillUniform(new Float64Array(rows * layer.inputs), seeds.inputs + 10 * k + l, scale),
      outputGradients: fillUniform(
        new Float64Array(rows * layer.outputs),
        seeds.outputGradients + 10 * k + l,
        scale,
      ),
    })),
  };
}

/**
 * An objective on `layout` with dense `layers` whose statistics at its k-th call are
 * `produce(k)`, with the options of every call recorded in `calls`.
 */
export function fakeLayerStatisticsObjective(
  layout: Layout,
  layers: DenseLayer[],
  produce: (call: number) => DenseLayerStatistics,
): { objective: LayerStatisticsObjective; calls: LayerStatisticsOptions[] } {
  const calls: LayerStatisticsOptions[] = [];
  const objective: LayerStatisticsObjective = {
    name: "fake-dense",
    layout,
    value: () => 0,
    denseLayers: layers,
    layerStatistics(_params, options = {}) {
      calls.push(options);
      return produce(calls.length - 1);
    },
  };
  return { objective, calls };
}

/** The loss reported by the last of `steps` steps of `transform` from the net's start. */
export async function lossAfterSteps(
  net: DenseNetworkObjective,
  transform: GradientTransform,
  steps: number,
): Promise<number> {
  const opt = new Optimizer(net.paramSet(), transform);
  let loss = 0;
  for (let t = 0; t < steps; t++) loss = (await opt.step(net)).loss!;
  return loss;
}

/**
 * Checks that `steps` steps of `build()` on `net` give the same bits twice, and that `split`
 * steps, a checkpoint with the parameters, a restore into fresh parameters and the remaining
 * steps give the bits and the checkpoint of the straight run. `label` starts each message.
 */
export async function assertRepeatsAndResumes(
  net: DenseNetworkObjective,
  build: () => GradientTransform,
  steps: number,
  split: number,
  label: string,
): Promise<void> {
  const straight = new Optimizer(net.paramSet(), build());
  for (let t = 0; t < steps; t++) await straight.step(net);
  const again = new Optimizer(net.paramSet(), build());
  for (let t = 0; t < steps; t++) await again.step(net);
  assertSameBits(again.params.data, straight.params.data, `${label}: same seed, same bits`);
  const first = new Optimizer(net.paramSet(), build());
  for (let t = 0; t < split; t++) await first.step(net);
  const bytes = serializeOptimizer(first, { includeParams: true });
  const resumed = new Optimizer(new ParamSet(net.layout), build());
  restoreOptimizer(resumed, bytes, { includeParams: true });
  for (let t = split; t < steps; t++) await resumed.step(net);
  assertSameBits(resumed.params.data, straight.params.data, `${label}: resumed`);
  assert.deepEqual(serializeOptimizer(resumed), serializeOptimizer(straight));
}
