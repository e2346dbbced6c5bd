/**
 * safetensors files, read and written in plain TypeScript: the format Hugging Face stores weights in.
 *
 * A file is: 8 bytes (little-endian u64) giving the header length N, N bytes of JSON header
 * `{"name": {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}, "__metadata__": {...}}`,
 * then the tensors' bytes. Reading checks everything the header promises (length, offsets inside
 * the data, dtype known, shape × dtype size = byte count, no overlaps) so a truncated or corrupt file
 * fails with an error naming the file and the tensor, never with garbage weights.
 *
 * Reading converts to what TensorFlow.js holds: F32/F16/BF16/F64 → Float32Array, I64/I32/I16/I8/U8/BOOL →
 * Int32Array (I64 values outside the int32 range are an error). Writing stores F32 (and I32) tensors
 * sorted by name, with the header padded by spaces to a multiple of 8 bytes as the Rust library does,
 * and `__metadata__ {"format": "pt"}` so Python transformers loads it. Used by lib/nn/weights.ts.
 *
 *   const { tensors } = readSafetensors("models/all-MiniLM-L6-v2/model.safetensors");
 *   tensors.get("embeddings.word_embeddings.weight")  // { dtype: "float32", shape: [30522, 384], sourceDtype: "F32", data: Float32Array(11720448) }
 */
import * as fs from "fs";
import { writeFileAtomic } from "../core/fsutil";

/** A tensor as read from (or to be written to) a safetensors file. */
export interface SafeTensor {
  dtype: "float32" | "int32";
  shape: number[];
  data: Float32Array | Int32Array;
  /** The dtype in the file ("F32", "F16", "BF16", "I64", ...); set by the reader. */
  sourceDtype?: string;
}

export interface SafetensorsFile {
  tensors: Map<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** One entry of the header, as found in the file. */
export interface HeaderEntry {
  dtype: string;
  shape: number[];
  data_offsets: [number, number];
}

/** Bytes per element of each safetensors dtype we can read. */
const DTYPE_BYTES: Record<string, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U8: 1,
  BOOL: 1,
};

/** Headers above this size are refused (the Rust library's limit is 100 MB). */
const MAX_HEADER = 100_000_000;

function fail(source: string, msg: string): never {
  throw new Error(`safetensors ${source}: ${msg}`);
}

/** Parses and validates the header only; returns entries, metadata and where the data starts. */
export function parseHeader(
  buf: Uint8Array,
  source = "<buffer>",
  fileSize = buf.length,
): { entries: Map<string, HeaderEntry>; metadata: Record<string, string>; dataStart: number } {
  if (buf.length < 8) fail(source, `file is ${buf.length} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const n = Number(view.getBigUint64(0, true));
  if (n > MAX_HEADER) fail(source, `header length ${n} is implausible (corrupt file?)`);
  if (8 + n > buf.length)
    fail(source, `header length ${n} runs past the end of the ${fileSize}-byte file (truncated?)`);
  let json: unknown;
  try {
    json = JSON.parse(Buffer.from(buf.buffer, buf.byteOffset + 8, n).toString("utf8"));
  } catch (e) {
    fail(source, `header is not valid JSON (${(e as Error).message})`);
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) fail(source, "header is not a JSON object");
  const dataStart = 8 + n;
  const dataLen = fileSize - dataStart;
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  const spans: [number, number, string][] = [];
  for (const [name, raw] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      metadata = (raw ?? {}) as Record<string, string>;
      continue;
    }
    const e = raw as Partial<HeaderEntry> | null;
    const bad: (msg: string) => never = (msg) => fail(source, `tensor "${name}": ${msg}`);
    if (!e || typeof e !== "object") bad("header entry is not an object");
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) bad(`unsupported dtype ${JSON.stringify(e.dtype)}`);
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isInteger(d) && d >= 0))
      bad(`bad shape ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || !off.every((o) => Number.isInteger(o) && o >= 0) || off[0] > off[1])
      bad(`bad data_offsets ${JSON.stringify(off)}`);
    if (off[1] > dataLen)
      bad(`data_offsets ${JSON.stringify(off)} run past the ${dataLen} data bytes (truncated file?)`);
    const expected = e.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[e.dtype];
    if (off[1] - off[0] !== expected)
      bad(`shape [${e.shape}] of ${e.dtype} needs ${expected} bytes but data_offsets give ${off[1] - off[0]}`);
    entries.set(name, { dtype: e.dtype, shape: e.shape.slice(), data_offsets: [off[0], off[1]] });
    spans.push([off[0], off[1], name]);
  }
  spans.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  for (let i = 1; i < spans.length; i++) {
    if (spans[i][0] < spans[i - 1][1]) fail(source, `tensors "${spans[i - 1][2]}" and "${spans[i][2]}" overlap`);
  }
  return { entries, metadata, dataStart };
}

/** fp16 bits → number (IEEE half precision, with subnormals, inf and NaN). */
function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f ? NaN : s * Infinity;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

/** Element i of each dtype (but F32, copied whole) as a number. */
const READ: Record<string, (v: DataView, i: number) => number> = {
  F64: (v, i) => v.getFloat64(i * 8, true),
  F16: (v, i) => halfToFloat(v.getUint16(i * 2, true)),
  BF16: (v, i) => new Float32Array(new Uint32Array([v.getUint16(i * 2, true) << 16]).buffer)[0],
  I64: (v, i) => Number(v.getBigInt64(i * 8, true)),
  I32: (v, i) => v.getInt32(i * 4, true),
  I16: (v, i) => v.getInt16(i * 2, true),
  I8: (v, i) => v.getInt8(i),
  U8: (v, i) => v.getUint8(i),
  BOOL: (v, i) => v.getUint8(i),
};

function decode(name: string, e: HeaderEntry, bytes: Uint8Array, source: string): SafeTensor {
  const count = e.shape.reduce((a, b) => a * b, 1);
  const float = e.dtype.startsWith("F") || e.dtype === "BF16";
  const out = float ? new Float32Array(count) : new Int32Array(count);
  // F32 is copied: the file buffer may not be 4-byte aligned (and Buffer.slice would not copy)
  if (e.dtype === "F32") new Uint8Array(out.buffer).set(bytes);
  else {
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), read = READ[e.dtype];
    for (let i = 0; i < count; i++) {
      const v = read(view, i);
      if (!float && (v > 2147483647 || v < -2147483648))
        fail(source, `tensor "${name}": ${e.dtype} value ${v} at index ${i} does not fit in int32`);
      out[i] = v;
    }
  }
  return { dtype: float ? "float32" : "int32", shape: e.shape, data: out, sourceDtype: e.dtype };
}

/** Parses a whole safetensors buffer. `source` names it in errors (a file path). */
export function parseSafetensors(buf: Uint8Array, source = "<buffer>"): SafetensorsFile {
  const { entries, metadata, dataStart } = parseHeader(buf, source);
  const tensors = new Map<string, SafeTensor>();
  for (const [name, e] of entries) {
    const bytes = buf.subarray(dataStart + e.data_offsets[0], dataStart + e.data_offsets[1]);
    tensors.set(name, decode(name, e, bytes, source));
  }
  return { tensors, metadata };
}

/** Reads a safetensors file; errors name the file and the tensor at fault. */
export function readSafetensors(file: string): SafetensorsFile {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new Error(`safetensors ${file}: cannot read (${(e as Error).message})`, { cause: e });
  }
  return parseSafetensors(buf, file);
}

/** Reads only the header of a file (names, dtypes, shapes) without loading the weights. */
export function readSafetensorsHeader(file: string): Map<string, HeaderEntry> {
  const fd = fs.openSync(file, "r");
  try {
    const size = fs.fstatSync(fd).size;
    if (size < 8) fail(file, `file is ${size} bytes, shorter than the 8-byte header length`);
    const head = Buffer.alloc(8);
    fs.readSync(fd, head, 0, 8, 0);
    const n = Number(head.readBigUInt64LE(0));
    const buf = Buffer.alloc(n > MAX_HEADER ? 8 : Math.min(8 + n, size));
    fs.readSync(fd, buf, 0, buf.length, 0);
    return parseHeader(buf, file, size).entries;
  } finally {
    fs.closeSync(fd);
  }
}

/** Tensors to write, by name. */
type Tensors = Map<string, SafeTensor> | Record<string, SafeTensor>;

/** Serialises tensors (F32 or I32) to safetensors bytes: names sorted, header padded to 8 bytes. */
export function serializeSafetensors(
  tensors: Tensors,
  metadata: Record<string, string> = { format: "pt" },
): Uint8Array {
  const map = tensors instanceof Map ? tensors : new Map(Object.entries(tensors));
  const names = [...map.keys()].sort();
  const header: Record<string, unknown> = { __metadata__: metadata };
  let offset = 0;
  for (const name of names) {
    const t = map.get(name)!;
    const count = t.shape.reduce((a, b) => a * b, 1);
    if (t.data.length !== count)
      throw new Error(
        `safetensors: tensor "${name}" has ${t.data.length} values but shape [${t.shape}] needs ${count}`,
      );
    const isFloat = t.data instanceof Float32Array;
    if (isFloat !== (t.dtype === "float32"))
      throw new Error(`safetensors: tensor "${name}" says ${t.dtype} but holds ${t.data.constructor.name}`);
    header[name] = { dtype: isFloat ? "F32" : "I32", shape: t.shape, data_offsets: [offset, offset + count * 4] };
    offset += count * 4;
  }
  const json = JSON.stringify(header);
  const hbytes = Buffer.from(json + " ".repeat((8 - (Buffer.byteLength(json) % 8)) % 8), "utf8");
  const out = new Uint8Array(8 + hbytes.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(hbytes.length), true);
  out.set(hbytes, 8);
  let pos = 8 + hbytes.length;
  for (const name of names) {
    const t = map.get(name)!;
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/** Writes tensors to `file` atomically (a reader never sees half a file). */
export function writeSafetensors(
  file: string,
  tensors: Tensors,
  metadata: Record<string, string> = { format: "pt" },
): void {
  writeFileAtomic(file, serializeSafetensors(tensors, metadata));
}
