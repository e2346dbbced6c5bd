/**
 * lib/serve/export.ts: the folder `bertlab export` writes loads as it is in Python onnxruntime (onnx.checker
 * passes; scripts/make_onnx_fixtures.py check), in onnxruntime-node and in transformers.js's pipeline(),
 * with the same labels and scores (1e-4); the int8 file is at most 30% of the fp32 one; bad input gets
 * a clear error and never leaves a half-written folder.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { pipeline, env } from "@huggingface/transformers";
import { exportOnnx, checkExportable, ExportResult } from "../lib/serve/export";
import { loadOnnxClassifier, predictOnnx } from "../lib/serve/onnx_runtime";
import { VENV_PYTHON } from "../lib/core/paths";
import {
  EXPORT_TINY,
  onnxSkip,
  tinyCheckpoint,
  fp32OnnxBytes,
  pythonCheck,
  maxAbsDiff,
  INT8_TOLERANCE,
} from "./helpers/onnx";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { tmpDir } from "./helpers/tmp";

const tmp = tmpDir("bertlab-export-");
after(() => fs.rmSync(tmp, { recursive: true, force: true }));
const ckpt = tinyCheckpoint(path.join(tmp, "ckpt"));
const out = path.join(tmp, "exports", "tiny");
const noPython = fs.existsSync(VENV_PYTHON) ? false : `no ${VENV_PYTHON}: run scripts/setup.sh`;
// Texts short enough that no tokenizer truncates them: transformers.js's pipeline cuts at 512 on its own terms.
const TEXTS: string[] = EXPORT_TINY.texts.slice(0, 4);

let result: ExportResult;
let tensorsBefore = 0, tensorsAfter = 0;
before(async () => {
  if (onnxSkip) return;
  tensorsBefore = tf.memory().numTensors;
  result = await exportOnnx(ckpt, out, { quantize: "int8", onnxBytes: fp32OnnxBytes });
  tensorsAfter = tf.memory().numTensors;
});

test("export writes the folder transformers.js reads, int8 ≤ 30% of fp32, no tensors left", { skip: onnxSkip }, () => {
  const files = [
    "config.json",
    "special_tokens_map.json",
    "tokenizer.json",
    "tokenizer_config.json",
    "vocab.txt",
    "onnx/model.onnx",
    "onnx/model_quantized.onnx",
  ];
  assert.deepEqual(result.files.map((f) => f.path.split(path.sep).join("/")).sort(), files.sort());
  for (const f of files) assert.ok(fs.existsSync(path.join(out, f)), f);
  const config = JSON.parse(fs.readFileSync(path.join(out, "config.json"), "utf8"));
  assert.deepEqual(config.id2label, tinyBertConfig.id2label);
  assert.equal(result.fp32Bytes, fs.statSync(path.join(out, "onnx", "model.onnx")).size);
  assert.ok(result.int8Bytes! <= 0.3 * result.fp32Bytes, `int8 ${result.int8Bytes} vs fp32 ${result.fp32Bytes}`);
  // nothing else in the parent: the temporary folder was renamed, not left beside it
  assert.deepEqual(fs.readdirSync(path.dirname(out)), ["tiny"]);
  assert.equal(tensorsAfter, tensorsBefore);
});

// Python: onnx.checker passes; int64 [batch, sequence] inputs, logits out, opset 17; same labels and scores.
test("the export passes Python's checks and predicts as in Node", { skip: onnxSkip || noPython }, async () => {
  for (const quantized of [false, true]) {
    const py = pythonCheck(out, TEXTS, 256, quantized);
    assert.equal(py.checker, "ok");
    assert.equal(py.opset, 17);
    assert.deepEqual(py.inputs.map((i) => i.name).sort(), ["attention_mask", "input_ids", "token_type_ids"]);
    for (const i of py.inputs) {
      assert.equal(i.type, 7); // int64
      assert.equal(i.shape.length, 2);
      assert.ok(i.shape.every((d) => typeof d === "string"), `${JSON.stringify(i)}: dynamic batch and sequence`);
    }
    assert.deepEqual(py.outputs, ["logits"]);
    const clf = await loadOnnxClassifier(out, { quantized });
    const ours = await predictOnnx(clf, TEXTS);
    await clf.release();
    assert.deepEqual(ours.map((p) => p.label), py.labels);
    assert.ok(
      maxAbsDiff(ours.map((p) => clf.labels.map((l) => p.probabilities[l])), py.probabilities) <
        (quantized ? INT8_TOLERANCE : 1e-4),
    );
  }
});

test("the fp32 export computes what PyTorch's export does (export_tiny.json, 1e-4)", { skip: onnxSkip }, async () => {
  const clf = await loadOnnxClassifier(out);
  const got = await predictOnnx(clf, EXPORT_TINY.texts, { maxLength: EXPORT_TINY.max_length });
  await clf.release();
  const probs = got.map((p) => clf.labels.map((l) => p.probabilities[l]));
  assert.ok(maxAbsDiff(probs, EXPORT_TINY.fp32.probabilities) < 1e-4);
});

// transformers.js pipeline(), local files only: same labels and scores as Python onnxruntime within 1e-4.
test("transformers.js pipeline() loads the folder as it is", { skip: onnxSkip || noPython }, async () => {
  env.allowRemoteModels = false;
  env.allowLocalModels = true;
  env.localModelPath = path.dirname(out) + path.sep;
  for (const [dtype, quantized] of [["fp32", false], ["q8", true]] as const) {
    const py = pythonCheck(out, TEXTS, 512, quantized);
    const classify = await pipeline("text-classification", path.basename(out), { dtype });
    const got = (await classify(TEXTS, { top_k: null })) as unknown as { label: string; score: number }[][];
    await classify.dispose();
    got.forEach((scores, i) => {
      assert.equal(scores[0].label, py.labels[i], `${dtype} text ${i}`);
      for (const { label, score } of scores) {
        const k = EXPORT_TINY.labels.indexOf(label);
        const ref = py.probabilities[i][k];
        assert.ok(Math.abs(score - ref) < 1e-4, `${dtype} text ${i} ${label}: ${score} vs ${ref}`);
      }
    });
  }
});

// An existing export is refused without --force and replaced with it; other folders are never replaced.
test("an existing export needs --force; nothing else is replaced", { skip: onnxSkip }, async () => {
  await assert.rejects(
    exportOnnx(ckpt, out, { onnxBytes: fp32OnnxBytes }),
    /tiny already holds an export \(onnx\/model\.onnx\): pass --force to replace it/,
  );
  const r = await exportOnnx(ckpt, out, { force: true, onnxBytes: fp32OnnxBytes });
  assert.equal(r.int8Bytes, undefined);
  assert.ok(!fs.existsSync(path.join(out, "onnx", "model_quantized.onnx")), "the old int8 file went with the old one");
  const other = path.join(tmp, "notes");
  fs.mkdirSync(other);
  fs.writeFileSync(path.join(other, "todo.txt"), "keep me");
  await assert.rejects(exportOnnx(ckpt, other, { force: true }), /notes is not empty and holds no export/);
  await assert.rejects(exportOnnx(ckpt, ckpt, { force: true }), /is the checkpoint itself/);
  assert.equal(fs.readFileSync(path.join(other, "todo.txt"), "utf8"), "keep me");
});

test("a folder that is not a BERT checkpoint is refused, naming the file", async () => {
  const gpt = path.join(tmp, "gpt");
  fs.mkdirSync(gpt);
  fs.writeFileSync(path.join(gpt, "config.json"), JSON.stringify({ model_type: "gpt2", id2label: { 0: "a" } }));
  await assert.rejects(exportOnnx(gpt, path.join(tmp, "o1")), new RegExp(`${gpt}/config\\.json: model_type is "gpt2"`));
  const noWeights = path.join(tmp, "no-weights");
  fs.mkdirSync(noWeights);
  fs.writeFileSync(path.join(noWeights, "config.json"), JSON.stringify(tinyBertConfig));
  await assert.rejects(exportOnnx(noWeights, path.join(tmp, "o2")), /no-weights\/model\.safetensors is missing/);
  const nowhere = path.join(tmp, "nowhere");
  await assert.rejects(exportOnnx(nowhere, path.join(tmp, "o3")), /nowhere is neither a model folder/);
  assert.ok(!fs.existsSync(path.join(tmp, "o1")) && !fs.existsSync(path.join(tmp, "o2")));
});

test("a model over protobuf's 2 GiB limit gets a clear error before anything is loaded", () => {
  const big = path.join(tmp, "big");
  fs.mkdirSync(big);
  const config = { ...tinyBertConfig, vocab_size: 4_000_000, hidden_size: 256, num_attention_heads: 4 };
  fs.writeFileSync(path.join(big, "config.json"), JSON.stringify(config));
  fs.writeFileSync(path.join(big, "model.safetensors"), "");
  fs.writeFileSync(path.join(big, "tokenizer.json"), "{}");
  const message = new RegExp(`${big}/config\\.json: 3\\.8 GiB of float32 weights is over protobuf's 2 GiB limit`);
  assert.throws(() => checkExportable(big), message);
});

test("an unwritable destination is a clear error and leaves nothing behind", { skip: onnxSkip }, async () => {
  const file = path.join(tmp, "a-file");
  fs.writeFileSync(file, "");
  await assert.rejects(
    exportOnnx(ckpt, path.join(file, "export"), { onnxBytes: fp32OnnxBytes }),
    new RegExp(`cannot write to ${file} \\((ENOTDIR|EEXIST)\\)`),
  );
  // a failure while the folder is being made (here: the ONNX bytes cannot be made) leaves no temporary folder
  const dest = path.join(tmp, "half", "export");
  const failing = () => {
    throw new Error("disk on fire");
  };
  await assert.rejects(exportOnnx(ckpt, dest, { onnxBytes: failing }), /disk on fire/);
  assert.ok(!fs.existsSync(dest));
  assert.deepEqual(fs.readdirSync(path.dirname(dest)), []);
});
