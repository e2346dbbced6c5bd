// The training loop on a tiny random BERT and a toy tokenizer: reproducibility, resume,
// divergence, a full disk, bad data, memory. (The real-model run is scripts/course-run.ts.)
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert } from "../lib/model/bert";
import { DEFAULT_CONFIG, TrainConfig } from "../lib/config/config";
import { train, TrainingDivergedError } from "../lib/train/train";
import { predict } from "../lib/eval/evaluate";
import { checkData, TrainData } from "../lib/data/data";
import { readCheckpoint } from "../lib/train/checkpoint";
import { listCheckpoints } from "../lib/model/run_folder";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { toyTokenizer, toyData, TOY_LABELS } from "./helpers/toy";
import { stopAndResume } from "./helpers/resume";
import { tmpDir } from "./helpers/tmp";

const LABELS = TOY_LABELS;

const data: TrainData = { train: toyData(48, 1), validation: toyData(15, 2), labels: LABELS };
const config: TrainConfig = {
  ...DEFAULT_CONFIG,
  epochs: 3,
  batchSize: 8,
  evalBatchSize: 16,
  lr: 1e-3,
  warmupRatio: 0.1,
  logSamples: 0,
};
const quiet = { log: () => {} };
const tiny = (seed = config.seed) => randomBert(tinyBertConfig, { labels: LABELS, seed });
const tmp = () => tmpDir("bertlab-train-");
const losses = (h: { trainLoss: number; validation: { loss: number; f1Weighted: number } }[]) =>
  h.map((r) => [r.trainLoss, r.validation.loss, r.validation.f1Weighted]);

test("same seed → the same losses and metrics, epoch for epoch; a new seed differs; it learns", async () => {
  await initBackend();
  const a = await train(config, { data, model: tiny(), tokenizer: toyTokenizer, ...quiet });
  const b = await train(config, { data, model: tiny(), tokenizer: toyTokenizer, ...quiet });
  assert.deepEqual(losses(a.history), losses(b.history));
  const c = await train({ ...config, seed: 18 }, { data, model: tiny(18), tokenizer: toyTokenizer, ...quiet });
  assert.notDeepEqual(losses(a.history), losses(c.history));
  assert.ok(a.history[2].trainLoss < a.history[0].trainLoss, `training loss fell: ${losses(a.history)}`);
  const preds = predict(a.model, toyTokenizer, ["great happy love", "awful bad"]);
  for (const p of preds) assert.ok(Math.abs(Object.values(p.probabilities).reduce((x, y) => x + y, 0) - 1) < 1e-5);
  assert.deepEqual(Object.keys(preds[0].probabilities), LABELS);
  // Texts of mixed lengths run shortest first in batches of 2 and come back in input order: each
  // answer is the one the text gets alone.
  const texts = ["great happy love so great", "bad", "awful bad table", "love"];
  const together = predict(a.model, toyTokenizer, texts, { batchSize: 2 });
  texts.forEach((t, i) => {
    const [alone] = predict(a.model, toyTokenizer, [t]);
    assert.equal(together[i].text, t);
    for (const l of LABELS)
      assert.ok(Math.abs(together[i].probabilities[l] - alone.probabilities[l]) < 1e-5, `${t}: ${l}`);
  });
  [a, b, c].forEach((r) => r.model.dispose());
});

test("interrupt after epoch 1, resume: the same history as an uninterrupted run; a used run folder is refused", async () => {
  await initBackend();
  const { runDir: dirB } = await stopAndResume(
    config,
    { data, model: () => tiny(), tokenizer: toyTokenizer },
    {
      beforeResume: (dir) =>
        assert.rejects(
          train(config, { data, model: tiny(), tokenizer: toyTokenizer, runDir: dir, ...quiet }),
          /already holds a run/,
        ),
      same: (r) => losses(r.history),
    },
  );
  const metrics = JSON.parse(fs.readFileSync(path.join(dirB, "metrics.json"), "utf8"));
  assert.equal(metrics.history.length, 3);
  assert.ok(fs.readFileSync(path.join(dirB, "charts.html"), "utf8").includes("Validation F1"));
  assert.deepEqual(listCheckpoints(dirB).map((c) => c.epoch), [2, 3]); // keeps the newest two
  const cfgJson = JSON.parse(fs.readFileSync(path.join(dirB, "checkpoints/epoch-3/config.json"), "utf8"));
  assert.deepEqual(cfgJson.id2label, { 0: "neg", 1: "neu", 2: "pos" });
});

test("NaN loss stops with a clear message and keeps the last good checkpoint", async () => {
  await initBackend();
  const dir = tmp();
  const model = tiny();
  const poison = (e: { type: string; epoch?: number; step?: number }) => {
    if (e.type === "step" && e.epoch === 2 && e.step === 1)
      model.params.get("classifier.bias")!.assign(tf.tensor1d([NaN, 0, 0]));
  };
  await assert.rejects(
    train(config, { data, model, tokenizer: toyTokenizer, runDir: dir, onProgress: poison, ...quiet }),
    (e: Error) =>
      e instanceof TrainingDivergedError && /loss became NaN at epoch 2/.test(e.message) &&
      /last good checkpoint kept: .*epoch-1/.test(e.message),
  );
  assert.deepEqual(listCheckpoints(dir).map((c) => c.epoch), [1]);
  model.dispose();
});

test("a disk that fills mid-save leaves the previous checkpoint intact", async () => {
  await initBackend();
  const dir = tmp();
  let saves = 0;
  const full = (file: string) => {
    if (file === "optimizer.bin" && ++saves === 2) throw new Error("ENOSPC: no space left on device");
  };
  const model = tiny();
  await assert.rejects(
    train(config, { data, model, tokenizer: toyTokenizer, runDir: dir, beforeWrite: full, ...quiet }),
    /ENOSPC/,
  );
  assert.deepEqual(listCheckpoints(dir).map((c) => c.epoch), [1]);
  assert.equal(readCheckpoint(path.join(dir, "checkpoints/epoch-1")).state.epoch, 1);
  assert.deepEqual(fs.readdirSync(path.join(dir, "checkpoints")), ["epoch-1"]); // no half-written folder left
  model.dispose();
});

test("bad data and label maps give clear errors", async () => {
  await initBackend();
  assert.throws(
    () => checkData({ train: { texts: [], labels: [] }, validation: { texts: [], labels: [] } }),
    /training data is empty/,
  );
  assert.throws(
    () => checkData({ train: { texts: ["a", "b"], labels: ["x", "x"] }, validation: { texts: [], labels: [] } }),
    /single class \("x"\)/,
  );
  assert.throws(
    () => checkData({ train: { texts: ["a", "b"], labels: ["x", "y"] }, validation: { texts: ["c"], labels: ["z"] } }),
    /validation example 0: label "z" occurs only in validation, never in the training data/,
  );
  assert.throws(
    () => checkData({ train: { texts: ["a"], labels: ["x", "y"] }, validation: { texts: [], labels: [] } }),
    /1 texts but 2 labels/,
  );
  const m = randomBert(tinyBertConfig, { labels: ["neg", "pos", "other"], seed: 1 });
  await assert.rejects(
    train(config, { data, model: m, tokenizer: toyTokenizer, ...quiet }),
    /label "neu" is missing from the model's label map/,
  );
  m.dispose();
  const m2 = tiny();
  await assert.rejects(
    train({ ...config, lr: -1 }, { data, model: m2, tokenizer: toyTokenizer, ...quiet }),
    /config.lr must be a positive number/,
  );
  m2.dispose();
});

test("training leaks no tensors and leaves its inputs alone", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const copy = JSON.parse(JSON.stringify(data));
  const r = await train(
    { ...config, epochs: 1, gradAccumulation: 2 },
    { data, model: tiny(), tokenizer: toyTokenizer, ...quiet },
  );
  r.model.dispose();
  assert.equal(tf.memory().numTensors, before);
  assert.deepEqual(data, copy);
});
