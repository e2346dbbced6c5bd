/**
 * BERT's forward pass recorded as a graph: lib/nn/bert_def.ts's definition run over symbolic values, each
 * building block becoming one node. The TensorFlow graphs (lib/graph/bert_graph.ts: inference, and the training
 * step with its reverse-mode gradients) and the ONNX export (lib/serve/onnx_export.ts) are lowered from this
 * record, so none of them spells BERT out again.
 *
 *   const ir = recordBert(config, { training: false });
 *   ir.nodes.length        // 98 for MiniLM in eval mode (inputs and weights included)
 *   ir.outputs.logits      // the id of the node that makes the logits
 */
import { bertForward, BertOps, BertShape, BertForwardOutputs } from "../nn/bert_def";

/** The building blocks of lib/nn/bert_def.ts (`param`: the weights), plus the graph's inputs. */
export type IrOp = "input" | keyof BertOps<number>;

export type IrInput = "input_ids" | "token_type_ids" | "mask";

export interface IrNode {
  id: number;
  op: IrOp;
  /** Ids of the nodes this one reads, in the block's argument order. */
  inputs: number[];
  /** `input`: the input's name; `param`: the weight's Hugging Face name. */
  name?: string;
  /** `dropout`: the rate, and the site (dropout calls in order, counted as the eager model counts them). */
  rate?: number;
  site?: number;
  eps?: number;
  heads?: number;
}

export interface IrGraph {
  nodes: IrNode[];
  inputs: Record<IrInput, number>;
  outputs: BertForwardOutputs<number>;
  /** The weights the graph reads, in first-use order. */
  params: string[];
  /** The dropout nodes (training graphs only), by site. */
  dropouts: IrNode[];
}

/**
 * Records the forward pass of `config`. With `training`, dropout becomes nodes (each fed a mask at run
 * time); without, dropout is the identity and leaves no node, as in eval mode.
 */
export function recordBert(config: BertShape, opts: { training: boolean }): IrGraph {
  const nodes: IrNode[] = [];
  const params = new Map<string, number>();
  const dropouts: IrNode[] = [];
  let site = 0;
  const node = (op: IrOp, inputs: number[], extra: Partial<IrNode> = {}): number => {
    const n: IrNode = { id: nodes.length, op, inputs, ...extra };
    nodes.push(n);
    return n.id;
  };
  const ops: BertOps<number> = {
    param: (name) => {
      if (!params.has(name)) params.set(name, node("param", [], { name }));
      return params.get(name)!;
    },
    embed: (table, ids) => node("embed", [table, ids]),
    positions: (table) => node("positions", [table]),
    add: (a, b) => node("add", [a, b]),
    linear: (x, w, b) => node("linear", [x, w, b]),
    layerNorm: (x, g, b, eps) => node("layerNorm", [x, g, b], { eps }),
    gelu: (x) => node("gelu", [x]),
    tanh: (x) => node("tanh", [x]),
    dropout: (x, rate) => {
      const s = site++;
      if (!opts.training || rate === 0) return x;
      const id = node("dropout", [x], { rate, site: s });
      dropouts.push(nodes[id]);
      return id;
    },
    attentionProbs: (q, k, mask, heads) => node("attentionProbs", [q, k, mask], { heads }),
    attentionContext: (probs, v, heads) => node("attentionContext", [probs, v], { heads }),
    first: (h) => node("first", [h]),
  };
  const input = (name: IrInput) => node("input", [], { name });
  const inputs = { input_ids: input("input_ids"), token_type_ids: input("token_type_ids"), mask: input("mask") };
  const outputs = bertForward(ops, config, inputs);
  return { nodes, inputs, outputs, params: [...params.keys()], dropouts };
}
