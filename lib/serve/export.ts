/**
 * `bertlab export`: a fine-tuned checkpoint → a model folder that transformers.js, onnxruntime (Node,
 * web, Python) and `bertlab predict` load as it is:
 *
 *   out/export/
 *     config.json                 the checkpoint's (id2label names the classes)
 *     tokenizer.json  tokenizer_config.json  vocab.txt  special_tokens_map.json
 *     onnx/model.onnx             fp32: bertOnnx (lib/serve/onnx_export.ts), the ONNX form of lib/model/bert.ts's forward
 *     onnx/model_quantized.onnx   with --quantize int8: lib/serve/quantize.ts (dynamic int8, ~25% of the size)
 *
 *   await exportOnnx("runs/course", "out/export", { quantize: "int8" })
 *   // { out: "out/export", files: [{ path: "config.json", bytes: 1024 }, …], fp32Bytes: 90965939,
 *   //   int8Bytes: 22963444, seconds: 4.1 }
 *
 * The folder is written into a temporary sibling and renamed into place, so a failure leaves no half
 * export; an existing export is replaced only with `force`. Taught in notebooks/10_production.ipynb.
 */
import * as fs from "fs";
import * as path from "path";
import { validateModelDir } from "../model/models";
import { bertParamShapes, ShapeConfig } from "../nn/weights";
import {
  TOKENIZER_FILES,
  modelFolder,
  readLabels,
  ONNX_MODEL,
  ONNX_MODEL_QUANTIZED,
  isOnnxExport,
} from "../model/run_folder";
import { replaceDirAtomic, writeFileAtomic } from "../core/fsutil";
import { quantizeDynamic } from "./quantize";
import { bertOnnx, PROTOBUF_LIMIT } from "./onnx_export";
import type { BertForSequenceClassification } from "../model/bert";

export interface ExportOptions {
  /** Also write onnx/model_quantized.onnx (int8 dynamic quantization). */
  quantize?: "int8";
  /** Replace an existing export at `out`. */
  force?: boolean;
  /** The fp32 ModelProto of the loaded model; default `bertOnnx` (tests may pass PyTorch's export). */
  onnxBytes?: (model: BertForSequenceClassification, checkpoint: string) => Uint8Array | Promise<Uint8Array>;
}

export interface ExportResult {
  out: string;
  files: { path: string; bytes: number }[];
  fp32Bytes: number;
  int8Bytes?: number;
  seconds: number;
}

/** Checks `dir` is a fine-tuned BERT checkpoint whose weights fit one .onnx file; returns its label names. */
export function checkExportable(dir: string): string[] {
  const config = validateModelDir(dir) as unknown as ShapeConfig & { id2label?: Record<string, string> };
  const labels = readLabels(dir);
  const bytes = 4 * bertParamShapes(config, labels.length).reduce((a, [, s]) => a + s.reduce((x, y) => x * y, 1), 0);
  if (bytes > PROTOBUF_LIMIT) {
    const gib = (bytes / 2 ** 30).toFixed(1);
    throw new Error(
      `${path.join(dir, "config.json")}: ${gib} GiB of float32 weights is over protobuf's 2 GiB ` +
        "limit for one .onnx file (ONNX external data is not written by bertlab): export a smaller model",
    );
  }
  return labels;
}

/** fp32 (and int8) ModelProto bytes of a checkpoint, through TensorFlow.js's model and bertOnnx. */
export async function onnxBytesFromCheckpoint(
  dir: string,
  opts: Pick<ExportOptions, "quantize" | "onnxBytes"> = {},
): Promise<{ fp32: Uint8Array; int8?: Uint8Array }> {
  checkExportable(dir);
  // TensorFlow.js is loaded only here: serving an export never needs it.
  const { initBackend } = await import("../runtime/backend");
  const { loadTrained } = await import("../eval/evaluate");
  await initBackend();
  const { model } = await loadTrained(dir);
  let fp32: Uint8Array;
  try {
    fp32 = opts.onnxBytes ? await opts.onnxBytes(model, dir) : bertOnnx(model);
  } finally {
    model.dispose();
  }
  if (fp32.length > PROTOBUF_LIMIT)
    throw new Error(`${dir}: the ONNX model is ${fp32.length} bytes, over protobuf's 2 GiB limit`);
  return { fp32, int8: opts.quantize === "int8" ? quantizeDynamic(fp32) : undefined };
}

/** Refuses a destination that would lose something: an export (unless forced), a checkpoint, any other files. */
function checkDestination(checkpoint: string, out: string, force: boolean): void {
  if (path.resolve(out) === path.resolve(checkpoint))
    throw new Error(`--out ${out} is the checkpoint itself: choose another folder`);
  if (!fs.existsSync(out)) return;
  if (!fs.statSync(out).isDirectory()) throw new Error(`${out} exists and is not a folder`);
  if (fs.existsSync(path.join(out, "model.safetensors")))
    throw new Error(`${out} holds a checkpoint (model.safetensors): export elsewhere`);
  const holdsExport = isOnnxExport(out);
  if (holdsExport && !force)
    throw new Error(`${out} already holds an export (${ONNX_MODEL}): pass --force to replace it`);
  if (!holdsExport && fs.readdirSync(out).length > 0)
    throw new Error(`${out} is not empty and holds no export: choose a new or empty folder`);
}

/** Writes the export folder (see the file comment). Errors name the file or folder at fault. */
export async function exportOnnx(checkpoint: string, out: string, opts: ExportOptions = {}): Promise<ExportResult> {
  const t0 = Date.now();
  const dir = modelFolder(checkpoint);
  checkExportable(dir);
  checkDestination(dir, out, Boolean(opts.force));
  // Before the slow part: can the destination's parent take a new folder?
  const parent = path.dirname(path.resolve(out));
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.accessSync(parent, fs.constants.W_OK);
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`cannot write to ${parent} (${why}): choose another --out`, { cause: e });
  }
  const { fp32, int8 } = await onnxBytesFromCheckpoint(dir, opts);
  const files: { path: string; bytes: number }[] = [];
  try {
    await replaceDirAtomic(out, (tmp) => {
      fs.chmodSync(tmp, 0o755); // mkdtemp makes it private; an export is meant to be read and served
      const put = (rel: string, data: Uint8Array) => {
        writeFileAtomic(path.join(tmp, rel), data);
        files.push({ path: rel, bytes: data.length });
      };
      put("config.json", fs.readFileSync(path.join(dir, "config.json")));
      for (const f of TOKENIZER_FILES) if (fs.existsSync(path.join(dir, f))) put(f, fs.readFileSync(path.join(dir, f)));
      put(ONNX_MODEL, fp32);
      if (int8) put(ONNX_MODEL_QUANTIZED, int8);
    });
  } catch (e) {
    const why = (e as NodeJS.ErrnoException).code ?? (e as Error).message;
    throw new Error(`cannot write the export to ${out} (${why}): nothing was left behind`, { cause: e });
  }
  return { out, files, fp32Bytes: fp32.length, int8Bytes: int8?.length, seconds: (Date.now() - t0) / 1000 };
}
