/**
 * The ONNX Runtime rows of `npm run bench` (scripts/bench.ts): `onnxruntime` (fp32) and
 * `onnxruntime-int8` (lib/serve/quantize.ts), inference only, on the workload's batches, plus the serving
 * numbers: file sizes, int8's F1 against fp32's on the SMILE course split with the share of equal labels,
 * and `predict` over the validation set end to end (tokenize, length-sorted batches, softmax)
 * against PyTorch's batch-64 loop over the same tweets in file order.
 *
 *   npm run bench -- --backends onnxruntime,onnxruntime-int8 --onnx out/export   # from bertlab export --quantize int8
 *   npm run bench -- --backends onnxruntime,onnxruntime-int8 --checkpoint runs/course
 *
 * The model: `--onnx DIR` as it is; else `--checkpoint DIR` (default: runs/course when it holds one),
 * exported with int8 into out/bench/export; else the workload's MiniLM with its seeded head (speed only:
 * F1 needs a fine-tuned model). Each row runs in its own process, as every engine of the bench does.
 */
import * as fs from "fs";
import * as path from "path";
import { exportOnnx } from "../lib/serve/export";
import {
  createSession,
  loadOnnxClassifier,
  onnxLogits,
  predictOnnx,
  evaluateOnnx,
  onnxThreads,
  onnxSpinning,
} from "../lib/serve/onnx_runtime";
import { DEFAULT_CONFIG } from "../lib/config/config";
import { OUT_DIR, RUNS_DIR } from "../lib/core/paths";
import { holdsRun, modelFolder, TOKENIZER_FILES, ONNX_MODEL, ONNX_MODEL_QUANTIZED } from "../lib/model/run_folder";
import type { EngineResult, Workload } from "./bench_types";
import type { Prediction } from "../lib/eval/evaluate";
import { median } from "../lib/core/stats";

export const ONNX_ROWS = ["onnxruntime", "onnxruntime-int8"];

/** What the serving part adds to an ONNX row's result. */
export interface ServeResult {
  modelBytes: number;
  /** `predict` over the validation texts, end to end, in seconds: the median of e2eRuns. */
  e2eSeconds: number;
  e2eRuns?: number[];
  /** Label ids in the workload's label order, one per validation text (input order). */
  predictions: number[];
  f1Weighted?: number;
  f1Macro?: number;
  accuracy?: number;
}

/**
 * The export folder the ONNX rows run: `--onnx`, else an export of `--checkpoint` (or runs/course), else
 * of the workload's model (a fresh MiniLM head). `fineTuned` says whether F1 means anything.
 */
export async function prepareOnnx(
  opts: { onnx?: string; checkpoint?: string; workload: Workload },
): Promise<{ dir: string; fineTuned: boolean; from: string; modelDir?: string }> {
  if (opts.onnx) return { dir: opts.onnx, fineTuned: true, from: opts.onnx };
  const course = path.join(RUNS_DIR, "course");
  const ckpt = opts.checkpoint ?? (holdsRun(course) ? course : undefined);
  const dir = path.join(OUT_DIR, "bench", "export");
  if (ckpt) {
    await exportOnnx(modelFolder(ckpt), dir, { quantize: "int8", force: true });
    return { dir, fineTuned: true, from: ckpt, modelDir: modelFolder(ckpt) };
  }
  // No fine-tuned model: the workload's (speed only). Saved as a checkpoint first, then exported.
  const { initBackend } = await import("../lib/runtime/backend");
  const { loadBertForSequenceClassification, saveBertForSequenceClassification } = await import("../lib/model/bert");
  await initBackend();
  const tmp = path.join(OUT_DIR, "bench", "workload-model");
  const { modelDir, labels, seed } = opts.workload;
  const model = await loadBertForSequenceClassification(modelDir, { labels, seed });
  await saveBertForSequenceClassification(model, tmp);
  model.dispose();
  for (const f of TOKENIZER_FILES) {
    if (fs.existsSync(path.join(modelDir, f))) fs.copyFileSync(path.join(modelDir, f), path.join(tmp, f));
  }
  await exportOnnx(tmp, dir, { quantize: "int8", force: true });
  return { dir, fineTuned: false, from: `${opts.workload.modelDir} (seeded head, not fine-tuned)`, modelDir: tmp };
}

/** One ONNX row, in this (child) process. */
export async function runOnnx(
  w: Workload,
  name: string,
  dir: string,
  lim: { batch64: number; batch1: number },
): Promise<EngineResult & { serve: ServeResult }> {
  const quantized = name === "onnxruntime-int8";
  const file = path.join(dir, quantized ? ONNX_MODEL_QUANTIZED : ONNX_MODEL);
  // The library's thread-wait policy first, then the other one, in this same process (see waitName).
  const spin = onnxSpinning();
  const infer = await timeInference(w, file, lim, spin);
  const otherWait = { wait: waitName(!spin), infer: await timeInference(w, file, lim, !spin) };

  // Serving: predict over the validation texts end to end, then the course's metrics.
  if (!w.serve) throw new Error("the workload has no validation texts (serve): rerun the bench to rewrite it");
  const val = w.serve;
  const clf = await loadOnnxClassifier(dir, { quantized });
  const opts = { maxLength: DEFAULT_CONFIG.maxLength, batchSize: 64 };
  const serve = await timePredict((texts) => predictOnnx(clf, texts, opts), w, fs.statSync(file).size);
  if (w.labels.every((l) => clf.labels.includes(l))) {
    const ev = await evaluateOnnx(clf, val.texts, val.labels.map((k) => clf.labels.indexOf(w.labels[k])), opts);
    const { f1Weighted, f1Macro, accuracy } = ev.metrics;
    Object.assign(serve, { f1Weighted, f1Macro, accuracy });
  }
  await clf.release();
  const ort = await import("onnxruntime-node");
  return {
    name,
    engine: `onnxruntime-node ${ort.env.versions.node ?? ""} ${quantized ? "int8 (lib/serve/quantize.ts)" : "fp32"}`,
    threads: onnxThreads(),
    wait: waitName(spin),
    otherWait,
    train: { stepSeconds: [], losses: [] },
    infer,
    peakRssMB: process.resourceUsage().maxRSS / 1024,
    serve,
  };
}

/**
 * How ONNX Runtime's threads wait for work. `bertlab` lets them sleep (lib/serve/onnx_runtime.ts: spinning threads
 * cost 3–4× wherever anything else runs); ONNX Runtime's own default, kept with BERTLAB_ORT_SPIN=1, spins them,
 * which shortens a batch-1 call on a machine given to serving. PyTorch's threads are run both ways too
 * (OMP_WAIT_POLICY), and the floors take each engine at its better policy (bench.ts's atBestWait).
 */
const waitName = (spin: boolean) => (spin ? "threads spin (BERTLAB_ORT_SPIN=1)" : "threads sleep");

/** The workload's batch-64 and batch-1 inference on one session of `file`, after its warm-up batches. */
async function timeInference(
  w: Workload,
  file: string,
  lim: { batch64: number; batch1: number },
  spin: boolean,
): Promise<EngineResult["infer"]> {
  const session = await createSession(file, { spin });
  const time = async (rows: number[][]) => {
    const t0 = process.hrtime.bigint();
    await onnxLogits(session, rows);
    return Number(process.hrtime.bigint() - t0) / 1e9;
  };
  for (const rows of w.infer.warmup) await time(rows);
  const batch64Seconds: number[] = [], batch1Seconds: number[] = [];
  for (const rows of w.infer.batch64.slice(0, lim.batch64)) batch64Seconds.push(await time(rows));
  for (const row of w.infer.batch1.slice(0, lim.batch1)) batch1Seconds.push(await time([row]));
  await session.release();
  return { batch64Seconds, batch1Seconds };
}

/**
 * `predict` over the workload's validation texts end to end (after a warm-up on the first 64), timed
 * `repeats` times: the median (PyTorch's loop, bench_torch.py's loopSeconds, counts by its median too); the
 * predicted labels as ids in the workload's label order (single-label: one each).
 */
export async function timePredict(
  predict: (texts: string[]) => Promise<Prediction[]>,
  w: Workload,
  modelBytes: number,
  repeats = 5,
): Promise<ServeResult> {
  if (!w.serve) throw new Error("the workload has no validation texts (serve): rerun the bench to rewrite it");
  await predict(w.serve.texts.slice(0, 64)); // warm-up
  const runs: number[] = [];
  let preds: Prediction[] = [];
  for (let r = 0; r < repeats; r++) {
    const t0 = process.hrtime.bigint();
    preds = await predict(w.serve.texts);
    runs.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return {
    modelBytes,
    e2eSeconds: median(runs),
    e2eRuns: runs,
    predictions: preds.map((p) => w.labels.indexOf(p.label!)),
  };
}

/** The serving lines under the table: sizes, F1 and agreement, end-to-end predict against PyTorch. */
export function servingLines(
  results: (EngineResult & { serve?: ServeResult })[],
  torch: EngineResult,
  fineTuned: boolean,
): { lines: string[]; summary: Record<string, number | undefined> } {
  const fp = results.find((r) => r.name === "onnxruntime")?.serve;
  const q = results.find((r) => r.name === "onnxruntime-int8")?.serve;
  const lines: string[] = [];
  const summary: Record<string, number | undefined> = {};
  // PyTorch's batch-64 loop over the same tweets in file order, repeated: the median pass against predict's
  // median pass, one statistic for both (as batch 1 compares medians); the timed batches when there are no repeats.
  const loops = torch.infer.loopSeconds ?? [];
  const torchLoop = loops.length ? median(loops) : torch.infer.batch64Seconds.reduce((a, b) => a + b, 0);
  const mb = (b: number) => (b / 1e6).toFixed(1);
  if (fp && q) {
    summary.int8SizeRatio = q.modelBytes / fp.modelBytes;
    const pct = (100 * summary.int8SizeRatio).toFixed(1);
    lines.push(`file size: fp32 ${mb(fp.modelBytes)} MB, int8 ${mb(q.modelBytes)} MB (${pct}%; floor ≤ 30%)`);
    summary.int8Agreement = fp.predictions.filter((p, i) => p === q.predictions[i]).length / fp.predictions.length;
    const pctSame = (100 * summary.int8Agreement).toFixed(1);
    const agree = `int8 gives fp32's label for ${pctSame}% of ${fp.predictions.length} tweets`;
    if (fineTuned && fp.f1Weighted !== undefined && q.f1Weighted !== undefined) {
      Object.assign(summary, {
        f1WeightedFp32: fp.f1Weighted,
        f1WeightedInt8: q.f1Weighted,
        f1MacroFp32: fp.f1Macro,
        f1MacroInt8: q.f1Macro,
      });
      lines.push(
        `validation F1 weighted fp32 ${fp.f1Weighted.toFixed(4)} / int8 ${q.f1Weighted.toFixed(4)}, ` +
          `macro ${fp.f1Macro!.toFixed(4)} / ${q.f1Macro!.toFixed(4)}; ${agree}`,
      );
    } else lines.push(`${agree} (F1: no fine-tuned model, pass --checkpoint)`);
  }
  // The TensorFlow graph: what `predict --checkpoint` runs by default on native TensorFlow (lib/serve/engine.ts).
  const tfGraph = (results.find((r) => r.name === "tensorflow") as { serve?: ServeResult } | undefined)?.serve;
  const rows = [
    ["ONNX Runtime fp32", "Fp32", fp],
    ["ONNX Runtime int8", "Int8", q],
    ["TensorFlow graph, predict --checkpoint's default", "Tfjs", tfGraph],
  ] as const;
  for (const [name, key, s] of rows) {
    if (!s || torchLoop === 0) continue;
    summary[`e2e${key}VsPytorch`] = torchLoop / s.e2eSeconds;
    lines.push(
      `predict over ${s.predictions.length} validation tweets end to end (${name}, length-sorted batches): ` +
        `${s.e2eSeconds.toFixed(3)} s; PyTorch's batch-64 loop in file order ${torchLoop.toFixed(3)} s` +
        `${loops.length ? ` (medians of ${s.e2eRuns?.length ?? 1} and ${loops.length} runs)` : ""} → ` +
        `${(torchLoop / s.e2eSeconds).toFixed(2)}×${key === "Fp32" ? " (floor ≥ 2.5×)" : ""}`,
    );
  }
  return { lines, summary };
}
