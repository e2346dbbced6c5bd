/**
 * BERT's parameters by name: the list a BertForSequenceClassification must have (Hugging Face names and
 * [out, in] shapes), reading a checkpoint's tensors under those names (with or without the "bert."
 * prefix, old gamma/beta names, extras such as position_ids ignored), and turning variables back into
 * safetensors. Used by lib/model/bert.ts; taught in notebooks/04_model.ipynb.
 *
 *   bertParamShapes(miniLmConfig, 6).length        // 105 parameters
 *   bertParamShapes(miniLmConfig, 6)[0]            // ["bert.embeddings.word_embeddings.weight", [30522, 384]]
 */
import * as tf from "@tensorflow/tfjs";
import { readSafetensors, SafeTensor } from "./safetensors";

/** The config fields the shapes depend on (a subset of BertConfig). */
export interface ShapeConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  intermediate_size: number;
  max_position_embeddings: number;
  type_vocab_size: number;
}

/** Every parameter of BertForSequenceClassification, in the model's order, with its shape. */
export function bertParamShapes(c: ShapeConfig, numLabels: number): Array<[string, number[]]> {
  const h = c.hidden_size;
  const out: Array<[string, number[]]> = [];
  const linear = (n: string, o: number, i: number) => out.push([`${n}.weight`, [o, i]], [`${n}.bias`, [o]]);
  const norm = (n: string) => out.push([`${n}.weight`, [h]], [`${n}.bias`, [h]]);
  out.push(["bert.embeddings.word_embeddings.weight", [c.vocab_size, h]]);
  out.push(["bert.embeddings.position_embeddings.weight", [c.max_position_embeddings, h]]);
  out.push(["bert.embeddings.token_type_embeddings.weight", [c.type_vocab_size, h]]);
  norm("bert.embeddings.LayerNorm");
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    linear(`${l}.attention.self.query`, h, h);
    linear(`${l}.attention.self.key`, h, h);
    linear(`${l}.attention.self.value`, h, h);
    linear(`${l}.attention.output.dense`, h, h);
    norm(`${l}.attention.output.LayerNorm`);
    linear(`${l}.intermediate.dense`, c.intermediate_size, h);
    linear(`${l}.output.dense`, h, c.intermediate_size);
    norm(`${l}.output.LayerNorm`);
  }
  linear("bert.pooler.dense", h, h);
  linear("classifier", numLabels, h);
  return out;
}

/**
 * The Hugging Face name a checkpoint's tensor stands for: sentence-transformers files have no "bert."
 * prefix ("embeddings.word_embeddings.weight"), TF-era files say LayerNorm.gamma/beta.
 */
export function canonicalName(name: string): string {
  let n = name.replace(/\.gamma$/, ".weight").replace(/\.beta$/, ".bias");
  if (/^(embeddings|encoder|pooler)\./.test(n)) n = `bert.${n}`;
  return n;
}

/**
 * Reads a model.safetensors and keys its tensors by canonical name, keeping only the model's own (`wanted`): extras
 * such as position_ids or pretraining heads are skipped.
 */
export function readBertCheckpoint(file: string, wanted: Set<string>): { tensors: Map<string, SafeTensor> } {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, t] of readSafetensors(file).tensors) {
    const c = canonicalName(name);
    if (!wanted.has(c)) continue;
    if (tensors.has(c)) throw new Error(`${file}: tensors "${name}" and another both map to "${c}"`);
    if (t.dtype !== "float32")
      throw new Error(`${file}: tensor "${name}" is ${t.sourceDtype}, expected a floating-point weight`);
    tensors.set(c, t);
  }
  return { tensors };
}

/** Checks a tensor's shape against the expected one; the error names the tensor and both shapes. */
export function checkShape(name: string, expected: number[], actual: number[], source: string): void {
  if (expected.length !== actual.length || expected.some((d, i) => d !== actual[i]))
    throw new Error(`${source}: weight "${name}" has shape [${actual}] but the config needs [${expected}]`);
}

/** Reads float32 tensors (a model's variables) back as safetensors entries (one dataSync each; for saving). */
export function toSafeTensors(params: Map<string, tf.Tensor>): Map<string, SafeTensor> {
  const out = new Map<string, SafeTensor>();
  for (const [name, v] of params) {
    out.set(name, { dtype: "float32", shape: v.shape.slice(), data: v.dataSync() as Float32Array });
  }
  return out;
}

/**
 * Parameter counts per block, for the notebook's table: embeddings, each encoder layer, pooler, classifier.
 *
 *   countParameters(model.params)  // { embeddings: 11918592, "layer 0": 1774464, ..., pooler: 147840, classifier: 2310 }
 */
export function countParameters(params: Map<string, { shape: number[] }>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, v] of params) {
    const m = /^bert\.encoder\.layer\.(\d+)\./.exec(name);
    const block = m ? `layer ${m[1]}` : /^bert\.(embeddings|pooler)\./.exec(name)?.[1] ?? name.split(".")[0];
    out[block] = (out[block] ?? 0) + v.shape.reduce((a, b) => a * b, 1);
  }
  return out;
}
