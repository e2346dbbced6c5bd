/**
 * The training losses (lib/nn/loss_def.ts) lowered into a TensorFlow graph: their feeds become placeholders, their
 * operations graph nodes, and they give the loss (output "loss") and d loss / d logits, where the training graph's
 * backward pass starts (lib/graph/bert_graph.ts `trainingGraph`). `lossGraph` is a loss on its own, logits fed, for
 * checking the lowering against PyTorch (test/graph_losses.test.ts).
 *
 *   const s = GraphSession.load(lossGraph("focal"));
 *   s.run({ logits, ...feeds }, ["loss", "dlogits"])   // the focal loss and its gradient, as lib/nn/losses.ts's
 */
import { GraphBuilder, GraphDType, dtype } from "./tfgraph";
import { LossKind, LossOps, LOSS_FEEDS, RDROP_FEEDS, lossDef } from "../nn/loss_def";
import type { BertGraph } from "./lowering";

const F = dtype("float32"), I32 = dtype("int32");

/** What lowering a loss needs of its graph: the builder and a way to declare a fed input. */
export interface LossHost {
  readonly g: GraphBuilder;
  input(name: string, t: GraphDType, shape?: (number | null)[] | null): string;
}

/** LossOps as TensorFlow graph nodes (float32; every tensor a loss sees is at most 2-D). */
function graphOps(g: GraphBuilder): LossOps<string> {
  const k = (v: number[]) => g.constant(v, [v.length], "int32");
  const op = (name: string) => (x: string) => g.op(name, [x], { T: F });
  const op2 = (name: string) => (a: string, b: string) => g.op(name, [a, b], { T: F });
  return {
    scalar: (v) => g.constant([v], []),
    add: op2("AddV2"),
    sub: op2("Sub"),
    mul: op2("Mul"),
    pow: op2("Pow"),
    maximum: op2("Maximum"),
    neg: op("Neg"),
    exp: op("Exp"),
    log1p: op("Log1p"),
    abs: op("Abs"),
    relu: op("Relu"),
    sigmoid: op("Sigmoid"),
    logSoftmax: op("LogSoftmax"),
    matMul: (a, b) => g.op("MatMul", [a, b], { T: F, transpose_a: { b: false }, transpose_b: { b: false } }),
    sum: (x, axis) =>
      g.op("Sum", [x, k(axis === undefined ? [0, 1] : [axis])], {
        T: F,
        Tidx: I32,
        keep_dims: { b: axis !== undefined },
      }),
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
  const host: LossHost = { g, input };
  const logits = host.input("logits", "float32", [null, null]);
  g.op("Identity", [lowerLoss(host, kind, logits, rdrop)], { T: F }, "dlogits");
  return { pb: g.savedModel({ inputs: {}, outputs: {} }), precision: "fp32", feeds, dropouts: [] };
}
