/**
 * Dense linear algebra benchmark: matmul, Gram products, symmetric eigendecomposition and
 * inverse p-th roots at the sizes of matrix-aware optimizers' preconditioners.
 *
 * Each row times the operation (after a warm-up) interleaved with a baseline that carries over between machines
 * better than milliseconds on a shared one: for products, the textbook row-times-row loop
 * (i, k, j order over a float64 accumulator row) on the same inputs; for eigh and inverseRoot,
 * one n×n matmul. GFLOP/s counts 2mkn for a product, mk(k+1) for a Gram matrix (the half it
 * computes, mirrored), and the usual 9n³ (with vectors) or 4n³/3 (values only) for eigh.
 *
 *     npx tsx bench/linalg.ts [-- --sizes 64,256,512 --repeats 5]
 */
import { eigh } from "../src/linalg/eigh.js";
import { inverseRoot } from "../src/linalg/inverseRoot.js";
import type { MatrixData } from "../src/linalg/matmul.js";
import { gram, matmul } from "../src/linalg/matmul.js";
import { fillUniform } from "../src/random/distributions.js";
import { median } from "./common.js";

interface Options {
  sizes: number[];
  repeats: number;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { sizes: [64, 256, 512], repeats: 5 };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    if (argv[i] === "--sizes") {
      options.sizes = value.split(",").map(Number);
      i++;
    } else if (argv[i] === "--repeats") {
      options.repeats = Number(value);
      i++;
    } else if (argv[i] !== "--") {
      throw new RangeError(`unknown argument ${argv[i]} (use --sizes 64,256 --repeats 5)`);
    }
  }
  if (options.sizes.some((n) => !Number.isInteger(n) || n < 1) || !(options.repeats >= 1)) {
    throw new RangeError("--sizes takes positive integers and --repeats a count ≥ 1");
  }
  return options;
}

function randomMatrix(length: number, seed: number, dtype: "float32" | "float64"): MatrixData {
  const out = dtype === "float32" ? new Float32Array(length) : new Float64Array(length);
  fillUniform(out, seed, 0);
  for (let i = 0; i < length; i++) out[i] = 2 * out[i] - 1;
  return out;
}

/** The loop a user would write first: C[i, :] += A[i, p]·B[p, :]. */
function textbookProduct(a: MatrixData, b: MatrixData, n: number, out: MatrixData): void {
  const row = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    row.fill(0);
    for (let p = 0; p < n; p++) {
      const aip = a[i * n + p];
      const offset = p * n;
      for (let j = 0; j < n; j++) row[j] += aip * b[offset + j];
    }
    for (let j = 0; j < n; j++) out[i * n + j] = row[j];
  }
}

/**
 * Median milliseconds of `work` and `baseline`, timed alternately after a warm-up of at least
 * three calls and 50 ms each (so the engine's optimizing compiler has run).
 */
function timePair(work: () => void, baseline: () => void, repeats: number): [number, number] {
  for (const task of [work, baseline]) {
    const start = performance.now();
    for (let calls = 0; calls < 3 || performance.now() - start < 50; calls++) task();
  }
  const workTimes: number[] = [];
  const baselineTimes: number[] = [];
  for (let r = 0; r < repeats; r++) {
    let start = performance.now();
    work();
    workTimes.push(performance.now() - start);
    start = performance.now();
    baseline();
    baselineTimes.push(performance.now() - start);
  }
  return [median(workTimes), median(baselineTimes)];
}

function row(label: string, ms: number, flops: number, baselineMs: number, baseline: string): void {
  const gflops = flops > 0 ? (flops / ms / 1e6).toFixed(2) : "";
  console.log(
    `${label.padEnd(34)} ${ms.toFixed(2).padStart(9)} ms ${gflops.padStart(7)} GFLOP/s` +
      `   ${(baselineMs / ms).toFixed(2).padStart(6)}× ${baseline}`,
  );
}

function symmetricPositive(n: number, seed: number): Float64Array {
  const b = randomMatrix(n * n, seed, "float64");
  const a = new Float64Array(n * n);
  gram(b, n, n, a, "left", { alpha: 1 / n });
  for (let i = 0; i < n; i++) a[i * n + i] += 1e-3;
  return a;
}

function main(): void {
  const { sizes, repeats } = parseArgs(process.argv.slice(2));
  console.log(`median of ${repeats}; ratio = baseline time / time (higher is faster)\n`);
  console.log("products (baseline: the textbook i-k-j loop)");
  for (const n of sizes) {
    for (const dtype of ["float64", "float32"] as const) {
      const a = randomMatrix(n * n, 1, dtype);
      const b = randomMatrix(n * n, 2, dtype);
      const out = dtype === "float32" ? new Float32Array(n * n) : new Float64Array(n * n);
      const textbook = () => textbookProduct(a, b, n, out);
      const flops = 2 * n ** 3;
      const [plain, base] = timePair(() => matmul(a, b, n, n, n, out), textbook, repeats);
      row(`matmul ${n}×${n} ${dtype}`, plain, flops, base, "textbook loop");
      const [both] = timePair(
        () => matmul(a, b, n, n, n, out, { transposeA: true, transposeB: true }),
        textbook,
        repeats,
      );
      row(`matmul Aᵀ·Bᵀ ${n}×${n} ${dtype}`, both, flops, base, "textbook loop");
      const [left] = timePair(() => gram(a, n, n, out, "left"), textbook, repeats);
      row(`gram A·Aᵀ ${n}×${n} ${dtype}`, left, n * n * (n + 1), base, "textbook loop");
    }
  }
  console.log("\neigh and inverse roots, float64 (baseline: one n×n matmul)");
  for (const n of sizes) {
    const a = symmetricPositive(n, 3);
    const values = new Float64Array(n);
    const vectors = new Float64Array(n * n);
    const out = new Float64Array(n * n);
    const product = () => matmul(a, a, n, n, n, out);
    const [full, base] = timePair(() => eigh(a, n, values, vectors), product, repeats);
    row(`eigh ${n}×${n} with vectors`, full, 9 * n ** 3, base, "matmul");
    const [valuesOnly] = timePair(() => eigh(a, n, values, null), product, repeats);
    row(`eigh ${n}×${n} values only`, valuesOnly, (4 / 3) * n ** 3, base, "matmul");
    for (const method of ["eigen", "newton"] as const) {
      let iterations = 0;
      const [root] = timePair(
        () => {
          iterations = inverseRoot(a, n, 4, out, { method, epsilon: 1e-6 }).iterations;
        },
        product,
        repeats,
      );
      const label = method === "newton" ? `newton, ${iterations} iterations` : "eigen";
      row(`A^(-1/4) ${n}×${n} ${label}`, root, 0, base, "matmul");
    }
  }
}

main();
