/**
 * The tiny random BERT's recipe (test/helpers/tiny_bert.ts) against the fixture PyTorch made from
 * the same recipe (scripts/make_fixtures.py): same names, shapes and float32 values.
 */
import { test } from "node:test";
import * as assert from "node:assert/strict";
import * as fs from "fs";
import * as path from "path";
import { tinyBertConfig, tinyBertShapes, tinyBertWeights } from "./helpers/tiny_bert";

const fixture = JSON.parse(fs.readFileSync(path.join(__dirname, "fixtures/reference/tiny_bert.json"), "utf8"));

test("tiny BERT: parameter names and shapes are PyTorch's, in sorted order", () => {
  const ours = tinyBertShapes().map(([name, shape]) => ({ name, shape }));
  assert.deepEqual(ours, fixture.params);
  assert.equal(ours.length, 41);
});

test("tiny BERT: config matches the fixture's", () => {
  assert.deepEqual(tinyBertConfig, fixture.config);
});

test("tiny BERT: the first 4 values of every parameter equal the fixture's float32 values", () => {
  const w = tinyBertWeights();
  for (const [name, first] of Object.entries(fixture.first_values as Record<string, number[]>)) {
    const got = Array.from(w.get(name)!.values.subarray(0, 4));
    assert.deepEqual(got, first.map(Math.fround), name);
  }
  // LayerNorm weights are 1 + small values; everything else is small
  assert.ok(Math.abs(w.get("bert.embeddings.LayerNorm.weight")!.values[0] - 1) < 0.05);
  assert.equal(w.get("bert.embeddings.word_embeddings.weight")!.values.length, 30522 * 32);
});

test("tiny BERT: each call gives a fresh, identical map", () => {
  const a = tinyBertWeights(), b = tinyBertWeights();
  const name = "classifier.weight";
  assert.notEqual(a.get(name)!.values, b.get(name)!.values);
  assert.deepEqual(a.get(name)!.values, b.get(name)!.values);
});
