// --group-by-length: lib/data/loader.ts's lengthGroupedIndices and LengthGroupedSampler against Hugging Face's
// get_length_grouped_indices (fixture: scripts/make_length_group_fixtures.py, transformers on PyTorch).
import { test, after } from "node:test";
import assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { randomBert, BertInputs, ForwardOptions } from "../lib/model/bert";
import { DEFAULT_CONFIG, TrainConfig } from "../lib/config/config";
import { lengthGroupedIndices, LengthGroupedSampler, RandomSampler, Rng, paddingReport } from "../lib/data/loader";
import { train } from "../lib/train/train";
import { TrainData } from "../lib/data/data";
import { TokenizerLike } from "../lib/data/tokenize";
import { tinyBertConfig } from "./helpers/tiny_bert";
import { stopAndResume } from "./helpers/resume";

interface Case {
  name: string;
  lengths: number[];
  batchSize: number;
  megaBatchMult: number | null;
  seed: number;
  megaBatchSize: number;
  longestInMegaBatch: number;
  perm: number[];
  expected: number[];
}
const FIXTURE = path.join(__dirname, "fixtures", "loader", "length_grouped.json");
const fixture = JSON.parse(fs.readFileSync(FIXTURE, "utf8")) as { cases: Case[] };

test("lengthGroupedIndices equals Hugging Face's get_length_grouped_indices given torch's permutation", () => {
  assert.equal(fixture.cases.length, 7);
  for (const c of fixture.cases) {
    const lengths = [...c.lengths], perm = [...c.perm];
    const got = lengthGroupedIndices(lengths, c.batchSize, perm, c.megaBatchMult ?? undefined);
    assert.deepEqual(got, c.expected, c.name);
    assert.deepEqual([lengths, perm], [c.lengths, c.perm], `${c.name}: inputs unchanged`);
    // The longest example of all comes first, wherever it was drawn.
    assert.equal(c.lengths[got[0]], Math.max(...c.lengths), c.name);
  }
  // The fixture exercises the cap (50 batches), the default for SMILE's size (9) and the swap from a later mega-batch.
  assert.deepEqual(fixture.cases.map((c) => c.megaBatchSize / c.batchSize), [9, 9, 50, 2, 1, 5, 1]);
  assert.ok(fixture.cases.some((c) => c.longestInMegaBatch > 0));
});

test("lengthGroupedIndices: bad input is named", () => {
  assert.throws(() => lengthGroupedIndices([1, 2], 2, [0]), /1 indices for 2 lengths/);
  assert.throws(() => lengthGroupedIndices([1, 2], 0, [0, 1]), /batchSize must be a positive integer, got 0/);
  assert.deepEqual(lengthGroupedIndices([], 4, []), []);
});

test("LengthGroupedSampler: RandomSampler's order regrouped, new each epoch, resumable; far less padding", () => {
  const lengths = fixture.cases[0].lengths; // SMILE-shaped token counts
  const grouped = new LengthGroupedSampler(lengths, 32, 17), random = new RandomSampler(lengths.length, 17);
  const e1 = grouped.epochIndices(), r1 = random.epochIndices();
  assert.deepEqual(e1, lengthGroupedIndices(lengths, 32, r1));
  const state = grouped.getState();
  const e2 = grouped.epochIndices();
  assert.notDeepEqual(e2, e1);
  assert.deepEqual([...e2].sort((a, b) => a - b), lengths.map((_, i) => i));
  const resumed = new LengthGroupedSampler(lengths, 32, 17);
  resumed.setState(state);
  assert.deepEqual(resumed.epochIndices(), e2);
  assert.throws(() => new LengthGroupedSampler(lengths, 32, 18).setState(state), /seed 17/);
  // Padding to each batch's longest: the grouped order computes on far fewer padded positions.
  const enc = { input_ids: lengths.map((n) => new Array<number>(n).fill(1)) };
  const g = paddingReport(enc, e1, 32), r = paddingReport(enc, r1, 32);
  assert.equal(g.realTokens, r.realTokens);
  // Here 53,822 positions against 98,040 (padding 14% of positions against 53%).
  assert.ok(g.longestTokens < 0.6 * r.longestTokens, `${g.longestTokens} vs ${r.longestTokens}`);
  assert.ok((g.longestTokens - g.realTokens) / g.longestTokens < 0.2, `padding ${g.longestTokens - g.realTokens}`);
});

test("train({ groupByLength }) batches in the grouped order, repeats itself, resumes, leaks nothing", async () => {
  await initBackend();
  const labels = ["neg", "pos"];
  // One token a word (hashed into the vocabulary); texts of 1-24 words so that batches differ in width.
  const tokenizer: TokenizerLike = {
    padTokenId: 0,
    encode: (texts) => {
      const id = (w: string) => 1000 + ((w.length * 7919 + w.charCodeAt(0)) % 5000);
      const input_ids = texts.map((t) => [101, ...t.split(" ").map(id), 102]);
      const fill = (v: number) => input_ids.map((r) => r.map(() => v));
      return { input_ids, attention_mask: fill(1), token_type_ids: fill(0) };
    },
  };
  const rng = new Rng(5), words = ["good", "bad", "fine", "awful", "great", "day", "the", "so"];
  const text = () => Array.from({ length: 1 + rng.int(24) }, () => words[rng.int(8)]).join(" ");
  const texts = Array.from({ length: 40 }, text);
  const mood = (t: string) => (t.includes("good") ? "pos" : "neg");
  const data: TrainData = {
    train: { texts, labels: texts.map(mood) },
    validation: { texts: texts.slice(0, 6), labels: texts.slice(0, 6).map(mood) },
    labels,
  };
  const config: TrainConfig = {
    ...DEFAULT_CONFIG,
    epochs: 2,
    batchSize: 4,
    evalBatchSize: 8,
    lr: 1e-3,
    logSamples: 0,
    groupByLength: true,
  };
  const model = () => {
    const m = randomBert(tinyBertConfig, { labels, seed: 17 });
    const widths: number[] = [];
    const forward = m.forward.bind(m) as (x: BertInputs, o?: ForwardOptions) => tf.Tensor2D;
    m.forward = ((x: BertInputs, o?: ForwardOptions) => {
      if (o?.training) widths.push(x.input_ids.shape[1]);
      return forward(x, o);
    }) as typeof m.forward;
    return { m, widths };
  };
  // The spy sees training batches on the tape path; the graph step takes the same batches, from the same sampler.
  const graphSetting = process.env.BERTLAB_GRAPH;
  process.env.BERTLAB_GRAPH = "0";
  after(() => {
    if (graphSetting === undefined) delete process.env.BERTLAB_GRAPH; else process.env.BERTLAB_GRAPH = graphSetting;
  });
  const before = tf.memory().numTensors;
  const a = model();
  const run = await train(config, { data, model: a.m, tokenizer, log: () => {} });
  // The widths the model saw are those of the grouped order, epoch by epoch.
  const lengths = tokenizer.encode(texts).input_ids.map((r) => r.length);
  const sampler = new LengthGroupedSampler(lengths, 4, 17);
  const expected = [0, 1].flatMap(() => {
    const order = sampler.epochIndices();
    return Array.from({ length: 10 }, (_, i) => Math.max(...order.slice(4 * i, 4 * i + 4).map((j) => lengths[j])));
  });
  assert.deepEqual(a.widths, expected);
  // Same seed → same numbers; an interrupted run resumed from its checkpoint → the same numbers too.
  type Curve = { trainLoss: number; validation: { loss: number; f1Weighted: number } }[];
  const numbers = (h: Curve) => h.map((r) => [r.trainLoss, r.validation.loss, r.validation.f1Weighted]);
  const { runDir } = await stopAndResume(
    config,
    { data, model: () => model().m, tokenizer },
    { full: run, same: (r) => numbers(r.history) },
  );
  run.model.dispose();
  fs.rmSync(runDir, { recursive: true, force: true });
  assert.equal(tf.memory().numTensors, before);
});
