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

/** The building blocks of lib/nn/bert_def.ts, plus the graph's inputs and weights. */
export type IrOp =
  | "input"
  | "param"
  | "embed"
  | "positions"
  | "add"
  | "linear"
  | "layerNorm"
  | "gelu"
  | "tanh"
  | "dropout"
  | "attentionProbs"
  | "attentionContext"
  | "first";

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
  const inputs = {
    input_ids: node("input", [], { name: "input_ids" }),
    token_type_ids: node("input", [], { name: "token_type_ids" }),
    mask: node("input", [], { name: "mask" }),
  };
  const outputs = bertForward(ops, config, inputs);
  return { nodes, inputs, outputs, params: [...params.keys()], dropouts };
}

/** How many times each node is read (a value read twice gets two gradient contributions). */
export function readers(ir: IrGraph): number[] {
  const count = new Array<number>(ir.nodes.length).fill(0);
  for (const n of ir.nodes) for (const i of n.inputs) count[i]++;
  return count;
}

/** Where a node's argument is read row by row (a row per token, or per sequence): the rows it needs are the rows it makes. */
export function readsByRow(n: IrNode, arg: number): boolean {
  switch (n.op) {
    case "add":
    case "gelu":
    case "tanh":
    case "dropout":
      return true;
    case "linear":
    case "layerNorm":
      return arg === 0;
    case "attentionProbs":
      return arg === 0; // the queries; every key is read
    case "attentionContext":
      return arg === 0; // the probabilities' query rows; every value is read
    default:
      return false;
  }
}

/**
 * The nodes whose value is needed only at each sequence's first token ([CLS]), given the outputs that
 * are wanted: for a classifier, the last layer's queries, attention, feed-forward block and norms
 * (the pooler reads one row per sequence; keys and values still need every token). A graph may compute
 * these for the first rows only: for MiniLM that is ~1/7 of a training step's matrix products.
 */
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
export function rowKinds(ir: IrGraph): RowKind[] {
  const kinds: RowKind[] = [];
  for (const n of ir.nodes) {
    switch (n.op) {
      case "input":
      case "param":
        kinds.push("none");
        break;
      case "embed":
      case "positions":
      case "attentionContext":
        kinds.push("token");
        break;
      case "first":
        kinds.push("sequence");
        break;
      case "attentionProbs":
        kinds.push("probs");
        break;
      default:
        kinds.push(kinds[n.inputs[0]]); // row by row: the rows of what it reads
    }
  }
  return kinds;
}
