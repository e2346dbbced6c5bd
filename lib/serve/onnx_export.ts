/**
 * BERT exported to ONNX: lib/nn/bert_def.ts's forward pass, recorded (lib/graph/graph_ir.ts) and lowered block by
 * block to ONNX operators (opset 17), with the fine-tuned weights as initializers. The result is what
 * ONNX Runtime (onnxruntime-node, onnxruntime-web) and transformers.js run. The protocol buffer is
 * written by the `onnx-proto` package (ONNX's published schema compiled with protobufjs).
 *
 *   const bytes = bertOnnx(model);   // ModelProto: input_ids, attention_mask, token_type_ids (int64,
 *   fs.writeFileSync("model.onnx", bytes);  //   [batch, sequence]) → logits (float32, [batch, labels])
 *
 * Linear weights are stored transposed, [in, out], so that each linear layer is a plain MatMul with a
 * constant right-hand side: the form ONNX Runtime's kernels and dynamic int8 quantization expect. GELU is
 * written with Erf, which ONNX Runtime fuses into one kernel; LayerNormalization is ONNX's own operator.
 */
import { onnx } from "onnx-proto";
import * as tf from "@tensorflow/tfjs";
import { recordBert, IrNode } from "../graph/graph_ir";
import { firstRowsOnly, takesFirstRows, rowKinds } from "../graph/rows";
import type { BertForSequenceClassification } from "../model/bert";
import { MASK_MIN } from "../nn/ops";

/** ONNX Runtime reads opset 17 from version 1.13 on; transformers.js's onnxruntime-web reads it too. */
export const ONNX_OPSET = 17;
const IR_VERSION = 8;
/** A protocol buffer cannot exceed 2 GiB; weights beyond that need ONNX's external data files. */
export const PROTOBUF_LIMIT = 2 ** 31 - 1;

const T = onnx.TensorProto.DataType;
const A = onnx.AttributeProto.AttributeType;

type Attr = { name: string; i?: number; f?: number; ints?: number[] };

class OnnxGraph {
  readonly nodes: onnx.INodeProto[] = [];
  readonly initializers: onnx.ITensorProto[] = [];
  private count = 0;

  op(opType: string, inputs: string[], attrs: Attr[] = [], outputName?: string): string {
    const out = outputName ?? `${opType}_${this.count++}`;
    const attribute = attrs.map((a) => ({ ...a, type: a.ints ? A.INTS : a.f !== undefined ? A.FLOAT : A.INT }));
    this.nodes.push({ opType, input: inputs, output: [out], name: out, attribute });
    return out;
  }

  /** An initializer (float32 unless `dataType` says otherwise). */
  tensor(name: string, dims: number[], values: Float32Array | BigInt64Array, dataType: number = T.FLOAT): string {
    const rawData = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    this.initializers.push({ name, dims, dataType, rawData });
    return name;
  }

  /** An int64 constant: 1-D, or a scalar when `scalar`. */
  ints(values: number[], scalar = false): string {
    const data = BigInt64Array.from(values.map(BigInt));
    return this.tensor(`const_${this.count++}`, scalar ? [] : [values.length], data, T.INT64);
  }

  scalar(v: number): string {
    return this.tensor(`const_${this.count++}`, [], Float32Array.of(v));
  }
}

function dynamic(elemType: number, dims: (string | number)[]): onnx.ITypeProto {
  const dim = dims.map((d) => (typeof d === "string" ? { dimParam: d } : { dimValue: d }));
  return { tensorType: { elemType, shape: { dim } } };
}

/** The model's current weights and eval-mode forward as an ONNX ModelProto (bytes). */
export function bertOnnx(model: BertForSequenceClassification): Uint8Array {
  const c = model.config;
  const ir = recordBert(c, { training: false });
  const g = new OnnxGraph();
  const heads = c.num_attention_heads, dh = c.hidden_size / heads;
  const value = new Map<number, string>();
  const read = (t: tf.Tensor) => t.dataSync() as Float32Array;

  // Inputs as transformers.js and Hugging Face's exporters name them; the additive mask is made in the graph.
  const ids = "input_ids", types = "token_type_ids", attention = "attention_mask";
  const maskF = g.op("Cast", [attention], [{ name: "to", i: T.FLOAT }]);
  const additive = g.op("Mul", [g.op("Sub", [g.scalar(1), maskF]), g.scalar(MASK_MIN)]);
  value.set(ir.inputs.input_ids, ids);
  value.set(ir.inputs.token_type_ids, types);
  value.set(ir.inputs.mask, g.op("Unsqueeze", [additive, g.ints([1, 2])])); // [batch, 1, 1, seq]
  const seq = g.op("Slice", [g.op("Shape", [ids]), g.ints([1]), g.ints([2])]); // [seq]
  const splitShape = g.ints([0, 0, heads, dh]);
  const heads4 = (x: string, perm: number[]) =>
    g.op("Transpose", [g.op("Reshape", [x, splitShape])], [{ name: "perm", ints: perm }]);

  // Linear layers read their weight transposed; the IR names the weight nodes, so note which feed a linear.
  const transposed = new Set(ir.nodes.filter((n) => n.op === "linear").map((n) => n.inputs[1]));
  // The classifier reads the last layer at [CLS] only: those blocks run on [batch, 1, hidden] (graph_ir.ts
  // firstRowsOnly), taking position 0 of the full values they read; keys and values still see every token.
  const cut = firstRowsOnly(ir, [ir.outputs.logits]);
  const kinds = rowKinds(ir);
  const arg = (n: IrNode, j: number): string => {
    const v = value.get(n.inputs[j])!;
    return takesFirstRows(ir, cut, kinds, n, j) ? g.op("Slice", [v, g.ints([0]), g.ints([1]), g.ints([1])]) : v;
  };
  const lower = (n: IrNode): string => {
    const x = n.inputs.map((_, j) => arg(n, j));
    switch (n.op) {
      case "param": {
        const w = model.params.get(n.name!)!;
        if (!transposed.has(n.id)) return g.tensor(n.name!, w.shape, read(w));
        return tf.tidy(() => {
          const wt = tf.transpose(w);
          return g.tensor(`${n.name}.T`, wt.shape, read(wt));
        });
      }
      case "embed":
        return g.op("Gather", [x[0], x[1]], [{ name: "axis", i: 0 }]);
      case "positions":
        return g.op("Slice", [x[0], g.ints([0]), seq, g.ints([0])]);
      case "add":
        return g.op("Add", x);
      case "linear":
        return g.op("Add", [g.op("MatMul", [x[0], x[1]]), x[2]]);
      case "layerNorm":
        return g.op("LayerNormalization", x, [{ name: "axis", i: -1 }, { name: "epsilon", f: n.eps! }]);
      case "gelu": { // 0.5·x·(1 + erf(x/√2)): the pattern ONNX Runtime fuses into its Gelu kernel
        const erf = g.op("Erf", [g.op("Div", [x[0], g.scalar(Math.SQRT2)])]);
        return g.op("Mul", [g.op("Mul", [x[0], g.op("Add", [erf, g.scalar(1)])]), g.scalar(0.5)]);
      }
      case "tanh":
        return g.op("Tanh", x);
      case "attentionProbs": {
        const q = heads4(g.op("Mul", [x[0], g.scalar(1 / Math.sqrt(dh))]), [0, 2, 1, 3]);
        const kT = heads4(x[1], [0, 2, 3, 1]);
        return g.op("Softmax", [g.op("Add", [g.op("MatMul", [q, kT]), x[2]])], [{ name: "axis", i: -1 }]);
      }
      case "attentionContext": {
        const ctx = g.op("MatMul", [x[0], heads4(x[1], [0, 2, 1, 3])]);
        return g.op("Reshape", [
          g.op("Transpose", [ctx], [{ name: "perm", ints: [0, 2, 1, 3] }]),
          g.ints([0, 0, c.hidden_size]),
        ]);
      }
      case "first":
        return g.op("Gather", [x[0], g.ints([0], true)], [{ name: "axis", i: 1 }]); // h[:, 0, :]
      case "dropout":
      case "input":
        throw new Error(`onnx: unexpected ${n.op} node in an eval-mode graph`);
    }
  };
  for (const n of ir.nodes) if (!value.has(n.id)) value.set(n.id, lower(n));
  const logits = g.op("Identity", [value.get(ir.outputs.logits)!], [], "logits");

  const size = g.initializers.reduce((a, t) => a + (t.rawData?.byteLength ?? 0), 0);
  const gib = (size / 2 ** 30).toFixed(2);
  if (size > PROTOBUF_LIMIT)
    throw new Error(
      `onnx: the weights take ${gib} GiB, over protobuf's 2 GiB limit for one file (external data is not written)`,
    );
  const proto = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: ONNX_OPSET }],
    producerName: "bertlab",
    graph: {
      name: "bert_for_sequence_classification",
      node: g.nodes,
      initializer: g.initializers,
      input: [ids, attention, types].map((name) => ({
        name,
        type: dynamic(T.INT64, ["batch_size", "sequence_length"]),
      })),
      output: [{ name: logits, type: dynamic(T.FLOAT, ["batch_size", model.labels.length]) }],
    },
  });
  return onnx.ModelProto.encode(proto).finish();
}
