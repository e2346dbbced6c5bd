// REAL PRETRAINED MODEL (slow-ish, ~10 s): all-MiniLM-L6-v2 from models/ against PyTorch fixtures
// test/fixtures/reference/minilm_{forward,grad}.json made by scripts/make_fixtures.py.
// Skipped with a message when the model folder is missing (run scripts/setup.sh).
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { graphLossAndGrads, graphTraining } from "../lib/train/train_graph";
import { initBackend } from "../lib/runtime/backend";
import { loadBertForSequenceClassification, crossEntropyLoss, BertForSequenceClassification } from "../lib/model/bert";
import { ROOT } from "../lib/core/paths";

const FWD = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/minilm_forward.json"), "utf8"));
const GRAD = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/minilm_grad.json"), "utf8"));
const MODEL_DIR = path.join(ROOT, FWD.model);
const skip = fs.existsSync(path.join(MODEL_DIR, "model.safetensors"))
  ? false
  : `${MODEL_DIR} missing: run scripts/setup.sh`;

let model: BertForSequenceClassification;
let x: { input_ids: tf.Tensor2D; attention_mask: tf.Tensor2D; token_type_ids: tf.Tensor2D };

before(async () => {
  await initBackend();
  if (skip) return;
  const n = tf.memory().numTensors;
  model = await loadBertForSequenceClassification(MODEL_DIR, { labels: FWD.labels, seed: 17 });
  assert.equal(tf.memory().numTensors, n + 105, "load makes exactly the 105 weights");
  // the fixture's head was drawn by torch; use it so logits and gradients are comparable
  model.params.get("classifier.weight")!.assign(tf.tensor2d(FWD.classifier.weight));
  model.params.get("classifier.bias")!.assign(tf.tensor1d(FWD.classifier.bias));
  x = {
    input_ids: tf.tensor2d(FWD.inputs.input_ids, undefined, "int32"),
    attention_mask: tf.tensor2d(FWD.inputs.attention_mask, undefined, "int32"),
    token_type_ids: tf.tensor2d(FWD.inputs.token_type_ids, undefined, "int32"),
  };
});

/** Graph gradients come by Hugging Face name; the tape's by variable name: key them alike. */
function renameByVariable(r: { value: tf.Scalar; grads: Record<string, tf.Tensor> }) {
  return {
    value: r.value,
    grads: Object.fromEntries(Object.entries(r.grads).map(([n, g]) => [model.params.get(n)!.name, g])),
  };
}

function assertWithin(ours: ArrayLike<number>, ref: ArrayLike<number>, tol: number, what: string): void {
  assert.equal(ours.length, ref.length, `${what}: length`);
  for (let i = 0; i < ours.length; i++)
    assert.ok(Math.abs(ours[i] - ref[i]) <= tol, `${what}[${i}]: ${ours[i]} vs ${ref[i]}`);
}

// graph: eval mode on native runs as one TensorFlow graph (lib/graph/bert_graph.ts); false: op by op.
for (const graph of [true, false])
  test(`MiniLM: hidden states, pooler output and logits within 1e-4 of PyTorch (graph ${graph})`, { skip }, () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const { lastHiddenState, pooled } = model.hidden(x, { graph });
      const [b, s, h] = lastHiddenState.shape;
      assert.deepEqual([b, s, h], FWD.last_hidden_state.shape);
      assertWithin(
        tf.slice(lastHiddenState, [0, 0, 0], [b, s, 16]).dataSync(),
        FWD.last_hidden_state.first16.flat(2),
        1e-4,
        "last_hidden_state[..., :16]",
      );
      assertWithin(
        tf.norm(lastHiddenState, "euclidean", 2).dataSync(),
        FWD.last_hidden_state.norm.flat(),
        1e-4,
        "token norms",
      );
      assertWithin(pooled.dataSync(), FWD.pooler_output.flat(), 1e-4, "pooler_output");
      assertWithin(model.forward(x, { graph }).dataSync(), FWD.logits.flat(), 1e-4, "logits");
    });
    assert.equal(tf.memory().numTensors, before, "leaked tensors");
  });

// tape: tfjs's gradient tape over the eager forward; graph: lib/train/train_graph.ts's training graph (native only).
for (const how of ["tape", "graph"] as const)
  test(`MiniLM: loss and gradients of all 105 parameters match PyTorch (1e-3 relative rule, ${how})`, {
    skip: skip || (how === "graph" && !graphTraining() && "the training graph runs on native TensorFlow only"),
  }, () => {
    const before = tf.memory().numTensors;
    const { value, grads } = how === "tape"
      ? tf.variableGrads(() => crossEntropyLoss(model.forward(x), GRAD.labels))
      : renameByVariable(graphLossAndGrads(model, x, GRAD.labels, { seed: 0, dropout: false })!);
    assert.ok(Math.abs(value.dataSync()[0] - GRAD.loss) <= 1e-4, `loss ${value.dataSync()[0]} vs ${GRAD.loss}`);
    let n = 0;
    for (const [name, ref] of Object.entries(GRAD.params) as [
      string,
      { shape: number[]; norm: number; indices: number[]; values: number[] },
    ][]) {
      const g = grads[model.params.get(name)!.name];
      assert.deepEqual(g.shape, ref.shape, name);
      const flat = g.dataSync();
      const norm = tf.tidy(() => tf.norm(g).dataSync()[0]);
      // + 1e-8: the key biases' gradients are exactly zero in exact maths (softmax ignores a shift
      // shared by all keys); both frameworks leave ~1e-10 of round-off there, which cannot match.
      assert.ok(Math.abs(norm - ref.norm) <= 1e-3 * ref.norm + 1e-8, `${name}: norm ${norm} vs ${ref.norm}`);
      const scale = ref.norm / Math.sqrt(flat.length);
      ref.indices.forEach((idx, k) => {
        const tol = 1e-3 * Math.max(Math.abs(ref.values[k]), scale) + 1e-8;
        assert.ok(Math.abs(flat[idx] - ref.values[k]) <= tol, `${name}[${idx}]: ${flat[idx]} vs ${ref.values[k]}`);
      });
      n++;
    }
    assert.equal(n, 105);
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, before, "backward leaked tensors");
  });

test("MiniLM: the training graph's loss and gradients equal the tape's with dropout on (same masks), 1e-4 relative", {
  skip: skip || (!graphTraining() && "the training graph runs on native TensorFlow only"),
}, () => {
  const before = tf.memory().numTensors;
  const tape = renameByName(
    tf.variableGrads(() => crossEntropyLoss(model.forward(x, { training: true, seed: 23 }), GRAD.labels)),
  );
  const graph = graphLossAndGrads(model, x, GRAD.labels, { seed: 23 })!;
  assert.ok(Math.abs(graph.value.dataSync()[0] - tape.value.dataSync()[0]) <= 1e-5, "loss");
  for (const [name, g] of Object.entries(tape.grads)) {
    const [diff, scale] = tf.tidy(
      () => [tf.max(tf.abs(tf.sub(graph.grads[name], g))).dataSync()[0], tf.max(tf.abs(g)).dataSync()[0]]
    );
    assert.ok(diff <= 1e-4 * scale + 1e-8, `${name}: max |Δ| ${diff} against max |g| ${scale}`);
  }
  tf.dispose([tape.value, graph.value, ...Object.values(tape.grads), ...Object.values(graph.grads)]);
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
});

/** The tape's gradients keyed by Hugging Face name, as the graph's are. */
function renameByName(r: { value: tf.Scalar; grads: Record<string, tf.Tensor> }) {
  const hf = new Map([...model.params].map(([n, v]) => [v.name, n]));
  return { value: r.value, grads: Object.fromEntries(Object.entries(r.grads).map(([vn, g]) => [hf.get(vn)!, g])) };
}
