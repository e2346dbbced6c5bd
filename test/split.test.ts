// lib/data/split.ts: the course's split equals the reference file, stratifiedSplit/randomSplit equal
// scikit-learn on synthetic labels (fixtures from scripts/make_split_fixtures.py), errors match,
// stratification holds for many seeds, and the functions are pure.
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { stratifiedSplit, randomSplit, approximateMode, splitSizes, countLabels } from "../lib/data/split";
import { RandomState } from "../lib/core/random";
import { loadSmile, filterForCourse, labelDict, withLabels, loadCourseData } from "../lib/data/smile";
import { SMILE_CSV, SHARED_SMILE_DIR, DATA_DIR } from "../lib/core/paths";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures", "split", "splits.json"), "utf8"));
const REF_NAME = "split-test_size0.15-random_state17.json";
const refFile = [path.join(SHARED_SMILE_DIR, REF_NAME), path.join(DATA_DIR, REF_NAME)].find((f) => fs.existsSync(f));
const skipCourse = refFile && fs.existsSync(SMILE_CSV)
  ? false
  : `needs ${SMILE_CSV} and ${REF_NAME} (npx tsx scripts/fetch-data.ts)`;

test("the course's split equals scikit-learn's reference, in both orders", { skip: skipCourse }, () => {
  const ref = JSON.parse(fs.readFileSync(refFile!, "utf8"));
  const rows = withLabels(filterForCourse(loadSmile()), labelDict(filterForCourse(loadSmile())));
  const s = stratifiedSplit(rows.map((r) => r.id), rows.map((r) => r.label), { validationSize: 0.15, seed: 17 });
  assert.equal(s.train.length, 1258);
  assert.equal(s.validation.length, 223);
  assert.deepEqual(s.train, ref.train_ids_sklearn_order);
  assert.deepEqual(s.validation, ref.val_ids_sklearn_order);
  assert.deepEqual(s.trainFileOrder, ref.train_ids_file_order);
  assert.deepEqual(s.validationFileOrder, ref.val_ids_file_order);
  const valLabels = s.validationIndex.map((i) => rows[i].category);
  const counts = Object.fromEntries(
    ["happy", "not-relevant", "angry", "surprise", "sad", "disgust"].map((
      c,
    ) => [c, valLabels.filter((l) => l === c).length]),
  );
  assert.deepEqual(counts, { happy: 171, "not-relevant": 32, angry: 9, surprise: 5, sad: 5, disgust: 1 });
  // the one-call version used by training
  const course = loadCourseData();
  assert.deepEqual(course.labelDict, ref.label_dict);
  assert.deepEqual(course.train.map((r) => r.id), ref.train_ids_file_order);
  assert.deepEqual(course.validation.map((r) => r.id), ref.val_ids_file_order);
  assert.deepEqual(course.labels, ["happy", "not-relevant", "angry", "disgust", "sad", "surprise"]);
});

test("stratifiedSplit and randomSplit equal scikit-learn on synthetic labels", () => {
  let stratified = 0;
  let errors = 0;
  for (const c of fx.cases) {
    const labels: (number | string)[] = fx.label_sets[c.labels];
    const idx = labels.map((_, i) => i);
    const where = `${c.labels} test_size=${c.test_size} seed=${c.seed}`;
    if (c.error) {
      assert.throws(
        () => stratifiedSplit(idx, labels, { validationSize: c.test_size, seed: c.seed }),
        (e: Error) => e.message === c.error,
        where,
      );
      errors++;
    } else {
      const s = stratifiedSplit(idx, labels, { validationSize: c.test_size, seed: c.seed });
      assert.deepEqual(s.train, c.train, where);
      assert.deepEqual(s.validation, c.test, where);
      assert.deepEqual(s.trainIndex, c.train, where);
      stratified++;
    }
    const r = randomSplit(idx, { validationSize: c.test_size, seed: c.seed });
    assert.deepEqual(r.train, c.random_train, where);
    assert.deepEqual(r.validation, c.random_test, where);
  }
  assert.ok(stratified >= 100 && errors >= 5, `${stratified} splits, ${errors} errors checked`);
});

test("errors match scikit-learn's", () => {
  for (const e of fx.errors) {
    const idx = e.labels.map((_: number, i: number) => i);
    const call = () => stratifiedSplit(idx, e.labels, { validationSize: e.test_size, seed: 0 });
    if (e.error.startsWith("The 'test_size' parameter")) {
      // scikit-learn's parameter validation: ours says the same thing in its own words
      assert.throws(call, /validationSize must be a fraction in \(0, 1\) or a whole number of samples/);
    } else {
      assert.throws(call, (err: Error) => err.message === e.error, `${JSON.stringify(e.labels)} ${e.test_size}`);
    }
  }
  assert.throws(() => stratifiedSplit(["a", "b", "c"], [0, 0, 1]), /Classes with too few members are: \[1\]/);
  assert.throws(() => stratifiedSplit(["a", "b", "c", "d"], ["x", "x", "y", "z"]), /too few members are: \['y', 'z'\]/);
  assert.throws(() => stratifiedSplit(["a"], [0, 1]), /1 items but 2 labels/);
  assert.throws(() => stratifiedSplit(["a", "b"], [0, "0"]), /mix numbers and strings/);
  assert.throws(
    () => splitSizes(2, 0.9),
    /n_samples=2, test_size=0.9 and train_size=None, the resulting train set will be empty/,
  );
});

test("approximateMode equals scikit-learn's _approximate_mode (random tie-breaking)", () => {
  for (const m of fx.approximate_mode) {
    assert.deepEqual(approximateMode(m.counts, m.draws, new RandomState(m.seed)), m.mode, JSON.stringify(m));
  }
});

test("split sizes: ceil for the test fraction, counts taken as counts", () => {
  assert.deepEqual(splitSizes(1481, 0.15), [1258, 223]);
  assert.deepEqual(splitSizes(10, 0.25), [7, 3]);
  assert.deepEqual(splitSizes(10, 1), [9, 1]);
  assert.deepEqual(splitSizes(10, 4), [6, 4]);
});

test("stratification holds for many seeds: each class's share within one sample, every class on both sides", () => {
  const labels = fx.label_sets.imbalanced_with_pairs as number[]; // class sizes 50, 20, 6, 3, 2, 2
  const classes = [0, 1, 2, 3, 4, 5];
  const total = countLabels(labels, classes);
  for (let seed = 0; seed < 400; seed++) {
    const testSize = seed % 2 ? 0.25 : 0.5;
    const s = stratifiedSplit(labels.map((_, i) => i), labels, { validationSize: testSize, seed });
    const testCounts = countLabels(s.validationIndex.map((i) => labels[i]), classes);
    const trainCounts = countLabels(s.trainIndex.map((i) => labels[i]), classes);
    for (const k of classes.keys()) {
      assert.ok(Math.abs(testCounts[k] - total[k] * testSize) < 1, `seed ${seed} class ${k}`);
      // with half the data held out, even the 2-member classes land on both sides
      if (testSize === 0.5 || total[k] * testSize >= 1)
        assert.ok(testCounts[k] >= 1 && trainCounts[k] >= 1, `seed ${seed} class ${k}`);
      assert.equal(testCounts[k] + trainCounts[k], total[k]);
    }
    // a partition: no overlap, nothing lost
    assert.equal(new Set([...s.trainIndex, ...s.validationIndex]).size, labels.length);
  }
});

test("pure: inputs are not changed; file order is input order", () => {
  const items = ["a", "b", "c", "d", "e", "f", "g", "h"];
  const labels = [0, 1, 0, 1, 0, 1, 0, 1];
  const [i0, l0] = [items.slice(), labels.slice()];
  const s = stratifiedSplit(items, labels, { validationSize: 0.25, seed: 1 });
  const r = randomSplit(items, { validationSize: 0.25, seed: 1 });
  assert.deepEqual(items, i0);
  assert.deepEqual(labels, l0);
  for (const sp of [s, r]) {
    assert.deepEqual(sp.trainFileOrder, items.filter((x) => sp.train.includes(x)));
    assert.deepEqual(sp.validationFileOrder, items.filter((x) => sp.validation.includes(x)));
  }
});
