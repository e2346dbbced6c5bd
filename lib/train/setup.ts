/**
 * Everything a training run settles before its first epoch, in the order of run_glue_no_trainer.py: the run folder
 * (fresh, or the checkpoint a resume continues from), data and sorted labels, model and tokenizer, tokenized sets and
 * a few logged samples, the loss and sampler (with the rare-class remedies), AdamW (per-weight rates) and the linear
 * schedule sized from the total number of optimizer steps. lib/train/train.ts's loop reads the result.
 *
 *   const run = await setUp({ ...DEFAULT_CONFIG, epochs: 1 }, { data });
 *   run.stepsPerEpoch   // 37 for SMILE's course split
 */
import * as fs from "fs";
import * as path from "path";
import * as tf from "@tensorflow/tfjs";
import { TrainConfig, DEFAULT_CONFIG, validateConfig } from "../config/config";
import { RandomSampler, LengthGroupedSampler, deriveSeed, numBatches } from "../data/loader";
import { AdamW, LinearScheduleWithWarmup, warmupStepsFor } from "../nn/optim";
import { ProgressEvent } from "../view/progress";
import { BertForSequenceClassification, loadBertForSequenceClassification } from "../model/bert";
import { remedies, shiftClassifierBias } from "./imbalance";
import { StepLossSpec } from "../nn/loss_def";
import { multiHot } from "../data/labels";
import { markMultiLabel, isMultiLabelModel, MULTI_LABEL } from "../eval/multilabel";
import { loadTokenizer, TokenizerLike, encodeUnpadded } from "../data/tokenize";
import { TrainData, TextSet, checkData } from "../data/data";
import { readCheckpoint, SaveOptions } from "./checkpoint";
import { lastCheckpoint, holdsRun } from "../model/run_folder";
import { writeJsonAtomic } from "../core/fsutil";
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

/** A run between set-up and its end: what the loop reads, and the little it changes (history, selection, step). */
export type Run = Awaited<ReturnType<typeof setUp>>;

/**
 * Each weight's learning-rate multiplier: headLrScale for the head (the classifier, and the pooler, which starts
 * untrained in MiniLM); with layer-wise decay ξ < 1, ξ^(L−i) for encoder layer i of L and ξ^(L+1) for the embeddings,
 * as Zhang et al.'s code (revisit-bert-finetuning) groups them.
 */
export function lrScales(cfg: TrainConfig, layers: number): (name: string) => number {
  return (name) => {
    if (name.startsWith("classifier.") || name.startsWith("bert.pooler.")) return cfg.headLrScale;
    const layer = /^bert\.encoder\.layer\.(\d+)\./.exec(name);
    return cfg.layerLrDecay ** (layer ? layers - Number(layer[1]) : layers + 1);
  };
}

/** Steps 0–4 of the run: see the file comment. */
export async function setUp(config: TrainConfig, opts: TrainOptions) {
  const t0 = Date.now();
  const log = opts.log ?? ((s: string) => console.log(s));
  const emit: (e: ProgressEvent) => void = opts.onProgress ?? (() => {});
  const cfg = validateConfig({ ...DEFAULT_CONFIG, ...config });
  const runDir = opts.runDir ? path.resolve(opts.runDir) : undefined;
  // The graph's precision, before anything is loaded: "bf16" where this CPU cannot run it fast is an error,
  // "auto" becomes what it chose (and says why), so that run.json and metrics.json say what ran.
  const precision = resolvePrecision(cfg.precision, opts.bf16Support ?? bf16Support);
  if (cfg.precision !== "fp32") log(`precision: ${precision.why}`);
  cfg.precision = precision.precision;

  // 0) The run folder: refuse to overwrite a finished or partial run unless resuming.
  const saved = openRun(runDir, Boolean(opts.resume), cfg);

  // 1) Data and sorted labels (a subset for quick runs, always the same one for a seed).
  const data = opts.data;
  const multi = data.multiLabel === true;
  const labels = checkData(saved ? { ...data, labels: saved.state.labels } : data);
  const trainSet: AnySet = cfg.maxTrainExamples > 0 ? subset(data.train, cfg.maxTrainExamples) : data.train;
  const ids = (set: AnySet) => (set.labels as string[]).map((l) => labels.indexOf(l));
  const hot = (set: AnySet) => multiHot(set.labels as string[][], labels);
  const trainY = multi ? [] : ids(trainSet);

  // 2) Model and tokenizer (the head, if new, is initialised from the run seed).
  let { model, tokenizer, tokenizerDir: modelDir } = opts;
  let transfer: Transfer | undefined;
  if (saved) {
    // Resume: weights (head included) come from the checkpoint, which also holds the tokenizer files.
    if (model) throw new Error("resume loads the model from the checkpoint: do not pass opts.model with resume");
    model = await loadBertForSequenceClassification(saved.dir, { labels, seed: cfg.seed });
    tokenizer ??= await loadTokenizer(saved.dir);
    modelDir ??= saved.dir;
  } else if (!model || !tokenizer) {
    const start = await startingModel(cfg, labels, log);
    modelDir ??= start.dir;
    tokenizer ??= start.tokenizer;
    if (model) start.model.dispose();
    else model = start.model;
    transfer = start.transfer;
  }
  if (multi) markMultiLabel(model); // config.json's problem_type, so Python loads the same model
  else if (isMultiLabelModel(model)) throw new Error(`this model is multi-label (${MULTI_LABEL}): give it label sets`);
  model.precision = precision.precision; // validation forwards on the graph too
  checkModelLabels(model.labels, labels);

  // 3) Tokenize, and show a few samples as the HF script logs them.
  const trainEnc = encodeUnpadded(tokenizer, trainSet.texts, cfg.maxLength);
  const valEnc = encodeUnpadded(tokenizer, data.validation.texts, cfg.maxLength);
  const sampleRng = new RandomSampler(trainSet.texts.length, deriveSeed(cfg.seed, 101));
  for (const i of sampleRng.epochIndices().slice(0, cfg.logSamples)) {
    const text = JSON.stringify(trainSet.texts[i].slice(0, 80));
    log(`sample ${i}: label ${trainSet.labels[i]} · ${trainEnc.input_ids[i].length} tokens · ${text}`);
  }

  // 4) Loss and sampler (with the imbalance remedies cfg asks for; binary cross-entropy for label sets), optimizer,
  // schedule sized from the total number of optimizer steps.
  checkOptions(cfg, multi);
  const fix = multi ? undefined : remedies(cfg, trainY, labels);
  if (fix) logRemedies(fix, cfg, labels, log);
  const sampler = cfg.groupByLength
    ? new LengthGroupedSampler(trainEnc.input_ids.map((r) => r.length), cfg.batchSize, cfg.seed)
    : fix?.sampler ?? new RandomSampler(trainSet.texts.length, cfg.seed);
  const posthoc = fix?.posthocOffsets;
  // Post-hoc adjustment on (1) or off (−1): the model trains unadjusted and is evaluated and kept adjusted.
  const adjust = (sign: 1 | -1) => {
    if (posthoc) shiftClassifierBias(model!, posthoc, sign);
  };
  if (saved) adjust(-1); // a checkpoint holds the adjusted bias; training resumes from the unadjusted one
  // The loss of every step, on the graph or the tape alike (lib/nn/loss_def.ts); label sets: binary cross-entropy.
  const loss: StepLossSpec = { ...(fix?.spec ?? { kind: "bce" }), ...(cfg.rdrop > 0 ? { rdrop: cfg.rdrop } : {}) };
  const batchLimit = cfg.maxStepsPerEpoch > 0 ? cfg.maxStepsPerEpoch * cfg.gradAccumulation : Infinity;
  const usedBatches = Math.min(numBatches(trainSet.texts.length, cfg.batchSize), batchLimit);
  const stepsPerEpoch = Math.ceil(usedBatches / cfg.gradAccumulation);
  const totalSteps = stepsPerEpoch * cfg.epochs;
  const optimizer = new AdamW(model.params, {
    lr: cfg.lr,
    betas: cfg.betas,
    eps: cfg.eps,
    weightDecay: cfg.weightDecay,
    lrScale: lrScales(cfg, model.config.num_hidden_layers),
  });
  const warmup = warmupStepsFor(totalSteps, cfg.warmupSteps, cfg.warmupRatio);
  const schedule = new LinearScheduleWithWarmup(cfg.lr, warmup, totalSteps);
  const swa = WeightAverage.open(cfg, saved && { dir: saved.dir, epoch: saved.state.epoch });
  if (saved) {
    optimizer.setState(saved.optimizer);
    schedule.setState(saved.state.scheduler);
    sampler.setState(saved.state.sampler);
  }
  if (runDir) {
    // A resumed run keeps what its start said about --init-from (JSON leaves out an undefined initFrom).
    const runJson = path.join(runDir, "run.json");
    if (saved && fs.existsSync(runJson)) transfer = JSON.parse(fs.readFileSync(runJson, "utf8")).initFrom;
    const startedAt = new Date().toISOString();
    writeJsonAtomic(runJson, { config: cfg, labels, model: cfg.model ?? "default", initFrom: transfer, startedAt });
  }
  return {
    cfg,
    opts,
    runDir,
    log,
    emit,
    t0,
    multi,
    labels,
    model,
    tokenizer,
    modelDir, // the folder whose tokenizer files go into each checkpoint
    transfer,
    trainEnc,
    valEnc,
    // Targets by training/validation row: label ids, or for multi-label data 0/1 rows over the labels.
    trainTargets: (multi ? hot(trainSet) : trainY) as (number | number[])[],
    valTargets: (multi ? hot(data.validation) : ids(data.validation)) as (number | number[])[],
    sampler,
    loss,
    precision: precision.precision, // what the graph's matrix products multiply in, resolved for this CPU
    adjust,
    usedBatches,
    stepsPerEpoch,
    optimizer,
    schedule,
    swa,
    history: saved ? saved.state.history : [],
    selection: saved?.state.selection,
    // This session's copy of the best epoch's weights (a resumed run finds them in checkpoints/best/).
    bestWeights: undefined as Map<string, tf.Tensor> | undefined,
    globalStep: saved?.state.globalStep ?? 0,
    batchOpts: { padding: cfg.padding, maxLength: cfg.maxLength, padTokenId: tokenizer.padTokenId },
    startEpoch: (saved?.state.epoch ?? 0) + 1,
  };
}

type AnySet = TextSet<string | string[]>;

/** The first n examples of a fixed shuffle (stratification is the split's job, lib/data/split.ts). */
function subset(set: AnySet, n: number): AnySet {
  if (n >= set.texts.length) return set;
  const idx = new RandomSampler(set.texts.length, 12345).epochIndices().slice(0, n).sort((a, b) => a - b);
  return { texts: idx.map((i) => set.texts[i]), labels: idx.map((i) => set.labels[i]) };
}

/** A resume's last checkpoint (its folder and what it saved); a fresh run must not overwrite a run. */
function openRun(runDir: string | undefined, resume: boolean, cfg: TrainConfig) {
  if (!runDir) return undefined;
  if (!resume && holdsRun(runDir))
    throw new Error(`${runDir} already holds a run: choose another --run-dir, or resume it`);
  const from = resume ? lastCheckpoint(runDir) : undefined;
  if (resume && !from) throw new Error(`${runDir} has no complete checkpoint to resume from`);
  if (!from) return undefined;
  const saved = { dir: from.dir, ...readCheckpoint(from.dir) };
  if (saved.state.config.seed !== cfg.seed)
    throw new Error(`the run in ${runDir} used seed ${saved.state.config.seed}, not ${cfg.seed}`);
  // Its checkpoints hold the bias shifted by that τ, which resuming takes back off.
  const savedTau = saved.state.config.posthocAdjustment ?? 0;
  if (savedTau !== cfg.posthocAdjustment)
    throw new Error(`the run in ${runDir} used --posthoc-adjustment ${savedTau}, not ${cfg.posthocAdjustment}`);
  return saved;
}

/** The model's label map must be the data's labels, in the data's order. */
function checkModelLabels(modelLabels: readonly string[], labels: readonly string[]): void {
  const missing = labels.find((l) => !modelLabels.includes(l));
  if (missing !== undefined) {
    throw new Error(
      `label ${JSON.stringify(missing)} is missing from the model's label map (${modelLabels.join(", ")})`,
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
  if (cfg.groupByLength && cfg.sampler !== "random")
    throw new Error(`--group-by-length and --sampler ${cfg.sampler} both choose the training order: use one of them`);
}

/** What the remedies do to each class, as the log says it. */
function logRemedies(fix: ReturnType<typeof remedies>, cfg: TrainConfig, labels: string[], log: (s: string) => void) {
  const per = (xs: readonly number[]) => labels.map((l, i) => `${l} ${xs[i].toFixed(3)}`).join(" · ");
  if (fix.classWeights) log(`class weights (balanced): ${per(fix.classWeights)}`);
  if (fix.logitOffsets) log(`logit adjustment (τ ${cfg.logitAdjustment}): ${per(fix.logitOffsets)}`);
  if (fix.posthocOffsets) log(`post-hoc adjustment (τ ${cfg.posthocAdjustment}): logits − ${per(fix.posthocOffsets)}`);
}
