// lib/train/imbalance.ts: class weights and per-class scores against scikit-learn (fixtures:
// scripts/make_label_fixtures.py), the weighted sampler's semantics and a chi-square test of its
// frequencies (fixed seed), each remedy in a real training run of the tiny BERT, and the
// error-analysis table.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, loadBertForSequenceClassification } from "../lib/model/bert";
import { DEFAULT_CONFIG, TrainConfig, validateConfig } from "../lib/config/config";
import {
  computeClassWeight,
  balancedSampleWeights,
  WeightedRandomSampler,
  remedies,
  logitOffsets,
  shiftClassifierBias,
} from "../lib/train/imbalance";
import { crossEntropyLoss } from "../lib/nn/ops";
import { lossOnTape } from "../lib/nn/losses";
import { classReport, scoreAll } from "../lib/eval/metrics";
import { train } from "../lib/train/train";
import { savedRuns, posthocCurve, SweepRun } from "../lib/train/sweep";
import { evaluateSet, misclassified, errorTableHtml } from "../lib/eval/evaluate";
import { lastCheckpoint } from "../lib/model/run_folder";
import { SingleLabelData } from "../lib/data/data";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { toyTokenizer, toyData, TOY_LABELS } from "./helpers/toy";
import { stopAndResume } from "./helpers/resume";
import { tmpDir } from "./helpers/tmp";

const fx = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/labels/imbalance.json"), "utf8"));
const near = (a: number, b: number, what: string) => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test("class weights equal scikit-learn's compute_class_weight('balanced'), SMILE's training split included", () => {
  for (const c of fx.class_weight) {
    computeClassWeight(c.y, c.num_classes).forEach((w, k) => near(w, c.weights[k], `class ${k} of ${c.y.length}`));
  }
  const smile = fx.class_weight[3].weights;
  assert.ok(smile[3] > 40 && smile[0] < 0.25, `disgust (5 tweets) weighs ${smile[3]}, happy ${smile[0]}`);
  assert.throws(
    () => computeClassWeight([0, 0, 2], 3, ["happy", "sad", "angry"]),
    /class sad has no training examples/,
  );
  assert.throws(() => computeClassWeight([0, 3], 2), /position 1 is 3/);
});

test("per-class precision, recall, F1 and support equal scikit-learn's precision_recall_fscore_support", () => {
  for (const c of fx.class_report) {
    const names = Array.from({ length: c.num_classes }, (_, k) => `c${k}`);
    classReport(c.y_true, c.y_pred, names).forEach((r, k) => {
      assert.equal(r.label, `c${k}`);
      for (const m of ["precision", "recall", "f1"] as const) near(r[m], c[m][k], `${m} class ${k}`);
      assert.equal(r.support, c.support[k]);
    });
  }
});

/** Pearson's chi-square statistic of observed counts against expected ones. */
const chiSquare = (observed: number[], expected: number[]) =>
  observed.reduce((s, o, k) => s + (o - expected[k]) ** 2 / expected[k], 0);

test(
  "weighted sampler: frequencies match the weights (chi-square, fixed seed), zero weights never drawn, "
    + "seeded and resumable",
  () => {
    const weights = [0.5, 1, 2, 4, 0, 2.5];
    const s = new WeightedRandomSampler(weights, 60000, { seed: 17 });
    const draws = s.epochIndices();
    const counts = weights.map((_, k) => draws.filter((i) => i === k).length);
    assert.equal(counts[4], 0, "weight 0 is never drawn");
    const positive = weights.map((w, k) => [w, k]).filter(([w]) => w > 0).map(([, k]) => k);
    const total = 10; // the weights' sum: they need not sum to 1
    const stat = chiSquare(positive.map((k) => counts[k]), positive.map((k) => (60000 * weights[k]) / total));
    const critical = fx.chi2_critical_0_001[String(positive.length - 1)];
    assert.ok(stat < critical, `chi-square ${stat.toFixed(2)} < ${critical.toFixed(2)} (df ${positive.length - 1})`);
    // the same seed gives the same draws; another seed others; a restored state continues the same sequence
    assert.deepEqual(new WeightedRandomSampler(weights, 50, { seed: 17 }).epochIndices(), draws.slice(0, 50));
    assert.notDeepEqual(new WeightedRandomSampler(weights, 50, { seed: 18 }).epochIndices(), draws.slice(0, 50));
    const a = new WeightedRandomSampler(weights, 20, { seed: 3 });
    a.epochIndices();
    const b = new WeightedRandomSampler(weights, 20, { seed: 3 });
    b.setState(a.getState());
    assert.deepEqual(b.epochIndices(), a.epochIndices());
    assert.throws(() => b.setState({ ...a.getState(), seed: 4 }), /sampler state is for seed 4/);
  },
);

test("balanced oversampling of SMILE's training classes draws every class about equally often (chi-square)", () => {
  const y = fx.class_weight[3].y as number[];
  const draws = new WeightedRandomSampler(balancedSampleWeights(y), 60000, { seed: 5 }).epochIndices();
  const counts = [0, 1, 2, 3, 4, 5].map((k) => draws.filter((i) => y[i] === k).length);
  const stat = chiSquare(counts, counts.map(() => 10000));
  assert.ok(stat < fx.chi2_critical_0_001["5"], `chi-square ${stat.toFixed(2)} for ${counts}`);
  // the 5 disgust tweets are each seen ~2,000 times: oversampling repeats them
  assert.ok(counts[3] > 9000);
});

test("without replacement: distinct indices, first draws follow the weights; PyTorch's errors", () => {
  const s = new WeightedRandomSampler([1, 0, 3, 2], 3, { replacement: false, seed: 1 });
  for (let e = 0; e < 20; e++) assert.deepEqual([...s.epochIndices()].sort(), [0, 2, 3]);
  const firstDraw = (seed: number) =>
    new WeightedRandomSampler([1, 0, 3, 2], 1, { replacement: false, seed }).epochIndices()[0];
  const first = Array.from({ length: 6000 }, (_, k) => firstDraw(k));
  const counts = [0, 2, 3].map((k) => first.filter((i) => i === k).length);
  assert.ok(chiSquare(counts, [1000, 3000, 2000]) < fx.chi2_critical_0_001["2"], `${counts}`);
  const make = (w: number[], n: number, replacement = true) => () =>
    new WeightedRandomSampler(w, n, { replacement, seed: 1 });
  assert.throws(make([1, 2], 0), /num_samples should be a positive integer value, but got num_samples=0/);
  assert.throws(make([1, -2], 3), /contains either `inf`, `nan` or element < 0/);
  assert.throws(() => new WeightedRandomSampler([0, 0], 3, { seed: 1 }), /sum of probabilities <= 0/);
  assert.throws(make([1, 2], 3, false), /cannot sample n_sample > prob_dist.size\(-1\) samples without replacement/);
  assert.throws(make([1, 0, 2], 3, false), /not enough non-negative category to sample/);
});

test("remedies: the config picks the loss and the sampler; the default is the course's", async () => {
  await initBackend();
  const y = [0, 0, 0, 1, 2, 2];
  const plain = remedies(DEFAULT_CONFIG, y, TOY_LABELS);
  assert.equal(plain.sampler.constructor.name, "RandomSampler");
  assert.equal(plain.classWeights, undefined);
  const weighted = remedies({ ...DEFAULT_CONFIG, classWeights: "balanced", sampler: "weighted" }, y, TOY_LABELS);
  assert.deepEqual(weighted.classWeights, computeClassWeight(y, 3));
  assert.equal(weighted.sampler.constructor.name, "WeightedRandomSampler");
  const before = tf.memory().numTensors;
  const logits = tf.tensor2d([[1, 0, -1], [0, 2, 0]]);
  const value = (r: ReturnType<typeof remedies>) => tf.tidy(() => lossOnTape(r.spec, [0, 1], 3)(logits).dataSync()[0]);
  const focal = remedies({ ...DEFAULT_CONFIG, loss: "focal", focalGamma: 2 }, y, TOY_LABELS);
  assert.ok(value(focal) < value(plain), "focal loss discounts the easy examples");
  assert.notEqual(value(weighted), value(plain));
  logits.dispose();
  assert.equal(tf.memory().numTensors, before);
});

test("logit adjustment: the loss sees logits + τ·log(class frequency) (Menon et al. 2021); missing classes are named", async () => {
  await initBackend();
  const y = [0, 0, 0, 1, 2, 2];
  const tau = 1.5;
  logitOffsets(y, 3, tau).forEach((o, c) => near(o, tau * Math.log([3, 1, 2][c] / 6), `offset of class ${c}`));
  assert.throws(() => logitOffsets([0, 0, 2], 3, 1, TOY_LABELS), /class neu has no training examples/);
  const la = remedies({ ...DEFAULT_CONFIG, logitAdjustment: tau }, y, TOY_LABELS);
  assert.deepEqual(la.logitOffsets, logitOffsets(y, 3, tau));
  assert.equal(remedies(DEFAULT_CONFIG, y, TOY_LABELS).logitOffsets, undefined, "off by default");
  const before = tf.memory().numTensors;
  const [got, want] = tf.tidy(() => {
    const logits = tf.tensor2d([[1, 0, -1], [0, 2, 0], [0.5, 0.5, 3]]);
    const labels = tf.tensor1d([0, 1, 2], "int32");
    return [
      lossOnTape(la.spec, [0, 1, 2], 3)(logits).dataSync()[0],
      crossEntropyLoss(tf.add(logits, tf.tensor1d(la.logitOffsets!)) as tf.Tensor2D, labels).dataSync()[0],
    ];
  });
  assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
  assert.equal(tf.memory().numTensors, before);
  assert.throws(
    () => validateConfig({ ...DEFAULT_CONFIG, logitAdjustment: -1 }),
    /logitAdjustment must be a number >= 0/,
  );
});

// an imbalanced toy set: 30 neg, 12 neu, 6 pos
const skewed = (n: number, seed: number) => toyData(n, seed, (i) => (i % 8 < 5 ? "neg" : i % 8 < 7 ? "neu" : "pos"));
const data: SingleLabelData = { train: skewed(48, 1), validation: skewed(16, 2), labels: TOY_LABELS };
const config: TrainConfig = { ...DEFAULT_CONFIG, epochs: 2, batchSize: 8, evalBatchSize: 16, lr: 1e-3, logSamples: 0 };

test(
  "each remedy trains (class weights, focal loss, weighted sampler); an interrupted weighted-sampler run "
    + "resumes to the same numbers",
  async () => {
    await initBackend();
    const tiny = () => randomBert(tinyBertConfig, { labels: TOY_LABELS, seed: 17 });
    type Curve = { trainLoss: number; validation: { loss: number } }[];
    const curve = (h: Curve) => h.map((r) => [r.trainLoss, r.validation.loss]);
    const lines: string[] = [];
    const runs = [], trained = [];
    const variants: Partial<TrainConfig>[] = [
      {},
      { classWeights: "balanced" },
      { loss: "focal" },
      { sampler: "weighted" },
    ];
    for (const c of variants) {
      const log = (l: string) => {
        lines.push(l);
      };
      const r = await train({ ...config, ...c }, { data, model: tiny(), tokenizer: toyTokenizer, log: log });
      runs.push(curve(r.history));
      trained.push(r);
      assert.ok(r.history.every((h) => Number.isFinite(h.trainLoss)));
      assert.deepEqual(r.history[1].validation.classes.map((x) => x.label), TOY_LABELS);
      r.model.dispose();
    }
    assert.equal(new Set(runs.map((r) => JSON.stringify(r[0][0]))).size, 4, "each remedy changes the training loss");
    assert.ok(
      lines.some((l) => /^class weights \(balanced\): neg 0\.533 · neu 1\.333 · pos 2\.667$/.test(l)),
      lines.join("\n"),
    );
    const c = { ...config, sampler: "weighted" as const };
    await stopAndResume(
      c,
      { data, model: tiny, tokenizer: toyTokenizer },
      { full: trained[3], same: (r) => curve(r.history) },
    );
  },
);

test(
  "post-hoc adjustment: the kept model is the plain one with its bias shifted by −τ·log(class frequency), "
    + "saved so; an interrupted run resumes to the same model",
  async () => {
    await initBackend();
    const tiny = () => randomBert(tinyBertConfig, { labels: TOY_LABELS, seed: 17 });
    const trainY = data.train.labels.map((l) => TOY_LABELS.indexOf(l));
    const offsets = logitOffsets(trainY, 3, 1);
    assert.deepEqual(remedies({ ...DEFAULT_CONFIG, posthocAdjustment: 1 }, trainY, TOY_LABELS).posthocOffsets, offsets);
    assert.equal(remedies(DEFAULT_CONFIG, trainY, TOY_LABELS).posthocOffsets, undefined, "off by default");
    assert.throws(
      () => validateConfig({ ...DEFAULT_CONFIG, posthocAdjustment: -1 }),
      /posthocAdjustment must be a number >= 0/,
    );

    const plain = await train(config, { data, model: tiny(), tokenizer: toyTokenizer, log: () => {} });
    const dir = tmpDir("bertlab-posthoc-");
    const lines: string[] = [];
    const cfg = { ...config, posthocAdjustment: 1 };
    const adjusted = await train(cfg, {
      data,
      model: tiny(),
      tokenizer: toyTokenizer,
      runDir: dir,
      log: (l) => lines.push(l),
    });
    assert.ok(
      lines.some((l) => /^post-hoc adjustment \(τ 1\): logits − neg -0\.470 · neu -1\.386 · pos -2\.079$/.test(l)),
      lines.join("\n"),
    );
    const value = (m: typeof plain.model, name: string) => Array.from(m.params.get(name)!.dataSync());
    // Training is unchanged: the same weights, up to float32 rounding of the bias shifted and shifted back each epoch.
    const maxDiff = (a: number[], b: number[]) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
    for (const name of plain.model.params.keys()) {
      if (name === "classifier.bias") continue;
      const d = maxDiff(value(adjusted.model, name), value(plain.model, name));
      assert.ok(d < 1e-5, `${name}: differs by ${d}`);
    }
    const bias = value(adjusted.model, "classifier.bias"), plainBias = value(plain.model, "classifier.bias");
    bias.forEach((b, k) =>
      assert.ok(Math.abs(b - (plainBias[k] - offsets[k])) < 1e-5, `bias ${k}: ${b} vs ${plainBias[k]} − ${offsets[k]}`)
    );
    // What each epoch reported is the adjusted model's score, and the last checkpoint holds that model.
    const ev = evaluateSet(adjusted.model, toyTokenizer, data.validation, "validation", { batchSize: 16 });
    assert.ok(Math.abs(ev.metrics.loss - adjusted.history[1].validation.loss) < 1e-6);
    const saved = await loadBertForSequenceClassification(lastCheckpoint(dir)!.dir, { labels: TOY_LABELS, seed: 1 });
    assert.deepEqual(value(saved, "classifier.bias"), bias);
    saved.dispose();

    const { resumed } = await stopAndResume(
      cfg,
      { data, model: tiny, tokenizer: toyTokenizer },
      {
        full: adjusted,
        beforeResume: (dir2) =>
          assert.rejects(
            train(
              { ...cfg, posthocAdjustment: 0.5 },
              { data, tokenizer: toyTokenizer, runDir: dir2, resume: true, log: () => {} },
            ),
            /used --posthoc-adjustment 1, not 0\.5/,
          ),
        keepModel: true,
      },
    );
    for (const name of plain.model.params.keys()) {
      const d = maxDiff(value(resumed.model, name), value(adjusted.model, name));
      assert.ok(d < 1e-5, `${name} after resume differs by ${d}`);
    }
    // The shift itself: exact in both directions, no tensors left behind.
    const before = tf.memory().numTensors;
    shiftClassifierBias(resumed.model, offsets, -1);
    value(resumed.model, "classifier.bias").forEach((b, k) => assert.ok(Math.abs(b - plainBias[k]) < 1e-5));
    assert.equal(tf.memory().numTensors, before);
    assert.throws(() => shiftClassifierBias(resumed.model, [1, 2]), /no classifier\.bias of 2 classes/);
    for (const r of [plain, adjusted, resumed]) r.model.dispose();
  },
);

test("error analysis: misclassified texts with their probabilities, most confident first, HTML-escaped", async () => {
  await initBackend();
  const model = randomBert(tinyBertConfig, { labels: TOY_LABELS, seed: 3 });
  const set = {
    texts: ["<script>alert('x')</script> bad", "great & good", "the table"],
    labels: ["neg", "pos", "neu"],
    ids: ["a", "b", "c"],
  };
  const ev = evaluateSet(model, toyTokenizer, set, "validation");
  model.dispose();
  const rows = misclassified(set, ev, TOY_LABELS);
  assert.equal(rows.length, ev.predictions.filter((p, i) => TOY_LABELS[p] !== set.labels[i]).length);
  for (const r of rows) {
    const i = set.ids.indexOf(r.id);
    assert.equal(r.text, set.texts[i]);
    assert.equal(r.pPredicted, ev.probabilities[i][TOY_LABELS.indexOf(r.predicted)]);
    assert.equal(r.pTrue, ev.probabilities[i][TOY_LABELS.indexOf(r.true)]);
    assert.ok(r.pPredicted > r.pTrue);
  }
  assert.deepEqual(rows.map((r) => r.pPredicted), [...rows.map((r) => r.pPredicted)].sort((a, b) => b - a));
  const html = errorTableHtml([{
    id: "1",
    text: "<script>alert('x')</script> & more",
    true: "neg",
    predicted: "pos",
    pPredicted: 0.9,
    pTrue: 0.05,
  }]);
  assert.ok(!html.includes("<script>"));
  assert.match(html, /&lt;script&gt;alert\(&#39;x&#39;\)&lt;\/script&gt; &amp; more/);
  assert.match(html, /<caption>1 misclassified<\/caption>/);
});

test("savedRuns: a results file's runs for the same config (fields it predates read as defaults), else an error naming it", () => {
  const dir = tmpDir("bertlab-sweep-");
  const file = path.join(dir, "results.json");
  assert.deepEqual(savedRuns(file, DEFAULT_CONFIG), [], "no file: no runs");
  const run = { variant: "plain", seed: 1 };
  const { posthocAdjustment: _unused, ...older } = DEFAULT_CONFIG; // written before the field existed
  fs.writeFileSync(file, JSON.stringify({ config: older, runs: [run] }));
  assert.deepEqual(savedRuns(file, DEFAULT_CONFIG), [run]);
  assert.throws(
    () => savedRuns(file, { ...DEFAULT_CONFIG, epochs: 2 }),
    /results\.json holds runs with another config \(epochs differ\)/,
  );
  fs.rmSync(dir, { recursive: true, force: true });
});

test("posthocCurve: τ = 0 is the run's own argmax; a larger τ moves unsure tweets to the rare classes; mean ± sd over runs", () => {
  const labels = ["common", "rare1", "rare2"];
  const logPrior = [Math.log(0.8), Math.log(0.1), Math.log(0.1)];
  // Tweet 2 is a sure `common` (margin 5 nats), tweets 1 and 3 unsure (margin 1 nat), so τ = 1 (a shift of
  // log 8 ≈ 2.08 towards each rare class) moves only them.
  const logProbs = [[-0.2, -1.2, -3], [-0.01, -5, -6], [-0.3, -4, -1.3]];
  const run = (seed: number, labelIds: number[]): SweepRun => ({
    variant: "plain",
    seed,
    seconds: 0,
    validationCounts: {},
    last: { epoch: 1, f1Macro: 0, f1Weighted: 0, accuracy: 0, recall: Object.fromEntries(labels.map((l) => [l, 0])) },
    bestByF1Macro: { epoch: 1, f1Macro: 0, f1Weighted: 0 },
    validation: { labelIds, logProbs, logPrior },
  });
  const runs = [run(1, [1, 0, 2]), run(2, [0, 0, 0])];
  const [zero, one] = posthocCurve(runs, [0, 1]);
  const f1 = (truth: number[], predicted: number[]) => scoreAll(truth, predicted, labels, NaN).f1Macro;
  assert.equal(zero.tau, 0);
  assert.equal(zero.f1Macro.mean, (f1([1, 0, 2], [0, 0, 0]) + f1([0, 0, 0], [0, 0, 0])) / 2);
  assert.equal(one.f1Macro.mean, (f1([1, 0, 2], [1, 0, 2]) + f1([0, 0, 0], [1, 0, 2])) / 2);
  assert.ok(one.f1Macro.sd > 0);
  assert.throws(
    () => posthocCurve([{ ...runs[0], validation: undefined }], [1]),
    /no run holds its validation log-probabilities/,
  );
});
