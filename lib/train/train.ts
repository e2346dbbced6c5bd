/**
 * Fine-tuning end to end, in the order of Hugging Face's run_glue_no_trainer.py: set-up (lib/train/setup.ts); then per
 * epoch: train mode (dropout) with fresh gradients each optimizer step, clip, step, schedule; eval mode on validation;
 * metrics; selection; checkpoint. Notebook 05 builds the loop inline first. Beyond the course: the rare-class remedies
 * (lib/train/imbalance.ts), best epoch and early stopping (lib/config/selection.ts), weight averaging
 * (lib/train/swa.ts), a test set scored at the end.
 *
 *   const run = await train({ ...DEFAULT_CONFIG, epochs: 1 }, { data, runDir: "runs/demo" });
 *   run.history[0].validation.f1Weighted   // e.g. 0.86
 *
 * One seed drives everything random: the sampler's orders, the dropout masks (a seed per step, derived from the run
 * seed, epoch and step) and the new classifier head. Same seed, machine and backend → the same losses and metrics,
 * also across an interruption and resume.
 */
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { TrainConfig } from "../config/config";
import { batches, deriveSeed, Batch } from "../data/loader";
import { BertForSequenceClassification } from "../model/bert";
import { Targets } from "../nn/loss_def";
import {
  evaluateMultiLabel,
  thresholdsJson,
  THRESHOLDS_FILE,
  MULTI_LABEL,
  MultiLabelMetrics,
} from "../eval/multilabel";
import { TokenizerLike } from "../data/tokenize";
import { SingleLabelData, MultiLabelData } from "../data/data";
import { evaluate, evaluateSet } from "../eval/evaluate";
import { EvalMetrics } from "../eval/metrics";
import { EpochRecord, TrainerState, saveCheckpoint, saveBest, loadWeightsInto } from "./checkpoint";
import { lastCheckpoint, bestDir } from "../model/run_folder";
import { updateSelection, describeSelection, SelectionSummary } from "../config/selection";
import { writeJsonAtomic, writeFileAtomic } from "../core/fsutil";
import { runFigures, chartsPage } from "../view/progress";
import { MicroBatch, trainStep } from "./train_graph";
import { Run, TrainOptions, setUp } from "./setup";

export { lrScales, type TrainOptions } from "./setup";

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

/** The training loop: set up, then per epoch the steps, evaluation, selection and checkpoint. */
type Single = TrainOptions & { data: SingleLabelData };
type Multi = TrainOptions & { data: MultiLabelData };
export async function train(config: TrainConfig, opts: Single): Promise<TrainResult<EvalMetrics>>;
export async function train(config: TrainConfig, opts: Multi): Promise<TrainResult<MultiLabelMetrics>>;
export async function train(config: TrainConfig, opts: TrainOptions): Promise<TrainResult>;
export async function train(config: TrainConfig, opts: TrainOptions): Promise<TrainResult> {
  const run = await setUp(config, opts);
  const { cfg, stepsPerEpoch, startEpoch } = run;
  run.emit({ type: "start", epochs: cfg.epochs, stepsPerEpoch, startEpoch });
  let interrupted = false;
  for (let epoch = startEpoch; epoch <= cfg.epochs && !interrupted && !run.selection?.stoppedAfter; epoch++) {
    const t = Date.now();
    const trained = trainEpoch(run, epoch);
    if (!trained) return finish(run, true);
    if (run.swa?.add(run.model, epoch)) run.log(run.swa.describe());
    run.adjust(1);
    const ev = evaluateEpoch(run);
    const record: EpochRecord = { epoch, ...trained, validation: ev.metrics, seconds: (Date.now() - t) / 1000 };
    run.history.push(record);
    const improved = selectEpoch(run, epoch, ev.metrics);
    await saveEpoch(run, record, ev, improved);
    run.adjust(-1);
    reportEpoch(run, record);
    interrupted = opts.stopAfterEpoch === epoch && epoch < cfg.epochs;
  }
  return finish(run, interrupted);
}

/**
 * Train mode: dropout on, a fresh random order, fresh gradients every optimizer step, each step over
 * cfg.gradAccumulation batches (1: one batch) in one graph call on native TensorFlow (lib/train/train_graph.ts).
 * Returns the epoch's mean loss over its batches and its step count; undefined when aborted between steps.
 */
function trainEpoch(run: Run, epoch: number): { trainLoss: number; steps: number } | undefined {
  const { cfg, model, optimizer, schedule } = run;
  const order = run.sampler.epochIndices().slice(0, run.usedBatches * cfg.batchSize);
  let lossSum = 0, lossCount = 0, step = 0, micro: MicroBatch[] = [];
  const release = () => {
    micro.forEach((m) => (m.inputs as Batch).dispose());
    micro = [];
  };
  const targets = run.multi ? undefined : (run.trainTargets as number[]);
  const stepOpts = { clipNorm: cfg.clipNorm, loss: run.loss, precision: run.precision };
  for (const b of batches(run.trainEnc, targets, order, { batchSize: cfg.batchSize, ...run.batchOpts })) {
    if (run.opts.signal?.aborted) {
      b.dispose();
      release();
      return undefined;
    }
    // Each micro-batch's dropout seed from its place in the epoch; targets are label ids or 0/1 rows.
    const seed = deriveSeed(cfg.seed, epoch, lossCount + micro.length);
    micro.push({ inputs: b, targets: b.indices.map((i) => run.trainTargets[i]) as Targets, seed });
    const seen = lossCount + micro.length;
    if (micro.length < cfg.gradAccumulation && seen < run.usedBatches) continue;
    const lr = schedule.lr();
    const r = trainStep(model, optimizer, micro, { ...stepOpts, lr });
    // The epoch's loss is the mean over its batches (a group's loss counts once per micro-batch in it).
    lossSum += r.loss * micro.length;
    lossCount += micro.length;
    release();
    if (!Number.isFinite(r.loss)) {
      optimizer.dispose();
      const keep = run.runDir ? lastCheckpoint(run.runDir) : undefined;
      const kept = keep ? `last good checkpoint kept: ${keep.dir}` : "no checkpoint was saved yet";
      throw new TrainingDivergedError(
        `loss became ${r.loss} at epoch ${epoch}, batch ${seen} (lr ${lr.toExponential(2)}): try a lower --lr; ${kept}`,
      );
    }
    schedule.step();
    step++;
    run.globalStep++;
    run.emit({ type: "step", epoch, step, steps: run.stepsPerEpoch, loss: r.loss, lr, gradNorm: r.norm });
  }
  return { trainLoss: lossSum / lossCount, steps: step };
}

/** Eval mode: no dropout; the course's metrics on the validation set (label sets: thresholds tuned on it). */
function evaluateEpoch(run: Run) {
  const { cfg, model } = run;
  const at = { batchSize: cfg.evalBatchSize, ...run.batchOpts };
  return run.multi
    ? evaluateMultiLabel(model, run.valEnc, run.valTargets as number[][], { ...at, thresholds: "tune" })
    : evaluate(model, run.valEnc, run.valTargets as number[], at);
}

/** Model selection: is this the best epoch so far (then this session keeps a copy of its weights)? */
function selectEpoch(run: Run, epoch: number, metrics: EpochRecord["validation"]): boolean {
  const { cfg } = run;
  if (cfg.selectMetric === "none") return false;
  const rule = { metric: cfg.selectMetric, patience: cfg.earlyStoppingPatience };
  const u = updateSelection(run.selection, epoch, metrics, rule);
  run.selection = u.state;
  if (u.improved) {
    tf.dispose([...(run.bestWeights?.values() ?? [])]);
    run.bestWeights = new Map([...run.model.params].map(([name, v]) => [name, tf.clone(v)]));
  }
  return u.improved;
}

/** The checkpoint (and best/), metrics.json and charts, each written atomically. */
async function saveEpoch(run: Run, record: EpochRecord, ev: ReturnType<typeof evaluateEpoch>, improved: boolean) {
  const { cfg, runDir, labels, optimizer } = run;
  if (!runDir) return;
  const state: TrainerState = {
    epoch: record.epoch,
    globalStep: run.globalStep,
    config: cfg,
    labels,
    scheduler: run.schedule.getState(),
    sampler: run.sampler.getState(),
    history: run.history,
    optimizer: { step: 0, names: [], shapes: [] },
    selection: run.selection,
  };
  const files = {
    ...("thresholds" in ev ? { [THRESHOLDS_FILE]: thresholdsJson(labels, ev.thresholds) } : {}),
    ...run.swa?.files(),
  };
  const dir = await saveCheckpoint(runDir, run.model, state, optimizer.getState(), {
    tokenizerDir: run.modelDir,
    keep: run.opts.keepCheckpoints ?? 2,
    beforeWrite: run.opts.beforeWrite,
    files,
  });
  if (improved) await saveBest(runDir, dir);
  writeRunFiles(runDir, { ...run, seconds: (Date.now() - run.t0) / 1000 });
}

function reportEpoch(run: Run, record: EpochRecord): void {
  const { epoch, trainLoss, seconds, validation: { loss: valLoss, f1Weighted, f1Macro } } = record;
  run.emit({ type: "epoch", epoch, epochs: run.cfg.epochs, trainLoss, valLoss, f1Weighted, f1Macro, seconds });
  if (run.selection?.stoppedAfter !== undefined) {
    run.log(`early stopping: ${describeSelection(run.selection, run.history, run.cfg.earlyStoppingPatience).why}`);
  }
}

/**
 * The end: a finished run returns the best epoch's weights (HF's load_best_model_at_end: this session's copy, or after
 * a resume checkpoints/best/), and scores the test set once with them (the test set chose nothing).
 */
function finish(run: Run, interrupted: boolean): TrainResult {
  const { cfg, model, tokenizer, labels, history, selection, runDir } = run;
  run.optimizer.dispose();
  run.swa?.dispose();
  run.adjust(1);
  const lastEpoch = history[history.length - 1]?.epoch;
  const modelEpoch = selection && !interrupted ? selection.bestEpoch : lastEpoch;
  if (modelEpoch !== lastEpoch) {
    if (run.bestWeights) { for (const [name, v] of model.params) v.assign(run.bestWeights.get(name)!); }
    else if (runDir) loadWeightsInto(model, bestDir(runDir));
  }
  tf.dispose([...(run.bestWeights?.values() ?? [])]);
  // A multi-label model goes with the thresholds tuned at the epoch whose weights it holds.
  const tuned = history.find((h) => h.epoch === modelEpoch)?.validation;
  const thresholds = tuned && "f1Micro" in tuned ? tuned.labels.map((l) => l.threshold!) : undefined;
  const testSet = run.opts.data.test;
  const at = { maxLength: cfg.maxLength, batchSize: cfg.evalBatchSize, thresholds };
  const test = testSet && !interrupted ? evaluateSet(model, tokenizer, testSet, "test", at).metrics : undefined;
  const seconds = (Date.now() - run.t0) / 1000;
  if (runDir && test) writeRunFiles(runDir, { ...run, seconds, test });
  run.emit({ type: "done", seconds, interrupted });
  const best = selection && describeSelection(selection, history, cfg.earlyStoppingPatience);
  return { model, tokenizer, labels, history, test, best, thresholds, seconds, interrupted, runDir };
}

type RunFiles = Pick<Run, "cfg" | "labels" | "history" | "selection" | "transfer"> & { seconds: number; test?: object };

/** metrics.json's "final": the last epoch's headline numbers. */
function headline(h: EpochRecord): object {
  const v = h.validation;
  return "f1Micro" in v
    ? { epoch: h.epoch, f1Micro: v.f1Micro, f1Macro: v.f1Macro, subsetAccuracy: v.subsetAccuracy, labels: v.labels }
    : { epoch: h.epoch, f1Weighted: v.f1Weighted, f1Macro: v.f1Macro, accuracy: v.accuracy, perClass: v.perClass };
}

/** metrics.json (with the best epoch and why, and the test metrics when there are some) and charts.html of a run. */
function writeRunFiles(runDir: string, r: RunFiles): void {
  const { cfg, labels, history, seconds, selection, test, transfer } = r;
  const last = history[history.length - 1];
  writeJsonAtomic(path.join(runDir, "metrics.json"), {
    config: cfg,
    labels,
    seconds,
    backend: tf.getBackend(),
    initFrom: transfer, // these three are left out when undefined
    problemType: cfg && history[0] && "f1Micro" in history[0].validation ? MULTI_LABEL : "single_label_classification",
    final: last && headline(last),
    best: selection && describeSelection(selection, history, cfg.earlyStoppingPatience),
    test,
    history,
  });
  // Charts are a convenience: failing to draw them must not stop a run that has its checkpoint.
  try {
    const page = chartsPage(`bertlab run ${path.basename(runDir)}`, runFigures(history));
    writeFileAtomic(path.join(runDir, "charts.html"), page);
  } catch (e) {
    process.stderr.write(`warning: ${runDir}/charts.html not written: ${(e as Error).message.split("\n")[0]}\n`);
  }
}
