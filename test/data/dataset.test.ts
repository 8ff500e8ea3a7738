import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { gzipSync } from "node:zlib";
import { loadBreastCancer } from "../../src/data/breastCancer.js";
import type { Dataset } from "../../src/data/dataset.js";
import { loadCsvDataset } from "../../src/data/files.js";
import {
  parseCsvDataset,
  permutation,
  standardize,
  subset,
  trainTestSplit,
} from "../../src/data/dataset.js";
import { loadDigits } from "../../src/data/digits.js";
import { InvalidArgumentError } from "../../src/errors.js";

describe("shipped data sets", () => {
  it("digits: 1797 rows of 64 pixels in [0, 1], labels 0-9, first row as in the file", () => {
    const ds = loadDigits();
    assert.equal(ds.rows, 1797);
    assert.equal(ds.cols, 64);
    assert.equal(ds.classes, 10);
    assert.deepEqual(ds.classNames, ["0", "1", "2", "3", "4", "5", "6", "7", "8", "9"]);
    // The first image of the UCI file (a zero), grey levels 0-16 divided by 16.
    const firstRow = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0];
    assert.deepEqual([...ds.features.subarray(0, 16)], firstRow.map((v) => v / 16));
    assert.equal(ds.labels[0], 0);
    let min = Infinity;
    let max = -Infinity;
    for (const v of ds.features) {
      min = Math.min(min, v);
      max = Math.max(max, v);
    }
    assert.equal(min, 0);
    assert.equal(max, 1);
    const counts = new Array<number>(10).fill(0);
    for (const y of ds.labels) counts[y]++;
    // The UCI digits are nearly balanced: 174 to 183 examples per class.
    assert.ok(counts.every((c) => c >= 174 && c <= 183), `class counts ${counts}`);
  });

  it("breast cancer: 569 rows, 30 features, class names from the header", () => {
    const ds = loadBreastCancer();
    assert.equal(ds.rows, 569);
    assert.equal(ds.cols, 30);
    assert.equal(ds.classes, 2);
    assert.deepEqual(ds.classNames, ["malignant", "benign"]);
    // First data row of the file: radius 17.99, texture 10.38, …, malignant.
    assert.equal(ds.features[0], 17.99);
    assert.equal(ds.features[1], 10.38);
    assert.equal(ds.features[29], 0.1189);
    assert.equal(ds.labels[0], 0);
    let benign = 0;
    for (const y of ds.labels) benign += y;
    // The Wisconsin diagnostic set has 212 malignant and 357 benign cases.
    assert.equal(benign, 357);
  });
});

function tiny(): Dataset {
  return {
    features: Float64Array.of(1, 10, 2, 10, 3, 10, 6, 10),
    labels: Int32Array.of(0, 1, 0, 1),
    rows: 4,
    cols: 2,
    classes: 2,
  };
}

describe("standardize", () => {
  it("gives every column mean 0 and standard deviation 1; constant columns are only centred", () => {
    const out = standardize(tiny());
    // Column 0 is 1, 2, 3, 6: mean 3, population standard deviation √3.5.
    const sd = Math.sqrt(3.5);
    const expected = [1, 2, 3, 6].map((v) => (v - 3) / sd);
    expected.forEach((v, i) => assert.ok(Math.abs(out.features[i * 2] - v) < 1e-15));
    for (let i = 0; i < 4; i++) assert.equal(out.features[i * 2 + 1], 0);
    assert.deepEqual([...out.labels], [0, 1, 0, 1]);
    assert.equal(tiny().features[0], 1, "the input is not modified");
  });

  it("applies the reference set's statistics to another set", () => {
    const test: Dataset = { ...tiny(), features: Float64Array.of(3, 10, 3 + Math.sqrt(3.5), 12), rows: 2, labels: Int32Array.of(0, 1) };
    const out = standardize(test, tiny());
    assert.equal(out.features[0], 0);
    assert.ok(Math.abs(out.features[2] - 1) < 1e-15);
    assert.equal(out.features[3], 2);
  });
});

describe("permutation and trainTestSplit", () => {
  it("permutation is a seeded permutation: each index once, same seed same order", () => {
    const a = permutation(1000, 5);
    assert.deepEqual([...a].sort((x, y) => x - y), Array.from({ length: 1000 }, (_, i) => i));
    assert.deepEqual(a, permutation(1000, 5));
    assert.notDeepEqual(a, permutation(1000, 6));
    assert.notDeepEqual(a, permutation(1000, 5, 1), "streams are independent");
  });

  it("permutation is uniform: every element visits every position about equally", () => {
    // 4! = 24 orders of 4 elements over 2400 seeds: each order expected 100 times. A chi-square
    // statistic above 49.7 (23 degrees of freedom, p = 0.001) would mean a biased shuffle.
    const counts = new Map<string, number>();
    for (let seed = 0; seed < 2400; seed++) {
      const key = permutation(4, seed).join("");
      counts.set(key, (counts.get(key) ?? 0) + 1);
    }
    assert.equal(counts.size, 24);
    let chi2 = 0;
    for (const c of counts.values()) chi2 += (c - 100) ** 2 / 100;
    assert.ok(chi2 < 49.7, `chi-square ${chi2.toFixed(1)}`);
  });

  it("splits the rows into disjoint parts of the requested size, deterministically", () => {
    const ds = loadDigits();
    const { train, test } = trainTestSplit(ds, 0.2, 3);
    assert.equal(test.rows, Math.round(1797 * 0.2));
    assert.equal(train.rows + test.rows, 1797);
    const again = trainTestSplit(ds, 0.2, 3);
    assert.deepEqual(again.test.features, test.features);
    assert.notDeepEqual(trainTestSplit(ds, 0.2, 4).test.labels, test.labels);
    const rowKey = (d: Dataset, i: number) =>
      `${d.labels[i]}:${d.features.subarray(i * d.cols, (i + 1) * d.cols).join(",")}`;
    const all = new Map<string, number>();
    for (let i = 0; i < ds.rows; i++) all.set(rowKey(ds, i), (all.get(rowKey(ds, i)) ?? 0) + 1);
    for (const part of [train, test]) {
      for (let i = 0; i < part.rows; i++) {
        const key = rowKey(part, i);
        assert.ok((all.get(key) ?? 0) > 0, "every row comes from the data set, once");
        all.set(key, all.get(key)! - 1);
      }
    }
    assert.ok([...all.values()].every((c) => c === 0), "every row lands in one part");
    const classesInTest = new Set(test.labels);
    assert.equal(classesInTest.size, 10);
  });

  it("rejects fractions that leave a part empty", () => {
    assert.throws(() => trainTestSplit(tiny(), 0, 1), InvalidArgumentError);
    assert.throws(() => trainTestSplit(tiny(), 1, 1), InvalidArgumentError);
    assert.throws(() => trainTestSplit(tiny(), 0.05, 1), /both parts non-empty/);
  });

  it("subset copies the chosen rows in order and checks the indices", () => {
    const out = subset(tiny(), [3, 0]);
    assert.deepEqual([...out.features], [6, 10, 1, 10]);
    assert.deepEqual([...out.labels], [1, 0]);
    assert.throws(() => subset(tiny(), [4]), /indices\[0\]/);
  });
});

describe("CSV loading", () => {
  it("parses numeric rows, auto-detects a header, label in the last column", () => {
    const ds = parseCsvDataset("a,b,label\n1,2,0\n3.5,-4e2,2\n\n");
    assert.equal(ds.rows, 2);
    assert.equal(ds.cols, 2);
    assert.equal(ds.classes, 3);
    assert.deepEqual([...ds.features], [1, 2, 3.5, -400]);
    assert.deepEqual([...ds.labels], [0, 2]);
  });

  it("honours labelColumn, delimiter, header and classNames", () => {
    const ds = parseCsvDataset("1;0.5;7\n0;1.5;8\n", {
      labelColumn: 0,
      delimiter: ";",
      header: false,
      classNames: ["no", "yes"],
    });
    assert.deepEqual([...ds.features], [0.5, 7, 1.5, 8]);
    assert.deepEqual([...ds.labels], [1, 0]);
    assert.deepEqual(ds.classNames, ["no", "yes"]);
  });

  it("names the file, line and column of malformed input", () => {
    const dir = mkdtempSync(join(tmpdir(), "descend-csv-"));
    try {
      const file = join(dir, "bad.csv");
      writeFileSync(file, "x,y,label\n1,2,0\n1,oops,1\n");
      assert.throws(() => loadCsvDataset(file), /^Error: bad\.csv:3: column 2 is "oops", not a number$/);
      writeFileSync(file, "1,2,0\n1,2\n");
      assert.throws(() => loadCsvDataset(file), /bad\.csv:2: expected 3 fields like the first row, found 2/);
      writeFileSync(file, "1,2,0\n1,2,1.5\n");
      assert.throws(() => loadCsvDataset(file), /bad\.csv:2: column 3 \(the label\) is "1\.5"/);
      writeFileSync(file, "1,2,0\n1,,1\n");
      assert.throws(() => loadCsvDataset(file), /bad\.csv:2: column 2 is "", not a number/);
      writeFileSync(file, "1,2,3\n");
      assert.throws(
        () => loadCsvDataset(file, { classNames: ["a", "b"] }),
        /bad\.csv:1: column 3 \(the label\) is 3, but only 2 class names/,
      );
      writeFileSync(file, "\n\n");
      assert.throws(() => loadCsvDataset(file), /bad\.csv: no data rows/);
      assert.throws(() => loadCsvDataset(file, { labelcolumn: 0 } as never), InvalidArgumentError);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });

  it("reads gzip-compressed files", () => {
    const dir = mkdtempSync(join(tmpdir(), "descend-csv-"));
    try {
      const file = join(dir, "data.csv.gz");
      writeFileSync(file, gzipSync("0.25,1\n0.75,0\n"));
      const ds = loadCsvDataset(file);
      assert.deepEqual([...ds.features], [0.25, 0.75]);
      assert.deepEqual([...ds.labels], [1, 0]);
    } finally {
      rmSync(dir, { recursive: true });
    }
  });
});
