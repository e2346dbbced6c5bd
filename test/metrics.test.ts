// Metrics against scikit-learn (fixtures: scripts/make_train_fixtures.py).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import {
  f1Weighted,
  f1Macro,
  confusionMatrix,
  perClassScores,
  accuracyPerClass,
  accuracyLines,
  scoreAll,
} from "../lib/eval/metrics";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/train/metrics.json"), "utf8"));
const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

for (const c of fx.cases) {
  test(`sklearn agreement: ${c.name}`, () => {
    const t = [...c.y_true], p = [...c.y_pred];
    near(f1Weighted(c.y_true, c.y_pred), c.f1_weighted, "weighted F1");
    near(f1Macro(c.y_true, c.y_pred), c.f1_macro, "macro F1");
    near(
      f1Macro(c.y_true, c.y_pred, [0, 1, 2, 3, 4, 5].slice(0, c.num_classes)),
      c.f1_macro_all_labels,
      "macro F1 over all labels",
    );
    perClassScores(c.y_true, c.y_pred, c.num_classes).forEach((s, i) => near(s.f1, c.f1_per_class[i], `F1 class ${i}`));
    assert.deepEqual(confusionMatrix(c.y_true, c.y_pred, c.num_classes), c.confusion);
    assert.deepEqual(c.y_true, t);
    assert.deepEqual(c.y_pred, p); // inputs unchanged
  });
}

test("per-class accuracy lines as the course prints them", () => {
  const labels = ["happy", "not-relevant", "angry"];
  const acc = accuracyPerClass([0, 0, 2, 2, 2], [0, 1, 2, 0, 2], labels);
  assert.deepEqual(accuracyLines(acc), ["Class: happy — Accuracy: 1/2", "Class: angry — Accuracy: 2/3"]);
  const all = scoreAll([0, 0, 2, 2, 2], [0, 1, 2, 0, 2], labels, 0.5);
  assert.equal(all.accuracy, 3 / 5);
  assert.equal(all.confusion.length, 3);
});

test("bad input names the problem", () => {
  assert.throws(() => f1Weighted([0, 1], [0]), /2 true labels but 1 predictions/);
  assert.throws(() => f1Weighted([], []), /no examples/);
  assert.throws(() => f1Weighted([0, 1.5], [0, 1]), /position 1 is 1.5/);
  assert.throws(() => confusionMatrix([0, 3], [0, 1], 2), /class id 3 >= numClasses 2/);
});
