/**
 * The flags every bertlab command shares: one per TrainConfig field (with its one-line help), the data flags, the
 * table of renamed flags, and their parsing into a TrainConfig and a DataSource. lib/cli/cli.ts and lib/cli/cv_cli.ts
 * both build their parsers from here.
 *
 *   configFromFlags({ "batch-size": "16", lr: "3e-5" })   // { ...DEFAULT_CONFIG, batchSize: 16, lr: 3e-5 }
 */
import * as path from "path";
import { parseArgs, ParseArgsConfig } from "util";
import { RUNS_DIR } from "../core/paths";
import { DEFAULT_CONFIG, RECIPES, TrainConfig, recipeConfig } from "../config/config";
import { checkSelectMetric } from "../config/selection";
import { DataSource } from "../data/data";

export type Values = Record<string, string | boolean | undefined>;

export const kebab = (k: string) => k.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

/** One-line help per config field (the why-comments of lib/config/config.ts, shortened). */
export const CONFIG_HELP: Record<keyof TrainConfig, string> = {
  model: "model folder or hub id",
  initFrom:
    "a fine-tuned checkpoint or run folder to start from: its encoder, and its head rows for labels of the same name",
  reinitLayers: "re-initialise the top k encoder layers and the pooler before training (few-sample fine-tuning)",
  maxLength: "longest tokenized text kept",
  padding: "longest (pad each batch to its longest text) | max_length (pad all to --max-length)",
  batchSize: "texts per training step",
  groupByLength: "batch texts of similar length together (Hugging Face's group_by_length): less padding",
  evalBatchSize: "texts per validation batch",
  epochs: "passes over the training set",
  lr: "peak learning rate (AdamW)",
  layerLrDecay: "xi: each encoder layer learns at xi × the rate of the one above, embeddings lowest (1 = off)",
  headLrScale: "lr multiplier for the classifier and pooler (they start untrained)",
  eps: "AdamW epsilon",
  betas: "AdamW betas as b1,b2",
  weightDecay: "decoupled weight decay (not on biases/LayerNorm)",
  warmupSteps: "linear warm-up steps (0: use --warmup-ratio)",
  warmupRatio: "warm-up as a fraction of all steps",
  clipNorm: "clip the global gradient norm to this (0: off)",
  gradAccumulation: "batches per optimizer step",
  seed: "seed for split, sampling, dropout and the new head",
  validationSize: "fraction held out for validation (stratified) when there is no --validation-csv",
  maxStepsPerEpoch: "stop each epoch after this many steps (0: no limit)",
  maxTrainExamples: "use at most this many training examples (0: all)",
  logSamples: "tokenized samples to print before training",
  selectMetric: "keep the best epoch by f1_macro | f1_weighted | loss as checkpoints/best/ (none: the last)",
  earlyStoppingPatience: "stop after this many epochs without a better --select-metric (0: never)",
  classWeights: "none | balanced (weight each class's loss by n / (classes × count), as scikit-learn)",
  loss: "cross_entropy | focal (down-weights easy examples by (1 - p)^gamma)",
  focalGamma: "focal loss gamma",
  labelSmoothing: "epsilon: cross-entropy against (1 - epsilon)·one-hot + epsilon/classes (0 = off)",
  rdrop: "alpha: R-Drop, each batch twice with different dropout, plus alpha × their symmetric KL (0 = off)",
  swaEpochs: "average the weights after each of the last k epochs into the final model (0 = off)",
  sampler: "random | weighted (oversample rare classes: PyTorch WeightedRandomSampler, weights 1/class count)",
  logitAdjustment:
    "tau: train on logits + tau·log(class frequency) so rare classes win by a margin (Menon et al. 2021; 1 = the paper's, 0 = off)",
  posthocAdjustment:
    "tau: train as usual, then predict from logits - tau·log(class frequency), a shift of the classifier's bias (Menon et al. 2021; 1 = the paper's, 0 = off)",
  precision: "fp32 | bf16 (the graph's matrix products in bfloat16; needs AVX512-BF16 or AMX) | auto (bf16 where fast)",
};

/** parseArgs options: each of `names` a flag of `type`. */
export const flagsOf = (type: "string" | "boolean", names: readonly string[]) =>
  Object.fromEntries(names.map((name) => [name, { type }]));

export const DATA_FLAGS = {
  ...flagsOf("string", ["csv", "train-csv", "validation-csv", "test-csv", "text-column", "label-column", "id-column"]),
  ...flagsOf("string", ["delimiter", "label-delimiter"]),
  ...flagsOf("boolean", ["no-header", "multi-label"]),
};

/**
 * One flag per config field, for parseArgs: --batch-size 8, --lr 3e-5; a yes/no field stands alone: --group-by-length.
 * And --recipe NAME, the defaults the other flags override.
 */
export function configFlagOptions(): Record<string, { type: "string" | "boolean" }> {
  const type = (v: unknown) => (typeof v === "boolean" ? "boolean" as const : "string" as const);
  const fields = Object.entries(DEFAULT_CONFIG).map(([k, v]) => [kebab(k), { type: type(v) }]);
  return { recipe: { type: "string" }, ...Object.fromEntries(fields) };
}

/** The flags of every command that reads data or trains: the data flags, --recipe and one per config field. */
export const sharedFlags = () => ({ ...DATA_FLAGS, ...configFlagOptions() });

/** --recipe's help line. */
export const RECIPE_HELP = `named settings that the flags below override: ${Object.keys(RECIPES).join(" | ")} `
  + "(default: course; small-data starts from the CARER model of npm run carer: docs/guides/small-data.md)";

/**
 * Flags that were renamed (old → new): an old name is an error that names its successor, where the parser alone
 * would only say "Unknown option". Add a line whenever a flag is renamed.
 */
export const RENAMED_FLAGS: Readonly<Record<string, string>> = {
  "test-size": "validation-size", // the held-out part is called validation everywhere
};

/** Throws, naming the new flag, when argv uses a renamed one (`--old`, `--old=value`). */
export function checkRenamedFlags(argv: readonly string[]): void {
  for (const arg of argv) {
    if (arg === "--") return;
    const [, name = "", value = ""] = /^--([^=]+)(=.*)?$/s.exec(arg) ?? [];
    const now = RENAMED_FLAGS[name];
    if (now) throw new Error(`--${name} was renamed --${now}: use --${now}${value}`);
  }
}

/** Flags → TrainConfig; a value that is not a number where one is needed names the flag. */
export function configFromFlags(values: Values): TrainConfig {
  const cfg: TrainConfig = recipeConfig(str(values, "recipe") ?? "course");
  const fields = cfg as unknown as Record<string, unknown>;
  for (const k of Object.keys(DEFAULT_CONFIG) as (keyof TrainConfig)[]) {
    const v = values[kebab(k)], byDefault = DEFAULT_CONFIG[k];
    if (typeof v === "boolean" && typeof byDefault === "boolean") fields[k] = v;
    if (typeof v !== "string") continue;
    if (k === "selectMetric") cfg.selectMetric = checkSelectMetric(v);
    // choices (padding, loss, sampler, ...) are checked by validateConfig
    else if (k === "model" || k === "initFrom" || typeof byDefault === "string") fields[k] = v;
    else if (k === "betas") {
      const b = v.split(",").map(Number);
      if (b.length !== 2 || b.some((x) => !Number.isFinite(x)))
        throw new Error(`--betas wants two numbers like 0.9,0.999, got ${JSON.stringify(v)}`);
      cfg.betas = [b[0], b[1]];
    } else {
      const n = Number(v);
      if (v.trim() === "" || !Number.isFinite(n))
        throw new Error(`--${kebab(k)} wants a number, got ${JSON.stringify(v)}`);
      fields[k] = n;
    }
  }
  return cfg;
}

/** A string flag's value; undefined when it is absent. */
export const str = (values: Values, flag: string) =>
  typeof values[flag] === "string" ? (values[flag] as string) : undefined;

/** --run-dir, else runs/<command>-<seed>. */
export const runDirFlag = (values: Values, command: string, seed: number) =>
  str(values, "run-dir") ?? path.join(RUNS_DIR, `${command}-${seed}`);

/** argv parsed strictly against `options` (a renamed flag is refused first, naming its successor). */
export function parseFlags(argv: string[], options: ParseArgsConfig["options"]) {
  checkRenamedFlags(argv);
  const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true });
  return { values: values as Values, positionals };
}

/** The data flags as a DataSource (columns are 0-based indices with --no-header). */
export function dataSource(values: Values): DataSource {
  const s = (flag: string) => str(values, flag);
  const col = (flag: string, v = s(flag)) => (v === undefined || !values["no-header"] ? v : Number(v));
  return {
    csv: s("csv"),
    trainCsv: s("train-csv"),
    validationCsv: s("validation-csv"),
    testCsv: s("test-csv"),
    textColumn: col("text-column"),
    labelColumn: col("label-column"),
    idColumn: col("id-column"),
    delimiter: s("delimiter"),
    header: !values["no-header"],
    multiLabel: Boolean(values["multi-label"]),
    labelDelimiter: s("label-delimiter"),
  };
}
