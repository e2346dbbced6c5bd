/**
 * The training configuration: one typed object with a why-comment on every field, and the
 * defaults the course run uses. Override by spread: `{ ...DEFAULT_CONFIG, lr: 3e-5 }`.
 * The CLI (lib/cli/cli.ts) turns every field into a flag; notebooks 05 and 06 explain them.
 *
 *   import { DEFAULT_CONFIG } from "./lib/config/config";
 *   DEFAULT_CONFIG.lr   // 1e-4
 *
 * Why these defaults: one learning rate for everything plateaus below the course's scores (in PyTorch too: the model,
 * not the port); a larger step for the layers that start untrained (headLrScale) lifts it. They were tuned on the
 * validation split, which is also where the score is measured, so read it as the course reads its own; the tuning
 * table is in docs/benchmarks.md.
 */
import { SelectMetric, checkSelectMetric } from "./selection";

export interface TrainConfig {
  /** Model folder or hub id (lib/model/models.ts resolveModel); undefined = the course default MiniLM. */
  model?: string;
  /** A fine-tuned checkpoint (or run folder) to start from instead of the pretrained model (lib/train/init_from.ts). */
  initFrom?: string;
  /**
   * Encoder layers at the top (and the pooler) re-initialised before training, 0 = none: their pretrained weights
   * suit the pretraining tasks and transfer worst to a few hundred examples (Zhang et al., ICLR 2021: k = 1 to 6).
   */
  reinitLayers: number;
  /** Longest tokenized tweet kept; the course used 256 (no SMILE tweet gets near it). */
  maxLength: number;
  /**
   * "longest" pads each batch only to its longest tweet (most tweets are ~20-40 tokens, so this
   * saves most of the compute); "max_length" pads every batch to maxLength as the course did.
   */
  padding: "longest" | "max_length";
  /** Tweets per training step (the course used 32). */
  batchSize: number;
  /**
   * Group tweets of similar length into the same batches (Hugging Face's `group_by_length`, lib/data/loader.ts), so
   * that padding nearly vanishes and an epoch computes on fewer positions. Off: the course's plain random order.
   */
  groupByLength: boolean;
  /** Tweets per validation batch: no gradients are kept, so larger batches fit. */
  evalBatchSize: number;
  /** Passes over the training set. MiniLM needs fewer than the course's 10 for bert-base. */
  epochs: number;
  /** Peak learning rate. MiniLM is small and wants more than bert-base's 1e-5 (tuned on the course split). */
  lr: number;
  /**
   * Layer-wise learning-rate decay ξ (Howard & Ruder 2018; Zhang et al., ICLR 2021): the top encoder layer learns at
   * ξ·lr, each layer below at ξ× the one above, the embeddings lowest; the head keeps headLrScale. Lower layers hold
   * general language and need least change. 1 = one rate for the encoder (the course).
   */
  layerLrDecay: number;
  /**
   * Learning-rate multiplier for the layers that start untrained: the new classifier and the pooler.
   * all-MiniLM-L6-v2's pooler was never trained (sentence-transformers pools by mean; its bias is all
   * zeros), so both start from scratch while the encoder only needs nudging. 1 = one lr for all, as the course.
   */
  headLrScale: number;
  /** Adam's epsilon, added after the square root (the course's 1e-8). */
  eps: number;
  /** Adam's moment decay rates (the PyTorch/transformers defaults). */
  betas: [number, number];
  /** Decoupled weight decay (p -= lr*wd*p), never on biases or LayerNorm weights; the course used 0, 0.01 helps a little. */
  weightDecay: number;
  /** Linear warm-up steps; if 0, warmupRatio decides. The course used none; 10% steadies the new head's first steps. */
  warmupSteps: number;
  /** Warm-up as a fraction of all steps (used when warmupSteps is 0). */
  warmupRatio: number;
  /** Global gradient-norm clip (the course's clip_grad_norm_(..., 1.0)); 0 turns clipping off. */
  clipNorm: number;
  /** Batches whose gradients are summed before one optimizer step (1 = none, as the course). */
  gradAccumulation: number;
  /** One seed drives the split, sampling, dropout masks and the classifier head's initialisation. */
  seed: number;
  /** Fraction held out for validation (the course's test_size=0.15, stratified) when no validation file is given. */
  validationSize: number;
  /** Stop each epoch after this many steps (0 = no limit); the notebooks' fast setting uses it. */
  maxStepsPerEpoch: number;
  /** Use at most this many training examples (0 = all); for quick runs. */
  maxTrainExamples: number;
  /** How many tokenized training samples to log before training (the HF script logs 3). */
  logSamples: number;
  /**
   * Which epoch's model the run keeps as checkpoints/best/ and returns: the one with the best
   * validation f1_macro, f1_weighted or loss (HF's metric_for_best_model). "none" keeps the last, as
   * the course did, though its F1 peaked at epoch 5 of 8.
   */
  selectMetric: "none" | SelectMetric;
  /** Stop after this many epochs in a row without a better selectMetric (HF's EarlyStoppingCallback); 0 = never. */
  earlyStoppingPatience: number;
  /**
   * "balanced" weights each class's loss by n / (classes × its count), scikit-learn's
   * compute_class_weight("balanced"): a missed `disgust` tweet then costs as much as all the `happy` ones.
   */
  classWeights: "none" | "balanced";
  /**
   * "focal" (Lin et al. 2017) scales each example's cross-entropy by (1 - p_true)^focalGamma, so
   * the many easy `happy` tweets count less; "cross_entropy" is the course's loss.
   */
  loss: "cross_entropy" | "focal";
  /** Focal loss's gamma (0 = plain cross-entropy; the paper's default 2). */
  focalGamma: number;
  /**
   * Label smoothing ε for the cross-entropy loss (PyTorch's `label_smoothing`, Hugging Face's
   * `label_smoothing_factor`): the target is (1 − ε)·one-hot + ε/classes, so the model is not pushed to ever
   * larger logits for tweets whose label is a judgement call. 0 = the course's one-hot targets.
   */
  labelSmoothing: number;
  /**
   * R-Drop's α (Liang et al., NeurIPS 2021): each batch runs twice with different dropout masks and the loss adds α ×
   * the symmetric KL divergence between the two predictions, so the model learns answers that dropout does not
   * move. Costs a second forward and backward per step. 0 = off; the paper uses 0.3 to 5 for classification.
   */
  rdrop: number;
  /** Stochastic weight averaging over the last k epochs (lib/train/swa.ts); 0 = off (the last epoch's weights). */
  swaEpochs: number;
  /**
   * "random" is the course's RandomSampler; "weighted" draws each epoch's examples with replacement,
   * each with weight 1 / its class's count (PyTorch WeightedRandomSampler): rare classes are oversampled.
   */
  sampler: "random" | "weighted";
  /**
   * Logit-adjusted loss (Menon et al. 2021, "Long-tail learning via logit adjustment"): the loss sees
   * logits + τ·log(class frequency in training), so a rare class must win by a margin; predictions use
   * the plain logits. τ = 1 is the paper's choice (balanced error); 0 = off.
   */
  logitAdjustment: number;
  /**
   * Post-hoc logit adjustment (Menon et al. 2021, §4): training is unchanged; the model it keeps
   * predicts from logits − τ·log(class frequency in training), a shift of the classifier's bias, so
   * every engine and export serves it. τ = 1 is the paper's choice (balanced error); 0 = off.
   */
  posthocAdjustment: number;
  /**
   * What the TensorFlow graph's matrix products multiply in, training and inference: "bf16" casts their inputs to
   * bfloat16 (8 bits of mantissa), everything else stays float32; "auto" takes bf16 only where this CPU runs it fast
   * (lib/graph/precision.ts). fp32 by default: the course's numbers.
   */
  precision: Precision;
}

/** The course's seed (`seed_val = 17` in the original notebook): its split, sampler order, dropout and head. */
export const COURSE_SEED = 17;
/** The course's validation share (`test_size=0.15` in its `train_test_split`). */
export const COURSE_VALIDATION_SIZE = 0.15;
/** TrainConfig.precision's choices. */
export type Precision = "fp32" | "bf16" | "auto";
export const PRECISIONS: readonly Precision[] = ["fp32", "bf16", "auto"];

export const DEFAULT_CONFIG: TrainConfig = {
  model: undefined,
  initFrom: undefined,
  reinitLayers: 0,
  maxLength: 256,
  padding: "longest",
  batchSize: 32,
  groupByLength: false,
  evalBatchSize: 64,
  epochs: 8,
  lr: 1e-4,
  layerLrDecay: 1,
  headLrScale: 30,
  eps: 1e-8,
  betas: [0.9, 0.999],
  weightDecay: 0.01,
  warmupSteps: 0,
  warmupRatio: 0.1,
  clipNorm: 1.0,
  gradAccumulation: 1,
  seed: COURSE_SEED,
  validationSize: COURSE_VALIDATION_SIZE,
  maxStepsPerEpoch: 0,
  maxTrainExamples: 0,
  logSamples: 3,
  selectMetric: "none",
  earlyStoppingPatience: 0,
  classWeights: "none",
  loss: "cross_entropy",
  focalGamma: 2,
  labelSmoothing: 0,
  rdrop: 0,
  swaEpochs: 0,
  sampler: "random",
  logitAdjustment: 0,
  posthocAdjustment: 0,
  precision: "fp32",
};

/** Where `npm run carer` trains the CARER model that the "small-data" recipe starts from. */
export const CARER_RUN = "runs/carer";

/**
 * Named recipes (`--recipe NAME`): hyperparameters chosen together, compared by cross-validation on SMILE
 * (docs/guides/small-data.md has the table). Flags given beside a recipe override it. "course" is DEFAULT_CONFIG,
 * notebook 05's run.
 */
export const RECIPES: Readonly<Record<string, Partial<TrainConfig>>> = {
  course: {},
  // Emotions learned first from CARER's 16,000 tweets, then a shorter fine-tune on the small set.
  "small-data": { initFrom: CARER_RUN, epochs: 4 },
};

/** The config of recipe `name` (unknown names are an error listing the known ones). */
export function recipeConfig(name: string): TrainConfig {
  const r = RECIPES[name];
  if (!r) throw new Error(`unknown recipe ${JSON.stringify(name)}: use one of ${Object.keys(RECIPES).join(", ")}`);
  return { ...DEFAULT_CONFIG, ...r };
}

/** The config's numeric fields. */
type NumberField = { [K in keyof TrainConfig]-?: TrainConfig[K] extends number ? K : never }[keyof TrainConfig];

/** Checks a config and throws an error naming the first bad field. Returns it unchanged. */
export function validateConfig(c: TrainConfig): TrainConfig {
  const check = (keys: NumberField[], ok: (v: number) => boolean, what: string) => {
    const bad = keys.find((k) => !ok(c[k]));
    if (bad) throw new Error(`config.${bad} must be ${what}, got ${c[bad]}`);
  };
  const positiveInt = (v: number) => Number.isInteger(v) && v >= 1;
  const count = (v: number) => Number.isInteger(v) && v >= 0;
  const atLeast0 = (v: number) => v >= 0 && Number.isFinite(v);
  check(["maxLength", "batchSize", "evalBatchSize", "epochs", "gradAccumulation"], positiveInt, "a positive integer");
  check(["warmupSteps", "maxStepsPerEpoch", "maxTrainExamples", "logSamples", "seed"], count, "a non-negative integer");
  check(["earlyStoppingPatience", "reinitLayers", "swaEpochs"], count, "a non-negative integer");
  check(["lr", "headLrScale"], (v) => v > 0 && Number.isFinite(v), "a positive number");
  check(["eps"], (v) => v > 0, "positive");
  check(["weightDecay"], (v) => v >= 0, ">= 0");
  check(["clipNorm"], (v) => v >= 0, ">= 0 (0 = off)");
  check(["warmupRatio"], (v) => v >= 0 && v < 1, "in [0, 1)");
  check(["validationSize"], (v) => v > 0 && v < 1, "in (0, 1)");
  checkSelectMetric(c.selectMetric, "config.selectMetric");
  if (c.earlyStoppingPatience > 0 && c.selectMetric === "none") {
    throw new Error(
      `config.earlyStoppingPatience ${c.earlyStoppingPatience} needs a metric to watch: `
        + "set selectMetric (--select-metric f1_macro|f1_weighted|loss)",
    );
  }
  const choices = {
    groupByLength: [true, false],
    padding: ["longest", "max_length"],
    classWeights: ["none", "balanced"],
    loss: ["cross_entropy", "focal"],
    sampler: ["random", "weighted"],
    precision: PRECISIONS,
  } as const;
  for (const [k, allowed] of Object.entries(choices)) {
    const v = c[k as keyof typeof choices];
    if (!(allowed as readonly unknown[]).includes(v))
      throw new Error(`config.${k} must be one of ${allowed.join(", ")}, got ${JSON.stringify(v)}`);
  }
  check(["logitAdjustment", "posthocAdjustment", "rdrop"], atLeast0, "a number >= 0 (0 = off)");
  check(["layerLrDecay"], (v) => v > 0 && v <= 1, "in (0, 1] (1 = off)");
  if (c.swaEpochs > c.epochs) throw new Error(`config.swaEpochs ${c.swaEpochs} is more than the ${c.epochs} epochs`);
  if (c.swaEpochs > 0 && c.selectMetric !== "none") {
    throw new Error(
      `config.swaEpochs averages the last epochs, config.selectMetric picks one of them: set one (--swa-epochs or --select-metric)`,
    );
  }
  check(["focalGamma"], atLeast0, "a number >= 0");
  check(["labelSmoothing"], (v) => v >= 0 && v < 1, "in [0, 1) (0 = off)");
  if (c.labelSmoothing > 0 && c.loss !== "cross_entropy")
    throw new Error(`config.labelSmoothing is for the cross-entropy loss, not loss "${c.loss}": set one of them`);
  if (!Array.isArray(c.betas) || c.betas.length !== 2 || c.betas.some((b) => !(b >= 0 && b < 1)))
    throw new Error(`config.betas must be two numbers in [0, 1), got ${JSON.stringify(c.betas)}`);
  return c;
}
