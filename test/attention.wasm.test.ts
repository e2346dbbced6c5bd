// Attention probabilities (`forward(x, { outputAttentions: true })`) against Hugging Face's
// output_attentions (test/fixtures/reference/attentions.json, scripts/make_probe_fixtures.py), with
// padding, on the tiny random BERT and on MiniLM; and lib/teach/attention_plot.ts's pictures of them.
// Runs on the default backend and on wasm (`npm run test:wasm`): their attention code paths differ.
import { test, before } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { BertForSequenceClassification, BertConfig, loadBertForSequenceClassification } from "../lib/model/bert";
import { loadTokenizer, Tokenizer } from "../lib/data/tokenize";
import {
  attentionOf,
  attentionFigure,
  clsAttentionFigure,
  meanOverHeads,
  AttentionMaps,
} from "../lib/teach/attention_plot";
import { plotHtml } from "../lib/view/plot";
import { ROOT } from "../lib/core/paths";
import { tinyBertConfig, tinyBertLabels, tinyBertWeights } from "./helpers/tiny_bert";

const FIX = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/attentions.json"), "utf8"));
const MODEL_DIR = path.join(ROOT, FIX.minilm.model);
const skip = fs.existsSync(path.join(MODEL_DIR, "model.safetensors")) ?
  false
  : `${MODEL_DIR} missing: run scripts/setup.sh`;

before(async () => {
  await initBackend();
});

function tinyModel(): BertForSequenceClassification {
  const params = new Map<string, tf.Variable>();
  for (const [name, { shape, values }] of tinyBertWeights()) {
    params.set(name, tf.variable(tf.tensor(values, shape), true));
  }
  return new BertForSequenceClassification(tinyBertConfig as BertConfig, tinyBertLabels, params);
}

/** Our attentions for a fixture case vs PyTorch's, every probability within 1e-5; returns the worst difference. */
interface AttentionCase {
  inputs: Record<string, number[][]>;
  shape: number[];
  attentions: number[][][][][];
}

function compare(model: BertForSequenceClassification, ref: AttentionCase): number {
  const x = {
    input_ids: tf.tensor2d(ref.inputs.input_ids, undefined, "int32"),
    attention_mask: tf.tensor2d(ref.inputs.attention_mask, undefined, "int32"),
    token_type_ids: tf.tensor2d(ref.inputs.token_type_ids, undefined, "int32"),
  };
  const before = tf.memory().numTensors;
  const { logits, attentions } = model.forward(x, { outputAttentions: true });
  assert.equal(attentions.length, ref.attentions.length, "one tensor per layer");
  let worst = 0;
  attentions.forEach((a, l) => {
    assert.deepEqual(a.shape, ref.shape, `layer ${l} shape`);
    const ours = a.dataSync(), theirs = ref.attentions[l].flat(3);
    assert.equal(ours.length, theirs.length);
    for (let i = 0; i < ours.length; i++) {
      const d = Math.abs(ours[i] - theirs[i]);
      worst = Math.max(worst, d);
      assert.ok(d <= 1e-5, `layer ${l} flat index ${i}: ${ours[i]} vs ${theirs[i]}`);
    }
  });
  // padded keys get exactly nothing
  const mask = ref.inputs.attention_mask;
  attentions.forEach((a) => {
    const v = a.arraySync() as number[][][][];
    v.forEach((b, i) => b.forEach((h) => h.forEach((row) => row.forEach((p, k) => {
      if (mask[i][k] === 0) assert.equal(p, 0);
    }))));
  });
  tf.dispose([logits, ...attentions]);
  assert.equal(tf.memory().numTensors, before, "forward with attentions leaked tensors");
  tf.dispose(Object.values(x));
  return worst;
}

test("tiny BERT: attention probabilities equal PyTorch's output_attentions within 1e-5, padding included", () => {
  assert.ok(FIX.tiny.inputs.attention_mask.some((r: number[]) => r.includes(0)), "the fixture has padding");
  const model = tinyModel();
  const worst = compare(model, FIX.tiny);
  assert.ok(worst < 1e-5);
  model.dispose();
});

test("MiniLM: 6 layers × 12 heads of attention equal PyTorch's within 1e-5, with padding", { skip }, async () => {
  assert.ok(FIX.minilm.inputs.attention_mask[0].includes(0), "the first text is padded");
  const model = await loadBertForSequenceClassification(MODEL_DIR, { labels: ["a", "b"], seed: 1 });
  const worst = compare(model, FIX.minilm);
  assert.ok(worst < 1e-5, `worst difference ${worst}`);
  model.dispose();
});

let tok: Tokenizer | undefined;
async function tokenizer(): Promise<Tokenizer> {
  return (tok ??= await loadTokenizer(MODEL_DIR));
}

test("attentionOf: tokens, zero on [PAD], rows sum to 1, no tensors left, text untouched", { skip }, async () => {
  const model = tinyModel();
  const text = "Loved <b>the</b> museum & café!";
  const before = tf.memory().numTensors;
  const maps = attentionOf(model, await tokenizer(), text, { padTo: 16 });
  assert.equal(tf.memory().numTensors, before, "attentionOf leaked tensors");
  assert.equal(maps.text, text);
  assert.equal(maps.tokens.length, 16);
  assert.equal(maps.tokens[0], "[CLS]");
  assert.equal(maps.tokens[15], "[PAD]");
  assert.equal(maps.attentions.length, 2);
  assert.equal(maps.attentions[0].length, 4);
  for (const layer of maps.attentions)
    for (const head of layer)
      for (const row of head) {
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-5, "a row sums to 1");
        row.forEach((p, k) => {
          if (maps.mask[k] === 0) assert.equal(p, 0, "padding gets no attention");
        });
      }
  assert.ok(Math.abs(Object.values(maps.probabilities).reduce((a, b) => a + b, 0) - 1) < 1e-5);
  assert.throws(() => attentionOf(model, tok!, text, { padTo: 3 }), /padTo 3 is shorter than the text's \d+ tokens/);
  assert.equal(tf.memory().numTensors, before);
  model.dispose();
});

/** A small hand-made AttentionMaps: 2 layers, 2 heads, 3 tokens, the last one padding. */
function handMade(): AttentionMaps {
  const h = (a: number) => [[a, 1 - a, 0], [0.5, 0.5, 0], [1, 0, 0]];
  return {
    text: "x",
    tokens: ["[CLS]", "<b>x</b>", "[PAD]"],
    mask: [1, 1, 0],
    attentions: [[h(0.2), h(0.4)], [h(0.6), h(1)]],
    probabilities: { a: 1 },
  };
}

test("attentionFigure: a heatmap per layer, a layer dropdown, a head slider (mean + each head), escaped tokens", () => {
  const maps = handMade();
  assert.deepEqual(meanOverHeads(maps.attentions[0])[0], [0.30000000000000004, 0.7, 0]);
  const fig = attentionFigure(maps) as any;
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data.map((d: any) => d.visible), [false, true], "the last layer shows first");
  assert.deepEqual(fig.data[1].z[0], [0.8, 0.2, 0], "mean over heads, padding column 0");
  const visible = fig.layout.updatemenus[0].buttons.map((b: any) => b.args[0].visible);
  assert.deepEqual(visible, [[true, false], [false, true]]);
  const steps = fig.layout.sliders[0].steps;
  assert.deepEqual(steps.map((s: any) => s.label), ["mean", "1", "2"]);
  assert.deepEqual(steps[2].args[0].z[0][0], [0.4, 0.6, 0], "head 2 of layer 1");
  assert.deepEqual(steps[1].args[0].z[1][0], [0.6, 0.4, 0], "head 1 of layer 2");
  assert.equal(fig.layout.xaxis.ticktext[1], "&lt;b&gt;x&lt;/b&gt; ·1", "tokens escaped for plotly's markup");
  const html = plotHtml(fig, { includePlotly: false });
  assert.ok(!html.includes("<b>x</b>"), "no raw tag from the text reaches the page");
});

test("clsAttentionFigure: the [CLS] row per layer as bars on stacked axes, padding at 0", () => {
  const fig = clsAttentionFigure(handMade()) as any;
  assert.equal(fig.data.length, 2);
  assert.deepEqual(fig.data.map((d: any) => d.yaxis), ["y", "y2"]);
  assert.deepEqual(fig.data[0].y, [0.3, 0.7, 0]);
  assert.deepEqual(fig.data[1].y, [0.8, 0.2, 0]);
  assert.equal(fig.layout.grid.rows, 2);
});
