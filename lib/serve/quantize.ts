/**
 * int8 dynamic quantization of an ONNX model, as onnxruntime's `quantize_dynamic` does it with its
 * defaults (Python, onnxruntime.quantization), written over the ONNX protocol buffers of `onnx-proto`.
 * Taught in notebooks/10_production.ipynb; `bertlab export --quantize int8` writes its output as
 * onnx/model_quantized.onnx.
 *
 *   const int8 = quantizeDynamic(fs.readFileSync("out/export/onnx/model.onnx"));
 *   int8.length / fp32.length   // ≈ 0.25 for MiniLM (the embeddings and every linear layer in 8 bits)
 *
 * What changes, node by node (names as onnxruntime spells them, so the two outputs can be compared):
 *   - Gemm (alpha = beta = 1, no transA) becomes MatMul (+ Add for the bias), with a transposed copy of a
 *     constant B: the form the next step quantizes.
 *   - MatMul whose B is an initializer: B → int8, symmetric, one scale per tensor (zero point 0); the input
 *     A is quantized at run time to uint8 by DynamicQuantizeLinear (one per distinct A, shared by the
 *     query, key and value products); MatMulInteger multiplies the integers; Cast and two Muls (A's scale ×
 *     B's scale) give floats back. onnxruntime fuses these into DynamicQuantizeMatMul /
 *     MatMulIntegerToFloat when it loads the model.
 *   - Gather from an initializer (the embedding tables): the table → uint8 with a zero point, one scale per
 *     tensor; rows are gathered as integers and DequantizeLinear turns them back into floats.
 *   - Transpose of a quantized value stays in 8 bits; any other consumer of one gets a DequantizeLinear.
 * Products whose both inputs are activations (attention's QKᵀ and its product with V) stay in float.
 * Weight rounding is numpy's (half to even) on float32 values, so quantized tensors equal Python's bit for
 * bit (test/quantize.test.ts checks against test/fixtures/onnx/quantize_micro.json).
 */
import { onnx } from "onnx-proto";

const { DataType } = onnx.TensorProto;
type Node = onnx.INodeProto;
type Tensor = onnx.ITensorProto;

/** A value replaced by an 8-bit one: where its integers, scale and zero point are. */
interface Quantized {
  q: string;
  scale: string;
  zp: string;
}

/** Integer range of each 8-bit type, and whether weights of it are quantized symmetrically. */
const RANGE: Record<number, { qmin: number; qmax: number; symmetric: boolean }> = {
  [DataType.INT8]: { qmin: -127, qmax: 127, symmetric: true }, // symmetric int8 drops -128
  [DataType.UINT8]: { qmin: 0, qmax: 255, symmetric: false },
};

/** numpy's round(): halves go to the even neighbour. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 ? 2 * Math.round(x / 2) : r;
}

/**
 * One tensor → 8 bits with one scale and zero point, as onnxruntime's quantize_data (quant_utils.py):
 * the range is widened to include 0; int8 is symmetric around 0 (±127), uint8 spans [min, max]; the scale
 * is computed in float64 and stored as float32; q = clip(round(x / scale) + zero point).
 *
 *   quantizeTensor(new Float32Array([-1, 0.5, 2]), DataType.INT8)
 *   // { scale: 0.015748031…, zeroPoint: 0, values: Int8Array [-64, 32, 127] }
 */
export function quantizeTensor(
  data: Float32Array,
  type: number,
): { scale: number; zeroPoint: number; values: Int8Array | Uint8Array } {
  const range = RANGE[type];
  if (!range) throw new Error(`quantizeTensor: type ${DataType[type] ?? type} is not INT8 or UINT8`);
  let rmin = 0, rmax = 0; // 0 is always representable
  for (const x of data) {
    if (x < rmin) rmin = x;
    if (x > rmax) rmax = x;
  }
  if (range.symmetric) [rmin, rmax] = [-Math.max(-rmin, rmax), Math.max(-rmin, rmax)];
  let scale64 = (rmax - rmin) / (range.qmax - range.qmin), zeroPoint = 0;
  if (scale64 < 1.1754943508222875e-38) scale64 = 1; // below float32's smallest normal
  else zeroPoint = roundHalfEven(range.symmetric ? (range.qmin + range.qmax) / 2 : range.qmin - rmin / scale64);
  const scale = Math.fround(scale64);
  const lo = type === DataType.INT8 ? -128 : 0, hi = type === DataType.INT8 ? 127 : 255;
  const values = type === DataType.INT8 ? new Int8Array(data.length) : new Uint8Array(data.length);
  for (let i = 0; i < data.length; i++) {
    const q = roundHalfEven(Math.fround(data[i] / scale)) + zeroPoint;
    values[i] = q < lo ? lo : q > hi ? hi : q;
  }
  return { scale, zeroPoint, values };
}

/** A float32 initializer's values (raw_data or float_data), as a fresh aligned array. */
export function floatValues(t: Tensor): Float32Array {
  if (t.dataType !== DataType.FLOAT)
    throw new Error(`initializer ${t.name}: ${DataType[t.dataType ?? 0]} is not FLOAT`);
  if (t.rawData && t.rawData.length) {
    const bytes = new Uint8Array(t.rawData); // a copy: raw_data may sit at an unaligned offset of the model buffer
    return new Float32Array(bytes.buffer, 0, bytes.byteLength >> 2);
  }
  return Float32Array.from(t.floatData ?? []);
}

const attr = (n: Node, name: string) => n.attribute?.find((x) => x.name === name);
const intAttr = (n: Node, name: string, dflt: number) => Number(attr(n, name)?.i ?? dflt);
const floatAttr = (n: Node, name: string, dflt: number) => Number(attr(n, name)?.f ?? dflt);
function node(opType: string, input: string[], output: string[], name: string, attribute: onnx.IAttributeProto[] = []) {
  return { opType, input, output, name, attribute };
}

/** The whole model quantized (the bytes given are not changed); errors for non-ONNX bytes or opset below 11. */
export function quantizeDynamic(modelBytes: Uint8Array): Uint8Array {
  let model: onnx.ModelProto;
  try {
    model = onnx.ModelProto.decode(modelBytes);
  } catch (e) {
    throw new Error(`quantizeDynamic: not an ONNX model (${(e as Error).message})`, { cause: e });
  }
  if (!model.graph) throw new Error("quantizeDynamic: the model has no graph");
  const opset = Number((model.opsetImport ?? []).find((o) => !o.domain || o.domain === "ai.onnx")?.version ?? 0);
  if (opset < 11)
    throw new Error(`quantizeDynamic: the model's opset is ${opset}; dynamic quantization needs opset 11 or newer`);
  new DynamicQuantizer(model.graph).run();
  model.producerName = "bertlab.quantize";
  model.producerVersion = "1";
  return onnx.ModelProto.encode(model).finish();
}

class DynamicQuantizer {
  private readonly inits = new Map<string, Tensor>();
  private readonly quantized = new Map<string, Quantized>();
  /** Values some new node already produces: never dequantized (onnxruntime's generated_value_names). */
  private readonly generated = new Set<string>();
  private readonly out: Node[] = [];
  private readonly names = new Set<string>();

  constructor(private readonly graph: onnx.IGraphProto) {
    for (const t of graph.initializer ?? []) this.inits.set(t.name!, t);
    for (const i of graph.input ?? []) if (!this.inits.has(i.name!)) this.generated.add(i.name!);
    for (const t of graph.initializer ?? []) this.names.add(t.name!);
    for (const n of graph.node ?? []) [...(n.input ?? []), ...(n.output ?? [])].forEach((x) => this.names.add(x));
  }

  /** Quantizes what quantize_dynamic quantizes in a BERT by default: MatMul, Gather, Transpose (see the file comment). */
  run(): void {
    for (const n of this.gemmToMatMul(this.graph.node ?? [])) {
      const before = this.out.length, x = n.input![0];
      if (n.opType === "MatMul" && this.floatInit(n.input![1])) this.matMul(n);
      // GatherQuant: the table is an initializer here, quantized to uint8 as onnxruntime does
      else if (n.opType === "Gather" && this.floatInit(x)) this.direct8Bit(n, this.quantizeActivation(x));
      else if (n.opType === "Transpose" && this.quantized.has(x)) this.direct8Bit(n, this.quantized.get(x)!);
      else this.keep(n);
      for (const m of this.out.slice(before)) m.output?.forEach((o) => this.generated.add(o));
    }
    for (const o of this.graph.output ?? []) this.dequantize(o.name!);
    this.graph.node = this.out;
    this.dropUnused();
  }

  private floatInit(name: string): Tensor | undefined {
    const t = this.inits.get(name);
    return t && t.dataType === DataType.FLOAT ? t : undefined;
  }

  /** onnxruntime's replace_gemm_with_matmul: Gemm → MatMul (+ Add) with a transposed copy of a constant B. */
  private gemmToMatMul(nodes: Node[]): Node[] {
    const out: Node[] = [];
    const transposed = new Map<string, string>();
    for (const n of nodes) {
      const plain = floatAttr(n, "alpha", 1) === 1 && floatAttr(n, "beta", 1) === 1 && intAttr(n, "transA", 0) === 0;
      if (n.opType !== "Gemm" || !plain) {
        out.push(n);
        continue;
      }
      let b = n.input![1];
      if (intAttr(n, "transB", 0) === 1) {
        const w = this.floatInit(b);
        if (w) {
          if (!transposed.has(b)) {
            // a name free for the copy and for the names quantization derives from it
            const derived = ["", "_quantized", "_scale", "_zero_point"];
            let name = `${b}_Transposed`;
            for (let k = 1; derived.some((s) => this.names.has(name + s)); k++) name = `${b}_Transposed_${k}`;
            derived.forEach((s) => this.names.add(name + s));
            const t = transpose2d(w, name);
            this.graph.initializer!.push(t);
            this.inits.set(name, t);
            transposed.set(b, name);
          }
          b = transposed.get(b)!;
        } else {
          out.push(node("Transpose", [b], [`${b}_Transposed`], n.name ? `${n.name}_Transpose` : ""));
          b = `${b}_Transposed`;
        }
      }
      const hasBias = n.input!.length > 2 && n.input![2] !== "";
      const mm = `${n.output![0]}${hasBias ? "_MatMul" : ""}`;
      out.push(node("MatMul", [n.input![0], b], [mm], n.name ? `${n.name}_MatMul` : ""));
      if (hasBias) out.push(node("Add", [mm, n.input![2]], [n.output![0]], n.name ? `${n.name}_Add` : ""));
    }
    return out;
  }

  /** An initializer in 8 bits (once per name): `<name>_quantized`, `<name>_scale`, `<name>_zero_point`. */
  private quantizeInit(t: Tensor, type: number): Quantized {
    const done = this.quantized.get(t.name!);
    if (done) return done;
    const { scale, zeroPoint, values } = quantizeTensor(floatValues(t), type);
    const name = t.name!;
    const r: Quantized = { q: `${name}_quantized`, scale: `${name}_scale`, zp: `${name}_zero_point` };
    this.graph.initializer!.push(
      { name: r.scale, dataType: DataType.FLOAT, dims: [], floatData: [scale] },
      { name: r.zp, dataType: type, dims: [], int32Data: [zeroPoint] },
      { name: r.q, dataType: type, dims: t.dims, rawData: new Uint8Array(values.buffer) },
    );
    this.quantized.set(name, r);
    return r;
  }

  /** An activation quantized at run time (uint8): one DynamicQuantizeLinear per value. */
  private quantizeActivation(name: string): Quantized {
    const done = this.quantized.get(name);
    if (done) return done;
    const init = this.floatInit(name);
    if (init) return this.quantizeInit(init, DataType.UINT8);
    const r: Quantized = { q: `${name}_quantized`, scale: `${name}_scale`, zp: `${name}_zero_point` };
    this.out.push(node("DynamicQuantizeLinear", [name], [r.q, r.scale, r.zp], `${name}_QuantizeLinear`));
    this.quantized.set(name, r);
    return r;
  }

  /** onnxruntime's MatMulInteger quantizer (operators/matmul.py). */
  private matMul(n: Node): void {
    const a = this.quantizeActivation(n.input![0]);
    const w = this.quantizeInit(this.inits.get(n.input![1])!, DataType.INT8);
    const y = n.output![0];
    const base = n.name ? `${n.name}_quant` : "";
    const int32 = `${y}_output_quantized`;
    this.out.push(node("MatMulInteger", [a.q, w.q, a.zp, w.zp], [int32], base));
    const toFloat = { name: "to", type: onnx.AttributeProto.AttributeType.INT, i: DataType.FLOAT };
    this.out.push(node("Cast", [int32], [`${int32}_cast_output`], `${int32}_cast`, [toFloat]));
    const mulName = base ? `${base}_scales_mul` : `${a.scale}_${w.scale}_mul`;
    // the product of the two scales, once per pair
    if (!this.out.some((m) => m.name === mulName))
      this.out.push(node("Mul", [a.scale, w.scale], [`${mulName}:0`], mulName));
    const outName = base ? `${base}_output_scale_mul` : "";
    this.out.push(node("Mul", [`${int32}_cast_output`, `${mulName}:0`], [y], outName));
  }

  /**
   * onnxruntime's GatherQuant and Direct8BitOp: `n` runs on the integers of `x` (gathers 8-bit rows, transposes);
   * its output stays 8-bit with x's scale, and consumers that need floats get it dequantized.
   */
  private direct8Bit(n: Node, x: Quantized): void {
    const y = n.output![0];
    this.quantized.set(y, { q: `${y}_quantized`, scale: x.scale, zp: x.zp });
    this.out.push({ ...n, input: [x.q, ...n.input!.slice(1)], output: [`${y}_quantized`, ...n.output!.slice(1)] });
  }

  /** A node left as it is, after DequantizeLinear for any input that only exists in 8 bits. */
  private keep(n: Node): void {
    for (const i of n.input ?? []) this.dequantize(i);
    this.out.push(n);
  }

  private dequantize(value: string): void {
    const v = this.quantized.get(value);
    if (!v || this.generated.has(value)) return;
    const name = `${value}_DequantizeLinear`;
    if (this.out.some((m) => m.name === name)) return;
    this.out.push(node("DequantizeLinear", [v.q, v.scale, v.zp], [value], name));
    this.generated.add(value);
  }

  /** Initializers no node reads any more (the float weights that now exist in 8 bits) are removed. */
  private dropUnused(): void {
    const used = new Set([...this.out.flatMap((n) => n.input ?? []), ...(this.graph.output ?? []).map((o) => o.name!)]);
    const dropped = new Set((this.graph.initializer ?? []).filter((t) => !used.has(t.name!)).map((t) => t.name!));
    this.graph.initializer = (this.graph.initializer ?? []).filter((t) => used.has(t.name!));
    this.graph.input = (this.graph.input ?? []).filter((i) => !dropped.has(i.name!));
  }
}

/** A 2-D float initializer, transposed, under a new name. */
function transpose2d(t: Tensor, name: string): Tensor {
  const dims = (t.dims ?? []).map(Number), [rows, cols] = dims;
  if (dims.length !== 2) throw new Error(`Gemm weight ${t.name} has dims [${dims}], not 2-D`);
  const x = floatValues(t), y = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) y[c * rows + r] = x[r * cols + c];
  return { name, dataType: DataType.FLOAT, dims: [cols, rows], rawData: new Uint8Array(y.buffer) };
}
