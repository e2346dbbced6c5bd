// bf16 mixed precision on the TensorFlow graph (lib/graph/bert_graph.ts's `precision`, lib/graph/precision.ts):
// logits of the pretrained MiniLM and a tiny model's gradients close to fp32's, AdamW on float32 master weights,
// `auto` and `bf16` decided by the CPU's features (faked here to act as other machines), the choice logged and
// kept in metrics.json, the same losses run to run, a NaN that stops the run, and no leaked tensors.
// bf16 runs here whatever the CPU: without AVX512-BF16 TensorFlow emulates it (slowly, which is why the run
// refuses it there), and the numbers are the same.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import {
  randomBert,
  loadBertForSequenceClassification,
  BertConfig,
  BertForSequenceClassification,
} from "../lib/model/bert";
import { inferenceGraph, trainingGraph } from "../lib/graph/bert_graph";
import { GraphSession, GRAPH_CACHE_DIR } from "../lib/graph/session";
import { resolvePrecision, bf16Support, Bf16Support } from "../lib/graph/precision";
import { graphLossAndGrads, graphTrainStep } from "../lib/train/train_graph";
import { AdamW, clipGradNorm } from "../lib/nn/optim";
import { DEFAULT_CONFIG, TrainConfig, validateConfig } from "../lib/config/config";
import { HELP } from "../lib/cli/cli";
import { configFromFlags } from "../lib/cli/flags";
import { train, TrainingDivergedError } from "../lib/train/train";
import { listCheckpoints } from "../lib/model/run_folder";
import { ROOT } from "../lib/core/paths";
import { chooseEngine, loadClassifier } from "../lib/serve/engine";
import { loadTrained, predict } from "../lib/eval/evaluate";
import { tinyBertConfig, tinyBertLabels } from "./helpers/tiny_bert";
import { tinyCheckpoint } from "./helpers/onnx";
import { toyTokenizer, toyData, TOY_LABELS } from "./helpers/toy";
import { tmpDir } from "./helpers/tmp";

const skip = process.env.BERTLAB_BACKEND && process.env.BERTLAB_BACKEND !== "tensorflow"
  ? "graphs run on native TensorFlow only" :
  false;
const FWD = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/minilm_forward.json"), "utf8"));
const MODEL_DIR = path.join(ROOT, FWD.model);
const noModel = fs.existsSync(path.join(MODEL_DIR, "model.safetensors")) ?
  false
  : `${MODEL_DIR} missing: run scripts/setup.sh`;

/** Machines as the probe would see them. */
const ZEN4: Bf16Support = { cpu: "AMD EPYC 9004", features: ["avx512_bf16"], kernels: true };
const ZEN3: Bf16Support = { cpu: "AMD EPYC 7003", features: [], kernels: true };
const OLD_TF: Bf16Support = {
  cpu: "Intel Xeon",
  features: ["avx512_bf16", "amx_bf16"],
  kernels: false,
  kernelError: "no kernel",
};

before(async () => {
  const info = await initBackend();
  if (!skip) assert.equal(info.name, "tensorflow", "set-up provisions native TensorFlow here");
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

const maxAbs = (a: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(a)).dataSync()[0]);
const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);
/** The largest difference, relative to the largest fp32 value. */
const rel = (a: tf.Tensor, e: tf.Tensor) => maxDiff(a, e) / (maxAbs(e) + 1e-12);

const skipModel = skip || noModel;
test("bf16: pretrained MiniLM's logits within 2e-2 of fp32's (relative), not equal", { skip: skipModel }, async () => {
  const model = await loadBertForSequenceClassification(MODEL_DIR, { labels: FWD.labels, seed: 17 });
  model.params.get("classifier.weight")!.assign(tf.tensor2d(FWD.classifier.weight));
  model.params.get("classifier.bias")!.assign(tf.tensor1d(FWD.classifier.bias));
  const x = {
    input_ids: tf.tensor2d(FWD.inputs.input_ids, undefined, "int32") as tf.Tensor2D,
    attention_mask: tf.tensor2d(FWD.inputs.attention_mask, undefined, "int32") as tf.Tensor2D,
    token_type_ids: tf.tensor2d(FWD.inputs.token_type_ids, undefined, "int32") as tf.Tensor2D,
  };
  const before = tf.memory().numTensors;
  const fp32 = model.forward(x);
  const bf16 = model.forward(x, { precision: "bf16" });
  const r = rel(bf16, fp32);
  assert.ok(r <= 2e-2, `logits: ${r}`);
  assert.ok(r > 1e-6, "the bf16 graph rounds: its logits are not fp32's");
  const torch = tf.tensor2d(FWD.logits);
  assert.ok(maxDiff(fp32, torch) <= 1e-4, "fp32 is still PyTorch's");
  console.log(`MiniLM logits, bf16 vs fp32: ${r.toExponential(2)} relative`);
  // The whole encoder too: the full graph (last_hidden_state) in bf16.
  const h32 = model.hidden(x), h16 = model.hidden(x, { precision: "bf16" });
  const rh = rel(h16.lastHiddenState, h32.lastHiddenState);
  assert.ok(rh <= 2e-2, `last_hidden_state: ${rh}`);
  tf.dispose([torch, fp32, bf16, h32.lastHiddenState, h32.pooled, h16.lastHiddenState, h16.pooled]);
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  // The model's own precision is what eval-mode forwards use when not told.
  model.precision = "bf16";
  const again = model.forward(x);
  const told = model.forward(x, { precision: "bf16" });
  assert.equal(maxDiff(again, told), 0);
  tf.dispose([again, told, ...Object.values(x)]);
  model.dispose();
});

test("bf16: the tiny model's loss and all 41 gradients within 5e-2 of fp32's (same dropout masks)", { skip }, () => {
  const m = randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 5 });
  for (const [b, s] of [[3, 7], [5, 16]] as const) {
    const x = batch(b, s, 7 * b + s);
    const labels = Array.from({ length: b }, (_, i) => i % 3);
    const before = tf.memory().numTensors;
    const f = graphLossAndGrads(m, x, labels, { seed: 11 })!;
    const h = graphLossAndGrads(m, x, labels, { seed: 11, precision: "bf16" })!;
    const [l32, l16] = [f.value.dataSync()[0], h.value.dataSync()[0]];
    assert.ok(Math.abs(l16 - l32) <= 5e-2 * l32, `loss ${l16} vs ${l32}`);
    assert.equal(Object.keys(h.grads).length, 41);
    let differ = 0, worst = 0;
    for (const [name, g] of Object.entries(f.grads)) {
      assert.equal(h.grads[name].dtype, "float32", `${name}: gradients come back float32`);
      // key biases: their true gradient is 0 (softmax ignores a shift per row); both sides hold rounding noise
      if (name.endsWith("attention.self.key.bias")) continue;
      const r = rel(h.grads[name], g);
      assert.ok(r <= 5e-2, `${name} [${b}, ${s}]: ${r}`);
      if (r > 0) differ++;
      worst = Math.max(worst, r);
    }
    assert.ok(differ > 30, "the products ran in bf16: the gradients are not fp32's");
    const d = Math.abs(l16 - l32).toExponential(2);
    console.log(`tiny model [${b}, ${s}], bf16 vs fp32: loss ${d}, worst gradient ${worst.toExponential(2)} relative`);
    tf.dispose([f.value, h.value, ...Object.values(f.grads), ...Object.values(h.grads)]);
    assert.equal(tf.memory().numTensors, before, `leaked tensors at [${b}, ${s}]`);
    tf.dispose(Object.values(x));
  }
  m.dispose();
});

test("bf16: AdamW updates float32 master weights, as an fp32 AdamW step on the bf16 gradients", { skip }, () => {
  const make = () => randomBert(tinyBertConfig as BertConfig, { labels: tinyBertLabels, seed: 8 });
  const [a, e, initial] = [make(), make(), make()];
  const opt = (m: BertForSequenceClassification) => new AdamW(m.params, { lr: 1e-3, weightDecay: 0.01 });
  const [oa, oe] = [opt(a), opt(e)];
  const x = batch(4, 9, 3);
  const labels = [0, 1, 2, 1];
  const before = tf.memory().numTensors;
  for (const [step, clipNorm] of [[1, 0.05], [2, 1e9], [3, 1e9]] as const) {
    const fused = graphTrainStep(a, oa, x, labels, { seed: step, lr: 1e-3, clipNorm, precision: "bf16" });
    assert.ok(fused, "the bf16 step graph loads");
    // the reference: the same bf16 gradients, then lib/nn/optim.ts's float32 clipping and AdamW in tfjs
    const r = graphLossAndGrads(e, x, labels, { seed: step, precision: "bf16" })!;
    const { grads, norm } = clipGradNorm(r.grads, clipNorm);
    oe.step(grads, 1e-3);
    assert.ok(Math.abs(fused.loss - r.value.dataSync()[0]) <= 1e-6, `loss at step ${step}`);
    assert.ok(Math.abs(fused.norm - norm) <= 1e-5 * norm, `norm at step ${step}: ${fused.norm} vs ${norm}`);
    tf.dispose([r.value, ...Object.values(r.grads), ...Object.values(grads)]);
  }
  let moved = 0;
  for (const [name, p] of a.params) {
    const [ma, va] = oa.moments(name), [me, ve] = oe.moments(name);
    for (const t of [p, ma, va]) assert.equal(t.dtype, "float32", `${name}: the optimizer holds float32`);
    assert.ok(maxDiff(p, e.params.get(name)!) <= 1e-6, `${name}: ${maxDiff(p, e.params.get(name)!)}`);
    assert.ok(maxDiff(ma, me) <= 1e-6 && maxDiff(va, ve) <= 1e-6, `${name} moments`);
    // A step of lr 1e-3 on weights of ~0.05 is below bf16's resolution (2^-8 relative): only float32 keeps it.
    if (maxDiff(p, initial.params.get(name)!) > 0) moved++;
  }
  assert.equal(moved, a.params.size, "every weight took its small steps");
  assert.equal(
    tf.memory().numTensors,
    before + 2 * 2 * a.params.size,
    "nothing leaked: only each optimizer's two moments per weight are new",
  );
  tf.dispose(Object.values(x));
  [a, e, initial].forEach((m) => m.dispose());
  [oa, oe].forEach((o) => o.dispose());
});

test("bf16: its own graphs and cache folders, apart from fp32's", { skip }, () => {
  const g32 = inferenceGraph(tinyBertConfig), g16 = inferenceGraph(tinyBertConfig, { precision: "bf16" });
  assert.equal(g16.precision, "bf16");
  assert.deepEqual(g16.feeds, g32.feeds, "fed the same float32 weights");
  assert.notEqual(GraphSession.load(g16), GraphSession.load(g32));
  assert.equal(GraphSession.load(g16), GraphSession.load(inferenceGraph(tinyBertConfig, { precision: "bf16" })));
  const dirs = fs.readdirSync(GRAPH_CACHE_DIR);
  const holds = (prefix: string, g: { pb: Uint8Array }) =>
    dirs.some((d) =>
      d.startsWith(prefix)
      && fs.existsSync(path.join(GRAPH_CACHE_DIR, d, "saved_model.pb"))
      && fs.readFileSync(path.join(GRAPH_CACHE_DIR, d, "saved_model.pb")).equals(g.pb)
    );
  assert.ok(holds("bf16-", g16) && holds("fp32-", g32), "the folder's name starts with the precision");
  const t16 = trainingGraph(tinyBertConfig, { adamw: true, packed: true, precision: "bf16" });
  assert.notDeepEqual(t16.pb, trainingGraph(tinyBertConfig, { adamw: true, packed: true }).pb);
});

test("precision: auto takes bf16 only where CPU and TensorFlow run it; bf16 elsewhere names what is missing", () => {
  assert.deepEqual(resolvePrecision("fp32", ZEN3), { precision: "fp32", why: "fp32 (asked for)" });
  assert.equal(
    resolvePrecision("fp32", () => {
      throw new Error("fp32 needs no probe");
    }).precision,
    "fp32",
  );
  const auto3 = resolvePrecision("auto", ZEN3);
  assert.equal(auto3.precision, "fp32");
  assert.match(auto3.why, /auto: fp32, this CPU \(AMD EPYC 7003\) has no avx512_bf16 or amx_bf16/);
  assert.throws(
    () => resolvePrecision("bf16", ZEN3),
    /--precision bf16: this CPU \(AMD EPYC 7003\) has no avx512_bf16 or amx_bf16.*use --precision fp32 or auto/,
  );
  assert.deepEqual(resolvePrecision("auto", ZEN4).precision, "bf16");
  assert.match(resolvePrecision("bf16", ZEN4).why, /CPU has avx512_bf16/);
  assert.equal(resolvePrecision("auto", OLD_TF).precision, "fp32");
  assert.throws(
    () => resolvePrecision("bf16", OLD_TF),
    /does not run a bfloat16 MatMul \/ BatchMatMulV2 \(no kernel\)/,
  );
  // this machine: the probe runs once and its answer is kept
  const here = bf16Support();
  assert.equal(bf16Support(), here);
  const flags = os.platform() === "linux" ? fs.readFileSync("/proc/cpuinfo", "utf8") : "";
  assert.deepEqual(here.features, ["avx512_bf16", "amx_bf16"].filter((f) => new RegExp(`\\b${f}\\b`).test(flags)));
  if (!skip) assert.equal(here.kernels, true, `TensorFlow 2.21 runs bfloat16 products (${here.kernelError})`);
});

test("precision: a config field, validated, and a CLI flag", () => {
  assert.equal(DEFAULT_CONFIG.precision, "fp32");
  assert.throws(
    () => validateConfig({ ...DEFAULT_CONFIG, precision: "fp16" as TrainConfig["precision"] }),
    /config.precision must be one of fp32, bf16, auto, got "fp16"/,
  );
  assert.equal(configFromFlags({ precision: "auto" }).precision, "auto");
  assert.match(HELP, /--precision\s+fp32 \| bf16/);
});

const data = { train: toyData(48, 1), validation: toyData(15, 2), labels: TOY_LABELS };
const config: TrainConfig = { ...DEFAULT_CONFIG, epochs: 2, batchSize: 8, evalBatchSize: 16, lr: 1e-3, logSamples: 0 };
const tiny = () => randomBert(tinyBertConfig, { labels: TOY_LABELS, seed: config.seed });
const tmp = () => tmpDir("bertlab-precision-");
const losses = (h: { trainLoss: number; validation: { loss: number; f1Weighted: number } }[]) =>
  h.map((r) => [r.trainLoss, r.validation.loss, r.validation.f1Weighted]);

test("training: auto on a CPU without bf16 runs fp32 and says so, in the log and metrics.json", { skip }, async () => {
  const dir = tmp(), lines: string[] = [];
  const run = await train(
    { ...config, epochs: 1, precision: "auto" },
    { data, model: tiny(), tokenizer: toyTokenizer, runDir: dir, log: (l) => lines.push(l), bf16Support: ZEN3 },
  );
  const said = lines.some((l) => /^precision: auto: fp32, this CPU \(AMD EPYC 7003\) has no avx512_bf16/.test(l));
  assert.ok(said, lines.join("\n"));
  assert.equal(JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8")).config.precision, "fp32");
  assert.equal(run.model.precision, "fp32");
  run.model.dispose();
  const model = tiny();
  await assert.rejects(
    train({ ...config, precision: "bf16" }, { data, model, tokenizer: toyTokenizer, log: () => {}, bf16Support: ZEN3 }),
    /--precision bf16: this CPU \(AMD EPYC 7003\) has no avx512_bf16/,
  );
  model.dispose();
});

test("training in bf16: same seed, same losses each epoch; metrics.json says bf16; no leaks", { skip }, async () => {
  const before = tf.memory().numTensors;
  const dir = tmp(), lines: string[] = [];
  const a = await train(
    { ...config, precision: "auto" },
    { data, model: tiny(), tokenizer: toyTokenizer, runDir: dir, log: (l) => lines.push(l), bf16Support: ZEN4 },
  );
  const b = await train(
    { ...config, precision: "bf16" },
    { data, model: tiny(), tokenizer: toyTokenizer, log: () => {}, bf16Support: ZEN4 },
  );
  const c = await train(config, { data, model: tiny(), tokenizer: toyTokenizer, log: () => {} });
  assert.deepEqual(losses(a.history), losses(b.history));
  assert.notDeepEqual(losses(a.history), losses(c.history), "bf16 rounds differently from fp32");
  for (const [x, y] of a.history.map((r, i) => [r.trainLoss, c.history[i].trainLoss])) {
    assert.ok(Math.abs(x - y) <= 0.05 * y, `${x} vs ${y}`);
  }
  assert.ok(lines.some((l) => /^precision: auto: bf16, CPU has avx512_bf16/.test(l)), lines.join("\n"));
  const metrics = JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8"));
  assert.equal(metrics.config.precision, "bf16");
  assert.equal(a.model.precision, "bf16", "the model it returns predicts in bf16 too");
  [a, b, c].forEach((r) => r.model.dispose());
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
});

test("training in bf16: a NaN loss stops with a clear message, keeps the last good checkpoint", { skip }, async () => {
  const dir = tmp();
  const model = tiny();
  const poison = (e: { type: string; epoch?: number; step?: number }) => {
    if (e.type !== "step" || e.epoch !== 2 || e.step !== 1) return;
    model.params.get("classifier.bias")!.assign(tf.tensor1d([NaN, 0, 0]));
  };
  await assert.rejects(
    train(
      { ...config, precision: "bf16" },
      { data, model, tokenizer: toyTokenizer, runDir: dir, onProgress: poison, log: () => {}, bf16Support: ZEN4 },
    ),
    (e: Error) =>
      e instanceof TrainingDivergedError && /loss became NaN at epoch 2/.test(e.message)
      && /last good checkpoint kept: .*epoch-1/.test(e.message),
  );
  assert.deepEqual(listCheckpoints(dir).map((c) => c.epoch), [1]);
  model.dispose();
});

test("serving: bf16 predictions near fp32's; --precision picks the engine or names the problem", { skip }, async () => {
  assert.throws(
    () => chooseEngine("onnx", { precision: "bf16" }),
    /--precision bf16 runs on the TensorFlow graph, not ONNX Runtime/,
  );
  assert.throws(() => chooseEngine(undefined, { precision: "fp16" }), /--precision wants fp32, bf16, auto, got "fp16"/);
  assert.deepEqual(chooseEngine(undefined, { precision: "auto" }), {
    engine: "auto",
    quantized: false,
    explicit: false,
    precision: "auto",
  });
  const ckpt = tinyCheckpoint();
  const texts = ["What a wonderful exhibition!", "so sad today", "ok"];
  const before = tf.memory().numTensors;
  const [t32, t16] = [await loadTrained(ckpt), await loadTrained(ckpt, { precision: "bf16" })];
  assert.equal(t16.model.precision, "bf16");
  const [p32, p16] = [predict(t32.model, t32.tokenizer, texts), predict(t16.model, t16.tokenizer, texts)];
  p32.forEach((p, i) => {
    for (const [label, v] of Object.entries(p.probabilities)) {
      assert.ok(Math.abs(p16[i].probabilities[label] - v) <= 1e-2, `${texts[i]}: ${label}`);
    }
  });
  [t32, t16].forEach((t) => t.model.dispose());
  assert.equal(tf.memory().numTensors, before, "no leaked tensors");
  // this machine, as the probe sees it: bf16 runs where the CPU has it, else it is refused, naming what is missing
  const logs: string[] = [];
  const here = bf16Support();
  if (here.features.length && here.kernels) {
    const clf = await loadClassifier(ckpt, chooseEngine(undefined, { precision: "bf16" }), (l) => logs.push(l));
    assert.match(clf.engine, /^TensorFlow\.js tensorflow \(graph, bf16\) /);
    await clf.release();
  } else {
    await assert.rejects(
      loadClassifier(ckpt, chooseEngine("tfjs", { precision: "bf16" })),
      /--precision bf16: .*has no avx512_bf16/,
    );
    const clf = await loadClassifier(ckpt, chooseEngine("tfjs", { precision: "auto" }), (l) => logs.push(l));
    assert.match(clf.engine, /^TensorFlow\.js tensorflow \(graph\) /);
    assert.ok(logs.some((l) => /^precision: auto: fp32, this CPU .* has no avx512_bf16/.test(l)), logs.join("\n"));
    await clf.release();
  }
  fs.rmSync(ckpt, { recursive: true, force: true });
});
