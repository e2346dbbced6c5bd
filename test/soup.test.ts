// Model soups and ensembles: a soup of one is that run, a soup of two is their average (1e-7), an ensemble of one
// is the model; runs from another architecture or label set are refused, naming the first difference.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, saveBertForSequenceClassification } from "../lib/model/bert";
import { readSafetensors } from "../lib/nn/safetensors";
import { loadTrained, evaluateSet, predict } from "../lib/eval/evaluate";
import { writeSoup, greedySoup, ensembleEvaluate, ensemblePredict, averageWeights } from "../lib/eval/soup";
import { tinyCheckpoint } from "./helpers/onnx";
import { tinyBertConfig, tinyBertLabels } from "./helpers/tiny_bert";
import { toyData } from "./helpers/toy";
import { captureOutput } from "./helpers/capture";
import { tmpDir } from "./helpers/tmp";

const tmp = tmpDir("bertlab-soup-");
const runs: string[] = [];
before(async () => {
  await initBackend();
  for (const seed of [1, 2, 3]) {
    const dir = tinyCheckpoint(path.join(tmp, `run-${seed}`));
    const m = randomBert(tinyBertConfig, { labels: tinyBertLabels, seed });
    await saveBertForSequenceClassification(m, dir);
    m.dispose();
    runs.push(dir);
  }
});

const weights = (dir: string) => readSafetensors(path.join(dir, "model.safetensors")).tensors;

test("a soup of one run is that run; of two, their average within 1e-7; the soup is an ordinary model folder", async () => {
  const one = await writeSoup([runs[0]], path.join(tmp, "soup-1"));
  for (const [name, t] of weights(runs[0])) assert.deepEqual(weights(one.out).get(name)!.data, t.data, name);
  const two = await writeSoup(runs.slice(0, 2), path.join(tmp, "soup-2"));
  const [a, b, s] = [weights(runs[0]), weights(runs[1]), weights(two.out)];
  let worst = 0;
  for (const [name, t] of s) {
    t.data.forEach((v, i) => {
      worst = Math.max(worst, Math.abs(v - (a.get(name)!.data[i] + b.get(name)!.data[i]) / 2));
    });
  }
  assert.ok(worst < 1e-7, `soup of two vs the average: ${worst}`);
  assert.deepEqual(JSON.parse(fs.readFileSync(path.join(two.out, "soup.json"), "utf8")).ingredients, runs.slice(0, 2));
  const n0 = tf.memory().numTensors;
  const t = await loadTrained(two.out); // it loads like any checkpoint
  assert.deepEqual(t.model.labels, tinyBertLabels);
  t.model.dispose();
  assert.equal(tf.memory().numTensors, n0);
});

test("a soup of runs from another architecture, shapes or labels is refused, naming the first difference", async () => {
  const deeper = tinyCheckpoint(path.join(tmp, "deeper"));
  const m = randomBert({ ...tinyBertConfig, num_hidden_layers: 3 }, { labels: tinyBertLabels, seed: 4 });
  await saveBertForSequenceClassification(m, deeper);
  m.dispose();
  await assert.rejects(
    writeSoup([runs[0], deeper], path.join(tmp, "bad")),
    /cannot average .*deeper with .*run-1: config\.json num_hidden_layers: 2 in .*, 3 in/,
  );
  const relabelled = tinyCheckpoint(path.join(tmp, "relabelled"));
  const r = randomBert(tinyBertConfig, { labels: ["neg", "pos", "neu"], seed: 5 });
  await saveBertForSequenceClassification(r, relabelled);
  r.dispose();
  await assert.rejects(
    writeSoup([runs[0], relabelled], path.join(tmp, "bad")),
    /labels \["neg","pos","neu"\] vs \["neg","neu","pos"\]/,
  );
  const cut = path.join(tmp, "cut");
  fs.cpSync(runs[1], cut, { recursive: true });
  const ws = weights(cut);
  ws.delete("classifier.bias");
  const { writeSafetensors } = await import("../lib/nn/safetensors");
  writeSafetensors(path.join(cut, "model.safetensors"), ws);
  assert.throws(() => averageWeights([runs[0], cut]), /cut.*has no weight "classifier\.bias"/);
  assert.equal(fs.existsSync(path.join(tmp, "bad")), false);
});

test("an ensemble of one is the model; of three, the mean of their probabilities", async () => {
  const n0 = tf.memory().numTensors;
  const models = await Promise.all(runs.map((d) => loadTrained(d)));
  const d = toyData(12, 7);
  const set = { texts: d.texts, labels: d.labels };
  const alone = evaluateSet(models[0].model, models[0].tokenizer, set, "validation");
  const ens1 = ensembleEvaluate([models[0]], set, "validation");
  assert.deepEqual(ens1.probabilities, alone.probabilities);
  assert.equal(ens1.metrics.f1Weighted, alone.metrics.f1Weighted);
  assert.ok(Math.abs(ens1.metrics.loss - alone.metrics.loss) < 1e-5);
  const ens3 = ensembleEvaluate(models, set, "validation");
  const each = models.map((t) => evaluateSet(t.model, t.tokenizer, set, "validation").probabilities);
  ens3.probabilities.forEach((row, i) =>
    row.forEach((p, k) => assert.ok(Math.abs(p - (each[0][i][k] + each[1][i][k] + each[2][i][k]) / 3) < 1e-7))
  );
  const [p1] = ensemblePredict([models[0]], [d.texts[0]]);
  const [q1] = predict(models[0].model, models[0].tokenizer, [d.texts[0]]);
  assert.equal(p1.label, q1.label);
  for (const l of tinyBertLabels) assert.ok(Math.abs(p1.probabilities[l] - q1.probabilities[l]) < 1e-7);
  for (const t of models) t.model.dispose();
  assert.equal(tf.memory().numTensors, n0);
});

test("the greedy soup: runs best first, each kept only if validation F1 holds; soup.json says which", async () => {
  const d = toyData(15, 9);
  const set = { texts: d.texts, labels: d.labels };
  const g = await greedySoup(runs, path.join(tmp, "greedy"), set);
  assert.equal(g.steps.length, 3);
  assert.ok(g.steps[0].f1 >= g.steps[1].f1 && g.steps[1].f1 >= g.steps[2].f1, "best first");
  assert.deepEqual(g.ingredients, g.steps.filter((s) => s.kept).map((s) => s.dir));
  const saved = JSON.parse(fs.readFileSync(path.join(g.out, "soup.json"), "utf8"));
  assert.equal(saved.kind, "greedy");
  assert.deepEqual(saved.ingredients, g.ingredients);
  const kept = g.steps.filter((s) => s.kept);
  assert.ok(kept.every((s, i) => i === 0 || s.soupF1 >= kept[i - 1].soupF1), "the soup's F1 never drops");
});

/** main() with its output captured. */
async function cli(args: string[]): Promise<{ code: number; stdout: string }> {
  const { main } = await import("../lib/cli/cli");
  const { value, stdout } = await captureOutput(() => main(args));
  return { code: value, stdout };
}

test("the command line: bertlab soup RUN... --out DIR; predict --ensemble A,B averages their probabilities", async () => {
  const out = path.join(tmp, "cli-soup");
  const r = await cli(["soup", runs[0], runs[1], "--out", out]);
  assert.equal(r.code, 0);
  assert.match(r.stdout, /soup of 2 → .*cli-soup/);
  assert.ok(fs.existsSync(path.join(out, "model.safetensors")));
  await assert.rejects(cli(["soup", runs[0]]), /soup needs --out DIR/);
  const p = await cli(["predict", "--ensemble", `${runs[0]},${runs[1]}`, "so happy today"]);
  const got = JSON.parse(p.stdout.trim());
  const models = await Promise.all(runs.slice(0, 2).map((d) => loadTrained(d)));
  const [ref] = ensemblePredict(models, ["so happy today"]);
  for (const t of models) t.model.dispose();
  assert.equal(got.label, ref.label);
  for (const l of tinyBertLabels) assert.ok(Math.abs(got.probabilities[l] - ref.probabilities[l]) < 1e-7);
});
