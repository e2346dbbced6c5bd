/**
 * lib/serve/onnx_export.ts: the ONNX export of the one forward definition, run by ONNX Runtime (onnxruntime-node),
 * equals bertlab's own forward within 1e-4 (tiny BERT: batch shapes 1×1 … 5×16 with padding and token
 * types) and Hugging Face PyTorch's logits (MiniLM fixture); the file passes onnx.checker (Python reference).
 */
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import * as ort from "onnxruntime-node";
import { initBackend } from "../lib/runtime/backend";
import {
  randomBert,
  loadBertForSequenceClassification,
  BertConfig,
  BertForSequenceClassification,
} from "../lib/model/bert";
import { bertOnnx } from "../lib/serve/onnx_export";
import { ROOT, VENV_PYTHON } from "../lib/core/paths";
import { tinyBertConfig, tinyBertLabels } from "./helpers/tiny_bert";
import { tmpDir } from "./helpers/tmp";

const FWD = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/minilm_forward.json"), "utf8"));
const MODEL_DIR = path.join(ROOT, FWD.model);
const noModel = fs.existsSync(path.join(MODEL_DIR, "model.safetensors"))
  ? false
  : `${MODEL_DIR} missing: run scripts/setup.sh`;

let tiny: BertForSequenceClassification;
before(async () => {
  await initBackend();
  tiny = randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 3 });
});

const int64 = (rows: number[][]) =>
  new ort.Tensor("int64", BigInt64Array.from(rows.flat().map(BigInt)), [rows.length, rows[0].length]);

/** Rows of random ids ending in padding of different lengths, token types 0 then 1. */
function batch(b: number, s: number, seed: number) {
  let x = seed * 7919 + 1;
  const rand = () => (x = (x * 48271) % 2147483647);
  const lengths = Array.from({ length: b }, (_, i) => Math.max(1, s - i));
  const input_ids = lengths.map((n) => Array.from({ length: s }, (_, j) => (j < n ? 1 + (rand() % 29999) : 0)));
  const attention_mask = lengths.map((n) => Array.from({ length: s }, (_, j) => (j < n ? 1 : 0)));
  const token_type_ids = lengths.map(() => Array.from({ length: s }, (_, j) => (j >= s / 2 ? 1 : 0)));
  return { input_ids, attention_mask, token_type_ids };
}

async function onnxLogits(session: ort.InferenceSession, x: ReturnType<typeof batch>): Promise<Float32Array> {
  const out = await session.run({
    input_ids: int64(x.input_ids),
    attention_mask: int64(x.attention_mask),
    token_type_ids: int64(x.token_type_ids),
  });
  return out.logits.data as Float32Array;
}

function ours(model: BertForSequenceClassification, x: ReturnType<typeof batch>): Float32Array {
  return tf.tidy(() => {
    const t = (r: number[][]) => tf.tensor2d(r, undefined, "int32");
    return model.forward({
      input_ids: t(x.input_ids),
      attention_mask: t(x.attention_mask),
      token_type_ids: t(x.token_type_ids),
    }).dataSync() as Float32Array;
  });
}

const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  assert.equal(a.length, b.length);
  return Math.max(...Array.from(a, (v, i) => Math.abs(v - b[i])));
};

test("onnx: the tiny BERT's logits from ONNX Runtime equal bertlab's within 1e-4, any batch shape", async () => {
  const before = tf.memory().numTensors;
  const bytes = bertOnnx(tiny);
  assert.equal(tf.memory().numTensors, before, "export leaks no tensors");
  const session = await ort.InferenceSession.create(bytes);
  assert.deepEqual(session.inputNames.slice().sort(), ["attention_mask", "input_ids", "token_type_ids"]);
  assert.deepEqual(session.outputNames, ["logits"]);
  for (const [b, s] of [[1, 1], [1, 9], [3, 7], [5, 16]] as const) {
    const x = batch(b, s, b * 100 + s);
    const d = maxDiff(await onnxLogits(session, x), ours(tiny, x));
    assert.ok(d <= 1e-4, `[${b}, ${s}]: ${d}`);
  }
  await session.release();
});

test("onnx: a changed weight is exported (the file holds the model's current weights)", async () => {
  const m = randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 4 });
  const x = batch(2, 6, 1);
  const a = await onnxLogits(await ort.InferenceSession.create(bertOnnx(m)), x);
  const v = m.params.get("classifier.bias")!;
  v.assign(tf.tidy(() => tf.add(v, 1)));
  const b = await onnxLogits(await ort.InferenceSession.create(bertOnnx(m)), x);
  assert.ok(Math.abs(b[0] - a[0] - 1) < 1e-5);
  m.dispose();
});

test("onnx: the export passes onnx.checker (Python reference)", {
  skip: fs.existsSync(VENV_PYTHON) ? false : "no .venv",
}, () => {
  const file = path.join(tmpDir("onnx-"), "model.onnx");
  fs.writeFileSync(file, bertOnnx(tiny));
  const r = spawnSync(VENV_PYTHON, [
    "-c",
    "import sys, onnx; m = onnx.load(sys.argv[1]); onnx.checker.check_model(m, full_check=True); print(m.opset_import[0].version)",
    file,
  ], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout.trim(), "17");
});

test("onnx: MiniLM exported runs in ONNX Runtime with PyTorch's logits within 1e-4", { skip: noModel }, async () => {
  const model = await loadBertForSequenceClassification(MODEL_DIR, { labels: FWD.labels, seed: 17 });
  model.params.get("classifier.weight")!.assign(tf.tensor2d(FWD.classifier.weight));
  model.params.get("classifier.bias")!.assign(tf.tensor1d(FWD.classifier.bias));
  const session = await ort.InferenceSession.create(bertOnnx(model));
  const logits = await onnxLogits(session, FWD.inputs);
  const d = maxDiff(logits, FWD.logits.flat());
  assert.ok(d <= 1e-4, `max |Δ| ${d}`);
  await session.release();
  model.dispose();
});
