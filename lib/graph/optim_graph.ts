/**
 * Gradient clipping and AdamW inside the training graph, so that a whole optimizer step (forward,
 * backward, clip, update) is one TensorFlow call: the same arithmetic as lib/nn/optim.ts's `clipGradNorm`
 * and `AdamW.step`, in the same order, with the per-parameter constants computed by `AdamW.beginStep`
 * and fed. Each weight w comes back as "new/w" with its moments "new_m/w" and "new_v/w".
 */
import { dtype } from "./tfgraph";
import type { TfLowering } from "./lowering";

const F = dtype("float32");

/**
 * Feeds: "m/<w>", "v/<w>" per weight; "hyper" [2·weights]: step size and decay per weight, in order;
 * "adam" [6]: b1, 1 − b1, b2, 1 − b2, eps, max grad norm (0: no clipping). Outputs also "grad_norm".
 * `grads`: the gradient node of each weight (default its "grad/<name>" output).
 */
export function addAdamW(t: TfLowering, names: string[], grads = names.map((n) => `grad/${n}`)): void {
  const hyper = t.input("hyper", "float32", [2 * names.length]);
  const adam = t.input("adam", "float32", [6]);
  const at = (v: string, i: number) => t.stridedSlice(v, F, [i], [i + 1], { shrink: 1 });
  const [b1, c1, b2, c2, eps, maxNorm] = [0, 1, 2, 3, 4, 5].map((i) => at(adam, i));
  // 1) the global L2 norm; clip by maxNorm / (norm + 1e-6) when it is exceeded (torch's clip_grad_norm_)
  const all = (x: string) =>
    t.op("Sum", [
      x,
      t.op("Range", [t.g.constant([0], [], "int32"), t.op("Rank", [x], { T: F }), t.g.constant([1], [], "int32")], {
        Tidx: dtype("int32"),
      }),
    ], { T: F, Tidx: dtype("int32"), keep_dims: { b: false } });
  const norm = t.op(
    "Sqrt",
    [t.op("AddN", grads.map((g) => all(t.op("Square", [g]))), { T: F, N: { i: grads.length } })],
    { T: F },
    "grad_norm",
  );
  const one = t.scalar(1);
  const clipped = t.op("Minimum", [one, t.op("RealDiv", [maxNorm, t.add(norm, t.scalar(1e-6))])]);
  const coef = t.op("SelectV2", [t.op("Greater", [maxNorm, t.scalar(0)]), clipped, one], { T: F });
  // 2) AdamW per weight: m, v, the bias-corrected step, then decoupled decay (× 0 where none)
  names.forEach((name, i) => {
    const g = t.mul(grads[i], coef);
    const m = t.input(`m/${name}`, "float32"), v = t.input(`v/${name}`, "float32");
    const m1 = t.add(t.mul(m, b1), t.mul(g, c1));
    const v1 = t.add(t.mul(v, b2), t.mul(t.op("Square", [g]), c2));
    const p1 = t.sub(
      t.value.get(paramNode(t, name))!,
      t.mul(t.op("RealDiv", [m1, t.add(t.op("Sqrt", [v1]), eps)]), at(hyper, 2 * i)),
    );
    t.op("Sub", [p1, t.mul(p1, at(hyper, 2 * i + 1))], { T: F }, `new/${name}`);
    t.op("Identity", [m1], { T: F }, `new_m/${name}`);
    t.op("Identity", [v1], { T: F }, `new_v/${name}`);
  });
}

/** The recorded node id of weight `name`. */
function paramNode(t: TfLowering, name: string): number {
  const n = t.ir.nodes.find((x) => x.op === "param" && x.name === name);
  if (!n) throw new Error(`graph: the model has no weight "${name}"`);
  return n.id;
}
