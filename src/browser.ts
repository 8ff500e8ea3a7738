/**
 * descend for browsers: everything except the loaders that read files (`loadDigits`,
 * `loadBreastCancer`, `loadCsvDataset`, `readTextFile`, `digitsMlp`, `loadTinyShakespeare`,
 * `shakespeareTransformer`), which need Node.js and are added by src/index.ts. Bundlers pick
 * this file through the package's `browser` export condition.
 */

// Errors
export * from "./errors.js";

// Parameters
export * from "./params/layout.js";
export * from "./params/paramset.js";
export * from "./params/safetensors.js";

// Oracles and problems
export * from "./oracles/objective.js";
export * from "./oracles/counting.js";
export * from "./oracles/layerStatistics.js";
export * from "./oracles/denseLayers.js";
export * from "./oracles/problems/rosenbrock.js";
export * from "./oracles/problems/quadratic.js";
export * from "./oracles/problems/conformance.js";
export * from "./oracles/problems/logistic.js";
export * from "./oracles/problems/nonlinearRegression.js";
export * from "./oracles/problems/softmax.js";
export * from "./oracles/problems/mlp.js";
export * from "./oracles/problems/rastrigin.js";
export * from "./oracles/problems/testFunctions2d.js";
export * from "./oracles/problems/matrixSensing.js";
export * from "./oracles/problems/charTransformer.js";
export * from "./oracles/jax.js";

// Curvature: diagonal estimators and Hessian diagnostics
export * from "./curvature/hutchinson.js";
export * from "./curvature/gnb.js";
export * from "./curvature/diagnostics.js";

// Data
export * from "./data/dataset.js";
export * from "./data/charVocab.js";

// Transforms, the optimizer loop, schedules and checkpoints
export * from "./optim/transform.js";
export * from "./optim/hyper.js";
export * from "./optim/validate.js";
export * from "./optim/optimizer.js";
export * from "./optim/primitives.js";
export * from "./optim/schedules.js";
export * from "./optim/clipByGlobalNorm.js";
export * from "./optim/clipByValue.js";
export * from "./optim/partition.js";
export * from "./optim/accumulate.js";
export * from "./optim/nonFinite.js";
export * from "./optim/checkpoint.js";
export * from "./optim/catalog.js";

// First-order optimizers
export * from "./optim/sgd.js";
export * from "./optim/adam.js";
export * from "./optim/nadam.js";
export * from "./optim/radam.js";
export * from "./optim/adagrad.js";
export * from "./optim/adagradNorm.js";
export * from "./optim/rmsprop.js";
export * from "./optim/lion.js";
export * from "./optim/ademamix.js";
export * from "./optim/lamb.js";
export * from "./optim/lars.js";
export * from "./optim/diffgrad.js";
export * from "./optim/randomScaling.js";
export * from "./optim/aegd.js";
export * from "./optim/polyak.js";

// Curvature-aware and matrix-aware optimizers
export * from "./optim/sophia.js";
export * from "./optim/adahessian.js";
export * from "./optim/oasis.js";
export * from "./optim/sania.js";
export * from "./optim/mfac.js";
export * from "./optim/scaledGD.js";
export * from "./optim/egn.js";
export * from "./optim/kfac.js";
export * from "./optim/mkor.js";
export * from "./optim/muon.js";
export * from "./optim/adago.js";
export * from "./optim/fismo.js";
export * from "./optim/lmo.js";
export * from "./optim/noiseAdaptiveLmo.js";
export * from "./optim/psgdKron.js";
export * from "./optim/shampoo.js";
export * from "./optim/soap.js";
export * from "./optim/adaMuon.js";
export * from "./optim/factoredAdaMuon.js";
export * from "./optim/splus.js";
export * from "./optim/dampedNewton.js";
export * from "./optim/gradientRegularizedNewton.js";
export * from "./optim/saddleFreeNewton.js";

// Small dense linear algebra
export * from "./linalg/cholesky.js";
export * from "./linalg/choleskyUpdate.js";
export * from "./linalg/cg.js";
export * from "./linalg/matmul.js";
export * from "./linalg/eigh.js";
export * from "./linalg/inverseRoot.js";
export * from "./linalg/newtonSchulz.js";
export * from "./linalg/triangular.js";

// Fast kernels: WebAssembly SIMD buffers and worker threads (opt-in)
export type { FastKernelOptions, FastKernels, Runs } from "./kernels/index.js";
export { fastAllocator, useFastKernels } from "./kernels/index.js";

// Counter-based random numbers
export * from "./random/index.js";

// Zeroth-order and forward-mode estimators
export * from "./zo/valueBatch.js";
export * from "./zo/record.js";
export * from "./zo/directions.js";
export {
  DIRECTION_CHUNK,
  DIRECTION_CHUNK_DIVISOR,
  DirectionScratch,
  MIN_DIRECTION_CHUNK,
  addDirection,
  addDirections,
  applyRecord,
  directionChunkLength,
  forEachEstimateChunk,
  writeShifted,
} from "./zo/apply.js";
export type { DirectionRef } from "./zo/apply.js";
export {
  PerturbedView,
  evaluateInPlace,
  evaluateView,
  evaluateVirtual,
  repeatInPlaceWrites,
} from "./zo/perturb.js";
export type {
  BatchedValueObjective,
  PerturbedValues,
  ValueFunction,
  ViewObjective,
  ZoObjective,
} from "./zo/perturb.js";
export * from "./zo/spsa.js";
export * from "./zo/optimizer.js";
export type {
  ZoCommitContext,
  ZoCommitResult,
  ZoCommonOptions,
  ZoMethod,
  ZoSettings,
  ZoState,
} from "./zo/method.js";
export { zoSgd } from "./zo/zoSgd.js";
export type { ZoSgdOptions } from "./zo/zoSgd.js";
export * from "./zo/zoMomentum.js";
export * from "./zo/zoAdam.js";
export * from "./zo/zoSign.js";
export * from "./zo/zoCons.js";
export * from "./zo/hash.js";
export * from "./zo/scalarCode.js";
export * from "./zo/seedLog.js";
export * from "./zo/replay.js";
export * from "./zo/seedFold.js";
export * from "./zo/zoCheckpoint.js";
export * from "./zo/forwardGradient.js";
export * from "./zo/cge.js";
export * from "./zo/cbo.js";
