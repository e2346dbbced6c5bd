/**
 * BERT inference as one TensorFlow graph, for the native backend: the forward pass of lib/bert.ts
 * (eval mode: no dropout) written as a graph (lib/tfgraph.ts) and run in a TensorFlow session by
 * tfjs-node, one call per batch instead of ~300. The weights are the graph's inputs, fed from the
 * model's own tensors at every call: the graph file holds no weights, one graph serves every model
 * of the same shape, and a fine-tuned weight is used the moment it changes.
 *
 *   const g = bertGraph(config, labels.length);   // { pb, weights: ["bert.embeddings.word_embeddings.weight", …] }
 *   const s = GraphSession.load(g);               // written to a cache folder once, loaded once per process
 *   const [logits] = s.run({ input_ids, token_type_ids, mask }, weightTensors, ["logits"]);
 *
 * Equal to the eager forward within float32 rounding (test/bert_graph.test.ts: 1e-5 on logits),
 * and so to PyTorch's (test/bert_pretrained.test.ts runs both paths against the fixtures).
 */
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { GraphBuilder, dtype, Attr, SignatureTensor } from "./tfgraph";
import { writeFileAtomic } from "./fsutil";
import { CACHE_DIR } from "./paths";

/** The shape fields of a BERT config the graph depends on (lib/bert.ts's BertConfig has them). */
export interface GraphConfig { hidden_size: number; num_hidden_layers: number; num_attention_heads: number; layer_norm_eps: number }

/** The graph's outputs: logits [batch, labels], pooled [batch, hidden], last_hidden_state [batch, seq, hidden]. */
export type GraphOutput = "logits" | "pooled" | "last_hidden_state";

export interface BertGraph {
  /** The SavedModel protocol buffer (saved_model.pb). */
  pb: Uint8Array;
  /**
   * The weights to feed, in order, by key: a Hugging Face parameter name, or a copy laid out for
   * inference that lib/bert.ts derives — `<linear>.weightT` ([in, out]), and per layer
   * `<layer>.qkv.weightT` / `<layer>.qkv.bias` (q, k, v packed, q scaled by 1/√head size).
   */
  weights: string[];
}

const F = dtype("float32"), I32 = dtype("int32");

/** Writes the eval-mode forward of a BERT for sequence classification with `numLabels` classes. */
export function bertGraph(c: GraphConfig, numLabels: number): BertGraph {
  const g = new GraphBuilder();
  const H = c.hidden_size, heads = c.num_attention_heads, dh = H / heads;
  const weights: string[] = [];
  const w = (key: string) => { weights.push(key); return g.placeholder(key, "float32"); };
  const k = (values: number[]) => g.constant(values, [values.length], "int32");
  const add = (a: string, b: string) => g.op("AddV2", [a, b], { T: F });
  const mul = (a: string, b: string) => g.op("Mul", [a, b], { T: F });
  const reshape = (x: string, shape: string) => g.op("Reshape", [x, shape], { T: F, Tshape: I32 });
  const transpose = (x: string, perm: number[]) => g.op("Transpose", [x, k(perm)], { T: F, Tperm: I32 });
  const lastAxis = k([-1]);
  const mean = (x: string) => g.op("Mean", [x, lastAxis], { T: F, Tidx: I32, keep_dims: { b: true } });
  const eps = g.constant([c.layer_norm_eps], []);
  // x [N, H] @ W [H, out] + b: MatMul + BiasAdd, the pair Grappler fuses into one kernel.
  const dense = (x: string, name: string) =>
    g.op("BiasAdd", [g.op("MatMul", [x, w(`${name}.weightT`)], { T: F, transpose_a: { b: false }, transpose_b: { b: false } }), w(`${name}.bias`)], { T: F });
  // (x − mean)·rsqrt(var + eps)·γ + β over the last axis, as lib/ops.ts's layerNorm.
  const layerNorm = (x: string, name: string) => {
    const xc = g.op("Sub", [x, mean(x)], { T: F });
    const rstd = g.op("Rsqrt", [add(mean(g.op("Square", [xc], { T: F })), eps)], { T: F });
    return add(mul(mul(xc, rstd), w(`${name}.weight`)), w(`${name}.bias`));
  };
  const half = g.constant([0.5], []), one = g.constant([1], []), invSqrt2 = g.constant([Math.SQRT1_2], []);
  const gelu = (x: string) => mul(x, mul(add(g.op("Erf", [mul(x, invSqrt2)], { T: F }), one), half));

  // Inputs: ids and token types [batch, seq], the additive mask [batch, 1, 1, seq] (lib/ops.ts's additiveMask).
  const ids = g.placeholder("input_ids", "int32", [null, null]);
  const types = g.placeholder("token_type_ids", "int32", [null, null]);
  const mask = g.placeholder("mask", "float32", [null, 1, 1, null]);
  const bs = g.op("Shape", [ids], { T: I32, out_type: I32 });            // [batch, seq]
  // x[begin:end] (stride 1) with TensorFlow's bit masks: bit i of begin/end_mask ignores that bound on axis i; shrink drops axis i.
  const stridedSlice = (x: string, t: Attr, begin: number[], end: number[], masks: { begin?: number; end?: number; shrink?: number } = {}) =>
    g.op("StridedSlice", [x, k(begin), k(end), k(begin.map(() => 1))], {
      T: t, Index: I32, begin_mask: { i: masks.begin ?? 0 }, end_mask: { i: masks.end ?? 0 }, ellipsis_mask: { i: 0 }, new_axis_mask: { i: 0 }, shrink_axis_mask: { i: masks.shrink ?? 0 },
    });
  const seq = stridedSlice(bs, I32, [1], [2]);                            // [seq]
  const axis0 = g.constant([0], [], "int32");
  const gather = (table: string, idx: string) => g.op("GatherV2", [table, idx, axis0], { Tparams: F, Tindices: I32, Taxis: I32, batch_dims: { i: 0 } });
  const concat = (parts: string[]) => g.op("ConcatV2", [...parts, axis0], { N: { i: parts.length }, T: I32, Tidx: I32 });

  // 1) embeddings: word + position (rows 0..seq-1) + token type, then LayerNorm; rows kept as [batch·seq, H]
  const positions = g.op("Slice", [w("bert.embeddings.position_embeddings.weight"), k([0, 0]), concat([seq, k([-1])])], { T: F, Index: I32 });
  const emb = add(add(gather(w("bert.embeddings.word_embeddings.weight"), ids), positions), gather(w("bert.embeddings.token_type_embeddings.weight"), types));
  let h = layerNorm(reshape(emb, k([-1, H])), "bert.embeddings.LayerNorm");
  const split = concat([bs, k([3, heads, dh])]);                          // [batch, seq, 3, heads, dh]
  const rows = k([-1, H]);
  // 2) encoder layers
  for (let i = 0; i < c.num_hidden_layers; i++) {
    const l = `bert.encoder.layer.${i}`;
    const qkv = transpose(reshape(dense(h, `${l}.qkv`), split), [2, 0, 3, 1, 4]); // [3, batch, heads, seq, dh]
    const q = g.op("Unpack", [qkv], { T: F, num: { i: 3 }, axis: { i: 0 } });
    const probs = g.op("Softmax", [add(g.op("BatchMatMulV2", [q, `${q}:1`], { T: F, adj_x: { b: false }, adj_y: { b: true } }), mask)], { T: F });
    const ctx = reshape(transpose(g.op("BatchMatMulV2", [probs, `${q}:2`], { T: F, adj_x: { b: false }, adj_y: { b: false } }), [0, 2, 1, 3]), rows);
    const a = layerNorm(add(dense(ctx, `${l}.attention.output.dense`), h), `${l}.attention.output.LayerNorm`);
    h = layerNorm(add(dense(gelu(dense(a, `${l}.intermediate.dense`)), `${l}.output.dense`), a), `${l}.output.LayerNorm`);
  }
  // 3) outputs: the hidden states, the pooler (dense + tanh on [CLS]) and the classifier
  const last = reshape(h, concat([bs, k([H])]));
  g.op("Identity", [last], { T: F }, "last_hidden_state");
  const cls = stridedSlice(last, F, [0, 0, 0], [0, 1, 0], { begin: 0b101, end: 0b101, shrink: 0b010 }); // last[:, 0, :]
  const pooled = g.op("Tanh", [dense(cls, "bert.pooler.dense")], { T: F }, "pooled");
  g.op("Identity", [dense(pooled, "classifier")], { T: F }, "logits");

  const t = (name: string, shape: (number | null)[]): SignatureTensor => ({ name, dtype: "float32", shape });
  const pb = g.savedModel({
    inputs: { input_ids: { name: ids, dtype: "int32", shape: [null, null] }, token_type_ids: { name: types, dtype: "int32", shape: [null, null] }, mask: t(mask, [null, 1, 1, null]) },
    outputs: { logits: t("logits", [null, numLabels]), pooled: t("pooled", [null, H]), last_hidden_state: t("last_hidden_state", [null, null, H]) },
  });
  return { pb, weights };
}

/** The parts of tfjs-node's backend used here (NodeJSKernelBackend; not in tfjs's public types). */
interface NodeBackend {
  isUsingGpuDevice: boolean;
  loadSavedModelMetaGraph(dir: string, tags: string): number;
  runSavedModel(id: number, inputs: tf.Tensor[], infos: { name: string; tfDtype: string }[], outputs: string[]): tf.Tensor[];
}

/** Where graphs are written: one folder per graph, named by its hash (same graph, same folder). */
export const GRAPH_CACHE_DIR = path.join(CACHE_DIR, "graphs");

/** A graph loaded into a TensorFlow session; sessions are shared by graph within the process. */
export class GraphSession {
  private static sessions = new Map<string, GraphSession>();
  private readonly infos: { name: string; tfDtype: string }[];

  private constructor(private readonly backend: NodeBackend, private readonly id: number, readonly graph: BertGraph) {
    const feed = (name: string, t: string) => ({ name: `${name}:0`, tfDtype: t });
    this.infos = [feed("input_ids", "DT_INT32"), feed("token_type_ids", "DT_INT32"), feed("mask", "DT_FLOAT"), ...graph.weights.map((n) => feed(n, "DT_FLOAT"))];
  }

  /**
   * True when the active backend can run graphs: native TensorFlow through tfjs-node on the CPU.
   * Not with tfjs-node-gpu: a session reads its inputs on the host, so every call would copy all the
   * weights from the GPU and back; there the op-by-op forward, which keeps them on the GPU, is used.
   */
  static available(): boolean {
    if (tf.getBackend() !== "tensorflow") return false;
    const b = tf.backend() as unknown as Partial<NodeBackend>;
    return typeof b.runSavedModel === "function" && b.isUsingGpuDevice !== true;
  }

  /** Loads `graph` (written to the cache folder first if it is not there). Throws when no native backend runs. */
  static load(graph: BertGraph): GraphSession {
    if (!GraphSession.available()) throw new Error(`graph execution needs the native TensorFlow backend; the active backend is "${tf.getBackend()}"`);
    const hash = crypto.createHash("sha256").update(graph.pb).digest("hex").slice(0, 16);
    const cached = GraphSession.sessions.get(hash);
    if (cached) return cached;
    const dir = path.join(GRAPH_CACHE_DIR, hash);
    const file = path.join(dir, "saved_model.pb");
    // Rewritten unless byte-identical: a damaged or half-copied cache file heals itself (40 KB for MiniLM).
    if (!fs.existsSync(file) || !fs.readFileSync(file).equals(graph.pb)) writeFileAtomic(file, graph.pb);
    const backend = tf.backend() as unknown as NodeBackend;
    const session = new GraphSession(backend, backend.loadSavedModelMetaGraph(dir, "serve"), graph);
    GraphSession.sessions.set(hash, session);
    return session;
  }

  /**
   * Runs the graph: `inputs` int32 ids and token types [batch, seq] and the float32 additive mask
   * [batch, 1, 1, seq]; `weights` in the order of `graph.weights`. Returns the asked outputs.
   */
  run(inputs: { input_ids: tf.Tensor; token_type_ids: tf.Tensor; mask: tf.Tensor }, weights: tf.Tensor[], outputs: GraphOutput[]): tf.Tensor[] {
    if (weights.length !== this.graph.weights.length) throw new Error(`graph: ${weights.length} weights fed, the graph takes ${this.graph.weights.length}`);
    return this.backend.runSavedModel(this.id, [inputs.input_ids, inputs.token_type_ids, inputs.mask, ...weights], this.infos, outputs.map((o) => `${o}:0`));
  }
}
