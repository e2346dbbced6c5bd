/**
 * The tiny random BERT of test/fixtures/reference/tiny_bert.json, rebuilt from its recipe: plain
 * data (no TensorFlow.js), so model tests can load it into whatever they test.
 *
 *   import { tinyBertConfig, tinyBertWeights } from "./helpers/tiny_bert";
 *   const w = tinyBertWeights();   // Map of 41 parameters, e.g.
 *   w.get("bert.embeddings.LayerNorm.bias")  // { shape: [32], values: Float32Array [-0.0479597..., -0.0483452..., ...] }
 *
 * Recipe (the same words as in scripts/make_fixtures.py, which made the fixture with PyTorch):
 * iterate the parameter names (Hugging Face BertForSequenceClassification names, "bert." prefix,
 * parameters only) in sorted order; fill each parameter row-major from ONE stream shared by all:
 * state = 12345; per element state = (1664525 * state + 1013904223) mod 2^32,
 * v = (state / 2^32 - 0.5) * 0.1 in float64, element = float32(v), or float32(1 + v) for names
 * ending in "LayerNorm.weight". Evaluation mode (no dropout) in the fixture.
 */
import { bertParamShapes } from "../../lib/nn/weights";

/** The tiny model's config.json (hidden 32, 2 layers, 4 heads; BERT's real vocabulary size). */
export const tinyBertConfig = {
  architectures: ["BertForSequenceClassification"],
  model_type: "bert",
  vocab_size: 30522,
  hidden_size: 32,
  num_hidden_layers: 2,
  num_attention_heads: 4,
  intermediate_size: 64,
  hidden_act: "gelu",
  hidden_dropout_prob: 0.1,
  attention_probs_dropout_prob: 0.1,
  max_position_embeddings: 128,
  type_vocab_size: 2,
  layer_norm_eps: 1e-12,
  initializer_range: 0.02,
  pad_token_id: 0,
  id2label: { "0": "neg", "1": "neu", "2": "pos" } as Record<string, string>,
  label2id: { neg: 0, neu: 1, pos: 2 } as Record<string, number>,
};

/** The tiny model's labels, in id order. */
export const tinyBertLabels = ["neg", "neu", "pos"];

/**
 * Hugging Face parameter names and shapes ([out, in] for linear weights), in sorted order: the recipe's
 * fill order. The names come from lib/nn/weights.ts; test/tiny_bert.test.ts checks them against the
 * fixture's list, which PyTorch wrote.
 */
export function tinyBertShapes(config = tinyBertConfig): Array<[string, number[]]> {
  // plain string order (UTF-16 code units), which for these ASCII names is Python's sorted()
  return bertParamShapes(config, Object.keys(config.id2label).length).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

/** The weights by the recipe above: a fresh Map each call (about 1M values, ~20 ms). */
export function tinyBertWeights(): Map<string, { shape: number[]; values: Float32Array }> {
  const out = new Map<string, { shape: number[]; values: Float32Array }>();
  let state = 12345;
  for (const [name, shape] of tinyBertShapes()) {
    const n = shape.reduce((a, b) => a * b, 1);
    const values = new Float32Array(n);
    const one = name.endsWith("LayerNorm.weight") ? 1 : 0;
    for (let i = 0; i < n; i++) {
      // 1664525 * state < 2^53, so this float64 product is exact; % keeps it in [0, 2^32)
      state = (1664525 * state + 1013904223) % 4294967296;
      const v = (state / 4294967296 - 0.5) * 0.1;
      values[i] = one + v; // Float32Array stores Math.fround(one + v), as numpy's astype(float32)
    }
    out.set(name, { shape, values });
  }
  return out;
}
