/**
 * Which rows each recorded block computes: one pass over the recorded forward (lib/graph/graph_ir.ts), before any
 * lowering, that the TensorFlow graph (lib/graph/lowering.ts) and the ONNX export (lib/serve/onnx_export.ts) both
 * follow. Two savings, each exact:
 *   - **packing**: a batch padded to its longest tweet holds padding rows that no real token reads; a packed graph
 *     keeps only the real tokens' rows of every hidden value ([tokens, hidden] instead of [batch·seq, hidden]),
 *     fed as `packing(attention_mask)`, and spreads them back to [batch, heads, seq, …] only where attention needs
 *     every key;
 *   - **the [CLS]-only cut**: a classifier reads the last layer at each sequence's first token only, so the last
 *     layer's queries, attention output, feed-forward block and norms are computed at those rows
 *     (`firstRowsOnly`), while its keys and values still see every token.
 * `rowKinds` says what a value's rows are, and `takesFirstRows` where a cut block must take the first rows of a full
 * value (and its gradient scatter them back).
 *
 *   const cut = firstRowsOnly(recordBert(config, { training: true }), [ir.outputs.logits]);   // ~1/7 of the products
 *   const { tokens, firsts } = packing(batch.attention_mask);
 */
import * as tf from "@tensorflow/tfjs";
import type { IrGraph, IrNode, IrOp } from "./graph_ir";

/** Where a node's argument is read row by row (a row per token, or per sequence): the rows it needs are the rows it makes. */
function readsByRow(n: IrNode, arg: number): boolean {
  if (["add", "gelu", "tanh", "dropout"].includes(n.op)) return true;
  // a linear layer's or LayerNorm's input; attention's queries, and the probabilities' query rows (not keys, values)
  return arg === 0 && ["linear", "layerNorm", "attentionProbs", "attentionContext"].includes(n.op);
}

/** The nodes whose value the `wanted` outputs need only at each sequence's first token ([CLS]): the cut. */
export function firstRowsOnly(ir: IrGraph, wanted: number[]): Set<number> {
  const readersOf = new Map<number, { node: IrNode; arg: number }[]>();
  for (const n of ir.nodes)
    n.inputs.forEach((i, arg) => (readersOf.get(i) ?? readersOf.set(i, []).get(i)!).push({ node: n, arg }));
  const kinds = rowKinds(ir);
  const cut = new Set<number>();
  const want = new Set(wanted);
  for (let id = ir.nodes.length - 1; id >= 0; id--) {
    if (want.has(id) || (kinds[id] !== "token" && kinds[id] !== "probs")) continue;
    const rs = readersOf.get(id) ?? [];
    if (rs.length && rs.every((r) => r.node.op === "first" || (cut.has(r.node.id) && readsByRow(r.node, r.arg))))
      cut.add(id);
  }
  return cut;
}

/**
 * Whether block `n`, computed at the first rows only (in `cut`), reads argument `arg` from a full
 * hidden value and so must take that value's first rows (and scatter its gradient back). Attention
 * probabilities read that way would need their first query row instead: no BERT graph does, so it throws.
 */
export function takesFirstRows(ir: IrGraph, cut: Set<number>, kinds: RowKind[], n: IrNode, arg: number): boolean {
  const i = n.inputs[arg];
  if (!cut.has(n.id) || cut.has(i) || !readsByRow(n, arg) || kinds[i] === "sequence") return false;
  if (kinds[i] !== "token")
    throw new Error(`graph: node ${n.id} (${n.op}) would need the first rows of node ${i} (${ir.nodes[i].op})`);
  return true;
}

/**
 * What a node's rows are: "token" (a hidden value: a row per token), "sequence" (a row per sequence:
 * [CLS] and the pooler and classifier after it), "probs" (attention probabilities, a row per query
 * token), or "none" (inputs, weights).
 */
export type RowKind = "token" | "sequence" | "probs" | "none";
const ROW_KIND: Partial<Record<IrOp, RowKind>> = {
  input: "none",
  param: "none",
  embed: "token",
  positions: "token",
  attentionContext: "token",
  first: "sequence",
  attentionProbs: "probs",
};
export function rowKinds(ir: IrGraph): RowKind[] {
  const kinds: RowKind[] = [];
  // the rest work row by row: the rows of what they read
  for (const n of ir.nodes) kinds.push(ROW_KIND[n.op] ?? kinds[n.inputs[0]]);
  return kinds;
}

/**
 * What a packed graph is fed besides the batch: `tokens`, the rows of batch·seq it computes (every real
 * token, and each sequence's first position, which the pooler reads even if it were padding), and
 * `firsts`, where each sequence's first position sits among them.
 */
export function packing(attentionMask: tf.Tensor2D): { tokens: tf.Tensor1D; firsts: tf.Tensor1D } {
  const [b, s] = attentionMask.shape;
  const m = attentionMask.dataSync();
  const tokens: number[] = [], firsts: number[] = [];
  for (let i = 0; i < b; i++) {
    for (let j = 0; j < s; j++) {
      if (j === 0) firsts.push(tokens.length);
      if (j === 0 || m[i * s + j] !== 0) tokens.push(i * s + j);
    }
  }
  return { tokens: tf.tensor1d(tokens, "int32"), firsts: tf.tensor1d(firsts, "int32") };
}
