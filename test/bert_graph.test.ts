// lib/graph/bert_graph.ts: BERT as one TensorFlow graph, lowered from lib/nn/bert_def.ts's definition. Inference equals
// the op-by-op forward (which the reference tests check against PyTorch), with any batch shape, padding and token
// types, the current weights after an optimizer step, no leaked tensors, clear errors, and a fallback when it cannot
// load; the training graph's loss and gradients equal the tape's with the same dropout masks.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import {
  randomBert,
  BertConfig,
  BertForSequenceClassification,
  graphInference,
  crossEntropyLoss,
} from "../lib/model/bert";
import { inferenceGraph, trainingGraph } from "../lib/graph/bert_graph";
import { GraphSession, GRAPH_CACHE_DIR } from "../lib/graph/session";
import { recordBert } from "../lib/graph/graph_ir";
import { firstRowsOnly } from "../lib/graph/rows";
import { graphLossAndGrads, graphTrainStep, lossAndGrads } from "../lib/train/train_graph";
import { AdamW, clipGradNorm } from "../lib/nn/optim";
import { ROOT } from "../lib/core/paths";
import { tinyBertConfig, tinyBertLabels } from "./helpers/tiny_bert";

const skip = process.env.BERTLAB_BACKEND && process.env.BERTLAB_BACKEND !== "tensorflow"
  ? "graphs run on native TensorFlow only"
  : false;
let model: BertForSequenceClassification;

before(async () => {
  const info = await initBackend();
  if (!skip) assert.equal(info.name, "tensorflow", "set-up provisions native TensorFlow here");
  model = randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 3 });
});

/** A [batch, seq] batch of random ids whose rows end in padding of different lengths, token types 0/1. */
function batch(b: number, s: number, seed: number) {
  return tf.tidy(() => {
    const lengths = Array.from({ length: b }, (_, i) => Math.max(1, s - i));
    const mask = lengths.map((n) => Array.from({ length: s }, (_, j) => (j < n ? 1 : 0)));
    return {
      input_ids: tf.randomUniform([b, s], 1, 30000, "int32", seed) as tf.Tensor2D,
      attention_mask: tf.tensor2d(mask, [b, s], "int32"),
      token_type_ids: tf.tensor2d(mask.map((r) => r.map((_, j) => (j >= s / 2 ? 1 : 0))), [b, s], "int32"),
    };
  });
}

function maxDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
}

test("graph: eval-mode forwards run as a graph on native, never when training or under a tape", { skip }, () => {
  assert.equal(GraphSession.available(), true);
  assert.equal(graphInference(), true);
  assert.equal(graphInference({ training: true }), false);
  assert.equal(graphInference({ graph: false }), false);
  let underTape: boolean | undefined;
  const x = tf.scalar(2);
  const dx = tf.grad((t: tf.Tensor) => {
    underTape = graphInference();
    return tf.square(t);
  })(x);
  assert.equal(underTape, false, "a gradient needs the op-by-op forward");
  tf.dispose([x, dx]);
});

test(
  "graph: logits, pooled and hidden states equal the op-by-op forward's within 1e-5, any batch shape",
  { skip },
  () => {
    for (const [b, s] of [[1, 1], [1, 9], [3, 7], [5, 16]] as const) {
      const x = batch(b, s, b * 100 + s);
      const before = tf.memory().numTensors;
      const g = model.forward(x), e = model.forward(x, { graph: false });
      assert.deepEqual(g.shape, [b, 3]);
      assert.ok(maxDiff(g, e) <= 1e-5, `logits [${b}, ${s}]: ${maxDiff(g, e)}`);
      const hg = model.hidden(x), he = model.hidden(x, { graph: false });
      assert.deepEqual(hg.lastHiddenState.shape, [b, s, 32]);
      assert.ok(maxDiff(hg.lastHiddenState, he.lastHiddenState) <= 1e-5, "last_hidden_state");
      assert.ok(maxDiff(hg.pooled, he.pooled) <= 1e-5, "pooled");
      tf.dispose([g, e, hg.lastHiddenState, hg.pooled, he.lastHiddenState, he.pooled]);
      assert.equal(tf.memory().numTensors, before, `leaked tensors at [${b}, ${s}]`);
      tf.dispose(Object.values(x));
    }
  },
);

test("graph: token_type_ids default to zeros, as op by op", { skip }, () => {
  const x = batch(2, 5, 1);
  const noTypes = { input_ids: x.input_ids, attention_mask: x.attention_mask };
  const g = model.forward(noTypes), e = model.forward(noTypes, { graph: false });
  assert.ok(maxDiff(g, e) <= 1e-5);
  tf.dispose([g, e, ...Object.values(x)]);
});

test("graph: a changed weight is used at the next call (as after an optimizer step)", { skip }, () => {
  const m = randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 4 });
  const x = batch(2, 6, 2);
  const a = m.forward(x);
  for (const name of [
    "bert.encoder.layer.0.attention.self.query.weight",
    "bert.encoder.layer.1.intermediate.dense.weight",
    "classifier.bias",
  ]) {
    const v = m.params.get(name)!;
    v.assign(tf.tidy(() => tf.add(v, 0.05)));
  }
  const g = m.forward(x), e = m.forward(x, { graph: false });
  assert.ok(maxDiff(a, g) > 1e-3, "the logits moved");
  assert.ok(maxDiff(g, e) <= 1e-5, "and equal the op-by-op forward with the new weights");
  tf.dispose([a, g, e, ...Object.values(x)]);
  m.dispose();
});

test("graph: one session per graph shape, its file in the cache folder", { skip }, () => {
  const g = inferenceGraph(tinyBertConfig);
  const weights = g.feeds.filter((f) => !["input_ids", "token_type_ids", "mask"].includes(f.name));
  assert.equal(weights.length, 41, "every Hugging Face weight of the tiny BERT, by name");
  assert.ok(weights.some((f) => f.name === "bert.encoder.layer.1.attention.self.key.weight"));
  assert.equal(
    GraphSession.load(g),
    GraphSession.load(inferenceGraph(tinyBertConfig)),
    "the same graph reuses its session",
  );
  assert.notEqual(
    GraphSession.load(inferenceGraph({ ...tinyBertConfig, num_hidden_layers: 1 })),
    GraphSession.load(g),
    "another shape, another graph",
  );
  const files = fs.readdirSync(GRAPH_CACHE_DIR).map((d) => path.join(GRAPH_CACHE_DIR, d, "saved_model.pb"));
  assert.ok(files.some((f) => fs.existsSync(f) && fs.readFileSync(f).equals(g.pb)));
});

test("graph: ids outside the vocabulary or token types outside type_vocab_size are named", { skip }, () => {
  const x = batch(1, 3, 5);
  const bad = tf.tensor2d([[5, 30522, 7]], [1, 3], "int32");
  assert.throws(() => model.forward({ ...x, input_ids: bad }), /embedding: id 30522 is outside the table's 30522 rows/);
  const badTypes = tf.tensor2d([[0, 2, 0]], [1, 3], "int32");
  assert.throws(
    () => model.forward({ ...x, token_type_ids: badTypes }),
    /embedding: id 2 is outside the table's 2 rows/,
  );
  tf.dispose([bad, badTypes, ...Object.values(x)]);
});

test("graph: when the graph cannot be written or loaded, prediction warns once and runs op by op", { skip }, () => {
  // BERTLAB_CACHE under a regular file: the graph's folder cannot be made.
  const script = `
    const tf = require("@tensorflow/tfjs");
    const { initBackend } = require("./lib/runtime/backend");
    const { randomBert } = require("./lib/model/bert");
    const { tinyBertConfig, tinyBertLabels } = require("./test/helpers/tiny_bert");
    initBackend().then(() => {
      const m = randomBert(tinyBertConfig, { labels: tinyBertLabels, seed: 3 });
      const x = { input_ids: tf.tensor2d([[101, 2000, 102]], [1, 3], "int32"), attention_mask: tf.ones([1, 3], "int32") };
      const a = m.forward(x), b = m.forward(x), e = m.forward(x, { graph: false });
      console.log(JSON.stringify({ backend: tf.getBackend(), same: tf.max(tf.abs(tf.sub(a, e))).dataSync()[0] <= 1e-6 && tf.max(tf.abs(tf.sub(b, e))).dataSync()[0] <= 1e-6 }));
    });`;
  const r = spawnSync(process.execPath, ["--import", "tsx", "-e", script], {
    cwd: ROOT,
    encoding: "utf8",
    env: { ...process.env, BERTLAB_CACHE: path.join(ROOT, "package.json", "cache") },
  });
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(JSON.parse(r.stdout.trim().split("\n").pop()!), { backend: "tensorflow", same: true });
  const warnings = r.stderr.split("\n").filter((l) => l.includes("graph execution unavailable"));
  assert.equal(warnings.length, 1, r.stderr);
  assert.match(warnings[0], /predicting op by op instead \(.*(ENOTDIR|not a directory)/);
});

test(
  "training graph: loss and all 41 gradients equal the tape's (same dropout masks) within 1e-4 relative",
  { skip },
  () => {
    const m = randomBert(
      { ...tinyBertConfig, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 } as BertConfig,
      { labels: tinyBertLabels, seed: 5 },
    );
    for (const [b, s] of [[1, 1], [3, 7], [5, 16]] as const) {
      const x = batch(b, s, 7 * b + s);
      const labels = Array.from({ length: b }, (_, i) => i % 3);
      const before = tf.memory().numTensors;
      const tape = tf.variableGrads(() => crossEntropyLoss(m.forward(x, { training: true, seed: 11 }), labels));
      const graph = graphLossAndGrads(m, x, labels, { seed: 11 });
      assert.ok(graph, "the training graph loads");
      const rel = (a: tf.Tensor, e: tf.Tensor) =>
        tf.tidy(() => tf.div(tf.max(tf.abs(tf.sub(a, e))), tf.add(tf.max(tf.abs(e)), 1e-8)).dataSync()[0]);
      assert.ok(Math.abs(graph.value.dataSync()[0] - tape.value.dataSync()[0]) <= 1e-5, `loss [${b}, ${s}]`);
      assert.equal(Object.keys(graph.grads).length, 41);
      const hfName = new Map([...m.params].map(([n, v]) => [v.name, n]));
      for (const [vn, g] of Object.entries(tape.grads)) {
        const name = hfName.get(vn)!;
        const r = rel(graph.grads[name], g);
        // key biases: their true gradient is 0 (softmax ignores a shift per row); both sides hold rounding noise
        if (name.endsWith("attention.self.key.bias")) assert.ok(maxDiff(graph.grads[name], g) <= 1e-6, name);
        else assert.ok(r <= 1e-4, `${name} [${b}, ${s}]: ${r}`);
      }
      tf.dispose([tape.value, graph.value, ...Object.values(tape.grads), ...Object.values(graph.grads)]);
      assert.equal(tf.memory().numTensors, before, `leaked tensors at [${b}, ${s}]`);
      tf.dispose(Object.values(x));
    }
    m.dispose();
  },
);

test(
  "training graph: padding rows are skipped and the last layer runs at [CLS] only, with the tape's loss and gradients for any mask",
  { skip },
  () => {
    // Rows with holes in the mask, and one whose first position is padding (the pooler still reads it, as eager does).
    const m = randomBert(
      { ...tinyBertConfig, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 } as BertConfig,
      { labels: tinyBertLabels, seed: 6 },
    );
    const mask = [[1, 1, 0, 1, 0, 0], [0, 1, 1, 1, 1, 1], [1, 0, 0, 0, 0, 0]];
    const x = {
      input_ids: tf.tensor2d([[2, 7, 9, 4, 1, 1], [5, 3, 8, 6, 2, 4], [9, 1, 1, 1, 1, 1]], [3, 6], "int32"),
      attention_mask: tf.tensor2d(mask, [3, 6], "int32"),
      token_type_ids: tf.tensor2d([[0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 0, 0]], [3, 6], "int32"),
    };
    const labels = [2, 0, 1];
    const ir = recordBert(m.config, { training: true });
    const cut = [...firstRowsOnly(ir, [ir.outputs.logits, ir.outputs.pooled])].map((i) => ir.nodes[i]);
    const lastLayer = (w: string) =>
      cut.some((n) => n.op === "linear" && ir.nodes[n.inputs[1]].name === `bert.encoder.layer.1.${w}.weight`);
    assert.deepEqual(
      ["attention.self.query", "attention.self.key", "attention.self.value", "output.dense"].map(lastLayer),
      [true, false, false, true],
    );
    assert.equal(
      cut.filter((n) => n.op === "linear").length,
      4,
      "only the last layer's queries, output and feed-forward",
    );
    const before = tf.memory().numTensors;
    const tape = tf.variableGrads(() => crossEntropyLoss(m.forward(x, { training: true, seed: 4 }), labels));
    const graph = graphLossAndGrads(m, x, labels, { seed: 4 })!;
    assert.ok(Math.abs(graph.value.dataSync()[0] - tape.value.dataSync()[0]) <= 1e-5, "loss");
    const hfName = new Map([...m.params].map(([n, v]) => [v.name, n]));
    for (const [vn, e] of Object.entries(tape.grads)) {
      const name = hfName.get(vn)!;
      const d = maxDiff(graph.grads[name], e), scale = tf.tidy(() => tf.max(tf.abs(e)).dataSync()[0]);
      assert.ok(d <= 1e-4 * scale + 1e-6, `${name}: ${d} (scale ${scale})`);
    }
    tf.dispose([tape.value, graph.value, ...Object.values(tape.grads), ...Object.values(graph.grads)]);
    assert.equal(tf.memory().numTensors, before, "leaked tensors");
    tf.dispose(Object.values(x));
    m.dispose();
  },
);

test(
  "training graph: class weights and logit offsets (logit adjustment) give the tape's loss and gradients",
  { skip },
  () => {
    const m = randomBert(
      { ...tinyBertConfig, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1 } as BertConfig,
      { labels: tinyBertLabels, seed: 9 },
    );
    const x = batch(4, 8, 5);
    const labels = [0, 1, 2, 2];
    const opts = {
      seed: 3,
      loss: { kind: "cross_entropy", classWeights: [0.5, 2, 1], logitOffsets: [-0.2, -1.5, -3] } as const,
    };
    const before = tf.memory().numTensors;
    process.env.BERTLAB_GRAPH = "0"; // lossAndGrads takes the tape
    const tape = lossAndGrads(m, x, labels, opts);
    delete process.env.BERTLAB_GRAPH;
    const graph = graphLossAndGrads(m, x, labels, opts)!;
    const plain = graphLossAndGrads(m, x, labels, { seed: 3 })!;
    assert.ok(
      Math.abs(graph.value.dataSync()[0] - plain.value.dataSync()[0]) > 1e-3,
      "the offsets and weights change the loss",
    );
    assert.ok(Math.abs(graph.value.dataSync()[0] - tape.value.dataSync()[0]) <= 1e-5, "loss");
    for (const [name, e] of Object.entries(tape.grads)) {
      const d = maxDiff(graph.grads[name], e), scale = tf.tidy(() => tf.max(tf.abs(e)).dataSync()[0]);
      assert.ok(d <= 1e-4 * scale + 1e-6, `${name}: ${d} (scale ${scale})`);
    }
    tf.dispose([
      tape.value,
      graph.value,
      plain.value,
      ...Object.values(tape.grads),
      ...Object.values(graph.grads),
      ...Object.values(plain.grads),
    ]);
    assert.equal(tf.memory().numTensors, before, "leaked tensors");
    tf.dispose(Object.values(x));
    m.dispose();
  },
);

test("training graph: one graph per shape, a dropout mask per site", { skip }, () => {
  const g = trainingGraph(tinyBertConfig);
  // embeddings 1, per layer 3 (attention probs, attention output, output), classifier 1
  assert.equal(g.dropouts.length, 1 + 3 * tinyBertConfig.num_hidden_layers + 1);
  assert.deepEqual(g.dropouts.filter((d) => d.of === "attentionProbs").map((d) => d.site), [1, 4]);
});

test("training graph: clipping and AdamW inside the graph equal lib/nn/optim.ts's on the same gradients within 1e-6", {
  skip,
}, () => {
  const make = () => randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 8 });
  const [a, e] = [make(), make()];
  const opt = (m: BertForSequenceClassification) =>
    new AdamW(m.params, { lr: 1e-3, weightDecay: 0.01, lrScale: (n) => (n.startsWith("classifier") ? 30 : 1) });
  const [oa, oe] = [opt(a), opt(e)];
  const x = batch(4, 9, 3);
  const labels = [0, 1, 2, 1];
  const before = tf.memory().numTensors;
  // clip norm 0.05: below the gradients' norm, so clipping acts; then 1e9: it does not
  for (const [step, clipNorm] of [[1, 0.05], [2, 0.05], [3, 1e9]] as const) {
    const fused = graphTrainStep(a, oa, x, labels, { seed: step, lr: 1e-3, clipNorm });
    assert.ok(fused, "the step graph loads");
    const r = graphLossAndGrads(e, x, labels, { seed: step })!;
    const { grads, norm } = clipGradNorm(r.grads, clipNorm);
    oe.step(grads, 1e-3);
    assert.ok(Math.abs(fused.loss - r.value.dataSync()[0]) <= 1e-6, `loss at step ${step}`);
    assert.ok(Math.abs(fused.norm - norm) <= 1e-5 * norm, `norm at step ${step}: ${fused.norm} vs ${norm}`);
    tf.dispose([r.value, ...Object.values(r.grads), ...Object.values(grads)]);
  }
  for (const [name, p] of a.params) {
    assert.ok(maxDiff(p, e.params.get(name)!) <= 1e-6, `${name}: ${maxDiff(p, e.params.get(name)!)}`);
    const [ma, va] = oa.moments(name), [me, ve] = oe.moments(name);
    assert.ok(maxDiff(ma, me) <= 1e-6 && maxDiff(va, ve) <= 1e-6, `${name} moments`);
  }
  assert.equal(oa.stepCount, 3);
  assert.equal(
    tf.memory().numTensors,
    before + 2 * 2 * a.params.size,
    "nothing leaked: only each optimizer's two moments per weight are new",
  );
  tf.dispose(Object.values(x));
  [a, e].forEach((m) => m.dispose());
  [oa, oe].forEach((o) => o.dispose());
});
