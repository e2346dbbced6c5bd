/**
 * The engine behind predict/evaluate (lib/serve/engine.ts) and the serving commands of the CLI: the choice
 * (flag, BERTLAB_ENGINE, default ONNX Runtime), the fallback to TensorFlow.js when a checkpoint cannot be
 * exported, both engines giving the same predictions in input order, and `bertlab export` / `predict
 * --quantized` / errors on the command line.
 */
import { test, before, after } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { chooseEngine, loadClassifier, DEFAULT_ENGINE } from "../lib/serve/engine";
import { exportOnnx } from "../lib/serve/export";
import { main } from "../lib/cli/cli";
import { initBackend } from "../lib/runtime/backend";
import { graphInference } from "../lib/model/bert";
import type { Prediction } from "../lib/eval/evaluate";
import {
  EXPORT_TINY,
  onnxSkip,
  tinyCheckpoint,
  fp32OnnxBytes,
  haveBertOnnx,
  maxAbsDiff,
  INT8_TOLERANCE,
} from "./helpers/onnx";
import { tmpDir } from "./helpers/tmp";

const tmp = tmpDir("bertlab-engine-");
const ckpt = tinyCheckpoint(path.join(tmp, "ckpt"));
const dir = path.join(tmp, "export");
before(async () => {
  await initBackend();
  if (!onnxSkip) await exportOnnx(ckpt, dir, { quantize: "int8", onnxBytes: fp32OnnxBytes });
});
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Runs the CLI with stdout and stderr captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  await new Promise((resolve) => setImmediate(resolve)); // let the reporter write before stdout is captured
  const out: string[] = [], err: string[] = [];
  const [w, e] = [process.stdout.write.bind(process.stdout), process.stderr.write.bind(process.stderr)];
  (process.stdout as unknown as { write: unknown }).write = (s: string) => {
    out.push(String(s));
    return true;
  };
  (process.stderr as unknown as { write: unknown }).write = (s: string) => {
    err.push(String(s));
    return true;
  };
  try {
    return { code: await main(args), stdout: out.join(""), stderr: err.join("") };
  } finally {
    (process.stdout as unknown as { write: unknown }).write = w;
    (process.stderr as unknown as { write: unknown }).write = e;
  }
}

test("chooseEngine: flag, then BERTLAB_ENGINE, then auto; --quantized means ONNX Runtime", () => {
  assert.equal(DEFAULT_ENGINE, "auto");
  assert.deepEqual(chooseEngine("auto", { env: "tfjs" }), { engine: "auto", quantized: false, explicit: false });
  assert.deepEqual(chooseEngine("auto", { quantized: true }), { engine: "onnx", quantized: true, explicit: false });
  assert.deepEqual(chooseEngine("tfjs", { env: "onnx" }), { engine: "tfjs", quantized: false, explicit: true });
  assert.deepEqual(chooseEngine(undefined, { env: "tfjs" }), { engine: "tfjs", quantized: false, explicit: true });
  assert.throws(() => chooseEngine("torch"), /--engine wants onnx, tfjs or auto, got "torch"/);
  assert.throws(() => chooseEngine(undefined, { env: "gpu" }), /BERTLAB_ENGINE wants onnx, tfjs or auto, got "gpu"/);
  assert.throws(() => chooseEngine("tfjs", { quantized: true }), /--quantized runs the int8 ONNX model: it needs/);
});

test("both engines predict the same labels and probabilities, in input order", { skip: onnxSkip }, async () => {
  const texts = [...EXPORT_TINY.texts].reverse();
  const opts = { maxLength: EXPORT_TINY.max_length, batchSize: 2 };
  const before = tf.memory().numTensors;
  const tfjs = await loadClassifier(ckpt, chooseEngine("tfjs"));
  const a = await tfjs.predict(texts, opts);
  await tfjs.release();
  assert.equal(tf.memory().numTensors, before, "no tensors left behind");
  const onnx = await loadClassifier(dir, chooseEngine("onnx"));
  const b = await onnx.predict(texts, opts);
  await onnx.release();
  assert.match(tfjs.engine, /^TensorFlow\.js /);
  assert.match(onnx.engine, /^onnxruntime-node .*\(fp32, \d+ threads\) on .*model\.onnx$/);
  assert.deepEqual(a.map((p) => p.text), texts);
  assert.deepEqual(a.map((p) => p.label), b.map((p) => p.label));
  const probs = (ps: typeof a) => ps.map((p) => EXPORT_TINY.labels.map((l: string) => p.probabilities[l]));
  assert.ok(maxAbsDiff(probs(a), probs(b)) < 1e-4);
  assert.ok(maxAbsDiff(probs(b), [...EXPORT_TINY.fp32.probabilities].reverse()) < 1e-4);
});

// auto: a checkpoint runs on TensorFlow.js where it has graph execution, else on ONNX Runtime (exported in
// memory through bertOnnx), falling back to TensorFlow.js with a warning while bertOnnx cannot export.
test("auto on a checkpoint: the TensorFlow graph on native, else ONNX Runtime or a warned fallback", async () => {
  const logs: string[] = [];
  const clf = await loadClassifier(ckpt, chooseEngine("auto"), (l) => logs.push(l));
  await clf.release();
  if (graphInference()) {
    assert.match(clf.engine, /^TensorFlow\.js tensorflow \(graph\) /);
    assert.deepEqual(logs, []);
  } else if (haveBertOnnx()) {
    assert.match(clf.engine, /^onnxruntime-node .* \(exported in memory\)$/);
  } else {
    assert.match(clf.engine, /^TensorFlow\.js /);
    assert.match(logs.join("\n"), /warning: ONNX Runtime unavailable for .*ckpt \(bertOnnx: not yet implemented/);
  }
});

test("--engine onnx on a checkpoint exports it in memory (bertOnnx), with no fallback", async () => {
  if (!haveBertOnnx()) {
    await assert.rejects(loadClassifier(ckpt, chooseEngine("onnx")), /bertOnnx: not yet implemented/);
    return;
  }
  const clf = await loadClassifier(ckpt, chooseEngine("onnx"));
  const [p] = await clf.predict([EXPORT_TINY.texts[0]], { maxLength: EXPORT_TINY.max_length });
  await clf.release();
  assert.match(clf.engine, /\(exported in memory\)$/);
  const ref = EXPORT_TINY.fp32.probabilities[0];
  EXPORT_TINY.labels.forEach((l: string, k: number) => assert.ok(Math.abs(p.probabilities[l] - ref[k]) < 1e-4, l));
});

test("auto on an export folder is ONNX Runtime", { skip: onnxSkip }, async () => {
  const clf = await loadClassifier(dir, chooseEngine("auto"));
  await clf.release();
  assert.match(clf.engine, /^onnxruntime-node .*model\.onnx$/);
});

test("an export folder runs on ONNX Runtime only", { skip: onnxSkip }, async () => {
  await assert.rejects(
    loadClassifier(dir, chooseEngine("tfjs")),
    /has no model\.safetensors \(an export folder\?\): TensorFlow\.js needs a checkpoint/,
  );
});

test("bertlab predict on an export, fp32 and --quantized; evaluate prints the engine", { skip: onnxSkip }, async () => {
  const texts = EXPORT_TINY.texts.slice(0, 3);
  const args = ["predict", "--checkpoint", dir, "--max-length", String(EXPORT_TINY.max_length)];
  const fp32 = await cli([...args, ...texts]);
  const int8 = await cli([...args, "--quantized", ...texts]);
  for (const [r, ref, tol] of [[fp32, EXPORT_TINY.fp32, 1e-4], [int8, EXPORT_TINY.int8, INT8_TOLERANCE]] as const) {
    assert.equal(r.code, 0);
    const preds: Prediction[] = r.stdout.trim().split("\n").map((l) => JSON.parse(l));
    assert.deepEqual(preds.map((p) => p.text), texts);
    const got = preds.map((p: Prediction) => EXPORT_TINY.labels.map((l: string) => p.probabilities[l]));
    assert.ok(maxAbsDiff(got, ref.probabilities.slice(0, 3)) < tol);
  }
  const tsv = path.join(tmp, "data.tsv");
  const rows = ["good day\tpos", "bad day\tneg", "a day\tneu", "fine day\tpos", "sad day\tneg", "the day\tneu"];
  fs.writeFileSync(tsv, ["text\tlabel", ...rows].join("\n") + "\n");
  const data = ["--csv", tsv, "--text-column", "text", "--label-column", "label"];
  const ev = await cli(["evaluate", "--checkpoint", dir, ...data]);
  assert.equal(ev.code, 0);
  assert.match(ev.stdout, /F1 weighted \d\.\d{4}/);
  assert.match(ev.stderr, /engine: onnxruntime-node/);
});

test("bertlab export: --out is required, --quantize takes int8 only", async () => {
  await assert.rejects(cli(["export", "--checkpoint", ckpt]), /export needs --out DIR \(and --checkpoint DIR\)/);
  const int4 = ["export", "--checkpoint", ckpt, "--out", path.join(tmp, "x"), "--quantize", "int4"];
  await assert.rejects(cli(int4), /--quantize wants int8, got "int4"/);
  await assert.rejects(cli(["demo", "--checkpoint", ckpt, "--port", "http"]), /--port wants a port number/);
});

const noBertOnnx = haveBertOnnx()
  ? false
  : "bertOnnx is not there yet (lib/serve/onnx_export.ts is the temporary shim)";
test("bertlab export writes the folder (needs bertOnnx)", { skip: noBertOnnx }, async () => {
  const out = path.join(tmp, "cli-export");
  const r = await cli(["export", "--checkpoint", ckpt, "--out", out, "--quantize", "int8"]);
  assert.equal(r.code, 0);
  const res = JSON.parse(r.stdout);
  assert.ok(res.int8Bytes <= 0.3 * res.fp32Bytes);
  await assert.rejects(cli(["export", "--checkpoint", ckpt, "--out", out]), /already holds an export/);
  assert.equal((await cli(["export", "--checkpoint", ckpt, "--out", out, "--force"])).code, 0);
});
