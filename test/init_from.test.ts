// --init-from: a fine-tuned checkpoint's encoder carried over as saved, its classifier rows moved to the new
// labels of the same name and the other rows fresh (seeded), said in the log and metrics.json; a checkpoint of
// another architecture or vocabulary is refused, naming what differs.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { loadBertForSequenceClassification, headTransfer } from "../lib/model/bert";
import { DEFAULT_CONFIG } from "../lib/config/config";
import { train } from "../lib/train/train";
import { startingModel } from "../lib/train/init_from";
import { architectureDifference } from "../lib/model/compat";
import { configFromFlags } from "../lib/cli/flags";
import { tinyCheckpoint } from "./helpers/onnx";
import { tinyBertLabels } from "./helpers/tiny_bert";
import { toyData } from "./helpers/toy";
import { tmpDir } from "./helpers/tmp";

const tmp = tmpDir("bertlab-initfrom-");
let source: string;
before(async () => {
  await initBackend();
  source = tinyCheckpoint(path.join(tmp, "source")); // labels neg, neu, pos
});

const values = async (m: { params: Map<string, tf.Variable> }, name: string) =>
  Array.from(await m.params.get(name)!.data());

test("the encoder is the source's; matching head rows move to their new places; the rest are fresh and seeded", async () => {
  const n0 = tf.memory().numTensors;
  const src = await loadBertForSequenceClassification(source, { labels: tinyBertLabels, seed: 0 });
  const labels = ["pos", "joy", "neg"];
  const a = await loadBertForSequenceClassification(source, { labels, seed: 5, transferHead: true });
  const b = await loadBertForSequenceClassification(source, { labels, seed: 5, transferHead: true });
  const c = await loadBertForSequenceClassification(source, { labels, seed: 6, transferHead: true });
  for (const name of src.params.keys()) {
    if (!name.startsWith("classifier.")) assert.deepEqual(await values(a, name), await values(src, name), name);
  }
  const width = src.params.get("classifier.weight")!.shape[1]!;
  const row = (xs: number[], r: number) => xs.slice(r * width, (r + 1) * width);
  const [sw, aw, bw, cw] = await Promise.all([src, a, b, c].map((m) => values(m, "classifier.weight")));
  assert.deepEqual(row(aw, 0), row(sw, 2)); // pos
  assert.deepEqual(row(aw, 2), row(sw, 0)); // neg
  assert.deepEqual(row(aw, 1), row(bw, 1), "the fresh row follows the seed");
  assert.notDeepEqual(row(aw, 1), row(cw, 1));
  const sd = Math.sqrt(row(aw, 1).reduce((s, x) => s + x * x, 0) / width);
  assert.ok(sd > 0.005 && sd < 0.05, `a fresh row is N(0, 0.02²): sd ${sd}`);
  const [sb, ab] = await Promise.all([src, a].map((m) => values(m, "classifier.bias")));
  assert.deepEqual(ab, [sb[2], 0, sb[0]]);
  assert.deepEqual(headTransfer(labels, tinyBertLabels), { kept: ["pos", "neg"], fresh: ["joy"] });
  for (const m of [src, a, b, c]) m.dispose();
  assert.equal(tf.memory().numTensors, n0);
});

test("another architecture or vocabulary is refused, naming the difference", () => {
  const other = tinyCheckpoint(path.join(tmp, "other"));
  const cfgFile = path.join(other, "config.json");
  const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
  fs.writeFileSync(cfgFile, JSON.stringify({ ...cfg, num_hidden_layers: 3 }));
  assert.match(architectureDifference(source, other)!, /^config\.json num_hidden_layers: 2 in .*source, 3 in .*other$/);
  const labels = ["neg", "calm", "pos"];
  return startingModel({ ...DEFAULT_CONFIG, model: source, initFrom: other }, labels).then(
    () => assert.fail("a checkpoint of another architecture was accepted"),
    (e: Error) => {
      assert.match(
        e.message,
        /--init-from .*other is not the model this run starts from: config\.json num_hidden_layers/,
      );
      fs.writeFileSync(cfgFile, JSON.stringify(cfg));
      assert.equal(architectureDifference(source, other), undefined);
      fs.appendFileSync(path.join(other, "vocab.txt"), "[extra]\n");
      assert.match(architectureDifference(source, other)!, /vocab\.txt differs .*another tokenizer's token ids/);
    },
  );
});

test("train --init-from: the log and metrics.json say what was carried over; a resumed run keeps saying it", async () => {
  const labels = ["neg", "calm", "pos"];
  const calm = (d: { texts: string[]; labels: string[] }) => ({
    ...d,
    labels: d.labels.map((l) => (l === "neu" ? "calm" : l)),
  });
  const data = { train: calm(toyData(24, 1)), validation: calm(toyData(9, 2)), labels };
  const config = { ...DEFAULT_CONFIG, model: source, initFrom: source, epochs: 2, batchSize: 8, logSamples: 0 };
  const start = await startingModel(config, labels);
  assert.deepEqual(start.transfer, { from: source, kept: ["neg", "pos"], fresh: ["calm"] });
  start.model.dispose();
  const runDir = path.join(tmp, "run");
  const lines: string[] = [];
  const first = await train(config, { data, runDir, stopAfterEpoch: 1, log: (s) => lines.push(s) });
  first.model.dispose();
  assert.ok(
    lines.some((l) => /starting from .*encoder kept; classifier rows kept for neg, pos, fresh for calm/.test(l)),
  );
  const resumed = await train(config, { data, runDir, resume: true, log: () => {} });
  resumed.model.dispose();
  const metrics = JSON.parse(fs.readFileSync(path.join(runDir, "metrics.json"), "utf8"));
  assert.deepEqual(metrics.initFrom, { from: source, kept: ["neg", "pos"], fresh: ["calm"] });
  assert.equal(metrics.history.length, 2);
  assert.equal(configFromFlags({ "init-from": "runs/carer" }).initFrom, "runs/carer");
});

test("--reinit-layers k: the top k encoder layers and the pooler start fresh (seeded); the rest as pretrained", async () => {
  const { reinitTopLayers } = await import("../lib/model/bert");
  const n0 = tf.memory().numTensors;
  const a = await loadBertForSequenceClassification(source, { labels: tinyBertLabels, seed: 0 });
  const b = await loadBertForSequenceClassification(source, { labels: tinyBertLabels, seed: 0 });
  const names = reinitTopLayers(b, 1, 3);
  assert.ok(
    names.length > 0 && names.every((n) => n.startsWith("bert.encoder.layer.1.") || n.startsWith("bert.pooler.")),
  );
  assert.ok(
    names.includes("bert.pooler.dense.weight") && names.includes("bert.encoder.layer.1.attention.self.query.weight"),
  );
  for (const name of a.params.keys()) {
    const same = JSON.stringify(await values(a, name)) === JSON.stringify(await values(b, name));
    const fresh = names.includes(name); // the tiny model has no zero biases or unit LayerNorm weights to keep
    assert.equal(same, !fresh, name);
  }
  const again = await loadBertForSequenceClassification(source, { labels: tinyBertLabels, seed: 0 });
  reinitTopLayers(again, 1, 3);
  assert.deepEqual(await values(again, "bert.pooler.dense.weight"), await values(b, "bert.pooler.dense.weight"));
  assert.throws(() => reinitTopLayers(again, 3, 3), /--reinit-layers wants 0 to 2 \(this model's layers\), got 3/);
  for (const m of [a, b, again]) m.dispose();
  assert.equal(tf.memory().numTensors, n0);
  const lines: string[] = [];
  const start = await startingModel(
    { ...DEFAULT_CONFIG, model: source, reinitLayers: 2 },
    tinyBertLabels,
    (s) => lines.push(s),
  );
  start.model.dispose();
  assert.match(lines.join("\n"), /re-initialised the top 2 encoder layer\(s\) and the pooler/);
});
