/**
 * A TensorFlow graph written from TypeScript: nodes (op, inputs, attributes) serialised as a
 * GraphDef inside a SavedModel protocol buffer, which tfjs-node's binding loads into a TensorFlow
 * session and runs in one call. Used by lib/bert_graph.ts for inference on the native backend.
 *
 * Why: tfjs-node runs each operation as its own call from JavaScript into TensorFlow (10–50 µs
 * each, however small the operation), so a batch-1 BERT forward of ~300 operations costs more in
 * calls than in arithmetic. A session runs the whole graph inside TensorFlow: one call, and
 * TensorFlow's graph optimiser (Grappler) may fuse operations on top.
 *
 *   const g = new GraphBuilder();
 *   const x = g.placeholder("x", "float32");
 *   g.op("Identity", [g.op("AddV2", [x, g.constant([1], [1])], { T: dtype("float32") })], { T: dtype("float32") }, "y");
 *   fs.writeFileSync("m/saved_model.pb", g.savedModel());   // a SavedModel with the tag "serve"
 *
 * Only the protocol-buffer fields these graphs need are written (field numbers from TensorFlow's
 * graph.proto, node_def.proto, attr_value.proto, tensor.proto, meta_graph.proto, saved_model.proto);
 * test/tfgraph.test.ts reads the output back with tfjs-node's own parser of those messages.
 */

/** TensorFlow's DataType enum (types.proto), for the dtypes graphs here use. */
const DATA_TYPES = { float32: 1, int32: 3 } as const;
export type GraphDType = keyof typeof DATA_TYPES;

/** An attribute value (attr_value.proto): exactly one kind. */
export type Attr =
  | { type: GraphDType } | { i: number } | { b: boolean } | { f: number } | { s: string }
  | { shape: (number | null)[] | null } | { ints: number[] } | { tensor: ConstTensor };

export interface ConstTensor { dtype: GraphDType; shape: number[]; values: ArrayLike<number> }

/** The attribute `{ type }` (most operations' T). */
export const dtype = (t: GraphDType): Attr => ({ type: t });

// ---- protocol-buffer writer (wire format: varint = 0, 32-bit = 5, length-delimited = 2) ----

class ProtoWriter {
  private parts: number[] = [];
  private chunks: Uint8Array[] = [];

  private flush(): void {
    if (this.parts.length) { this.chunks.push(Uint8Array.from(this.parts)); this.parts = []; }
  }
  private varint(v: number | bigint): void {
    // int64 as protobuf stores it: negatives as 10-byte two's complement.
    let n = BigInt.asUintN(64, BigInt(v));
    do {
      const byte = Number(n & 0x7fn);
      n >>= 7n;
      this.parts.push(n ? byte | 0x80 : byte);
    } while (n);
  }
  private key(field: number, wire: number): void { this.varint((field << 3) | wire); }

  int(field: number, v: number): this { this.key(field, 0); this.varint(v); return this; }
  bool(field: number, v: boolean): this { return this.int(field, v ? 1 : 0); }
  float(field: number, v: number): this {
    this.key(field, 5);
    const b = new Uint8Array(4);
    new DataView(b.buffer).setFloat32(0, v, true);
    this.parts.push(...b);
    return this;
  }
  bytes(field: number, data: Uint8Array): this {
    this.key(field, 2); this.varint(data.length); this.flush(); this.chunks.push(data);
    return this;
  }
  string(field: number, s: string): this { return this.bytes(field, new TextEncoder().encode(s)); }
  message(field: number, fill: (w: ProtoWriter) => void): this {
    const w = new ProtoWriter();
    fill(w);
    return this.bytes(field, w.finish());
  }
  packedInts(field: number, values: number[]): this {
    const w = new ProtoWriter();
    for (const v of values) w.varint(v);
    return this.bytes(field, w.finish());
  }
  /** A map<string, V> entry: key 1, value 2. */
  mapEntry(field: number, key: string, value: (w: ProtoWriter) => void): this {
    return this.message(field, (e) => { e.string(1, key); e.message(2, value); });
  }
  finish(): Uint8Array {
    this.flush();
    const n = this.chunks.reduce((a, c) => a + c.length, 0);
    const out = new Uint8Array(n);
    let o = 0;
    for (const c of this.chunks) { out.set(c, o); o += c.length; }
    return out;
  }
}

/** TensorShapeProto: dim 2 {size 1}, unknown_rank 3. `null` dims are unknown (-1). */
function writeShape(w: ProtoWriter, shape: (number | null)[] | null): void {
  if (shape === null) { w.bool(3, true); return; }
  for (const d of shape) w.message(2, (dim) => dim.int(1, d ?? -1));
}

/** TensorProto: dtype 1, tensor_shape 2, tensor_content 4 (little-endian bytes). */
function writeTensor(w: ProtoWriter, t: ConstTensor): void {
  const n = t.shape.reduce((a, b) => a * b, 1);
  if (t.values.length !== n) throw new Error(`constant of shape [${t.shape}] needs ${n} values, got ${t.values.length}`);
  const data = t.dtype === "float32" ? Float32Array.from(t.values) : Int32Array.from(t.values);
  w.int(1, DATA_TYPES[t.dtype]);
  w.message(2, (s) => writeShape(s, t.shape));
  w.bytes(4, new Uint8Array(data.buffer));
}

/** AttrValue: list 1 {i 3}, s 2, i 3, f 4, b 5, type 6, shape 7, tensor 8. */
function writeAttr(w: ProtoWriter, a: Attr): void {
  if ("type" in a) w.int(6, DATA_TYPES[a.type]);
  else if ("i" in a) w.int(3, a.i);
  else if ("b" in a) w.bool(5, a.b);
  else if ("f" in a) w.float(4, a.f);
  else if ("s" in a) w.string(2, a.s);
  else if ("shape" in a) w.message(7, (s) => writeShape(s, a.shape));
  else if ("ints" in a) w.message(1, (l) => l.packedInts(3, a.ints));
  else w.message(8, (t) => writeTensor(t, a.tensor));
}

/** GraphDef version written (TF_GRAPH_DEF_VERSION; 2.21 is 2474): a TF 2.x one, which later releases read. */
const PRODUCER = 1645;

/** Names a graph's inputs and outputs for a SavedModel signature. */
export interface SignatureTensor { name: string; dtype: GraphDType; shape: (number | null)[] | null }

/** Builds a graph node by node; `op` returns the new node's first output ("name" = "name:0"). */
export class GraphBuilder {
  private nodes: Uint8Array[] = [];
  private names = new Set<string>();
  private counter = 0;

  /** Adds a node; `inputs` are outputs of earlier nodes ("a", "a:1"). Returns its name. */
  op(op: string, inputs: string[], attrs: Record<string, Attr> = {}, name?: string): string {
    const n = name ?? `${op}_${this.counter++}`;
    if (this.names.has(n)) throw new Error(`graph: node name "${n}" is used twice`);
    for (const i of inputs) {
      const base = i.replace(/^\^/, "").replace(/:\d+$/, "");
      if (!this.names.has(base)) throw new Error(`graph: node "${n}" (${op}) reads "${i}", which no earlier node makes`);
    }
    this.names.add(n);
    const w = new ProtoWriter();
    w.string(1, n).string(2, op);
    for (const i of inputs) w.string(3, i);
    for (const k of Object.keys(attrs).sort()) w.mapEntry(5, k, (v) => writeAttr(v, attrs[k]));
    this.nodes.push(w.finish());
    return n;
  }

  placeholder(name: string, t: GraphDType, shape: (number | null)[] | null = null): string {
    return this.op("Placeholder", [], { dtype: dtype(t), shape: { shape } }, name);
  }

  constant(values: ArrayLike<number>, shape: number[], t: GraphDType = "float32", name?: string): string {
    return this.op("Const", [], { dtype: dtype(t), value: { tensor: { dtype: t, shape, values } } }, name);
  }

  get size(): number { return this.nodes.length; }

  /** GraphDef: node 1, versions 4 {producer 1}. */
  graphDef(): Uint8Array {
    const w = new ProtoWriter();
    for (const n of this.nodes) w.bytes(1, n);
    w.message(4, (v) => v.int(1, PRODUCER));
    return w.finish();
  }

  /**
   * SavedModel (schema_version 1, meta_graphs 2) holding this graph with `tags` and one signature
   * "serving_default" (MetaGraphDef: meta_info_def 1 {tags 4}, graph_def 2, signature_def 5;
   * SignatureDef: inputs 1, outputs 2, method_name 3; TensorInfo: name 1, dtype 2, tensor_shape 3).
   * No variables: the weights are fed as inputs, so the file holds only the computation.
   */
  savedModel(signature: { inputs: Record<string, SignatureTensor>; outputs: Record<string, SignatureTensor> }, tags = ["serve"]): Uint8Array {
    const info = (w: ProtoWriter, t: SignatureTensor) => {
      w.string(1, `${t.name}:0`).int(2, DATA_TYPES[t.dtype]).message(3, (s) => writeShape(s, t.shape));
    };
    const graph = this.graphDef();
    return new ProtoWriter().int(1, 1).message(2, (mg) => {
      mg.message(1, (mi) => { for (const t of tags) mi.string(4, t); });
      mg.bytes(2, graph);
      mg.mapEntry(5, "serving_default", (sd) => {
        for (const [k, t] of Object.entries(signature.inputs)) sd.mapEntry(1, k, (v) => info(v, t));
        for (const [k, t] of Object.entries(signature.outputs)) sd.mapEntry(2, k, (v) => info(v, t));
        sd.string(3, "tensorflow/serving/predict");
      });
    }).finish();
  }
}
