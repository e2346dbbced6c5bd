/**
 * The layout of the folders bertlab reads: a run folder (written by lib/train/checkpoint.ts) and an export
 * (written by lib/serve/export.ts). Every command that takes a folder resolves it here.
 *
 *   runs/course/
 *     metrics.json            config, labels, per-epoch loss and F1, timing
 *     checkpoints/epoch-3/    a complete model folder plus what resuming needs
 *     checkpoints/best/       the best epoch's model folder (with --select-metric)
 *
 *   lastCheckpoint("runs/course")   // { epoch: 8, dir: "runs/course/checkpoints/epoch-8" }
 *   modelFolder("runs/course")      // "runs/course/checkpoints/best" (or the last epoch's, without best/)
 *   readLabels("runs/course/checkpoints/best")   // ["happy", "not-relevant", "angry", …]: id order
 *
 * Every command and library call that takes a run folder serves the model `modelFolder` names (predict,
 * evaluate, export, demo, probe-bias, the bench): the best epoch where one was selected, else the last.
 */
import * as fs from "fs";
import * as path from "path";

/** Tokenizer files copied next to the weights, so a checkpoint loads as a model folder on its own. */
export const TOKENIZER_FILES = ["tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"];

export function checkpointsDir(runDir: string): string {
  return path.join(runDir, "checkpoints");
}

/** Complete checkpoints of a run, oldest first (temporary folders start with "." and are skipped). */
export function listCheckpoints(runDir: string): { epoch: number; dir: string }[] {
  const d = checkpointsDir(runDir);
  if (!fs.existsSync(d)) return [];
  const all = fs.readdirSync(d).flatMap((n) => {
    const m = /^epoch-(\d+)$/.exec(n), dir = path.join(d, n);
    return m && fs.existsSync(path.join(dir, "trainer_state.json")) ? [{ epoch: Number(m[1]), dir }] : [];
  });
  return all.sort((a, b) => a.epoch - b.epoch);
}

export function lastCheckpoint(runDir: string): { epoch: number; dir: string } | undefined {
  return listCheckpoints(runDir).at(-1);
}

/** The best epoch's model folder of a run (written with a selectMetric). */
export function bestDir(runDir: string): string {
  return path.join(checkpointsDir(runDir), "best");
}

/** Does `runDir` already hold a run (metrics or checkpoints)? */
export function holdsRun(runDir: string): boolean {
  return fs.existsSync(path.join(runDir, "metrics.json")) || listCheckpoints(runDir).length > 0;
}

/** The model folder `dir` stands for: itself (it has config.json), a run's checkpoints/best/, else its last checkpoint. */
export function modelFolder(dir: string): string {
  if (fs.existsSync(path.join(dir, "config.json"))) return dir;
  if (fs.existsSync(path.join(bestDir(dir), "config.json"))) return bestDir(dir);
  const last = lastCheckpoint(dir);
  if (!last) throw new Error(`${dir} is neither a model folder (config.json) nor a run folder with checkpoints`);
  return last.dir;
}

/** Label names in id order from a config's id2label (empty when it has none). */
export function labelsOf(config: { id2label?: Record<string, string> }): string[] {
  const ids = config.id2label ?? {};
  return Object.keys(ids).sort((a, b) => Number(a) - Number(b)).map((k) => ids[k]);
}

/** A model folder's config.json, parsed; `missing` ends the error when there is none. */
export function readConfig<T = Record<string, unknown>>(dir: string, missing = "not a model folder"): T {
  const file = path.join(dir, "config.json");
  if (!fs.existsSync(file)) throw new Error(`${file} is missing: ${missing}`);
  try {
    return JSON.parse(fs.readFileSync(file, "utf8"));
  } catch (e) {
    throw new Error(`${file}: not valid JSON (${(e as Error).message.split("\n")[0]})`, { cause: e });
  }
}

/** Label names in id order from a model folder's config.json (id2label): the one place a checkpoint's labels are read. */
export function readLabels(dir: string): string[] {
  const labels = labelsOf(readConfig<{ id2label?: Record<string, string> }>(dir));
  if (labels.length === 0)
    throw new Error(`${path.join(dir, "config.json")} has no id2label: not a fine-tuned classifier`);
  return labels;
}

/** Where an export keeps its models (transformers.js's layout: `dtype: "fp32"` and `"q8"`). */
export const ONNX_MODEL = path.join("onnx", "model.onnx");
export const ONNX_MODEL_QUANTIZED = path.join("onnx", "model_quantized.onnx");

/** Does `dir` hold an ONNX export (onnx/model.onnx)? */
export function isOnnxExport(dir: string): boolean {
  return fs.existsSync(path.join(dir, ONNX_MODEL));
}
