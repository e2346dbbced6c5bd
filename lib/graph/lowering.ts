/**
 * The lowering of BERT's recorded forward pass (lib/graph/graph_ir.ts) into TensorFlow operations
 * (lib/graph/tfgraph.ts): `TfLowering` holds the graph being built, the run-time shapes, the packing of real-token
 * rows and the values the gradient rules reuse, and writes the SavedModel. Each block's own operations, forward and
 * backward, are in blocks.ts, with `addGradients`, which walks them back; which rows each block computes (packing, the
 * [CLS]-only cut) is rows.ts's pass. The loss and AdamW (step_graph.ts) add their ops through it; bert_graph.ts
 * assembles whole graphs.
 *
 *   const t = new TfLowering(recordBert(config, { training: false }), config, { packed: true }).lower(lowerNode);
 *   t.nameOutputs();
 *   GraphSession.load(t.savedModel());   // lib/graph/session.ts
 */
import { GraphBuilder, dtype, Attr, GraphDType } from "./tfgraph";
import { IrGraph, IrNode } from "./graph_ir";
import { firstRowsOnly, takesFirstRows, rowKinds, RowKind } from "./rows";
import { BertShape } from "../nn/bert_def";

/** The graph's outputs: logits [batch, labels], pooled [batch, hidden], last_hidden_state [batch, seq, hidden]. */
export type GraphOutput =
  | "logits"
  | "pooled"
  | "last_hidden_state"
  | "loss"
  | "grad_norm"
  | `${"grad" | "new" | "new_m" | "new_v"}/${string}`;

/**
 * The type the matrix products (linear layers, attention's two batched products, forward and backward) multiply
 * in. "bf16": their inputs are cast to bfloat16 and their results back to float32, so everything else (LayerNorm,
 * softmax, the loss, gradient sums, AdamW's weights and moments) stays float32. bfloat16 keeps float32's exponent
 * and 8 bits of its mantissa: about 3 significant digits, enough for a product's inputs, where CPUs with
 * AVX512-BF16 or AMX multiply it ~2× faster; not for sums that must not lose small terms.
 */
export type GraphPrecision = "fp32" | "bf16";

/** How a recorded node becomes TensorFlow operations, given its arguments (lib/graph/blocks.ts's `lowerNode`). */
export type LowerNode = (t: TfLowering, n: IrNode, x: string[], firstOnly: boolean) => string;

export interface BertGraph {
  /** The SavedModel protocol buffer (saved_model.pb). */
  pb: Uint8Array;
  /** What its matrix products multiply in (part of its cache folder's name). */
  precision: GraphPrecision;
  /** What the graph is fed, in order: the inputs, dropout masks ("dropout/<site>"), then weights by Hugging Face name. */
  feeds: { name: string; dtype: GraphDType }[];
  /** Training graphs: the dropout sites to feed masks for, with their rates and what they drop. */
  dropouts: { site: number; rate: number; of: IrNode["op"] }[];
}

const F = dtype("float32"), I32 = dtype("int32"), BF16 = dtype("bfloat16");

/** StridedSlice's bit masks (TfLowering.stridedSlice). */
type SliceMasks = { begin?: number; end?: number; shrink?: number };

/**
 * What a block's forward keeps for its gradient rule, by the node names of the values: the
 * embedding lookup's ids (and positions), LayerNorm's normalised input and 1/σ, dropout's mask, attention's heads.
 */
export type Saved = Partial<Record<"ids" | "pos" | "xhat" | "rstd" | "mask" | "qh" | "kh" | "vh", string>>;

/**
 * TensorFlow operations for the building blocks, with hidden values kept as rows [batch·seq, hidden]
 * (plain 2-D MatMul + BiasAdd, the pair Grappler fuses). `aux` keeps intermediates the gradient rules reuse.
 *
 * `packed` (rows.ts): hidden values hold only the real tokens' rows [tokens, hidden]; attention scatters its inputs
 * back to [batch, seq] (the padding as zeros, which the mask hides) and gathers its output. The graph is then fed
 * `tokens` and `firsts` (rows.ts's `packing`).
 *
 * `wanted` (packed graphs): the outputs the graph must make; what only they read at each sequence's first token
 * (rows.ts's `firstRowsOnly`) is computed for those rows alone; `gathered` records where a block took the first
 * rows of a full value, so that its gradient is scattered back.
 *
 * `precision` "bf16": `matMul` and `bmm` multiply in bfloat16 (see GraphPrecision). The gradient rules build
 * their products with the same two methods, so the backward pass follows the same casts.
 */
export class TfLowering {
  readonly g = new GraphBuilder();
  /** The TensorFlow tensor holding each recorded node's value. */
  readonly value = new Map<number, string>();
  readonly aux = new Map<number, Saved>();
  readonly feeds: { name: string; dtype: GraphDType }[] = [];
  readonly H: number;
  readonly heads: number;
  readonly dh: number;
  // Shapes known only at run time, from the input ids' shape.
  readonly bs: string;
  readonly batch: string;
  readonly seq: string;
  readonly rows: string;
  readonly bsH: string;
  readonly split: string;
  /** Packed graphs: the kept rows' indices in batch·seq [tokens], each sequence's first kept row [batch], and [batch·seq, hidden]. */
  readonly tokens?: string;
  readonly firsts?: string;
  readonly paddedRows?: string;
  /** Nodes computed at the first rows only, and the (node, argument) pairs that gathered those rows from a full value. */
  readonly cut: Set<number>;
  readonly gathered = new Set<string>();
  /** The arguments each block was lowered with (first rows where gathered): what its gradient rule reads. */
  readonly args = new Map<number, string[]>();
  readonly kinds: RowKind[];
  private dropoutSwitch?: string;
  readonly precision: GraphPrecision;
  /** Each float32 tensor's bfloat16 cast, made once however many products read it (a weight: forward and backward). */
  private readonly low = new Map<string, string>();

  constructor(
    readonly ir: IrGraph,
    c: BertShape,
    readonly opts: { packed?: boolean; wanted?: number[]; precision?: GraphPrecision } = {},
  ) {
    this.precision = opts.precision ?? "fp32";
    this.kinds = rowKinds(ir);
    this.cut = opts.packed && opts.wanted ? firstRowsOnly(ir, opts.wanted) : new Set();
    this.H = c.hidden_size;
    this.heads = c.num_attention_heads;
    this.dh = this.H / this.heads;
    const ids = this.input("input_ids", "int32", [null, null]);
    this.value.set(ir.inputs.input_ids, ids);
    this.value.set(ir.inputs.token_type_ids, this.input("token_type_ids", "int32", [null, null]));
    this.value.set(ir.inputs.mask, this.input("mask", "float32", [null, 1, 1, null]));
    this.bs = this.g.op("Shape", [ids], { T: I32, out_type: I32 });
    this.batch = this.stridedSlice(this.bs, I32, [0], [1]);
    this.seq = this.stridedSlice(this.bs, I32, [1], [2]);
    this.rows = this.k([-1, this.H]);
    this.bsH = this.concat([this.bs, this.k([this.H])]);
    this.split = this.concat([this.bs, this.k([this.heads, this.dh])]);
    if (opts.packed) {
      this.tokens = this.input("tokens", "int32", [null]);
      this.firsts = this.input("firsts", "int32", [null]);
      const batchSeq = this.op("Prod", [this.bs, this.k([0])], { T: I32, Tidx: I32, keep_dims: { b: true } });
      this.paddedRows = this.concat([batchSeq, this.k([this.H])]);
    }
  }

  /** Rows [batch·seq, …] → the kept rows (packed graphs; otherwise x itself). */
  pack(x: string, t: Attr = F): string {
    return this.tokens ? this.gather(x, this.tokens, t) : x;
  }
  /** Kept rows [tokens, hidden] → [batch·seq, hidden] with zero rows for padding (packed graphs; otherwise x itself). */
  unpack(x: string): string {
    return this.tokens ? this.scatterRows(this.tokens, x, this.paddedRows!) : x;
  }
  gather(x: string, rows: string, t: Attr = F): string {
    const axis = this.g.constant([0], [], "int32");
    return this.op("GatherV2", [x, rows, axis], { Tparams: t, Tindices: I32, Taxis: I32, batch_dims: { i: 0 } });
  }
  /** A zero tensor of `shape` with rows[i] set to x[i] (the adjoint of gather). */
  scatterRows(rows: string, x: string, shape: string): string {
    const idx = this.op("ExpandDims", [rows, this.g.constant([1], [], "int32")], { T: I32, Tdim: I32 });
    return this.op("ScatterNd", [idx, x, shape], { T: F, Tindices: I32 });
  }

  input(name: string, t: GraphDType, shape: (number | null)[] | null = null): string {
    this.feeds.push({ name, dtype: t });
    return this.g.placeholder(name, t, shape);
  }

  k(values: number[]): string {
    return this.g.constant(values, [values.length], "int32");
  }
  scalar(v: number): string {
    return this.g.constant([v], []);
  }
  op(op: string, inputs: string[], attrs: Record<string, Attr> = { T: F }, name?: string): string {
    return this.g.op(op, inputs, attrs, name);
  }
  add(a: string, b: string): string {
    return this.op("AddV2", [a, b]);
  }
  sub(a: string, b: string): string {
    return this.op("Sub", [a, b]);
  }
  mul(a: string, b: string): string {
    return this.op("Mul", [a, b]);
  }
  reshape(x: string, shape: string, t: Attr = F): string {
    return this.op("Reshape", [x, shape], { T: t, Tshape: I32 });
  }
  transpose(x: string, perm: number[]): string {
    return this.op("Transpose", [x, this.k(perm)], { T: F, Tperm: I32 });
  }
  mean(x: string): string {
    return this.op("Mean", [x, this.k([-1])], { T: F, Tidx: I32, keep_dims: { b: true } });
  }
  sum(x: string, axes: number[], keep = false): string {
    return this.op("Sum", [x, this.k(axes)], { T: F, Tidx: I32, keep_dims: { b: keep } });
  }
  matMul(a: string, b: string, ta = false, tb = false): string {
    return this.product("MatMul", a, b, { transpose_a: { b: ta }, transpose_b: { b: tb } });
  }
  bmm(a: string, b: string, adjX = false, adjY = false): string {
    return this.product("BatchMatMulV2", a, b, { adj_x: { b: adjX }, adj_y: { b: adjY } });
  }
  /** A matrix product in the graph's precision; float32 in and out either way. */
  private product(op: "MatMul" | "BatchMatMulV2", a: string, b: string, attrs: Record<string, Attr>): string {
    if (this.precision === "fp32") return this.op(op, [a, b], { T: F, ...attrs });
    const y = this.op(op, [this.bf16(a), this.bf16(b)], { T: BF16, ...attrs });
    return this.op("Cast", [y], { SrcT: BF16, DstT: F, Truncate: { b: false } });
  }
  /** x rounded to bfloat16 (to nearest even, as TensorFlow's Cast does). */
  private bf16(x: string): string {
    let v = this.low.get(x);
    if (!v) this.low.set(x, v = this.op("Cast", [x], { SrcT: F, DstT: BF16, Truncate: { b: false } }));
    return v;
  }
  concat(parts: string[]): string {
    const axis = this.g.constant([0], [], "int32");
    return this.op("ConcatV2", [...parts, axis], { N: { i: parts.length }, T: I32, Tidx: I32 });
  }
  /** x[begin:end] (stride 1) with TensorFlow's bit masks: bit i of begin/end ignores that bound on axis i; shrink drops axis i. */
  stridedSlice(x: string, t: Attr, begin: number[], end: number[], masks: SliceMasks = {}): string {
    return this.op("StridedSlice", [x, this.k(begin), this.k(end), this.k(begin.map(() => 1))], {
      T: t,
      Index: I32,
      begin_mask: { i: masks.begin ?? 0 },
      end_mask: { i: masks.end ?? 0 },
      ellipsis_mask: { i: 0 },
      new_axis_mask: { i: 0 },
      shrink_axis_mask: { i: masks.shrink ?? 0 },
    });
  }
  /** Rows [batch·seq, hidden] → per head [batch, heads, seq, head size], and back. */
  heads4(x: string): string {
    return this.transpose(this.reshape(x, this.split), [0, 2, 1, 3]);
  }
  merge(x: string): string {
    return this.reshape(this.transpose(x, [0, 2, 1, 3]), this.rows);
  }
  /** A row per sequence [batch, hidden] → per head [batch, heads, 1, head size]. */
  headsFirst(x: string): string {
    return this.transpose(this.reshape(x, this.concat([this.batch, this.k([1, this.heads, this.dh])])), [0, 2, 1, 3]);
  }

  /** The shape of float32 `x`, as int32. */
  shape(x: string): string {
    return this.op("Shape", [x], { T: F, out_type: I32 });
  }

  /** Argument `arg` of `n`: its value, or only its first rows where `n` is computed at those rows only. */
  private arg(n: IrNode, arg: number): string {
    const v = this.value.get(n.inputs[arg])!;
    if (!takesFirstRows(this.ir, this.cut, this.kinds, n, arg)) return v;
    this.gathered.add(`${n.id}:${arg}`);
    return this.gather(v, this.firsts!);
  }

  /** Lowers every recorded node, in order, each by its block's rule (lib/graph/blocks.ts). */
  lower(lowerNode: LowerNode): this {
    for (const n of this.ir.nodes) {
      if (this.value.has(n.id)) continue;
      const x = n.inputs.map((_, j) => this.arg(n, j));
      this.args.set(n.id, x);
      this.value.set(n.id, lowerNode(this, n, x, this.cut.has(n.id)));
    }
    return this;
  }

  /** The fed switch "dropout_on" (1 or 0), declared by the first dropout block that reads it. */
  dropoutOn(): string {
    return this.dropoutSwitch ??= this.input("dropout_on", "float32", []);
  }

  /** Names the standard outputs (Identity nodes "logits", "pooled", "last_hidden_state"). */
  nameOutputs(): void {
    const o = this.ir.outputs, h = this.value.get(o.lastHiddenState)!;
    const output = (x: string, name: GraphOutput) => this.op("Identity", [x], { T: F }, name);
    output(this.value.get(o.logits)!, "logits");
    output(this.value.get(o.pooled)!, "pooled");
    if (!this.cut.has(o.lastHiddenState)) output(this.reshape(this.unpack(h), this.bsH), "last_hidden_state");
  }

  savedModel(): BertGraph {
    const pb = this.g.savedModel();
    const dropouts = this.ir.dropouts.map((d) => ({ site: d.site!, rate: d.rate!, of: this.ir.nodes[d.inputs[0]].op }));
    return { pb, precision: this.precision, feeds: this.feeds.slice(), dropouts };
  }
}
