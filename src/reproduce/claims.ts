/**
 * The registry of reproductions: the headline claims of the papers behind descend's optimizers,
 * each tested at the scale a small CPU can run. A claim states what the paper reports, cites it,
 * and either runs an experiment that says whether the claim held here, or says what it waits for.
 */

/** Whether a claim can be run yet. */
export type ClaimStatus = "implemented" | "not yet implementable";

/** Outcome of a reproduction at this scale. */
export type Verdict = "held" | "did not hold" | "inconclusive";

/** A value that `JSON.stringify` writes as it is. */
export type JsonValue =
  null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** How a reproduction is run. */
export interface ReproduceOptions {
  /** Run the tiny version (seconds): fewer learning rates, seeds and steps. */
  readonly quick: boolean;
  /** Base seed of every random choice (data splits, initial weights, mini-batch order). */
  readonly seed: number;
  /** Receives one line of progress at a time (without a newline); default: discard. */
  readonly progress?: (line: string) => void;
}

/** What a reproduction measured and concluded. */
export interface Reproduction {
  /** The claim's name, e.g. `"lion-vs-adamw"`. */
  readonly claim: string;
  /** Whether the claim held at this scale. */
  readonly verdict: Verdict;
  /** Why, with the numbers that decided it. */
  readonly reason: string;
  /** Whether this was the quick version. */
  readonly quick: boolean;
  /** The base seed. */
  readonly seed: number;
  /** The measurements as plain data (written to the JSON record). */
  readonly measurements: JsonValue;
  /** The measurements as plain text for a terminal (tables, ending with a newline). */
  readonly report: string;
}

/** What every claim has, implemented or not. */
interface ClaimBase {
  /** Identifier on the command line, e.g. `"lion-vs-adamw"`. */
  readonly name: string;
  /** The paper (authors, title, venue and year). */
  readonly paper: string;
  /** The claim in our words, and the setting it is tested in here. */
  readonly claim: string;
}

/** A claim with an experiment. */
export interface ImplementedClaim extends ClaimBase {
  /** Always `"implemented"`. */
  readonly status: "implemented";
  /** Runs the experiment. */
  run(options: ReproduceOptions): Promise<Reproduction>;
}

/** A claim whose experiment needs something descend does not have yet. */
export interface PendingClaim extends ClaimBase {
  /** Always `"not yet implementable"`. */
  readonly status: "not yet implementable";
  /** What the experiment waits for. */
  readonly waitsFor: string;
}

/** One named reproduction. */
export type Claim = ImplementedClaim | PendingClaim;

/** Every claim, in the order `descend reproduce --list` shows them. */
export const claims: readonly Claim[] = [
  {
    name: "lion-vs-adamw",
    paper:
      'Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le, "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023',
    claim:
      "Lion keeps one state buffer per parameter (its momentum) where AdamW keeps two, so it needs " +
      "half of AdamW's optimizer memory, and it reaches comparable or better quality when both are " +
      "tuned; tested on a perceptron and on softmax regression on the UCI digits.",
    status: "implemented",
    run: async (options) => {
      const { reproduceLionVsAdamw } = await import("./lionVsAdamw.js");
      return reproduceLionVsAdamw(options);
    },
  },
  {
    name: "sophia-vs-adamw",
    paper:
      'Liu, Li, Hall, Liang & Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model Pre-training", ICLR 2024',
    claim:
      "Sophia, which clips a momentum preconditioned by a cheap diagonal Hessian estimate, reaches " +
      "a target loss in about half the steps AdamW needs (the paper: GPT-2 pre-training); tested " +
      "as steps to a fixed validation loss on a small character-level transformer and to a fixed " +
      "training loss on a perceptron on the UCI digits, SophiaG and SophiaH against AdamW.",
    status: "implemented",
    run: async (options) => {
      const { reproduceSophiaVsAdamw } = await import("./sophiaVsAdamw.js");
      return reproduceSophiaVsAdamw(options);
    },
  },
  {
    name: "adahessian-vs-adam",
    paper:
      'Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning", AAAI 2021',
    claim:
      "AdaHessian, which replaces Adam's squared gradient by a spatially averaged Hutchinson " +
      "estimate of the Hessian diagonal, does better than Adam; tested as test accuracy on a " +
      "perceptron on the UCI digits and as steps to a fixed validation loss on a small " +
      "character-level transformer, both tuned.",
    status: "implemented",
    run: async (options) => {
      const { reproduceAdahessianVsAdam } = await import("./adahessianVsAdam.js");
      return reproduceAdahessianVsAdam(options);
    },
  },
  {
    name: "mfac-vs-sgd",
    paper:
      'Frantar, Kurtic & Alistarh, "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information", NeurIPS 2021',
    claim:
      "M-FAC, which applies the inverse of an empirical Fisher built from the last m gradients " +
      "without forming any matrix, trains to a better loss and accuracy than tuned SGD with " +
      "momentum in the same number of steps; tested with m = 32 on a perceptron on the UCI digits.",
    status: "implemented",
    run: async (options) => {
      const { reproduceMfacVsSgd } = await import("./mfacVsSgd.js");
      return reproduceMfacVsSgd(options);
    },
  },
  {
    name: "muon-vs-adamw",
    paper:
      'Jordan, Jin, Boza, You, Cesista, Newhouse & Bernstein, "Muon: An optimizer for hidden layers in neural networks", 2024 (blog post); Liu, Su et al., "Muon is Scalable for LLM Training", arXiv:2502.16982, 2025',
    claim:
      "Muon, which orthogonalises the momentum of every hidden weight matrix by Newton-Schulz " +
      "iterations, reaches a target loss in fewer steps than AdamW (Liu et al. report about twice " +
      "the compute efficiency at scale); tested as steps to a fixed validation loss on a small " +
      "character-level transformer and to a fixed training loss on a perceptron on the UCI digits, " +
      "Muon (AdamW for embeddings, head, gains and biases) against AdamW, both tuned.",
    status: "implemented",
    run: async (options) => {
      const { reproduceMuonVsAdamw } = await import("./muonVsAdamw.js");
      return reproduceMuonVsAdamw(options);
    },
  },
  {
    name: "mezo-memory",
    paper:
      'Malladi, Gao, Nichani, Damian, Lee, Chen & Arora, "Fine-Tuning Language Models with Just Forward Passes", NeurIPS 2023',
    claim:
      "MeZO, a zeroth-order SGD that regenerates its random perturbation from a seed, fine-tunes " +
      "a model within the memory of inference (the paper reports up to 12 times less than " +
      "first-order fine-tuning) at a quality comparable to it on many tasks; tested by " +
      "fine-tuning a pre-trained character-level transformer on held-out Shakespeare, MeZO (in " +
      "place) against AdamW given 1/32 of its steps.",
    status: "implemented",
    run: async (options) => {
      const { reproduceMezoMemory } = await import("./mezoMemory.js");
      return reproduceMezoMemory(options);
    },
  },
];

/** The claim called `name`, or undefined. */
export function findClaim(name: string): Claim | undefined {
  return claims.find((c) => c.name === name);
}
