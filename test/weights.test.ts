// Tests for lib/nn/weights.ts: parameter names/shapes, name mapping, parameter counts.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bertParamShapes, canonicalName, countParameters, checkShape } from "../lib/nn/weights";
import { tinyBertConfig, tinyBertShapes } from "./helpers/tiny_bert";

const MINILM = {
  vocab_size: 30522,
  hidden_size: 384,
  num_hidden_layers: 6,
  intermediate_size: 1536,
  max_position_embeddings: 512,
  type_vocab_size: 2,
};

test("bertParamShapes: the same names and shapes as the PyTorch model (tiny fixture's list)", () => {
  const ours = bertParamShapes(tinyBertConfig, 3).sort(([a], [b]) => (a < b ? -1 : 1));
  assert.deepEqual(ours, tinyBertShapes());
  const mini = bertParamShapes(MINILM, 6);
  assert.equal(mini.length, 105);
  assert.deepEqual(mini[0], ["bert.embeddings.word_embeddings.weight", [30522, 384]]);
  assert.deepEqual(mini.find(([n]) => n === "bert.encoder.layer.3.intermediate.dense.weight")![1], [1536, 384]);
});

test("canonicalName: adds the bert. prefix, renames gamma/beta, leaves the rest", () => {
  assert.equal(canonicalName("embeddings.word_embeddings.weight"), "bert.embeddings.word_embeddings.weight");
  assert.equal(canonicalName("encoder.layer.0.output.LayerNorm.gamma"), "bert.encoder.layer.0.output.LayerNorm.weight");
  assert.equal(canonicalName("bert.pooler.dense.bias"), "bert.pooler.dense.bias");
  assert.equal(canonicalName("classifier.weight"), "classifier.weight");
  assert.equal(canonicalName("cls.predictions.bias"), "cls.predictions.bias");
});

test("countParameters: per block, summing to MiniLM's 22.7 M with a 6-label head", () => {
  const params = new Map(bertParamShapes(MINILM, 6).map(([n, shape]) => [n, { shape }]));
  const c = countParameters(params);
  assert.deepEqual(Object.keys(c), [
    "embeddings",
    "layer 0",
    "layer 1",
    "layer 2",
    "layer 3",
    "layer 4",
    "layer 5",
    "pooler",
    "classifier",
  ]);
  assert.equal(c.embeddings, (30522 + 512 + 2) * 384 + 2 * 384);
  assert.equal(c["layer 0"], 4 * (384 * 384 + 384) + 2 * (384 * 1536) + 1536 + 384 + 4 * 384);
  assert.equal(c.classifier, 6 * 384 + 6);
  assert.equal(Object.values(c).reduce((a, b) => a + b, 0), 22715526);
});

test("checkShape: names the tensor and both shapes", () => {
  assert.doesNotThrow(() => checkShape("w", [2, 3], [2, 3], "f"));
  assert.throws(
    () => checkShape("w", [2, 3], [3, 2], "f.safetensors"),
    /f\.safetensors: weight "w" has shape \[3,2\] but the config needs \[2,3\]/,
  );
  assert.throws(() => checkShape("w", [6], [6, 1], "f"), /has shape \[6,1\]/);
});
