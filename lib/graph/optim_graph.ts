/**
 * Gradient clipping and AdamW (lib/nn/optim_def.ts) lowered into the training graph, so that a whole optimizer step
 * (forward, backward, clip, update) is one TensorFlow call: the definitions that lib/nn/optim.ts's `clipGradNorm`
 * and `AdamW.step` run eagerly, with the per-parameter constants computed by `AdamW.beginStep` and fed. Each weight
 * w comes back as "new/w" with its moments "new_m/w" and "new_v/w".
 */
import { dtype } from "./tfgraph";
import type { TfLowering } from "./lowering";
import { AdamWStep, ScalarOps, TensorOps, adamwUpdate, clipFactor, gradNorm } from "../nn/optim_def";

const F = dtype("float32"), I32 = dtype("int32");

/** TensorOps and ScalarOps as TensorFlow graph nodes (float32). */
function graphOps(t: TfLowering): TensorOps<string> & ScalarOps<string> {
  const op = (name: string) => (x: string) => t.op(name, [x]);
  const op2 = (name: string) => (a: string, b: string) => t.op(name, [a, b]);
  return {
    scalar: (v) => t.scalar(v),
    add: op2("AddV2"),
    sub: op2("Sub"),
    mul: op2("Mul"),
    div: op2("RealDiv"),
    minimum: op2("Minimum"),
    sqrt: op("Sqrt"),
    square: op("Square"),
    wherePositive: (c, a, b) => t.op("SelectV2", [t.op("Greater", [c, t.scalar(0)]), a, b]),
    // Σ over the axes 0 … rank − 1, whatever the rank
    sumAll: (x) =>
      t.op("Sum", [
        x,
        t.op("Range", [t.g.constant([0], [], "int32"), t.op("Rank", [x]), t.g.constant([1], [], "int32")], {
          Tidx: I32,
        }),
      ], { T: F, Tidx: I32, keep_dims: { b: false } }),
    addN: (xs) => t.op("AddN", xs, { T: F, N: { i: xs.length } }),
  };
}

/**
 * Feeds: "m/<w>", "v/<w>" per weight; "hyper" [2·weights]: step size and decay per weight, in order;
 * "adam" [6]: b1, 1 − b1, b2, 1 − b2, eps, max grad norm (0: no clipping). Outputs also "grad_norm".
 * `grads`: the gradient node of each weight (default its "grad/<name>" output).
 */
export function addAdamW(t: TfLowering, names: string[], grads = names.map((n) => `grad/${n}`)): void {
  const o = graphOps(t);
  const hyper = t.input("hyper", "float32", [2 * names.length]);
  const adam = t.input("adam", "float32", [6]);
  const at = (v: string, i: number) => t.stridedSlice(v, F, [i], [i + 1], { shrink: 1 });
  const [b1, oneMinusB1, b2, oneMinusB2, eps, maxNorm] = [0, 1, 2, 3, 4, 5].map((i) => at(adam, i));
  // 1) the global norm, and the factor that clips every gradient
  const norm = t.op("Identity", [gradNorm(o, grads)], { T: F }, "grad_norm");
  const coef = clipFactor(o, norm, maxNorm);
  // 2) AdamW per weight; every weight is fed a decay (0 where none)
  names.forEach((name, i) => {
    const g = o.mul(grads[i], coef);
    const m = t.input(`m/${name}`, "float32"), v = t.input(`v/${name}`, "float32");
    const k: AdamWStep<string> = {
      b1,
      oneMinusB1,
      b2,
      oneMinusB2,
      eps,
      stepSize: at(hyper, 2 * i),
      decay: at(hyper, 2 * i + 1),
    };
    const next = adamwUpdate(o, { p: t.value.get(paramNode(t, name))!, g, m, v }, k);
    t.op("Identity", [next.p], { T: F }, `new/${name}`);
    t.op("Identity", [next.m], { T: F }, `new_m/${name}`);
    t.op("Identity", [next.v], { T: F }, `new_v/${name}`);
  });
}

/** The recorded node id of weight `name`. */
function paramNode(t: TfLowering, name: string): number {
  const n = t.ir.nodes.find((x) => x.op === "param" && x.name === name);
  if (!n) throw new Error(`graph: the model has no weight "${name}"`);
  return n.id;
}
