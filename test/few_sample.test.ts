// The few-sample fine-tuning options: R-Drop (`--rdrop`), layer-wise learning-rate decay (`--layer-lr-decay`) and
// stochastic weight averaging (`--swa-epochs`). R-Drop's loss and the decay's learning rates equal PyTorch's
// (fixtures: scripts/make_few_sample_fixtures.py); R-Drop's graph step equals the tape's; the decay reaches every
// weight's update; the averaged model equals the average of the run's epoch checkpoints, also across a resume.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, BertConfig } from "../lib/model/bert";
import { GraphOutput } from "../lib/graph/lowering";
import { GraphSession } from "../lib/graph/session";
import { lossGraph } from "../lib/graph/step_graph";
import { StepLossSpec, lossFeeds } from "../lib/nn/loss_def";
import { lossOnTape } from "../lib/nn/losses";
import { graphLossAndGrads, lossAndGrads, trainStep } from "../lib/train/train_graph";
import { AdamW } from "../lib/nn/optim";
import { DEFAULT_CONFIG, TrainConfig, validateConfig } from "../lib/config/config";
import { train, lrScales } from "../lib/train/train";
import { SWA_FILE } from "../lib/train/swa";
import { averageWeights } from "../lib/eval/soup";
import { checkpointsDir } from "../lib/model/run_folder";
import { TrainData } from "../lib/data/data";
import { tinyBertConfig, tinyBertLabels } from "./helpers/tiny_bert";
import { toyTokenizer, toyData, TOY_LABELS } from "./helpers/toy";
import { tmpDir } from "./helpers/tmp";

const skip = process.env.BERTLAB_BACKEND && process.env.BERTLAB_BACKEND !== "tensorflow"
  ? "graphs run on native TensorFlow only"
  : false;
const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/labels/few_sample.json"), "utf8"));

before(async () => {
  await initBackend();
});

const specOf = (c: { alpha: number; weights: number[] | null; gamma: number | null }): StepLossSpec => {
  const classWeights = c.weights ?? undefined;
  const base: StepLossSpec = c.gamma === null
    ? { kind: "cross_entropy", classWeights }
    : { kind: "focal", gamma: c.gamma, classWeights };
  return { ...base, rdrop: c.alpha };
};

test("R-Drop's loss equals PyTorch's (the authors' KL), value and gradient within 1e-5, on the graph and the tape", {
  skip,
}, () => {
  const before = tf.memory().numTensors;
  for (const c of fixture.rdrop) {
    const spec = specOf(c);
    const targets = [...c.labels, ...c.labels];
    const what = `${spec.kind} α ${c.alpha}${c.weights ? " weighted" : ""}, ${c.labels.length} pairs`;
    const s = GraphSession.load(lossGraph(spec.kind, c.alpha > 0));
    const fed = lossFeeds(spec, targets, c.logits[0].length);
    const feeds = {
      logits: tf.tensor2d(c.logits),
      ...Object.fromEntries(Object.entries(fed).map(([k, v]) => [k, tf.tensor(v as number)])),
    };
    const out = s.run(feeds, ["loss", "dlogits"] as GraphOutput[]);
    const [graphLoss, graphGrad] = [out[0].dataSync()[0], out[1].arraySync() as number[][]];
    tf.dispose([...out, ...Object.values(feeds)]);
    const z = tf.tensor2d(c.logits);
    const loss = lossOnTape(spec, targets, c.logits[0].length);
    const { value, grad } = tf.valueAndGrad((x: tf.Tensor) => loss(x as tf.Tensor2D))(z);
    const tapeGrad = grad.arraySync() as number[][];
    for (const [engine, l, g] of [["graph", graphLoss, graphGrad], ["tape", value.dataSync()[0], tapeGrad]] as const) {
      assert.ok(Math.abs(l - c.loss) <= 1e-5, `${what} (${engine}): loss ${l} vs ${c.loss}`);
      (g as number[][]).forEach((r, i) =>
        r.forEach((v, j) =>
          assert.ok(Math.abs(v - c.grad[i][j]) <= 1e-5, `${what} (${engine}): grad[${i}][${j}] ${v} vs ${c.grad[i][j]}`)
        )
      );
    }
    tf.dispose([z, value, grad]);
  }
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
});

test("R-Drop on the tiny BERT: the graph's loss and gradients equal the tape's (same dropout masks)", { skip }, () => {
  const m = randomBert({ ...tinyBertConfig } as BertConfig, { labels: tinyBertLabels, seed: 9 });
  const ids = [[101, 7, 9, 4, 102, 0], [101, 3, 8, 6, 2, 102], [101, 11, 102, 0, 0, 0]];
  const twice = [...ids, ...ids];
  const x = {
    input_ids: tf.tensor2d(twice, undefined, "int32"),
    attention_mask: tf.tensor2d(twice.map((r) => r.map((v, j) => (j === 0 || v !== 0 ? 1 : 0))), undefined, "int32"),
  };
  const loss: StepLossSpec = { kind: "cross_entropy", rdrop: 2 };
  const targets = [0, 2, 1, 0, 2, 1];
  const before = tf.memory().numTensors;
  process.env.BERTLAB_GRAPH = "0";
  const tape = lossAndGrads(m, x, targets, { seed: 3, loss });
  delete process.env.BERTLAB_GRAPH;
  const graph = graphLossAndGrads(m, x, targets, { seed: 3, loss })!;
  assert.ok(graph, "the training graph loads");
  assert.ok(Math.abs(graph.value.dataSync()[0] - tape.value.dataSync()[0]) <= 1e-5, "loss");
  // The two halves saw different dropout masks: the consistency term is not zero.
  process.env.BERTLAB_GRAPH = "0";
  const plain = lossAndGrads(m, x, targets, { seed: 3, loss: { kind: "cross_entropy" } });
  delete process.env.BERTLAB_GRAPH;
  assert.ok(tape.value.dataSync()[0] > plain.value.dataSync()[0] + 1e-6, "R-Drop adds a positive KL term");
  for (const [name, e] of Object.entries(tape.grads)) {
    const d = tf.tidy(() => tf.max(tf.abs(tf.sub(graph.grads[name], e))).dataSync()[0]);
    const scale = tf.tidy(() => tf.max(tf.abs(e)).dataSync()[0]);
    assert.ok(d <= 1e-4 * scale + (name.endsWith("attention.self.key.bias") ? 1e-6 : 1e-9), `${name}: ${d}`);
  }
  tf.dispose([tape.value, graph.value, plain.value, ...[tape, graph, plain].flatMap((r) => Object.values(r.grads))]);
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
  // trainStep stacks the batch itself, and frees the copy.
  const opt = new AdamW(m.params, { lr: 1e-3 });
  const single = { input_ids: tf.slice(x.input_ids, 0, 3), attention_mask: tf.slice(x.attention_mask, 0, 3) };
  const withMoments = tf.memory().numTensors + 2 * m.params.size;
  const r = trainStep(m, opt, [{ inputs: single, targets: [0, 2, 1], seed: 3 }], { lr: 1e-3, clipNorm: 1, loss });
  assert.ok(Number.isFinite(r.loss) && r.norm > 0);
  assert.equal(tf.memory().numTensors, withMoments, "the stacked copy is freed");
  tf.dispose([...Object.values(x), ...Object.values(single)]);
  opt.dispose();
  m.dispose();
});

test("layer-wise lr decay: each weight's rate is the one Zhang et al.'s parameter groups give (PyTorch)", () => {
  const { lr, xi, layers, rates } = fixture.llrd as {
    lr: number;
    xi: number;
    layers: number;
    rates: Record<string, number>;
  };
  const cfg = { ...DEFAULT_CONFIG, lr, layerLrDecay: xi, headLrScale: 1 };
  const m = randomBert({ ...tinyBertConfig, num_hidden_layers: layers } as BertConfig, {
    labels: tinyBertLabels,
    seed: 1,
  });
  assert.deepEqual([...m.params.keys()].sort(), Object.keys(rates).sort(), "the same weights");
  const scale = lrScales(cfg, layers);
  for (const [name, rate] of Object.entries(rates)) {
    assert.ok(Math.abs(lr * scale(name) - rate) <= 1e-12, `${name}: ${lr * scale(name)} vs ${rate}`);
  }
  // ξ = 1 is the course: one rate for the encoder; the head keeps its own multiplier.
  const course = lrScales(DEFAULT_CONFIG, layers);
  assert.equal(course("bert.embeddings.word_embeddings.weight"), 1);
  assert.equal(course("classifier.weight"), DEFAULT_CONFIG.headLrScale);
  m.dispose();
});

test(
  "layer-wise lr decay reaches every weight's update: Adam's first step moves each by its own rate",
  { skip },
  () => {
    const xi = 0.5, lr = 1e-3;
    const m = randomBert({ ...tinyBertConfig } as BertConfig, { labels: tinyBertLabels, seed: 5 });
    const scale = lrScales({ ...DEFAULT_CONFIG, layerLrDecay: xi, headLrScale: 1 }, tinyBertConfig.num_hidden_layers);
    // eps far below every gradient, so that the first step is lr·sign(g) to 1e-4
    const opt = new AdamW(m.params, { lr, weightDecay: 0, eps: 1e-20, lrScale: scale });
    const start = new Map([...m.params].map(([n, v]) => [n, tf.clone(v)]));
    const inputs = {
      input_ids: tf.tensor2d([[101, 7, 9, 4, 102], [101, 3, 8, 6, 102]], undefined, "int32"),
      attention_mask: tf.ones([2, 5], "int32") as tf.Tensor2D,
    };
    trainStep(m, opt, [{ inputs, targets: [0, 2], seed: 1 }], { lr, clipNorm: 1 });
    // Adam's first step is lr·g/(|g| + eps): the largest move in a weight is its rate, where the gradient is not tiny.
    for (const [name, v] of m.params) {
      if (name.includes("token_type_embeddings") || name.includes("position_embeddings")) continue; // rows unused
      const moved = tf.tidy(() => tf.max(tf.abs(tf.sub(v, start.get(name)!))).dataSync()[0]);
      const want = lr * scale(name);
      // float32 weights near 1 (LayerNorm) round each move to 1.2e-7
      assert.ok(moved <= want * 1.0001 + 2.4e-7 && moved >= want * 0.99, `${name}: moved ${moved}, rate ${want}`);
    }
    tf.dispose([...start.values(), ...Object.values(inputs)]);
    opt.dispose();
    m.dispose();
  },
);

const quiet = { log: () => {} };
const tmp = () => tmpDir("bertlab-few-sample-");
const data: TrainData = { train: toyData(40, 1), validation: toyData(15, 2), labels: TOY_LABELS };
const config: TrainConfig = { ...DEFAULT_CONFIG, epochs: 3, batchSize: 8, evalBatchSize: 16, lr: 1e-3, logSamples: 0 };
const tiny = () => randomBert(tinyBertConfig as BertConfig, { labels: TOY_LABELS, seed: config.seed });
const weightsOf = (m: { params: Map<string, tf.Variable> }) =>
  new Map([...m.params].map(([n, v]) => [n, v.dataSync() as Float32Array]));

test("SWA: the run ends with the average of its last epochs' weights, also after kill and resume", async () => {
  const before = tf.memory().numTensors;
  const [plainDir, swaDir, partDir] = [tmp(), tmp(), tmp()];
  const plain = await train(config, {
    data,
    model: tiny(),
    tokenizer: toyTokenizer,
    runDir: plainDir,
    keepCheckpoints: 0,
    ...quiet,
  });
  plain.model.dispose();
  const cfg = { ...config, swaEpochs: 2 };
  const swa = await train(cfg, { data, model: tiny(), tokenizer: toyTokenizer, runDir: swaDir, ...quiet });
  // SWA only reads the weights until the last epoch: the plain run's epochs 2 and 3, averaged, are its model.
  const ckpt = (e: number) => path.join(checkpointsDir(plainDir), `epoch-${e}`);
  const mean = averageWeights([ckpt(2), ckpt(3)]);
  const got = weightsOf(swa.model);
  for (const [name, t] of mean) {
    const w = got.get(name)!;
    let d = 0;
    t.data.forEach((v, i) => (d = Math.max(d, Math.abs(v - w[i]))));
    assert.ok(d <= 1e-6, `${name}: ${d} from the average of epochs 2 and 3`);
  }
  assert.deepEqual(swa.history.slice(0, 2).map((h) => h.trainLoss), plain.history.slice(0, 2).map((h) => h.trainLoss));
  assert.notEqual(swa.history[2].validation.loss, plain.history[2].validation.loss, "epoch 3 scores the average");
  // The running mean travels with the checkpoints in the window.
  assert.ok(fs.existsSync(path.join(checkpointsDir(swaDir), "epoch-2", SWA_FILE)));
  const part = await train(cfg, {
    data,
    model: tiny(),
    tokenizer: toyTokenizer,
    runDir: partDir,
    stopAfterEpoch: 2,
    ...quiet,
  });
  part.model.dispose();
  const resumed = await train(cfg, { data, tokenizer: toyTokenizer, runDir: partDir, resume: true, ...quiet });
  const again = weightsOf(resumed.model);
  for (const [name, w] of got) assert.deepEqual(again.get(name), w, `${name} after resume`);
  assert.deepEqual(resumed.history, swa.history.map((h, i) => ({ ...h, seconds: resumed.history[i].seconds })));
  [swa, resumed].forEach((r) => r.model.dispose());
  assert.equal(tf.memory().numTensors, before, "leaked tensors");
});

test("few-sample options refuse what they cannot do, by name", async () => {
  assert.throws(() => validateConfig({ ...config, layerLrDecay: 0 }), /config.layerLrDecay must be in \(0, 1\]/);
  assert.throws(() => validateConfig({ ...config, rdrop: -1 }), /config.rdrop must be a number >= 0/);
  assert.throws(() => validateConfig({ ...config, swaEpochs: 4 }), /swaEpochs 4 is more than the 3 epochs/);
  assert.throws(
    () => validateConfig({ ...config, swaEpochs: 2, selectMetric: "f1_macro" }),
    /averages the last epochs.*set one/,
  );
  assert.throws(
    () => lossFeeds({ kind: "cross_entropy", rdrop: 1 }, [0, 1, 2], 3),
    /3 rows, not a batch stacked twice/,
  );
  const sets = { texts: ["bad day", "good chair", "so happy"], labels: [["neg"], ["neu", "pos"], ["pos"]] };
  const multi = { multiLabel: true as const, train: sets, validation: sets, labels: TOY_LABELS };
  const m = tiny();
  await assert.rejects(
    train({ ...config, rdrop: 1 }, { data: multi, model: m, tokenizer: toyTokenizer, ...quiet }),
    /--rdrop are for single-label data/,
  );
  m.dispose();
});
