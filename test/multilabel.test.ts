// Multi-label classification: metrics against scikit-learn, iterative stratification against the
// `iterative-stratification` package (fixtures: scripts/make_label_fixtures.py), thresholds, data
// loading and its errors, a tiny-BERT training run, and a saved model that Python transformers loads
// as the same multi-label model.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, loadBertForSequenceClassification } from "../lib/model/bert";
import { DEFAULT_CONFIG, TrainConfig } from "../lib/config/config";
import {
  multiLabelScores,
  tuneThresholds,
  applyThresholds,
  THRESHOLD_GRID,
  readThresholds,
  thresholdsJson,
  THRESHOLDS_FILE,
  isMultiLabelModel,
  evaluateMultiLabel,
  MULTI_LABEL,
} from "../lib/eval/multilabel";
import { multiHot, parseLabelSet } from "../lib/data/labels";
import { multilabelStratifiedKFold, multilabelStratifiedSplit } from "../lib/data/split";
import { loadTrainData, MultiLabelData, checkData } from "../lib/data/data";
import { loadMultiLabelCourseData, loadSmile } from "../lib/data/smile";
import { train } from "../lib/train/train";
import { predict, evaluateSet } from "../lib/eval/evaluate";
import { modelFolder } from "../lib/model/run_folder";
import { bceWithLogitsLoss } from "../lib/nn/losses";
import { SMILE_CSV, VENV_PYTHON } from "../lib/core/paths";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { toyTokenizer, TOY_WORDS } from "./helpers/toy";
import { Rng } from "../lib/data/loader";
import { tmpDir } from "./helpers/tmp";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/labels/multilabel.json"), "utf8"));
const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);
const tmp = () => tmpDir("bertlab-multilabel-");

test("micro/macro/weighted F1, per-label P/R/F1, subset accuracy and Hamming loss equal scikit-learn's", () => {
  for (const [n, c] of fx.metrics.entries()) {
    const labels = c.y_true[0].map((_: number, k: number) => `l${k}`);
    const before = JSON.stringify([c.y_true, c.y_pred]);
    const m = multiLabelScores(c.y_true, c.y_pred, labels);
    near(m.f1Micro, c.f1_micro, `case ${n} micro`);
    near(m.f1Macro, c.f1_macro, `case ${n} macro`);
    near(m.f1Weighted, c.f1_weighted, `case ${n} weighted`);
    near(m.subsetAccuracy, c.subset_accuracy, `case ${n} subset accuracy`);
    near(m.hammingLoss, c.hamming_loss, `case ${n} Hamming`);
    m.labels.forEach((l, k) => {
      near(l.precision, c.precision[k], `case ${n} precision ${k}`);
      near(l.recall, c.recall[k], `recall ${k}`);
      near(l.f1, c.f1[k], `f1 ${k}`);
      assert.equal(l.support, c.support[k]);
    });
    assert.equal(JSON.stringify([c.y_true, c.y_pred]), before, "inputs unchanged");
  }
  assert.throws(() => multiLabelScores([[1, 0]], [[1]], ["a", "b"]), /row 0 has 2 true labels but 1 predicted/);
  assert.throws(() => multiLabelScores([], [], ["a"]), /no examples/);
});

/** Each fold's count of every label. */
const labelCounts = (y: number[][], folds: number[], k: number) =>
  Array.from(
    { length: k },
    (_, f) => y[0].map((_, j) => y.reduce((a, row, i) => a + (folds[i] === f ? row[j] : 0), 0)),
  );

test("iterative stratification equals iterstrat fold for fold (synthetic), so label proportions per fold match", () => {
  for (const c of fx.stratification) {
    const y: number[][] = c.y;
    const kfold = multilabelStratifiedKFold(y, 5, { seed: c.seed });
    assert.deepEqual(labelCounts(y, kfold, 5), labelCounts(y, c.kfold, 5), `${c.name}: label counts per fold`);
    assert.deepEqual(kfold, c.kfold, `${c.name}: MultilabelStratifiedKFold(5)`);
    const shuffled = multilabelStratifiedKFold(y, 5, { seed: c.seed, shuffle: true });
    assert.deepEqual(shuffled, c.kfold_shuffle, `${c.name}: shuffled`);
    const split = multilabelStratifiedSplit(y.map((_, i) => i), y, { validationSize: 0.15, seed: c.seed });
    assert.deepEqual(split.validationIndex, c.shuffle_split_validation, `${c.name}: MultilabelStratifiedShuffleSplit`);
    assert.equal(split.trainIndex.length + split.validationIndex.length, y.length);
  }
  // proportions: every label of the synthetic set lands in each of 5 folds within one example of its share
  const { y } = fx.stratification[1];
  const counts = labelCounts(y, multilabelStratifiedKFold(y, 5, { seed: 17 }), 5);
  y[0].forEach((_: number, j: number) => {
    const total = y.reduce((a: number, row: number[]) => a + row[j], 0);
    counts.forEach((fold) => assert.ok(Math.abs(fold[j] - total / 5) <= 1, `label ${j}: ${fold[j]} of ${total}`));
  });
  assert.throws(() => multilabelStratifiedKFold(y, 1, { seed: 1 }), /k must be an integer >= 2/);
});

const haveSmile = fs.existsSync(SMILE_CSV);
const noSmile = !haveSmile && "needs the SMILE CSV";
test("SMILE with its multi-label tweets: 1,513 rows; split and folds equal iterstrat's", { skip: noSmile }, () => {
  const s = fx.smile;
  const rows = loadSmile().filter((r) => r.category !== "nocode"); // file order, as the fixture script reads it
  const y = multiHot(rows.map((r) => r.category.split("|")), s.labels);
  assert.equal(rows.length, 1513);
  assert.deepEqual(s.labels.map((_: string, k: number) => y.reduce((a, r) => a + r[k], 0)), s.label_counts);
  const folds = multilabelStratifiedKFold(y, 5, { seed: 17 });
  assert.deepEqual(labelCounts(y, folds, 5), labelCounts(y, s.kfold, 5), "label counts per fold");
  assert.deepEqual(folds, s.kfold);
  const split = multilabelStratifiedSplit(rows, y, { validationSize: 0.15, seed: 17 });
  assert.deepEqual(split.validationIndex, s.shuffle_split_validation);
  // the course loader and the CLI's data give that split, labels in order of first appearance
  const course = loadMultiLabelCourseData();
  assert.deepEqual(course.labels, s.labels);
  const expected = s.shuffle_split_validation.map((i: number) => rows[i].id);
  assert.deepEqual(course.validation.map((r) => r.id), expected);
  const data = loadTrainData({ multiLabel: true }, { validationSize: 0.15, seed: 17 });
  assert.deepEqual(data.validation.ids, expected);
  assert.deepEqual(data.labels, s.labels);
  assert.ok(data.validation.labels.some((l) => l.length > 1), "validation keeps tweets with several emotions");
});

test("thresholds: the best F1 per label on validation, ties to the one nearest 0.5; none to tune → 0.5", () => {
  const probs = [[0.9, 0.3, 0.2], [0.6, 0.35, 0.1], [0.2, 0.1, 0.3], [0.4, 0.2, 0.1]];
  const truth = [[1, 1, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]];
  const t = tuneThresholds(probs, truth);
  // label 0: any threshold in (0.2, 0.4] catches all three; the nearest 0.5 of those is 0.4
  // label 1: (0.2, 0.3] catches both; 0.3 is nearest 0.5. Label 2 has no positive: 0.5.
  assert.deepEqual(t, [0.4, 0.3, 0.5]);
  assert.deepEqual(applyThresholds(probs, t), [[1, 1, 0], [1, 1, 0], [0, 0, 0], [1, 0, 0]]);
  assert.equal(THRESHOLD_GRID.length, 19);
  assert.deepEqual([THRESHOLD_GRID[0], THRESHOLD_GRID[9], THRESHOLD_GRID[18]], [0.05, 0.5, 0.95]);
  const dir = tmp();
  fs.writeFileSync(path.join(dir, THRESHOLDS_FILE), JSON.stringify(thresholdsJson(["a", "b", "c"], t)));
  assert.deepEqual(readThresholds(dir, ["c", "a", "b"]), [0.5, 0.4, 0.3]);
  assert.throws(() => readThresholds(dir, ["a", "z"]), /no threshold in \(0, 1\) for label "z"/);
  assert.throws(
    () => readThresholds(tmp(), ["a"]),
    /thresholds\.json is missing: a multi-label model .* needs its per-label thresholds/,
  );
});

test("label sets from files: errors name the file and line; a delimiter that never occurs is a warning", () => {
  assert.deepEqual(parseLabelSet(" happy | sad ", "|", "x:2"), ["happy", "sad"]);
  assert.throws(
    () => parseLabelSet("happy||sad", "|", "f.tsv:7"),
    /f\.tsv:7: empty label in "happy\|\|sad" \(multi-label mode/,
  );
  assert.throws(() => multiHot([["happy", "odd"]], ["happy"]), /example 0: label "odd" is not in the label list/);
  const dir = tmp();
  const rows = ["id\ttext\tlabels"];
  for (let i = 0; i < 40; i++) rows.push(`${i}\ttext ${i}\t${["a", "b", "a|b", "c", "a|c"][i % 5]}`);
  const file = path.join(dir, "ml.tsv");
  fs.writeFileSync(file, rows.join("\n") + "\n");
  const cols = { textColumn: "text", labelColumn: "labels", multiLabel: true as const };
  const warnings = [] as string[];
  const data = loadTrainData({ csv: file, ...cols }, { validationSize: 0.25, seed: 1, warn: (m) => warnings.push(m) });
  assert.equal(data.multiLabel, true);
  assert.deepEqual(data.labels, ["a", "b", "c"]);
  assert.equal(data.train.texts.length + data.validation.texts.length, 40);
  assert.ok(data.validation.labels.some((l) => l.length === 2));
  assert.equal(warnings.length, 0);
  // a pipe never used: warned, still loaded
  const semi = path.join(dir, "semi.tsv");
  fs.writeFileSync(semi, rows.map((r) => r.replace("|", ";")).join("\n") + "\n");
  loadTrainData({ csv: semi, ...cols }, { validationSize: 0.25, seed: 1, warn: (m) => warnings.push(m) });
  assert.match(
    warnings[0],
    /semi\.tsv: the label delimiter "\|" never occurs in its label column: .* the data is single-label/,
  );
  const broken = path.join(dir, "broken.tsv");
  fs.writeFileSync(broken, `id\ttext\tlabels\n1\tfine\ta|b\n2\toops\ta|\n`);
  const split = { validationSize: 0.25, seed: 1 };
  assert.throws(() => loadTrainData({ csv: broken, ...cols }, split), /broken\.tsv:3: empty label in "a\|"/);
  const empty = path.join(dir, "empty.tsv");
  fs.writeFileSync(empty, `id\ttext\tlabels\n1\tfine\ta|b\n2\toops\t\n`);
  assert.throws(() => loadTrainData({ csv: empty, ...cols }, split), /empty\.tsv:3: empty label in column "labels"/);
  const testFile = path.join(dir, "test.tsv");
  fs.writeFileSync(testFile, `id\ttext\tlabels\n1\tfine\ta|zzz\n`);
  assert.throws(
    () => loadTrainData({ csv: file, testCsv: testFile, ...cols }, split),
    /test\.tsv:2: label "zzz" occurs only in test/,
  );
  const unlabelled = { texts: ["x", "y"], labels: [["a", "b"], []] };
  assert.throws(
    () => checkData({ multiLabel: true, train: unlabelled, validation: { texts: [], labels: [] } }),
    /train example 1: no label/,
  );
});

// toy label sets: each text's words come from each of its labels
const LABELS = ["neg", "neu", "pos"];
function toySets(n: number, seed: number): { texts: string[]; labels: string[][] } {
  const rng = new Rng(seed);
  const texts: string[] = [], labels: string[][] = [];
  for (let i = 0; i < n; i++) {
    const set = LABELS.filter(() => rng.next() < 0.45);
    if (set.length === 0) set.push(LABELS[i % 3]);
    texts.push(set.flatMap((l) => [TOY_WORDS[l][rng.int(4)], "so"]).join(" "));
    labels.push(set);
  }
  return { texts, labels };
}
const data: MultiLabelData = { multiLabel: true, train: toySets(48, 1), validation: toySets(16, 2), labels: LABELS };
const config: TrainConfig = {
  ...DEFAULT_CONFIG,
  epochs: 2,
  batchSize: 8,
  evalBatchSize: 16,
  lr: 1e-3,
  logSamples: 0,
  selectMetric: "f1_macro",
};
const tiny = (seed: number) => randomBert(tinyBertConfig, { labels: LABELS, seed });

test(
  "a multi-label run: BCE, thresholds tuned and saved with each checkpoint and best/, problem_type in "
    + "config.json; predict gives every label over its threshold",
  async () => {
    await initBackend();
    const dir = tmp();
    const before = tf.memory().numTensors;
    const run = await train(config, { data, model: tiny(5), tokenizer: toyTokenizer, runDir: dir, log: () => {} });
    const v = run.history[1].validation;
    assert.ok(v.f1Micro >= 0 && v.f1Micro <= 1 && v.subsetAccuracy >= 0);
    assert.deepEqual(run.thresholds, run.history[run.best!.epoch - 1].validation.labels.map((l) => l.threshold));
    assert.ok(isMultiLabelModel(run.model));
    for (const sub of ["checkpoints/epoch-2", "checkpoints/best"]) {
      const cfg = JSON.parse(fs.readFileSync(path.join(dir, sub, "config.json"), "utf8"));
      assert.equal(cfg.problem_type, MULTI_LABEL);
      assert.equal(readThresholds(path.join(dir, sub), LABELS).length, 3);
    }
    assert.deepEqual(readThresholds(modelFolder(dir), LABELS), run.thresholds);
    const metrics = JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8"));
    assert.equal(metrics.problemType, MULTI_LABEL);
    assert.ok("f1Micro" in metrics.final && metrics.final.labels[0].threshold !== undefined);
    // predict: a sigmoid per label, every label at or over its threshold
    const preds = predict(run.model, toyTokenizer, ["great happy so", "bad table so"], { thresholds: run.thresholds });
    for (const p of preds) {
      assert.deepEqual(p.labels, LABELS.filter((l, k) => p.probabilities[l] >= run.thresholds![k]));
      assert.equal(p.label, undefined);
    }
    assert.throws(() => predict(run.model, toyTokenizer, ["x"]), /predicts at its per-label thresholds/);
    // the same model reloaded scores the validation set as the run did at its best epoch
    const reloaded = await loadBertForSequenceClassification(modelFolder(dir), { labels: LABELS, seed: 0 });
    assert.ok(isMultiLabelModel(reloaded));
    const ev = evaluateSet(reloaded, toyTokenizer, data.validation, "validation", { thresholds: run.thresholds });
    assert.ok(Math.abs(ev.metrics.f1Macro - run.best!.value) < 1e-6);
    reloaded.dispose();
    run.model.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensors left behind");
    // remedies are single-label only
    const m = randomBert(tinyBertConfig, { labels: LABELS, seed: 5 });
    const weighted = { ...config, classWeights: "balanced" as const };
    await assert.rejects(
      train(weighted, { data, model: m, tokenizer: toyTokenizer, log: () => {} }),
      /are for single-label data/,
    );
    m.dispose();
  },
);

test("evaluateMultiLabel and BCE leak no tensors", async () => {
  await initBackend();
  const model = randomBert(tinyBertConfig, { labels: LABELS, seed: 2 });
  const enc = toyTokenizer.encode(data.validation.texts, { padding: false });
  const targets = multiHot(data.validation.labels, LABELS);
  const before = tf.memory().numTensors;
  const ev = evaluateMultiLabel(model, enc, targets, { batchSize: 5, thresholds: "tune" });
  assert.equal(ev.probabilities.length, 16);
  const loss = tf.tidy(() => bceWithLogitsLoss(tf.tensor2d([[0, 1]]), tf.tensor2d([[1, 0]])).dataSync()[0]);
  assert.ok(Math.abs(loss - (Math.log(2) + Math.log(1 + Math.E)) / 2) < 1e-6);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

const havePy = fs.existsSync(VENV_PYTHON);
const noPython = havePy ? false : `no ${VENV_PYTHON}`;
test(
  "a multi-label model saved here loads in Python transformers as the same model: problem_type, "
    + "equal logits, BCE loss",
  { skip: noPython },
  async () => {
    await initBackend();
    const dir = tmp();
    const oneEpoch = { ...config, epochs: 1, selectMetric: "none" as const };
    const run = await train(oneEpoch, { data, model: tiny(9), tokenizer: toyTokenizer, runDir: dir, log: () => {} });
    const enc = toyTokenizer.encode(["great so happy", "bad chair love"]); // equal lengths: the toy tokenizer won't pad
    const ints = (rows: number[][]) => tf.tensor2d(rows, undefined, "int32");
    const x = { input_ids: ints(enc.input_ids), attention_mask: ints(enc.attention_mask) };
    const targets = [[0, 0, 1], [1, 1, 1]];
    const ours = tf.tidy(() => run.model.forward(x).arraySync());
    const ourLoss = tf.tidy(() => bceWithLogitsLoss(run.model.forward(x), tf.tensor2d(targets)).dataSync()[0]);
    tf.dispose(Object.values(x));
    run.model.dispose();
    const script = `
import sys, json, torch
from transformers import AutoModelForSequenceClassification
m = AutoModelForSequenceClassification.from_pretrained(sys.argv[1], attn_implementation="eager").eval()
i = json.loads(sys.argv[2])
with torch.no_grad():
    out = m(input_ids=torch.tensor(i["input_ids"]), attention_mask=torch.tensor(i["attention_mask"]),
            labels=torch.tensor(i["labels"], dtype=torch.float32))
print(json.dumps({"logits": out.logits.tolist(), "loss": out.loss.item(),
                  "problem_type": m.config.problem_type, "labels": m.config.id2label}))
`;
    const input = JSON.stringify({ ...enc, labels: targets });
    const env = { ...process.env, TRANSFORMERS_OFFLINE: "1", HF_HUB_OFFLINE: "1" };
    const checkpoint = path.join(dir, "checkpoints/epoch-1");
    const r = spawnSync(VENV_PYTHON, ["-c", script, checkpoint, input], { encoding: "utf8", env });
    assert.equal(r.status, 0, r.stderr);
    const py = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(py.problem_type, MULTI_LABEL);
    assert.deepEqual(py.labels, { 0: "neg", 1: "neu", 2: "pos" });
    const diff = Math.max(...py.logits.flat().map((v: number, k: number) => Math.abs(v - ours.flat()[k])));
    assert.ok(diff <= 1e-5, `Python logits equal ours (max diff ${diff})`);
    assert.ok(Math.abs(py.loss - ourLoss) <= 1e-5, `Hugging Face's multi-label loss ${py.loss} = ours ${ourLoss}`);
  },
);
