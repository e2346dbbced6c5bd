/**
 * Checkpoints of a training run, one per epoch, each a complete Hugging Face model folder (config.json with the label
 * map, model.safetensors, tokenizer files) plus what resuming needs: optimizer moments (optimizer.bin), scheduler,
 * sampler and metrics history (trainer_state.json). Each is written into a temporary folder and renamed into place
 * (replaceDirAtomic), so a crash or a full disk mid-save leaves the previous checkpoint as it was.
 *
 *   runs/course/
 *     metrics.json            config, labels, per-epoch loss and F1, timing
 *     charts.html             loss and F1 curves
 *     checkpoints/epoch-3/    config.json model.safetensors tokenizer.json vocab.txt ... trainer_state.json optimizer.bin
 *     checkpoints/best/       the best epoch's model folder (with --select-metric; no optimizer.bin)
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { replaceDirAtomic, writeFileAtomic } from "../core/fsutil";
import { TOKENIZER_FILES, bestDir, checkpointsDir, listCheckpoints } from "../model/run_folder";
import { BertForSequenceClassification, saveBertForSequenceClassification } from "../model/bert";
import { AdamWState, ScheduleState } from "../nn/optim";
import { SamplerState } from "../data/loader";
import { TrainConfig } from "../config/config";
import { EvalMetrics } from "../eval/metrics";
import { MultiLabelMetrics } from "../eval/multilabel";
import { SelectionState } from "../config/selection";
import { readBertCheckpoint } from "../nn/weights";

/** One epoch of the metrics history. */
export interface EpochRecord<M = EvalMetrics | MultiLabelMetrics> {
  epoch: number;
  trainLoss: number;
  validation: M;
  seconds: number;
  steps: number;
}

export interface TrainerState {
  epoch: number;
  globalStep: number;
  config: TrainConfig;
  labels: string[];
  scheduler: ScheduleState;
  sampler: SamplerState;
  history: EpochRecord[];
  optimizer: { step: number; names: string[]; shapes: number[][] };
  /** Best epoch so far and the early-stopping counter (with a selectMetric), so that both survive resume. */
  selection?: SelectionState;
}

export interface SaveOptions {
  /** Folder whose tokenizer files are copied in (the model's source folder). */
  tokenizerDir?: string;
  /** Keep only the newest `keep` checkpoints (0 = all). */
  keep?: number;
  /** Called before each file this module writes: tests make it throw to simulate a full disk. */
  beforeWrite?: (file: string) => void;
  /** More files saved with the model, by name: JSON (a multi-label model's thresholds.json) or bytes. */
  files?: Record<string, object | Uint8Array>;
}

/** Writes checkpoint `epoch-N` atomically and returns its folder. */
export async function saveCheckpoint(
  runDir: string,
  model: BertForSequenceClassification,
  state: TrainerState,
  optimizer: AdamWState,
  opts: SaveOptions = {},
): Promise<string> {
  const dir = path.join(checkpointsDir(runDir), `epoch-${state.epoch}`);
  const write = (file: string, data: string | Uint8Array) => {
    opts.beforeWrite?.(path.basename(file));
    writeFileAtomic(file, data);
  };
  await replaceDirAtomic(dir, async (tmp) => {
    await saveBertForSequenceClassification(model, tmp);
    for (const f of TOKENIZER_FILES) {
      const src = opts.tokenizerDir && path.join(opts.tokenizerDir, f);
      if (src && fs.existsSync(src)) write(path.join(tmp, f), fs.readFileSync(src));
    }
    for (const [name, value] of Object.entries(opts.files ?? {})) {
      write(path.join(tmp, name), value instanceof Uint8Array ? value : JSON.stringify(value, null, 2) + "\n");
    }
    write(path.join(tmp, "optimizer.bin"), packMoments(optimizer));
    // trainer_state.json last: its presence marks a checkpoint as complete (listCheckpoints).
    const { step, names, shapes } = optimizer;
    const s: TrainerState = { ...state, optimizer: { step, names, shapes } };
    write(path.join(tmp, "trainer_state.json"), JSON.stringify(s, null, 2) + "\n");
  });
  if (opts.keep && opts.keep > 0) {
    for (const old of listCheckpoints(runDir).slice(0, -opts.keep))
      fs.rmSync(old.dir, { recursive: true, force: true });
  }
  return dir;
}

/**
 * Copies checkpoint `from` to checkpoints/best/ atomically, leaving out the optimizer moments: a
 * model to evaluate and predict with, not a point to resume from.
 */
export async function saveBest(runDir: string, from: string): Promise<void> {
  await replaceDirAtomic(bestDir(runDir), (tmp) => {
    for (const f of fs.readdirSync(from)) {
      if (f !== "optimizer.bin") fs.copyFileSync(path.join(from, f), path.join(tmp, f));
    }
  });
}

/** Assigns the weights saved in `dir`/model.safetensors to `model`'s variables (same architecture and labels). */
export function loadWeightsInto(model: BertForSequenceClassification, dir: string): void {
  const file = path.join(dir, "model.safetensors");
  const { tensors } = readBertCheckpoint(file, new Set(model.params.keys()));
  for (const [name, v] of model.params) {
    const t = tensors.get(name);
    if (!t) throw new Error(`${file}: weight "${name}" is missing`);
    if (t.shape.join() !== v.shape.join())
      throw new Error(`${file}: weight "${name}" has shape [${t.shape}], the model's is [${v.shape}]`);
    tf.tidy(() => v.assign(tf.tensor(t.data, t.shape, "float32")));
  }
}

/** Adam's moments as one float32 file: m then v for each parameter, in state.names order. */
function packMoments(o: AdamWState): Uint8Array {
  const total = o.moments.reduce((a, m) => a + m.m.length + m.v.length, 0);
  const all = new Float32Array(total);
  let off = 0;
  for (const { m, v } of o.moments) {
    all.set(m, off);
    all.set(v, off + m.length);
    off += m.length + v.length;
  }
  return new Uint8Array(all.buffer);
}

/** Reads a checkpoint's trainer state and optimizer moments (for resume). */
export function readCheckpoint(dir: string): { state: TrainerState; optimizer: AdamWState } {
  const stateFile = path.join(dir, "trainer_state.json");
  if (!fs.existsSync(stateFile)) throw new Error(`${dir} is not a complete checkpoint (no trainer_state.json)`);
  const state = JSON.parse(fs.readFileSync(stateFile, "utf8")) as TrainerState;
  const buf = fs.readFileSync(path.join(dir, "optimizer.bin"));
  const all = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const sizes = state.optimizer.shapes.map((s) => s.reduce((a, b) => a * b, 1));
  const expected = sizes.reduce((a, b) => a + 2 * b, 0);
  if (all.length !== expected)
    throw new Error(`${dir}/optimizer.bin holds ${all.length} values, trainer_state.json describes ${expected}`);
  let off = 0;
  const take = (n: number) => all.slice(off, off += n);
  const moments = sizes.map((n) => ({ m: take(n), v: take(n) }));
  return { state, optimizer: { ...state.optimizer, moments } };
}
