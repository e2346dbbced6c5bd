/**
 * The training step's loss (lib/nn/loss_def.ts), gradient clipping and AdamW (lib/nn/optim.ts) lowered into a
 * TensorFlow graph: the definitions the tape and `AdamW.step` run eagerly, their feeds become placeholders and their
 * operations graph nodes. The loss gives "loss" and d loss / d logits, where the training graph's backward pass
 * starts (lib/graph/bert_graph.ts `trainingGraph`); `addAdamW` then makes a whole optimizer step (forward, backward,
 * clip, update) one TensorFlow call. `lossGraph` is a loss on its own, logits fed, for checking the lowering
 * against PyTorch (test/graph_losses.test.ts).
 *
 *   const s = GraphSession.load(lossGraph("focal"));
 *   s.run({ logits, ...feeds }, ["loss", "dlogits"])   // the focal loss and its gradient, as lib/nn/losses.ts's
 */
import { GraphBuilder, GraphDType, dtype } from "./tfgraph";
import { LossKind, Ops, LOSS_FEEDS, RDROP_FEEDS, lossDef } from "../nn/loss_def";
import { ScalarOps, adamwUpdate, clipFactor, gradNorm } from "../nn/optim";
import type { BertGraph, TfLowering } from "./lowering";

const F = dtype("float32"), I32 = dtype("int32");

/** What lowering a loss needs of its graph: the builder and a way to declare a fed input. */
export type LossHost = Pick<TfLowering, "g" | "input">;

/** Ops and ScalarOps as TensorFlow graph nodes (float32). */
function graphOps(g: GraphBuilder): Ops<string> & ScalarOps<string> {
  const op = (name: string) => (x: string) => g.op(name, [x], { T: F });
  const op2 = (name: string) => (a: string, b: string) => g.op(name, [a, b], { T: F });
  const scalar = (v: number) => g.constant([v], []);
  const int = (v: number[], shape = [v.length]) => g.constant(v, shape, "int32");
  const sum = (x: string, axes: string, keep: boolean) =>
    g.op("Sum", [x, axes], { T: F, Tidx: I32, keep_dims: { b: keep } });
  return {
    scalar,
    add: op2("AddV2"),
    sub: op2("Sub"),
    mul: op2("Mul"),
    div: op2("RealDiv"),
    pow: op2("Pow"),
    maximum: op2("Maximum"),
    minimum: op2("Minimum"),
    neg: op("Neg"),
    exp: op("Exp"),
    log1p: op("Log1p"),
    abs: op("Abs"),
    relu: op("Relu"),
    sigmoid: op("Sigmoid"),
    sqrt: op("Sqrt"),
    square: op("Square"),
    logSoftmax: op("LogSoftmax"),
    matMul: (a, b) => g.op("MatMul", [a, b], { T: F, transpose_a: { b: false }, transpose_b: { b: false } }),
    sum: (x, axis) => sum(x, int(axis === undefined ? [0, 1] : [axis]), axis !== undefined),
    // Σ over the axes 0 … rank − 1, whatever the rank
    sumAll: (x) => sum(x, g.op("Range", [int([0], []), op("Rank")(x), int([1], [])], { Tidx: I32 }), false),
    addN: (xs) => g.op("AddN", xs, { T: F, N: { i: xs.length } }),
    wherePositive: (c, a, b) => g.op("SelectV2", [op2("Greater")(c, scalar(0)), a, b], { T: F }),
  };
}

/**
 * Lowers loss `kind` (with `rdrop`, plus R-Drop's term) at `logits`: declares its feeds, names its value "loss",
 * returns d loss / d logits.
 */
export function lowerLoss(host: LossHost, kind: LossKind, logits: string, rdrop = false): string {
  const shapes = { ...LOSS_FEEDS[kind], ...(rdrop ? RDROP_FEEDS : {}) };
  const feeds = Object.fromEntries(
    Object.entries(shapes).map(([name, shape]) => [name, host.input(name, "float32", shape)]),
  );
  const { value, dlogits } = lossDef(kind, graphOps(host.g), logits, feeds, rdrop);
  host.g.op("Identity", [value], { T: F }, "loss");
  return dlogits;
}

/** A graph of the loss alone: fed "logits" [batch, labels] and the loss's feeds; outputs "loss" and "dlogits". */
export function lossGraph(kind: LossKind, rdrop = false): BertGraph {
  const g = new GraphBuilder();
  const feeds: BertGraph["feeds"] = [];
  const input = (name: string, t: GraphDType, shape: (number | null)[] | null = null) => {
    feeds.push({ name, dtype: t });
    return g.placeholder(name, t, shape);
  };
  const logits = input("logits", "float32", [null, null]);
  g.op("Identity", [lowerLoss({ g, input }, kind, logits, rdrop)], { T: F }, "dlogits");
  return { pb: g.savedModel(), precision: "fp32", feeds, dropouts: [] };
}

/**
 * Clipping and AdamW of weights `names`, with the per-parameter constants of `AdamW.beginStep` fed. Feeds: "m/<w>",
 * "v/<w>" per weight; "hyper" [2·weights]: step size and decay per weight, in order; "adam" [6]: b1, 1 − b1, b2,
 * 1 − b2, eps, max grad norm (0: no clipping). Outputs "new/<w>", "new_m/<w>", "new_v/<w>" and "grad_norm".
 * `grads`: the gradient node of each weight (default its "grad/<name>" output).
 */
export function addAdamW(t: TfLowering, names: string[], grads = names.map((n) => `grad/${n}`)): void {
  const o = graphOps(t.g);
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
    const k = { b1, oneMinusB1, b2, oneMinusB2, eps, stepSize: at(hyper, 2 * i), decay: at(hyper, 2 * i + 1) };
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
