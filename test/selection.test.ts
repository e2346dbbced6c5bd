// Best-epoch selection and early stopping: the rule on synthetic metric curves, then real runs of
// the tiny random BERT whose validation metric peaks early, with and without an interruption in
// the middle of patience.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, loadBertForSequenceClassification, BertForSequenceClassification } from "../lib/model/bert";
import { DEFAULT_CONFIG, TrainConfig, validateConfig } from "../lib/config/config";
import { train } from "../lib/train/train";
import { evaluateSet } from "../lib/eval/evaluate";
import { modelFolder } from "../lib/model/run_folder";
import { TrainData } from "../lib/data/data";
import { readCheckpoint } from "../lib/train/checkpoint";
import { bestDir, listCheckpoints } from "../lib/model/run_folder";
import { updateSelection, checkSelectMetric, SelectionState, SelectMetric } from "../lib/config/selection";
import { configFromFlags } from "../lib/cli/flags";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { toyTokenizer, toyData, TOY_LABELS } from "./helpers/toy";
import { stopAndResume } from "./helpers/resume";
import { tmpDir } from "./helpers/tmp";

/** Runs the rule over a curve; returns each epoch's [improved, stop] and the final state. */
function follow(values: number[], metric: SelectMetric, patience: number) {
  let state: SelectionState | undefined;
  const steps: [boolean, boolean][] = [];
  for (const [i, v] of values.entries()) {
    const m = { f1Macro: v, f1Weighted: v, loss: v };
    const before = JSON.stringify(state);
    const u = updateSelection(state, i + 1, m, { metric, patience });
    assert.equal(JSON.stringify(state), before, "pure: the old state is not changed");
    steps.push([u.improved, u.stop]);
    state = u.state;
    if (u.stop) break;
  }
  return { steps, state: state! };
}

test(
  "the rule: best is strictly better (a tie keeps the earlier epoch), F1 higher and loss lower; "
    + "patience counts epochs since the best",
  () => {
    const f1 = follow([0.5, 0.7, 0.6, 0.7, 0.65, 0.9], "f1_macro", 3);
    assert.deepEqual(f1.steps, [[true, false], [true, false], [false, false], [false, false], [false, true]]);
    assert.deepEqual(f1.state, {
      metric: "f1_macro",
      bestEpoch: 2,
      bestValue: 0.7,
      epochsWithoutImprovement: 3,
      stoppedAfter: 5,
    });
    const loss = follow([0.48, 0.52, 0.47, 0.6, 0.89], "loss", 0); // patience 0: never stops
    assert.deepEqual(loss.steps.map(([i]) => i), [true, false, true, false, false]);
    assert.equal(loss.state.bestEpoch, 3);
    assert.equal(loss.state.stoppedAfter, undefined);
    const ones = { f1Macro: 1, f1Weighted: 1, loss: 1 };
    assert.throws(
      () => updateSelection(loss.state, 6, ones, { metric: "f1_weighted", patience: 0 }),
      /selects by loss; it cannot continue selecting by f1_weighted/,
    );
    assert.throws(
      () => updateSelection(undefined, 1, { ...ones, f1Macro: NaN }, { metric: "f1_macro", patience: 1 }),
      /f1_macro is NaN at epoch 1/,
    );
  },
);

test("an unknown --select-metric, and patience without a metric, are errors that say what to use", () => {
  assert.throws(
    () => configFromFlags({ "select-metric": "accuracy" }),
    /--select-metric "accuracy" is not a metric a model can be selected by: use f1_macro, f1_weighted, loss or none/,
  );
  assert.equal(checkSelectMetric("f1_weighted"), "f1_weighted");
  assert.equal(configFromFlags({ "select-metric": "loss", "early-stopping-patience": "2" }).earlyStoppingPatience, 2);
  assert.throws(
    () => validateConfig({ ...DEFAULT_CONFIG, earlyStoppingPatience: 2 }),
    /earlyStoppingPatience 2 needs a metric to watch/,
  );
  assert.throws(
    () => validateConfig({ ...DEFAULT_CONFIG, selectMetric: "acc" as SelectMetric }),
    /config.selectMetric "acc" is not a metric/,
  );
});

// Validation holds the training texts with every label moved on by one (neg → neu → pos → neg):
// the better the model fits the training data, the worse it does there, so validation loss is
// lowest after epoch 1 and rises from then on: a metric that peaks early, by construction.
const trainSet = toyData(48, 1);
const rotate = (l: string) => TOY_LABELS[(TOY_LABELS.indexOf(l) + 1) % 3];
const rotated = { texts: trainSet.texts.slice(0, 24), labels: trainSet.labels.slice(0, 24).map(rotate) };
const data: TrainData = { train: trainSet, validation: rotated, labels: TOY_LABELS };
const config: TrainConfig = {
  ...DEFAULT_CONFIG,
  epochs: 6,
  batchSize: 4,
  evalBatchSize: 24,
  lr: 5e-3,
  headLrScale: 1,
  warmupRatio: 0,
  logSamples: 0,
  selectMetric: "loss",
  earlyStoppingPatience: 2,
};
const quiet = { log: () => {} };
const tiny = () => randomBert(tinyBertConfig, { labels: TOY_LABELS, seed: config.seed });
const tmp = () => tmpDir("bertlab-select-");
type Curve = { trainLoss: number; validation: { loss: number } }[];
const curve = (h: Curve) => h.map((r) => [r.trainLoss, r.validation.loss]);
const validationLoss = (m: BertForSequenceClassification) =>
  evaluateSet(m, toyTokenizer, data.validation, "validation", { batchSize: 24 }).metrics.loss;

test(
  "a run whose validation loss is best at epoch 1 stops after epoch 3 (patience 2), keeps best/ "
    + "and returns epoch 1's model",
  async () => {
    await initBackend();
    const dir = tmp();
    const before = tf.memory().numTensors;
    const run = await train(config, { data, model: tiny(), tokenizer: toyTokenizer, runDir: dir, ...quiet });
    const losses = run.history.map((h) => h.validation.loss);
    assert.deepEqual(run.history.map((h) => h.epoch), [1, 2, 3], `stopped early: ${losses}`);
    assert.ok(
      losses[1] > losses[0] && losses[2] > losses[0],
      `validation loss peaks (is lowest) at epoch 1: ${losses}`,
    );
    assert.ok(run.history[2].trainLoss < run.history[0].trainLoss, "while training loss falls");
    assert.equal(run.best!.epoch, 1);
    assert.equal(run.best!.stoppedEarly, true);
    assert.match(
      run.best!.why,
      /epoch 1 has the lowest validation loss .*Stopped early after epoch 3: 2 epochs without a better loss/,
    );
    // the returned model holds epoch 1's weights: it scores epoch 1's validation loss again
    assert.ok(Math.abs(validationLoss(run.model) - losses[0]) < 1e-6, `${validationLoss(run.model)} vs ${losses[0]}`);
    run.model.dispose();
    assert.equal(tf.memory().numTensors, before, "no tensors left behind (the best-weights copy is freed)");

    const metrics = JSON.parse(fs.readFileSync(path.join(dir, "metrics.json"), "utf8"));
    assert.deepEqual([metrics.best.epoch, metrics.best.metric, metrics.best.stoppedEarly], [1, "loss", true]);
    assert.equal(metrics.best.value, losses[0]);
    assert.deepEqual(listCheckpoints(dir).map((c) => c.epoch), [2, 3]);
    assert.equal(readCheckpoint(path.join(dir, "checkpoints/epoch-3")).state.selection!.epochsWithoutImprovement, 2);
    assert.ok(!fs.existsSync(path.join(bestDir(dir), "optimizer.bin")), "best/ is a model, not a resume point");
    // evaluate and predict given the run folder use best/
    assert.equal(modelFolder(dir), bestDir(dir));
    const loaded = await loadBertForSequenceClassification(modelFolder(dir), { labels: TOY_LABELS, seed: 0 });
    assert.ok(Math.abs(validationLoss(loaded) - losses[0]) < 1e-6);
    loaded.dispose();
  },
);

test(
  "interrupted in the middle of patience (after epoch 2), resumed: the same epochs, the same stop, "
    + "the same best model",
  async () => {
    await initBackend();
    const { full, resumed, runDir: dir } = await stopAndResume(
      config,
      { data, model: tiny, tokenizer: toyTokenizer },
      {
        stopAfterEpoch: 2,
        beforeResume: (stopped, part) =>
          assert.deepEqual(readCheckpoint(path.join(stopped, "checkpoints/epoch-2")).state.selection, {
            metric: "loss",
            bestEpoch: 1,
            bestValue: part.history[0].validation.loss,
            epochsWithoutImprovement: 1,
          }),
        same: (r) => ({ curve: curve(r.history), best: r.best }),
        keepModel: true,
      },
    );
    // best/ was written before the interruption: the resumed run loads epoch 1's weights from it
    assert.ok(Math.abs(validationLoss(resumed.model) - full.history[0].validation.loss) < 1e-6);
    resumed.model.dispose();
    // resuming a run that already stopped trains nothing more
    const again = await train(config, { data, tokenizer: toyTokenizer, runDir: dir, resume: true, ...quiet });
    assert.equal(again.history.length, 3);
    again.model.dispose();
  },
);
