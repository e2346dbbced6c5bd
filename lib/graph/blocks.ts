/**
 * Each block of BERT's recorded forward pass (lib/graph/graph_ir.ts) in TensorFlow operations: its lowering and its
 * gradient rule side by side, the way micrograd keeps an operation and its backward together. TfLowering
 * (lib/graph/lowering.ts) calls `lower` for every recorded node in order; `addGradients` walks the nodes last to
 * first and calls `grad`, which gives each argument its share of the gradient. What a rule
 * needs of the forward it reads from the values the lowering saved (typed: `Saved`).
 *
 * The forward is lib/nn/ops.ts's eager blocks, operation for operation; the rules are the same calculus as ops.ts's
 * custom gradients (checked there against tfjs's autodiff and PyTorch). test/bert_graph.test.ts checks the whole
 * graph against the eager model and the tape's gradients.
 *
 * Packed graphs (`TfLowering`'s `packed`) hold only the real tokens' rows; `firstOnly` marks a node computed at each
 * sequence's first row only (the last layer's rows that the classifier never reads are not computed).
 */
import { dtype } from "./tfgraph";
import type { IrNode, IrOp } from "./graph_ir";
import type { TfLowering, Saved, LowerNode } from "./lowering";

const F = dtype("float32"), I32 = dtype("int32"), B = dtype("bool");
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** What a block's gradient rule reads: the forward's arguments and value, the incoming gradient, where to send it. */
export interface GradContext {
  t: TfLowering;
  n: IrNode;
  /** The arguments the block was lowered with, and its value. */
  x: string[];
  y: string;
  /** d loss / d value, summed over every reader. */
  dy: string;
  firstOnly: boolean;
  /** A value the lowering saved for this rule. */
  saved(k: keyof Saved): string;
  /** Adds to the gradient of recorded node `id` (an argument's node, as given). */
  give(id: number, g: string): void;
  /** Adds to the gradient of argument `arg`, scattered back to every row where the block read first rows only. */
  giveArg(arg: number, g: string): void;
}

interface Block {
  lower(t: TfLowering, n: IrNode, x: string[], firstOnly: boolean): string;
  grad(c: GradContext): void;
}

const BLOCKS: Record<Exclude<IrOp, "input">, Block> = {
  param: {
    lower: (t, n) => t.input(n.name!, "float32"),
    grad: ({ t, n, dy }) => void t.op("Identity", [dy], { T: F }, `grad/${n.name}`),
  },
  embed: { // rows `ids` of the table; repeated ids add up: UnsortedSegmentSum over the table's rows
    lower(t, n, x) {
      const ids = t.pack(t.reshape(x[1], t.k([-1]), I32), I32); // [batch·seq]
      t.aux.set(n.id, { ids });
      return t.gather(x[0], ids);
    },
    grad: ({ t, n, x, dy, saved, give }) => give(n.inputs[0], segmentSum(t, dy, saved("ids"), x[0])),
  },
  positions: { // rows 0..seq−1 of the position table; their gradient summed over the batch
    lower(t, n, x) {
      if (t.tokens) { // each kept row's position: its index in batch·seq modulo seq
        const pos = t.op("FloorMod", [t.tokens, t.seq], { T: I32 });
        t.aux.set(n.id, { pos });
        return t.gather(x[0], pos);
      }
      // Rows 0..seq-1, tiled over the batch so that they line up with the [batch·seq, hidden] rows.
      const rows = t.op("Slice", [x[0], t.k([0, 0]), t.concat([t.seq, t.k([-1])])], { T: F, Index: I32 });
      return t.op("Tile", [rows, t.concat([t.batch, t.k([1])])], { T: F, Tmultiples: I32 });
    },
    grad({ t, n, x, dy, give }) {
      const pos = t.aux.get(n.id)?.pos;
      if (pos) return give(n.inputs[0], segmentSum(t, dy, pos, x[0]));
      // summed over the batch, then zero rows for positions seq … max−1
      const perPosition = t.sum(t.reshape(dy, t.bsH), [0]);
      const max = t.stridedSlice(t.shape(x[0]), I32, [0], [1]);
      const pads = t.reshape(
        t.concat([t.k([0]), t.op("Sub", [max, t.seq], { T: I32 }), t.k([0, 0])]),
        t.k([2, 2]),
        I32,
      );
      give(n.inputs[0], t.op("Pad", [perPosition, pads], { T: F, Tpaddings: I32 }));
    },
  },
  add: {
    lower: (t, _n, x) => t.add(x[0], x[1]),
    grad({ dy, giveArg }) {
      giveArg(0, dy);
      giveArg(1, dy);
    },
  },
  linear: { // y = x wᵀ + b: dx = dy w, dw = dyᵀ x, db = Σ rows dy
    lower: (t, _n, x) => t.op("BiasAdd", [t.matMul(x[0], x[1], false, true), x[2]]),
    grad({ t, n, x, dy, give, giveArg }) {
      giveArg(0, t.matMul(dy, x[1]));
      give(n.inputs[1], t.matMul(dy, x[0], true, false));
      give(n.inputs[2], t.sum(dy, [0]));
    },
  },
  layerNorm: { // (x − mean)·rsqrt(var + eps)·γ + β over the last axis, as lib/nn/ops.ts's layerNorm
    lower(t, n, x) {
      const xc = t.sub(x[0], t.mean(x[0]));
      const rstd = t.op("Rsqrt", [t.add(t.mean(t.op("Square", [xc])), t.scalar(n.eps!))]);
      const xhat = t.mul(xc, rstd);
      t.aux.set(n.id, { xhat, rstd });
      return t.add(t.mul(xhat, x[1]), x[2]);
    },
    grad({ t, n, x, dy, saved, give, giveArg }) { // dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·γ
      const dxhat = t.mul(dy, x[1]);
      const centred = t.sub(t.sub(dxhat, t.mean(dxhat)), t.mul(saved("xhat"), t.mean(t.mul(dxhat, saved("xhat")))));
      giveArg(0, t.mul(saved("rstd"), centred));
      give(n.inputs[1], t.sum(t.mul(dy, saved("xhat")), [0]));
      give(n.inputs[2], t.sum(dy, [0]));
    },
  },
  gelu: { // 0.5x + 0.5x·erf(x/√2), as lib/nn/ops.ts's gelu; d/dx = Φ(x) + x·φ(x)
    lower(t, _n, x) {
      const half = t.mul(x[0], t.scalar(0.5));
      return t.add(half, t.mul(half, t.op("Erf", [t.mul(x[0], t.scalar(Math.SQRT1_2))])));
    },
    grad({ t, x, dy, giveArg }) {
      const cdf = t.mul(t.scalar(0.5), t.add(t.scalar(1), t.op("Erf", [t.mul(x[0], t.scalar(Math.SQRT1_2))])));
      const pdf = t.mul(t.scalar(INV_SQRT_2PI), t.op("Exp", [t.mul(t.op("Square", [x[0]]), t.scalar(-0.5))]));
      giveArg(0, t.mul(dy, t.add(cdf, t.mul(x[0], pdf))));
    },
  },
  tanh: {
    lower: (t, _n, x) => t.op("Tanh", [x[0]]),
    grad: ({ t, y, dy, giveArg }) => giveArg(0, t.mul(dy, t.sub(t.scalar(1), t.op("Square", [y])))),
  },
  dropout: {
    lower(t, n, x, firstOnly) {
      // The mask is fed (made in JavaScript from the seed, exactly as the eager model makes it), any shape of the right
      // size; a hidden value's mask covers batch·seq rows, of which packed graphs keep the real tokens'.
      // Fed as keep bits (bool), cast and scaled by 1/(1 − rate) here: the eager model's mask, a quarter of the bytes.
      const fed = t.input(`dropout/${n.site}`, "bool");
      const of = t.kinds[n.inputs[0]];
      const reshape = (shape: string) => t.reshape(fed, shape, B);
      let keep: string;
      if (firstOnly && of === "probs") { // [batch, heads, seq, seq] → the first query row [batch, heads, 1, seq]
        const full = reshape(t.concat([t.batch, t.k([t.heads]), t.seq, t.seq]));
        keep = t.stridedSlice(full, B, [0, 0, 0, 0], [0, 0, 1, 0], { begin: 0b1111, end: 0b1011 });
      } else if (firstOnly) { // the rows of each sequence's first token
        keep = t.gather(reshape(t.rows), t.gather(t.tokens!, t.firsts!, I32), B);
      } else if (of === "token") {
        keep = t.pack(reshape(t.rows), B);
      } else {
        keep = reshape(t.shape(x[0]));
      }
      // dropout_on (fed, 1 or 0): the reference tests switch dropout off (scale 1, every bit kept) in the same graph.
      const on = t.dropoutOn();
      const scale = t.add(t.scalar(1), t.mul(on, t.scalar(Math.fround(1 / (1 - n.rate!)) - 1)));
      const mask = t.mul(t.op("Cast", [keep], { SrcT: B, DstT: F, Truncate: { b: false } }), scale);
      t.aux.set(n.id, { mask });
      return t.mul(x[0], mask);
    },
    grad: ({ t, dy, saved, giveArg }) => giveArg(0, t.mul(dy, saved("mask"))),
  },
  attentionProbs: { // softmax((q/√dh) kᵀ + mask) per head
    lower(t, n, x, firstOnly) {
      const q = t.mul(x[0], t.scalar(1 / Math.sqrt(t.dh)));
      const qh = firstOnly ? t.headsFirst(q) : t.heads4(t.unpack(q));
      const kh = t.heads4(t.unpack(x[1]));
      t.aux.set(n.id, { qh, kh });
      return t.op("Softmax", [t.add(t.bmm(qh, kh, false, true), x[2])]);
    },
    grad({ t, n, y, dy, firstOnly, saved, give, giveArg }) { // dS = p·(dy − Σ dy·p)
      const dS = t.mul(y, t.sub(dy, t.sum(t.mul(dy, y), [-1], true)));
      const dq = t.mul(t.merge(t.bmm(dS, saved("kh"))), t.scalar(1 / Math.sqrt(t.dh)));
      giveArg(0, firstOnly ? dq : t.pack(dq));
      give(n.inputs[1], t.pack(t.merge(t.bmm(dS, saved("qh"), true, false))));
    },
  },
  attentionContext: { // ctx = p v per head: dp = dctx vᵀ, dv = pᵀ dctx
    lower(t, n, x, firstOnly) {
      const vh = t.heads4(t.unpack(x[1]));
      t.aux.set(n.id, { vh });
      const ctx = t.merge(t.bmm(x[0], vh));
      return firstOnly ? ctx : t.pack(ctx);
    },
    grad({ t, n, x, dy, firstOnly, saved, give }) {
      const dctx = firstOnly ? t.headsFirst(dy) : t.heads4(t.unpack(dy));
      give(n.inputs[0], t.bmm(dctx, saved("vh"), false, true));
      give(n.inputs[1], t.pack(t.merge(t.bmm(x[0], dctx, true, false))));
    },
  },
  first: { // h[:, 0, :]; its gradient scattered back into row 0 of each sequence
    lower(t, n, x) {
      if (t.cut.has(n.inputs[0])) return x[0];
      if (t.firsts) return t.gather(x[0], t.firsts);
      const h = t.reshape(x[0], t.bsH); // [batch, seq, hidden]
      return t.stridedSlice(h, F, [0, 0, 0], [0, 1, 0], { begin: 0b101, end: 0b101, shrink: 0b010 });
    },
    grad({ t, n, x, dy, give }) {
      if (t.cut.has(n.inputs[0])) return give(n.inputs[0], dy);
      if (t.firsts) return give(n.inputs[0], t.scatterRows(t.firsts, dy, t.shape(x[0])));
      const seqMinus1 = t.op("Sub", [t.seq, t.k([1])], { T: I32 });
      const pads = t.reshape(t.concat([t.k([0, 0, 0]), seqMinus1, t.k([0, 0])]), t.k([3, 2]), I32);
      const dy3 = t.op("ExpandDims", [dy, t.g.constant([1], [], "int32")], { T: F, Tdim: I32 }); // [batch, 1, hidden]
      give(n.inputs[0], t.reshape(t.op("Pad", [dy3, pads], { T: F, Tpaddings: I32 }), t.rows));
    },
  },
};

/** The block of a recorded node (inputs have none: the lowering feeds them). */
export function blockOf(n: IrNode): Block {
  if (n.op === "input") throw new Error(`graph: input "${n.name}" is not one of the model's inputs`);
  return BLOCKS[n.op];
}

/** Every block's lowering, for TfLowering.lower. */
export const lowerNode: LowerNode = (t, n, x, firstOnly) => blockOf(n).lower(t, n, x, firstOnly);

/**
 * Adds reverse-mode gradients to `t`'s graph from `dlogits`: the recorded blocks visited last to first, each block's
 * rule adding the operations that carry the gradient to its inputs. A value read by several blocks sums what it
 * receives, complete once all its readers have given theirs (reverse record order ensures it). Every weight's
 * gradient becomes the output "grad/<Hugging Face name>". The rules' products go through TfLowering's `matMul` /
 * `bmm`, so a bf16 graph's backward multiplies in bfloat16 like its forward, and each gradient is float32.
 */
export function addGradients(t: TfLowering, dlogits: string): void {
  const ir = t.ir;
  const pending = new Map<number, string[]>();
  const give = (id: number, g: string) => {
    if (ir.nodes[id].op === "input") return; // ids and the mask take no gradient
    (pending.get(id) ?? pending.set(id, []).get(id)!).push(g);
  };
  const uses = new Array<number>(ir.nodes.length).fill(0); // how many blocks read each node
  for (const n of ir.nodes) for (const i of n.inputs) uses[i]++;
  give(ir.outputs.logits, dlogits);
  for (let id = ir.nodes.length - 1; id >= 0; id--) {
    const parts = pending.get(id);
    if (!parts) continue;
    if (id !== ir.outputs.logits && parts.length !== uses[id])
      throw new Error(`graph gradients: node ${id} got ${parts.length} of ${uses[id]} gradients`);
    const dy = parts.length === 1 ? parts[0] : t.op("AddN", parts, { T: F, N: { i: parts.length } });
    pending.delete(id);
    const n = ir.nodes[id];
    const aux = t.aux.get(id) ?? {};
    blockOf(n).grad({
      t,
      n,
      x: t.args.get(id)!,
      y: t.value.get(id)!,
      dy,
      firstOnly: t.cut.has(id),
      saved: (k) => aux[k] ?? unsaved(`graph gradients: ${n.op} node ${id} saved no ${k}`),
      give,
      // scattered back into every row where the block read only the first rows (TfLowering's `arg`)
      giveArg: (arg, g) =>
        give(
          n.inputs[arg],
          t.gathered.has(`${id}:${arg}`) ? t.scatterRows(t.firsts!, g, t.shape(t.value.get(n.inputs[arg])!)) : g,
        ),
    });
  }
}

/** A value a gradient rule wanted that the forward did not save: a lowering bug, said as such. */
function unsaved(message: string): never {
  throw new Error(message);
}

/** Σ of dy's rows per index into `table`'s rows: the gradient of gathering rows `ids` of `table`. */
function segmentSum(t: TfLowering, dy: string, ids: string, table: string): string {
  const rows = t.stridedSlice(t.shape(table), I32, [0], [1], { shrink: 1 });
  return t.op("UnsortedSegmentSum", [dy, ids, rows], { T: F, Tindices: I32, Tnumsegments: I32 });
}
