// Samplers and batches.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as tf from "@tensorflow/tfjs";
import { initBackend } from "../lib/runtime/backend";
import { RandomSampler, SequentialSampler, batches, paddingReport, deriveSeed, makeBatch } from "../lib/data/loader";

test("RandomSampler: a permutation, new each epoch, reproducible, resumable", () => {
  const a = new RandomSampler(10, 17);
  const e1 = a.epochIndices(), e2 = a.epochIndices();
  assert.deepEqual([...e1].sort((x, y) => x - y), [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.notDeepEqual(e1, e2);
  const b = new RandomSampler(10, 17);
  assert.deepEqual(b.epochIndices(), e1);
  const state = b.getState();
  const c = new RandomSampler(10, 17);
  c.setState(state);
  assert.deepEqual(c.epochIndices(), e2);
  assert.notDeepEqual(new RandomSampler(10, 18).epochIndices(), e1);
  assert.throws(() => new RandomSampler(10, 1).setState(state), /seed 17/);
  assert.deepEqual(new SequentialSampler(3).epochIndices(), [0, 1, 2]);
  assert.notEqual(deriveSeed(17, 0, 1), deriveSeed(17, 1, 0));
  assert.equal(deriveSeed(17, 3), deriveSeed(17, 3));
});

test("batches pad to the longest row (or a fixed length) and leak nothing", async () => {
  await initBackend();
  const before = tf.memory().numTensors;
  const enc = {
    input_ids: [[101, 7, 102], [101, 102], [101, 5, 6, 7, 102]],
    attention_mask: [[1, 1, 1], [1, 1], [1, 1, 1, 1, 1]],
  };
  const copy = JSON.parse(JSON.stringify(enc));
  const out = [...batches(enc, [2, 0, 1], [1, 0, 2], { batchSize: 2 })];
  assert.equal(out.length, 2);
  assert.deepEqual(out[0].input_ids.arraySync(), [[101, 102, 0], [101, 7, 102]]);
  assert.deepEqual(out[0].attention_mask.arraySync(), [[1, 1, 0], [1, 1, 1]]);
  assert.deepEqual(out[0].token_type_ids.arraySync(), [[0, 0, 0], [0, 0, 0]]);
  assert.deepEqual(out[0].labels.arraySync(), [0, 2]);
  assert.equal(out[0].input_ids.dtype, "int32");
  assert.deepEqual(out[1].input_ids.shape, [1, 5]);
  out.forEach((b) => b.dispose());
  const fixed = makeBatch(enc, undefined, [0], { batchSize: 1, padding: "max_length", maxLength: 8 });
  assert.deepEqual(fixed.input_ids.shape, [1, 8]);
  fixed.dispose();
  assert.throws(
    () => makeBatch(enc, undefined, [2], { batchSize: 1, padding: "max_length", maxLength: 4 }),
    /5 tokens, more than the padding length 4/,
  );
  assert.throws(() => makeBatch(enc, undefined, [9], { batchSize: 1 }), /index 9 is out of range/);
  assert.deepEqual(enc, copy);
  assert.equal(tf.memory().numTensors, before);
  const r = paddingReport(enc, [0, 1, 2], 2, 256);
  assert.deepEqual([r.realTokens, r.longestTokens, r.fixedTokens], [10, 11, 768]);
});
