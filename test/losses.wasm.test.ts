// lib/nn/losses.ts against PyTorch (fixtures: scripts/make_label_fixtures.py, scripts/make_smoothing_fixtures.py):
// weighted cross-entropy, label smoothing, focal loss and multi-label BCE, values and gradients with respect to
// the logits within 1e-5.
// Runs on the default backend and again on wasm (npm run test:wasm).
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { focalLoss, weightedCrossEntropyLoss, bceWithLogitsLoss, smoothedCrossEntropyLoss } from "../lib/nn/losses";
import { crossEntropyLoss } from "../lib/nn/ops";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/labels/losses.json"), "utf8"));
const TOL = 1e-5;

function close(actual: number[][], expected: number[][], what: string): void {
  actual.forEach((row, i) => row.forEach((v, j) => {
    assert.ok(Math.abs(v - expected[i][j]) < TOL, `${what}[${i}][${j}]: ${v} vs ${expected[i][j]}`);
  }));
}

/** The loss and its gradient with respect to the logits, read back. */
function lossAndGrad(f: (x: tf.Tensor2D) => tf.Scalar, logits: number[][]): { loss: number; grad: number[][] } {
  return tf.tidy(() => {
    const x = tf.tensor2d(logits);
    const { value, grad } = tf.valueAndGrad((t: tf.Tensor) => f(t as tf.Tensor2D))(x);
    return { loss: value.dataSync()[0], grad: grad.arraySync() as number[][] };
  });
}

const focalCases = fx.cases.filter((c: { kind: string }) => c.kind === "focal");

test(`focal loss and weighted cross-entropy equal PyTorch's, with gradients (${focalCases.length} cases)`, async () => {
  await initBackend();
  for (const c of focalCases) {
    const what = `n ${c.logits.length} gamma ${c.gamma} ${c.weights ? "weighted" : "unweighted"}`;
    const r = lossAndGrad((x) => focalLoss(x, c.labels, c.gamma, c.weights ?? undefined), c.logits);
    assert.ok(Math.abs(r.loss - c.loss) < TOL, `${what}: loss ${r.loss} vs ${c.loss}`);
    close(r.grad, c.grad, `${what} grad`);
    if (c.gamma === 0 && c.weights) {
      const w = lossAndGrad((x) => weightedCrossEntropyLoss(x, c.labels, c.weights), c.logits);
      assert.ok(Math.abs(w.loss - c.loss) < TOL, `${what}: weighted cross-entropy`);
      close(w.grad, c.grad, `${what} weighted cross-entropy grad`);
    }
    if (c.gamma === 0 && !c.weights) {
      // unweighted, gamma 0: the course's loss exactly
      assert.ok(Math.abs(lossAndGrad((x) => crossEntropyLoss(x, c.labels), c.logits).loss - c.loss) < TOL);
    }
  }
});

test("multi-label BCE equals PyTorch's binary_cross_entropy_with_logits, gradient too (logits 0 and 40)", async () => {
  await initBackend();
  for (const c of fx.cases.filter((c: { kind: string }) => c.kind === "bce")) {
    const r = lossAndGrad((x) => tf.tidy(() => bceWithLogitsLoss(x, tf.tensor2d(c.targets))), c.logits);
    assert.ok(Math.abs(r.loss - c.loss) < TOL, `loss ${r.loss} vs ${c.loss}`);
    close(r.grad, c.grad, "bce grad");
  }
});

test("label smoothing equals PyTorch's cross_entropy(label_smoothing=ε), with and without class weights, gradient too", async () => {
  await initBackend();
  const cases = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/labels/label_smoothing.json"), "utf8")).cases;
  assert.equal(cases.length, 24);
  for (const c of cases) {
    const r = lossAndGrad((x) => smoothedCrossEntropyLoss(x, c.labels, c.epsilon, c.weights ?? undefined), c.logits);
    assert.ok(Math.abs(r.loss - c.loss) < TOL, `ε ${c.epsilon}: loss ${r.loss} vs ${c.loss}`);
    close(r.grad, c.grad, `ε ${c.epsilon} grad`);
  }
});

test("doc examples; bad input names the problem; no tensors leak", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const x = tf.tensor2d([[2, 0], [0, 2]]);
  assert.ok(Math.abs(tf.tidy(() => weightedCrossEntropyLoss(x, [0, 1], [1, 3]).dataSync()[0]) - 0.12693) < 1e-5);
  assert.ok(Math.abs(tf.tidy(() => focalLoss(x, [0, 0], 2).dataSync()[0]) - 0.825941) < 1e-5);
  assert.ok(Math.abs(tf.tidy(() => smoothedCrossEntropyLoss(x, [0, 1], 0.1).dataSync()[0]) - 0.22693) < 1e-5);
  assert.throws(() => focalLoss(x, [0, 2], 2), /label 2 is not a class id in \[0, 2\)/);
  assert.throws(() => focalLoss(x, [0], 2), /2 rows of logits but 1 labels/);
  assert.throws(() => focalLoss(x, [0, 1], -1), /gamma must be a number >= 0/);
  assert.throws(() => weightedCrossEntropyLoss(x, [0, 1], [1]), /1 class weights for 2 classes/);
  assert.throws(() => weightedCrossEntropyLoss(x, [0, 1], [1, NaN]), /class weight NaN/);
  assert.throws(
    () => tf.tidy(() => bceWithLogitsLoss(x, tf.tensor2d([[1, 0, 1]]))),
    /logits \[2,2\] but targets \[1,3\]/,
  );
  x.dispose();
  assert.equal(tf.memory().numTensors, before);
});
