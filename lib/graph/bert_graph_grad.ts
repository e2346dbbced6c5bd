/**
 * Reverse-mode gradients for BERT's TensorFlow training graph: starting from d loss / d logits, the
 * recorded blocks (lib/graph/graph_ir.ts) are visited last to first, and each block's gradient rule (lib/graph/blocks.ts,
 * beside its lowering) adds the TensorFlow operations that carry the gradient to its inputs. A value read by several
 * blocks sums the gradients it receives; a node's sum is complete when all its readers have given theirs. Every
 * weight's gradient becomes the graph output "grad/<Hugging Face name>".
 *
 * Every product goes through TfLowering's `matMul` / `bmm`: in a bf16 graph the backward products multiply in
 * bfloat16 like the forward's, and each gradient they return is float32 (as are the sums of gradients).
 */
import { dtype } from "./tfgraph";
import { readers } from "./graph_ir";
import { blockOf } from "./blocks";
import type { TfLowering } from "./lowering";

const fail = (message: string): never => {
  throw new Error(`graph gradients: ${message}`);
};

const F = dtype("float32"), I32 = dtype("int32");

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
    const aux = t.aux.get(id) ?? {};
    blockOf(n).grad({
      t,
      n,
      x: t.args.get(id)!,
      y: t.value.get(id)!,
      dy,
      firstOnly: t.cut.has(id),
      // A value the forward saved for this rule (typed names; a missing one is a lowering bug, said as such).
      saved: (k) => aux[k] ?? fail(`${n.op} node ${id} saved no ${k}`),
      give,
      giveArg: (arg, g) => giveArg(n, arg, g),
    });
  }
}
