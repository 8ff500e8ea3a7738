/**
 * The catalog of named optimizers: what the benchmark, the command line and the README table are
 * generated from. Each entry names the paper, the oracle the method needs and a constructor
 * taking at least a learning rate.
 */
import type { OracleName } from "../oracles/objective.js";
import type { Hyper } from "./hyper.js";
import type { GradientTransform } from "./transform.js";
import { adagrad } from "./adagrad.js";
import { adagradNorm } from "./adagradNorm.js";
import { aegd } from "./aegd.js";
import { adahessian } from "./adahessian.js";
import { adaMuon } from "./adaMuon.js";
import { adago } from "./adago.js";
import { adam, adamw, amsgrad } from "./adam.js";
import { ademamix } from "./ademamix.js";
import { dampedNewton } from "./dampedNewton.js";
import { diffGrad } from "./diffgrad.js";
import { egn } from "./egn.js";
import { factoredAdaMuon } from "./factoredAdaMuon.js";
import { fismo } from "./fismo.js";
import { gradientRegularizedNewton } from "./gradientRegularizedNewton.js";
import { kfac } from "./kfac.js";
import { lamb } from "./lamb.js";
import { lars } from "./lars.js";
import { lion } from "./lion.js";
import { lmo } from "./lmo.js";
import { mfac } from "./mfac.js";
import { mkor } from "./mkor.js";
import { muonWithAdamw, routeMatrices } from "./muon.js";
import { nadam } from "./nadam.js";
import { noiseAdaptiveLmo } from "./noiseAdaptiveLmo.js";
import { oasis } from "./oasis.js";
import { polyak } from "./polyak.js";
import { psgdKron } from "./psgdKron.js";
import { radam } from "./radam.js";
import { randomScaling } from "./randomScaling.js";
import { rmsprop } from "./rmsprop.js";
import { saddleFreeNewton } from "./saddleFreeNewton.js";
import { scaledGD } from "./scaledGD.js";
import { sgd } from "./sgd.js";
import { shampoo } from "./shampoo.js";
import { soap } from "./soap.js";
import { splus } from "./splus.js";
import { sophiaG, sophiaH } from "./sophia.js";

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
  /** Whether the method draws random numbers (it then takes a `seed` option). */
  readonly seeded?: boolean;
  /** A learning rate that works on the benchmark problems' scale (sweeps start here). */
  readonly defaultLearningRate: number;
  /** Builds the optimizer; `seed` matters only to {@link OptimizerEntry.seeded} methods. */
  create(options: { learningRate: Hyper; seed?: number }): GradientTransform;
}

/** `h` scaled by `factor`: a constant times it, or a schedule whose values are. */
function times(h: Hyper, factor: number): Hyper {
  return typeof h === "function" ? (count: number) => h(count) * factor : h * factor;
}

/** Every named optimizer, in table order. */
export const catalog: readonly OptimizerEntry[] = [
  {
    name: "sgd",
    title: "SGD",
    paper:
      'Robbins & Monro, "A Stochastic Approximation Method", Annals of Mathematical Statistics, 1951',
    reference: "torch.optim.SGD (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-2,
    create: (o) => sgd(o),
  },
  {
    name: "momentum",
    title: "SGD with momentum",
    paper:
      'Polyak, "Some methods of speeding up the convergence of iteration methods", USSR Computational Mathematics and Mathematical Physics, 1964',
    reference: "torch.optim.SGD(momentum=0.9) (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-2,
    create: (o) => sgd({ ...o, momentum: 0.9 }),
  },
  {
    name: "nesterov",
    title: "SGD with Nesterov momentum",
    paper:
      'Sutskever, Martens, Dahl & Hinton, "On the importance of initialization and momentum in deep learning", ICML 2013',
    reference: "torch.optim.SGD(momentum=0.9, nesterov=True) (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-2,
    create: (o) => sgd({ ...o, momentum: 0.9, nesterov: true }),
  },
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
  {
    name: "nadam",
    title: "NAdam",
    paper: 'Dozat, "Incorporating Nesterov Momentum into Adam", ICLR 2016 workshop',
    reference:
      "torch.optim.NAdam (PyTorch ≥ 2.0 momentum product; 1.13 with legacyMomentumProduct)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 2e-3,
    create: (o) => nadam(o),
  },
  {
    name: "radam",
    title: "RAdam",
    paper:
      'Liu, Jiang, He, Chen, Liu, Gao & Han, "On the Variance of the Adaptive Learning Rate and Beyond", ICLR 2020',
    reference: "torch.optim.RAdam (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => radam(o),
  },
  {
    name: "adagrad",
    title: "AdaGrad",
    paper:
      'Duchi, Hazan & Singer, "Adaptive Subgradient Methods for Online Learning and Stochastic Optimization", JMLR 2011',
    reference: "torch.optim.Adagrad (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-2,
    create: (o) => adagrad(o),
  },
  {
    name: "adagrad-norm",
    title: "AdaGrad-Norm",
    paper:
      'Ward, Wu & Bottou, "AdaGrad Stepsizes: Sharp Convergence Over Nonconvex Landscapes", ICML 2019 / JMLR 2020',
    reference: "the paper's algorithm (defaults from the second author's adagradnorm.py)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1,
    create: (o) => adagradNorm(o),
  },
  {
    name: "rmsprop",
    title: "RMSprop",
    paper:
      'Tieleman & Hinton, "Lecture 6e: rmsprop", Coursera Neural Networks for Machine Learning, 2012; centered: Graves, "Generating Sequences With Recurrent Neural Networks", 2013',
    reference: "torch.optim.RMSprop (PyTorch 1.13)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-2,
    create: (o) => rmsprop(o),
  },
  {
    name: "lion",
    title: "Lion",
    paper:
      'Chen, Liang, Huang, Real, Wang, Pham, Dong, Luong, Hsieh, Lu & Le, "Symbolic Discovery of Optimization Algorithms", NeurIPS 2023',
    reference: "lucidrains/lion-pytorch (Lion, use_triton=False)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-4,
    create: (o) => lion(o),
  },
  {
    name: "ademamix",
    title: "AdEMAMix",
    paper:
      'Pagliardini, Ablin & Grangier, "The AdEMAMix Optimizer: Better, Faster, Older", ICLR 2025',
    reference: "apple/ml-ademamix (pytorch/ademamix.py)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => ademamix(o),
  },
  {
    name: "lamb",
    title: "LAMB",
    paper:
      'You, Li, Reddi, Hseu, Kumar, Bhojanapalli, Song, Demmel, Keutzer & Hsieh, "Large Batch Optimization for Deep Learning: Training BERT in 76 minutes", ICLR 2020',
    reference: "cybertronai/pytorch-lamb (Lamb)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => lamb(o),
  },
  {
    name: "lars",
    title: "LARS",
    paper:
      'You, Gitman & Ginsburg, "Large Batch Training of Convolutional Networks", arXiv:1708.03888, 2017',
    reference: "kakaobrain/torchlars (LARS wrapping torch.optim.SGD)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1,
    create: (o) => lars(o),
  },
  {
    name: "diffgrad",
    title: "diffGrad",
    paper:
      'Dubey, Chakraborty, Roy, Mukherjee, Singh & Chaudhuri, "diffGrad: An Optimization Method for Convolutional Neural Networks", IEEE TNNLS 2020',
    reference: "shivram1987/diffGrad (diffGrad_v2.py)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1e-3,
    create: (o) => diffGrad(o),
  },
  {
    name: "random-scaling",
    title: "SGDM with random scaling",
    paper:
      'Zhang & Cutkosky, "Random Scaling and Momentum for Non-smooth Non-convex Optimization", ICML 2024',
    reference: "the authors' code (online-to-nonconvex conversion with exponential scaling)",
    oracle: "valueAndGrad",
    family: "first-order",
    seeded: true,
    defaultLearningRate: 3e-5,
    create: (o) => randomScaling(o),
  },
  {
    name: "aegd",
    title: "AEGD",
    paper: 'Liu & Tian, "AEGD: Adaptive Gradient Descent with Energy", arXiv:2010.05109, 2020',
    reference: "the authors' aegd.py",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 0.1,
    create: (o) => aegd(o),
  },
  {
    name: "polyak",
    title: "Polyak step size (SPS_max)",
    paper:
      'Loizou, Vaswani, Laradji & Lacoste-Julien, "Stochastic Polyak Step-size for SGD: An Adaptive Learning Rate for Fast Convergence", AISTATS 2021; Polyak, "Introduction to Optimization", 1987',
    reference: "the authors' sps.py (constant adaptation)",
    oracle: "valueAndGrad",
    family: "first-order",
    defaultLearningRate: 1,
    create: (o) => polyak({ maxStepSize: o.learningRate }),
  },
  {
    name: "sophia-g",
    title: "SophiaG",
    paper:
      'Liu, Li, Hall, Liang & Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model Pre-training", ICLR 2024',
    reference: "Liuhong99/Sophia sophia.py (SophiaG)",
    oracle: "sampledLabelGrad",
    family: "curvature",
    seeded: true,
    defaultLearningRate: 1e-4,
    create: (o) => sophiaG(o),
  },
  {
    name: "sophia-h",
    title: "SophiaH",
    paper:
      'Liu, Li, Hall, Liang & Ma, "Sophia: A Scalable Stochastic Second-order Optimizer for Language Model Pre-training", ICLR 2024',
    reference:
      "Liuhong99/Sophia sophia.py (update and defaults); Hutchinson estimate and clip as in the paper",
    oracle: "hvp",
    family: "curvature",
    seeded: true,
    defaultLearningRate: 1e-4,
    create: (o) => sophiaH(o),
  },
  {
    name: "adahessian",
    title: "AdaHessian",
    paper:
      'Yao, Gholami, Shen, Mustafa, Keutzer & Mahoney, "ADAHESSIAN: An Adaptive Second Order Optimizer for Machine Learning", AAAI 2021',
    reference:
      "amirgholami/adahessian (image_classification/optim_adahessian.py, instruction/adahessian.py)",
    oracle: "hvp",
    family: "curvature",
    seeded: true,
    defaultLearningRate: 0.15,
    create: (o) => adahessian(o),
  },
  {
    name: "oasis",
    title: "OASIS",
    paper:
      'Jahani, Rusakov, Shi, Richtárik, Mahoney & Takáč, "Doubly Adaptive Scaled Algorithm for Machine Learning Using Second-Order Information", ICLR 2022',
    reference: "the authors' OASIS experiment code (adaptive learning rate, Hutchinson warm start)",
    oracle: "hvp",
    family: "curvature",
    seeded: true,
    defaultLearningRate: 1,
    create: (o) =>
      oasis({
        learningRate: o.learningRate,
        adaptive: typeof o.learningRate === "number",
        ...(o.seed === undefined ? {} : { seed: o.seed }),
      }),
  },
  {
    name: "damped-newton",
    title: "Damped Newton (AICN step, Armijo)",
    paper:
      'Hanzely, Kamzolov, Pasechnyuk, Gasnikov, Richtárik & Takáč, "A Damped Newton Method Achieves Global O(1/k²) and Local Quadratic Convergence Rate", NeurIPS 2022',
    reference: "the paper's AICN step size with Armijo backtracking (no official code)",
    oracle: "hvp",
    family: "curvature",
    defaultLearningRate: 1,
    create: (o) => dampedNewton({ learningRate: o.learningRate }),
  },
  {
    name: "gradient-regularized-newton",
    title: "Gradient-regularized Newton",
    paper:
      'Mishchenko, "Regularized Newton Method with Global O(1/k²) Convergence", SIAM Journal on Optimization, 2023',
    reference: "the paper's iteration with adaptive L (halving/doubling); no official defaults",
    oracle: "hvp",
    family: "curvature",
    defaultLearningRate: 1,
    create: (o) => gradientRegularizedNewton({ learningRate: o.learningRate }),
  },
  {
    name: "saddle-free-newton",
    title: "Saddle-free Newton (Krylov)",
    paper:
      'Dauphin, Pascanu, Gulcehre, Cho, Ganguli & Bengio, "Identifying and attacking the saddle point problem in high-dimensional non-convex optimization", NeurIPS 2014',
    reference:
      "the paper's Krylov-subspace algorithm (Lanczos from the gradient); no official code",
    oracle: "hvp",
    family: "curvature",
    defaultLearningRate: 1,
    create: (o) => saddleFreeNewton({ learningRate: o.learningRate }),
  },
  {
    name: "mfac",
    title: "M-FAC",
    paper:
      'Frantar, Kurtic & Alistarh, "M-FAC: Efficient Matrix-Free Approximations of Second-Order Information", NeurIPS 2021',
    reference:
      "IST-DASLab/M-FAC optim.py (MFAC); here a window of 32 gradients and damping 1e-2 (there 1024 and 1e-5)",
    oracle: "valueAndGrad",
    family: "curvature",
    defaultLearningRate: 1e-2,
    create: ({ learningRate }) => mfac({ learningRate, numGradients: 32, damp: 1e-2 }),
  },
  {
    name: "egn",
    title: "Exact Gauss-Newton (EGN)",
    paper:
      'Korbit, Adeoye, Bemporad & Zanon, "Exact Gauss-Newton Optimization for Training Deep Neural Networks", arXiv:2405.14402, 2024',
    reference: "cor3bit/somax src/somax/gn/egn.py (EGN); adaptive λ as in its commented-out code",
    oracle: "outputJacobian",
    family: "curvature",
    defaultLearningRate: 1,
    create: ({ learningRate }) => egn({ learningRate }),
  },
  {
    name: "kfac",
    title: "K-FAC",
    paper:
      'Martens & Grosse, "Optimizing Neural Networks with Kronecker-factored Approximate Curvature", ICML 2015',
    reference:
      "alecwangcq/KFAC-Pytorch optimizers/kfac.py (KFACOptimizer); kl_clip 1e-2 of its main.py",
    oracle: "layerStatistics",
    family: "curvature",
    seeded: true,
    defaultLearningRate: 0.3,
    create: ({ learningRate, seed }) =>
      kfac({ learningRate, klClip: 1e-2, ...(seed === undefined ? {} : { seed }) }),
  },
  {
    name: "mkor",
    title: "MKOR",
    paper:
      'Mozaffari, Li, Zhang & Dehnavi, "MKOR: Momentum-Enabled Kronecker-Factor-Based Optimizer Using Rank-1 Updates", NeurIPS 2023',
    reference: "Mohammad-Mozaffari/mkor mkor/mkor.py (MKOR, optimizer='sgd', momentum 0.9)",
    oracle: "layerStatistics",
    family: "curvature",
    defaultLearningRate: 0.1,
    create: ({ learningRate }) => mkor({ learningRate }),
  },
  {
    name: "scaled-gd",
    title: "ScaledGD(λ)",
    paper:
      'Xu, Shen, Chi & Ma, "The Power of Preconditioning in Overparameterized Low-Rank Matrix Sensing", ICML 2023',
    reference: "the paper's update rule (η 0.5 and λ 1e-3 chosen here)",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.5,
    create: (o) => scaledGD(o),
  },
  {
    name: "muon",
    title: "Muon (AdamW for non-matrices)",
    paper:
      'Jordan, Jin, Boza, You, Cesista, Newhouse & Bernstein, "Muon: An optimizer for hidden layers in neural networks", 2024 (blog post)',
    reference:
      "KellerJordan/Muon muon.py (SingleDeviceMuonWithAuxAdam); the AdamW group's rate is 0.05× Muon's",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.01,
    create: ({ learningRate }) =>
      muonWithAdamw({ muon: { learningRate }, adamw: { learningRate: times(learningRate, 0.05) } }),
  },
  {
    name: "adago",
    title: "AdaGO (AdamW for non-matrices)",
    paper:
      'Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates", arXiv:2509.02981, 2025',
    reference:
      "the paper's algorithm (no official code; defaults chosen here); the AdamW group's rate is 0.01× AdaGO's",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.3,
    create: ({ learningRate }) =>
      routeMatrices({
        matrices: adago({ learningRate }),
        rest: adamw({ learningRate: times(learningRate, 0.01) }),
      }),
  },
  {
    name: "fismo",
    title: "FISMO (AdamW for non-matrices)",
    paper:
      'Xu, Yan & Zhang, "FISMO: Fisher-Structured Momentum-Orthogonalized Optimizer", ICML 2026 (arXiv:2601.21750)',
    reference:
      "the paper's Algorithm 1 (no official code; β 0.95, γ 0.95, μ 1e-3 chosen here); the AdamW group's rate is 0.05× FISMO's",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.01,
    create: ({ learningRate }) =>
      routeMatrices({
        matrices: fismo({ learningRate }),
        rest: adamw({ learningRate: times(learningRate, 0.05) }),
      }),
  },
  {
    name: "lmo",
    title: "Steepest descent under a norm (spectral for matrices, ℓ∞ otherwise)",
    paper:
      'Bernstein & Newhouse, "Old Optimizer, New Norm: An Anthology", arXiv:2409.20325, 2024; Pethick, Xie, Erdogan, Antonakopoulos, Silveti-Falls & Cevher, "Training Deep Learning Models with Norm-Constrained LMOs", ICML 2025',
    reference: "the papers' update with momentum 0.9 (defaults chosen here)",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.01,
    create: ({ learningRate }) => lmo({ learningRate, momentum: 0.9 }),
  },
  {
    name: "noise-adaptive-lmo",
    title:
      "Noise-adaptive layer-wise rates on steepest descent under a norm (spectral for matrices, ℓ∞ otherwise)",
    paper:
      'Ward, Wu & Bottou, "AdaGrad Stepsizes: Sharp Convergence Over Nonconvex Landscapes", ICML 2019; Zhang, Liu & Schaeffer, "AdaGrad Meets Muon: Adaptive Stepsizes for Orthogonal Updates", arXiv:2509.02981, 2025',
    reference:
      "AdaGO's AdaGrad-Norm step size per tensor, measured in the dual norm of each tensor's LMO, no clamp (no official code; defaults chosen here)",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.3,
    create: ({ learningRate }) => noiseAdaptiveLmo({ learningRate }),
  },
  {
    name: "shampoo",
    title: "Shampoo (AdamW for non-matrices)",
    paper:
      'Gupta, Koren & Singer, "Shampoo: Preconditioned Stochastic Tensor Optimization", ICML 2018; Shi, Lee, Iwasaki, Gallego-Posada, Li, Rangadurai, Mudigere & Rabbat, "A Distributed Data-Parallel PyTorch Implementation of the Distributed Shampoo Optimizer for Training Neural Networks At-Scale", arXiv:2309.06497, 2023',
    reference:
      "facebookresearch/optimizers distributed_shampoo (Adam grafting); roots every 10 steps here; the AdamW group uses the same rate",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.03,
    create: ({ learningRate }) =>
      routeMatrices({
        matrices: shampoo({ learningRate, preconditionFrequency: 10 }),
        rest: adamw({ learningRate }),
      }),
  },
  {
    name: "soap",
    title: "SOAP",
    paper:
      'Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson & Kakade, "SOAP: Improving and Stabilizing Shampoo using Adam", ICLR 2025',
    reference: "nikhilvyas/SOAP soap.py (vectors get SOAP's Adam, as there)",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.01,
    create: ({ learningRate }) => soap({ learningRate }),
  },
  {
    name: "ada-muon",
    title: "AdaMuon (AdamW for non-matrices)",
    paper:
      'Frans, Abbeel & Levine, "What Really Matters in Matrix-Whitening Optimizers?", arXiv:2510.25000, 2025; Si, Zhang & Shen, "AdaMuon: Adaptive Muon Optimizer", arXiv:2507.11005, 2025',
    reference: "kvfrans/matrix-whitening optimizers/adamuon.py",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.01,
    create: ({ learningRate }) =>
      routeMatrices({ matrices: adaMuon({ learningRate }), rest: adamw({ learningRate }) }),
  },
  {
    name: "factored-ada-muon",
    title: "AdaMuon with a factored second moment (AdamW for non-matrices)",
    paper:
      'Frans, Abbeel & Levine, "What Really Matters in Matrix-Whitening Optimizers?", arXiv:2510.25000, 2025; Shazeer & Stern, "Adafactor: Adaptive Learning Rates with Sublinear Memory Cost", ICML 2018',
    reference:
      "kvfrans/matrix-whitening optimizers/adamuon.py (v_adafactor), with Adafactor's row/column normalization (the code's: compatibility \"matrix-whitening\")",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.01,
    create: ({ learningRate }) =>
      routeMatrices({ matrices: factoredAdaMuon({ learningRate }), rest: adamw({ learningRate }) }),
  },
  {
    name: "splus",
    title: "SPlus",
    paper:
      'Frans, Levine & Abbeel, "A Stable Whitening Optimizer for Efficient Neural Network Training", arXiv:2506.07254, 2025',
    reference:
      "kvfrans/splus optax/splus.py (vectors get sign descent at 0.001× the step, as there; evaluate with splusEvaluationParams)",
    oracle: "valueAndGrad",
    family: "matrix",
    defaultLearningRate: 0.1,
    create: ({ learningRate }) => splus({ learningRate }),
  },
  {
    name: "psgd-kron",
    title: "PSGD Kron",
    paper:
      'Li, "Preconditioned Stochastic Gradient Descent", IEEE TNNLS 2018; Li, "Stochastic Hessian Fittings with Lie Groups", arXiv:2402.11858, 2024',
    reference: 'lixilinx/psgd_torch psgd.py (KronWhiten; KronNewton with fit: "newton")',
    oracle: "valueAndGrad",
    family: "matrix",
    seeded: true,
    defaultLearningRate: 1e-3,
    create: ({ learningRate, seed }) =>
      psgdKron({ learningRate, ...(seed === undefined ? {} : { seed }) }),
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
