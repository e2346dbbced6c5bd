/**
 * Fine-tuning end to end, in the order of Hugging Face's run_glue_no_trainer.py: seed, data,
 * sorted labels, tokenize, a few logged samples, loaders, AdamW (no decay on biases/LayerNorm),
 * linear schedule sized from the total steps; per epoch: train mode (dropout) with fresh
 * gradients each batch, clip to norm 1.0, step, schedule; eval mode on validation; metrics;
 * checkpoint. Notebook 05 builds the loop inline first; evaluation is lib/eval/evaluate.ts (notebook 06).
 * Beyond the course: a loss and sampler against class imbalance (lib/train/imbalance.ts, notebook 07),
 * keeping the best epoch and stopping early (lib/config/selection.ts), a test set scored at the end.
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
import { TrainConfig, DEFAULT_CONFIG, validateConfig } from "../config/config";
import { RandomSampler, LengthGroupedSampler, batches, deriveSeed, numBatches, Batch } from "../data/loader";
import { AdamW, LinearScheduleWithWarmup, warmupStepsFor } from "../nn/optim";
import { ProgressEvent } from "../view/progress";
import { BertForSequenceClassification, loadBertForSequenceClassification } from "../model/bert";
import { remedies, shiftClassifierBias } from "./imbalance";
import { StepLossSpec, Targets } from "../nn/loss_def";
import { multiHot } from "../data/labels";
import {
  markMultiLabel,
  isMultiLabelModel,
  evaluateMultiLabel,
  thresholdsJson,
  THRESHOLDS_FILE,
  MULTI_LABEL,
  MultiLabelMetrics,
} from "../eval/multilabel";
import { loadTokenizer, TokenizerLike, encodeUnpadded } from "../data/tokenize";
import { TrainData, SingleLabelData, MultiLabelData, TextSet, checkData } from "../data/data";
import { evaluate, evaluateSet } from "../eval/evaluate";
import { EvalMetrics } from "../eval/metrics";
import {
  EpochRecord,
  TrainerState,
  saveCheckpoint,
  readCheckpoint,
  SaveOptions,
  saveBest,
  loadWeightsInto,
} from "./checkpoint";
import { lastCheckpoint, holdsRun, bestDir } from "../model/run_folder";
import { updateSelection, describeSelection, SelectionState, SelectionSummary } from "../config/selection";
import { writeJsonAtomic, writeFileAtomic } from "../core/fsutil";
import { runFigures, chartsPage } from "../view/progress";
import { MicroBatch, trainStep } from "./train_graph";
import { startingModel, Transfer } from "./init_from";
import { resolvePrecision, bf16Support, Bf16Support } from "../graph/precision";
import { WeightAverage } from "./swa";

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
  /** What `precision: "auto"` and "bf16" check (lib/graph/precision.ts); tests pass another machine's. */
  bf16Support?: Bf16Support;
}

/** What a run gives back; M is the metrics of its kind of data (single-label or multi-label). */
export interface TrainResult<M = EvalMetrics | MultiLabelMetrics> {
  model: BertForSequenceClassification;
  tokenizer: TokenizerLike;
  labels: string[];
  history: EpochRecord<M>[];
  /** The test set's metrics (when data.test is given), scored once by the model the run returns. */
  test?: M;
  /** A multi-label model's per-label thresholds (tuned on validation at the epoch it comes from). */
  thresholds?: number[];
  /** With a selectMetric: the epoch whose weights `model` holds, and why (also in metrics.json). */
  best?: SelectionSummary;
  seconds: number;
  interrupted: boolean;
  runDir?: string;
}

/** Thrown when the loss stops being a finite number; the last good checkpoint is kept. */
export class TrainingDivergedError extends Error {}

/** The layers a classifier adds on top of the encoder (or, as MiniLM's pooler, that start untrained). */
export function isHead(name: string): boolean {
  return name.startsWith("classifier.") || name.startsWith("bert.pooler.");
}

/**
 * Each weight's learning-rate multiplier: headLrScale for the head; with layer-wise decay ξ < 1, ξ^(L−i) for encoder
 * layer i of L and ξ^(L+1) for the embeddings, as Zhang et al.'s code (revisit-bert-finetuning) groups them.
 */
export function lrScales(cfg: TrainConfig, layers: number): (name: string) => number {
  return (name) => {
    if (isHead(name)) return cfg.headLrScale;
    const layer = /^bert\.encoder\.layer\.(\d+)\./.exec(name);
    return cfg.layerLrDecay ** (layer ? layers - Number(layer[1]) : layers + 1);
  };
}

/** The training loop. See the file comment for the order of things. */
type Single = TrainOptions & { data: SingleLabelData };
type Multi = TrainOptions & { data: MultiLabelData };
export async function train(config: TrainConfig, opts: Single): Promise<TrainResult<EvalMetrics>>;
export async function train(config: TrainConfig, opts: Multi): Promise<TrainResult<MultiLabelMetrics>>;
export async function train(config: TrainConfig, opts: TrainOptions): Promise<TrainResult>;
export async function train(config: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const t0 = Date.now();
  const log = opts.log ?? ((s: string) => console.log(s));
  const emit = opts.onProgress ?? (() => {});
  const cfg = validateConfig({ ...DEFAULT_CONFIG, ...config });
  const runDir = opts.runDir ? path.resolve(opts.runDir) : undefined;
  // The graph's precision, before anything is loaded: "bf16" where this CPU cannot run it fast is an error,
  // "auto" becomes what it chose (and says why), so that run.json and metrics.json say what ran.
  const precision = resolvePrecision(cfg.precision, opts.bf16Support ?? bf16Support);
  if (cfg.precision !== "fp32") log(`precision: ${precision.why}`);
  cfg.precision = precision.precision;

  // 0) The run folder: refuse to overwrite a finished or partial run unless resuming.
  const { resumeFrom, saved } = openRun(runDir, Boolean(opts.resume), cfg);

  // 1) Data and sorted labels (a subset for quick runs, always the same one for a seed). Targets are
  // label ids, or for multi-label data 0/1 rows over the labels (lib/eval/multilabel.ts).
  const data = opts.data;
  const multi = data.multiLabel === true;
  const labels = checkData(saved ? { ...data, labels: saved.state.labels } : data);
  const trainSet: AnySet = cfg.maxTrainExamples > 0 ? subset(data.train, cfg.maxTrainExamples) : data.train;
  const ids = (set: AnySet) => (set.labels as string[]).map((l) => labels.indexOf(l));
  const hot = (set: AnySet) => multiHot(set.labels as string[][], labels);
  const trainY = multi ? [] : ids(trainSet), valY = multi ? [] : ids(data.validation);
  const trainHot = multi ? hot(trainSet) : [], valHot = multi ? hot(data.validation) : [];

  // 2) Model and tokenizer (the head, if new, is initialised from the run seed).
  let modelDir = opts.tokenizerDir;
  let model = opts.model;
  let tokenizer = opts.tokenizer;
  let transfer: Transfer | undefined;
  if (resumeFrom) {
    // Resume: weights (head included) come from the checkpoint, which also holds the tokenizer files.
    if (model) throw new Error("resume loads the model from the checkpoint: do not pass opts.model with resume");
    model = await loadBertForSequenceClassification(resumeFrom.dir, { labels, seed: cfg.seed });
    tokenizer = tokenizer ?? (await loadTokenizer(resumeFrom.dir));
    modelDir = modelDir ?? resumeFrom.dir;
  } else if (!model || !tokenizer) {
    const start = await startingModel(cfg, labels, log);
    modelDir = modelDir ?? start.dir;
    tokenizer = tokenizer ?? start.tokenizer;
    if (model) start.model.dispose(); else model = start.model;
    transfer = start.transfer;
  }
  if (multi) markMultiLabel(model); // config.json's problem_type, so Python loads the same model
  else if (isMultiLabelModel(model)) throw new Error(`this model is multi-label (${MULTI_LABEL}): give it label sets`);
  model.precision = precision.precision; // validation forwards on the graph too
  checkModelLabels(model.labels, labels);

  // 3) Tokenize, and show a few samples as the HF script logs them.
  const trainEnc = encodeUnpadded(tokenizer, trainSet.texts, cfg.maxLength);
  const valEnc = encodeUnpadded(tokenizer, opts.data.validation.texts, cfg.maxLength);
  const sampleRng = new RandomSampler(trainSet.texts.length, deriveSeed(cfg.seed, 101));
  for (const i of sampleRng.epochIndices().slice(0, cfg.logSamples)) {
    log(
      `sample ${i}: label ${trainSet.labels[i]} · ${trainEnc.input_ids[i].length} tokens · ${
        JSON.stringify(trainSet.texts[i].slice(0, 80))
      }`,
    );
  }

  // 4) Loss and sampler (with the imbalance remedies cfg asks for; binary cross-entropy for label
  // sets), optimizer, schedule sized from the total number of optimizer steps.
  checkOptions(cfg, multi);
  const fix = multi ? undefined : remedies(cfg, trainY, labels);
  if (fix) logRemedies(fix, cfg, labels, log);
  const sampler = cfg.groupByLength
    ? new LengthGroupedSampler(trainEnc.input_ids.map((r) => r.length), cfg.batchSize, cfg.seed)
    : fix?.sampler ?? new RandomSampler(trainSet.texts.length, cfg.seed);
  // Post-hoc adjustment: the model trains unadjusted and is evaluated, kept and saved adjusted (its bias
  // shifted); a checkpoint resumes from the unadjusted bias.
  const posthoc = fix?.posthocOffsets;
  const adjust = (sign: 1 | -1) => {
    if (posthoc) shiftClassifierBias(model!, posthoc, sign);
  };
  if (saved) adjust(-1);
  // The loss of every step, on the graph or the tape alike (lib/nn/loss_def.ts); label sets: binary cross-entropy.
  const loss: StepLossSpec = { ...(fix?.spec ?? { kind: "bce" }), ...(cfg.rdrop > 0 ? { rdrop: cfg.rdrop } : {}) };
  const batchesPerEpoch = numBatches(trainSet.texts.length, cfg.batchSize);
  const usedBatches = cfg.maxStepsPerEpoch > 0
    ? Math.min(batchesPerEpoch, cfg.maxStepsPerEpoch * cfg.gradAccumulation)
    : batchesPerEpoch;
  const stepsPerEpoch = Math.ceil(usedBatches / cfg.gradAccumulation);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const optimizer = new AdamW(model.params, {
    lr: cfg.lr,
    betas: cfg.betas,
    eps: cfg.eps,
    weightDecay: cfg.weightDecay,
    lrScale: lrScales(cfg, model.config.num_hidden_layers),
  });
  const schedule = new LinearScheduleWithWarmup(
    cfg.lr,
    warmupStepsFor(totalSteps, cfg.warmupSteps, cfg.warmupRatio),
    totalSteps,
  );
  const history: EpochRecord[] = saved ? saved.state.history : [];
  // Best epoch and patience so far (restored on resume), and this session's copy of the best weights.
  let selection = saved?.state.selection;
  let bestWeights: Map<string, tf.Tensor> | undefined;
  let globalStep = 0;
  const swa = WeightAverage.open(
    cfg,
    resumeFrom && saved ? { dir: resumeFrom.dir, epoch: saved.state.epoch } : undefined,
  );
  if (saved) {
    optimizer.setState(saved.optimizer);
    schedule.setState(saved.state.scheduler);
    sampler.setState(saved.state.sampler);
    globalStep = saved.state.globalStep;
  }
  const batchOpts = { padding: cfg.padding, maxLength: cfg.maxLength, padTokenId: tokenizer.padTokenId };
  // A resumed run keeps what its start said about --init-from (run.json is rewritten below).
  const runJson = runDir ? path.join(runDir, "run.json") : undefined;
  if (saved && runJson && fs.existsSync(runJson)) transfer = JSON.parse(fs.readFileSync(runJson, "utf8")).initFrom;
  if (runJson) {
    writeJsonAtomic(runJson, {
      config: cfg,
      labels,
      model: cfg.model ?? "default",
      ...(transfer ? { initFrom: transfer } : {}),
      startedAt: new Date().toISOString(),
    });
  }

  const startEpoch = (saved?.state.epoch ?? 0) + 1;
  emit({ type: "start", epochs: cfg.epochs, stepsPerEpoch, startEpoch });
  let interrupted = false;
  for (let epoch = startEpoch; epoch <= cfg.epochs && !interrupted && selection?.stoppedAfter === undefined; epoch++) {
    const te = Date.now();
    // 5) Train mode: dropout on, a fresh random order, fresh gradients every optimizer step.
    const order = sampler.epochIndices().slice(0, usedBatches * cfg.batchSize);
    let lossSum = 0, lossCount = 0, step = 0, micro: MicroBatch[] = [];
    const release = () => {
      micro.forEach((m) => (m.inputs as Batch).dispose());
      micro = [];
    };
    for (const b of batches(trainEnc, multi ? undefined : trainY, order, { batchSize: cfg.batchSize, ...batchOpts })) {
      if (opts.signal?.aborted) {
        b.dispose();
        release();
        interrupted = true;
        break;
      }
      // Each micro-batch's dropout seed from its place in the epoch; targets are label ids or 0/1 rows.
      const seed = deriveSeed(cfg.seed, epoch, lossCount + micro.length);
      micro.push({ inputs: b, targets: b.indices.map((i) => (multi ? trainHot[i] : trainY[i])) as Targets, seed });
      const seen = lossCount + micro.length;
      if (micro.length < cfg.gradAccumulation && seen < usedBatches) continue;
      // 6) One optimizer step over the micro-batches (k = 1: one batch): loss, gradients, clipping, AdamW, in one
      // graph call on native TensorFlow for the last micro-batch (lib/train/train_graph.ts).
      const lr = schedule.lr();
      const r = trainStep(model!, optimizer, micro, {
        lr,
        clipNorm: cfg.clipNorm,
        loss,
        precision: precision.precision,
      });
      const k = micro.length;
      release();
      if (!Number.isFinite(r.loss)) {
        optimizer.dispose();
        const keep = runDir ? lastCheckpoint(runDir) : undefined;
        const kept = keep ? `last good checkpoint kept: ${keep.dir}` : "no checkpoint was saved yet";
        const lrNow = schedule.lr().toExponential(2);
        throw new TrainingDivergedError(
          `loss became ${r.loss} at epoch ${epoch}, batch ${seen} (lr ${lrNow}): try a lower --lr; ${kept}`,
        );
      }
      // The epoch's loss is the mean over its batches (a group's loss counts once per micro-batch in it).
      lossSum += r.loss * k;
      lossCount += k;
      schedule.step();
      step++;
      globalStep++;
      emit({ type: "step", epoch, step, steps: stepsPerEpoch, loss: r.loss, lr, gradNorm: r.norm });
    }
    if (interrupted) break;
    swa?.add(model, epoch);
    if (epoch === cfg.epochs && swa) log(swa.describe());
    // 7) Eval mode: no dropout; the course's metrics on the validation set (label sets: thresholds tuned on it).
    emit({ type: "evaluate", epoch });
    adjust(1);
    const ev = multi
      ? evaluateMultiLabel(model, valEnc, valHot, { batchSize: cfg.evalBatchSize, thresholds: "tune", ...batchOpts })
      : evaluate(model, valEnc, valY, { batchSize: cfg.evalBatchSize, ...batchOpts });
    const record: EpochRecord = {
      epoch,
      trainLoss: lossSum / lossCount,
      validation: ev.metrics,
      seconds: (Date.now() - te) / 1000,
      steps: step,
    };
    history.push(record);
    // 8) Model selection: is this the best epoch so far; has patience run out?
    let improved = false;
    if (cfg.selectMetric !== "none") {
      const rule = { metric: cfg.selectMetric, patience: cfg.earlyStoppingPatience };
      const u = updateSelection(selection, epoch, ev.metrics, rule);
      selection = u.state;
      improved = u.improved;
      if (improved) {
        tf.dispose([...(bestWeights?.values() ?? [])]);
        bestWeights = snapshot(model);
      }
    }
    // 9) Checkpoint (and best/), metrics and charts (each written atomically).
    if (runDir) {
      const state: TrainerState = {
        epoch,
        globalStep,
        config: cfg,
        labels,
        scheduler: schedule.getState(),
        sampler: sampler.getState(),
        history,
        optimizer: { step: 0, names: [], shapes: [] },
        ...(selection ? { selection } : {}),
      };
      const files = {
        ...("thresholds" in ev ? { [THRESHOLDS_FILE]: thresholdsJson(labels, ev.thresholds) } : {}),
        ...swa?.files(),
      };
      const dir = await saveCheckpoint(runDir, model, state, optimizer.getState(), {
        tokenizerDir: modelDir,
        keep: opts.keepCheckpoints ?? 2,
        beforeWrite: opts.beforeWrite,
        files,
      });
      if (improved) await saveBest(runDir, dir);
      writeRunFiles(runDir, { cfg, labels, history, seconds: (Date.now() - t0) / 1000, selection, transfer });
    }
    adjust(-1);
    emit({
      type: "epoch",
      epoch,
      epochs: cfg.epochs,
      trainLoss: record.trainLoss,
      valLoss: ev.metrics.loss,
      f1Weighted: ev.metrics.f1Weighted,
      f1Macro: ev.metrics.f1Macro,
      seconds: record.seconds,
    });
    if (selection?.stoppedAfter !== undefined) {
      log(`early stopping: ${describeSelection(selection, history, cfg.earlyStoppingPatience).why}`);
    }
    if (opts.stopAfterEpoch === epoch && epoch < cfg.epochs) interrupted = true;
  }
  optimizer.dispose();
  swa?.dispose();
  adjust(1);
  // 10) A finished run returns the best epoch's weights (HF's load_best_model_at_end): this session's
  // copy, or after a resume the checkpoints/best/ folder.
  if (selection && !interrupted && selection.bestEpoch !== history[history.length - 1]?.epoch) {
    if (bestWeights) { for (const [name, v] of model.params) v.assign(bestWeights.get(name)!); }
    else if (runDir) loadWeightsInto(model, bestDir(runDir));
  }
  tf.dispose([...(bestWeights?.values() ?? [])]);
  // A multi-label model goes with the thresholds tuned at the epoch whose weights it holds.
  const modelEpoch = selection && !interrupted ? selection.bestEpoch : history[history.length - 1]?.epoch;
  const tuned = history.find((h) => h.epoch === modelEpoch)?.validation;
  const thresholds = tuned && "f1Micro" in tuned ? tuned.labels.map((l) => l.threshold!) : undefined;
  // 11) The test set, once, by the model the run returns (the test set chose nothing).
  const test = data.test && !interrupted
    ? evaluateSet(model, tokenizer, data.test, "test", {
      maxLength: cfg.maxLength,
      batchSize: cfg.evalBatchSize,
      thresholds,
    }).metrics
    : undefined;
  const seconds = (Date.now() - t0) / 1000;
  if (runDir && test) writeRunFiles(runDir, { cfg, labels, history, seconds, selection, test, transfer });
  emit({ type: "done", seconds, interrupted });
  const best = selection && describeSelection(selection, history, cfg.earlyStoppingPatience);
  return { model, tokenizer, labels, history, test, best, thresholds, seconds, interrupted, runDir };
}

type AnySet = TextSet<string | string[]>;

/** The first n examples of a fixed shuffle (stratification is the split's job, lib/data/split.ts). */
function subset(set: AnySet, n: number): AnySet {
  if (n >= set.texts.length) return set;
  const idx = new RandomSampler(set.texts.length, 12345).epochIndices().slice(0, n).sort((a, b) => a - b);
  return { texts: idx.map((i) => set.texts[i]), labels: idx.map((i) => set.labels[i]) };
}

/** An independent copy of every weight (the variables change in place as training goes on). */
function snapshot(model: BertForSequenceClassification): Map<string, tf.Tensor> {
  return new Map([...model.params].map(([name, v]) => [name, tf.clone(v)]));
}

export interface RunFiles {
  cfg: TrainConfig;
  labels: string[];
  history: EpochRecord[];
  seconds: number;
  selection?: SelectionState;
  test?: EvalMetrics | MultiLabelMetrics;
  /** What --init-from carried over, when the run started from a fine-tuned checkpoint. */
  transfer?: Transfer;
}

/** The run folder's state: a resume's last checkpoint and what it saved; a fresh run must not overwrite one. */
function openRun(runDir: string | undefined, resume: boolean, cfg: TrainConfig) {
  const resumeFrom = runDir && resume ? lastCheckpoint(runDir) : undefined;
  if (runDir && !resume && holdsRun(runDir)) {
    throw new Error(`${runDir} already holds a run: choose another --run-dir, or resume it`);
  }
  if (runDir && resume && !resumeFrom) throw new Error(`${runDir} has no complete checkpoint to resume from`);
  const saved = resumeFrom ? readCheckpoint(resumeFrom.dir) : undefined;
  if (saved && saved.state.config.seed !== cfg.seed) {
    throw new Error(`the run in ${runDir} used seed ${saved.state.config.seed}, not ${cfg.seed}`);
  }
  // Its checkpoints hold the bias shifted by that τ, which resuming takes back off.
  const savedTau = saved?.state.config.posthocAdjustment ?? 0;
  if (saved && savedTau !== cfg.posthocAdjustment) {
    throw new Error(`the run in ${runDir} used --posthoc-adjustment ${savedTau}, not ${cfg.posthocAdjustment}`);
  }
  return { resumeFrom, saved };
}

/** The model's label map must be the data's labels, in the data's order. */
function checkModelLabels(modelLabels: readonly string[], labels: readonly string[]): void {
  const missing = labels.filter((l) => !modelLabels.includes(l));
  if (missing.length) {
    throw new Error(
      `label ${JSON.stringify(missing[0])} is missing from the model's label map (${modelLabels.join(", ")})`,
    );
  }
  if (modelLabels.join("\u0000") !== labels.join("\u0000")) {
    throw new Error(
      `the model's labels (${modelLabels.join(", ")}) are not in the data's order (${labels.join(", ")})`,
    );
  }
}

/** Options that cannot go together: the remedies are for single-label data; one thing chooses the order. */
function checkOptions(cfg: TrainConfig, multi: boolean): void {
  const singleLabelOnly = cfg.classWeights !== "none" || cfg.loss !== "cross_entropy" || cfg.sampler !== "random"
    || cfg.logitAdjustment > 0 || cfg.posthocAdjustment > 0 || cfg.labelSmoothing > 0 || cfg.rdrop > 0;
  if (multi && singleLabelOnly) {
    throw new Error(
      "--class-weights, --loss focal, --sampler weighted, --logit-adjustment, --posthoc-adjustment, "
        + "--label-smoothing and --rdrop are for single-label data: multi-label training uses binary cross-entropy "
        + "and the course's sampler",
    );
  }
  if (cfg.groupByLength && cfg.sampler !== "random") {
    throw new Error(`--group-by-length and --sampler ${cfg.sampler} both choose the training order: use one of them`);
  }
}

/** What the remedies do to each class, as the log says it. */
function logRemedies(fix: ReturnType<typeof remedies>, cfg: TrainConfig, labels: string[], log: (s: string) => void) {
  const per = (xs: readonly number[]) => labels.map((l, i) => `${l} ${xs[i].toFixed(3)}`).join(" · ");
  if (fix.classWeights) log(`class weights (balanced): ${per(fix.classWeights)}`);
  if (fix.logitOffsets) log(`logit adjustment (τ ${cfg.logitAdjustment}): ${per(fix.logitOffsets)}`);
  if (fix.posthocOffsets) log(`post-hoc adjustment (τ ${cfg.posthocAdjustment}): logits − ${per(fix.posthocOffsets)}`);
}

/** metrics.json's "final": the last epoch's headline numbers. */
function headline(h: EpochRecord): object {
  const v = h.validation;
  return "f1Micro" in v
    ? { epoch: h.epoch, f1Micro: v.f1Micro, f1Macro: v.f1Macro, subsetAccuracy: v.subsetAccuracy, labels: v.labels }
    : { epoch: h.epoch, f1Weighted: v.f1Weighted, f1Macro: v.f1Macro, accuracy: v.accuracy, perClass: v.perClass };
}

/** metrics.json (with the best epoch and why, and the test metrics when there are some) and charts.html of a run. */
export function writeRunFiles(runDir: string, r: RunFiles): void {
  const { cfg, labels, history, seconds, selection, test, transfer } = r;
  const last = history[history.length - 1];
  writeJsonAtomic(path.join(runDir, "metrics.json"), {
    config: cfg,
    labels,
    seconds,
    backend: tf.getBackend(),
    ...(transfer ? { initFrom: transfer } : {}),
    problemType: cfg && history[0] && "f1Micro" in history[0].validation ? MULTI_LABEL : "single_label_classification",
    final: last && headline(last),
    ...(selection ? { best: describeSelection(selection, history, cfg.earlyStoppingPatience) } : {}),
    ...(test ? { test } : {}),
    history,
  });
  // Charts are a convenience: failing to draw them must not stop a run that has its checkpoint.
  try {
    writeFileAtomic(
      path.join(runDir, "charts.html"),
      chartsPage(`bertlab run ${path.basename(runDir)}`, runFigures(history)),
    );
  } catch (e) {
    process.stderr.write(`warning: ${runDir}/charts.html not written: ${(e as Error).message.split("\n")[0]}\n`);
  }
}
