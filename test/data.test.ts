// lib/data/data.ts: TrainData from the course split and from files (one split file, or train /
// validation / test files), and the errors bad data gives (file, line, problem).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { trainData, textSet, checkData, loadTrainData } from "../lib/data/data";
import { loadCourseData } from "../lib/data/smile";
import { SMILE_CSV } from "../lib/core/paths";
import { CARER_SOURCE } from "../lib/data/carer";
import { tmpDir } from "./helpers/tmp";

const tmp = () => tmpDir("bertlab-data-");
const write = (dir: string, name: string, rows: string[][]) => {
  const file = path.join(dir, name);
  fs.writeFileSync(file, rows.map((r) => r.join("\t")).join("\n") + "\n");
  return file;
};
const cols = { textColumn: "text", labelColumn: "label", idColumn: "id" };
const split = { validationSize: 0.25, seed: 17 };

const noSmile = !fs.existsSync(SMILE_CSV) && "needs the SMILE CSV";

test("trainData(loadCourseData()) is the course split as notebooks 05 and 06 built it", { skip: noSmile }, () => {
  const smile = loadCourseData();
  const data = trainData(smile);
  assert.deepEqual(data.labels, smile.labels);
  const byHand = {
    texts: smile.train.map((r) => r.text),
    labels: smile.train.map((r) => r.category),
    ids: smile.train.map((r) => r.id),
  };
  assert.deepEqual(data.train, byHand);
  assert.deepEqual(data.validation.texts, smile.validation.map((r) => r.text));
  assert.deepEqual(data.validation.labels, smile.validation.map((r) => r.category));
  assert.equal(data.test, undefined);
  assert.deepEqual([data.train.texts.length, data.validation.texts.length], [1258, 223]);
  const loaded = loadTrainData({}, { validationSize: 0.15, seed: 17 });
  assert.deepEqual(loaded.validation.ids, smile.validation.map((r) => r.id));
});

test("one file is split (stratified); train + validation files are used as they are; a test file comes along", () => {
  const dir = tmp();
  const rows = [["id", "text", "label"]];
  for (let i = 0; i < 12; i++) rows.push([String(i), `text ${i}`, ["a", "b", "c"][i % 3]]);
  const file = write(dir, "all.tsv", rows);
  const one = loadTrainData({ csv: file, ...cols }, split);
  assert.deepEqual([one.train.texts.length, one.validation.texts.length], [9, 3]);
  assert.deepEqual([...one.validation.labels].sort(), ["a", "b", "c"]); // every class on both sides
  assert.deepEqual(one.labels, ["a", "b", "c"]);
  assert.equal(one.validation.origin!.file, file); // errors can point at the line
  // --train-csv alone: split the same way
  assert.deepEqual(loadTrainData({ trainCsv: file, ...cols }, split).ids, one.ids);

  const dev = write(dir, "dev.tsv", [["id", "text", "label"], ["d1", "dev one", "b"], ["d2", "dev two", "a"]]);
  const testFile = write(dir, "test.tsv", [["id", "text", "label"], ["t1", "test one", "c"]]);
  const sep = loadTrainData({ trainCsv: file, validationCsv: dev, testCsv: testFile, ...cols }, split);
  assert.equal(sep.train.texts.length, 12);
  assert.deepEqual(sep.validation.labels, ["b", "a"]);
  assert.deepEqual(sep.ids, { train: rows.slice(1).map((r) => r[0]), validation: ["d1", "d2"], test: ["t1"] });
  assert.deepEqual(sep.test!.texts, ["test one"]);
});

test("bad data: errors name the file, the line and the problem", () => {
  const dir = tmp();
  const file = write(dir, "train.tsv", [["id", "text", "label"], ["1", "x", "a"], ["2", "y", "b"], ["3", "z", "a"]]);
  const dev = write(dir, "dev.tsv", [["id", "text", "label"], ["4", "w", "a"], ["5", "v", "surprise"]]);
  assert.throws(
    () => loadTrainData({ trainCsv: file, validationCsv: dev, ...cols }, split),
    new RegExp(`${dev.replace(/[.]/g, "\\.")}:3: label "surprise" occurs only in validation, never in the training`),
  );
  const testFile = write(dir, "test.tsv", [["id", "text", "label"], ["6", "u", "angry"]]);
  assert.throws(
    () => loadTrainData({ trainCsv: file, validationCsv: file, testCsv: testFile, ...cols }, split),
    /test\.tsv:2: label "angry" occurs only in test/,
  );
  assert.throws(
    () => loadTrainData({ csv: file, trainCsv: file, ...cols }, split),
    /either --csv .* or --train-csv, not both/,
  );
  assert.throws(() => loadTrainData({ validationCsv: dev, ...cols }, split), /--validation-csv .* needs --train-csv/);
  assert.throws(() => loadTrainData({ csv: file }, split), /needs --text-column and --label-column/);
  // a label with one row cannot be on both sides of a stratified split: named with its line
  assert.throws(
    () => loadTrainData({ csv: file, ...cols }, split),
    new RegExp(
      `train\\.tsv: a label occurs only once: "b" \\(${file.replace(/[.]/g, "\\.")}:3\\)\\. .*--validation-csv`,
    ),
  );
  const small = write(dir, "small.tsv", [
    ["id", "text", "label"],
    ...[..."abcabc"].map((l, i) => [String(i), `t${i}`, l]),
  ]);
  assert.throws(
    () => loadTrainData({ csv: small, ...cols }, split),
    /small\.tsv \(6 rows, 3 labels, --validation-size 0\.25\): The test_size = 2 should be greater or equal to the number of classes = 3/,
  );
  // without a file, checkData names the example
  const train = { texts: ["a", "b"], labels: ["x", "y"] };
  assert.throws(
    () => checkData({ train, validation: { texts: ["c"], labels: ["z"], ids: ["17"] } }),
    /validation example 0 \(id 17\): label "z" occurs only in validation/,
  );
  assert.throws(
    () => checkData({ train, validation: textSet([]), test: { texts: ["t"], labels: [] } }),
    /test data has 1 texts but 0 labels/,
  );
});

test("CARER loads as a data source: 16,000 / 2,000 / 2,000 tweets, six emotions, string ids", {
  skip: fs.existsSync(CARER_SOURCE.trainCsv!) ? false : "no data/carer (set-up copies it from ../shared)",
}, () => {
  const d = loadTrainData({ ...CARER_SOURCE, multiLabel: false }, { validationSize: 0.15, seed: 17 });
  assert.deepEqual([d.train.texts.length, d.validation.texts.length, d.test?.texts.length], [16000, 2000, 2000]);
  assert.deepEqual([...d.labels].sort(), ["anger", "fear", "joy", "love", "sadness", "surprise"]);
  assert.equal(d.ids.train[0], "train-1");
  assert.equal(d.train.texts[0], "i didnt feel humiliated");
  assert.equal(d.train.labels.filter((l) => l === "surprise").length, 572);
});
