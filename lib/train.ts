/**
 * Fine-tuning end to end, in the order of Hugging Face's run_glue_no_trainer.py: seed, data,
 * sorted labels, tokenize, a few logged samples, loaders, AdamW (no decay on biases/LayerNorm),
 * linear schedule sized from the total steps; per epoch: train mode (dropout) with fresh
 * gradients each batch, clip to norm 1.0, step, schedule; eval mode on validation; metrics;
 * checkpoint. Notebook 05 builds the loop inline first; notebook 06 evaluates and predicts.
 *
 *   const run = await train({ ...DEFAULT_CONFIG, epochs: 1 }, { data, runDir: "runs/demo" });
 *   run.history[0].validation.f1Weighted   // e.g. 0.86
 *
 * One seed drives everything random: the sampler's orders, the dropout masks (a seed per step,
 * derived from the run seed, epoch and step) and the new classifier head. Same seed, machine
 * and backend → the same losses and metrics, also across an interruption and resume.
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { TrainConfig, DEFAULT_CONFIG, validateConfig } from "./config";
import { RandomSampler, SequentialSampler, batches, deriveSeed, numBatches, EncodedRows } from "./loader";
import { AdamW, LinearScheduleWithWarmup, clipGradNorm, warmupStepsFor } from "./optim";
import { scoreAll, EvalMetrics } from "./metrics";
import { ProgressEvent } from "./progress";
import { BertForSequenceClassification, loadBertForSequenceClassification, crossEntropyLoss } from "./bert";
import { Encoded, EncodeOptions, Tokenizer, loadTokenizer } from "./tokenize";
import { resolveModel } from "./models";
import { EpochRecord, TrainerState, saveCheckpoint, lastCheckpoint, readCheckpoint, holdsRun, SaveOptions } from "./checkpoint";
import { writeJsonAtomic, writeFileAtomic } from "./fsutil";
import { runFigures, chartsPage } from "./progress";

/** What the loop needs from a tokenizer (lib/tokenize.ts's Tokenizer has it). */
export interface TokenizerLike {
  encode(texts: string[], opts?: EncodeOptions): Encoded;
  readonly padTokenId: number;
  tokenize?(text: string): string[];
}

export interface TextSet { texts: string[]; labels: string[] }
export interface TrainData {
  train: TextSet;
  validation: TextSet;
  /** Label names in id order; default: the training labels sorted (as the HF script does). */
  labels?: string[];
}

export interface TrainOptions {
  data: TrainData;
  /** Where checkpoints, metrics.json and charts.html go; omitted = nothing written. */
  runDir?: string;
  /** Continue the run in runDir from its last complete checkpoint. */
  resume?: boolean;
  onProgress?: (e: ProgressEvent) => void;
  /** Informational lines (samples, sizes); default console.log. */
  log?: (line: string) => void;
  /** A ready model (e.g. randomBert in tests); otherwise loaded from config.model. */
  model?: BertForSequenceClassification;
  tokenizer?: TokenizerLike;
  /** Folder whose tokenizer files go into checkpoints. */
  tokenizerDir?: string;
  /** Stop (as if interrupted) after this epoch's checkpoint is written. */
  stopAfterEpoch?: number;
  /** Stop between steps when aborted; the unfinished epoch is not saved. */
  signal?: AbortSignal;
  /** Checkpoints kept (newest); default 2. */
  keepCheckpoints?: number;
  /** Fault injection for tests (see SaveOptions.beforeWrite). */
  beforeWrite?: SaveOptions["beforeWrite"];
}

export interface TrainResult {
  model: BertForSequenceClassification;
  tokenizer: TokenizerLike;
  labels: string[];
  history: EpochRecord[];
  seconds: number;
  interrupted: boolean;
  runDir?: string;
}

/** Thrown when the loss stops being a finite number; the last good checkpoint is kept. */
export class TrainingDivergedError extends Error {}

/** Checks the data and returns label names in id order. Errors name the problem. */
export function checkData(data: TrainData): string[] {
  const { train, validation } = data;
  for (const [name, set] of [["training", train], ["validation", validation]] as const) {
    if (set.texts.length !== set.labels.length) throw new Error(`${name} data has ${set.texts.length} texts but ${set.labels.length} labels`);
  }
  if (train.texts.length === 0) throw new Error("training data is empty: nothing to learn from");
  const labels = data.labels ? [...data.labels] : [...new Set(train.labels)].sort();
  if (new Set(train.labels).size < 2) throw new Error(`training data has a single class (${JSON.stringify(train.labels[0])}): a classifier needs at least two`);
  const known = new Set(labels);
  for (const [name, set] of [["training", train], ["validation", validation]] as const) {
    set.labels.forEach((l, i) => {
      if (!known.has(l)) throw new Error(`${name} example ${i} has label ${JSON.stringify(l)}, which is not in the label list (${labels.join(", ")})`);
    });
  }
  return labels;
}

/** The layers a classifier adds on top of the encoder (or, as MiniLM's pooler, that start untrained). */
export function isHead(name: string): boolean {
  return name.startsWith("classifier.") || name.startsWith("bert.pooler.");
}


function encodeAll(tok: TokenizerLike, texts: string[], maxLength: number): EncodedRows {
  // No padding here: each batch is padded to its own longest row (or maxLength) by the loader.
  return tok.encode(texts, { padding: false, truncation: true, maxLength });
}

export interface Evaluation { metrics: EvalMetrics; predictions: number[]; probabilities: number[][] }

/**
 * Eval mode over a set: no dropout, no gradients; returns the course's metrics plus the
 * predictions. Loss = mean of the batch losses (the course's loss_val_total / len(loader)).
 */
export function evaluate(model: BertForSequenceClassification, enc: EncodedRows, labelIds: number[], opts: { batchSize: number; padding?: "longest" | "max_length"; maxLength?: number; padTokenId?: number }): Evaluation {
  const order = new SequentialSampler(enc.input_ids.length).epochIndices();
  let lossSum = 0, n = 0;
  const predictions: number[] = [], probabilities: number[][] = [];
  for (const b of batches(enc, labelIds, order, opts)) {
    const [loss, probs] = tf.tidy(() => {
      const logits = model.forward(b, { training: false });
      return [crossEntropyLoss(logits, b.labels), tf.softmax(logits)];
    });
    lossSum += (loss.dataSync() as Float32Array)[0]; n++;
    const p = probs.arraySync() as number[][];
    tf.dispose([loss, probs]); b.dispose();
    for (const row of p) { probabilities.push(row); predictions.push(row.indexOf(Math.max(...row))); }
  }
  return { metrics: scoreAll(labelIds, predictions, model.labels, lossSum / n), predictions, probabilities };
}

export interface Prediction { text: string; label: string; probabilities: Record<string, number> }

/** Labels and class probabilities for new texts (eval mode). */
export function predict(model: BertForSequenceClassification, tokenizer: TokenizerLike, texts: string[], opts: { maxLength?: number; batchSize?: number } = {}): Prediction[] {
  if (texts.length === 0) return [];
  const enc = encodeAll(tokenizer, texts, opts.maxLength ?? DEFAULT_CONFIG.maxLength);
  const ev = evaluate(model, enc, texts.map(() => 0), { batchSize: opts.batchSize ?? DEFAULT_CONFIG.evalBatchSize, padTokenId: tokenizer.padTokenId });
  return texts.map((text, i) => ({
    text,
    label: model.labels[ev.predictions[i]],
    probabilities: Object.fromEntries(model.labels.map((l, k) => [l, ev.probabilities[i][k]])),
  }));
}

/** Loads a saved model folder (a checkpoint or `saveBertForSequenceClassification` output) with its tokenizer. */
export async function loadTrained(dir: string): Promise<{ model: BertForSequenceClassification; tokenizer: Tokenizer }> {
  const cfgFile = path.join(dir, "config.json");
  if (!fs.existsSync(cfgFile)) throw new Error(`${dir} has no config.json: not a saved model folder`);
  const cfg = JSON.parse(fs.readFileSync(cfgFile, "utf8"));
  if (!cfg.id2label) throw new Error(`${cfgFile} has no id2label: not a fine-tuned classifier`);
  const labels = Object.keys(cfg.id2label).sort((a, b) => Number(a) - Number(b)).map((k) => cfg.id2label[k] as string);
  const model = await loadBertForSequenceClassification(dir, { labels, seed: 0 });
  return { model, tokenizer: await loadTokenizer(dir) };
}

/** The training loop. See the file comment for the order of things. */
export async function train(config: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const t0 = Date.now();
  const log = opts.log ?? ((s: string) => console.log(s));
  const emit = opts.onProgress ?? (() => {});
  const cfg = validateConfig({ ...DEFAULT_CONFIG, ...config });
  const runDir = opts.runDir ? path.resolve(opts.runDir) : undefined;

  // 0) The run folder: refuse to overwrite a finished or partial run unless resuming.
  const resumeFrom = runDir && opts.resume ? lastCheckpoint(runDir) : undefined;
  if (runDir && !opts.resume && holdsRun(runDir)) throw new Error(`${runDir} already holds a run: choose another --run-dir, or resume it`);
  if (runDir && opts.resume && !resumeFrom) throw new Error(`${runDir} has no complete checkpoint to resume from`);
  const saved = resumeFrom ? readCheckpoint(resumeFrom.dir) : undefined;
  if (saved && saved.state.config.seed !== cfg.seed) throw new Error(`the run in ${runDir} used seed ${saved.state.config.seed}, not ${cfg.seed}`);

  // 1) Data and sorted labels (a subset for quick runs, always the same one for a seed).
  const labels = checkData(saved ? { ...opts.data, labels: saved.state.labels } : opts.data);
  const trainSet = cfg.maxTrainExamples > 0 ? subset(opts.data.train, cfg.maxTrainExamples) : opts.data.train;
  const label2id = new Map(labels.map((l, i) => [l, i]));
  const trainY = trainSet.labels.map((l) => label2id.get(l)!);
  const valY = opts.data.validation.labels.map((l) => label2id.get(l)!);

  // 2) Model and tokenizer (the head, if new, is initialised from the run seed).
  let modelDir = opts.tokenizerDir;
  let model = opts.model;
  let tokenizer = opts.tokenizer;
  if (resumeFrom) {
    // Resume: weights (head included) come from the checkpoint, which also holds the tokenizer files.
    if (model) throw new Error("resume loads the model from the checkpoint: do not pass opts.model with resume");
    model = await loadBertForSequenceClassification(resumeFrom.dir, { labels, seed: cfg.seed });
    tokenizer = tokenizer ?? (await loadTokenizer(resumeFrom.dir));
    modelDir = modelDir ?? resumeFrom.dir;
  } else if (!model || !tokenizer) {
    const resolved = await resolveModel(cfg.model);
    modelDir = modelDir ?? resolved.dir;
    tokenizer = tokenizer ?? (await loadTokenizer(resolved.dir));
    model = model ?? (await loadBertForSequenceClassification(resolved.dir, { labels, seed: cfg.seed }));
  }
  const missing = labels.filter((l) => !model!.labels.includes(l));
  if (missing.length) throw new Error(`label ${JSON.stringify(missing[0])} is missing from the model's label map (${model.labels.join(", ")})`);
  if (model.labels.join("\u0000") !== labels.join("\u0000")) throw new Error(`the model's labels (${model.labels.join(", ")}) are not in the data's order (${labels.join(", ")})`);

  // 3) Tokenize, and show a few samples as the HF script logs them.
  const trainEnc = encodeAll(tokenizer, trainSet.texts, cfg.maxLength);
  const valEnc = encodeAll(tokenizer, opts.data.validation.texts, cfg.maxLength);
  const sampleRng = new RandomSampler(trainSet.texts.length, deriveSeed(cfg.seed, 101));
  for (const i of sampleRng.epochIndices().slice(0, cfg.logSamples)) {
    log(`sample ${i}: label ${trainSet.labels[i]} · ${trainEnc.input_ids[i].length} tokens · ${JSON.stringify(trainSet.texts[i].slice(0, 80))}`);
  }

  // 4) Loaders, optimizer, schedule sized from the total number of optimizer steps.
  const sampler = new RandomSampler(trainSet.texts.length, cfg.seed);
  const batchesPerEpoch = numBatches(trainSet.texts.length, cfg.batchSize);
  const usedBatches = cfg.maxStepsPerEpoch > 0 ? Math.min(batchesPerEpoch, cfg.maxStepsPerEpoch * cfg.gradAccumulation) : batchesPerEpoch;
  const stepsPerEpoch = Math.ceil(usedBatches / cfg.gradAccumulation);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const optimizer = new AdamW(model.params, {
    lr: cfg.lr, betas: cfg.betas, eps: cfg.eps, weightDecay: cfg.weightDecay,
    lrScale: (name) => (isHead(name) ? cfg.headLrScale : 1),
  });
  const schedule = new LinearScheduleWithWarmup(cfg.lr, warmupStepsFor(totalSteps, cfg.warmupSteps, cfg.warmupRatio), totalSteps);
  const history: EpochRecord[] = saved ? saved.state.history : [];
  let globalStep = 0;
  if (saved) {
    optimizer.setState(saved.optimizer); schedule.setState(saved.state.scheduler); sampler.setState(saved.state.sampler);
    globalStep = saved.state.globalStep;
  }
  const batchOpts = { padding: cfg.padding, maxLength: cfg.maxLength, padTokenId: tokenizer.padTokenId };
  const trainable = [...model.params.values()].filter((v) => v.trainable);
  const nameOf = new Map([...model.params].map(([k, v]) => [v.name, k]));
  if (runDir) writeJsonAtomic(path.join(runDir, "run.json"), { config: cfg, labels, model: cfg.model ?? "default", startedAt: new Date().toISOString() });

  const startEpoch = (saved?.state.epoch ?? 0) + 1;
  emit({ type: "start", epochs: cfg.epochs, stepsPerEpoch, startEpoch });
  let interrupted = false;
  for (let epoch = startEpoch; epoch <= cfg.epochs && !interrupted; epoch++) {
    const te = Date.now();
    // 5) Train mode: dropout on, a fresh random order, fresh gradients every batch.
    const order = sampler.epochIndices().slice(0, usedBatches * cfg.batchSize);
    let lossSum = 0, lossCount = 0, step = 0, accum: Record<string, tf.Tensor> | undefined, inAccum = 0;
    for (const b of batches(trainEnc, trainY, order, { batchSize: cfg.batchSize, ...batchOpts })) {
      if (opts.signal?.aborted) { b.dispose(); interrupted = true; break; }
      const dropoutSeed = deriveSeed(cfg.seed, epoch, lossCount);
      const { value, grads } = tf.variableGrads(() => crossEntropyLoss(model!.forward(b, { training: true, seed: dropoutSeed }), b.labels), trainable);
      b.dispose();
      const loss = (value.dataSync() as Float32Array)[0];
      value.dispose();
      if (!Number.isFinite(loss)) {
        tf.dispose(Object.values(grads)); if (accum) tf.dispose(Object.values(accum));
        optimizer.dispose();
        const keep = runDir ? lastCheckpoint(runDir) : undefined;
        throw new TrainingDivergedError(`loss became ${loss} at epoch ${epoch}, batch ${lossCount + 1} (lr ${schedule.lr().toExponential(2)}): try a lower --lr; ${keep ? `last good checkpoint kept: ${keep.dir}` : "no checkpoint was saved yet"}`);
      }
      lossSum += loss; lossCount++;
      // Gradients come back keyed by variable name: map them to Hugging Face names (scaled for accumulation).
      const named: Record<string, tf.Tensor> = {};
      for (const [vn, g] of Object.entries(grads)) named[nameOf.get(vn)!] = cfg.gradAccumulation > 1 ? tf.tidy(() => g.div(cfg.gradAccumulation)) : g;
      if (cfg.gradAccumulation > 1) tf.dispose(Object.values(grads));
      if (accum) { const sum = addGrads(accum, named); tf.dispose([...Object.values(accum), ...Object.values(named)]); accum = sum; } else accum = named;
      inAccum++;
      if (inAccum === cfg.gradAccumulation || lossCount === usedBatches) {
        // 6) Clip the global norm, step with the scheduled lr, advance the schedule.
        const { grads: clipped, norm } = clipGradNorm(accum, cfg.clipNorm);
        const lr = schedule.lr();
        optimizer.step(clipped, lr);
        schedule.step();
        tf.dispose([...Object.values(clipped), ...Object.values(accum)]);
        accum = undefined; inAccum = 0; step++; globalStep++;
        emit({ type: "step", epoch, step, steps: stepsPerEpoch, loss, lr, gradNorm: norm });
      }
    }
    if (interrupted) break;
    // 7) Eval mode: no dropout; the course's metrics on the validation set.
    emit({ type: "evaluate", epoch });
    const ev = evaluate(model, valEnc, valY, { batchSize: cfg.evalBatchSize, ...batchOpts });
    const record: EpochRecord = { epoch, trainLoss: lossSum / lossCount, validation: ev.metrics, seconds: (Date.now() - te) / 1000, steps: step };
    history.push(record);
    // 8) Checkpoint, metrics and charts (each written atomically).
    if (runDir) {
      const state: TrainerState = {
        epoch, globalStep, config: cfg, labels, scheduler: schedule.getState(), sampler: sampler.getState(), history,
        optimizer: { step: 0, names: [], shapes: [] },
      };
      await saveCheckpoint(runDir, model, state, optimizer.getState(), { tokenizerDir: modelDir, keep: opts.keepCheckpoints ?? 2, beforeWrite: opts.beforeWrite });
      writeRunFiles(runDir, cfg, labels, history, (Date.now() - t0) / 1000);
    }
    emit({ type: "epoch", epoch, epochs: cfg.epochs, trainLoss: record.trainLoss, valLoss: ev.metrics.loss, f1Weighted: ev.metrics.f1Weighted, f1Macro: ev.metrics.f1Macro, seconds: record.seconds });
    if (opts.stopAfterEpoch === epoch && epoch < cfg.epochs) interrupted = true;
  }
  optimizer.dispose();
  const seconds = (Date.now() - t0) / 1000;
  emit({ type: "done", seconds, interrupted });
  return { model, tokenizer, labels, history, seconds, interrupted, runDir };
}

function addGrads(a: Record<string, tf.Tensor>, b: Record<string, tf.Tensor>): Record<string, tf.Tensor> {
  const out: Record<string, tf.Tensor> = {};
  for (const k of Object.keys(a)) out[k] = tf.add(a[k], b[k]);
  return out;
}

/** The first n examples of a fixed shuffle (stratification is the split's job, lib/split.ts). */
function subset(set: TextSet, n: number): TextSet {
  if (n >= set.texts.length) return set;
  const idx = new RandomSampler(set.texts.length, 12345).epochIndices().slice(0, n).sort((a, b) => a - b);
  return { texts: idx.map((i) => set.texts[i]), labels: idx.map((i) => set.labels[i]) };
}

/** metrics.json and charts.html of a run. */
export function writeRunFiles(runDir: string, cfg: TrainConfig, labels: string[], history: EpochRecord[], seconds: number): void {
  const last = history[history.length - 1];
  writeJsonAtomic(path.join(runDir, "metrics.json"), {
    config: cfg, labels, seconds, backend: tf.getBackend(),
    final: last && { epoch: last.epoch, f1Weighted: last.validation.f1Weighted, f1Macro: last.validation.f1Macro, accuracy: last.validation.accuracy, perClass: last.validation.perClass },
    history,
  });
  // Charts are a convenience: failing to draw them must not stop a run that has its checkpoint.
  try {
    writeFileAtomic(path.join(runDir, "charts.html"), chartsPage(`bertlab run ${path.basename(runDir)}`, runFigures(history)));
  } catch (e) {
    process.stderr.write(`warning: ${runDir}/charts.html not written: ${(e as Error).message.split("\n")[0]}\n`);
  }
}
