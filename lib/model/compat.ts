/**
 * Whether two model folders hold the same architecture and vocabulary, so that weights carry over between them
 * (`--init-from`) or average into one model (`bertlab soup`). The first difference is named, or undefined.
 *
 *   architectureDifference("models/all-MiniLM-L6-v2", "runs/carer/checkpoints/best")   // undefined
 *   architectureDifference("runs/a", "runs/tiny")   // "config.json num_hidden_layers: 6 in runs/a, 2 in runs/tiny"
 */
import * as fs from "fs";
import * as path from "path";
import { readConfig } from "./run_folder";

/** config.json fields that fix the weights' shapes and the meaning of the token ids. */
const ARCHITECTURE = [
  "model_type",
  "vocab_size",
  "hidden_size",
  "num_hidden_layers",
  "num_attention_heads",
  "intermediate_size",
  "max_position_embeddings",
  "type_vocab_size",
  "hidden_act",
] as const;

export function architectureDifference(aDir: string, bDir: string): string | undefined {
  const a = readConfig(aDir), b = readConfig(bDir);
  for (const k of ARCHITECTURE) {
    if (a[k] !== b[k])
      return `config.json ${k}: ${JSON.stringify(a[k])} in ${aDir}, ${JSON.stringify(b[k])} in ${bDir}`;
  }
  const vocab = (dir: string) => path.join(dir, "vocab.txt");
  if (
    fs.existsSync(vocab(aDir)) && fs.existsSync(vocab(bDir)) &&
    !fs.readFileSync(vocab(aDir)).equals(fs.readFileSync(vocab(bDir)))
  ) {
    return `vocab.txt differs between ${aDir} and ${bDir}: another tokenizer's token ids`;
  }
  return undefined;
}
