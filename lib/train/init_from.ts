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
import { CARER_RUN, TrainConfig } from "../config/config";
import { loadTokenizer, TokenizerLike } from "../data/tokenize";
import {
  BertForSequenceClassification,
  loadBertForSequenceClassification,
  headTransfer,
  reinitTopLayers,
} from "../model/bert";
import { resolveModel } from "../model/models";
import { modelFolder, readLabels } from "../model/run_folder";
import { architectureDifference } from "../model/compat";

/** What a run started from, when it started from a fine-tuned checkpoint (kept in metrics.json). */
export interface Transfer {
  from: string;
  kept: string[];
  fresh: string[];
}

export interface Start {
  model: BertForSequenceClassification;
  tokenizer: TokenizerLike;
  /** The folder whose tokenizer files the run's checkpoints copy. */
  dir: string;
  transfer?: Transfer;
}

/**
 * The model and tokenizer a fresh run starts from (the head seeded from cfg.seed where it is new), with its top
 * `cfg.reinitLayers` layers re-initialised.
 */
export async function startingModel(
  cfg: TrainConfig,
  labels: string[],
  log: (s: string) => void = () => {},
): Promise<Start> {
  const base = await resolveModel(cfg.model);
  let transfer: Transfer | undefined;
  if (cfg.initFrom) {
    if (cfg.initFrom === CARER_RUN && !fs.existsSync(CARER_RUN))
      throw new Error(`--init-from ${CARER_RUN}: there is no CARER model yet; train it first with npm run carer`);
    const from = modelFolder(cfg.initFrom);
    const difference = architectureDifference(base.dir, from);
    if (difference) throw new Error(`--init-from ${cfg.initFrom} is not the model this run starts from: ${difference}`);
    transfer = { from, ...headTransfer(labels, readLabels(from)) };
    log(
      `starting from ${from}: encoder kept; classifier rows kept for ${transfer.kept.join(", ") || "no label"}`
        + `, fresh for ${transfer.fresh.join(", ") || "no label"}`,
    );
  }
  const dir = transfer?.from ?? base.dir;
  const transferHead = transfer !== undefined;
  const model = await loadBertForSequenceClassification(dir, { labels, seed: cfg.seed, transferHead });
  if (cfg.reinitLayers > 0) {
    const names = reinitTopLayers(model, cfg.reinitLayers, cfg.seed);
    log(`re-initialised the top ${cfg.reinitLayers} encoder layer(s) and the pooler (${names.length} weights)`);
  }
  return { model, tokenizer: await loadTokenizer(dir), dir, transfer };
}
