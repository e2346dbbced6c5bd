/**
 * Prediction and evaluation with ONNX Runtime (onnxruntime-node, CPU, one thread per core) on a model
 * exported by `bertlab export` (lib/serve/export.ts) — or on a checkpoint, exported in memory. Batches are
 * formed from texts sorted by length, so each is padded to little more than its own texts; results come
 * back in input order. Taught in notebooks/10_production.ipynb.
 *
 *   const clf = await loadOnnxClassifier("out/export");                  // onnx/model.onnx
 *   const int8 = await loadOnnxClassifier("out/export", { quantized: true }); // onnx/model_quantized.onnx
 *   await predictOnnx(clf, ["What a wonderful exhibition!"])
 *   // [{ text: "What a wonderful exhibition!", label: "happy", probabilities: { happy: 0.97, … } }]
 *   await clf.release();
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { DEFAULT_CONFIG } from "../config/config";
import { readLabels, ONNX_MODEL, ONNX_MODEL_QUANTIZED, isOnnxExport } from "../model/run_folder";
import { scoreAll } from "../eval/metrics";
import { lengthSortedBatches } from "../core/batching";
import { argmax } from "../core/stats";
import { loadTokenizer, encodeUnpadded, TokenizerLike } from "../data/tokenize";
import type { Evaluation, Prediction } from "../eval/evaluate";

/** Threads for ONNX Runtime's operators: one per core (it spins them, so more would only contend). */
export function onnxThreads(): number {
  return os.availableParallelism?.() ?? os.cpus().length;
}

/**
 * Whether ONNX Runtime's threads spin while waiting for work (its default). Off here unless
 * BERTLAB_ORT_SPIN=1: on a machine where anything else runs, spinning threads wait on each other and a
 * batch-1 forward gets several times slower (PyTorch's OMP_WAIT_POLICY=PASSIVE is the same remedy). On a
 * machine given to serving, spinning answers a little sooner, so a server may set it; the bench times both.
 */
export function onnxSpinning(): boolean {
  return process.env.BERTLAB_ORT_SPIN === "1";
}

/**
 * An ONNX Runtime session for a model file or ModelProto bytes, with every graph optimization on (this is
 * where it fuses each bias and GELU into BiasGelu, the head into Gemm, and the int8 products). `name` names
 * the model in errors; a file that is missing, truncated or not ONNX gets an error naming it.
 */
export async function createSession(
  model: string | Uint8Array,
  opts: { name?: string; spin?: boolean } = {},
): Promise<ort.InferenceSession> {
  const name = opts.name ?? (typeof model === "string" ? model : "ONNX model");
  if (typeof model === "string" && !fs.existsSync(model))
    throw new Error(`${model}: no such file (export the model first: bertlab export --checkpoint DIR --out DIR)`);
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(typeof model === "string" ? fs.readFileSync(model) : model, {
      intraOpNumThreads: onnxThreads(),
      interOpNumThreads: 1,
      graphOptimizationLevel: "all",
      executionMode: "sequential",
      extra: { session: { intra_op: { allow_spinning: (opts.spin ?? onnxSpinning()) ? "1" : "0" } } },
    });
  } catch (e) {
    const why = String((e as Error)?.message ?? e).split("\n")[0];
    throw new Error(`${name}: not a loadable ONNX model, truncated or corrupt? (${why})`, { cause: e });
  }
  const missing = ["input_ids", "attention_mask"].filter((i) => !session.inputNames.includes(i));
  if (missing.length || !session.outputNames.includes("logits")) {
    await session.release();
    const found = `inputs ${session.inputNames.join(", ")}; outputs ${session.outputNames.join(", ")}`;
    throw new Error(`${name}: not a BERT classifier export (${found}; expected input_ids, attention_mask and logits)`);
  }
  return session;
}

/** A session with what predicting needs around it: the label names and the tokenizer. */
export interface OnnxClassifier {
  session: ort.InferenceSession;
  labels: string[];
  tokenizer: TokenizerLike;
  /** The file it came from, or how it was made. */
  source: string;
  release(): Promise<void>;
}

/**
 * Loads an exported folder (onnx/model.onnx, or with `quantized` onnx/model_quantized.onnx). A checkpoint
 * folder without an export is exported in memory first (bertOnnx, and quantizeDynamic for `quantized`),
 * which loads TensorFlow.js and takes a few seconds: `bertlab export` once, then load the export.
 */
export async function loadOnnxClassifier(dir: string, opts: { quantized?: boolean } = {}): Promise<OnnxClassifier> {
  const quantized = Boolean(opts.quantized);
  const labels = readLabels(dir);
  const tokenizer = await loadTokenizer(dir);
  let session: ort.InferenceSession, source: string;
  if (isOnnxExport(dir)) {
    source = path.join(dir, quantized ? ONNX_MODEL_QUANTIZED : ONNX_MODEL);
    if (quantized && !fs.existsSync(source))
      throw new Error(`${source} is missing: export with --quantize int8 for --quantized`);
    session = await createSession(source);
  } else {
    // Imported here so that loading an export never starts TensorFlow.
    const { onnxBytesFromCheckpoint } = await import("./export");
    const bytes = await onnxBytesFromCheckpoint(dir, { quantize: quantized ? "int8" : undefined });
    source = `${dir} (exported in memory${quantized ? ", int8" : ""})`;
    session = await createSession(quantized ? bytes.int8! : bytes.fp32, { name: source });
  }
  return { session, labels, tokenizer, source, release: () => session.release() };
}

/** Logits [rows][labels] of one batch of token-id rows, padded here to the longest (int64, as exported). */
export async function onnxLogits(
  session: ort.InferenceSession,
  rows: readonly number[][],
  padTokenId = 0,
): Promise<number[][]> {
  const n = rows.length, width = Math.max(1, ...rows.map((r) => r.length));
  const ids = new BigInt64Array(n * width).fill(BigInt(padTokenId));
  const mask = new BigInt64Array(n * width), types = new BigInt64Array(n * width);
  rows.forEach((r, i) => {
    ids.set(r.map(BigInt), i * width);
    mask.fill(1n, i * width, i * width + r.length);
  });
  const feeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries({ input_ids: ids, attention_mask: mask, token_type_ids: types }))
    if (session.inputNames.includes(k)) feeds[k] = new ort.Tensor("int64", v, [n, width]);
  const out = await session.run(feeds);
  const k = out.logits.dims[1] as number, values = out.logits.data as Float32Array;
  for (const t of Object.values(out)) t.dispose();
  return Array.from({ length: n }, (_, i) => Array.from(values.subarray(i * k, (i + 1) * k)));
}

/** Softmax of one row in float64. */
export function softmax(row: readonly number[]): number[] {
  const m = Math.max(...row);
  const e = row.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

export interface OnnxRunOptions {
  /** Longest tokenized text kept ([CLS] and [SEP] included); longer texts are cut, as training did. */
  maxLength?: number;
  batchSize?: number;
}

/** Logits for every text, in input order, computed in length-sorted batches. */
export async function classifyOnnx(
  clf: OnnxClassifier,
  texts: readonly string[],
  opts: OnnxRunOptions = {},
): Promise<number[][]> {
  const ids = encodeUnpadded(clf.tokenizer, texts.slice(), opts.maxLength ?? DEFAULT_CONFIG.maxLength).input_ids;
  const out: number[][] = new Array(texts.length);
  for (const batch of lengthSortedBatches(ids.map((r) => r.length), opts.batchSize ?? DEFAULT_CONFIG.evalBatchSize)) {
    const logits = await onnxLogits(clf.session, batch.map((i) => ids[i]), clf.tokenizer.padTokenId);
    for (const [j, i] of batch.entries()) out[i] = logits[j];
  }
  return out;
}

/** Labels and class probabilities for new texts, in input order (lib/eval/evaluate.ts's `predict`, on ONNX Runtime). */
export async function predictOnnx(
  clf: OnnxClassifier,
  texts: readonly string[],
  opts: OnnxRunOptions = {},
): Promise<Prediction[]> {
  const logits = await classifyOnnx(clf, texts, opts);
  return texts.map((text, i) => {
    const p = softmax(logits[i]);
    const probabilities = Object.fromEntries(clf.labels.map((l, k) => [l, p[k]]));
    return { text, label: clf.labels[argmax(p)], probabilities };
  });
}

/**
 * The course's metrics over labelled texts (lib/eval/evaluate.ts's `evaluate`, on ONNX Runtime). The loss is the
 * course's: the mean over batches of `batchSize` in file order of each batch's mean cross-entropy, whatever
 * order the batches ran in.
 */
export async function evaluateOnnx(
  clf: OnnxClassifier,
  texts: readonly string[],
  labelIds: readonly number[],
  opts: OnnxRunOptions = {},
): Promise<Evaluation> {
  if (texts.length !== labelIds.length)
    throw new Error(`evaluateOnnx: ${texts.length} texts but ${labelIds.length} labels`);
  const batchSize = opts.batchSize ?? DEFAULT_CONFIG.evalBatchSize;
  const logits = await classifyOnnx(clf, texts, opts);
  const probabilities = logits.map(softmax);
  const predictions = probabilities.map(argmax);
  let lossSum = 0, batches = 0;
  for (let s = 0; s < texts.length; s += batchSize, batches++) {
    // cross-entropy from the logits (log-sum-exp), stable where a probability underflows to 0
    const losses = logits.slice(s, s + batchSize).map((l, j) => logSumExp(l) - l[labelIds[s + j]]);
    lossSum += losses.reduce((a, b) => a + b, 0) / losses.length;
  }
  const metrics = scoreAll(labelIds.slice(), predictions, clf.labels, lossSum / batches);
  return { metrics, predictions, probabilities };
}

function logSumExp(row: readonly number[]): number {
  const m = Math.max(...row);
  return m + Math.log(row.reduce((a, x) => a + Math.exp(x - m), 0));
}
