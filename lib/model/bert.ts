/**
 * BERT for sequence classification in TensorFlow.js, equal to Hugging Face's
 * `BertForSequenceClassification` (checked against PyTorch fixtures in test/bert*.test.ts), and the
 * loading/saving of its Hugging Face model folders. Taught in notebooks/04_model.ipynb.
 *
 * The model is lib/nn/bert_def.ts's forward pass (embeddings → N encoder layers → pooler → classifier),
 * run here with the tfjs building blocks of lib/nn/ops.ts. Dropout only when `training`; a `seed` makes
 * every dropout mask reproducible.
 *
 *   const model = await loadBertForSequenceClassification("models/all-MiniLM-L6-v2", { labels, seed: 17 });
 *   const logits = model.forward({ input_ids, attention_mask });   // [batch, 6]
 *   const loss = crossEntropyLoss(logits, [0, 1]);                  // from lib/nn/ops.ts
 *   const { value, grads } = tf.variableGrads(() => crossEntropyLoss(model.forward(batch, { training: true, seed: step }), labels));
 *
 * Weights are tf.Variables named and shaped as in Hugging Face (`model.params`, linear weights [out, in]).
 * On native TensorFlow, prediction (eval mode, no gradient tape) runs the whole forward as one
 * TensorFlow graph lowered from the same definition (lib/graph/bert_graph.ts: one call instead of ~300), fed
 * the model's weights; `{ graph: false }` or `BERTLAB_GRAPH=0` runs it op by op, as the tape always does.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import {
  linear,
  embedding,
  gelu,
  layerNorm,
  dropout,
  attentionProbs,
  attentionContext,
  additiveMask,
  fastInference,
  checkIds,
  siteSeed,
} from "../nn/ops";
import { bertForward, BertForwardInputs, BertOps } from "../nn/bert_def";
import { bertParamShapes, readBertCheckpoint, checkShape, toSafeTensors } from "../nn/weights";
import { writeSafetensors, SafeTensor } from "../nn/safetensors";
import { writeJsonAtomic } from "../core/fsutil";
import { labelsOf, readConfig } from "./run_folder";
import { inferenceGraph } from "../graph/bert_graph";
import { GraphOutput, GraphPrecision } from "../graph/lowering";
import { packing } from "../graph/rows";
import { GraphSession } from "../graph/session";

export { crossEntropyLoss } from "../nn/ops";

export interface BertConfig {
  vocab_size: number;
  hidden_size: number;
  num_hidden_layers: number;
  num_attention_heads: number;
  intermediate_size: number;
  hidden_act: string;
  hidden_dropout_prob: number;
  attention_probs_dropout_prob: number;
  max_position_embeddings: number;
  type_vocab_size: number;
  layer_norm_eps: number;
  initializer_range: number;
  pad_token_id?: number;
  classifier_dropout?: number | null;
  id2label?: Record<string, string>;
  label2id?: Record<string, number>;
}

/** int32 [batch, seq] tensors, Hugging Face's names. token_type_ids default to zeros. */
export interface BertInputs {
  input_ids: tf.Tensor2D;
  attention_mask: tf.Tensor2D;
  token_type_ids?: tf.Tensor2D;
}

/** Tokenizer output (number[][] rows, as lib/data/tokenize.ts's `encode` gives) as int32 input tensors. Dispose them after use. */
export function toInputs(
  enc: { input_ids: number[][]; attention_mask: number[][]; token_type_ids?: number[][] },
): BertInputs {
  const w = enc.input_ids[0]?.length ?? 0;
  for (const name of ["input_ids", "attention_mask", "token_type_ids"] as const) {
    const rows = enc[name];
    if (rows && rows.length !== enc.input_ids.length)
      throw new Error(`${name} has ${rows.length} rows but input_ids has ${enc.input_ids.length}`);
    rows?.forEach((r, i) => {
      if (r.length !== w)
        throw new Error(`${name} row ${i} has ${r.length} ids but input_ids row 0 has ${w}: pad the batch first`);
    });
  }
  const t = (rows: number[][]) => tf.tensor2d(rows.flat(), [rows.length, w], "int32");
  const out: BertInputs = { input_ids: t(enc.input_ids), attention_mask: t(enc.attention_mask) };
  if (enc.token_type_ids) out.token_type_ids = t(enc.token_type_ids);
  return out;
}

export interface ForwardOptions {
  /** Dropout on (as `model.train()`); off by default (`model.eval()`). */
  training?: boolean;
  /** Makes the dropout masks reproducible; a random one is drawn when training without it. */
  seed?: number;
  /** false: eval mode runs op by op even where it could run as one graph (see the file comment). */
  graph?: boolean;
  /**
   * Also return every layer's attention probabilities [batch, heads, seq, seq] (as Hugging Face's
   * `output_attentions`): `forward` then returns `{ logits, attentions }`. Runs op by op.
   */
  outputAttentions?: boolean;
  /** What the graph's matrix products multiply in (lib/graph/bert_graph.ts); default the model's `precision`. */
  precision?: GraphPrecision;
}

/** What `forward` returns with `outputAttentions`: the logits and one [batch, heads, seq, seq] tensor per layer. */
type WithAttentions = { logits: tf.Tensor2D; attentions: tf.Tensor4D[] };

/** Whether eval-mode forwards may use graph execution (`BERTLAB_GRAPH=0` turns it off). */
export function graphInference(opts: ForwardOptions = {}): boolean {
  return opts.graph !== false && !opts.outputAttentions && process.env.BERTLAB_GRAPH !== "0" && !opts.training &&
    fastInference() && GraphSession.available();
}

const NUMERIC_FIELDS = [
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "hidden_dropout_prob",
  "attention_probs_dropout_prob",
  "max_position_embeddings",
  "type_vocab_size",
  "layer_norm_eps",
  "initializer_range",
] as const;

/** Checks a parsed config.json is a BERT this module can run; returns it typed. `source` names it in errors. */
export function validateBertConfig(raw: unknown, source = "config"): BertConfig {
  const c = raw as Record<string, unknown>;
  if (!c || typeof c !== "object") throw new Error(`${source}: not a JSON object`);
  if (c.model_type !== undefined && c.model_type !== "bert")
    throw new Error(`${source}: model_type is "${c.model_type}", not "bert": this model is not a BERT`);
  for (const k of NUMERIC_FIELDS) {
    if (typeof c[k] !== "number" || !Number.isFinite(c[k] as number))
      throw new Error(`${source}: "${k}" is missing or not a number (${JSON.stringify(c[k])})`);
  }
  const hidden = c.hidden_size as number, heads = c.num_attention_heads as number;
  if (hidden % heads !== 0)
    throw new Error(`${source}: hidden_size ${hidden} is not a multiple of num_attention_heads ${heads}`);
  if (c.hidden_act !== "gelu")
    throw new Error(`${source}: hidden_act "${c.hidden_act}" is not supported (only "gelu", exact, as BERT uses)`);
  const positions = c.position_embedding_type;
  if (positions !== undefined && positions !== "absolute")
    throw new Error(`${source}: position_embedding_type "${positions}" is not supported (only "absolute")`);
  return c as unknown as BertConfig;
}

export class BertForSequenceClassification {
  readonly config: BertConfig;
  /** labels[i] is the name of class i (= config.id2label[i]). */
  readonly labels: string[];
  /** Every weight as a tf.Variable under its Hugging Face name, e.g. "bert.encoder.layer.0.attention.self.query.weight". */
  readonly params: Map<string, tf.Variable>;
  /**
   * What eval-mode forwards on the TensorFlow graph multiply in: "bf16" where training or serving chose it
   * (lib/graph/precision.ts decides). The weights stay float32 either way; op-by-op forwards are float32.
   */
  precision: GraphPrecision = "fp32";

  constructor(config: BertConfig, labels: string[], params: Map<string, tf.Variable>) {
    this.config = {
      ...config,
      id2label: Object.fromEntries(labels.map((l, i) => [String(i), l])),
      label2id: Object.fromEntries(labels.map((l, i) => [l, i])),
    };
    this.labels = labels.slice();
    for (const [name, shape] of bertParamShapes(config, labels.length)) {
      const v = params.get(name);
      if (!v) throw new Error(`BertForSequenceClassification: weight "${name}" is missing`);
      checkShape(name, shape, v.shape, "BertForSequenceClassification");
    }
    this.params = params;
  }

  /** Checks the inputs' ranks, types and shapes; returns [batch, seq]. */
  checkInputs(inputs: BertInputs): [number, number] {
    const ids = inputs.input_ids;
    if (!ids || ids.rank !== 2)
      throw new Error(`input_ids must be a 2-D [batch, seq] tensor, got shape [${ids?.shape}]`);
    if (ids.dtype !== "int32") throw new Error(`input_ids must be int32, got ${ids.dtype}`);
    const [b, s] = ids.shape;
    for (const k of ["attention_mask", "token_type_ids"] as const) {
      const t = inputs[k];
      if (t && (t.shape.length !== 2 || t.shape[0] !== b || t.shape[1] !== s))
        throw new Error(`${k} has shape [${t.shape}] but input_ids has [${ids.shape}]`);
    }
    if (!inputs.attention_mask) throw new Error("attention_mask is missing");
    if (s > this.config.max_position_embeddings)
      throw new Error(`sequence length ${s} exceeds max_position_embeddings ${this.config.max_position_embeddings}`);
    return [b, s];
  }

  /** The encoder's outputs: last_hidden_state [batch, seq, hidden] and pooler_output [batch, hidden]. */
  hidden(inputs: BertInputs, opts: ForwardOptions = {}): { lastHiddenState: tf.Tensor3D; pooled: tf.Tensor2D } {
    const viaGraph = graphInference(opts) && this.runGraph(inputs, ["last_hidden_state", "pooled"], opts.precision);
    const [last, pooled] = viaGraph || tf.tidy(() => {
      const o = this.eager(inputs, opts);
      return [o.lastHiddenState, o.pooled];
    });
    return { lastHiddenState: last as tf.Tensor3D, pooled: pooled as tf.Tensor2D };
  }

  /** Logits [batch, num_labels] (with `outputAttentions`, WithAttentions). Call inside tf.variableGrads to train. */
  forward(inputs: BertInputs, opts: ForwardOptions & { outputAttentions: true }): WithAttentions;
  forward(inputs: BertInputs, opts?: ForwardOptions): tf.Tensor2D;
  forward(inputs: BertInputs, opts: ForwardOptions = {}): tf.Tensor2D | WithAttentions {
    const viaGraph = graphInference(opts) && this.runGraph(inputs, ["logits"], opts.precision);
    if (viaGraph) return viaGraph[0] as tf.Tensor2D;
    const out = tf.tidy(() => {
      const o = this.eager(inputs, opts);
      return [o.logits, ...(opts.outputAttentions ? o.attentions : [])];
    });
    if (!opts.outputAttentions) return out[0] as tf.Tensor2D;
    return { logits: out[0] as tf.Tensor2D, attentions: out.slice(1) as tf.Tensor4D[] };
  }

  /** lib/nn/bert_def.ts's forward pass with tfjs operations (call inside tf.tidy). */
  private eager(inputs: BertInputs, opts: ForwardOptions) {
    const [b, s] = this.checkInputs(inputs);
    const H = this.config.hidden_size;
    // A training call without a seed still needs one seed for all its sites.
    const seed = opts.seed ?? (opts.training ? Math.floor(Math.random() * 2 ** 31) : 0);
    let site = 0;
    const ops: BertOps<tf.Tensor> = {
      param: (name) => this.params.get(name)!,
      embed: (table, ids) => embedding(table as tf.Tensor2D, ids),
      positions: (table) => tf.slice(table, [0, 0], [s, H]),
      add: (x, y) => tf.add(x, y),
      linear: (x, w, bias) => linear(x, w as tf.Tensor2D, bias as tf.Tensor1D),
      layerNorm: (x, g, beta, eps) => layerNorm(x, g as tf.Tensor1D, beta as tf.Tensor1D, eps),
      gelu,
      tanh: (x) => tf.tanh(x),
      dropout: (x, rate) => {
        const at = site++;
        return opts.training && rate > 0 ? dropout(x, rate, siteSeed(seed, at)) : x;
      },
      attentionProbs: (q, k, mask, heads) =>
        attentionProbs(q as tf.Tensor3D, k as tf.Tensor3D, mask as tf.Tensor4D, heads),
      attentionContext: (probs, v, heads) => attentionContext(probs as tf.Tensor4D, v as tf.Tensor3D, heads),
      first: (h) => tf.reshape(tf.slice(h, [0, 0, 0], [b, 1, H]), [b, H]),
    };
    return bertForward(ops, this.config, forwardInputs(inputs));
  }

  /**
   * The eval-mode forward as one TensorFlow graph, fed this model's current weights; undefined (after one
   * warning) if the graph cannot be loaded, so that prediction still works, op by op. Without
   * "last_hidden_state" the packed graph runs: no padding rows, and the last layer at [CLS] only.
   */
  private runGraph(inputs: BertInputs, outputs: GraphOutput[], precision = this.precision): tf.Tensor[] | undefined {
    this.checkInputs(inputs);
    const packed = !outputs.includes("last_hidden_state");
    const session = GraphSession.memo(
      JSON.stringify(["inference", this.config, packed, precision]),
      () => inferenceGraph(this.config, { packed, precision }),
      (e) => console.warn(`bertlab: graph execution unavailable, predicting op by op instead (${e.message})`),
    );
    if (!session) return undefined;
    checkIds(inputs.input_ids, this.config.vocab_size, "embedding");
    if (inputs.token_type_ids) checkIds(inputs.token_type_ids, this.config.type_vocab_size, "embedding");
    return tf.tidy(() => {
      const feeds = { ...forwardInputs(inputs), ...(packed ? packing(inputs.attention_mask) : {}) };
      return session.run({ ...feeds, ...Object.fromEntries(this.params) }, outputs);
    });
  }

  /** Frees every weight. */
  dispose(): void {
    for (const v of this.params.values()) v.dispose();
    this.params.clear();
  }
}

/** bertForward's inputs for the model's (token type 0 where none are given); call inside tf.tidy. */
function forwardInputs({ input_ids, attention_mask, token_type_ids }: BertInputs): BertForwardInputs<tf.Tensor> {
  return { input_ids, token_type_ids: token_type_ids ?? tf.zerosLike(input_ids), mask: additiveMask(attention_mask) };
}

/**
 * Initial value of one parameter as Hugging Face's `_init_weights`: weights of linear layers and
 * embeddings N(0, initializer_range²) (the padding row zero), biases 0, LayerNorm weight 1.
 */
function initParam(name: string, shape: number[], c: BertConfig, seed: number): tf.Tensor {
  if (/LayerNorm\.weight$/.test(name)) return tf.ones(shape);
  if (/\.bias$/.test(name)) return tf.zeros(shape);
  return tf.tidy(() => {
    const w = tf.randomNormal(shape, 0, c.initializer_range, "float32", seed), pad = c.pad_token_id;
    if (name !== "bert.embeddings.word_embeddings.weight" || pad === undefined || pad >= shape[0]) return w;
    const keep = tf.oneHot(tf.tensor1d([pad], "int32"), shape[0]).reshape([shape[0], 1]);
    return tf.mul(w, tf.sub(1, keep));
  });
}

function checkLabels(labels: string[]): void {
  if (!Array.isArray(labels) || labels.length < 1) throw new Error("labels must be a non-empty array of class names");
  if (new Set(labels).size !== labels.length) throw new Error(`labels must be distinct: ${JSON.stringify(labels)}`);
}

/** A BERT with freshly initialised weights (seeded), for tests and from-scratch experiments. */
export function randomBert(
  config: BertConfig,
  opts: { labels: string[]; seed: number },
): BertForSequenceClassification {
  const c = validateBertConfig(config);
  checkLabels(opts.labels);
  const init = (name: string, shape: number[], i: number) => initParam(name, shape, c, siteSeed(opts.seed, i));
  return modelFrom(c, opts.labels, bertParamShapes(c, opts.labels.length), init);
}

/**
 * Loads config.json + model.safetensors from a Hugging Face model folder. The weights may have the
 * "bert." prefix or not (sentence-transformers); extras (position_ids, pretraining heads) are ignored.
 * A classifier head missing from the checkpoint is initialised N(0, initializer_range²) from `seed`,
 * bias 0. Errors name the file and the weight at fault (missing, wrong shape).
 */
export async function loadBertForSequenceClassification(
  modelDir: string,
  opts: { labels: string[]; seed: number; transferHead?: boolean },
): Promise<BertForSequenceClassification> {
  checkLabels(opts.labels);
  const cfgFile = path.join(modelDir, "config.json");
  const config = validateBertConfig(readConfig(modelDir, "not a Hugging Face model folder"), cfgFile);
  const weightsFile = path.join(modelDir, "model.safetensors");
  if (!fs.existsSync(weightsFile))
    throw new Error(`${modelDir}: no model.safetensors (only safetensors weights are read)`);
  const shapes = bertParamShapes(config, opts.labels.length);
  const { tensors } = readBertCheckpoint(weightsFile, new Set(shapes.map(([n]) => n)));
  const head = tensors.get("classifier.weight"), names = labelsOf(config);
  // A trained head must belong to these labels (generic LABEL_i names say nothing, so pass), unless it moves to them.
  const generic = names.every((l) => /^LABEL_\d+$/.test(l)), same = names.every((l, i) => l === opts.labels[i]);
  if (head && !opts.transferHead && names.length === opts.labels.length && !generic && !same) {
    const [saved, wanted] = [JSON.stringify(names), JSON.stringify(opts.labels)];
    throw new Error(`${cfgFile}: the checkpoint's classifier was trained for labels ${saved}, not ${wanted}`);
  }
  const moveHead = head && opts.transferHead;
  if (moveHead && head.shape[0] !== names.length)
    throw new Error(
      `${weightsFile}: classifier.weight has ${head.shape[0]} rows for ${names.length} labels in config.json`,
    );
  return modelFrom(config, opts.labels, shapes, (name, shape, i) => {
    const t = tensors.get(name);
    if (name.startsWith("classifier.") && (!t || moveHead)) {
      const fresh = initParam(name, shape, config, siteSeed(opts.seed, i));
      return t ? moveRows(fresh, t, names, opts.labels) : fresh;
    }
    if (!t) throw new Error(`${weightsFile}: weight "${name}" is missing (nor found without the "bert." prefix)`);
    checkShape(name, shape, t.shape, weightsFile);
    return tf.tensor(t.data, t.shape, "float32");
  });
}

/** A model with the weights `value` makes (all freed again if one fails). */
function modelFrom(
  config: BertConfig,
  labels: string[],
  shapes: [string, number[]][],
  value: (name: string, shape: number[], i: number) => tf.Tensor,
): BertForSequenceClassification {
  const params = new Map<string, tf.Variable>();
  try {
    shapes.forEach(([name, shape], i) => {
      const t = value(name, shape, i);
      params.set(name, tf.variable(t, true));
      t.dispose();
    });
  } catch (e) {
    for (const v of params.values()) v.dispose();
    throw e;
  }
  return new BertForSequenceClassification(config, labels, params);
}

/**
 * A fine-tuned classifier moved to another label set (`--init-from`): `fresh` (a new head's weight or bias) with
 * the rows of labels that `saved` also has copied from the saved head `src` to their new places.
 */
function moveRows(fresh: tf.Tensor, src: SafeTensor, saved: string[], labels: string[]): tf.Tensor {
  const values = fresh.dataSync().slice(), shape = fresh.shape, width = shape[1] ?? 1;
  fresh.dispose();
  labels.forEach((l, r) => {
    const from = saved.indexOf(l);
    if (from >= 0) values.set(src.data.subarray(from * width, (from + 1) * width), r * width);
  });
  return tf.tensor(values, shape, "float32");
}

/**
 * Re-initialises the top `k` encoder layers and the pooler as a fresh model's (seeded), in place: their
 * pretrained weights are specific to the pretraining tasks and transfer worst to a small data set (Zhang et al.,
 * "Revisiting Few-sample BERT Fine-tuning", ICLR 2021). Returns the names of the re-initialised weights.
 */
export function reinitTopLayers(model: BertForSequenceClassification, k: number, seed: number): string[] {
  const layers = model.config.num_hidden_layers;
  if (!Number.isInteger(k) || k < 0 || k > layers)
    throw new Error(`--reinit-layers wants 0 to ${layers} (this model's layers), got ${k}`);
  const top = (name: string) => {
    const m = /^bert\.encoder\.layer\.(\d+)\./.exec(name);
    return k > 0 && (m ? Number(m[1]) >= layers - k : name.startsWith("bert.pooler."));
  };
  const names: string[] = [];
  bertParamShapes(model.config, model.labels.length).forEach(([name, shape], i) => {
    if (!top(name)) return;
    const fresh = initParam(name, shape, model.config, siteSeed(seed, i));
    model.params.get(name)!.assign(fresh);
    fresh.dispose();
    names.push(name);
  });
  return names;
}

/**
 * Which of `labels` keep a trained classifier row from a head saved for `saved` (same name), which start fresh.
 *
 *   // saved for CARER's [sadness, joy, love, anger, fear, surprise], loaded for SMILE's labels:
 *   headTransfer(smileLabels, carerLabels)   // { kept: ["surprise"], fresh: ["happy", "not-relevant", "angry", …] }
 */
export function headTransfer(labels: readonly string[], saved: readonly string[]): { kept: string[]; fresh: string[] } {
  return { kept: labels.filter((l) => saved.includes(l)), fresh: labels.filter((l) => !saved.includes(l)) };
}

/**
 * Saves a Hugging Face model folder: config.json (architectures ["BertForSequenceClassification"],
 * id2label, label2id) and model.safetensors ("bert." names, [out, in] weights), each file written
 * atomically. Python's `BertForSequenceClassification.from_pretrained(dir)` loads it.
 */
export async function saveBertForSequenceClassification(
  model: BertForSequenceClassification,
  dir: string,
): Promise<void> {
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, "model.safetensors"), toSafeTensors(model.params), { format: "pt" });
  const config = {
    ...model.config,
    architectures: ["BertForSequenceClassification"],
    model_type: "bert", // id2label and label2id: the constructor set them from model.labels
  };
  delete (config as Record<string, unknown>)._name_or_path;
  writeJsonAtomic(path.join(dir, "config.json"), config);
}
