/**
 * Model folders for the ONNX serving tests (export, ONNX Runtime, transformers.js, the demo page):
 * the tiny random BERT of test/fixtures/reference/tiny_bert.json saved as a checkpoint (weights from its
 * recipe, the MiniLM tokenizer), and the ONNX bytes of such a checkpoint.
 *
 *   const ckpt = tinyCheckpoint();                                    // a temp folder
 *   await exportOnnx(ckpt, out, { quantize: "int8", onnxBytes: fp32OnnxBytes });
 *
 * fp32OnnxBytes is bertOnnx (lib/serve/onnx_export.ts) once that exists; while lib/serve/onnx_export.ts is the
 * temporary shim, it is PyTorch's export of the same checkpoint (scripts/make_onnx_fixtures.py export,
 * which needs set-up's .venv). Either way the tests compare against test/fixtures/onnx/export_tiny.json,
 * which Python onnxruntime computed on PyTorch's export.
 */
import * as fs from "fs";
import * as path from "path";
import { spawnSync } from "child_process";
import { writeSafetensors, SafeTensor } from "../../lib/nn/safetensors";
import { TOKENIZER_FILES } from "../../lib/model/run_folder";
import { DEFAULT_MODEL_DIR } from "../../lib/model/models";
import { ROOT, VENV_PYTHON } from "../../lib/core/paths";
import { bertOnnx } from "../../lib/serve/onnx_export";
import { cpuInfo } from "../../lib/runtime/machine";
import type { BertForSequenceClassification } from "../../lib/model/bert";
import { tinyBertConfig, tinyBertWeights } from "./tiny_bert";
import { tmpDir } from "./tmp";

const FIXTURE = path.join(__dirname, "..", "fixtures", "onnx", "export_tiny.json");
export const EXPORT_TINY = JSON.parse(fs.readFileSync(FIXTURE, "utf8"));
const SCRIPT = path.join(ROOT, "scripts", "make_onnx_fixtures.py");
const lastLines = (s: string) => s.split("\n").slice(-5).join("\n");

/**
 * How far int8 outputs may stray from an int8 reference computed by another build or on another CPU. With VNNI
 * (avx512_vnni, avx_vnni) ONNX Runtime sums u8×s8 products exactly in int32. On a CPU with AVX2 alone its kernel
 * (VPMADDUBSW) adds pairs of products in int16 with saturation, as ONNX Runtime's quantization guide warns, and
 * builds differ in how they work around it: there the same int8 model's probabilities were seen up to 6e-3 apart
 * and the tiny export's logits 2.6e-2 apart (AMD EPYC Zen 3). fp32 is held to 1e-4 on every CPU.
 */
export const HAS_VNNI = cpuInfo().extensions.some((e) => e.endsWith("vnni"));
export const INT8_TOLERANCE = HAS_VNNI ? 1e-3 : 5e-2;

/** Whether bertOnnx is the lead's export yet (the shim throws "not yet implemented"). */
export function haveBertOnnx(): boolean {
  try {
    bertOnnx(undefined as unknown as BertForSequenceClassification);
    return true;
  } catch (e) {
    return !/not yet implemented/.test((e as Error).message);
  }
}

/** Can these tests make ONNX bytes here: bertOnnx, or PyTorch in .venv. */
export const onnxSkip = haveBertOnnx() || fs.existsSync(VENV_PYTHON)
  ? false :
  `bertOnnx is a shim and ${VENV_PYTHON} is missing: run scripts/setup.sh`;

/** The tiny BERT as a checkpoint folder (config.json, model.safetensors, MiniLM tokenizer files). */
export function tinyCheckpoint(dir = tmpDir("bertlab-tiny-")): string {
  const tensors = new Map<string, SafeTensor>();
  for (const [name, { shape, values: data }] of tinyBertWeights()) tensors.set(name, { dtype: "float32", shape, data });
  fs.mkdirSync(dir, { recursive: true });
  writeSafetensors(path.join(dir, "model.safetensors"), tensors);
  fs.writeFileSync(path.join(dir, "config.json"), JSON.stringify(tinyBertConfig, null, 2));
  for (const f of TOKENIZER_FILES) {
    const src = path.join(DEFAULT_MODEL_DIR, f);
    if (fs.existsSync(src)) fs.copyFileSync(src, path.join(dir, f));
  }
  return dir;
}

/** PyTorch's ONNX export of a checkpoint folder (bytes of onnx/model.onnx). */
export function torchOnnxBytes(checkpoint: string): Uint8Array {
  const out = tmpDir("bertlab-torch-onnx-");
  try {
    const args = [SCRIPT, "export", "--checkpoint", checkpoint, "--out", out];
    const r = spawnSync(VENV_PYTHON, args, { encoding: "utf8" });
    if (r.status !== 0) throw new Error(`PyTorch export of ${checkpoint} failed:\n${lastLines(r.stderr)}`);
    return fs.readFileSync(path.join(out, "onnx", "model.onnx"));
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
}

/** The fp32 ONNX bytes of a loaded checkpoint: bertOnnx, or PyTorch's export while bertOnnx is a shim. */
export function fp32OnnxBytes(model: BertForSequenceClassification, checkpoint: string): Uint8Array {
  return haveBertOnnx() ? bertOnnx(model) : torchOnnxBytes(checkpoint);
}

/** Python's check of a folder (onnx.checker + onnxruntime), as scripts/make_onnx_fixtures.py check prints it. */
export function pythonCheck(
  dir: string,
  texts: string[],
  maxLength: number,
  quantized = false,
): {
  checker: string;
  opset: number;
  outputs: string[];
  inputs: { name: string; type: number; shape: (string | number)[] }[];
  logits: number[][];
  probabilities: number[][];
  labels: string[];
} {
  const args = [SCRIPT, "check", dir, "--max-length", String(maxLength), ...texts.flatMap((t) => ["--text", t])];
  if (quantized) args.push("--quantized");
  const r = spawnSync(VENV_PYTHON, args, { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`make_onnx_fixtures.py check ${dir} failed:\n${lastLines(r.stderr)}`);
  return JSON.parse(r.stdout);
}

/** Largest absolute difference between two equally shaped number arrays (nested). */
export function maxAbsDiff(a: number[][], b: number[][]): number {
  let m = 0;
  a.forEach((r, i) =>
    r.forEach((x, j) => {
      m = Math.max(m, Math.abs(x - b[i][j]));
    })
  );
  return m;
}
