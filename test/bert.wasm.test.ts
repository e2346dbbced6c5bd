// lib/model/bert.ts against Hugging Face on the tiny random BERT of test/fixtures/reference/tiny_bert.json
// (made by scripts/make_fixtures.py with PyTorch), on the default backend and on wasm (`npm run test:wasm`).
// Also: dropout, loading/saving (with and without the "bert." prefix, into Python), bad configs and weights.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import {
  BertForSequenceClassification,
  BertConfig,
  loadBertForSequenceClassification,
  saveBertForSequenceClassification,
  randomBert,
  crossEntropyLoss,
  validateBertConfig,
  toInputs,
} from "../lib/model/bert";
import { writeSafetensors, readSafetensors } from "../lib/nn/safetensors";
import { setGradMode } from "../lib/nn/ops";
import { VENV_PYTHON } from "../lib/core/paths";
import { tinyBertConfig, tinyBertLabels, tinyBertWeights } from "./helpers/tiny_bert";
import { tmpDir } from "./helpers/tmp";

const FIX = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/tiny_bert.json"), "utf8"));
const tmp = () => tmpDir("bert-");

before(async () => {
  await initBackend();
});

function tinyModel(): BertForSequenceClassification {
  const params = new Map<string, tf.Variable>();
  for (const [name, { shape, values }] of tinyBertWeights())
    params.set(name, tf.variable(tf.tensor(values, shape), true));
  return new BertForSequenceClassification(tinyBertConfig as BertConfig, tinyBertLabels, params);
}

function inputs(): { input_ids: tf.Tensor2D; attention_mask: tf.Tensor2D; token_type_ids: tf.Tensor2D } {
  return {
    input_ids: tf.tensor2d(FIX.inputs.input_ids, undefined, "int32"),
    attention_mask: tf.tensor2d(FIX.inputs.attention_mask, undefined, "int32"),
    token_type_ids: tf.tensor2d(FIX.inputs.token_type_ids, undefined, "int32"),
  };
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  assert.equal(a.length, b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

// graph: eval mode on native runs as one TensorFlow graph (lib/graph/bert_graph.ts); false: op by op.
for (const graph of [true, false])
  test(`tiny BERT: hidden states, pooler output, logits and loss equal PyTorch's within 1e-5 (graph ${graph})`, () => {
    const model = tinyModel();
    const x = inputs();
    const before = tf.memory().numTensors;
    const { lastHiddenState, pooled } = model.hidden(x, { graph });
    const logits = model.forward(x, { graph });
    const loss = crossEntropyLoss(logits, FIX.labels);
    assert.deepEqual(lastHiddenState.shape, [3, 9, 32]);
    assert.deepEqual(logits.shape, [3, 3]);
    assert.ok(maxAbsDiff(lastHiddenState.dataSync(), FIX.last_hidden_state.flat(2)) <= 1e-5, "last_hidden_state");
    assert.ok(maxAbsDiff(pooled.dataSync(), FIX.pooler_output.flat()) <= 1e-5, "pooler_output");
    assert.ok(maxAbsDiff(logits.dataSync(), FIX.logits.flat()) <= 1e-5, "logits");
    assert.ok(Math.abs(loss.dataSync()[0] - FIX.loss) <= 1e-5, `loss ${loss.dataSync()[0]} vs ${FIX.loss}`);
    tf.dispose([lastHiddenState, pooled, logits, loss]);
    assert.equal(tf.memory().numTensors, before, "forward leaked tensors");
    tf.dispose(Object.values(x));
    model.dispose();
  });

// "explicit" is what wasm runs (explicit transposes, scatterND); check it on this backend too.
for (const mode of ["auto", "explicit"] as const)
  test(`tiny BERT: every gradient equals PyTorch's (1e-3 relative rule), grad mode ${mode}`, () => {
    setGradMode(mode);
    const model = tinyModel();
    const x = inputs();
    const before = tf.memory().numTensors;
    const { value, grads } = tf.variableGrads(() => crossEntropyLoss(model.forward(x), FIX.labels));
    assert.ok(Math.abs(value.dataSync()[0] - FIX.loss) <= 1e-5);
    let checked = 0;
    for (const [name, ref] of Object.entries(FIX.grads) as [string, unknown][]) {
      const g = grads[model.params.get(name)!.name];
      assert.ok(g, `no gradient for ${name}`);
      let ours: number[], theirs: number[];
      if (name === "bert.embeddings.word_embeddings.weight") {
        const r = ref as { rows: number[]; values: number[][] };
        ours = (tf.tidy(() => tf.gather(g, tf.tensor1d(r.rows, "int32")).arraySync()) as number[][]).flat();
        theirs = r.values.flat();
        // rows not used by the batch get exactly zero
        const total = tf.tidy(() => tf.sum(tf.abs(g)).dataSync()[0]);
        const used = ours.reduce((a, v) => a + Math.abs(v), 0);
        assert.ok(Math.abs(total - used) <= 1e-6 * Math.max(1, total), "unused embedding rows have zero gradient");
      } else {
        ours = Array.from(g.dataSync());
        theirs = (ref as number[] | number[][]).flat() as number[];
      }
      const rms = Math.sqrt(theirs.reduce((a, v) => a + v * v, 0) / theirs.length);
      ours.forEach((v, i) => {
        const tol = 1e-3 * Math.max(Math.abs(theirs[i]), rms) + 1e-9;
        assert.ok(Math.abs(v - theirs[i]) <= tol, `${name}[${i}]: ${v} vs ${theirs[i]} (tol ${tol})`);
      });
      checked++;
    }
    assert.equal(checked, 41);
    tf.dispose([value, ...Object.values(grads)]);
    assert.equal(tf.memory().numTensors, before, "backward leaked tensors");
    tf.dispose(Object.values(x));
    model.dispose();
    setGradMode("auto");
  });

test("dropout: only in training; the same seed repeats, another seed differs; inputs untouched", () => {
  const model = tinyModel();
  const x = inputs();
  const before = tf.memory().numTensors;
  const run = (o: { training?: boolean; seed?: number }) => tf.tidy(() => Array.from(model.forward(x, o).dataSync()));
  const e1 = run({}), e2 = run({ training: false, seed: 5 });
  assert.deepEqual(e1, e2, "eval: deterministic, seed ignored");
  const t1 = run({ training: true, seed: 1 }),
    t1b = run({ training: true, seed: 1 }),
    t2 = run({ training: true, seed: 2 });
  assert.deepEqual(t1, t1b, "same seed, same masks");
  assert.notDeepEqual(t1, t2, "another seed, other masks");
  assert.notDeepEqual(t1, e1, "training differs from eval");
  assert.notDeepEqual(run({ training: true }), run({ training: true }), "unseeded training draws fresh masks");
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(x.input_ids.arraySync(), FIX.inputs.input_ids, "inputs unchanged");
  tf.dispose(Object.values(x));
  model.dispose();
});

test("the inference path (no gradient tape) gives the taped path's logits, with fewer kernels on native", async () => {
  const model = tinyModel();
  const x = inputs();
  const before = tf.memory().numTensors;
  const plain = tf.tidy(() => Array.from(model.forward(x).dataSync()));
  let taped: number[] = [];
  const { value, grads } = tf.variableGrads(() => {
    const logits = model.forward(x);
    taped = Array.from(logits.dataSync());
    return tf.sum(logits) as tf.Scalar;
  });
  tf.dispose([value, ...Object.values(grads)]);
  assert.ok(
    maxAbsDiff(plain, taped) <= 1e-6,
    `eval logits without and with a tape differ by ${maxAbsDiff(plain, taped)}`,
  );
  if (tf.getBackend() === "tensorflow") {
    // Each kernel pays a fixed call through tfjs-node, which sets batch-1 latency: the no-tape paths (no reshapes
    // around every matMul, no tf.moments' Casts or Min/Max id checks, q/k/v together) keep the count down.
    const kernels = (await tf.profile(() => {
      tf.tidy(() => {
        model.forward(x);
      });
    })).kernels.length;
    assert.ok(kernels <= 115, `one eval forward of the tiny BERT ran ${kernels} kernels (115 expected)`);
  }
  // Changed weights (as an optimizer step assigns them) reach the inference copies: no stale logits.
  const q = model.params.get("bert.encoder.layer.1.attention.self.query.weight")!,
    c = model.params.get("classifier.bias")!;
  const [q0, c0] = [q.clone(), c.clone()];
  tf.tidy(() => {
    q.assign(tf.mul(q, 3));
    c.assign(tf.add(c, 0.5));
  });
  const changed = tf.tidy(() => Array.from(model.forward(x).dataSync()));
  let tapedChanged: number[] = [];
  const r = tf.variableGrads(() => {
    const l = model.forward(x);
    tapedChanged = Array.from(l.dataSync());
    return tf.sum(l) as tf.Scalar;
  });
  tf.dispose([r.value, ...Object.values(r.grads)]);
  assert.ok(maxAbsDiff(changed, plain) > 1e-3, "the change moved the logits");
  assert.ok(
    maxAbsDiff(changed, tapedChanged) <= 1e-6,
    `after assign: without and with a tape differ by ${maxAbsDiff(changed, tapedChanged)}`,
  );
  q.assign(q0);
  c.assign(c0);
  tf.dispose([q0, c0]);
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
  tf.dispose(Object.values(x));
  model.dispose();
});

test("bad inputs are named", () => {
  const model = tinyModel();
  const ids = tf.tensor2d([[101, 102]], undefined, "int32");
  assert.throws(
    () => model.forward({ input_ids: ids, attention_mask: tf.ones([1, 3], "int32") as tf.Tensor2D }),
    /attention_mask has shape \[1,3\] but input_ids has \[1,2\]/,
  );
  assert.throws(
    () => model.forward({ input_ids: tf.tensor2d([[1.5]]), attention_mask: tf.ones([1, 1]) as tf.Tensor2D }),
    /input_ids must be int32/,
  );
  assert.throws(
    () =>
      model.forward({
        input_ids: tf.zeros([1, 200], "int32") as tf.Tensor2D,
        attention_mask: tf.ones([1, 200]) as tf.Tensor2D,
      }),
    /sequence length 200 exceeds max_position_embeddings 128/,
  );
  assert.throws(
    () =>
      model.forward({
        input_ids: tf.tensor2d([[40000]], undefined, "int32"),
        attention_mask: tf.ones([1, 1]) as tf.Tensor2D,
      }),
    /id 40000 is outside the table's 30522 rows/,
  );
  model.dispose();
});

test("save → load round trip (with and without the 'bert.' prefix); no leaks; files atomic", async () => {
  const model = tinyModel();
  const x = inputs();
  const ref = tf.tidy(() => Array.from(model.forward(x).dataSync()));
  const dir = path.join(tmp(), "tiny");
  const before = tf.memory().numTensors;
  await saveBertForSequenceClassification(model, dir);
  assert.equal(tf.memory().numTensors, before, "save leaked tensors");
  assert.deepEqual(fs.readdirSync(dir).sort(), ["config.json", "model.safetensors"]);
  const cfg = JSON.parse(fs.readFileSync(path.join(dir, "config.json"), "utf8"));
  assert.deepEqual(cfg.architectures, ["BertForSequenceClassification"]);
  assert.deepEqual(cfg.id2label, { 0: "neg", 1: "neu", 2: "pos" });
  const loaded = await loadBertForSequenceClassification(dir, { labels: tinyBertLabels, seed: 1 });
  assert.equal(tf.memory().numTensors, before + loaded.params.size, "load made exactly the variables");
  assert.deepEqual(tf.tidy(() => Array.from(loaded.forward(x).dataSync())), ref);
  loaded.dispose();
  assert.equal(tf.memory().numTensors, before, "dispose frees every weight");

  // sentence-transformers layout: no "bert." prefix, no classifier, an extra position_ids buffer
  const st = path.join(tmp(), "st");
  fs.mkdirSync(st);
  const { tensors } = readSafetensors(path.join(dir, "model.safetensors"));
  const renamed = new Map(
    [...tensors].filter(([n]) => !n.startsWith("classifier.")).map(([n, t]) => [n.replace(/^bert\./, ""), t]),
  );
  renamed.set("embeddings.position_ids", {
    dtype: "int32",
    shape: [1, 128],
    data: Int32Array.from({ length: 128 }, (_, i) => i),
  });
  writeSafetensors(path.join(st, "model.safetensors"), renamed);
  const { id2label: _a, label2id: _b, architectures: _c, ...bare } = cfg;
  fs.writeFileSync(path.join(st, "config.json"), JSON.stringify({ ...bare, architectures: ["BertModel"] }));
  const m1 = await loadBertForSequenceClassification(st, { labels: ["a", "b"], seed: 7 });
  const m2 = await loadBertForSequenceClassification(st, { labels: ["a", "b"], seed: 7 });
  const m3 = await loadBertForSequenceClassification(st, { labels: ["a", "b"], seed: 8 });
  const hidden = tf.tidy(() => Array.from(m1.hidden(x).pooled.dataSync()));
  assert.ok(maxAbsDiff(hidden, FIX.pooler_output.flat()) <= 1e-5, "encoder loaded without prefix");
  const w = (m: BertForSequenceClassification) => Array.from(m.params.get("classifier.weight")!.dataSync());
  assert.deepEqual(w(m1), w(m2), "new head: same seed, same weights");
  assert.notDeepEqual(w(m1), w(m3));
  const std = Math.sqrt(w(m1).reduce((a, v) => a + v * v, 0) / w(m1).length);
  assert.ok(std > 0.012 && std < 0.028, `head std ${std} ≈ initializer_range 0.02`);
  assert.deepEqual(Array.from(m1.params.get("classifier.bias")!.dataSync()), [0, 0]);
  [m1, m2, m3].forEach((m) => m.dispose());

  // a trained head for other labels is refused
  await assert.rejects(
    loadBertForSequenceClassification(dir, { labels: ["pos", "neu", "neg"], seed: 1 }),
    /trained for labels \["neg","neu","pos"\]/,
  );
  // a head with another number of labels: shape error naming the tensor
  await assert.rejects(
    loadBertForSequenceClassification(dir, { labels: ["x", "y"], seed: 1 }),
    /weight "classifier.weight" has shape \[3,32\] but the config needs \[2,32\]/,
  );
  tf.dispose(Object.values(x));
  model.dispose();
});

test("bad configs and checkpoints give errors naming the problem", async () => {
  assert.throws(
    () => validateBertConfig({ ...tinyBertConfig, model_type: "roberta" }, "c.json"),
    /c\.json: model_type is "roberta", not "bert"/,
  );
  assert.throws(
    () => validateBertConfig({ ...tinyBertConfig, hidden_size: undefined }, "c.json"),
    /"hidden_size" is missing/,
  );
  assert.throws(
    () => validateBertConfig({ ...tinyBertConfig, hidden_act: "relu" }, "c.json"),
    /hidden_act "relu" is not supported/,
  );
  assert.throws(
    () => validateBertConfig({ ...tinyBertConfig, num_attention_heads: 5 }, "c.json"),
    /not a multiple of num_attention_heads 5/,
  );
  const dir = tmp();
  await assert.rejects(loadBertForSequenceClassification(dir, { labels: ["a"], seed: 1 }), /config\.json is missing/);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(tinyBertConfig));
  await assert.rejects(loadBertForSequenceClassification(dir, { labels: ["a"], seed: 1 }), /no model\.safetensors/);
  const w = tinyBertWeights();
  const st = new Map([...w].map(([n, { shape, values }]) => [n, { dtype: "float32" as const, shape, data: values }]));
  st.delete("bert.encoder.layer.1.output.dense.bias");
  st.set("bert.pooler.dense.weight", { dtype: "float32", shape: [32, 16], data: new Float32Array(512) });
  writeSafetensors(path.join(dir, "model.safetensors"), st);
  const before = tf.memory().numTensors;
  await assert.rejects(
    loadBertForSequenceClassification(dir, { labels: tinyBertLabels, seed: 1 }),
    /model\.safetensors: weight "bert\.encoder\.layer\.1\.output\.dense\.bias" is missing/,
  );
  st.set("bert.encoder.layer.1.output.dense.bias", { dtype: "float32", shape: [32], data: new Float32Array(32) });
  writeSafetensors(path.join(dir, "model.safetensors"), st);
  await assert.rejects(
    loadBertForSequenceClassification(dir, { labels: tinyBertLabels, seed: 1 }),
    /weight "bert\.pooler\.dense\.weight" has shape \[32,16\] but the config needs \[32,32\]/,
  );
  assert.equal(tf.memory().numTensors, before, "a failed load frees what it made");
});

test("randomBert: HF-style init, reproducible from the seed", () => {
  const before = tf.memory().numTensors;
  const cfg = { ...tinyBertConfig, vocab_size: 50 } as BertConfig;
  const a = randomBert(cfg, { labels: ["x", "y"], seed: 3 }), b = randomBert(cfg, { labels: ["x", "y"], seed: 3 });
  const v = (m: BertForSequenceClassification, n: string) => Array.from(m.params.get(n)!.dataSync());
  assert.deepEqual(
    v(a, "bert.encoder.layer.0.attention.self.query.weight"),
    v(b, "bert.encoder.layer.0.attention.self.query.weight"),
  );
  assert.notDeepEqual(
    v(a, "bert.encoder.layer.0.attention.self.query.weight"),
    v(a, "bert.encoder.layer.0.attention.self.key.weight"),
  );
  assert.ok(v(a, "bert.embeddings.LayerNorm.weight").every((x) => x === 1));
  assert.ok(v(a, "bert.pooler.dense.bias").every((x) => x === 0));
  assert.ok(v(a, "bert.embeddings.word_embeddings.weight").slice(0, 32).every((x) => x === 0), "padding row is zero");
  assert.deepEqual(a.labels, ["x", "y"]);
  assert.deepEqual(a.config.id2label, { 0: "x", 1: "y" });
  a.dispose();
  b.dispose();
  assert.equal(tf.memory().numTensors, before);
});

const havePy = fs.existsSync(VENV_PYTHON);
test("a saved folder loads in Python transformers with the same logits", {
  skip: havePy ? false : `no ${VENV_PYTHON}: run scripts/setup.sh`,
}, async () => {
  const model = tinyModel();
  const x = inputs();
  const ours = tf.tidy(() => model.forward(x).arraySync());
  const dir = path.join(tmp(), "for-python");
  await saveBertForSequenceClassification(model, dir);
  const script = `
import sys, json, torch
from transformers import BertForSequenceClassification
m = BertForSequenceClassification.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
i = json.loads(sys.argv[2])
with torch.no_grad():
    out = m(**{k: torch.tensor(v) for k, v in i.items()}).logits
print(json.dumps({"logits": out.tolist(), "labels": m.config.id2label}))
`;
  const r = spawnSync(VENV_PYTHON, ["-c", script, dir, JSON.stringify(FIX.inputs)], {
    encoding: "utf8",
    env: { ...process.env, TRANSFORMERS_OFFLINE: "1", HF_HUB_OFFLINE: "1" },
  });
  assert.equal(r.status, 0, r.stderr);
  const py = JSON.parse(r.stdout.trim().split("\n").pop()!);
  assert.deepEqual(py.labels, { 0: "neg", 1: "neu", 2: "pos" });
  assert.ok(maxAbsDiff(py.logits.flat(), ours.flat()) <= 1e-5, "Python logits equal ours");
  tf.dispose(Object.values(x));
  model.dispose();
});

test("toInputs: tokenizer rows → int32 tensors; ragged rows are an error", () => {
  const x = toInputs({ input_ids: [[101, 7, 102], [101, 102, 0]], attention_mask: [[1, 1, 1], [1, 1, 0]] });
  assert.equal(x.input_ids.dtype, "int32");
  assert.deepEqual(x.attention_mask.shape, [2, 3]);
  assert.equal(x.token_type_ids, undefined);
  assert.throws(
    () => toInputs({ input_ids: [[1, 2], [1]], attention_mask: [[1, 1], [1]] }),
    /input_ids row 1 has 1 ids but input_ids row 0 has 2/,
  );
  tf.dispose([x.input_ids, x.attention_mask]);
});

test("tiny BERT: outputAttentions gives one [batch, heads, seq, seq] per layer, rows summing to 1, zero on padding", () => {
  const model = tinyModel();
  const x = inputs();
  const before = tf.memory().numTensors;
  const { logits, attentions } = model.forward(x, { outputAttentions: true });
  const plain = model.forward(x, { graph: false });
  assert.ok(maxAbsDiff(logits.dataSync(), plain.dataSync()) <= 1e-6, "same logits with and without attentions");
  assert.equal(attentions.length, tinyBertConfig.num_hidden_layers);
  const [b, s] = x.input_ids.shape;
  const mask = FIX.inputs.attention_mask as number[][];
  for (const a of attentions) {
    assert.deepEqual(a.shape, [b, tinyBertConfig.num_attention_heads, s, s]);
    const p = a.arraySync() as number[][][][];
    p.forEach((heads, i) => heads.forEach((rows) => rows.forEach((row) => {
      assert.ok(Math.abs(row.reduce((u, v) => u + v, 0) - 1) < 1e-5, "a row of probabilities sums to 1");
      row.forEach((v, j) => {
        if (mask[i][j] === 0) assert.equal(v, 0, "padding gets no attention");
      });
    })));
  }
  tf.dispose([logits, plain, ...attentions]);
  assert.equal(tf.memory().numTensors, before, "no tensor leaks");
  tf.dispose(Object.values(x));
  model.dispose();
});
