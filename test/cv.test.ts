// Cross-validation: folds equal to scikit-learn's (Repeated)StratifiedKFold, the pooled report's bootstrap
// intervals and the paired comparison equal to NumPy/scikit-learn on the same resamples (fixtures:
// scripts/make_cv_fixtures.py), and `bertlab cv` on a tiny model: a kill -9 during a fold then --resume gives the
// same report as a run left alone.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { repeatedStratifiedKFold, stratifiedKFold } from "../lib/data/split";
import { filterForCourse, loadSmile } from "../lib/data/smile";
import { SMILE_CSV } from "../lib/core/paths";
import { percentile } from "../lib/core/stats";
import { cvReport, compareCv, bootstrapSamples, OutOfFold } from "../lib/analysis/cv";

const fixtures = path.join(__dirname, "fixtures", "cv");
const folds = JSON.parse(fs.readFileSync(path.join(fixtures, "folds.json"), "utf8"));
const boot = JSON.parse(fs.readFileSync(path.join(fixtures, "bootstrap.json"), "utf8"));

test("folds equal scikit-learn's RepeatedStratifiedKFold fold for fold (repeat 0: StratifiedKFold(shuffle=True))", () => {
  for (const c of folds.cases) {
    const labels = folds.label_sets[c.labels];
    assert.deepEqual(repeatedStratifiedKFold(labels, c.k, 3, c.seed), c.folds, `${c.labels}, k ${c.k}, seed ${c.seed}`);
    assert.deepEqual(stratifiedKFold(labels, c.k, c.seed), c.folds[0]);
    // every row is out of fold exactly once per repeat: one fold each, and every fold holds every class
    for (const f of c.folds as number[][]) {
      assert.equal(f.length, labels.length);
      assert.ok(f.every((x) => Number.isInteger(x) && x >= 0 && x < c.k));
      for (const l of new Set(labels)) {
        const held = new Set(f.filter((_, i) => labels[i] === l));
        assert.equal(held.size, c.k, `class ${l} is in every fold`);
      }
    }
  }
});

test("folds of SMILE's 1,481 course tweets equal scikit-learn's", { skip: !fs.existsSync(SMILE_CSV) && "needs the SMILE CSV" }, () => {
  const labels = filterForCourse(loadSmile()).map((r) => r.category);
  assert.equal(folds.smile.length, 3);
  for (const c of folds.smile) {
    assert.equal(labels.length, c.n);
    assert.deepEqual(repeatedStratifiedKFold(labels, c.k, 2, c.seed), c.folds, `k ${c.k}, seed ${c.seed}`);
  }
  const sizes = [0, 1, 2, 3, 4].map((f) => folds.smile[0].folds[0].filter((x: number) => x === f).length);
  assert.deepEqual(sizes, [297, 296, 296, 296, 296]);
});

test("too many folds for the rarest class: an error naming the class, its count and what to do", () => {
  const labels = ["happy", "happy", "happy", "disgust", "happy", "disgust", "sad", "sad", "sad"];
  assert.throws(() => stratifiedKFold(labels, 3, 17),
    /3 folds need at least 3 rows of every class, but 'disgust' \(2 rows\) has fewer: use at most 2 folds, or drop or merge that class/);
  assert.throws(() => stratifiedKFold(labels, 1, 17), /k must be an integer >= 2/);
  assert.throws(() => repeatedStratifiedKFold(labels, 2, 0, 17), /repeats must be an integer >= 1/);
  const copy = [...labels];
  stratifiedKFold(labels, 2, 17);
  assert.deepEqual(labels, copy, "pure: the labels are not changed");
});

test("percentile equals np.percentile (linear)", () => {
  for (const c of boot.percentile_cases) assert.equal(percentile(c.x, c.q), c.value, `q ${c.q} of ${c.x.length}`);
  assert.throws(() => percentile([], 50), /no values/);
});

const oof = (predictions: number[][]): OutOfFold & { seed: number; k: number; repeats: number } => ({
  labels: ["a", "b", "c", "d", "e", "f"], ids: boot.y_true.map((_: number, i: number) => `row-${i}`),
  yTrue: boot.y_true, folds: predictions.map(() => boot.y_true.map((_: number, i: number) => i % 4)), predictions,
  seed: 17, k: 4, repeats: predictions.length,
});

test("pooled report: point F1 and bootstrap 95% intervals equal scikit-learn + np.percentile on the same resamples", () => {
  assert.deepEqual(bootstrapSamples(boot.n, 1, boot.seed)[0], boot.first_indices, "the resamples are NumPy's randint");
  const r = cvReport(oof(boot.pred_a), { resamples: boot.resamples, seed: boot.seed });
  const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
  near(r.f1Macro.value, boot.point_a.macro, "macro F1");
  near(r.f1Weighted.value, boot.point_a.weighted, "weighted F1");
  r.f1Macro.ci95.forEach((x, i) => near(x, boot.ci_macro_a[i], "macro interval"));
  r.f1Weighted.ci95.forEach((x, i) => near(x, boot.ci_weighted_a[i], "weighted interval"));
  r.classes.forEach((c, k) => c.f1Ci95.forEach((x, i) => near(x, boot.ci_per_class_a[k][i], `class ${k} interval`)));
  assert.equal(r.examples, boot.n);
  assert.equal(r.repeats, 2);
  assert.equal(r.classes.reduce((a, c) => a + c.support, 0), 2 * boot.n, "support counts every repeat's prediction");
  assert.equal(r.confusion.flat().reduce((a, b) => a + b, 0), 2 * boot.n);
  assert.equal(r.perFold.length, 8);
  assert.ok(r.perRepeat.f1Macro.sd > 0);
  assert.ok(r.f1Macro.ci95[0] < r.f1Macro.value && r.f1Macro.value < r.f1Macro.ci95[1]);
});

test("paired comparison: the difference's interval and p-value equal NumPy's; the per-fold t-test pairs the folds", () => {
  const a = oof(boot.pred_a), b = oof(boot.pred_b);
  const c = compareCv(a, b, { resamples: boot.resamples, seed: boot.seed });
  const near = (x: number, y: number, what: string) => assert.ok(Math.abs(x - y) < 1e-12, `${what}: ${x} vs ${y}`);
  c.f1Macro.ci95.forEach((x, i) => near(x, boot.ci_diff_macro[i], "macro difference interval"));
  c.f1Weighted.ci95.forEach((x, i) => near(x, boot.ci_diff_weighted[i], "weighted difference interval"));
  assert.equal(c.f1Macro.p, boot.p_diff_macro);
  assert.equal(c.f1Weighted.p, boot.p_diff_weighted);
  near(c.f1Macro.value, boot.point_a.macro - cvReport(b, { resamples: 1 }).f1Macro.value, "macro difference");
  assert.equal(c.f1Macro.perFold.n, 8);
  assert.ok(c.f1Macro.value > 0 && c.f1Macro.perFold.meanDiff > 0, "A (80% kept) beats B (70% kept)");
  // the same recipe against itself: no difference, p = 1
  const same = compareCv(a, a, { resamples: 50 });
  assert.equal(same.f1Macro.value, 0);
  assert.equal(same.f1Macro.p, 1);
});

test("a comparison refuses runs on other folds, naming the difference", () => {
  const a = oof(boot.pred_a);
  assert.throws(() => compareCv(a, { ...a, seed: 18 }, { names: ["x.json", "y.json"] }),
    /x\.json and y\.json were not run on the same folds: seed 17 in x\.json, 18 in y\.json/);
  assert.throws(() => compareCv(a, { ...a, ids: a.ids.map((id, i) => (i === 5 ? "other" : id)) }),
    /the id of row 5: "row-5" in A, "other" in B/);
  const moved = a.folds.map((f) => f.map((x, i) => (i === 3 ? (x + 1) % 4 : x)));
  assert.throws(() => compareCv(a, { ...a, folds: moved }), /the fold of row 3 \(id row-3\) in repeat 1: 4 in A, 1 in B/);
  const drop = <T>(xs: T[]) => xs.slice(1);
  const shorter = { ...a, ids: drop(a.ids), yTrue: drop(a.yTrue), folds: a.folds.map(drop), predictions: a.predictions.map(drop) };
  assert.throws(() => compareCv(a, shorter), /rows 240 in A, 239 in B/);
  assert.throws(() => compareCv(a, { ...a, yTrue: a.yTrue.map((y, i) => (i === 2 ? (y + 1) % 6 : y)) }),
    /the label of row 2 \(id row-2\)/);
});
