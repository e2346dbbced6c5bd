/**
 * A TensorFlow graph written from TypeScript: nodes (op, inputs, attributes) in a GraphDef inside a
 * SavedModel, which tfjs-node's binding loads into a TensorFlow session and runs in one call. Used by
 * lib/graph/bert_graph.ts for BERT's inference and training-step graphs on the native backend.
 *
 * Why: tfjs-node pays a fixed cost per operation, however small; a session runs the whole graph inside TensorFlow in
 * one call, and TensorFlow's graph optimiser (Grappler) may fuse operations on top.
 *
 *   const g = new GraphBuilder();
 *   const x = g.placeholder("x", "float32");
 *   g.op("Identity", [g.op("AddV2", [x, g.constant([1], [1])], { T: dtype("float32") })], { T: dtype("float32") }, "y");
 *   fs.writeFileSync("m/saved_model.pb", g.savedModel());   // a SavedModel with the tag "serve"
 *
 * The messages are TensorFlow's own (graph.proto, node_def.proto, attr_value.proto, tensor.proto,
 * meta_graph.proto, saved_model.proto), compiled with google-protobuf: the copy tfjs-node ships and
 * reads SavedModels with (`@tensorflow/tfjs-node/dist/proto/api_pb`).
 */
import * as path from "path";
import { nativePackageDir } from "../runtime/backend";

/**
 * TensorFlow's DataType enum (types.proto), for the dtypes graphs here use. bfloat16 lives only inside a graph
 * (mixed precision casts to it and back): tfjs has no such dtype to feed or fetch.
 */
const DATA_TYPES = { float32: 1, int32: 3, bool: 10, bfloat16: 14 } as const;
export type GraphDType = keyof typeof DATA_TYPES;

/** An attribute value (attr_value.proto): exactly one kind. */
export type Attr =
  | { type: GraphDType }
  | { i: number }
  | { b: boolean }
  | { f: number }
  | { s: string }
  | { shape: (number | null)[] | null }
  | { ints: number[] }
  | { tensor: ConstTensor };

export interface ConstTensor {
  dtype: GraphDType;
  shape: number[];
  values: ArrayLike<number>;
}

/** The attribute `{ type }` (most operations' T). */
export const dtype = (t: GraphDType): Attr => ({ type: t });

// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Message = any;

/** TensorFlow's compiled messages, from the tfjs-node package that runs the graphs (loaded on first use). */
let messages: Message | undefined;
function pb(): Message {
  if (!messages) {
    const dir = nativePackageDir();
    if (!dir) throw new Error("graphs need @tensorflow/tfjs-node (its TensorFlow message definitions): not installed");
    messages = require(path.join(dir, "dist", "proto", "api_pb"));
  }
  return messages;
}

/** TensorShapeProto; `null` dims are unknown (-1), a `null` shape has unknown rank. */
function shapeProto(shape: (number | null)[] | null): Message {
  const s = new (pb().TensorShape)();
  if (shape === null) s.setUnknownRank(true);
  else for (const d of shape) s.addDim(new (pb().TensorShape.Dim)().setSize(d ?? -1)); // addDim returns the dim
  return s;
}

/** TensorProto with its values as little-endian bytes (tensor_content). */
function tensorProto(t: ConstTensor): Message {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.dtype === "bfloat16") throw new Error("graph: no bfloat16 constants; make a float32 one and Cast it");
  if (t.values.length !== n)
    throw new Error(`constant of shape [${t.shape}] needs ${n} values, got ${t.values.length}`);
  const data = t.dtype === "float32"
    ? Float32Array.from(t.values)
    : t.dtype === "bool"
    ? Uint8Array.from(t.values)
    : Int32Array.from(t.values);
  return new (pb().Tensor)().setDtype(DATA_TYPES[t.dtype]).setTensorShape(shapeProto(t.shape)).setTensorContent(
    new Uint8Array(data.buffer),
  );
}

function attrProto(a: Attr): Message {
  const v = new (pb().AttrValue)();
  if ("type" in a) v.setType(DATA_TYPES[a.type]);
  else if ("i" in a) v.setI(a.i);
  else if ("b" in a) v.setB(a.b);
  else if ("f" in a) v.setF(a.f);
  else if ("s" in a) v.setS(new TextEncoder().encode(a.s));
  else if ("shape" in a) v.setShape(shapeProto(a.shape));
  else if ("ints" in a) v.setList(new (pb().AttrValue.ListValue)().setIList(a.ints));
  else v.setTensor(tensorProto(a.tensor));
  return v;
}

/** GraphDef version written (TF_GRAPH_DEF_VERSION; 2.21 is 2474): a TF 2.x one, which later releases read. */
const PRODUCER = 1645;

/** Builds a graph node by node; `op` returns the new node's first output ("name" = "name:0"). */
export class GraphBuilder {
  private nodes: Message[] = [];
  private names = new Set<string>();
  private counter = 0;

  /** Adds a node; `inputs` are outputs of earlier nodes ("a", "a:1"). Returns its name. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    const n = name ?? `${op}_${this.counter++}`;
    if (this.names.has(n)) throw new Error(`graph: node name "${n}" is used twice`);
    for (const i of inputs) {
      const base = i.replace(/^\^/, "").replace(/:\d+$/, "");
      if (!this.names.has(base))
        throw new Error(`graph: node "${n}" (${op}) reads "${i}", which no earlier node makes`);
    }
    this.names.add(n);
    const node = new (pb().NodeDef)().setName(n).setOp(op).setInputList(inputs);
    for (const k of Object.keys(attrs).sort()) node.getAttrMap().set(k, attrProto(attrs[k]));
    this.nodes.push(node);
    return n;
  }

  placeholder(name: string, t: GraphDType, shape: (number | null)[] | null = null): string {
    return this.op("Placeholder", [], { dtype: dtype(t), shape: { shape } }, name);
  }

  constant(values: ArrayLike<number>, shape: number[], t: GraphDType = "float32", name?: string): string {
    return this.op("Const", [], { dtype: dtype(t), value: { tensor: { dtype: t, shape, values } } }, name);
  }

  /** The GraphDef, serialised. */
  graphDef(): Uint8Array {
    return this.graphDefMessage().serializeBinary();
  }

  private graphDefMessage(): Message {
    return new (pb().GraphDef)().setNodeList(this.nodes).setVersions(new (pb().VersionDef)().setProducer(PRODUCER));
  }

  /**
   * SavedModel (schema version 1) holding this graph with the tag "serve" and an empty signature "serving_default".
   * No variables: the weights are fed as inputs, so the file holds only the computation.
   */
  savedModel(): Uint8Array {
    const P = pb();
    const meta = new P.MetaGraphDef().setMetaInfoDef(new P.MetaGraphDef.MetaInfoDef().setTagsList(["serve"]))
      .setGraphDef(this.graphDefMessage());
    meta.getSignatureDefMap().set("serving_default", new P.SignatureDef().setMethodName("tensorflow/serving/predict"));
    const model = new P.SavedModel().setSavedModelSchemaVersion(1);
    model.addMetaGraphs(meta); // (returns the added message, not the model)
    return model.serializeBinary();
  }
}
