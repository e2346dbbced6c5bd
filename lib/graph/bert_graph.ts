/**
 * BERT as one TensorFlow graph, for the native backend: lib/nn/bert_def.ts's forward pass, recorded
 * (lib/graph/graph_ir.ts) and lowered block by block to TensorFlow operations (lib/graph/tfgraph.ts), then run in a
 * TensorFlow session by tfjs-node: one call per batch instead of ~300 (inference) or ~1,000 (a
 * training step). The weights are the graph's inputs, fed from the model's own tensors at every call:
 * the graph file holds no weights, one graph serves every model of the same shape, and a fine-tuned
 * weight is used the moment it changes.
 *
 *   const s = GraphSession.load(inferenceGraph(config));       // written to a cache folder once, loaded once per process
 *   const [logits] = s.run({ input_ids, token_type_ids, mask, ...weights }, ["logits"]);
 *   const t = GraphSession.load(trainingGraph(config));        // + the loss and every weight's gradient
 *
 * The training graph's backward pass is derived, one rule per recorded block (lib/graph/blocks.ts), not written
 * again. Equal to the eager forward and the tape's gradients within float32 rounding (test/bert_graph.test.ts).
 */
import { recordBert } from "./graph_ir";
import { BertShape } from "../nn/bert_def";
import { LossKind } from "../nn/loss_def";
import { TfLowering, BertGraph, GraphPrecision } from "./lowering";
import { dtype } from "./tfgraph";
import { addAdamW, lowerLoss } from "./step_graph";
import { addGradients, lowerNode } from "./blocks";

const F = dtype("float32");

/** What every graph of the model may ask: packing (feed `packing(attention_mask)`) and the products' precision. */
type GraphOptions = { packed?: boolean; precision?: GraphPrecision };

/** The recorded forward of `c` lowered block by block, its outputs named (training: dropout masks fed). */
function lowered(c: BertShape, training: boolean, opts: GraphOptions): TfLowering {
  const ir = recordBert(c, { training });
  const wanted = [ir.outputs.logits, ir.outputs.pooled];
  const t = new TfLowering(ir, c, { packed: opts.packed, wanted, precision: opts.precision }).lower(lowerNode);
  t.nameOutputs();
  return t;
}

/**
 * The eval-mode forward (no dropout): outputs logits, pooled, last_hidden_state. With `packed`, only
 * logits and pooled, computed without the padding rows and the last layer's unread rows (as the
 * training graph; feed `packing(attention_mask)`).
 */
export function inferenceGraph(c: BertShape, opts: GraphOptions = {}): BertGraph {
  return lowered(c, false, opts).savedModel();
}

/**
 * The training step's graph: the train-mode forward, loss `loss` of the logits with its feeds (lib/graph/step_graph.ts;
 * default the (class-weighted, smoothed, logit-adjusted) cross-entropy; `rdrop`: plus R-Drop's term, the batch fed
 * stacked twice), and "grad/<weight>" for every weight, the backward pass starting from d loss / d logits.
 * With `adamw`, also the clipped AdamW update of every weight: a whole optimizer step; with `accumulate` as well,
 * fed "acc/<weight>" (earlier micro-batches' gradients) are added before clipping.
 * `packed` as inferenceGraph's; with `precision` "bf16", the products of the forward and backward passes multiply
 * in bfloat16, while the loss, the gradients and the AdamW update are float32 (see GraphPrecision).
 */
export function trainingGraph(
  c: BertShape,
  opts: GraphOptions & { adamw?: boolean; loss?: LossKind; rdrop?: boolean; accumulate?: boolean } = {},
): BertGraph {
  const t = lowered(c, true, opts);
  addGradients(t, lowerLoss(t, opts.loss ?? "cross_entropy", t.value.get(t.ir.outputs.logits)!, opts.rdrop));
  if (opts.adamw) {
    const total = (n: string) => t.op("AddV2", [`grad/${n}`, t.input(`acc/${n}`, "float32")], { T: F }, `total/${n}`);
    addAdamW(t, t.ir.params, opts.accumulate ? t.ir.params.map(total) : undefined);
  }
  return t.savedModel();
}
