/**
 * Which engine `bertlab predict` and `bertlab evaluate` run on: ONNX Runtime (lib/serve/onnx_runtime.ts) or
 * TensorFlow.js (lib/eval/evaluate.ts on a checkpoint). `--engine onnx|tfjs|auto` or `BERTLAB_ENGINE` chooses;
 * `--quantized` means ONNX Runtime on the int8 model.
 *
 *   const clf = await loadClassifier("out/export", chooseEngine());
 *   clf.engine   // "onnxruntime-node 1.30.0 (fp32, 2 threads) on out/export/onnx/model.onnx"
 *   await clf.predict(["What a wonderful exhibition!"], { maxLength: 256 })
 *   await clf.release();
 *
 * `auto` (the default) takes whichever was faster (docs/serving.md): an export folder runs on ONNX Runtime (no
 * TensorFlow to start, a lower batch-1 latency); a checkpoint on TensorFlow.js where it has graph execution (no
 * export first, and as fast), else exported in memory to ONNX Runtime; if that export fails and no engine was
 * asked for, on TensorFlow.js with a warning saying why.
 */
import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { DEFAULT_CONFIG, Precision, PRECISIONS } from "../config/config";
import type { GraphPrecision } from "../graph/lowering";
import { loadOnnxClassifier, predictOnnx, evaluateOnnx, onnxThreads, OnnxRunOptions } from "./onnx_runtime";
import { encodeUnpadded } from "../data/tokenize";
import type { Evaluation, Prediction } from "../eval/evaluate";

export type EngineName = "onnx" | "tfjs" | "auto";

export const DEFAULT_ENGINE: EngineName = "auto";

/**
 * `precision`: "bf16" and "auto" ask for the TensorFlow graph in bfloat16 (lib/graph/precision.ts), which only
 * TensorFlow.js runs: a checkpoint then takes it unless ONNX Runtime is asked for.
 */
export interface EngineChoice {
  engine: EngineName;
  quantized: boolean;
  explicit: boolean;
  precision?: Precision;
}

/** The engine from a flag, else BERTLAB_ENGINE, else the default; `quantized` needs ONNX Runtime. */
export function chooseEngine(
  flag?: string,
  opts: { quantized?: boolean; env?: string; precision?: string } = {},
): EngineChoice {
  const raw = flag ?? opts.env ?? process.env.BERTLAB_ENGINE;
  const named = flag !== undefined ? "--engine" : "BERTLAB_ENGINE";
  if (raw !== undefined && raw !== "onnx" && raw !== "tfjs" && raw !== "auto")
    throw new Error(`${named} wants onnx, tfjs or auto, got ${JSON.stringify(raw)}`);
  const quantized = Boolean(opts.quantized);
  if (quantized && raw === "tfjs") throw new Error("--quantized runs the int8 ONNX model: it needs --engine onnx");
  const engine = quantized ? "onnx" : (raw as EngineName | undefined) ?? DEFAULT_ENGINE;
  const precision = (opts.precision ?? "fp32") as Precision;
  if (!PRECISIONS.includes(precision))
    throw new Error(`--precision wants ${PRECISIONS.join(", ")}, got ${JSON.stringify(opts.precision)}`);
  if (precision === "bf16" && engine === "onnx") {
    const use = quantized ? "drop --quantized and use --engine tfjs" : "use --engine tfjs or auto";
    throw new Error(`--precision bf16 runs on the TensorFlow graph, not ONNX Runtime: ${use}`);
  }
  const explicit = raw !== undefined && raw !== "auto";
  return { engine, quantized, explicit, ...(opts.precision ? { precision } : {}) };
}

/** A loaded model behind either engine. */
export interface Classifier {
  labels: string[];
  /** Which engine runs, for people: package, precision, threads, source. */
  engine: string;
  predict(texts: string[], opts?: OnnxRunOptions): Promise<Prediction[]>;
  /** The course's metrics (lib/eval/metrics.ts) for labelled texts. */
  evaluate(texts: string[], labelIds: number[], opts?: OnnxRunOptions): Promise<Evaluation>;
  release(): Promise<void>;
}

/** Loads `dir` (a checkpoint or an export folder) on the chosen engine. */
export async function loadClassifier(
  dir: string,
  choice: EngineChoice,
  log: (line: string) => void = (l) => process.stderr.write(l + "\n"),
): Promise<Classifier> {
  const hasWeights = fs.existsSync(path.join(dir, "model.safetensors"));
  const precision = await graphPrecision(choice, hasWeights, dir, log);
  if (precision === "bf16") return tfjsClassifier(dir, precision);
  const exportOnly = `${dir} has no model.safetensors (an export folder?)`;
  if (choice.engine === "tfjs" && !hasWeights)
    throw new Error(`${exportOnly}: TensorFlow.js needs a checkpoint; use --engine onnx`);
  const auto = choice.engine === "auto" && hasWeights;
  if (choice.engine === "tfjs" || (auto && (await nativeGraph()))) return tfjsClassifier(dir);
  try {
    return await onnxClassifier(dir, choice.quantized);
  } catch (e) {
    if (choice.explicit || choice.quantized || !hasWeights) throw e;
    const why = (e as Error).message.split("\n")[0];
    log(`warning: ONNX Runtime unavailable for ${dir} (${why}); running TensorFlow.js instead`);
    return tfjsClassifier(dir);
  }
}

/**
 * The precision TensorFlow.js's graph would run `dir` in: fp32 unless bf16 or auto was asked for and this machine
 * runs bf16 fast (else bf16 is an error, and auto says why it stays fp32). bf16 needs a checkpoint's weights.
 */
async function graphPrecision(
  choice: EngineChoice,
  hasWeights: boolean,
  dir: string,
  log: (line: string) => void,
): Promise<GraphPrecision> {
  if (!choice.precision || choice.precision === "fp32" || choice.engine === "onnx") return "fp32";
  const { initBackend } = await import("../runtime/backend");
  const { resolvePrecision } = await import("../graph/precision");
  await initBackend();
  const r = resolvePrecision(choice.precision);
  if (r.precision === "bf16" && !hasWeights) {
    if (choice.precision === "bf16")
      throw new Error(`${dir} has no model.safetensors (an export folder?): bf16 runs a checkpoint on TensorFlow.js`);
    log(`precision: auto: fp32, ${dir} is an export folder (ONNX Runtime runs it in fp32)`);
    return "fp32";
  }
  log(`precision: ${r.why}`);
  return r.precision;
}

/** Does this machine's TensorFlow.js run eval-mode forwards as one graph (native TensorFlow)? */
async function nativeGraph(): Promise<boolean> {
  const { initBackend } = await import("../runtime/backend");
  const { graphInference } = await import("../model/bert");
  await initBackend();
  return graphInference();
}

async function onnxClassifier(dir: string, quantized: boolean): Promise<Classifier> {
  const clf = await loadOnnxClassifier(dir, { quantized });
  return {
    labels: clf.labels,
    engine: `onnxruntime-node ${ort.env.versions.node ?? ""} (${quantized ? "int8" : "fp32"}, ` +
      `${onnxThreads()} threads) on ${clf.source}`,
    predict: (texts, o = {}) => predictOnnx(clf, texts, o),
    evaluate: (texts, ids, o = {}) => evaluateOnnx(clf, texts, ids, o),
    release: () => clf.release(),
  };
}

async function tfjsClassifier(dir: string, precision: GraphPrecision = "fp32"): Promise<Classifier> {
  // TensorFlow.js is loaded only when it runs.
  const { initBackend } = await import("../runtime/backend");
  const { loadTrained, predict, evaluate } = await import("../eval/evaluate");
  const { graphInference } = await import("../model/bert");
  const backend = await initBackend();
  const { model, tokenizer } = await loadTrained(dir, { precision });
  const bf16 = precision === "bf16" ? ", bf16" : "";
  return {
    labels: model.labels,
    engine: `TensorFlow.js ${backend.name}${graphInference() ? ` (graph${bf16})` : ""} on ${dir}`,
    predict: async (texts, o = {}) => predict(model, tokenizer, texts, o),
    async evaluate(texts, ids, o = {}) {
      const enc = encodeUnpadded(tokenizer, texts, o.maxLength ?? DEFAULT_CONFIG.maxLength);
      return evaluate(model, enc, ids, {
        batchSize: o.batchSize ?? DEFAULT_CONFIG.evalBatchSize,
        padTokenId: tokenizer.padTokenId,
      });
    },
    release: async () => model.dispose(),
  };
}
