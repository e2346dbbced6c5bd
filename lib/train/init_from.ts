/**
 * Where a run starts: the pretrained model (`--model`, default MiniLM), or a fine-tuned checkpoint of the same
 * architecture and vocabulary (`--init-from`), whose encoder is kept and whose classifier rows carry over to labels
 * of the same name (lib/model/bert.ts `transferHead`). The usual move when the labelled set is small: learn the task
 * on a larger related corpus first (CARER's 16,000 emotion tweets), then on the small one (Phang et al. 2018).
 *
 *   const start = await startingModel({ ...DEFAULT_CONFIG, initFrom: "runs/carer" }, smileLabels);
 *   start.transfer   // { from: "runs/carer/checkpoints/best", kept: ["surprise"], fresh: ["happy", …] }
 */
import * as fs from "fs";
import * as path from "path";
import { TrainConfig } from "../config/config";
import { loadTokenizer, TokenizerLike } from "../data/tokenize";
import { BertForSequenceClassification, loadBertForSequenceClassification, headTransfer } from "../model/bert";
import { resolveModel } from "../model/models";
import { modelFolder, readLabels } from "../model/run_folder";

/** What a run started from, when it started from a fine-tuned checkpoint (kept in metrics.json). */
export interface Transfer { from: string; kept: string[]; fresh: string[] }

export interface Start {
  model: BertForSequenceClassification;
  tokenizer: TokenizerLike;
  /** The folder whose tokenizer files the run's checkpoints copy. */
  dir: string;
  transfer?: Transfer;
}

/** config.json fields that must agree for an encoder to be carried over (the weights' shapes and the token ids). */
const ARCHITECTURE = [
  "model_type", "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
  "max_position_embeddings", "type_vocab_size", "hidden_act",
] as const;

const readJson = (file: string) => JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, unknown>;

/**
 * Refuses a checkpoint that is not the base model's architecture or vocabulary, naming the first difference: a
 * checkpoint fine-tuned from another model would load with the wrong token ids, or not at all.
 */
export function checkSameArchitecture(baseDir: string, fromDir: string): void {
  const base = readJson(path.join(baseDir, "config.json")), from = readJson(path.join(fromDir, "config.json"));
  for (const k of ARCHITECTURE) {
    if (base[k] !== from[k]) {
      throw new Error(`--init-from ${fromDir}: config.json ${k} is ${JSON.stringify(from[k])}, but the model this run `
        + `starts from (${baseDir}) has ${JSON.stringify(base[k])}: fine-tune from the same --model`);
    }
  }
  const vocab = (dir: string) => path.join(dir, "vocab.txt");
  if (fs.existsSync(vocab(baseDir)) && fs.existsSync(vocab(fromDir))
    && !fs.readFileSync(vocab(baseDir)).equals(fs.readFileSync(vocab(fromDir)))) {
    throw new Error(`--init-from ${fromDir}: vocab.txt differs from ${vocab(baseDir)}: another tokenizer's token ids`);
  }
}

/** The model and tokenizer a fresh run starts from (the head seeded from cfg.seed where it is new). */
export async function startingModel(cfg: TrainConfig, labels: string[], log: (s: string) => void = () => {}): Promise<Start> {
  const base = await resolveModel(cfg.model);
  if (!cfg.initFrom) {
    return {
      model: await loadBertForSequenceClassification(base.dir, { labels, seed: cfg.seed }),
      tokenizer: await loadTokenizer(base.dir), dir: base.dir,
    };
  }
  const from = modelFolder(cfg.initFrom);
  checkSameArchitecture(base.dir, from);
  const { kept, fresh } = headTransfer(labels, readLabels(from));
  log(`starting from ${from}: encoder kept; classifier rows kept for ${kept.join(", ") || "no label"}`
    + `, fresh for ${fresh.join(", ") || "no label"}`);
  return {
    model: await loadBertForSequenceClassification(from, { labels, seed: cfg.seed, transferHead: true }),
    tokenizer: await loadTokenizer(from), dir: from, transfer: { from, kept, fresh },
  };
}
