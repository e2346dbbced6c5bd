/**
 * Reverse-mode gradients for BERT's TensorFlow training graph: starting from d loss / d logits, the
 * recorded blocks (lib/graph/graph_ir.ts) are visited last to first, and each block's gradient rule adds the
 * TensorFlow operations that carry the gradient to its inputs. A value read by several blocks sums the
 * gradients it receives. Every weight's gradient becomes the graph output "grad/<Hugging Face name>".
 *
 * Every product here goes through TfLowering's `matMul` / `bmm`: in a bf16 graph the backward products multiply
 * in bfloat16 like the forward's, and each gradient they return is float32 (as are the sums of gradients).
 *
 * The rules are the same calculus as lib/nn/ops.ts's custom gradients (checked there against tfjs's
 * autodiff and PyTorch); test/bert_graph.test.ts checks the whole graph's gradients against the tape's.
 */
import { dtype } from "./tfgraph";
import { readers } from "./graph_ir";
import type { TfLowering, Saved } from "./lowering";

const fail = (message: string): never => {
  throw new Error(`graph gradients: ${message}`);
};

const F = dtype("float32"), I32 = dtype("int32");
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** Adds "grad/<name>" outputs for every weight of `t`'s recorded graph, given `dlogits`. */
export function addGradients(t: TfLowering, dlogits: string): void {
  const ir = t.ir;
  const pending = new Map<number, string[]>();
  const give = (id: number, g: string) => {
    if (ir.nodes[id].op === "input") return; // ids and the mask take no gradient
    (pending.get(id) ?? pending.set(id, []).get(id)!).push(g);
  };
  // The gradient of argument `arg` of `n`: scattered back into every row where n read only the first rows (TfLowering.arg).
  const giveArg = (n: { id: number; inputs: number[] }, arg: number, g: string) => {
    const i = n.inputs[arg];
    give(
      i,
      t.gathered.has(`${n.id}:${arg}`)
        ? t.scatterRows(t.firsts!, g, t.op("Shape", [t.value.get(i)!], { T: F, out_type: I32 }))
        : g,
    );
  };
  // A node's gradient is complete once all its readers have given theirs: visiting in reverse record order ensures it.
  const uses = readers(ir);
  give(ir.outputs.logits, dlogits);
  for (let id = ir.nodes.length - 1; id >= 0; id--) {
    const parts = pending.get(id);
    if (!parts) continue;
    if (id !== ir.outputs.logits && parts.length !== uses[id])
      throw new Error(`graph gradients: node ${id} got ${parts.length} of ${uses[id]} gradients`);
    const dy = parts.length === 1 ? parts[0] : t.op("AddN", parts, { T: F, N: { i: parts.length } });
    pending.delete(id);
    const n = ir.nodes[id];
    const x = t.args.get(id)!;
    const y = t.value.get(id)!;
    const aux = t.aux.get(id) ?? {};
    // A value the forward saved for this rule (typed names; a missing one is a lowering bug, said as such).
    const saved = (k: keyof Saved): string => aux[k] ?? fail(`${n.op} node ${id} saved no ${k}`);
    const firstOnly = t.cut.has(id);
    switch (n.op) {
      case "param":
        t.op("Identity", [dy], { T: F }, `grad/${n.name}`);
        break;
      case "add":
        giveArg(n, 0, dy);
        giveArg(n, 1, dy);
        break;
      case "linear": // y = x wᵀ + b: dx = dy w, dw = dyᵀ x, db = Σ rows dy
        giveArg(n, 0, t.matMul(dy, x[1]));
        give(n.inputs[1], t.matMul(dy, x[0], true, false));
        give(n.inputs[2], t.sum(dy, [0]));
        break;
      case "layerNorm": { // dx = rstd·(dx̂ − mean(dx̂) − x̂·mean(dx̂·x̂)), dx̂ = dy·γ
        const dxhat = t.mul(dy, x[1]);
        const centred = t.sub(t.sub(dxhat, t.mean(dxhat)), t.mul(saved("xhat"), t.mean(t.mul(dxhat, saved("xhat")))));
        giveArg(n, 0, t.mul(saved("rstd"), centred));
        give(n.inputs[1], t.sum(t.mul(dy, saved("xhat")), [0]));
        give(n.inputs[2], t.sum(dy, [0]));
        break;
      }
      case "gelu": { // Φ(x) + x·φ(x)
        const cdf = t.mul(t.scalar(0.5), t.add(t.scalar(1), t.op("Erf", [t.mul(x[0], t.scalar(Math.SQRT1_2))])));
        const pdf = t.mul(t.scalar(INV_SQRT_2PI), t.op("Exp", [t.mul(t.op("Square", [x[0]]), t.scalar(-0.5))]));
        giveArg(n, 0, t.mul(dy, t.add(cdf, t.mul(x[0], pdf))));
        break;
      }
      case "tanh":
        giveArg(n, 0, t.mul(dy, t.sub(t.scalar(1), t.op("Square", [y]))));
        break;
      case "dropout":
        giveArg(n, 0, t.mul(dy, saved("mask")));
        break;
      case "attentionProbs": { // softmax: dS = p·(dy − Σ dy·p); S = (q/√dh) kᵀ + mask
        const dS = t.mul(y, t.sub(dy, t.sum(t.mul(dy, y), [-1], true)));
        const dq = t.mul(t.merge(t.bmm(dS, saved("kh"))), t.scalar(1 / Math.sqrt(t.dh)));
        giveArg(n, 0, firstOnly ? dq : t.pack(dq));
        give(n.inputs[1], t.pack(t.merge(t.bmm(dS, saved("qh"), true, false))));
        break;
      }
      case "attentionContext": { // ctx = p v per head: dp = dctx vᵀ, dv = pᵀ dctx
        const dctx = firstOnly ? t.headsFirst(dy) : t.heads4(t.unpack(dy));
        give(n.inputs[0], t.bmm(dctx, saved("vh"), false, true));
        give(n.inputs[1], t.pack(t.merge(t.bmm(x[0], dctx, true, false))));
        break;
      }
      case "first": { // scatter [batch, hidden] back into row 0 of each sequence
        if (t.cut.has(n.inputs[0])) {
          give(n.inputs[0], dy);
          break;
        }
        if (t.firsts) {
          give(n.inputs[0], t.scatterRows(t.firsts, dy, t.op("Shape", [x[0]], { T: F, out_type: I32 })));
          break;
        }
        const seqMinus1 = t.op("Sub", [t.seq, t.k([1])], { T: I32 });
        const pads = t.op("Reshape", [t.concat([t.k([0, 0, 0]), seqMinus1, t.k([0, 0])]), t.k([3, 2])], {
          T: I32,
          Tshape: I32,
        });
        const padded = t.op("Pad", [
          t.op("ExpandDims", [dy, t.g.constant([1], [], "int32")], { T: F, Tdim: I32 }),
          pads,
        ], { T: F, Tpaddings: I32 });
        give(n.inputs[0], t.reshape(padded, t.rows));
        break;
      }
      case "embed": // repeated ids add up: UnsortedSegmentSum over the table's rows
        give(n.inputs[0], segmentSum(t, dy, saved("ids"), x[0]));
        break;
      case "positions": { // summed over the batch, then zero rows for positions seq … max−1
        if (aux.pos) {
          give(n.inputs[0], segmentSum(t, dy, aux.pos, x[0]));
          break;
        }
        const perPosition = t.sum(t.reshape(dy, t.bsH), [0]);
        const max = t.stridedSlice(t.op("Shape", [x[0]], { T: F, out_type: I32 }), I32, [0], [1]);
        const pads = t.op("Reshape", [
          t.concat([t.k([0]), t.op("Sub", [max, t.seq], { T: I32 }), t.k([0, 0])]),
          t.k([2, 2]),
        ], { T: I32, Tshape: I32 });
        give(n.inputs[0], t.op("Pad", [perPosition, pads], { T: F, Tpaddings: I32 }));
        break;
      }
      case "input":
        break;
    }
  }
}

/** Σ of dy's rows per index into `table`'s rows: the gradient of gathering rows `ids` of `table`. */
function segmentSum(t: TfLowering, dy: string, ids: string, table: string): string {
  const rows = t.stridedSlice(t.op("Shape", [table], { T: F, out_type: I32 }), I32, [0], [1], { shrink: 1 });
  return t.op("UnsortedSegmentSum", [dy, ids, rows], { T: F, Tindices: I32, Tnumsegments: I32 });
}
