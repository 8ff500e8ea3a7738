/**
 * The catalog of named optimizers: what the benchmark, the command line and the README table are
 * generated from. Each entry names the paper, the oracle the method needs and a constructor
 * taking at least a learning rate.
 */
import type { OracleName } from "../oracles/objective.js";
import type { Hyper } from "./hyper.js";
import type { GradientTransform } from "./transform.js";
import { adam, adamw, amsgrad } from "./adam.js";

/** Kind of method, for grouping in tables. */
export type OptimizerFamily = "first-order" | "curvature" | "matrix" | "zeroth-order";

/** One named optimizer. */
export interface OptimizerEntry {
  /** Identifier used on the command line, e.g. `"adamw"`. */
  readonly name: string;
  /** Display name, e.g. `"AdamW"`. */
  readonly title: string;
  /** The paper (authors, title, venue and year). */
  readonly paper: string;
  /** Where the reference implementation (and its defaults) comes from. */
  readonly reference: string;
  /** The strongest oracle the method needs. */
  readonly oracle: OracleName;
  /** Kind of method. */
  readonly family: OptimizerFamily;
  /** A learning rate that works on the benchmark problems' scale (sweeps start here). */
  readonly defaultLearningRate: number;
  /** Builds the optimizer; `learningRate` is always accepted. */
  create(options: { learningRate: Hyper }): GradientTransform;
}

/** Every named optimizer, in table order. */
export const catalog: readonly OptimizerEntry[] = [
  {
    name: "adam",
    title: "Adam",
    paper: 'Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015',
    reference: "torch.optim.Adam (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => adam(o),
  },
  {
    name: "adamw",
    title: "AdamW",
    paper: 'Loshchilov & Hutter, "Decoupled Weight Decay Regularization", ICLR 2019',
    reference: "torch.optim.AdamW (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => adamw(o),
  },
  {
    name: "amsgrad",
    title: "AMSGrad",
    paper: 'Reddi, Kale & Kumar, "On the Convergence of Adam and Beyond", ICLR 2018',
    reference: "torch.optim.Adam(amsgrad=True) (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => amsgrad(o),
  },
];

/** The catalog entry called `name`; throws listing the known names otherwise. */
export function findOptimizer(name: string): OptimizerEntry {
  const entry = catalog.find((e) => e.name === name);
  if (!entry) {
    throw new RangeError(
      `unknown optimizer ${JSON.stringify(name)}; known: ${catalog.map((e) => e.name).join(", ")}`,
    );
  }
  return entry;
}
