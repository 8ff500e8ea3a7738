/**
 * Random-number benchmark: the cost of filling d float32 Gaussians relative to copying d float32
 * values.
 *
 * For d = 1M and 16M, each round times, one after the other: a copy of a d-element Float32Array
 * into another (`dst.set(src)`); the float64-definition Gaussians (`fillNormal`) and the
 * float32-native ones (`fillNormalFloat32`), each in JavaScript and in the WebAssembly SIMD fill
 * of `useFastRandom()` on one thread and on worker threads. The table reports median(fill) /
 * median(copy) (the target is 10× or less) and the median nanoseconds per sample. Timing them
 * interleaved, in one run, keeps the ratio meaningful on a shared machine. The uniform and
 * Rademacher fills (JavaScript) are listed for comparison. Every fast fill is checked against
 * its JavaScript definition before timing.
 *
 *     npx tsx bench/random.ts [-- --sizes 1M,16M --repeats 7 --threads 2 --grain 32768]
 */
import type { FloatBuffer } from "../src/random/distributions.js";
import { fillNormal, fillRademacher, fillUniform } from "../src/random/distributions.js";
import { useFastRandom } from "../src/random/fast.js";
import { fillNormalFloat32 } from "../src/random/normalFloat32.js";
import { median, parseSize } from "./common.js";

interface Options {
  sizes: number[];
  repeats: number;
  threads: number | undefined;
  grain: number | undefined;
}

function parseArgs(argv: string[]): Options {
  const options: Options = {
    sizes: [2 ** 20, 2 ** 24],
    repeats: 7,
    threads: undefined,
    grain: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const value = argv[i + 1];
    switch (argv[i]) {
      case "--sizes":
        options.sizes = value.split(",").map((text) => parseSize("--sizes", text));
        i++;
        break;
      case "--repeats":
        options.repeats = Number(value);
        i++;
        break;
      case "--threads":
        options.threads = Number(value);
        i++;
        break;
      case "--grain":
        options.grain = Number(value);
        i++;
        break;
      default:
        throw new RangeError(
          `unknown argument ${argv[i]} (known: --sizes, --repeats, --threads, --grain)`,
        );
    }
  }
  if (!Number.isInteger(options.repeats) || options.repeats < 1) {
    throw new RangeError(`--repeats must be a positive integer, got ${options.repeats}`);
  }
  return options;
}

function label(n: number): string {
  return n % 2 ** 20 === 0 ? `${n / 2 ** 20}M` : n % 1024 === 0 ? `${n / 1024}K` : String(n);
}

type Fill = (out: Float32Array, seed: number, stream: number) => FloatBuffer;

/** Throws unless `fast` fills the same bits as its JavaScript definition `reference`. */
function check(fast: Fill, reference: Fill, out: Float32Array, name: string): void {
  const expected = reference(new Float32Array(out.length), 11, 3);
  fast(out, 11, 3);
  for (let i = 0; i < out.length; i++) {
    if (!Object.is(out[i], expected[i])) {
      throw new Error(`${name}: sample ${i} is ${out[i]}, JavaScript gives ${expected[i]}`);
    }
  }
}

async function main(): Promise<void> {
  const options = parseArgs(process.argv.slice(2));
  const single = await useFastRandom({ threads: 1 });
  const threaded = await useFastRandom({ threads: options.threads, grain: options.grain });
  if (!single.enabled) {
    console.log("WebAssembly SIMD is unavailable: the fast fills run their JavaScript definitions");
  }
  const threads = `${threaded.threads} threads`;
  console.log(
    `Gaussian float32 fill vs one float32 copy (median of ${options.repeats}, interleaved)\n`,
  );

  for (const n of options.sizes) {
    const src = new Float32Array(n).fill(1);
    const dst = new Float32Array(n);
    const out = new Float32Array(n);
    const fills: [string, Fill, Fill][] = [
      ["fillNormal, WASM SIMD, 1 thread", single.fillNormal.bind(single), fillNormal],
      [`fillNormal, WASM SIMD, ${threads}`, threaded.fillNormal.bind(threaded), fillNormal],
      [
        "fillNormalFloat32, WASM SIMD, 1 thread",
        single.fillNormalFloat32.bind(single),
        fillNormalFloat32,
      ],
      [
        `fillNormalFloat32, WASM SIMD, ${threads}`,
        threaded.fillNormalFloat32.bind(threaded),
        fillNormalFloat32,
      ],
    ];
    for (const [name, fast, reference] of fills) check(fast, reference, out, name);
    const cases: [string, () => void][] = [
      ["copy (dst.set(src))", () => dst.set(src)],
      ["fillNormal (JavaScript)", () => fillNormal(out, 1, 2)],
      [fills[0][0], () => fills[0][1](out, 1, 2)],
      [fills[1][0], () => fills[1][1](out, 1, 2)],
      ["fillNormalFloat32 (JavaScript)", () => fillNormalFloat32(out, 1, 2)],
      [fills[2][0], () => fills[2][1](out, 1, 2)],
      [fills[3][0], () => fills[3][1](out, 1, 2)],
      ["fillUniform (JavaScript)", () => fillUniform(out, 1, 2)],
      ["fillRademacher (JavaScript)", () => fillRademacher(out, 1, 2)],
    ];
    const times = cases.map((): number[] => []);
    for (const [, run] of cases) run(); // warm-up: compile, touch the pages
    for (let r = 0; r < options.repeats; r++) {
      for (let c = 0; c < cases.length; c++) {
        const start = performance.now();
        cases[c][1]();
        times[c].push(performance.now() - start);
      }
    }
    const copy = median(times[0]);
    console.log(`d = ${label(n)} (${n} samples)`);
    console.log(
      `  ${"".padEnd(42)}${"ms".padStart(9)}${"ns/sample".padStart(11)}${"÷ copy".padStart(9)}`,
    );
    for (let c = 0; c < cases.length; c++) {
      const t = median(times[c]);
      console.log(
        `  ${cases[c][0].padEnd(42)}${t.toFixed(2).padStart(9)}` +
          `${((t / n) * 1e6).toFixed(2).padStart(11)}${(t / copy).toFixed(1).padStart(9)}`,
      );
    }
    console.log("");
  }
  await single.close();
  await threaded.close();
}

await main();
